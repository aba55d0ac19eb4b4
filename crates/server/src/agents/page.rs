//! The workstation agents' page for administrators (`/admin/agents`) and its JSON twin
//! (`/api/v1/agents`): each agent's workstation, version, enrolment, when it was last heard
//! from and what became of its latest inventory; a one-time enrolment token made here (shown
//! once), and an agent revoked (both audited).
//!
//! With an agent on every workstation the list is national (333,000 agents): both read a page
//! at a time by keyset (`cardwatch_store::agents::agents_page`), with the estate lists' cursors.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cardwatch_core::access::Permission;
use cardwatch_core::date::Timestamp;
use cardwatch_core::ids::OdsCode;
use cardwatch_store::agents::{self, AgentsFrom};
use cardwatch_store::lists::Position;
use cardwatch_store::StoreError;
use serde::Deserialize;
use serde_json::json;

use crate::web::auth::{new_token_secret, random_token, token_hash, Caller};
use crate::web::counted;
use crate::web::cursor;
use crate::web::form::PageForm;
use crate::web::scope::{form_viewer, viewer};
use crate::web::{bad_request, BadParam};
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

/// Agents the page shows at a time.
const PAGE: usize = 50;

/// Agents the API answers with unless asked otherwise, and at most.
const API_LIMIT: usize = 100;
const MAX_LIMIT: usize = 5000;

/// The agents' cursors, as the API document states them: the estate lists' encoding
/// ([`cursor::encode`]) of a position of two values, an agent's enrolment in Unix seconds and
/// its id. The enrolment only as the server writes it — 1 to 18 digits, in base64 with no
/// unused bit set: three digits to four characters, the first `M`, `N` or `O` and each of the
/// others one of the few a digit's bits allow — so that a text of the pattern is always taken
/// and any other refused; the id any text the lists' cursors take.
pub(crate) const CURSOR_PATTERN: &str = concat!(
    "^[ab]\\.(?:",
    "(?:(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]){1,6}",
    "|(?:(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]){0,5}",
    "(?:[MN][AQgw]|O[AQ]|(?:[MN][DTjz]|O[DT])[AEIMQUYcgk])",
    ")(?:\\.(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?)?$"
);

/// The cursor naming an agent's place in the list: the page after it or, `before`, before it.
fn cursor(a: &agents::Agent, before: bool) -> String {
    cursor::encode(Position {
        before,
        values: vec![a.enrolled_at.unix().to_string(), a.id.clone()],
    })
}

/// The position a cursor names, or why it is refused: any text of [`CURSOR_PATTERN`].
fn position(text: &str) -> Result<AgentsFrom, BadParam> {
    let bad = cursor::refused;
    let Position { before, mut values } = cursor::decode(text, 2)?;
    let id = values.pop().unwrap_or_default();
    let enrolled = values.pop().unwrap_or_default();
    // The enrolment only as the server writes it: its digits, encoded back, are the text given.
    let written = match text[2..].find('.') {
        Some(end) => &text[..2 + end],
        None => text,
    };
    let digits = (1..=18).contains(&enrolled.len()) && enrolled.bytes().all(|b| b.is_ascii_digit());
    let same = || {
        cursor::encode(Position {
            before,
            values: vec![enrolled.clone()],
        }) == written
    };
    match enrolled.parse::<i64>() {
        Ok(enrolled_at) if digits && same() => Ok(AgentsFrom {
            before,
            enrolled_at,
            id,
        }),
        _ => Err(bad()),
    }
}

/// A page's agents with the cursors either side of it: (page, previous, next).
struct Read {
    page: agents::AgentsPage,
    previous: Option<String>,
    next: Option<String>,
}

async fn read(state: &AppState, from: Option<AgentsFrom>, limit: usize) -> Result<Read, Response> {
    let back = from.as_ref().is_some_and(|f| f.before);
    let started = from.is_some();
    let page = blocking(state, move |s| agents::agents_page(s, from.as_ref(), limit))
        .await
        .map_err(IntoResponse::into_response)?;
    // A cursor names an agent shown on a page, and agents are never deleted: there is a page
    // on the side the cursor came from.
    let (previous, next) = match (page.agents.first(), page.agents.last()) {
        (Some(first), Some(last)) => (
            (if back { page.more } else { started }).then(|| cursor(first, true)),
            (back || page.more).then(|| cursor(last, false)),
        ),
        _ => (None, None),
    };
    Ok(Read {
        page,
        previous,
        next,
    })
}

/// The API's parameters: (where the page starts, at most how many).
fn api_params(q: &HashMap<String, String>) -> Result<(Option<AgentsFrom>, usize), BadParam> {
    const KNOWN: [&str; 2] = ["cursor", "limit"];
    if q.contains_key("offset") {
        return Err(bad_request(
            "offset",
            "offset is not taken: the list is paged by cursor — leave offset out for the first \
             page, then pass the answer's next_cursor as cursor"
                .into(),
        ));
    }
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        ));
    }
    let text = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let limit = match text("limit") {
        None => API_LIMIT,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                bad_request(
                    "limit",
                    format!("{v:?} is not a whole number from 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    let from = text("cursor").map(position).transpose()?;
    Ok((from, limit))
}

/// `GET /api/v1/agents`
pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = admin(&state, caller, true).await {
        return r;
    }
    let (from, limit) = match api_params(&q) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    match read(&state, from, limit).await {
        Ok(r) => Json(json!({
            "agents": r.page.agents,
            "total": r.page.total,
            "next_cursor": r.next,
            "previous_cursor": r.previous,
        }))
        .into_response(),
        Err(r) => r,
    }
}

/// `GET /admin/agents`: a refused cursor shows the first page with why.
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let caller = match admin(&state, caller, false).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let cursor = q.get("cursor").map(|c| c.trim()).filter(|c| !c.is_empty());
    match cursor.map(position).transpose() {
        Ok(from) => render(&state, &caller, None, Typed::default(), from).await,
        Err(_) => {
            let m = "That link is not to a page of this list, so the first page is shown: \
                     use the Previous and Next links below the agents"
                .to_owned();
            let mut r = render(&state, &caller, Some((false, m)), Typed::default(), None).await;
            *r.status_mut() = axum::http::StatusCode::BAD_REQUEST;
            r
        }
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
    /// Agents enrolled, revoked ones too: the list's length, of which `agents` is a page.
    total: u64,
    count: String,
    agents: Vec<Row>,
    pages: layout::Pager,
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
    from: Option<AgentsFrom>,
) -> Response {
    let Read {
        page: all,
        previous,
        next,
    } = match read(state, from, PAGE).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    // Only the cursor: the page has no filters or sort to keep.
    let link = |c: String| format!("/admin/agents?cursor={}", crate::web::enc(&c));
    let pages = layout::Pager {
        previous: previous.map(|c| layout::PageLink {
            href: link(c),
            label: format!("The {PAGE} agents before these"),
        }),
        next: next.map(|c| layout::PageLink {
            href: link(c),
            label: format!("Up to {PAGE} more agents"),
        }),
    };
    let now = (state.now)();
    let agents = all
        .agents
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
        total: all.total,
        count: counted(all.total, "agent", "agents"),
        agents,
        pages,
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
                return render(&state, &caller, None, refuse("site", m), None).await;
            }
        },
    };
    let hours = match f.hours.trim().parse::<i64>() {
        Ok(h) if (1..=720).contains(&h) => h,
        _ => {
            let m =
                "Enter the hours until the token expires as a whole number from 1 to 720, like 24"
                    .to_owned();
            return render(&state, &caller, None, refuse("hours", m), None).await;
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
        Ok((true, m)) => render(&state, &caller, Some((true, m)), Typed::default(), None).await,
        // The store refuses only a site it does not know.
        Ok((false, _)) => {
            let m = format!(
                "There is no site {} in Cardwatch: check the code on the Sites page, or leave it empty",
                named.unwrap_or_default()
            );
            render(&state, &caller, None, refuse("site", m), None).await
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
        Ok(message) => render(state, caller, Some(message), Typed::default(), None).await,
        Err(r) => *r,
    }
}
