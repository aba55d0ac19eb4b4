//! The workstation agents' page for administrators (`/admin/agents`) and its JSON twin
//! (`/api/v1/agents`): each agent's workstation, version, enrolment, when it was last heard
//! from and what became of its latest inventory; a one-time enrolment token made here (shown
//! once), and an agent revoked (both audited).

use std::fmt::Write as _;

use axum::extract::{Form, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cardwatch_core::access::Permission;
use cardwatch_core::date::Timestamp;
use cardwatch_core::ids::OdsCode;
use cardwatch_store::agents::{self, Agent};
use cardwatch_store::StoreError;
use serde::Deserialize;
use serde_json::json;

use crate::web::auth::{new_token_secret, random_token, token_hash, Caller};
use crate::web::scope::{form_viewer, viewer};
use crate::web::{blocking, escape, layout};
use crate::web::{change, settled};
use crate::AppState;

/// An agent not heard from for this long is shown as silent.
const SILENT_SECONDS: i64 = 2 * 3600;

async fn admin(state: &AppState, caller: Caller, api: bool) -> Result<Caller, Response> {
    Ok(viewer(state, caller, Permission::ManageUsers, api)
        .await?
        .caller)
}

async fn list(state: &AppState) -> Result<Vec<Agent>, Response> {
    blocking(state, agents::agents)
        .await
        .map_err(IntoResponse::into_response)
}

/// `GET /api/v1/agents`
pub(crate) async fn api(State(state): State<AppState>, caller: Caller) -> Response {
    if let Err(r) = admin(&state, caller, true).await {
        return r;
    }
    match list(&state).await {
        Ok(all) => Json(json!({ "agents": all })).into_response(),
        Err(r) => r,
    }
}

/// `GET /admin/agents`
pub(crate) async fn page(State(state): State<AppState>, caller: Caller) -> Response {
    match admin(&state, caller, false).await {
        Ok(c) => render(&state, &c, None).await,
        Err(r) => r,
    }
}

async fn render(state: &AppState, caller: &Caller, message: Option<(bool, String)>) -> Response {
    let all = match list(state).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let now = (state.now)();
    let csrf = escape(&caller.csrf);
    let cell = |s: &str| format!("<td class=\"nhsuk-table__cell\">{}</td>", escape(s));
    let mut rows = String::new();
    for a in &all {
        let seen = match (a.revoked_at, a.last_seen) {
            (Some(t), _) => format!("revoked {t}"),
            (None, Some(t)) if now.unix() - t.unix() > SILENT_SECONDS => {
                format!("SILENT since {t}")
            }
            (None, Some(t)) => t.to_string(),
            (None, None) => "never".to_owned(),
        };
        let revoke = if a.revoked_at.is_some() {
            String::new()
        } else {
            format!(
                "<form method=\"post\" action=\"/admin/agents/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"id\" value=\"{}\"><button class=\"nhsuk-button nhsuk-button--warning nhsuk-u-margin-bottom-0\" type=\"submit\">Revoke</button></form>",
                escape(&a.id)
            )
        };
        let _ = write!(
            rows,
            "<tr class=\"nhsuk-table__row\">{}{}{}{}{}{}<td class=\"nhsuk-table__cell\">{revoke}</td></tr>",
            cell(&a.hostname),
            cell(&a.id),
            cell(&a.version),
            cell(&seen),
            cell(a.site_ods.as_deref().unwrap_or("")),
            cell(a.inventory_note.as_deref().unwrap_or("no inventory yet")),
        );
    }
    let table = if all.is_empty() {
        "<p class=\"nhsuk-body\">No agent has enrolled yet.</p>".to_owned()
    } else {
        let head: String = [
            "Workstation",
            "Agent",
            "Version",
            "Last heard",
            "Site",
            "Latest inventory",
            "",
        ]
        .iter()
        .map(|c| format!("<th class=\"nhsuk-table__header\" scope=\"col\">{c}</th>"))
        .collect();
        format!(
            "<table class=\"nhsuk-table\"><caption class=\"nhsuk-table__caption\">Enrolled agents</caption><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">{head}</tr></thead><tbody class=\"nhsuk-table__body\">{rows}</tbody></table>"
        )
    };
    let said = crate::web::layout::said(message);
    let body = format!(
        r#"<h1 class="nhsuk-heading-l">Workstation agents</h1>{said}
<p class="nhsuk-body">An agent reads its workstation's readers, cards and smartcard software and reports them here. To enrol one, make a one-time token and run <code>cardwatch-agent run --server URL --enrol TOKEN</code> on the workstation.</p>
<form method="post" action="/admin/agents/token" novalidate><input type="hidden" name="csrf" value="{csrf}">
<div class="nhsuk-form-group"><label class="nhsuk-label" for="site">Site for a workstation the estate does not know yet (ODS code, optional)</label><input class="nhsuk-input nhsuk-input--width-10" id="site" name="site" type="text"></div>
<div class="nhsuk-form-group"><label class="nhsuk-label" for="hours">Hours until the token expires (1 to 720)</label><input class="nhsuk-input nhsuk-input--width-4" id="hours" name="hours" type="text" inputmode="numeric" value="24"></div>
<button class="nhsuk-button" type="submit">Make an enrolment token</button></form>
{table}"#
    );
    layout::page("Workstation agents", Some(caller), &body).into_response()
}

#[derive(Deserialize)]
pub(crate) struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    hours: String,
}

/// `POST /admin/agents/token`: a one-time enrolment token, shown once.
pub(crate) async fn token(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<TokenForm>,
) -> Response {
    let caller = match form_viewer(&state, caller, Permission::ManageUsers, &f.csrf).await {
        Ok(v) => v.caller,
        Err(r) => return r,
    };
    let hours = match f.hours.trim().parse::<i64>() {
        Ok(h) if (1..=720).contains(&h) => h,
        _ => {
            let m = format!("Hours {:?}: give a whole number from 1 to 720.", f.hours);
            return render(&state, &caller, Some((false, m))).await;
        }
    };
    let site = match f.site.trim() {
        "" => None,
        s => match OdsCode::parse(s) {
            Ok(s) => Some(s),
            Err(e) => return render(&state, &caller, Some((false, format!("Site: {e}")))).await,
        },
    };
    let change = change(&caller, &state);
    let secret = new_token_secret();
    let id = format!("et_{}", &random_token()[..8]);
    let expires = Timestamp::from_unix(change.at.unix() + hours * 3600);
    let hash = token_hash(&secret);
    let done = blocking(&state, move |s| {
        Ok(agents::add_enrolment_token(
            s,
            &hash,
            &id,
            expires,
            site.as_ref().map(OdsCode::as_str),
            &change,
        )
        .map(|()| {
            format!("Enrolment token {id}, one use, expires {expires} — shown only now: {secret}")
        }))
    })
    .await;
    after(&state, &caller, done).await
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
}

/// `POST /admin/agents/revoke`
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<RevokeForm>,
) -> Response {
    let caller = match form_viewer(&state, caller, Permission::ManageUsers, &f.csrf).await {
        Ok(v) => v.caller,
        Err(r) => return r,
    };
    let change = change(&caller, &state);
    let id = f.id.trim().to_owned();
    let done = blocking(&state, move |s| {
        Ok(match agents::revoke_agent(s, &id, &change) {
            Ok(()) => Ok(format!(
                "Agent {id} is revoked: its reports are refused from now on."
            )),
            Err(StoreError::NotFound(m)) => Err(StoreError::Invalid(m)),
            Err(e) => Err(e),
        })
    })
    .await;
    after(&state, &caller, done).await
}

async fn after(
    state: &AppState,
    caller: &Caller,
    r: Result<Result<String, StoreError>, crate::web::Failure>,
) -> Response {
    match settled(r) {
        Ok(message) => render(state, caller, Some(message)).await,
        Err(r) => *r,
    }
}
