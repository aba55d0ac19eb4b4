//! Incidents behind sign-in: `GET /incidents` (newest first, the caller's sites only) and its
//! JSON twin, and `GET /incidents/{id}/packet` — the escalation packet as a page that prints on
//! A4, for operators allowed to see people. An incident with no site is seen only by those who
//! see every organisation and by whoever recorded it.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::chart::{Bar, BarChart};
use cardwatch_core::triage::Incident;
use serde_json::json;

use crate::auth::Caller;
use crate::findings::bad_request;
use crate::scope::{refuse, viewer, Viewer};
use crate::triage::{parse_desk, prepare};
use crate::{blocking, escape, AppState};

fn visible(v: &Viewer, i: &Incident) -> bool {
    let me = &v.caller.user.user;
    // Whoever recorded an incident in the browser sees it, site or none.
    i.opened.reporter == format!("web:{}", me.username)
        || match &i.opened.site {
            Some(site) => v.sees_site(site),
            None => me.role.sees_everything(),
        }
}

async fn listed(
    state: &AppState,
    caller: Caller,
    q: &HashMap<String, String>,
    api: bool,
) -> Result<(Viewer, Vec<Incident>), Response> {
    let v = viewer(state, caller, Permission::ViewEstate, api).await?;
    if let Some(k) = q.keys().find(|k| k.as_str() != "limit") {
        return Err(bad_request(k, format!("unknown parameter {k:?} — use limit")).into_response());
    }
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 200,
        Some(Ok(n)) if (1..=5000).contains(&n) => n,
        Some(_) => {
            return Err(
                bad_request("limit", "give a whole number from 1 to 5000".into()).into_response(),
            )
        }
    };
    // Read more than the page, then keep the caller's: a scoped caller still gets a full page
    // when other sites are busier.
    let all = blocking(state, move |s| s.incidents(limit * 10))
        .await
        .map_err(IntoResponse::into_response)?;
    let mine = all
        .into_iter()
        .filter(|i| visible(&v, i))
        .take(limit)
        .collect();
    Ok((v, mine))
}

pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match listed(&state, caller, &q, true).await {
        Ok((_, list)) => axum::Json(json!({ "incidents": list })).into_response(),
        Err(r) => r,
    }
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (v, list) = match listed(&state, caller, &q, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cell = |s: &str| format!("<td class=\"nhsuk-table__cell\">{}</td>", escape(s));
    let mut rows = String::new();
    for i in &list {
        let _ = writeln!(
            rows,
            "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\"><a href=\"/incidents/{id}/packet\">{id}</a></td>{}{}{}{}{}{}</tr>",
            cell(&i.opened_at.to_string()),
            cell(i.opened.site.as_deref().unwrap_or("-")),
            cell(&i.opened.symptom),
            cell(i.status.as_str()),
            cell(&i.minutes_to_fix.map_or("-".into(), |m| format!("{m:.0}"))),
            cell(i.confirmed_cause.as_deref().unwrap_or("-")),
            id = i.id,
        );
    }
    let (causes, minutes) = charts(&list);
    let charts = format!(
        "<h2 class=\"nhsuk-heading-m\">Confirmed causes</h2>{}<h2 class=\"nhsuk-heading-m\">Minutes to fix, by week</h2>{}",
        causes.figure(900.0, 240.0),
        minutes.figure(900.0, 240.0)
    );
    let body = format!(
        "<p class=\"nhsuk-body\">Triage runs, newest first. Start one with <a href=\"/triage\">the wizard</a> or <code>cardwatch triage</code>.</p>\n\
         <table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">\
         <th class=\"nhsuk-table__header\" scope=\"col\">Incident</th><th class=\"nhsuk-table__header\" scope=\"col\">Opened</th>\
         <th class=\"nhsuk-table__header\" scope=\"col\">Site</th><th class=\"nhsuk-table__header\" scope=\"col\">Symptom</th>\
         <th class=\"nhsuk-table__header\" scope=\"col\">Status</th><th class=\"nhsuk-table__header\" scope=\"col\">Minutes</th>\
         <th class=\"nhsuk-table__header\" scope=\"col\">Confirmed cause</th></tr></thead>\n<tbody class=\"nhsuk-table__body\">\n{rows}</tbody></table>\n{charts}"
    );
    crate::layout::page("Incidents", Some(&v.caller), &body).into_response()
}

pub(crate) async fn packet(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Response {
    let v = match viewer(&state, caller, Permission::ViewPeople, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let found = match blocking(&state, move |s| s.incident(id)).await {
        Ok(f) => f,
        Err(f) => return f.into_response(),
    };
    // Another organisation's incident is answered as if it did not exist.
    let Some(inc) = found.filter(|i| visible(&v, i)) else {
        return (StatusCode::NOT_FOUND, "no such incident\n").into_response();
    };
    let kb = &state.checks.triage;
    let Some(symptom) = kb.symptom(&inc.opened.symptom) else {
        return refuse(
            false,
            None,
            "this incident's symptom is not in the knowledge base in force",
        );
    };
    let desk = match parse_desk(
        inc.opened.site.as_deref(),
        inc.opened.card_serial.as_deref(),
        inc.opened.hostname.as_deref(),
    ) {
        Ok(d) => d,
        Err((field, message)) => return bad_request(field, message).into_response(),
    };
    let now = inc.closed_at.unwrap_or_else(state.now);
    let checks = state.checks.clone();
    let case = inc.case(now);
    let stored = inc.clone();
    let prepared = blocking(&state, move |s| {
        prepare(s, &checks, symptom, &desk, now, Some(stored.id), case)
    })
    .await;
    let (cx, case) = match prepared {
        Ok(x) => x,
        Err(f) => return f.into_response(),
    };
    let advice = match kb.answer(symptom, &case) {
        Ok(a) => a,
        Err(e) => return bad_request(&e.field, e.message).into_response(),
    };
    let mut p = kb.packet(&inc, &advice, &cx, now);
    if p.escalate_because.is_empty() {
        p.escalate_because.push("asked for by the operator".into());
    }
    Html(p.to_html()).into_response()
}

/// Resolved incidents by confirmed cause, and mean minutes to fix per week (oldest first).
fn charts(list: &[Incident]) -> (BarChart, BarChart) {
    let mut causes: std::collections::BTreeMap<&str, f64> = Default::default();
    let mut weeks: std::collections::BTreeMap<i32, (f64, f64)> = Default::default();
    for i in list {
        if let Some(c) = &i.confirmed_cause {
            *causes.entry(c.as_str()).or_default() += 1.0;
        }
        if let Some(m) = i.minutes_to_fix {
            // Weeks counted from Monday 1970-01-05.
            let week = (i.opened_at.date().days() - 4).div_euclid(7);
            let w = weeks.entry(week).or_default();
            w.0 += m;
            w.1 += 1.0;
        }
    }
    let mut causes: Vec<_> = causes.into_iter().collect();
    causes.sort_by(|a, b| b.1.total_cmp(&a.1));
    let by_cause = BarChart {
        title: "Resolved incidents by confirmed cause".into(),
        series: vec!["incidents".into()],
        bars: causes
            .into_iter()
            .map(|(c, n)| Bar {
                label: c.to_owned(),
                values: vec![n],
            })
            .collect(),
        limit: None,
    };
    let minutes = BarChart {
        title: "Mean minutes to fix, by week".into(),
        series: vec!["mean minutes".into()],
        bars: weeks
            .into_iter()
            .map(|(w, (total, n))| Bar {
                label: cardwatch_core::date::Date::from_days(w * 7 + 4).to_string(),
                values: vec![total / n],
            })
            .collect(),
        limit: None,
    };
    (by_cause, minutes)
}
