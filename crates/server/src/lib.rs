//! Cardwatch's HTTP server: health and metrics for operators, and a first plain page of the
//! certificates that expire soonest. The store is synchronous, so every handler runs its store
//! calls on the blocking thread pool.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use cardwatch_core::access::Permission;
use cardwatch_core::calendar::Calendar;
use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::date::Timestamp;
use cardwatch_core::health::Thresholds;
use cardwatch_core::planner::Team;
use cardwatch_core::renewal::Window;
use cardwatch_core::triage::{Contact, KnowledgeBase};
use cardwatch_store::{Store, StoreError};

mod admin;
mod agents;
mod agents_page;
pub mod api;
mod audit;
pub mod auth;
mod cards;
mod digest_prefs;
mod estate;
mod feeds;
mod findings;
mod import_page;
mod incidents;
mod integrations;
pub mod jobs;
mod jobs_page;
pub mod layout;
mod overview;
mod people;
mod plan;
mod reports;
mod retention_page;
mod reviews;
pub mod scope;
pub mod send;
mod sites_admin;
pub mod triage;
mod unsubscribe;
mod wizard;
mod workstations;

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
    pub notify: jobs::Notify,
}

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    store: Arc<dyn Store>,
    started: Instant,
    now: fn() -> Timestamp,
    checks: Arc<Checks>,
    /// The last full health check, reused while the estate and the day are unchanged.
    findings: Arc<tokio::sync::Mutex<Option<findings::Cached>>>,
    /// The site map scoped callers are resolved with, and the chain length it was read at.
    sites: Arc<tokio::sync::Mutex<Option<scope::CachedSites>>>,
}

/// The estate's version: the audit chain's length, which every change to the estate advances.
/// Read on every request that uses a cache, so a change is seen by the very next request.
pub(crate) async fn version(state: &AppState) -> Result<i64, Response> {
    blocking(state, |s| s.audit_length())
        .await
        .map_err(IntoResponse::into_response)
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store.describe())
            .finish()
    }
}

/// The server's routes over a store. `now` is the clock the pages count days from.
/// The scheduler starts with it (inside the caller's runtime) unless `notify.enabled` is off.
pub fn router(store: Arc<dyn Store>, now: fn() -> Timestamp, checks: Checks) -> Router {
    let state = state(store, now, checks);
    jobs::spawn(state.clone());
    Router::new()
        .merge(api::routes())
        .route("/", get(expiring_page))
        .route("/findings", get(findings::page))
        .route("/findings/note", post(findings::note))
        .route("/cheatsheet", get(triage::cheat_sheet_page))
        .route("/triage", get(wizard::page_handler))
        .route("/triage/record", post(wizard::record))
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/account", get(auth::account))
        .route("/account/password", post(auth::change_password))
        .route("/account/feeds", post(feeds::make))
        .route("/account/digest", post(digest_prefs::save))
        .route("/account/feeds/revoke", post(feeds::revoke))
        .route("/feeds/{file}", get(feeds::feed))
        .route(
            "/unsubscribe/{secret}",
            get(unsubscribe::ask).post(unsubscribe::confirm),
        )
        .route("/audit", get(audit::page))
        .route("/reviews", get(reviews::page).post(reviews::decide))
        .route("/plan", get(plan::page))
        .route("/estate/{kind}", get(estate::page))
        .route("/admin/users", get(admin::page))
        .route("/admin/jobs", get(jobs_page::page))
        .route(
            "/admin/import",
            get(import_page::page).post(import_page::import).layer(
                axum::extract::DefaultBodyLimit::max(import_page::MAX_UPLOAD_BYTES),
            ),
        )
        .route("/admin/agents", get(agents_page::page))
        .route("/admin/agents/token", post(agents_page::token))
        .route("/admin/agents/revoke", post(agents_page::revoke))
        .route("/admin/sites", get(sites_admin::page))
        .route("/admin/sites/hours", post(sites_admin::hours))
        .route("/admin/sites/stock", post(sites_admin::stock))
        .route("/admin/sites/contacts", post(sites_admin::add_contact))
        .route(
            "/admin/sites/contacts/remove",
            post(sites_admin::remove_contact),
        )
        .route("/admin/users/add", post(admin::add))
        .route("/admin/users/disable", post(admin::disable))
        .route("/admin/users/enable", post(admin::enable))
        .route("/admin/users/reset", post(admin::reset))
        .route("/cards/{serial}", get(cards::page))
        .route("/cards/{serial}/status", post(cards::change_status))
        .route("/people/{uuid}", get(people::page))
        .route("/people/{uuid}/positions", post(people::change_position))
        .route("/people/{uuid}/export", get(people::export))
        .route("/workstations/{hostname}", get(workstations::page))
        .route("/integrations/{id}", get(integrations::page))
        .route("/reports", get(reports::page))
        .route(
            "/admin/retention",
            get(retention_page::page).post(retention_page::erase),
        )
        .route("/incidents", get(incidents::page))
        .route("/incidents/{id}/packet", get(incidents::packet))
        .route("/assets/nhsuk-frontend.min.css", get(layout::css))
        .route("/assets/nhsuk-frontend.min.js", get(layout::js))
        .route("/assets/images/{name}", get(layout::image))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

fn state(store: Arc<dyn Store>, now: fn() -> Timestamp, checks: Checks) -> AppState {
    AppState {
        store,
        started: Instant::now(),
        now,
        checks: Arc::new(checks),
        findings: Arc::default(),
        sites: Arc::default(),
    }
}

/// A failure shown to the client without internals; the detail goes to the log.
pub(crate) struct Failure(StoreError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "request failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is not answering — see the server log\n",
        )
            .into_response()
    }
}

async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Failure> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || f(&*store))
        .await
        .map_err(|e| Failure(StoreError::Database(format!("worker failed: {e}"))))?
        .map_err(Failure)
}

async fn healthz(State(state): State<AppState>) -> Response {
    let backend = state.store.backend();
    match blocking(&state, |s| s.ping()).await {
        Ok(()) => (
            [(header::CONTENT_TYPE, "application/json")],
            format!("{{\"status\":\"ok\",\"database\":\"{backend}\"}}\n"),
        )
            .into_response(),
        Err(f) => f.into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Result<Response, Failure> {
    let (counts, audit) = blocking(&state, |s| Ok((s.counts()?, s.audit_length()?))).await?;
    let mut out = String::new();
    out.push_str("# HELP cardwatch_records Records in the estate, by kind.\n");
    out.push_str("# TYPE cardwatch_records gauge\n");
    for (kind, n) in counts {
        let _ = writeln!(out, "cardwatch_records{{kind=\"{kind}\"}} {n}");
    }
    out.push_str("# HELP cardwatch_audit_records Records in the audit chain.\n");
    out.push_str("# TYPE cardwatch_audit_records gauge\n");
    let _ = writeln!(out, "cardwatch_audit_records {audit}");
    out.push_str("# HELP cardwatch_uptime_seconds Seconds since the server started.\n");
    out.push_str("# TYPE cardwatch_uptime_seconds gauge\n");
    let _ = writeln!(
        out,
        "cardwatch_uptime_seconds {}",
        state.started.elapsed().as_secs()
    );
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

/// A CSV download: the header, then each row's fields (written as they come, not collected).
fn csv_download<R, F>(filename: &str, header: &[&str], rows: impl Iterator<Item = R>) -> Response
where
    R: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let mut w = csv::Writer::from_writer(Vec::new());
    let written = w
        .write_record(header)
        .and_then(|()| rows.into_iter().try_for_each(|r| w.write_record(r)));
    match (written, w.into_inner()) {
        (Ok(()), Ok(body)) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{filename}\""),
                ),
            ],
            body,
        )
            .into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Text made safe inside HTML.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The certificates of cards in use that expire soonest. Holders are shown by card and site
/// only: names are personal data, and this page has no sign-in yet.
async fn expiring_page(State(state): State<AppState>, caller: auth::Caller) -> Response {
    let viewer = match scope::viewer(&state, caller, Permission::ViewEstate, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // The counts and the table come with the cached check: the page costs no query of its own.
    let check = match findings::all_findings(&state, viewer.version).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let panel = overview::panel(&check, &viewer);
    let certs = check.expiring.clone();
    let today = (state.now)().date();
    let mut rows = String::new();
    for c in certs.iter().filter(|c| viewer.sees_site(&c.site_ods)) {
        let days = today.days_until(c.not_after);
        let when = match days {
            d if d < 0 => format!("expired {} days ago", -d),
            0 => "expires today".to_owned(),
            d => format!("{d} days"),
        };
        let class = match Window::of(today, c.not_after) {
            Window::Expired => "expired",
            Window::Urgent => "soon",
            Window::Renewable => "window",
            Window::Valid => "",
        };
        let _ = writeln!(
            rows,
            "<tr class=\"nhsuk-table__row {class}\"><td class=\"nhsuk-table__cell\"><a href=\"/cards/{serial}\">{serial}</a></td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td></tr>",
            escape(&c.purpose),
            c.not_after,
            escape(&when),
            escape(&c.site_ods),
            serial = escape(&c.card_serial),
        );
    }
    let empty = if certs.is_empty() {
        "<p>No certificates yet: import the estate with <code>cardwatch import</code>.</p>"
    } else {
        ""
    };
    let body = format!(
        r#"{panel}
<h2 class="nhsuk-heading-m">Certificates expiring soonest</h2>
<p class="nhsuk-body">Cards in use, as of {today}. Expired and due within 30 days first; an expired certificate needs an RA in person, one inside 90 days can be renewed by its holder.</p>
{empty}<table class="nhsuk-table">
<thead class="nhsuk-table__head"><tr class="nhsuk-table__row"><th class="nhsuk-table__header" scope="col">Card</th><th class="nhsuk-table__header" scope="col">Certificate</th><th class="nhsuk-table__header" scope="col">Last valid day</th><th class="nhsuk-table__header" scope="col">Time left</th><th class="nhsuk-table__header" scope="col">Site</th></tr></thead>
<tbody class="nhsuk-table__body">
{rows}</tbody></table>"#
    );
    layout::page("Overview", Some(&viewer.caller), &body).into_response()
}
