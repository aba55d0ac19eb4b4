//! Retention of personal data for administrators: `GET /admin/retention` (and its JSON twin
//! `GET /api/v1/retention`) lists the leavers whose name, email and staff role are past the
//! retention period with nothing of theirs in force; `POST /admin/retention` erases them now
//! rather than at the `retention` job's next run (CSRF-checked, each erasure audited without the
//! data it erased).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cardwatch_core::access::Permission;
use cardwatch_core::date::Date;
use cardwatch_store::retention::{self, Due};
use serde::Deserialize;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::form::PageForm;
use crate::web::scope::{form_viewer, viewer, Viewer};
use crate::web::{blocking, layout};
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

#[derive(askama::Template)]
#[template(path = "retention.html")]
struct RetentionPage<'a> {
    said: Option<(bool, String)>,
    days: i32,
    count: String,
    rows: Vec<Row>,
    csrf: &'a str,
    button: String,
}

struct Row {
    uuid: String,
    site: String,
    last_day: String,
}

/// A number of leavers, the plural right.
fn leavers(n: usize) -> String {
    format!("{n} {}", if n == 1 { "leaver" } else { "leavers" })
}

async fn render(state: &AppState, v: &Viewer, message: Option<(bool, String)>) -> Response {
    let list = match due(state, v).await {
        Ok(l) => l,
        Err(r) => return r,
    };
    let rows: Vec<Row> = list
        .iter()
        .map(|d| Row {
            uuid: d.uuid.clone(),
            site: d.site_ods.clone(),
            last_day: Date::parse(&d.employment_end)
                .map_or_else(|_| d.employment_end.clone(), Date::long),
        })
        .collect();
    let page = RetentionPage {
        said: message,
        days: state.checks.thresholds.leaver_retention_days,
        count: format!("{} due to be erased.", leavers(rows.len())),
        button: format!("Erase these {} now", leavers(rows.len())),
        rows,
        csrf: &v.caller.csrf,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
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
    PageForm(f): PageForm<EraseForm>,
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
                    "Erased the name, email and staff role of {} who left before {}.",
                    leavers(erased.len()),
                    cutoff.long()
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
