//! The overview of the caller's organisations — certificates expiring within 7, 30 and 90 days
//! and already expired, urgent and critical findings, open incidents, spares below minimum, and
//! software below the mandatory version — counted from the cached health check, so the page
//! costs a pass over the findings, not a new check.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::health::Severity;
use serde::Serialize;

use crate::auth::Caller;
use crate::findings::{all_findings, Check};
use crate::scope::{viewer, Viewer};
use crate::AppState;

/// The overview's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Overview {
    /// Certificates already expired.
    pub expired: usize,
    /// Expiring within 7 days.
    pub within_7_days: usize,
    /// Within 30 days (after 7).
    pub within_30_days: usize,
    /// Within the 90-day window (after 30).
    pub within_90_days: usize,
    /// Findings at urgent or critical.
    pub urgent_findings: usize,
    /// Incidents still open.
    pub open_incidents: usize,
    /// Sites short of spare readers or other stock.
    pub spares_below_minimum: usize,
    /// Workstations with software below the mandatory version.
    pub software_below_mandatory: usize,
}

impl Overview {
    /// Counts one finding.
    pub(crate) fn add(&mut self, f: &cardwatch_core::health::Finding) {
        let o = self;
        let rule = f.rule;
        if rule.starts_with("cert-") {
            if rule.ends_with("-expired") {
                o.expired += 1;
            } else if rule.ends_with("-7d") {
                o.within_7_days += 1;
            } else if rule.ends_with("-30d") {
                o.within_30_days += 1;
            } else if rule.ends_with("-90d") {
                o.within_90_days += 1;
            }
        }
        if f.severity >= Severity::Urgent {
            o.urgent_findings += 1;
        }
        match rule {
            "spare-readers-low" | "stock-below-minimum" => o.spares_below_minimum += 1,
            "software-below-mandatory" => o.software_below_mandatory += 1,
            _ => {}
        }
    }

    fn plus(&mut self, x: &Overview) {
        self.expired += x.expired;
        self.within_7_days += x.within_7_days;
        self.within_30_days += x.within_30_days;
        self.within_90_days += x.within_90_days;
        self.urgent_findings += x.urgent_findings;
        self.spares_below_minimum += x.spares_below_minimum;
        self.software_below_mandatory += x.software_below_mandatory;
    }
}

fn count(check: &Check, v: &Viewer) -> Overview {
    let mut o = Overview::default();
    for (_, counts) in check
        .sites
        .iter()
        .filter(|(site, _)| v.sees_site(site))
        .map(|(s, (_, c))| (s, c))
    {
        o.plus(counts);
    }
    o.open_incidents = check
        .open_incidents
        .iter()
        .filter(|(site, _)| site.as_deref().is_some_and(|s| v.sees_site(s)))
        .map(|(_, n)| n)
        .sum();
    o
}

/// `GET /api/v1/overview`.
pub(crate) async fn api(State(state): State<AppState>, caller: Caller) -> Response {
    let v = match viewer(&state, caller, Permission::ViewEstate, true).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match all_findings(&state, v.version).await {
        Ok(check) => axum::Json(count(&check, &v)).into_response(),
        Err(r) => r,
    }
}

/// The overview's panel, for the home page, from the check the page already holds.
pub(crate) fn panel(check: &Check, v: &Viewer) -> String {
    let o = count(check, v);
    let item = |n: usize, label: &str, href: &str| {
        format!(
            "<li class=\"nhsuk-grid-column-one-quarter nhsuk-u-margin-bottom-3\"><a class=\"nhsuk-link\" href=\"{href}\">\
             <span class=\"nhsuk-heading-l nhsuk-u-margin-bottom-0\">{n}</span><span class=\"nhsuk-body\">{label}</span></a></li>"
        )
    };
    format!(
        "<ul class=\"nhsuk-grid-row nhsuk-list\">{}{}{}{}{}{}{}{}</ul>",
        item(
            o.expired,
            "certificates expired",
            "/findings?min_severity=critical"
        ),
        item(
            o.within_7_days,
            "expiring within 7 days",
            "/findings?min_severity=urgent"
        ),
        item(o.within_30_days, "within 30 days", "/findings"),
        item(o.within_90_days, "in the 90-day window", "/plan"),
        item(
            o.urgent_findings,
            "urgent or critical findings",
            "/findings?min_severity=urgent"
        ),
        item(o.open_incidents, "open incidents", "/incidents"),
        item(o.spares_below_minimum, "sites short of spares", "/findings"),
        item(
            o.software_below_mandatory,
            "workstations below mandatory software",
            "/findings"
        ),
    )
}
