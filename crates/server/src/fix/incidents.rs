//! Incidents behind sign-in: `GET /incidents` (newest first, the caller's sites only) and its
//! JSON twin, and `GET /incidents/{id}/packet` — the escalation packet as a page that prints on
//! A4, for operators allowed to see people. An incident with no site is seen only by those who
//! see every organisation and by whoever recorded it.
//!
//! At national scale (150,000 incidents in 90 days) a page is one keyset read in the store
//! (`IncidentQuery::keyset_page`): a cursor names the incident shown last (or first), never a
//! number of rows to skip, and the total and the charts over every match are counted once per
//! length of the audit chain for each scope and filter (`prevent::overview::incidents_tallied`).
//! The API still takes `offset`, read as before (counted and skipped).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::chart::{Bar, BarChart};
use cardwatch_core::triage::{Incident, IncidentStatus, KnowledgeBase};
use serde_json::json;

use crate::fix::triage::{parse_desk, prepare};
use crate::prevent::overview::incidents_tallied;
use crate::web::auth::Caller;
use crate::web::blocking;
use crate::web::counted;
use crate::web::cursor;
use crate::web::lookup;
use crate::web::scope::{refuse, viewer, Viewer};
use crate::web::sites;
use crate::web::{bad_request, BadParam};
use crate::AppState;
use cardwatch_store::lists::Position;
use cardwatch_store::{incident_page, IncidentQuery, IncidentSort, IncidentTally};

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
    /// Where the page starts (`cursor`); `offset` is not used with it.
    from: Option<Position>,
    limit: usize,
    csv: bool,
}

/// The incidents' cursors, as the API document states them: the lists' encoding
/// ([`cursor::encode`]) of a position of one or two values — the incident's value in the sort
/// column (left out where it has none), then its number. The number only as the server writes
/// it — 1 to 18 digits, in base64 with no unused bit set: three digits to four characters, the
/// first `M`, `N` or `O` and each of the others one of the few a digit's bits allow (the
/// agents' cursors write their enrolment so) — so that a text of the pattern is always taken
/// and any other refused; the sort value any text the lists' cursors take (one that is no
/// number where the sort is by one stands past every value).
pub(crate) const CURSOR_PATTERN: &str = concat!(
    "^[ab](?:\\.(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?)?\\.(?:",
    "(?:(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]){1,6}",
    "|(?:(?:[MN][DTjz]|O[DT])[AEIMQUYcgk][w-z0-5]){0,5}",
    "(?:[MN][AQgw]|O[AQ]|(?:[MN][DTjz]|O[DT])[AEIMQUYcgk])",
    ")$"
);

/// The position a cursor names, or why it is refused: any text of [`CURSOR_PATTERN`].
fn position(text: &str) -> Result<Position, BadParam> {
    let at = cursor::decode_given(text)?;
    let number = at.values.last().cloned().unwrap_or_default();
    // The number only as the server writes it: its digits, encoded back, end the text given.
    let digits = (1..=18).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
    let written = cursor::encode(Position {
        before: at.before,
        values: vec![number],
    });
    let tail = written.get(1..).unwrap_or_default();
    if digits && text.ends_with(tail) {
        Ok(at)
    } else {
        Err(cursor::refused())
    }
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
    const KNOWN: [&str; 8] = [
        "status", "site", "sort", "order", "offset", "cursor", "limit", "format",
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
        from: get("cursor").map(position).transpose()?,
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

/// One read of the list: the page with the cursors either side of it, and the figures over
/// every match.
struct Listed {
    viewer: Viewer,
    lq: ListQuery,
    page: Vec<Incident>,
    /// How many match in all, and the charts' tally (every match for CSV: not read).
    tally: Arc<IncidentTally>,
    previous: Option<String>,
    next: Option<String>,
}

/// The caller's incidents that match, sorted and paged by the database: by keyset from the
/// cursor (or the first page), by `offset` when one is given without a cursor, every match for
/// CSV. The total and the charts' tally are the kept ones for the chain's length.
async fn listed(
    state: &AppState,
    caller: Caller,
    q: &HashMap<String, String>,
    api: bool,
) -> Result<Listed, Response> {
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
    if lq.csv {
        let asked = query.clone();
        let (_, page) = blocking(state, move |s| incident_page(s, &asked))
            .await
            .map_err(IntoResponse::into_response)?;
        return Ok(Listed {
            viewer: v,
            lq,
            page,
            tally: Arc::default(),
            previous: None,
            next: None,
        });
    }
    // The chain's length before the figures, so the kept ones are never older than it (a
    // scoped viewer's was read with its sites).
    let length = match v.version {
        Some(l) => l,
        None => crate::web::version(state).await?,
    };
    let tally = incidents_tallied(state, &query, length).await?;
    let asked = query.clone();
    let (page, previous, next) = match (&lq.from, lq.offset) {
        (None, offset) if offset > 0 => {
            let (total, page) = blocking(state, move |s| incident_page(s, &asked))
                .await
                .map_err(IntoResponse::into_response)?;
            let more = (offset + page.len()) < total as usize;
            let previous = page.first().map(|i| query.position_of(i, true));
            let next = page
                .last()
                .filter(|_| more)
                .map(|i| query.position_of(i, false));
            (page, previous, next)
        }
        (from, _) => {
            let from = from.clone();
            let back = from.as_ref().is_some_and(|f| f.before);
            let started = from.is_some();
            let (page, more) = blocking(state, move |s| asked.keyset_page(s, from.as_ref()))
                .await
                .map_err(IntoResponse::into_response)?;
            // A cursor names an incident shown on a page, and incidents are never deleted:
            // there is a page on the side the cursor came from.
            let previous = page
                .first()
                .filter(|_| if back { more } else { started })
                .map(|i| query.position_of(i, true));
            let next = page
                .last()
                .filter(|_| back || more)
                .map(|i| query.position_of(i, false));
            (page, previous, next)
        }
    };
    Ok(Listed {
        viewer: v,
        lq,
        page,
        tally,
        previous: previous.map(cursor::encode),
        next: next.map(cursor::encode),
    })
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
        Ok(l) if l.lq.csv => csv(&l.page),
        Ok(l) => axum::Json(json!({
            "total": l.tally.matched,
            "offset": if l.lq.from.is_some() { 0 } else { l.lq.offset },
            "limit": l.lq.limit,
            "incidents": l.page,
            "next_cursor": l.next,
            "previous_cursor": l.previous,
        }))
        .into_response(),
        Err(r) => r,
    }
}

#[derive(askama::Template)]
#[template(path = "incidents.html")]
struct ListPage<'a> {
    problem: Option<(String, String)>,
    /// The incident the wizard has just recorded as fixed.
    recorded: Option<i64>,
    statuses: [(&'static str, &'static str); 3],
    status: &'a str,
    site: &'a str,
    csv: String,
    count: String,
    head: Vec<crate::web::layout::Column>,
    rows: Vec<Row>,
    pages: crate::web::layout::Pager,
    /// The charts of the fixed incidents among these; none when there are none.
    causes_chart: Option<String>,
    minutes_chart: Option<String>,
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
        // No box to point at: the summary links to the count above the list.
        "cursor" => {
            return (
                "list".into(),
                "That link is not to a page of this list, so the first page is shown: use the \
                 Previous and Next links below the incidents"
                    .into(),
            )
        }
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
    // list below it is every incident. A refused cursor shows the first page of the same list.
    // Just recorded from the wizard: said above the list, not a filter.
    let recorded = q.get("recorded").and_then(|v| v.parse::<i64>().ok());
    let mut q = q;
    q.remove("recorded");
    let typed_status = q.get("status").cloned().unwrap_or_default();
    let typed_site = q.get("site").cloned().unwrap_or_default();
    let (problem, q) = match list_query(&q) {
        Ok(_) => (None, q),
        Err(e) => {
            let (field, message) = e.parts();
            let mut kept = q.clone();
            kept.remove(&field);
            let kept = if field == "cursor" && list_query(&kept).is_ok() {
                kept
            } else {
                HashMap::new()
            };
            (Some(in_words((field, message))), kept)
        }
    };
    let Listed {
        viewer: v,
        lq,
        page: list,
        tally,
        previous,
        next,
        ..
    } = match listed(&state, caller, &q, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let total = tally.matched;
    let names = sites::names(&state, &v).await;
    let kb = &state.checks.triage;
    let rows = list
        .iter()
        .map(|i| Row {
            id: i.id,
            opened: i.opened_at.long(),
            site: i
                .opened
                .site
                .as_deref()
                .map_or_else(|| "—".into(), |c| sites::named(c, &names)),
            problem: kb
                .symptom(&i.opened.symptom)
                .map_or(i.opened.symptom.clone(), |s| kb.symptoms[s].plain.clone()),
            outcome: outcome(i.status),
            // An escalated incident was not fixed at the desk: its minutes are the time until it
            // was passed on.
            minutes: i.minutes_to_fix.map_or("—".into(), |m| {
                let spent = counted(m.round() as u64, "minute", "minutes");
                match i.status {
                    cardwatch_core::triage::IncidentStatus::Escalated => {
                        format!("Passed on after {spent}")
                    }
                    _ => spent,
                }
            }),
            cause: i.confirmed_cause.as_deref().map_or("—".into(), |c| {
                kb.cause(c)
                    .map_or(c.to_owned(), |x| kb.causes[x].name.clone())
            }),
        })
        .collect();
    let status = lq.status.map_or("", |s| s.as_str());
    let site = lq.site.clone().unwrap_or_default();
    let link = |sort: &str, descending: bool, cursor: Option<&str>, csv: bool| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("status", status)
            .append_pair("site", &site)
            .append_pair("sort", sort)
            .append_pair("order", if descending { "desc" } else { "asc" });
        if let Some(c) = cursor {
            query.append_pair("cursor", c);
        }
        if csv {
            query.append_pair("format", "csv");
        } else {
            query.append_pair("limit", &lq.limit.to_string());
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
        |key, descending| link(key, descending, None, false),
    );
    let pages = crate::web::layout::Pager {
        previous: previous.map(|c| crate::web::layout::PageLink {
            href: link(lq.sort, lq.descending, Some(&c), false),
            label: format!("The {} incidents before these", lq.limit),
        }),
        next: next.map(|c| crate::web::layout::PageLink {
            href: link(lq.sort, lq.descending, Some(&c), false),
            label: format!("Up to {} more incidents", lq.limit),
        }),
    };
    let (causes, minutes) = charts(&tally, kb);
    let problem_site = problem.is_some();
    let page = ListPage {
        problem,
        recorded,
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
        csv: link(lq.sort, lq.descending, None, true),
        count: format!("{}.", counted(total, "incident", "incidents")),
        head,
        rows,
        pages,
        causes_chart: (!causes.bars.is_empty()).then(|| causes.figure(900.0, 240.0)),
        minutes_chart: (!minutes.bars.is_empty()).then(|| minutes.figure(900.0, 240.0)),
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
                // The week's Monday, as the plan's chart writes a week.
                label: cardwatch_core::date::Date::from_days((w * 7 + 4) as i32).short(),
                values: vec![total / n],
            })
            .collect(),
        limit: None,
    };
    (by_cause, minutes)
}
