//! Reports: `GET /reports` and `GET /api/v1/reports` — the staff time card failures cost over a
//! period, and the failure rate of each smartcard software version, Windows build and reader
//! firmware, with the versions failures follow named as suspects, and their machines. The other
//! reports live with what they report on: expiries per week against RA capacity on the plan,
//! incidents by cause and time to fix on the incidents page.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::reports::{version_rates, Rollout, VersionRate};
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::scope::viewer;
use crate::web::{bad_request, BadParam};
use crate::web::{blocking, escape};
use crate::AppState;

/// Machines named per suspect on the page (the JSON has them all).
const MACHINES_LISTED: usize = 20;

/// What the reports show for one caller and period.
struct Report {
    days: i32,
    /// Incidents ended with a time to fix, and those minutes in all.
    ended: u64,
    minutes: f64,
    rates: Vec<VersionRate>,
}

fn days(q: &HashMap<String, String>) -> Result<i32, BadParam> {
    if let Some(k) = q.keys().find(|k| k.as_str() != "days") {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use days"),
        ));
    }
    match q.get("days").map(|d| d.trim()).filter(|d| !d.is_empty()) {
        None => Ok(90),
        Some(d) => d
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=730).contains(n))
            .ok_or_else(|| {
                bad_request(
                    "days",
                    format!("{d:?} is not a number of days from 1 to 730"),
                )
            }),
    }
}

async fn report(
    state: &AppState,
    caller: Caller,
    q: &HashMap<String, String>,
    api: bool,
) -> Result<(Caller, Report), Response> {
    let days = days(q).map_err(IntoResponse::into_response)?;
    let v = viewer(state, caller, Permission::ViewEstate, api).await?;
    let query = crate::fix::incidents::seen_by(&v);
    let since = cardwatch_core::date::Timestamp::start_of((state.now)().date().add_days(-days));
    let (lost, counts) = blocking(state, move |s| {
        let lost = cardwatch_store::reports::time_lost(s, &query, since)?;
        let counts = cardwatch_store::reports::version_counts(s, query.sites.as_deref(), since)?;
        Ok((lost, counts))
    })
    .await
    .map_err(IntoResponse::into_response)?;
    Ok((
        v.caller,
        Report {
            days,
            ended: lost.0,
            minutes: lost.1,
            rates: version_rates(&counts),
        },
    ))
}

pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match report(&state, caller, &q, true).await {
        Ok((_, r)) => axum::Json(json!({
            "days": r.days,
            "staff_time_lost": {
                "incidents": r.ended,
                "holder_minutes": r.minutes,
            },
            "versions": r.rates,
        }))
        .into_response(),
        Err(r) => r,
    }
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (caller, r) = match report(&state, caller, &q, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let hours = r.minutes / 60.0;
    let suspects: Vec<&VersionRate> = r.rates.iter().filter(|v| v.suspect).collect();
    let mut warning = String::new();
    for s in &suspects {
        // The machines to look at first, as links to their pages.
        let machines: Vec<String> = s
            .count
            .affected_hosts
            .iter()
            .take(MACHINES_LISTED)
            .map(|h| format!("<a href=\"/workstations/{0}\">{0}</a>", escape(h)))
            .collect();
        let more = s.count.affected_hosts.len().saturating_sub(MACHINES_LISTED);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        let rollout = match &s.rollout {
            Some(Rollout::Hold { reached }) => format!(
                "<strong>Hold its rollout</strong> where it is (it has reached the {reached} ring): do not widen it"
            ),
            Some(Rollout::RollBack { broad_machines }) => format!(
                "<strong>Roll it back</strong>: it is already on {broad_machines} broad-ring workstation(s)"
            ),
            None => String::new(),
        };
        let rings: Vec<String> = s
            .count
            .rings
            .iter()
            .map(|r| format!("{} {} of {}", r.ring, r.affected, r.machines))
            .collect();
        let _ = write!(
            warning,
            "<li>{} {}: {} of its {} workstations failed ({}; by ring: {}), against {} on the other versions. {rollout}, and look at these machines first: {}{more}.</li>",
            escape(&s.count.component),
            escape(&s.count.version),
            s.count.affected,
            s.count.machines,
            percent(s.rate),
            rings.join(", "),
            s.others_rate.map_or("-".into(), percent),
            machines.join(", "),
        );
    }
    let suspects = if warning.is_empty() {
        "<p class=\"nhsuk-body\">No version stands out: failures are spread across versions as the machines are.</p>".to_owned()
    } else {
        format!("<div class=\"nhsuk-warning-callout\"><h3 class=\"nhsuk-warning-callout__label\">Failures follow a version</h3><ul class=\"nhsuk-list nhsuk-list--bullet\">{warning}</ul></div>")
    };
    let cell = |s: &str| format!("<td class=\"nhsuk-table__cell\">{s}</td>");
    let rows: String = r
        .rates
        .iter()
        .map(|v| {
            format!(
                "<tr class=\"nhsuk-table__row\">{}{}{}{}{}{}{}</tr>",
                cell(&escape(&v.count.component)),
                cell(&escape(&v.count.version)),
                cell(&v.count.machines.to_string()),
                cell(&v.count.failures.to_string()),
                cell(&percent(v.rate)),
                cell(&v.others_rate.map_or("-".into(), percent)),
                cell(if v.suspect { "suspect" } else { "" }),
            )
        })
        .collect();
    let th = |c: &str| format!("<th class=\"nhsuk-table__header\" scope=\"col\">{c}</th>");
    let body = format!(
        "<form method=\"get\" class=\"nhsuk-u-margin-bottom-4\"><div class=\"nhsuk-form-group\">\
         <label class=\"nhsuk-label\" for=\"days\">Period (days back from today)</label>\
         <input class=\"nhsuk-input nhsuk-input--width-4\" id=\"days\" name=\"days\" inputmode=\"numeric\" value=\"{days}\"></div>\
         <button class=\"nhsuk-button nhsuk-button--secondary\">Show</button> <a href=\"/api/v1/reports?days={days}\">JSON</a></form>\n\
         <h2 class=\"nhsuk-heading-m\">Staff time lost</h2>\
         <p class=\"nhsuk-body\">{ended} incident(s) in the last {days} days ended with a time to fix: \
         <strong>{hours:.1} hours</strong> ({minutes:.0} minutes) in which a card holder could not work with their card — \
         and whoever helped them spent at least as long. Clinics overrun and prescriptions wait \
         on top of this; see <a href=\"/incidents\">incidents by cause and time to fix</a>.</p>\n\
         <h2 class=\"nhsuk-heading-m\">Failure rate by software version</h2>\
         <p class=\"nhsuk-body\">Workstations on each version of their smartcard software, Windows build \
         (<em>windows</em>) and reader firmware (<em>reader</em> and the model), and the share of them \
         that failed in the period — an incident raised on it, or a signing self-test its agent ran that \
         the card refused at sign-in (not for the PIN) or while signing — against the same share on \
         the other versions. \
         A version is a suspect when its share is at least twice the others', on at least three \
         machines, and unlikely to be chance.</p>{suspects}\
         <table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">{}{}{}{}{}{}{}</tr></thead>\
         <tbody class=\"nhsuk-table__body\">{rows}</tbody></table>\n\
         <h2 class=\"nhsuk-heading-m\">Elsewhere</h2><ul class=\"nhsuk-list\">\
         <li><a href=\"/plan\">Expiries per week against RA capacity</a></li>\
         <li><a href=\"/incidents\">Incidents by cause, and minutes to fix over time</a></li>\
         <li><a href=\"/findings\">Findings by severity and site</a></li></ul>",
        th("Component"),
        th("Version"),
        th("Workstations"),
        th("Failures"),
        th("Share that failed"),
        th("Other versions"),
        th("Verdict"),
        days = r.days,
        minutes = r.minutes,
        ended = r.ended,
    );
    crate::web::layout::page("Reports", Some(&caller), &body).into_response()
}
