//! A workstation's page: `GET /workstations/{hostname}` and its JSON twin — the machine, its
//! smartcard software judged against the catalogue (the same facts triage uses), and its readers
//! with their firmware. Another organisation's workstation is answered as not found.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::ids::Hostname;
use cardwatch_core::triage::{component_name, estate_facts};
use cardwatch_store::triage_context;
use serde_json::json;

use crate::estate::lists::sentence;
use crate::estate::{applications_words, reader_status_words, update_ring_words, Named};
use crate::web::auth::Caller;
use crate::web::blocking;
use crate::web::counted;
use crate::web::lookup;
use crate::AppState;

/// A workstation's address: the name Windows shows, found again by the workstations' search.
const WORKSTATION: Named = Named {
    field: "hostname",
    lookup: &lookup::WORKSTATIONS,
    malformed: "Check the computer name",
    missing: "Computer not found",
};

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
    let (v, host) = WORKSTATION
        .key(
            state,
            caller,
            Permission::ViewEstate,
            api,
            host,
            Hostname::parse,
            |typed| format!("“{typed}” is not a computer name. Computer names are letters, digits and hyphens, as Windows shows them in Settings, System, About — check it, or search for it."),
        )
        .await?;
    let h = host.clone();
    let cx = blocking(state, move |s| triage_context(s, None, None, Some(&h)))
        .await
        .map_err(IntoResponse::into_response)?;
    let visible = cx
        .workstation
        .as_ref()
        .is_some_and(|w| v.sees_site(w.site_ods.as_str()));
    if !visible {
        return Err(WORKSTATION.missing(
            &v.caller,
            api,
            host.as_str(),
            &format!("No computer called {host} at your organisations' sites — check the name Windows shows, or search for it."),
            &format!("no workstation {host} among your organisations' sites"),
        ));
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

#[derive(askama::Template)]
#[template(path = "estate_workstation.html")]
struct WorkstationPage {
    site: String,
    os: String,
    build: String,
    ring: String,
    last_seen: String,
    applications: String,
    /// Each component: its name, what is installed, the verdict and why.
    software: Vec<[String; 4]>,
    /// Each reader: serial, model, firmware, status.
    readers: Vec<[String; 4]>,
    readers_count: String,
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
    let software = view
        .verdicts
        .iter()
        .map(|(component, verdict, because)| {
            let installed = view
                .cx
                .software
                .iter()
                .find(|s| &s.component == component)
                .map_or("Not installed", |s| s.version.as_str());
            [
                component_name(&state.checks.catalogue, component).to_owned(),
                installed.to_owned(),
                verdict_words(verdict),
                because.clone(),
            ]
        })
        .collect();
    let readers = view
        .cx
        .readers
        .iter()
        .map(|r| {
            [
                r.reader_serial.clone(),
                format!("{} {}", r.vendor, r.model),
                r.firmware.clone().unwrap_or_else(|| "Not reported".into()),
                reader_status_words(r.status.as_str()),
            ]
        })
        .collect();
    // Those listed for the workstation and those its agent found installed, by name.
    let cat = &state.checks.catalogue;
    let listed = w.applications.join(" ");
    let used = cat.applications_used(
        Some(&listed),
        view.cx.software.iter().map(|s| s.component.as_str()),
    );
    let applications = if used.is_empty() {
        "None recorded".to_owned()
    } else {
        applications_words(cat, &used.join(" "))
    };
    let page = WorkstationPage {
        site: crate::web::sites::named_now(&state, w.site_ods.as_str()).await,
        os: if w.os.trim().is_empty() {
            "Not recorded".to_owned()
        } else {
            w.os.clone()
        },
        build: if w.os_build.trim().is_empty() {
            "Not recorded".to_owned()
        } else {
            w.os_build.clone()
        },
        // In the words the workstations list uses.
        ring: update_ring_words(w.update_ring.as_str()),
        last_seen: w.last_seen.map_or("Never".into(), |t| t.long()),
        applications,
        software,
        readers_count: counted(view.cx.readers.len(), "reader", "readers"),
        readers,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    crate::web::layout::page(
        &format!("Workstation {}", w.hostname.as_str()),
        Some(&caller),
        &body,
    )
    .into_response()
}

/// A component's verdict against the catalogue as the person who acts on it reads it: software
/// to remove that is still there is not merely "present".
fn verdict_words(verdict: &str) -> String {
    match verdict {
        "current" => "Up to date",
        "outdated" => "Out of date: update it",
        "missing" => "Not installed: install it",
        "present" => "Installed: remove it",
        "absent" => "Not installed, as it should be",
        other => return sentence(other),
    }
    .to_owned()
}
