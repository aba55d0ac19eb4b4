//! The overview of the caller's organisations — certificates expiring within 7, 30 and 90 days
//! and already expired, urgent and critical findings, open incidents, spares below minimum, and
//! software below the mandatory version — counted from the cached health check, so the page
//! costs a pass over the findings, not a new check.

use std::fmt::Write as _;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::renewal::Window;

use crate::prevent::check::{all_findings, count, Check};
use crate::web::auth::Caller;
use crate::web::scope::{viewer, Viewer};
use crate::web::{escape, layout};
use crate::AppState;

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

/// The overview's tiles, and above them, while a client is retiring, how many of the caller's
/// workstations must move to its successor and by when (the catalogue's date).
#[derive(Template)]
#[template(path = "overview_panel.html")]
struct Panel<'a> {
    deadline: Option<Deadline<'a>>,
    tiles: [(usize, &'static str, &'static str); 8],
}

struct Deadline<'a> {
    to_move: usize,
    held_up: usize,
    old: &'a str,
    new: &'a str,
    date: String,
}

/// The overview's panel, for the home page, from the check the page already holds.
pub(crate) fn panel(check: &Check, v: &Viewer, catalogue: &Catalogue) -> String {
    let o = count(check, v);
    let deadline = catalogue
        .retiring()
        .filter(|_| o.workstations_to_move > 0)
        .map(|(old, new, end)| Deadline {
            to_move: o.workstations_to_move,
            held_up: o.workstations_held_up,
            old: &old.name,
            new: &new.name,
            date: end.long(),
        });
    let urgent = "/findings?min_severity=urgent";
    Panel {
        deadline,
        tiles: [
            (
                o.expired,
                "certificates expired",
                "/findings?min_severity=critical",
            ),
            (o.within_7_days, "expiring within 7 days", urgent),
            (o.within_30_days, "within 30 days", "/findings"),
            (o.within_90_days, "in the 90-day window", "/plan"),
            (o.urgent_findings, "urgent or critical findings", urgent),
            (o.open_incidents, "open incidents", "/incidents"),
            (o.spares_below_minimum, "sites short of spares", "/findings"),
            (
                o.software_below_mandatory,
                "workstations below mandatory software",
                "/findings",
            ),
        ],
    }
    .render()
    // Rendering into a String cannot fail.
    .unwrap_or_default()
}

/// The home page: the overview's counts, then the certificates of cards in use that expire
/// soonest. Holders are shown by card and site only.
pub(crate) async fn page(State(state): State<AppState>, caller: Caller) -> Response {
    let viewer = match viewer(&state, caller, Permission::ViewEstate, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // The counts and the table come with the cached check: the page costs no query of its own.
    let check = match all_findings(&state, viewer.version).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let panel = panel(&check, &viewer, &state.checks.catalogue);
    let certs = check.expiring.clone();
    let today = (state.now)().date();
    let mut rows = String::new();
    for c in certs.iter().filter(|c| viewer.sees_site(&c.site_ods)) {
        let days = today.days_until(c.not_after);
        let when = match days {
            d if d < 0 => format!("expired {} days ago", -d),
            0 => "expires today".to_owned(),
            d => format!("{d} days"),
        };
        let class = match Window::of(today, c.not_after) {
            Window::Expired => "expired",
            Window::Urgent => "soon",
            Window::Renewable => "window",
            Window::Valid => "",
        };
        let _ = writeln!(
            rows,
            "<tr class=\"nhsuk-table__row {class}\"><td class=\"nhsuk-table__cell\"><a href=\"/cards/{serial}\">{serial}</a></td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td></tr>",
            escape(&c.purpose),
            c.not_after,
            escape(&when),
            escape(&c.site_ods),
            serial = escape(&c.card_serial),
        );
    }
    let empty = if certs.is_empty() {
        "<p>No certificates yet: import the estate with <code>cardwatch import</code>.</p>"
    } else {
        ""
    };
    let body = format!(
        r#"{panel}
<h2 class="nhsuk-heading-m">Certificates expiring soonest</h2>
<p class="nhsuk-body">Cards in use, as of {today}. Expired and due within 30 days first; an expired certificate needs an RA in person, one inside 90 days can be renewed by its holder.</p>
{empty}<table class="nhsuk-table">
<thead class="nhsuk-table__head"><tr class="nhsuk-table__row"><th class="nhsuk-table__header" scope="col">Card</th><th class="nhsuk-table__header" scope="col">Certificate</th><th class="nhsuk-table__header" scope="col">Last valid day</th><th class="nhsuk-table__header" scope="col">Time left</th><th class="nhsuk-table__header" scope="col">Site</th></tr></thead>
<tbody class="nhsuk-table__body">
{rows}</tbody></table>"#
    );
    layout::page("Overview", Some(&viewer.caller), &body).into_response()
}
