//! The workstation agents' page for administrators (`/admin/agents`) and its JSON twin
//! (`/api/v1/agents`): each agent's workstation, version, enrolment, when it was last heard
//! from and what became of its latest inventory; a one-time enrolment token made here (shown
//! once), and an agent revoked (both audited).

use axum::extract::State;
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
use crate::web::counted;
use crate::web::form::PageForm;
use crate::web::scope::{form_viewer, viewer};
use crate::web::{blocking, layout};
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
        Ok(c) => render(&state, &c, None, Typed::default()).await,
        Err(r) => r,
    }
}

#[derive(askama::Template)]
#[template(path = "agents_page.html")]
struct AgentsPage {
    done: Option<String>,
    refused: Option<String>,
    /// The token form's refused field (its id, the message), shown beside it.
    problem: Option<(&'static str, String)>,
    typed: Typed,
    csrf: String,
    count: String,
    agents: Vec<Row>,
}

struct Row {
    hostname: String,
    id: String,
    version: String,
    heard: String,
    silent: bool,
    site: String,
    inventory: String,
    live: bool,
}

/// What was typed in the token form: kept when it is refused, the default hours otherwise.
struct Typed {
    site: String,
    hours: String,
    problem: Option<(&'static str, String)>,
}

impl Default for Typed {
    fn default() -> Self {
        Typed {
            site: String::new(),
            hours: "24".into(),
            problem: None,
        }
    }
}

/// The page; a refused token form (`typed.problem`) answers 400 with what was typed.
async fn render(
    state: &AppState,
    caller: &Caller,
    message: Option<(bool, String)>,
    mut typed: Typed,
) -> Response {
    let all = match list(state).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let now = (state.now)();
    let agents = all
        .iter()
        .map(|a| {
            let silent = a.revoked_at.is_none()
                && a.last_seen
                    .is_some_and(|t| now.unix() - t.unix() > SILENT_SECONDS);
            let heard = match (a.revoked_at, a.last_seen) {
                (Some(t), _) => format!("Revoked on {}", t.long()),
                (None, Some(t)) if silent => format!("Silent since {}", t.long()),
                (None, Some(t)) => t.long(),
                (None, None) => "Never".to_owned(),
            };
            Row {
                hostname: a.hostname.clone(),
                id: a.id.clone(),
                version: a.version.clone(),
                heard,
                silent,
                site: a.site_ods.clone().unwrap_or_else(|| "Not known".into()),
                inventory: a
                    .inventory_note
                    .clone()
                    .unwrap_or_else(|| "No inventory yet".into()),
                live: a.revoked_at.is_none(),
            }
        })
        .collect();
    let (done, refused) = match message {
        Some((true, m)) => (Some(m), None),
        Some((false, m)) => (None, Some(m)),
        None => (None, None),
    };
    let problem = typed.problem.take();
    let status = if problem.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    let page = AgentsPage {
        done,
        refused,
        problem,
        typed,
        csrf: caller.csrf.clone(),
        count: counted(all.len(), "agent", "agents"),
        agents,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    (
        status,
        layout::page("Workstation agents", Some(caller), &body),
    )
        .into_response()
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
    PageForm(f): PageForm<TokenForm>,
) -> Response {
    let caller = match form_viewer(&state, caller, Permission::ManageUsers, &f.csrf).await {
        Ok(v) => v.caller,
        Err(r) => return r,
    };
    let refuse = |field: &'static str, m: String| Typed {
        site: f.site.clone(),
        hours: f.hours.clone(),
        problem: Some((field, m)),
    };
    let site = match f.site.trim() {
        "" => None,
        s => match OdsCode::parse(s) {
            Ok(s) => Some(s),
            Err(_) => {
                let m = "Enter the site code (ODS code) as 1 to 9 letters and numbers, like A81001, or leave it empty".to_owned();
                return render(&state, &caller, None, refuse("site", m)).await;
            }
        },
    };
    let hours = match f.hours.trim().parse::<i64>() {
        Ok(h) if (1..=720).contains(&h) => h,
        _ => {
            let m =
                "Enter the hours until the token expires as a whole number from 1 to 720, like 24"
                    .to_owned();
            return render(&state, &caller, None, refuse("hours", m)).await;
        }
    };
    let change = change(&caller, &state);
    let (secret, id) = match (new_token_secret(), random_token()) {
        (Ok(secret), Ok(id)) => (secret, format!("et_{}", &id[..8])),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let expires = Timestamp::from_unix(change.at.unix() + hours * 3600);
    let hash = token_hash(&secret);
    let named = site.as_ref().map(|s| s.as_str().to_owned());
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
            format!(
                "Enrolment token {id}, for one use, expires on {} — shown only now: {secret}",
                expires.long()
            )
        }))
    })
    .await;
    match settled(done) {
        Ok((true, m)) => render(&state, &caller, Some((true, m)), Typed::default()).await,
        // The store refuses only a site it does not know.
        Ok((false, _)) => {
            let m = format!(
                "There is no site {} in Cardwatch: check the code on the Sites page, or leave it empty",
                named.unwrap_or_default()
            );
            render(&state, &caller, None, refuse("site", m)).await
        }
        Err(r) => *r,
    }
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
    PageForm(f): PageForm<RevokeForm>,
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
        Ok(message) => render(state, caller, Some(message), Typed::default()).await,
        Err(r) => *r,
    }
}
