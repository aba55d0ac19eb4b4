//! Cardwatch's HTTP server: health and metrics for operators, and a first plain page of the
//! certificates that expire soonest. The store is synchronous, so every handler runs its store
//! calls on the blocking thread pool.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use cardwatch_core::calendar::Calendar;
use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::date::Timestamp;
use cardwatch_core::health::Thresholds;
use cardwatch_core::planner::Team;
use cardwatch_core::triage::{Contact, KnowledgeBase};
use cardwatch_store::Store;

pub mod account;
pub mod admin;
pub mod agents;
pub mod api;
pub mod estate;
pub mod fix;
pub mod govern;
pub mod notify;
pub mod prevent;
pub mod web;

/// What the health checks read besides the estate.
#[derive(Debug)]
pub struct Checks {
    /// The catalogue in force.
    pub catalogue: Catalogue,
    /// The limits.
    pub thresholds: Thresholds,
    /// RA teams' working days.
    pub calendar: Calendar,
    /// RA teams and the sites they serve.
    pub teams: Vec<Team>,
    /// The triage knowledge base in force.
    pub triage: KnowledgeBase,
    /// Local contacts for the cheat sheets.
    pub contacts: Vec<Contact>,
    /// The scheduler, email and webhooks.
    pub notify: notify::jobs::Notify,
    /// Which proxies say who the client is, and the failed sign-ins counted.
    pub sign_in: web::auth::SignInGuard,
    /// Single sign-on through an OpenID Connect provider, when configured.
    pub sso: Option<Arc<account::oidc::Sso>>,
    /// The operator's Care Identity Management mapping (`[import] mapping`), which uploads at
    /// `/admin/import` read exports with; `None`: the shipped mapping.
    pub import_mapping: Option<admin::import::Mapping>,
    /// The longest a request waits for a report's reading (`[server] report_wait_ms`): a
    /// report whose last reading took longer answers from that reading, saying when it was
    /// read, while it is read again in the background.
    pub report_wait: std::time::Duration,
}

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    store: Arc<dyn Store>,
    started: Instant,
    now: fn() -> Timestamp,
    checks: Arc<Checks>,
    /// The last full health check, reused while the estate and the day are unchanged.
    findings: Arc<tokio::sync::Mutex<Option<prevent::check::Cached>>>,
    /// The site map scoped callers are resolved with, and the chain length it was read at.
    sites: Arc<tokio::sync::Mutex<Option<web::scope::CachedSites>>>,
    /// What `/metrics` reports that is counted as the server runs.
    metrics: Arc<web::metrics::Metrics>,
    /// Every site's machines by version, for the reports, and the chain length they were read at.
    machines: Arc<tokio::sync::Mutex<Option<govern::reports::CachedMachines>>>,
    /// The overview's findings counts of the last check, by the sites callers see.
    overview: Arc<std::sync::Mutex<prevent::overview::CachedCounts>>,
    /// Every renewal the plan places, and the chain length it was read at.
    renewals: Arc<tokio::sync::Mutex<Option<prevent::plan::cache::CachedRenewals>>>,
    /// The renewal plan's last answers.
    plans: Arc<std::sync::Mutex<prevent::plan::cache::Answers>>,
    /// The access reviews list's counts, by the sites callers see.
    reviews: Arc<std::sync::Mutex<govern::reviews::KeptCounts>>,
    /// The reports' periods, by the sites callers see and the period's start.
    reports: Arc<std::sync::Mutex<govern::reports::KeptReports>>,
    /// The chain length last seen, and the length at which the estate's facts last changed.
    facts: Arc<tokio::sync::Mutex<(i64, i64)>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store.describe())
            .finish()
    }
}

impl AppState {
    /// A server's state over a store, its clock and what its checks read.
    pub(crate) fn new(store: Arc<dyn Store>, now: fn() -> Timestamp, checks: Checks) -> AppState {
        AppState {
            store,
            started: Instant::now(),
            now,
            checks: Arc::new(checks),
            findings: Arc::default(),
            sites: Arc::default(),
            metrics: Arc::default(),
            machines: Arc::default(),
            facts: Arc::default(),
            overview: Arc::default(),
            renewals: Arc::default(),
            plans: Arc::default(),
            reviews: Arc::default(),
            reports: Arc::default(),
        }
    }
}

/// The server's routes over a store. `now` is the clock the pages count days from.
/// The scheduler starts with it (inside the caller's runtime) unless `notify.enabled` is off.
pub fn router(store: Arc<dyn Store>, now: fn() -> Timestamp, checks: Checks) -> Router {
    let state = AppState::new(store, now, checks);
    // The read-ahead takes the kept renewals before the scheduler's task can start: its jobs
    // wait for that read.
    prevent::plan::cache::read_ahead(state.clone());
    govern::reports::read_ahead(state.clone());
    govern::reviews::read_ahead(state.clone());
    notify::jobs::spawn(state.clone());
    Router::new()
        .merge(api::routes())
        .route("/", get(prevent::overview::page))
        .route("/findings", get(prevent::findings::page))
        .route("/findings/note", post(prevent::finding::note))
        .route("/findings/bulk", post(prevent::finding::bulk))
        .route("/findings/{rule}/{*subject}", get(prevent::finding::page))
        .route("/cheatsheet", get(fix::triage::cheat_sheet_page))
        .route("/triage", get(fix::wizard::page_handler))
        .route("/triage/record", post(fix::wizard::record))
        .route(
            "/login",
            get(web::auth::login_page).post(web::auth::login).layer(
                axum::middleware::from_fn_with_state(state.clone(), account::oidc::passwords_off),
            ),
        )
        .route("/login/oidc", get(account::oidc::start))
        .route(account::oidc::CALLBACK_PATH, get(account::oidc::callback))
        .route("/logout", post(web::auth::logout))
        .route("/account", get(account::page))
        .route("/account/password", post(account::change_password))
        .route("/account/feeds", post(account::make_feed))
        .route("/account/digest", post(account::save_digest))
        .route("/account/feeds/revoke", post(account::revoke_feed))
        .route("/feeds/{file}", get(notify::feeds::feed))
        .route(
            "/unsubscribe/{secret}",
            get(notify::unsubscribe::ask).post(notify::unsubscribe::confirm),
        )
        .route("/audit", get(govern::audit::page))
        .route(
            "/reviews",
            get(govern::reviews::page).post(govern::reviews::decide),
        )
        .route("/plan", get(prevent::plan::page))
        .route("/plan/migration", get(prevent::migration::page))
        .route("/estate/{kind}", get(estate::lists::page))
        .route("/admin/users", get(admin::users::page))
        .route("/admin/jobs", get(notify::jobs_page::page))
        .route(
            "/admin/import",
            get(admin::import::page).post(admin::import::import).layer(
                axum::extract::DefaultBodyLimit::max(admin::import::MAX_UPLOAD_BYTES),
            ),
        )
        .route("/admin/agents", get(agents::page::page))
        .route("/admin/agents/token", post(agents::page::token))
        .route("/admin/agents/revoke", post(agents::page::revoke))
        .route("/admin/sites", get(admin::sites::page))
        .route("/admin/sites/hours", post(admin::sites::hours))
        .route("/admin/sites/stock", post(admin::sites::stock))
        .route("/admin/sites/contacts", post(admin::sites::add_contact))
        .route(
            "/admin/sites/contacts/remove",
            post(admin::sites::remove_contact),
        )
        .route("/admin/users/add", post(admin::users::add))
        .route("/admin/users/disable", post(admin::users::disable))
        .route("/admin/users/enable", post(admin::users::enable))
        .route("/admin/users/reset", post(admin::users::reset))
        .route("/cards", get(estate::cards::find))
        .route("/cards/{serial}", get(estate::cards::page))
        .route("/cards/{serial}/status", post(estate::cards::change_status))
        .route("/people/{uuid}", get(estate::people::page))
        .route(
            "/people/{uuid}/positions",
            post(estate::people::change_position),
        )
        .route("/people/{uuid}/export", get(estate::people::export))
        .route("/workstations/{hostname}", get(estate::workstations::page))
        .route("/integrations/{id}", get(estate::integrations::page))
        .route("/reports", get(govern::reports::page))
        .route(
            "/admin/retention",
            get(govern::retention::page).post(govern::retention::erase),
        )
        .route("/incidents", get(fix::incidents::page))
        .route("/incidents/{id}/packet", get(fix::incidents::packet))
        .route("/assets/nhsuk-frontend.min.css", get(web::layout::css))
        .route("/assets/nhsuk-frontend.min.js", get(web::layout::js))
        .route("/assets/js-enabled.js", get(web::layout::js_enabled))
        .route("/assets/cardwatch.css", get(web::layout::own_css))
        .route("/assets/cardwatch.js", get(web::layout::own_js))
        .route("/assets/print.css", get(web::layout::print_css))
        .route("/assets/images/{name}", get(web::layout::image))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(web::layout::no_such_page)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::headers::secure,
        ))
        // Outermost, so that the time and the request id cover everything else.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            web::metrics::track,
        ))
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> Response {
    let backend = state.store.backend();
    match web::blocking(&state, |s| s.ping()).await {
        Ok(()) => (
            [(header::CONTENT_TYPE, "application/json")],
            format!("{{\"status\":\"ok\",\"database\":\"{backend}\"}}\n"),
        )
            .into_response(),
        Err(f) => f.into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Result<Response, web::Failure> {
    let now = (state.now)();
    let names: Vec<&'static str> = notify::jobs::Job::ALL.iter().map(|j| j.name()).collect();
    let counted = state.metrics.records_version();
    let (audit, counts, ops) = web::blocking(&state, move |s| {
        let audit = s.audit_length()?;
        // Counted again only when the estate has changed since.
        let counts = if counted == Some(audit) {
            None
        } else {
            Some(s.counts()?)
        };
        Ok((
            audit,
            counts,
            cardwatch_store::observe::operations(s, &names, now)?,
        ))
    })
    .await?;
    let counts = match counts {
        Some(c) => {
            let c: web::metrics::Records = c.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
            state.metrics.set_records(audit, c.clone());
            c
        }
        None => state.metrics.records().unwrap_or_default(),
    };
    let sites = web::metrics::site_agents(&state).await?;
    let mut out = web::metrics::Text::default();
    out.family(
        "cardwatch_records",
        "gauge",
        "Records in the estate, by kind.",
    );
    for (kind, n) in counts.iter() {
        out.sample("cardwatch_records", &[("kind", kind)], n);
    }
    out.family(
        "cardwatch_audit_records",
        "gauge",
        "Records in the audit chain.",
    );
    out.sample("cardwatch_audit_records", &[], audit);
    out.family(
        "cardwatch_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
    );
    out.sample(
        "cardwatch_uptime_seconds",
        &[],
        state.started.elapsed().as_secs(),
    );
    out.family(
        "cardwatch_ra_capacity_renewals_per_day",
        "gauge",
        "Renewals the RA teams can do in a working day: the configured teams' capacities, or [notify] ra_capacity when none is configured.",
    );
    let teams: u64 = state
        .checks
        .teams
        .iter()
        .map(|t| u64::from(t.capacity))
        .sum();
    out.sample(
        "cardwatch_ra_capacity_renewals_per_day",
        &[],
        if teams > 0 {
            teams
        } else {
            u64::from(state.checks.notify.ra_capacity)
        },
    );
    let jobs: Vec<web::metrics::JobState<'_>> = ops
        .jobs
        .iter()
        .zip(notify::jobs::Job::ALL)
        .map(|(h, &job)| (job.name(), last_due(&state, job, now.unix()), h))
        .collect();
    web::metrics::write_operations(&mut out, &jobs, &ops, &sites, now);
    if let Some(c) = state.store.connections() {
        out.family(
            "cardwatch_store_connections",
            "gauge",
            "The store's connections to PostgreSQL, by state: in_use (lent to a request or job) or idle (open, kept for reuse).",
        );
        out.sample(
            "cardwatch_store_connections",
            &[("state", "in_use")],
            c.in_use,
        );
        out.sample("cardwatch_store_connections", &[("state", "idle")], c.idle);
        out.family(
            "cardwatch_store_connections_max",
            "gauge",
            "The most connections the store opens to PostgreSQL at once (pool_max in the database URL).",
        );
        out.sample("cardwatch_store_connections_max", &[], c.max);
    }
    state.metrics.write(&mut out);
    // The estate's families come from a full health check; a scrape never waits for one, but
    // the first scrape of a server that has run none starts one.
    if !state.metrics.has_estate() {
        let state = state.clone();
        // The check's log lines belong to the scrape that started it.
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            let _ = prevent::check::all_findings(&state, None).await;
        }));
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out.0).into_response())
}

/// The newest moment `job` was due at or before `now`, if it is scheduled: looked for in a
/// minute, then an hour, a day and eight days back, so a frequent job costs a few steps.
fn last_due(state: &AppState, job: notify::jobs::Job, now: i64) -> Option<i64> {
    let (_, schedule) = state
        .checks
        .notify
        .schedules
        .iter()
        .find(|(j, _)| *j == job)?;
    [60, 3600, 86_400, 8 * 86_400]
        .into_iter()
        .find_map(|window| schedule.last_at_or_before(now, window))
}
