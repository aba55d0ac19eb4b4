//! The columns findings sort by, and their order: shared by a page sorted on request and the
//! orders the queue index keeps per check.

use std::cmp::Ordering;

use cardwatch_core::health::Noted;

/// The columns findings sort by (instead of the queue's order).
pub(crate) const SORTABLE: [&str; 6] = ["site", "severity", "rule", "subject", "owner", "due"];

/// Two findings' order by a column, descending or not (ties are equal).
pub(crate) fn column_order(a: &Noted, b: &Noted, by: &str, descending: bool) -> Ordering {
    let (x, y) = (&a.finding, &b.finding);
    let o = match by {
        "site" => x.site.cmp(&y.site),
        "severity" => x.severity.cmp(&y.severity),
        "rule" => x.rule.cmp(y.rule),
        "subject" => x.subject.cmp(&y.subject),
        "owner" => x.owner.cmp(&y.owner),
        _ => x.due.cmp(&y.due),
    };
    if descending {
        o.reverse()
    } else {
        o
    }
}
