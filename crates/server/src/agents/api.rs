//! The agents' side of the API: `POST /api/v1/agents/enrol` exchanges a one-time enrolment
//! token for the agent's own credential, and `POST /api/v1/agents/heartbeat` is how an enrolled
//! agent says it is alive (with `Authorization: Agent CREDENTIAL`). Every agent request carries
//! `X-Cardwatch-Agent-Version`; an agent older than the server understands is refused (426).

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cardwatch_core::ids::Hostname;
use cardwatch_core::inventory::Inventory;
use cardwatch_store::agents;
use cardwatch_store::inventory::apply_inventory;
use cardwatch_store::{Change, StoreError};
use serde::Deserialize;
use serde_json::json;

use crate::web::auth::{new_token_secret, random_token, token_hash};
use crate::web::blocking;
use crate::AppState;

/// The oldest agent this server understands.
pub const MIN_AGENT_VERSION: (u32, u32, u32) = (0, 1, 0);

fn error(status: StatusCode, code: &str, message: String, field: Option<&str>) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message, "field": field}})),
    )
        .into_response()
}

/// The versions this server takes, as the API document states them: `major.minor.patch`, each
/// 0 or 1 to 9 digits without a leading zero, and not older than [`MIN_AGENT_VERSION`].
pub const VERSION_PATTERN: &str =
    "^(0\\.[1-9][0-9]{0,8}|[1-9][0-9]{0,8}\\.(0|[1-9][0-9]{0,8}))\\.(0|[1-9][0-9]{0,8})$";
// VERSION_PATTERN spells out 0.1.0 as the oldest: change both together.
const _: () = assert!(
    MIN_AGENT_VERSION.0 == 0 && MIN_AGENT_VERSION.1 == 1 && MIN_AGENT_VERSION.2 == 0,
    "VERSION_PATTERN states 0.1.0 as the oldest version taken"
);

/// `major.minor.patch`, each 0 or 1 to 9 digits without a leading zero (as an agent writes it).
fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let number = |p: &str| {
        let canonical = (1..=9).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_digit())
            && (p == "0" || !p.starts_with('0'));
        canonical.then(|| p.parse::<u32>().ok()).flatten()
    };
    let mut it = s.split('.').map(number);
    let v = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(v)
}

/// Why an agent's version is refused (unreadable or too old), if it is.
fn version_refused(v: &str) -> Option<Response> {
    match parse_version(v) {
        None => Some(error(
            StatusCode::BAD_REQUEST,
            "invalid_version",
            format!("agent version {v:?} is not major.minor.patch"),
            Some("version"),
        )),
        Some(got) if got < MIN_AGENT_VERSION => Some(error(
            StatusCode::UPGRADE_REQUIRED,
            "agent_too_old",
            format!(
                "agent {v} is older than this server understands ({}.{}.{} or later): update the agent",
                MIN_AGENT_VERSION.0, MIN_AGENT_VERSION.1, MIN_AGENT_VERSION.2
            ),
            None,
        )),
        Some(_) => None,
    }
}

#[derive(Deserialize)]
pub(crate) struct EnrolBody {
    hostname: String,
    version: String,
}

/// `POST /api/v1/agents/enrol` `{token, hostname, version}` → 201 `{agent_id, credential}`.
/// The token is checked before anything else in the body: without a usable one the answer is
/// 401 whatever the rest holds.
pub(crate) async fn enrol(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    // A body that cannot be read (over the size limit) is refused as JSON, as every other
    // answer to an agent is.
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return error(
                e.status(),
                "invalid_body",
                format!(
                    "{} — send {{\"token\", \"hostname\", \"version\"}}",
                    e.body_text()
                ),
                None,
            )
        }
    };
    let refused = |m: String| {
        error(
            StatusCode::UNAUTHORIZED,
            "enrolment_refused",
            m,
            Some("token"),
        )
    };
    let token = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("token")?.as_str().map(|t| t.trim().to_owned()))
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return refused(
            "no enrolment token: send {\"token\", \"hostname\", \"version\"} with one from `cardwatch agent token`".into(),
        );
    };
    let hash = token_hash(&token);
    let now = (state.now)();
    match blocking(&state, {
        let hash = hash.clone();
        move |s| agents::enrolment_refusal(s, &hash, now)
    })
    .await
    {
        Ok(None) => {}
        Ok(Some(m)) => return refused(m),
        Err(f) => return f.into_response(),
    }
    let b: EnrolBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            // The body is JSON with a token (read above): name the field that is missing or
            // not text.
            let doc = serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default();
            let field = ["hostname", "version"]
                .into_iter()
                .find(|f| !doc.get(f).is_some_and(serde_json::Value::is_string));
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                match field {
                    Some(f) => format!(
                        "{f} is missing or not text — send {{\"token\", \"hostname\", \"version\"}}"
                    ),
                    None => format!("{e} — send {{\"token\", \"hostname\", \"version\"}}"),
                },
                field,
            );
        }
    };
    if let Some(r) = version_refused(&b.version) {
        return r;
    }
    let hostname = match Hostname::parse(&b.hostname) {
        Ok(h) => h,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                e.to_string(),
                Some("hostname"),
            )
        }
    };
    let (agent_id, credential) = match (random_token(), new_token_secret()) {
        (Ok(id), Ok(credential)) => (format!("ag_{}", &id[..12]), credential),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let cred_hash = token_hash(&credential);
    let change = Change {
        actor: format!("agent:{agent_id}"),
        at: (state.now)(),
    };
    let (id, host, version) = (
        agent_id.clone(),
        hostname.as_str().to_owned(),
        b.version.clone(),
    );
    let done = blocking(&state, move |s| {
        match agents::enrol(s, &hash, &id, &host, &version, &cred_hash, &change) {
            Err(StoreError::Invalid(m)) => Ok(Err(m)),
            other => other.map(Ok),
        }
    })
    .await;
    match done {
        Ok(Ok(())) => (
            StatusCode::CREATED,
            Json(json!({"agent_id": agent_id, "credential": credential})),
        )
            .into_response(),
        Ok(Err(m)) => error(
            StatusCode::UNAUTHORIZED,
            "enrolment_refused",
            m,
            Some("token"),
        ),
        Err(f) => f.into_response(),
    }
}

/// The enrolled, live agent a request comes from (its version checked), or the refusal. The
/// credential is checked first: without a live one the answer is 401 whatever the version.
async fn agent_of(state: &AppState, headers: &HeaderMap) -> Result<agents::Agent, Response> {
    let not_enrolled =
        |m: &str| error(StatusCode::UNAUTHORIZED, "not_enrolled", m.to_owned(), None);
    let credential = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Agent "))
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| not_enrolled("no agent credential: enrol first (cardwatch-agent enrol)"))?;
    let unknown = || {
        not_enrolled(
            "this agent's credential is unknown or revoked: enrol it again with a new token",
        )
    };
    let hash = token_hash(credential);
    let version = headers
        .get("x-cardwatch-agent-version")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(r) = version_refused(version) {
        // Whether the credential is live decides between 401 and the version's refusal; nothing
        // is marked seen with a version that cannot be used.
        return match blocking(state, move |s| agents::live_agent(s, &hash)).await {
            Ok(Some(_)) => Err(r),
            Ok(None) => Err(unknown()),
            Err(f) => Err(f.into_response()),
        };
    }
    let (version, now) = (version.to_owned(), (state.now)());
    match blocking(state, move |s| agents::agent_seen(s, &hash, &version, now)).await {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(unknown()),
        Err(f) => Err(f.into_response()),
    }
}

/// `POST /api/v1/agents/heartbeat` → `{agent_id, server_time}` (the agent measures its clock's
/// offset from it).
pub(crate) async fn heartbeat(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match agent_of(&state, &headers).await {
        Ok(a) => Json(json!({"agent_id": a.id, "server_time": (state.now)()})).into_response(),
        Err(r) => r,
    }
}

/// The most events one batch may carry.
pub const MAX_BATCH: usize = 1000;

#[derive(Deserialize)]
pub(crate) struct EventsBody {
    events: Vec<agents::AgentEvent>,
}

/// `POST /api/v1/agents/events` `{events: [{id, at, kind, data}]}` → `{accepted, duplicates}`:
/// each event is recorded once by its id, so a retried batch adds nothing.
pub(crate) async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<EventsBody>, JsonRejection>,
) -> Response {
    let agent = match agent_of(&state, &headers).await {
        Ok(a) => a,
        Err(r) => {
            state.metrics.agent_batch_refused();
            return r;
        }
    };
    let Json(b) = match body {
        Ok(b) => b,
        Err(e) => {
            state.metrics.agent_batch_refused();
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!(
                    "{} — send {{\"events\": [{{\"id\", \"at\", \"kind\", \"data\"}}]}}",
                    e.body_text()
                ),
                Some("events"),
            );
        }
    };
    // PostgreSQL's text holds no NUL character: an id or kind with one is refused on either
    // store, and one inside the free-form details is replaced.
    let unusable = |t: &str| t.contains('\0');
    if b.events.len() > MAX_BATCH
        || b.events.iter().any(|e| {
            e.id.is_empty() || e.id.chars().count() > 100 || unusable(&e.id) || unusable(&e.kind)
        })
    {
        state.metrics.agent_batch_refused();
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            format!(
                "a batch holds up to {MAX_BATCH} events, each with an id of 1 to 100 characters; no id or kind may hold a NUL character"
            ),
            Some("events"),
        );
    }
    let now = (state.now)();
    // How long the batch's oldest event waited in the agent's spool, by the agent's clock for
    // when it happened (a clock ahead of the server's counts as no wait).
    let waited = b
        .events
        .iter()
        .map(|e| e.at)
        .min()
        .map(|oldest| (now.unix() - oldest.unix()).max(0) as u64);
    let agent_id = agent.id.clone();
    let checks = state.checks.clone();
    match blocking(&state, move |s| {
        let mut b = b;
        for e in &mut b.events {
            without_nul(&mut e.data);
        }
        let counts = agents::record_events(s, &agent.id, &b.events, now)?;
        estate_inventory(s, &agent, &b.events, &checks.catalogue, now)?;
        Ok(counts)
    })
    .await
    {
        Ok((accepted, duplicates)) => {
            state
                .metrics
                .agent_events(accepted as u64, duplicates as u64);
            if let Some(w) = waited {
                state.metrics.agent_spool_oldest(&agent_id, w);
            }
            Json(json!({"accepted": accepted, "duplicates": duplicates})).into_response()
        }
        Err(f) => f.into_response(),
    }
}

/// Replaces each NUL character in a JSON value's strings (keys included) with U+FFFD, the
/// character for one that cannot be kept.
fn without_nul(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{fffd}"),
        Value::Array(items) => items.iter_mut().for_each(without_nul),
        Value::Object(map) if map.keys().any(|k| k.contains('\0')) => {
            let old = std::mem::take(map);
            for (k, mut x) in old {
                without_nul(&mut x);
                map.insert(k.replace('\0', "\u{fffd}"), x);
            }
        }
        Value::Object(map) => map.values_mut().for_each(without_nul),
        _ => {}
    }
}

/// The newest inventory in a batch, if newer than the one the estate has from this agent, into
/// the estate (audited as the agent), with the catalogue's applications recognised among its
/// installed programs. An inventory that cannot be read is noted on the agent, not refused: the
/// events are the agent's record either way.
fn estate_inventory(
    store: &dyn cardwatch_store::Store,
    agent: &agents::Agent,
    events: &[agents::AgentEvent],
    catalogue: &cardwatch_core::catalogue::Catalogue,
    now: cardwatch_core::date::Timestamp,
) -> Result<(), StoreError> {
    let Some(newest) = events
        .iter()
        .filter(|e| e.kind == "inventory")
        // Same second counts: applying an inventory again changes nothing.
        .filter(|e| agent.inventory_at.is_none_or(|t| e.at >= t))
        .max_by_key(|e| e.at)
    else {
        return Ok(());
    };
    let change = Change {
        actor: format!("agent:{}", agent.id),
        at: now,
    };
    match serde_json::from_value::<Inventory>(newest.data.clone()) {
        Ok(inv) => match inv
            .clock_offset_seconds
            .map_or(Ok(()), |o| {
                agents::note_clock(store, &agent.id, o, newest.at)
            })
            .and_then(|()| {
                let inv = inv.with_applications(catalogue);
                apply_inventory(store, agent, &inv, newest.at, &change)
            }) {
            Ok(_) => Ok(()),
            // A report the estate's rules refuse (a bad version text, say) is the agent's
            // problem to see, not a reason to lose its events.
            Err(e @ (StoreError::Rejected(_) | StoreError::Invalid(_))) => {
                agents::note_inventory(store, &agent.id, newest.at, &format!("refused: {e}"))
            }
            Err(e) => Err(e),
        },
        Err(e) => agents::note_inventory(
            store,
            &agent.id,
            newest.at,
            &format!("the inventory could not be read: {e}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_three_numbers_compared_in_order() {
        assert_eq!(parse_version("0.1.0"), Some((0, 1, 0)));
        assert_eq!(parse_version("1.10.2"), Some((1, 10, 2)));
        for bad in ["", "1.2", "1.2.3.4", "a.b.c", "1.-2.3"] {
            assert_eq!(parse_version(bad), None, "{bad}");
        }
        assert!(version_refused("0.0.9").is_some());
        assert!(version_refused("0.1.0").is_none());
    }
}
