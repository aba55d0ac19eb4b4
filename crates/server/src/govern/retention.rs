//! Retention of personal data for administrators: `GET /admin/retention` (and its JSON twin
//! `GET /api/v1/retention`) lists the leavers whose name, email and staff role are past the
//! retention period with nothing of theirs in force; `POST /admin/retention` erases them now
//! rather than at the `retention` job's next run (CSRF-checked, each erasure audited without the
//! data it erased).

use std::fmt::Write as _;

use axum::extract::{Form, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cardwatch_core::access::Permission;
use cardwatch_core::date::Date;
use cardwatch_store::retention::{self, Due};
use serde::Deserialize;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::scope::{form_viewer, viewer, Viewer};
use crate::web::{blocking, escape, layout};
use crate::web::{change, settled};
use crate::AppState;

/// The last day of employment before which leavers' data is erased.
fn cutoff(state: &AppState) -> Date {
    state
        .checks
        .thresholds
        .leavers_erased_before((state.now)().date())
}

async fn due(state: &AppState, v: &Viewer) -> Result<Vec<Due>, Response> {
    let cutoff = cutoff(state);
    let sites = v.visible_sites();
    blocking(state, move |s| retention::due(s, cutoff, sites.as_deref()))
        .await
        .map_err(IntoResponse::into_response)
}

/// `GET /api/v1/retention`
pub(crate) async fn api(State(state): State<AppState>, caller: Caller) -> Response {
    let v = match viewer(&state, caller, Permission::ManageUsers, true).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match due(&state, &v).await {
        Ok(list) => Json(json!({
            "retention_days": state.checks.thresholds.leaver_retention_days,
            "left_before": cutoff(&state),
            "due": list,
        }))
        .into_response(),
        Err(r) => r,
    }
}

/// `GET /admin/retention`
pub(crate) async fn page(State(state): State<AppState>, caller: Caller) -> Response {
    match viewer(&state, caller, Permission::ManageUsers, false).await {
        Ok(v) => render(&state, &v, None).await,
        Err(r) => r,
    }
}

async fn render(state: &AppState, v: &Viewer, message: Option<(bool, String)>) -> Response {
    let list = match due(state, v).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let days = state.checks.thresholds.leaver_retention_days;
    let cell = |s: &str| format!("<td class=\"nhsuk-table__cell\">{}</td>", escape(s));
    let mut rows = String::new();
    for d in &list {
        let _ = write!(
            rows,
            "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\"><a href=\"/people/{0}\">{0}</a></td>{1}{2}</tr>",
            escape(&d.uuid),
            cell(&d.site_ods),
            cell(&d.employment_end),
        );
    }
    let table = if list.is_empty() {
        "<p class=\"nhsuk-body\">No one is due: every leaver past the period has been erased already, or still has a card in use or a position in force (the health checks list those for the RA).</p>".to_owned()
    } else {
        let th = |c: &str| format!("<th class=\"nhsuk-table__header\" scope=\"col\">{c}</th>");
        format!(
            "<table class=\"nhsuk-table\"><caption class=\"nhsuk-table__caption\">Due for erasure</caption><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">{}{}{}</tr></thead><tbody class=\"nhsuk-table__body\">{rows}</tbody></table>\
             <form method=\"post\" action=\"/admin/retention\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button class=\"nhsuk-button nhsuk-button--warning\" type=\"submit\">Erase these {} now</button></form>",
            th("Person (UUID)"),
            th("Site"),
            th("Last day"),
            escape(&v.caller.csrf),
            list.len(),
        )
    };
    let body = format!(
        "{}<p class=\"nhsuk-body\">A leaver's name, email and staff role are kept for {days} days after their last day \
         (<code>[health] leaver_retention_days</code>), then erased by the <code>retention</code> job — once no card of \
         theirs is in use and no position of theirs is requested, approved or active. Their UUID stays, so their cards, \
         certificates and incidents keep their history. Each erasure is in the audit log, without what it erased.</p>{table}",
        layout::said(message)
    );
    layout::page("Retention of personal data", Some(&v.caller), &body).into_response()
}

#[derive(Deserialize)]
pub(crate) struct EraseForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/retention`: erase everyone due now.
pub(crate) async fn erase(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<EraseForm>,
) -> Response {
    let v = match form_viewer(&state, caller, Permission::ManageUsers, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cutoff = cutoff(&state);
    let sites = v.visible_sites();
    let change = change(&v.caller, &state);
    let done = blocking(&state, move |s| {
        Ok(
            retention::erase(s, cutoff, sites.as_deref(), &change).map(|erased| {
                format!(
                "Erased the name, email and staff role of {} leaver(s) who left before {cutoff}.",
                erased.len()
            )
            }),
        )
    })
    .await;
    match settled(done) {
        Ok(message) => render(&state, &v, Some(message)).await,
        Err(r) => *r,
    }
}
