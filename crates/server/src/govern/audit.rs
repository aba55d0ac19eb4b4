//! The audit log for those who may read it (administrators and auditors): `GET /audit`, a page
//! filtered by entity and actor, newest first, with an "older" link; `GET /api/v1/audit`, its
//! JSON twin (and CSV). The chain itself is checked by `cardwatch audit verify`.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::audit::StoredAudit;
use cardwatch_store::AuditQuery;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::scope::viewer;
use crate::web::{bad_request, BadParam};
use crate::web::{blocking, escape};
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
            entity_kind: text("entity"),
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

/// The link to the next (older) page, keeping the filters.
fn older(q: &AuditQuery, records: &[StoredAudit], base: &str) -> Option<String> {
    let last = records.last()?;
    if records.len() < q.limit {
        return None;
    }
    let mut link = format!("{base}?before={}&limit={}", last.record.seq, q.limit);
    for (k, v) in [
        ("entity", &q.entity_kind),
        ("key", &q.entity_key),
        ("actor", &q.actor),
    ] {
        if let Some(v) = v {
            let _ = write!(link, "&{k}={}", crate::web::enc(v));
        }
    }
    Some(link)
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

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let who = caller.clone();
    let (records, query, _) = match search(&state, caller, &q, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cell = |s: &str| format!("<td class=\"nhsuk-table__cell\">{}</td>", escape(s));
    let mut rows = String::new();
    for r in &records {
        let x = &r.record;
        let _ = writeln!(
            rows,
            "<tr class=\"nhsuk-table__row\">{}{}{}{}{}{}</tr>",
            cell(&x.seq.to_string()),
            cell(&x.at.to_string()),
            cell(&x.actor),
            cell(&x.action),
            cell(&format!("{} {}", x.entity_kind, x.entity_key)),
            cell(&x.note),
        );
    }
    let value = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
    let more = older(&query, &records, "/audit").map_or(String::new(), |l| {
        format!(
            "<p class=\"nhsuk-body\"><a href=\"{}\">Older records</a></p>",
            escape(&l)
        )
    });
    let body = format!(
        r#"<form method="get" class="nhsuk-u-margin-bottom-4">
<div class="nhsuk-form-group"><label class="nhsuk-label" for="entity">Entity kind (cards, people, user, incident, token…)</label><input class="nhsuk-input nhsuk-input--width-20" id="entity" name="entity" value="{entity}"></div>
<div class="nhsuk-form-group"><label class="nhsuk-label" for="key">Entity key</label><input class="nhsuk-input nhsuk-input--width-20" id="key" name="key" value="{key}"></div>
<div class="nhsuk-form-group"><label class="nhsuk-label" for="actor">Actor</label><input class="nhsuk-input nhsuk-input--width-20" id="actor" name="actor" value="{actor}"></div>
<button class="nhsuk-button nhsuk-button--secondary">Filter</button></form>
<table class="nhsuk-table"><thead class="nhsuk-table__head"><tr class="nhsuk-table__row"><th class="nhsuk-table__header" scope="col">Record</th><th class="nhsuk-table__header" scope="col">When</th><th class="nhsuk-table__header" scope="col">Who</th><th class="nhsuk-table__header" scope="col">What</th><th class="nhsuk-table__header" scope="col">Entity</th><th class="nhsuk-table__header" scope="col">Note</th></tr></thead>
<tbody class="nhsuk-table__body">
{rows}</tbody></table>
{more}
<p class="nhsuk-body">Check the whole chain with <code>cardwatch audit verify</code>.</p>"#,
        entity = value(&query.entity_kind),
        key = value(&query.entity_key),
        actor = value(&query.actor),
    );
    crate::web::layout::page("Audit log", Some(&who), &body).into_response()
}
