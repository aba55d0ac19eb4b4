//! A workstation's page: `GET /workstations/{hostname}` and its JSON twin — the machine, its
//! smartcard software judged against the catalogue (the same facts triage uses), and its readers
//! with their firmware. Another organisation's workstation is answered as not found.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::ids::Hostname;
use cardwatch_core::triage::estate_facts;
use cardwatch_store::triage_context;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::bad_request;
use crate::web::scope::{not_found, viewer};
use crate::web::{blocking, escape};
use crate::AppState;

/// What the page shows: the workstation, each component with its version and verdict, readers.
struct View {
    cx: cardwatch_core::triage::TriageContext,
    verdicts: Vec<(String, String, String)>,
}

async fn load(
    state: &AppState,
    caller: Caller,
    host: &str,
    api: bool,
) -> Result<(Caller, View), Response> {
    let host = Hostname::parse(host)
        .map_err(|e| bad_request("hostname", e.to_string()).into_response())?;
    let v = viewer(state, caller, Permission::ViewEstate, api).await?;
    let h = host.clone();
    let cx = blocking(state, move |s| triage_context(s, None, None, Some(&h)))
        .await
        .map_err(IntoResponse::into_response)?;
    let visible = cx
        .workstation
        .as_ref()
        .is_some_and(|w| v.sees_site(w.site_ods.as_str()));
    if !visible {
        let message = format!("no workstation {host} among your organisations' sites");
        return Err(not_found(api, &v.caller, &message));
    }
    let today = (state.now)().date();
    // The catalogue's verdicts are the facts triage reads: one judgement of "current".
    let verdicts = estate_facts(&cx, &state.checks.catalogue, today, &[])
        .into_iter()
        .filter_map(|f| {
            let component = f.key.strip_prefix("software.")?.to_owned();
            Some((component, f.value, f.because))
        })
        .collect();
    Ok((v.caller, View { cx, verdicts }))
}

pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Path(host): Path<String>,
) -> Response {
    let (_, view) = match load(&state, caller, &host, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let software: Vec<_> = view
        .verdicts
        .iter()
        .map(|(component, verdict, because)| {
            let installed = view.cx.software.iter().find(|s| &s.component == component).map(|s| s.version.clone());
            json!({"component": component, "installed": installed, "verdict": verdict, "because": because})
        })
        .collect();
    axum::Json(json!({
        "workstation": view.cx.workstation,
        "software": software,
        "readers": view.cx.readers,
    }))
    .into_response()
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Path(host): Path<String>,
) -> Response {
    let (caller, view) = match load(&state, caller, &host, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(w) = &view.cx.workstation else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let cell = |s: &str| format!("<td class=\"nhsuk-table__cell\">{}</td>", escape(s));
    let software: String = view
        .verdicts
        .iter()
        .map(|(component, verdict, because)| {
            let installed = view
                .cx
                .software
                .iter()
                .find(|s| &s.component == component)
                .map_or("not installed", |s| s.version.as_str());
            format!(
                "<tr class=\"nhsuk-table__row\">{}{}{}{}</tr>",
                cell(component),
                cell(installed),
                cell(verdict),
                cell(because)
            )
        })
        .collect();
    let readers: String = view
        .cx
        .readers
        .iter()
        .map(|r| {
            format!(
                "<tr class=\"nhsuk-table__row\">{}{}{}{}</tr>",
                cell(&r.reader_serial),
                cell(&format!("{} {}", r.vendor, r.model)),
                cell(r.firmware.as_deref().unwrap_or("not reported")),
                cell(r.status.as_str())
            )
        })
        .collect();
    let th = |c: &str| format!("<th class=\"nhsuk-table__header\" scope=\"col\">{c}</th>");
    let body = format!(
        "<dl class=\"nhsuk-summary-list\">\
         <div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Site</dt><dd class=\"nhsuk-summary-list__value\">{}</dd></div>\
         <div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Operating system</dt><dd class=\"nhsuk-summary-list__value\">{} {}</dd></div>\
         <div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Update ring</dt><dd class=\"nhsuk-summary-list__value\">{}</dd></div></dl>\n\
         <h2 class=\"nhsuk-heading-m\">Smartcard software against the catalogue</h2><table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">{}{}{}{}</tr></thead><tbody class=\"nhsuk-table__body\">{software}</tbody></table>\n\
         <h2 class=\"nhsuk-heading-m\">Readers</h2><table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">{}{}{}{}</tr></thead><tbody class=\"nhsuk-table__body\">{readers}</tbody></table>",
        escape(w.site_ods.as_str()),
        escape(&w.os),
        escape(&w.os_build),
        w.update_ring.as_str(),
        th("Component"),
        th("Installed"),
        th("Verdict"),
        th("Why"),
        th("Serial"),
        th("Model"),
        th("Firmware"),
        th("Status"),
    );
    crate::web::layout::page(
        &format!("Workstation {}", w.hostname.as_str()),
        Some(&caller),
        &body,
    )
    .into_response()
}
