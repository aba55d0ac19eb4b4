//! Incidents behind sign-in: `GET /incidents` (newest first, the caller's sites only) and its
//! JSON twin, and `GET /incidents/{id}/packet` — the escalation packet as a page that prints on
//! A4, for operators allowed to see people. An incident with no site is seen only by those who
//! see every organisation and by whoever recorded it.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::chart::{Bar, BarChart};
use cardwatch_core::triage::{Incident, IncidentStatus, KnowledgeBase};
use serde_json::json;

use crate::fix::triage::{parse_desk, prepare};
use crate::web::auth::Caller;
use crate::web::blocking;
use crate::web::counted;
use crate::web::lookup;
use crate::web::scope::{refuse, viewer, Viewer};
use crate::web::{bad_request, BadParam};
use crate::AppState;
use cardwatch_store::{incident_page, incident_tally, IncidentQuery, IncidentSort, IncidentTally};

fn visible(v: &Viewer, i: &Incident) -> bool {
    let me = &v.caller.user.user;
    // Whoever recorded an incident in the browser sees it, site or none.
    i.opened.reporter == format!("web:{}", me.username)
        || match &i.opened.site {
            Some(site) => v.sees_site(site),
            None => me.role.sees_everything(),
        }
}

/// The list's query: filters, sort, page and format, validated.
struct ListQuery {
    status: Option<IncidentStatus>,
    site: Option<String>,
    sort: &'static str,
    descending: bool,
    offset: usize,
    limit: usize,
    csv: bool,
}

/// The columns the list sorts by.
const SORTABLE: [(&str, IncidentSort); 6] = [
    ("opened", IncidentSort::Opened),
    ("site", IncidentSort::Site),
    ("symptom", IncidentSort::Symptom),
    ("status", IncidentSort::Status),
    ("minutes", IncidentSort::Minutes),
    ("cause", IncidentSort::Cause),
];

fn list_query(q: &HashMap<String, String>) -> Result<ListQuery, BadParam> {
    const KNOWN: [&str; 7] = [
        "status", "site", "sort", "order", "offset", "limit", "format",
    ];
    let bad = |field: &str, m: String| bad_request(field, m);
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        ));
    }
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let number = |k: &str, default: usize, range: std::ops::RangeInclusive<usize>| match get(k) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                bad(
                    k,
                    format!(
                        "{k} {v:?}: give a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    };
    Ok(ListQuery {
        status: get("status")
            .map(|v| IncidentStatus::parse(v).map_err(|e| bad("status", e)))
            .transpose()?,
        site: get("site")
            .map(|v| {
                cardwatch_core::ids::OdsCode::parse(v)
                    .map(|o| o.as_str().to_owned())
                    .map_err(|e| bad("site", format!("site {v:?}: {e}")))
            })
            .transpose()?,
        sort: match get("sort") {
            None => "opened",
            Some(v) => SORTABLE
                .iter()
                .find(|(name, _)| *name == v)
                .map(|(name, _)| *name)
                .ok_or_else(|| {
                    let names: Vec<&str> = SORTABLE.iter().map(|(n, _)| *n).collect();
                    bad(
                        "sort",
                        format!("sort {v:?}: use one of {}", names.join(", ")),
                    )
                })?,
        },
        descending: match get("order") {
            None => get("sort").is_none(),
            Some("asc") => false,
            Some("desc") => true,
            Some(v) => return Err(bad("order", format!("order {v:?}: use asc or desc"))),
        },
        offset: number("offset", 0, 0..=1_000_000)?,
        limit: number("limit", 200, 1..=5000)?,
        csv: match get("format") {
            None | Some("json" | "html") => false,
            Some("csv") => true,
            Some(v) => return Err(bad("format", format!("format {v:?}: use json or csv"))),
        },
    })
}

/// Every incident the viewer may see (at their sites, recorded by them, or without a site for
/// those who see everything), oldest first, unpaged: the base of every incident query.
pub(crate) fn seen_by(v: &Viewer) -> IncidentQuery {
    let me = &v.caller.user.user;
    IncidentQuery {
        sites: v.visible_sites(),
        siteless: me.role.sees_everything(),
        reporter: format!("web:{}", me.username),
        ..IncidentQuery::everything()
    }
}

/// The caller's incidents that match, sorted and paged by the database: (the caller, how many
/// match in all, the page — every match for CSV —, the list's query and the store's).
async fn listed(
    state: &AppState,
    caller: Caller,
    q: &HashMap<String, String>,
    api: bool,
) -> Result<(Viewer, u64, Vec<Incident>, ListQuery, IncidentQuery), Response> {
    let v = viewer(state, caller, Permission::ViewEstate, api).await?;
    let lq = list_query(q).map_err(IntoResponse::into_response)?;
    let query = IncidentQuery {
        status: lq.status,
        site: lq.site.clone(),
        sort: SORTABLE
            .iter()
            .find(|(name, _)| *name == lq.sort)
            .map_or(IncidentSort::Opened, |(_, s)| *s),
        descending: lq.descending,
        offset: if lq.csv { 0 } else { lq.offset },
        limit: (!lq.csv).then_some(lq.limit),
        ..seen_by(&v)
    };
    let asked = query.clone();
    let (total, page) = blocking(state, move |s| incident_page(s, &asked))
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((v, total, page, lq, query))
}

const CSV_HEADER: [&str; 9] = [
    "id",
    "opened_at",
    "site",
    "symptom",
    "application",
    "status",
    "minutes_to_fix",
    "confirmed_cause",
    "closed_at",
];

fn csv(list: &[Incident]) -> Response {
    crate::web::csv_download(
        "incidents.csv",
        &CSV_HEADER,
        list.iter().map(|i| {
            [
                i.id.to_string(),
                i.opened_at.to_string(),
                i.opened.site.clone().unwrap_or_default(),
                i.opened.symptom.clone(),
                i.opened.application.clone().unwrap_or_default(),
                i.status.as_str().to_owned(),
                i.minutes_to_fix
                    .map_or(String::new(), |m| format!("{m:.1}")),
                i.confirmed_cause.clone().unwrap_or_default(),
                i.closed_at.map_or(String::new(), |t| t.to_string()),
            ]
        }),
    )
}

pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match listed(&state, caller, &q, true).await {
        Ok((_, _, list, lq, _)) if lq.csv => csv(&list),
        Ok((_, total, page, lq, _)) => axum::Json(json!({
            "total": total, "offset": lq.offset, "limit": lq.limit, "incidents": page,
        }))
        .into_response(),
        Err(r) => r,
    }
}

#[derive(askama::Template)]
#[template(path = "incidents.html")]
struct ListPage<'a> {
    problem: Option<(String, String)>,
    statuses: [(&'static str, &'static str); 3],
    status: &'a str,
    site: &'a str,
    csv: String,
    count: String,
    head: Vec<crate::web::layout::Column>,
    rows: Vec<Row>,
    pages: crate::web::layout::Pager,
    causes_chart: String,
    minutes_chart: String,
}

struct Row {
    id: i64,
    opened: String,
    site: String,
    problem: String,
    outcome: &'static str,
    minutes: String,
    cause: String,
}

/// An outcome as the desk says it.
fn outcome(s: IncidentStatus) -> &'static str {
    match s {
        IncidentStatus::Open => "Still open",
        IncidentStatus::Resolved => "Fixed",
        IncidentStatus::Escalated => "Passed to support",
    }
}

/// A refused filter as the page says it, for the boxes a person types in.
fn in_words((field, message): (String, String)) -> (String, String) {
    let m = match field.as_str() {
        "site" => "Enter the practice or site code (ODS code) as 1 to 9 letters and numbers, like A81001, or leave it empty for every site",
        "status" => "Choose an outcome from the list, or Any",
        _ => return (field, message),
    };
    (field, m.to_owned())
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    // A refused filter is shown on the page, with what was typed, not as the API's JSON; the
    // list below it is every incident.
    let typed_status = q.get("status").cloned().unwrap_or_default();
    let typed_site = q.get("site").cloned().unwrap_or_default();
    let (problem, q) = match list_query(&q) {
        Ok(_) => (None, q),
        Err(e) => (Some(in_words(e.parts())), HashMap::new()),
    };
    let (v, total, list, lq, query) = match listed(&state, caller, &q, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let kb = &state.checks.triage;
    let rows = list
        .iter()
        .map(|i| Row {
            id: i.id,
            opened: i.opened_at.long(),
            site: i.opened.site.clone().unwrap_or_else(|| "—".into()),
            problem: kb
                .symptom(&i.opened.symptom)
                .map_or(i.opened.symptom.clone(), |s| kb.symptoms[s].plain.clone()),
            outcome: outcome(i.status),
            minutes: i.minutes_to_fix.map_or("—".into(), |m| {
                counted(m.round() as u64, "minute", "minutes")
            }),
            cause: i.confirmed_cause.as_deref().map_or("—".into(), |c| {
                kb.cause(c)
                    .map_or(c.to_owned(), |x| kb.causes[x].name.clone())
            }),
        })
        .collect();
    let status = lq.status.map_or("", |s| s.as_str());
    let site = lq.site.clone().unwrap_or_default();
    let link = |sort: &str, descending: bool, offset: usize, csv: bool| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("status", status)
            .append_pair("site", &site)
            .append_pair("sort", sort)
            .append_pair("order", if descending { "desc" } else { "asc" })
            .append_pair("offset", &offset.to_string())
            .append_pair("limit", &lq.limit.to_string());
        if csv {
            query.append_pair("format", "csv");
        }
        let base = if csv {
            "/api/v1/incidents"
        } else {
            "/incidents"
        };
        format!("{base}?{}", query.finish())
    };
    // Plain links: the templates escape them.
    let head = crate::web::layout::sortable_header(
        &[
            ("Incident", ""),
            ("Reported", "opened"),
            ("Site", "site"),
            ("Problem", "symptom"),
            ("Outcome", "status"),
            ("Time to fix", "minutes"),
            ("Cause found", "cause"),
        ],
        lq.sort,
        lq.descending,
        |key, descending| link(key, descending, 0, false),
    );
    let pages = crate::web::layout::pager(lq.offset, lq.limit, total as usize, |offset| {
        link(lq.sort, lq.descending, offset, false)
    });
    let (causes, minutes) = match blocking(&state, move |s| incident_tally(s, &query)).await {
        Ok(t) => charts(&t, kb),
        Err(f) => return f.into_response(),
    };
    let problem_site = problem.is_some();
    let page = ListPage {
        problem,
        statuses: [
            ("open", "Still open"),
            ("resolved", "Fixed"),
            ("escalated", "Passed to support"),
        ],
        status: if status.is_empty() {
            &typed_status
        } else {
            status
        },
        site: if problem_site { &typed_site } else { &site },
        csv: link(lq.sort, lq.descending, 0, true),
        count: format!("{}.", counted(total, "incident", "incidents")),
        head,
        rows,
        pages,
        causes_chart: causes.figure(900.0, 240.0),
        minutes_chart: minutes.figure(900.0, 240.0),
    };
    let status_code = if page.problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    (
        status_code,
        crate::web::layout::page("Incidents", Some(&v.caller), &body),
    )
        .into_response()
}

pub(crate) async fn packet(
    State(state): State<AppState>,
    caller: Caller,
    Path(typed): Path<String>,
) -> Response {
    let v = match viewer(&state, caller, Permission::ViewPeople, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let back = ("/incidents", "Back to the incidents");
    let Some(id) = typed.trim().parse::<i64>().ok().filter(|&n| n > 0) else {
        let message = format!(
            "“{}” is not an incident number. Open the incident from the list of incidents to print its escalation packet.",
            typed.trim()
        );
        return lookup::plain(
            &v.caller,
            StatusCode::BAD_REQUEST,
            "Check the incident number",
            &message,
            back,
        );
    };
    let found = match blocking(&state, move |s| s.incident(id)).await {
        Ok(f) => f,
        Err(f) => return f.into_response(),
    };
    // Another organisation's incident is answered as if it did not exist.
    let Some(inc) = found.filter(|i| visible(&v, i)) else {
        let message = format!(
            "No incident {id} among your organisations' incidents — open it from the list of incidents."
        );
        return lookup::plain(
            &v.caller,
            StatusCode::NOT_FOUND,
            "Incident not found",
            &message,
            back,
        );
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
        Err((_, message)) => {
            let message = format!("Incident {id}'s record cannot make a packet: {message}.");
            return lookup::plain(
                &v.caller,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Packet not available",
                &message,
                back,
            );
        }
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
        Err(e) => {
            let message = format!(
                "Incident {id}'s steps do not fit the triage knowledge in force ({}), so no packet can be made.",
                e.message
            );
            return lookup::plain(
                &v.caller,
                StatusCode::UNPROCESSABLE_ENTITY,
                "Packet not available",
                &message,
                back,
            );
        }
    };
    let mut p = kb.packet(&inc, &advice, &cx, &state.checks.catalogue, now);
    if p.escalate_because.is_empty() {
        p.escalate_because.push("asked for by the operator".into());
    }
    Html(crate::fix::print::packet_page(
        &p,
        crate::fix::print::Styles::Served,
    ))
    .into_response()
}

/// Resolved incidents by the cause found (named in plain words), and mean minutes to fix per
/// week (oldest first).
fn charts(t: &IncidentTally, kb: &KnowledgeBase) -> (BarChart, BarChart) {
    let causes: Vec<(&str, f64)> = t
        .causes
        .iter()
        .map(|(c, n)| {
            let name = kb
                .cause(c)
                .map_or(c.as_str(), |x| kb.causes[x].name.as_str());
            (name, *n as f64)
        })
        .collect();
    let weeks: Vec<(i64, (f64, f64))> = t
        .weeks
        .iter()
        .map(|(w, total, n)| (*w, (*total, *n as f64)))
        .collect();
    let mut causes: Vec<_> = causes.into_iter().collect();
    causes.sort_by(|a, b| b.1.total_cmp(&a.1));
    let by_cause = BarChart {
        title: "Fixed incidents by the cause found".into(),
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
                label: cardwatch_core::date::Date::from_days((w * 7 + 4) as i32).to_string(),
                values: vec![total / n],
            })
            .collect(),
        limit: None,
    };
    (by_cause, minutes)
}
