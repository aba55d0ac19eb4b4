//! Retention of personal data: a leaver's name, email and staff role are erased once their last
//! day of employment is further back than the retention period and nothing of theirs is still in
//! force — no card in use, no position requested, approved or active (those are the RA's to
//! close first; the health checks flag them). The UUID stays, pseudonymous, so their cards,
//! certificates and incidents keep their history.
//!
//! Each erasure is audited without the data it erased: the audit chain cannot be edited, so an
//! erasure that wrote the name into it would keep what it removed.

use cardwatch_core::date::Date;

use crate::exec::{with_exec, with_read, Entry, Exec, P};
use crate::{Change, StoreError};

/// What an erased person's name becomes.
pub const ERASED: &str = "(erased)";

/// A person whose personal data is due for erasure.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Due {
    /// UUID (kept).
    pub uuid: String,
    /// Their site.
    pub site_ods: String,
    /// Their last day of employment.
    pub employment_end: String,
}

/// Leavers whose last day was before `cutoff` with nothing in force, not yet erased, at the sites
/// (`None`: every site); by UUID.
fn due_in(
    x: &mut dyn Exec,
    cutoff: Date,
    sites: Option<&[String]>,
) -> Result<Vec<Due>, StoreError> {
    let cutoff = cutoff.to_string();
    let mut params = vec![P::T(&cutoff), P::T(ERASED)];
    let scope = match sites {
        None => String::new(),
        Some([]) => return Ok(Vec::new()),
        Some(sites) => format!(
            " AND {}",
            crate::exec::in_list("p.site_ods", sites, &mut params)
        ),
    };
    // Dates compare as ISO text on both backends (PostgreSQL's date prints as yyyy-mm-dd).
    let rows = x.rows(
        &format!(
            "SELECT p.uuid, p.site_ods, CAST(p.employment_end AS TEXT) FROM people p \
             WHERE p.employment_end IS NOT NULL AND CAST(p.employment_end AS TEXT) < $1 \
             AND p.name <> $2{scope} \
             AND NOT EXISTS (SELECT 1 FROM cards c WHERE c.holder_uuid = p.uuid \
                             AND c.status IN ('active', 'locked', 'blocked')) \
             AND NOT EXISTS (SELECT 1 FROM positions q WHERE q.holder_uuid = p.uuid \
                             AND q.status <> 'removed') \
             ORDER BY p.uuid"
        ),
        &params,
    )?;
    Ok(rows
        .into_iter()
        .map(|r| Due {
            uuid: r[0].text().to_owned(),
            site_ods: r[1].text().to_owned(),
            employment_end: r[2].text().to_owned(),
        })
        .collect())
}

/// Who is due for erasure: leavers whose last day was before `cutoff`.
pub fn due(
    store: &dyn crate::Store,
    cutoff: Date,
    sites: Option<&[String]>,
) -> Result<Vec<Due>, StoreError> {
    with_read(store, |x| due_in(x, cutoff, sites))
}

/// Erases the personal data of everyone due (at `sites`, or every site), in one transaction,
/// each audited as `erase` with the retention rule and never the data; who was erased.
pub fn erase(
    store: &dyn crate::Store,
    cutoff: Date,
    sites: Option<&[String]>,
    change: &Change,
) -> Result<Vec<Due>, StoreError> {
    with_exec(store, |x| {
        let due = due_in(x, cutoff, sites)?;
        for d in &due {
            x.exec(
                "UPDATE people SET name = $1, email = NULL, staff_role = NULL WHERE uuid = $2",
                &[P::T(ERASED), P::T(&d.uuid)],
            )?;
            let why = serde_json::json!({
                "erased": ["name", "email", "staff_role"],
                "employment_end": d.employment_end,
                "retention_cutoff": cutoff,
            });
            x.audit(
                change,
                &Entry {
                    action: "erase",
                    kind: "people",
                    key: &d.uuid,
                    before: None,
                    after: Some(why.to_string()),
                },
            )?;
        }
        Ok(due)
    })
}
