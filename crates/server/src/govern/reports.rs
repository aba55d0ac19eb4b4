//! Reports: `GET /reports` and `GET /api/v1/reports` — the staff time card failures cost over a
//! period, and the failure rate of each smartcard software version, Windows build and reader
//! firmware, with the versions failures follow named as suspects, and their machines. The other
//! reports live with what they report on: expiries per week against RA capacity on the plan,
//! incidents by cause and time to fix on the incidents page.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::date::Timestamp;
use cardwatch_core::reports::{version_rates, Machines, Rollout, VersionRate};
use cardwatch_store::IncidentQuery;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::background::{self, Priority};
use crate::web::blocking;
use crate::web::counted;
use crate::web::scope::viewer;
use crate::web::{bad_request, BadParam};
use crate::AppState;

/// Machines named per suspect on the page (the JSON has them all).
const MACHINES_LISTED: usize = 20;

/// The period unless one is asked for, in days back from today.
const DEFAULT_DAYS: i32 = 90;

/// What the reports show for one caller and period.
#[derive(Clone)]
struct Report {
    days: i32,
    /// Incidents ended with a time to fix or to hand-over, and those minutes.
    lost: cardwatch_store::reports::TimeLost,
    rates: Vec<VersionRate>,
    /// The moment its figures were read.
    read_at: Timestamp,
    /// Whether it was answered from the last reading while a new one runs (see
    /// [`Checks::report_wait`](crate::Checks::report_wait)).
    kept: bool,
}

fn days(q: &HashMap<String, String>) -> Result<i32, BadParam> {
    if let Some(k) = q.keys().find(|k| k.as_str() != "days") {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use days"),
        ));
    }
    match q.get("days").map(|d| d.trim()).filter(|d| !d.is_empty()) {
        None => Ok(DEFAULT_DAYS),
        Some(d) => d
            .parse::<i32>()
            .ok()
            .filter(|n| (1..=730).contains(n))
            .ok_or_else(|| {
                bad_request(
                    "days",
                    format!("{d:?} is not a number of days from 1 to 730"),
                )
            }),
    }
}

async fn report(
    state: &AppState,
    caller: Caller,
    q: &HashMap<String, String>,
    api: bool,
) -> Result<(Caller, Report), Response> {
    let days = days(q).map_err(IntoResponse::into_response)?;
    let v = viewer(state, caller, Permission::ViewEstate, api).await?;
    let query = crate::fix::incidents::seen_by(&v);
    let since = Timestamp::start_of((state.now)().date().add_days(-days));
    // The chain's length before anything is read (a scoped viewer's was read with its sites).
    let length = match v.version {
        Some(l) => l,
        None => crate::web::version(state).await?,
    };
    let slot = slot(state, &query, since);
    // Callers asking at once for one scope and period wait for one reading.
    let mut held = slot.lock().await;
    if let Some(k) = &held.kept {
        if k.length >= length && k.read.elapsed() < AGENTS_FRESH {
            return Ok((v.caller, k.report.clone()));
        }
        if k.took >= state.checks.report_wait {
            // Too slow to wait for: the last reading answers, saying when it was read, while
            // one reading at a time runs in the background.
            let report = Report {
                kept: true,
                ..k.report.clone()
            };
            if !held.reading {
                held.reading = true;
                let (state, slot) = (state.clone(), slot.clone());
                tokio::spawn(tracing::Instrument::in_current_span(async move {
                    let read = read(&state, query, since, days, length, Priority::Background).await;
                    let mut held = slot.lock().await;
                    held.reading = false;
                    match read {
                        Ok(k) if held.kept.as_ref().is_none_or(|h| h.length <= k.length) => {
                            held.kept = Some(k)
                        }
                        Ok(_) => {}
                        Err(_) => tracing::warn!("a report read in the background failed"),
                    }
                }));
            }
            return Ok((v.caller, report));
        }
    }
    let k = read(state, query, since, days, length, Priority::Asked).await?;
    let report = k.report.clone();
    held.kept = Some(k);
    Ok((v.caller, report))
}

/// The kept report of the incidents `query` matches since `since`.
fn slot(
    state: &AppState,
    query: &IncidentQuery,
    since: Timestamp,
) -> Arc<tokio::sync::Mutex<Slot>> {
    // Whoever sees every site and the site-less incidents sees every incident, whoever
    // recorded them: every administrator shares one report.
    let everything = query.sites.is_none() && query.siteless;
    let key = (
        query.sites.clone(),
        query.siteless,
        if everything {
            String::new()
        } else {
            query.reporter.clone()
        },
        since.unix(),
    );
    let mut kept = state.reports.lock().unwrap_or_else(|e| e.into_inner());
    if kept.len() >= SCOPES_KEPT && !kept.contains_key(&key) {
        kept.clear();
    }
    kept.entry(key).or_default().clone()
}

/// Starts reading the administrators' report of the default period as the server starts, so
/// that the first one asked for finds it read or being read (over a second at national size). The
/// report is taken before this returns: a request arriving first waits for this reading instead
/// of starting a second.
pub(crate) fn read_ahead(state: AppState) {
    let query = IncidentQuery::everything();
    let since = Timestamp::start_of((state.now)().date().add_days(-DEFAULT_DAYS));
    let Ok(mut held) = slot(&state, &query, since).try_lock_owned() else {
        return;
    };
    tokio::spawn(async move {
        let Ok(length) = crate::web::version(&state).await else {
            return;
        };
        // A failure is the first request's to report: it reads again.
        if let Ok(k) = read(
            &state,
            query,
            since,
            DEFAULT_DAYS,
            length,
            Priority::Background,
        )
        .await
        {
            held.kept = Some(k);
        }
    });
}

/// One reading of a period's report for the incidents `query` matches, at chain `length`.
async fn read(
    state: &AppState,
    query: IncidentQuery,
    since: Timestamp,
    days: i32,
    length: i64,
    priority: Priority,
) -> Result<KeptReport, Response> {
    let started = std::time::Instant::now();
    let read_at = (state.now)();
    let machines = machines(state, Some(length)).await?;
    // The period's reads in one read transaction (on PostgreSQL, a BEGIN and COMMIT fewer),
    // the suspects' machines named from the counts read in it.
    let counted = machines.clone();
    let (period, query) = background::blocking(state, priority, move |s| {
        let sites = query.sites.clone();
        let period = cardwatch_store::reports::period(s, &query, since, |failed| {
            counted.suspects(sites.as_deref(), failed)
        })?;
        Ok((period, query))
    })
    .await
    .map_err(IntoResponse::into_response)?;
    let counts = machines.counts(query.sites.as_deref(), &period.failed, &period.named);
    let took = started.elapsed();
    // How long a reading takes says whether requests wait for it (`report_wait`).
    tracing::info!(
        took_ms = took.as_millis() as u64,
        versions = period.failed.len(),
        named = period.named.len(),
        background = matches!(priority, Priority::Background),
        "a report's period read"
    );
    Ok(KeptReport {
        length,
        read: std::time::Instant::now(),
        took,
        report: Report {
            days,
            lost: period.lost,
            rates: version_rates(&counts),
            read_at,
            kept: false,
        },
    })
}

/// A period's report for one scope, read once per length of the audit chain: at national size
/// with 150,000 incidents in 90 days, an administrator's period is a read of every failure and
/// its machines (over a second), which every incident's change adds to the chain. The agents'
/// signing self-tests count as failures too and are not audited, so a report is read again once
/// it is [`AGENTS_FRESH`] old. A reading that took longer than a request should wait
/// ([`Checks::report_wait`](crate::Checks::report_wait)) is read again in the background, the
/// last one answering meanwhile.
pub(crate) type KeptReports = HashMap<ReportScope, Arc<tokio::sync::Mutex<Slot>>>;

/// One scope's last reading, and whether a reading of it is running in the background.
#[derive(Default)]
pub(crate) struct Slot {
    kept: Option<KeptReport>,
    reading: bool,
}

/// Whose report (the sites seen, whether site-less incidents show, the reporter) and from when.
type ReportScope = (Option<Vec<String>>, bool, String, i64);

pub(crate) struct KeptReport {
    length: i64,
    read: std::time::Instant,
    /// How long the reading took.
    took: std::time::Duration,
    report: Report,
}

/// How long a kept report stands for the agents' self-tests it counts.
const AGENTS_FRESH: std::time::Duration = std::time::Duration::from_secs(60);

/// Scopes kept: every unscoped caller of a period shares one, each practice or ICB its own.
const SCOPES_KEPT: usize = 1_024;

/// Every site's machines by version and ring, and the estate's version they were counted at.
pub(crate) type CachedMachines = (i64, Arc<Machines>);

/// Every site's machines by version, from the cache while the estate's facts are unchanged
/// (every change to workstations, their software and readers adds to the audit chain, an agent's
/// inventory included): counted once per change, then added up per request over the caller's sites. One
/// request counts at a time; the others wait for its answer rather than repeat the work.
/// `known` is the estate's version when this request has read it already (a scoped viewer has).
async fn machines(state: &AppState, known: Option<i64>) -> Result<Arc<Machines>, Response> {
    let length = crate::prevent::check::facts_version(state, known).await?;
    let mut cache = state.machines.lock().await;
    if let Some((at, m)) = cache.as_ref() {
        if *at == length {
            return Ok(m.clone());
        }
    }
    let rows = blocking(state, cardwatch_store::reports::site_machines)
        .await
        .map_err(IntoResponse::into_response)?;
    let m = Arc::new(Machines::new(&rows));
    tracing::info!(sites = rows.len(), "machines counted for the reports");
    *cache = Some((length, m.clone()));
    Ok(m)
}

pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match report(&state, caller, &q, true).await {
        Ok((_, r)) => {
            let mut body = json!({
                "days": r.days,
                "staff_time_lost": {
                    "incidents": r.lost.incidents,
                    "holder_minutes": r.lost.minutes,
                    "passed_on": {
                        "incidents": r.lost.passed_on,
                        "holder_minutes": r.lost.passed_on_minutes,
                    },
                },
                "versions": r.rates,
                "being_read_again": r.kept,
            });
            // When the figures were read, only where they are not the latest: an answer read
            // for its request is the same whenever it was asked.
            if r.kept {
                body["read_at"] = json!(r.read_at.to_string());
            }
            axum::Json(body).into_response()
        }
        Err(r) => r,
    }
}

fn percent(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

#[derive(askama::Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    problem: Option<(String, String)>,
    typed: String,
    days: i32,
    ended: String,
    hours: String,
    minutes: String,
    /// How many of them were passed on, said when any were.
    passed_on: Option<String>,
    suspects: Vec<Suspect>,
    rows: Vec<Row>,
    json: String,
    /// When the figures were read, if they are being read again.
    kept: Option<String>,
}

struct Suspect {
    what: String,
    failed: String,
    /// What to do with its rollout: the words in bold, then the rest of the sentence.
    rollout: Option<(String, String)>,
    machines: Vec<String>,
    more: String,
}

struct Row {
    component: String,
    version: String,
    machines: u64,
    failures: u64,
    rate: String,
    others: String,
    verdict: &'static str,
}

/// A component as people know it: the catalogue's name for software, "Windows", or the card
/// reader's model.
fn component(state: &AppState, id: &str) -> String {
    if id == "windows" {
        return "Windows".into();
    }
    if let Some(model) = id.strip_prefix("reader ") {
        return format!("Card reader firmware ({model})");
    }
    state
        .checks
        .catalogue
        .software(id)
        .map_or_else(|| id.to_owned(), |s| s.name.clone())
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let typed = q.get("days").cloned().unwrap_or_default();
    // A refused period is shown on the page with what was typed, never as the API's JSON.
    let refused = days(&q).err();
    let ok_query = if refused.is_some() {
        HashMap::new()
    } else {
        q.clone()
    };
    let (caller, r) = match report(&state, caller, &ok_query, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let suspects = r
        .rates
        .iter()
        .filter(|v| v.suspect)
        .map(|s| {
            let more = s.count.affected_hosts.len().saturating_sub(MACHINES_LISTED);
            let rings: Vec<String> = s
                .count
                .rings
                .iter()
                .map(|r| format!("{} of {} in the {} ring", r.affected, r.machines, r.ring))
                .collect();
            Suspect {
                what: format!(
                    "{}, version {}",
                    component(&state, &s.count.component),
                    s.count.version
                ),
                failed: format!(
                    "{} of its {} failed ({}; {}), against {} on the other versions",
                    s.count.affected,
                    counted(s.count.machines, "workstation", "workstations"),
                    percent(s.rate),
                    rings.join(", "),
                    s.others_rate.map_or("none".into(), percent),
                ),
                rollout: s.rollout.as_ref().map(|r| match r {
                    Rollout::Hold { reached } => (
                        "Hold its rollout".to_owned(),
                        format!(
                            " where it is (it has reached the {reached} ring): do not widen it"
                        ),
                    ),
                    Rollout::RollBack { broad_machines } => (
                        "Roll it back".to_owned(),
                        format!(
                            ": it is already on {} in the broad ring",
                            counted(*broad_machines, "workstation", "workstations")
                        ),
                    ),
                }),
                machines: s
                    .count
                    .affected_hosts
                    .iter()
                    .take(MACHINES_LISTED)
                    .cloned()
                    .collect(),
                more: if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
            }
        })
        .collect();
    let rows = r
        .rates
        .iter()
        .map(|v| Row {
            component: component(&state, &v.count.component),
            version: v.count.version.clone(),
            machines: v.count.machines,
            failures: v.count.failures,
            rate: percent(v.rate),
            others: v.others_rate.map_or("—".into(), percent),
            verdict: if v.suspect { "Suspect" } else { "No" },
        })
        .collect();
    let mut json = url::form_urlencoded::Serializer::new(String::new());
    json.append_pair("days", &r.days.to_string());
    let page = ReportsPage {
        typed: if refused.is_some() {
            typed
        } else {
            r.days.to_string()
        },
        // The form's one box, in the page's words.
        problem: refused.map(|e| match e.parts() {
            (f, _) if f == "days" => {
                let m =
                    "Enter how many days back from today as a whole number from 1 to 730, like 90";
                (f, m.to_owned())
            }
            other => other,
        }),
        days: r.days,
        ended: counted(r.lost.incidents, "incident", "incidents"),
        hours: format!("{:.1} hours", r.lost.minutes / 60.0),
        minutes: counted(r.lost.minutes.round() as u64, "minute", "minutes"),
        passed_on: (r.lost.passed_on > 0).then(|| {
            format!(
                "{} of them {} passed on to support, after {} in all; the holder could not work after that either, so the time lost is more than this.",
                r.lost.passed_on,
                if r.lost.passed_on == 1 { "was" } else { "were" },
                counted(r.lost.passed_on_minutes.round() as u64, "minute", "minutes")
            )
        }),
        suspects,
        rows,
        json: format!("/api/v1/reports?{}", json.finish()),
        kept: r.kept.then(|| r.read_at.long()),
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
        crate::web::layout::page("Reports", Some(&caller), &body),
    )
        .into_response()
}
