//! The audit log for those who may read it (administrators and auditors): `GET /audit`, a page
//! filtered by entity and actor, newest first, with an "older" link; `GET /api/v1/audit`, its
//! JSON twin (and CSV). The chain itself is checked by `cardwatch audit verify`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::audit::StoredAudit;
use cardwatch_store::AuditQuery;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::blocking;
use crate::web::scope::viewer;
use crate::web::{bad_request, BadParam};
use crate::AppState;

const COLUMNS: [&str; 7] = [
    "seq",
    "at",
    "actor",
    "action",
    "entity_kind",
    "entity_key",
    "note",
];

fn query(q: &HashMap<String, String>) -> Result<(AuditQuery, bool), BadParam> {
    const KNOWN: [&str; 6] = ["entity", "key", "actor", "before", "limit", "format"];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        ));
    }
    // PostgreSQL's text holds no NUL character, so no record has one: refused, not searched.
    if let Some(k) = ["entity", "key", "actor"]
        .into_iter()
        .find(|k| q.get(*k).is_some_and(|v| v.contains('\0')))
    {
        return Err(bad_request(
            k,
            format!("{k} holds a NUL character, which no record has — remove it"),
        ));
    }
    let text = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let number = |k: &str, lo: i64, hi: i64| -> Result<Option<i64>, BadParam> {
        text(k)
            .map(|v| match v.parse::<i64>() {
                Ok(n) if (lo..=hi).contains(&n) => Ok(n),
                _ => Err(bad_request(
                    k,
                    format!("{v:?} is not a whole number from {lo} to {hi}"),
                )),
            })
            .transpose()
    };
    let csv = match text("format").as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(bad_request(
                "format",
                format!("{other:?} is not json or csv"),
            ))
        }
    };
    Ok((
        AuditQuery {
            entity_kind: text("entity").map(|t| kind_code(&t)),
            entity_key: text("key"),
            actor: text("actor"),
            before_seq: number("before", 1, i64::MAX)?,
            limit: number("limit", 1, 1000)?.unwrap_or(100) as usize,
        },
        csv,
    ))
}

async fn search(
    state: &AppState,
    caller: Caller,
    q: &HashMap<String, String>,
    api: bool,
) -> Result<(Vec<StoredAudit>, AuditQuery, bool), Response> {
    // Those who may read the audit log see every organisation: nothing to filter by site.
    viewer(state, caller, Permission::ViewAudit, api).await?;
    let (query, csv) = query(q).map_err(IntoResponse::into_response)?;
    let found = blocking(state, {
        let query = query.clone();
        move |s| s.audit_search(&query)
    })
    .await
    .map_err(IntoResponse::into_response)?;
    Ok((found, query, csv))
}

/// The link to the next (older) page, keeping the filters (form-encoded by the url crate).
fn older(q: &AuditQuery, records: &[StoredAudit], base: &str) -> Option<String> {
    let last = records.last()?;
    if records.len() < q.limit {
        return None;
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("before", &last.record.seq.to_string())
        .append_pair("limit", &q.limit.to_string());
    for (k, v) in [
        ("entity", &q.entity_kind),
        ("key", &q.entity_key),
        ("actor", &q.actor),
    ] {
        if let Some(v) = v {
            query.append_pair(k, v);
        }
    }
    Some(format!("{base}?{}", query.finish()))
}

pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (records, query, csv) = match search(&state, caller, &q, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if csv {
        return crate::web::csv_download(
            "audit.csv",
            &COLUMNS,
            records.iter().map(|r| {
                let x = &r.record;
                [
                    x.seq.to_string(),
                    x.at.to_string(),
                    x.actor.clone(),
                    x.action.clone(),
                    x.entity_kind.clone(),
                    x.entity_key.clone(),
                    x.note.clone(),
                ]
            }),
        );
    }
    axum::Json(json!({
        "records": records,
        "older": older(&query, &records, "/api/v1/audit"),
    }))
    .into_response()
}

#[derive(askama::Template)]
#[template(path = "audit.html")]
struct AuditPage<'a> {
    problem: Option<(String, String)>,
    entity: &'a str,
    key: &'a str,
    actor: &'a str,
    count: String,
    rows: Vec<Row>,
    older: Option<String>,
}

struct Row {
    when: String,
    who: String,
    action: String,
    kind: String,
    key: String,
    note: String,
    seq: i64,
}

/// Who made a change, as people say it: an operator's user name without the channel's prefix.
fn who(actor: &str) -> String {
    match actor.split_once(':') {
        Some(("web", name)) => name.to_owned(),
        Some(("cli", name)) => format!("{name} (command line)"),
        _ => match actor {
            "import" => "An import".to_owned(),
            "unsubscribe" => "The unsubscribe link".to_owned(),
            other => other.to_owned(),
        },
    }
}

/// What was done, in words; an action the page does not know is shown as recorded.
fn action(a: &str) -> String {
    match a {
        "create" | "add" => "Added",
        "update" => "Changed",
        "reset-password" => "Reset the password of",
        "disable" => "Disabled",
        "enable" => "Enabled",
        "acknowledged" => "Acknowledged",
        "snoozed" => "Snoozed",
        "reopen" => "Reopened",
        "delete" => "Removed",
        "import" => "Imported",
        "status" => "Changed the status of",
        "revoke" => "Revoked",
        "erase" => "Erased the personal data of",
        "keep" => "Reviewed and kept",
        "remove" => "Reviewed and removed",
        "open" => "Opened",
        "step" => "Recorded a step of",
        "escalated" => "Passed to support",
        "resolved" => "Recorded as fixed",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// A note in words: an incident's symptom or cause by its name, as the triage pages say them;
/// any other note as written.
fn note_words(kind: &str, note: &str, kb: &cardwatch_core::triage::KnowledgeBase) -> String {
    if kind != "incident" {
        return note.to_owned();
    }
    if let Some(s) = kb.symptom(note) {
        return kb.symptoms[s].plain.clone();
    }
    kb.cause(note)
        .map_or_else(|| note.to_owned(), |c| kb.causes[c].name.clone())
}

/// The kinds of record the audit log names, as the store writes them.
const KINDS: &[&str] = &[
    "people",
    "cards",
    "certificates",
    "positions",
    "sites",
    "organisations",
    "workstations",
    "software",
    "readers",
    "stock",
    "user",
    "incident",
    "finding",
    "token",
    "webhook",
    "site_contact",
    "notify_prefs",
    "agent",
    "enrolment_token",
    "access_review",
];

/// A kind of record as typed in the filter — its code, its name in words, singular or plural
/// ("card", "Cards", "person", "operator") — as the code the log holds; anything else as typed,
/// which matches nothing.
fn kind_code(typed: &str) -> String {
    let t = typed.trim().to_lowercase();
    let one = |w: &str| -> String {
        let w = w.trim().to_lowercase().replace(['_', '-'], " ");
        match w.as_str() {
            "people" | "persons" => "person".to_owned(),
            "operator" | "operators" | "users" => "user".to_owned(),
            _ => w.strip_suffix('s').map_or(w.clone(), str::to_owned),
        }
    };
    KINDS
        .iter()
        .find(|&&c| c == t || one(c) == one(&t) || one(&kind(c)) == one(&t))
        .map_or(t, |c| (*c).to_owned())
}

/// The kind of record, in words.
fn kind(k: &str) -> String {
    match k {
        "people" => "Person",
        "cards" => "Card",
        "certificates" => "Certificate",
        "positions" => "Position",
        "sites" => "Site",
        "organisations" => "Organisation",
        "workstations" => "Workstation",
        "software" => "Software on",
        "readers" => "Card reader",
        "stock" => "Spare stock at",
        "user" => "Operator",
        "incident" => "Incident",
        "token" => "Token",
        "webhook" => "Webhook",
        "site_contact" => "Contact at",
        "notify_prefs" => "Email digest of",
        "agent" => "Workstation agent",
        "enrolment_token" => "Agent enrolment token",
        "access_review" => "the role",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// A refused filter as the page says it: a box's own name, not the API's parameter.
fn in_words((field, message): (String, String)) -> (String, String) {
    let label = match field.as_str() {
        "entity" => "Kind of record",
        "key" => "Which record",
        "actor" => "Changed by",
        _ => return (field, message),
    };
    let m = format!("{label} holds an invisible character (NUL) that no record has: delete what is in the box and type it again");
    (field, m)
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let who_asks = caller.clone();
    let typed = |k: &str| q.get(k).cloned().unwrap_or_default();
    // A refused filter is shown on the page with what was typed, never as the API's JSON.
    let (records, query, problem) = match query(&q) {
        Ok(_) => match search(&state, caller, &q, false).await {
            Ok((records, query, _)) => (records, Some(query), None),
            Err(r) => return r,
        },
        Err(e) => {
            if let Err(r) = viewer(&state, caller, Permission::ViewAudit, false).await {
                return r;
            }
            (Vec::new(), None, Some(in_words(e.parts())))
        }
    };
    let rows: Vec<Row> = records
        .iter()
        .map(|r| {
            let x = &r.record;
            // A form on a site's page saves through the import, as a one-record file of the
            // kind's name: said as the page it came from, not as a file nobody chose.
            let own_file = format!("{}.json", x.entity_kind);
            let from_page = x.actor.starts_with("web:")
                && ((x.action == "import" && x.entity_key == own_file)
                    || x.note == format!("import {own_file}"));
            Row {
                when: x.at.long(),
                who: who(&x.actor),
                action: if from_page && x.action == "import" {
                    "Saved".to_owned()
                } else {
                    action(&x.action)
                },
                kind: kind(&x.entity_kind),
                // A key of several parts is stored with a unit separator between them.
                key: if from_page && x.action == "import" {
                    "on a site's page".to_owned()
                } else {
                    x.entity_key.replace('\u{1f}', " · ")
                },
                note: if from_page {
                    "saved on a site's page".to_owned()
                } else {
                    note_words(&x.entity_kind, &x.note, &state.checks.triage)
                },
                seq: x.seq,
            }
        })
        .collect();
    let (entity, key, actor) = (typed("entity"), typed("key"), typed("actor"));
    let page = AuditPage {
        count: match rows.len() {
            0 => "No changes match.".to_owned(),
            1 => "1 change, the newest first.".to_owned(),
            n => format!("{n} changes, the newest first."),
        },
        older: query.as_ref().and_then(|qq| older(qq, &records, "/audit")),
        problem,
        entity: &entity,
        key: &key,
        actor: &actor,
        rows,
    };
    let status = if page.problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    (
        status,
        crate::web::layout::page("Audit log", Some(&who_asks), &body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::{action, kind_code, note_words};

    #[test]
    fn an_incidents_actions_and_notes_read_as_words() {
        let kb = cardwatch_core::triage::KnowledgeBase::shipped();
        for (code, words) in [
            ("open", "Opened"),
            ("step", "Recorded a step of"),
            ("escalated", "Passed to support"),
            ("resolved", "Recorded as fixed"),
        ] {
            assert_eq!(action(code), words);
        }
        let symptom = kb.symptom("cannot-sign").unwrap();
        assert_eq!(
            note_words("incident", "cannot-sign", &kb),
            kb.symptoms[symptom].plain
        );
        let cause = kb.cause("middleware-outdated").unwrap();
        assert_eq!(
            note_words("incident", "middleware-outdated", &kb),
            kb.causes[cause].name
        );
        // Another kind's note, or one the base does not know, as written.
        assert_eq!(note_words("cards", "cannot-sign", &kb), "cannot-sign");
        assert_eq!(
            note_words("incident", "typed by hand", &kb),
            "typed by hand"
        );
    }

    #[test]
    fn a_kind_of_record_is_found_by_its_code_or_its_words() {
        for (typed, code) in [
            ("cards", "cards"),
            ("card", "cards"),
            (" Card ", "cards"),
            ("person", "people"),
            ("People", "people"),
            ("operator", "user"),
            ("operators", "user"),
            ("user", "user"),
            ("findings", "finding"),
            ("card reader", "readers"),
            ("workstation", "workstations"),
            ("incidents", "incident"),
            ("access_review", "access_review"),
            ("spaceship", "spaceship"),
        ] {
            assert_eq!(kind_code(typed), code, "{typed:?}");
        }
    }
}
