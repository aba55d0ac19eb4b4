//! What `/metrics` reports, kept as the server runs, and the Prometheus text it is written in.
//!
//! Written by hand rather than with a metrics crate: the families are few and fixed, a scrape is
//! a few string writes under short locks, and the build stays lean. Every label is bounded — a
//! route template (never the path asked for), a method, a status class, a job, a channel, a rule
//! or severity — so no site, person or card ever becomes a series. A scheduled job is labelled
//! `task`, because Prometheus gives every scraped series its own `job` label.

use std::collections::HashMap;
use std::fmt::{Display, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

use cardwatch_core::date::Timestamp;
use cardwatch_core::estate::CoreHours;
use cardwatch_core::silence::{silent_sites, SiteContact};
use cardwatch_store::observe::{JobHealth, Operations, SiteAgents};

use crate::AppState;

/// Upper bounds of the latency histogram's buckets, in seconds: from a cached page (a few
/// milliseconds) to a national health check run by a request (several seconds).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The label for a request no route matched (a mistyped or probing address): one series for
/// all of them, so a scanner cannot add series.
const UNMATCHED: &str = "unmatched";

/// Records per kind, by the kind's name.
pub(crate) type Records = Arc<[(String, i64)]>;

/// One route template's requests.
#[derive(Debug, Default)]
struct Route {
    /// (method, status class) → requests.
    counts: HashMap<(&'static str, u16), u64>,
    /// Requests per latency bucket (not cumulative; the last is above every bound).
    buckets: [u64; BUCKETS.len() + 1],
    /// Seconds spent, summed.
    seconds: f64,
    /// Requests timed.
    timed: u64,
}

/// How long an agent's spool report counts towards `cardwatch_agent_spool_oldest_seconds`.
const AGENT_SPOOL_WINDOW: Duration = Duration::from_secs(3600);

/// What the server counts while it runs. Figures read from the store (jobs, the outbox, agents)
/// are read when scraped; the estate's risk is written once per health check.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// Route template → its requests.
    http: Mutex<HashMap<String, Route>>,
    /// The estate's families as text, written when a full health check finishes.
    estate: Mutex<Option<Arc<str>>>,
    /// Records per kind and the estate's version they were counted at: counting is a scan of
    /// every table, which at national size costs more than a scrape may, and every change to
    /// the estate advances the version.
    records: Mutex<Option<(i64, Records)>>,
    /// Job → (runs that finished, runs that failed) in this process.
    jobs: Mutex<HashMap<&'static str, (u64, u64)>>,
    /// Agent events recorded for the first time.
    agent_events_accepted: AtomicU64,
    /// Agent events sent again (already recorded).
    agent_events_duplicate: AtomicU64,
    /// Agent event batches refused (unreadable, too large, or from an agent not let in).
    agent_batches_refused: AtomicU64,
    /// Agent id → how long the oldest event of its latest batch had waited in its spool
    /// (seconds), and when that batch came. One entry per agent, so bounded by the estate.
    agent_spool: Mutex<HashMap<String, (u64, std::time::Instant)>>,
    /// Each site's agents as last read, and when. The read scans every agent (90,000 at national
    /// size, about 100 ms), more than a scrape may cost, so a scrape uses the last read and
    /// starts the next in the background once it is a minute old; only the first scrape waits.
    sites: Mutex<Option<(Instant, Arc<Vec<SiteAgents>>)>>,
    /// Whether a background read of the sites' agents is under way.
    sites_reading: AtomicBool,
    /// This process's prefix for the request ids it makes.
    id_prefix: String,
    /// Requests given an id made here.
    ids_made: AtomicU64,
    /// Requests being answered.
    in_flight: AtomicU64,
    /// Whole-scope counts of the access reviews list (not those carried from kept counts).
    review_counts: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Metrics {
            http: Mutex::default(),
            estate: Mutex::default(),
            records: Mutex::default(),
            jobs: Mutex::default(),
            agent_events_accepted: AtomicU64::new(0),
            agent_events_duplicate: AtomicU64::new(0),
            agent_batches_refused: AtomicU64::new(0),
            agent_spool: Mutex::default(),
            sites: Mutex::default(),
            sites_reading: AtomicBool::new(false),
            // The start in milliseconds and the process id tell apart the ids of replicas and of
            // restarts; the counter tells apart a process's own requests. Nothing secret is in an
            // id, so nothing random is needed.
            id_prefix: format!("{:x}-{:x}", started.as_millis(), std::process::id()),
            ids_made: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            review_counts: AtomicU64::new(0),
        }
    }
}

/// A request being answered, counted in [`Metrics::in_flight`] until dropped (also when its
/// client goes away and the answer is abandoned).
pub(crate) struct Answering<'a>(&'a AtomicU64);

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    /// Counts a request as being answered until what this returns is dropped.
    pub(crate) fn answering(&self) -> Answering<'_> {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Answering(&self.in_flight)
    }

    /// How many requests are being answered.
    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    fn request(&self, route: &str, method: &'static str, status: u16, took: Duration) {
        let mut http = self.http.lock().unwrap_or_else(PoisonError::into_inner);
        let r = match http.get_mut(route) {
            Some(r) => r,
            None => http.entry(route.to_owned()).or_default(),
        };
        *r.counts.entry((method, status / 100)).or_default() += 1;
        let s = took.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|&b| s <= b)
            .unwrap_or(BUCKETS.len());
        r.buckets[i] += 1;
        r.seconds += s;
        r.timed += 1;
    }

    fn set_sites(&self, rows: Vec<SiteAgents>) -> Arc<Vec<SiteAgents>> {
        let rows = Arc::new(rows);
        *self.sites.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((Instant::now(), rows.clone()));
        rows
    }

    /// The estate's families, as text, from the health check just finished.
    pub(crate) fn set_estate(&self, text: String) {
        *self.estate.lock().unwrap_or_else(PoisonError::into_inner) = Some(text.into());
    }

    /// The records per kind last counted.
    pub(crate) fn records(&self) -> Option<Records> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.as_ref().map(|(_, r)| r.clone())
    }

    /// The version the records were last counted at.
    pub(crate) fn records_version(&self) -> Option<i64> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.as_ref().map(|(v, _)| *v)
    }

    /// Records per kind, counted at the estate's version `version`.
    pub(crate) fn set_records(&self, version: i64, counts: Records) {
        *self.records.lock().unwrap_or_else(PoisonError::into_inner) = Some((version, counts));
    }

    /// Whether a health check has written the estate's families yet.
    pub(crate) fn has_estate(&self) -> bool {
        self.estate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// A scheduled job's run ended here, well or not.
    pub(crate) fn job_ended(&self, job: &'static str, ok: bool) {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        let e = jobs.entry(job).or_default();
        e.0 += 1;
        e.1 += u64::from(!ok);
    }

    /// An agent's batch was recorded: events new and events already held.
    pub(crate) fn agent_events(&self, accepted: u64, duplicates: u64) {
        self.agent_events_accepted
            .fetch_add(accepted, Ordering::Relaxed);
        self.agent_events_duplicate
            .fetch_add(duplicates, Ordering::Relaxed);
    }

    /// A scope of the access reviews list was counted whole.
    pub(crate) fn review_counted(&self) {
        self.review_counts.fetch_add(1, Ordering::Relaxed);
    }

    /// An agent's batch was refused.
    pub(crate) fn agent_batch_refused(&self) {
        self.agent_batches_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// An agent's batch came whose oldest event had waited `seconds` in its spool (events go to
    /// the spool as they happen and leave it oldest first, so a batch's oldest event is the
    /// oldest the spool held when it was sent).
    pub(crate) fn agent_spool_oldest(&self, agent: &str, seconds: u64) {
        self.agent_spool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(agent.to_owned(), (seconds, std::time::Instant::now()));
    }

    /// The longest wait among the batches of the last hour (0 when none came); older reports
    /// are forgotten, so an agent that caught up long ago does not hold the figure up.
    fn agent_spool_oldest_seconds(&self) -> u64 {
        let mut spools = self
            .agent_spool
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        spools.retain(|_, (_, at)| at.elapsed() < AGENT_SPOOL_WINDOW);
        spools.values().map(|(s, _)| *s).max().unwrap_or(0)
    }

    /// A request id: the proxy's when it sent a usable one, else one made here.
    fn request_id(&self, sent: Option<&HeaderValue>) -> String {
        match sent.and_then(|v| v.to_str().ok()).map(str::trim) {
            // Only short ids of plain characters are taken, so an id cannot forge a log line
            // or carry a message.
            Some(id)
                if !id.is_empty()
                    && id.len() <= 64
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
            {
                id.to_owned()
            }
            _ => format!(
                "{}-{}",
                self.id_prefix,
                self.ids_made.fetch_add(1, Ordering::Relaxed) + 1
            ),
        }
    }

    /// Writes the families this process counts: requests, jobs' runs, agents' events, and the
    /// estate's families from the last health check.
    pub(crate) fn write(&self, out: &mut Text) {
        self.write_http(out);
        out.family(
            "cardwatch_job_runs_total",
            "counter",
            "Scheduled job runs this server finished, by task.",
        );
        out.family(
            "cardwatch_job_failures_total",
            "counter",
            "Scheduled job runs this server finished with a failure, by task.",
        );
        {
            let jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
            let mut names: Vec<_> = jobs.keys().copied().collect();
            names.sort_unstable();
            for j in &names {
                out.sample("cardwatch_job_runs_total", &[("task", j)], jobs[j].0);
            }
            for j in &names {
                out.sample("cardwatch_job_failures_total", &[("task", j)], jobs[j].1);
            }
        }
        out.family(
            "cardwatch_agent_events_total",
            "counter",
            "Events agents sent, by outcome: accepted (recorded) or duplicate (already held).",
        );
        out.sample(
            "cardwatch_agent_events_total",
            &[("outcome", "accepted")],
            self.agent_events_accepted.load(Ordering::Relaxed),
        );
        out.sample(
            "cardwatch_agent_events_total",
            &[("outcome", "duplicate")],
            self.agent_events_duplicate.load(Ordering::Relaxed),
        );
        out.family(
            "cardwatch_agent_batches_refused_total",
            "counter",
            "Batches of agent events refused: unreadable, too large, or from an agent not let in.",
        );
        out.sample(
            "cardwatch_agent_batches_refused_total",
            &[],
            self.agent_batches_refused.load(Ordering::Relaxed),
        );
        // The largest over agents, with no agent or site label: a label per agent would be a
        // series per workstation.
        out.family(
            "cardwatch_agent_spool_oldest_seconds",
            "gauge",
            "The longest the oldest event of an agent's batch had waited in the agent's spool, over the batches taken in the last hour (0 when none came).",
        );
        out.sample(
            "cardwatch_agent_spool_oldest_seconds",
            &[],
            self.agent_spool_oldest_seconds(),
        );
        out.family(
            "cardwatch_review_counts_total",
            "counter",
            "Whole-scope counts of the access reviews list's positions in force and due: a scope's first count and each recount after a change that can move them (counts carried past other changes, or moved by keep decisions, are not counted).",
        );
        out.sample(
            "cardwatch_review_counts_total",
            &[],
            self.review_counts.load(Ordering::Relaxed),
        );
        let estate = self
            .estate
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(text) = estate {
            out.0.push_str(&text);
        }
    }

    fn write_http(&self, out: &mut Text) {
        let http = self.http.lock().unwrap_or_else(PoisonError::into_inner);
        let mut routes: Vec<(&String, &Route)> = http.iter().collect();
        routes.sort_unstable_by(|a, b| a.0.cmp(b.0));
        out.family(
            "cardwatch_http_requests_total",
            "counter",
            "HTTP requests answered, by route template, method and status class.",
        );
        for (route, r) in &routes {
            let mut counts: Vec<_> = r.counts.iter().collect();
            counts.sort_unstable();
            for ((method, class), n) in counts {
                let status = format!("{class}xx");
                out.sample(
                    "cardwatch_http_requests_total",
                    &[("route", route), ("method", method), ("status", &status)],
                    n,
                );
            }
        }
        out.family(
            "cardwatch_http_requests_in_flight",
            "gauge",
            "HTTP requests being answered.",
        );
        out.sample("cardwatch_http_requests_in_flight", &[], self.in_flight());
        out.family(
            "cardwatch_http_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to its answer's headers, by route template.",
        );
        for (route, r) in &routes {
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += r.buckets[i];
                out.sample(
                    "cardwatch_http_request_duration_seconds_bucket",
                    &[("route", route), ("le", &bound.to_string())],
                    cumulative,
                );
            }
            out.sample(
                "cardwatch_http_request_duration_seconds_bucket",
                &[("route", route), ("le", "+Inf")],
                r.timed,
            );
            out.sample(
                "cardwatch_http_request_duration_seconds_sum",
                &[("route", route)],
                r.seconds,
            );
            out.sample(
                "cardwatch_http_request_duration_seconds_count",
                &[("route", route)],
                r.timed,
            );
        }
    }
}

/// What one job's schedule and runs say: its name, the newest scheduled moment that has come
/// (none when switched off), and how it has run across every replica.
pub(crate) type JobState<'a> = (&'static str, Option<i64>, &'a JobHealth);

/// How old the sites' agents may be before a scrape starts reading them again.
const SITES_READ_EVERY: Duration = Duration::from_secs(60);

/// Each site's agents for a scrape: the last read, a new one started in the background when it
/// is older than [`SITES_READ_EVERY`]; read at once only when there is none yet. A contact that
/// came after the read is missed for at most that long, against the alert's 30 minutes.
pub(crate) async fn site_agents(state: &AppState) -> Result<Arc<Vec<SiteAgents>>, super::Failure> {
    let last = state
        .metrics
        .sites
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let Some((read, rows)) = last else {
        let rows = super::blocking(state, cardwatch_store::observe::site_agents).await?;
        return Ok(state.metrics.set_sites(rows));
    };
    if read.elapsed() >= SITES_READ_EVERY
        && state
            .metrics
            .sites_reading
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    {
        let state = state.clone();
        tokio::spawn(
            async move {
                match super::blocking(&state, cardwatch_store::observe::site_agents).await {
                    Ok(rows) => {
                        state.metrics.set_sites(rows);
                    }
                    Err(e) => tracing::warn!(error = %e.0, "reading the sites' agents for /metrics failed; the last read stays"),
                }
                state.metrics.sites_reading.store(false, Ordering::Release);
            }
            .instrument(tracing::Span::current()),
        );
    }
    Ok(rows)
}

/// Writes the figures read from the store at scrape time: jobs, the outbox and agents, the
/// sites' silence judged at `now`.
pub(crate) fn write_operations(
    out: &mut Text,
    jobs: &[JobState<'_>],
    ops: &Operations,
    sites: &[SiteAgents],
    now: Timestamp,
) {
    out.family(
        "cardwatch_job_last_due_timestamp_seconds",
        "gauge",
        "The newest moment a scheduled job was due to run (Unix time), by task; absent when switched off.",
    );
    for (task, due, _) in jobs {
        if let Some(due) = due {
            out.sample(
                "cardwatch_job_last_due_timestamp_seconds",
                &[("task", task)],
                due,
            );
        }
    }
    out.family(
        "cardwatch_job_last_success_timestamp_seconds",
        "gauge",
        "When a scheduled job's newest successful run ended, on any replica (Unix time), by task.",
    );
    for (task, _, h) in jobs {
        if let Some((at, _)) = h.last_success {
            out.sample(
                "cardwatch_job_last_success_timestamp_seconds",
                &[("task", task)],
                at.unix(),
            );
        }
    }
    out.family(
        "cardwatch_job_last_success_duration_seconds",
        "gauge",
        "How long a scheduled job's newest successful run took, by task.",
    );
    for (task, _, h) in jobs {
        if let Some((_, secs)) = h.last_success {
            out.sample(
                "cardwatch_job_last_success_duration_seconds",
                &[("task", task)],
                secs,
            );
        }
    }
    out.family(
        "cardwatch_job_consecutive_failures",
        "gauge",
        "Runs of a scheduled job that failed since its newest successful run, on any replica, by task.",
    );
    for (task, _, h) in jobs {
        out.sample(
            "cardwatch_job_consecutive_failures",
            &[("task", task)],
            h.failures_since_success,
        );
    }
    out.family(
        "cardwatch_outbox_messages",
        "gauge",
        "Messages in the outbox not sent: pending (waiting or being retried) or failed (given up), by channel.",
    );
    for channel in ["email", "webhook"] {
        for state in ["pending", "failed"] {
            let n = ops
                .outbox
                .iter()
                .find(|(c, s, _)| c == channel && s == state)
                .map_or(0, |o| o.2);
            out.sample(
                "cardwatch_outbox_messages",
                &[("channel", channel), ("state", state)],
                n,
            );
        }
    }
    out.family(
        "cardwatch_agents_enrolled",
        "gauge",
        "Workstation agents enrolled and not revoked.",
    );
    out.sample("cardwatch_agents_enrolled", &[], ops.agents_enrolled);
    out.family(
        "cardwatch_agents_seen",
        "gauge",
        "Agents not revoked that were heard from within the last hour (1h) or day (1d).",
    );
    out.sample(
        "cardwatch_agents_seen",
        &[("within", "1h")],
        ops.agents_seen_hour,
    );
    out.sample(
        "cardwatch_agents_seen",
        &[("within", "1d")],
        ops.agents_seen_day,
    );
    // Counts over sites, never a site label. Stored hours were checked when imported; one that
    // no longer reads is left out rather than failing the scrape.
    let hours: Vec<Option<CoreHours>> = sites
        .iter()
        .map(|s| CoreHours::parse(&s.core_hours).ok())
        .collect();
    let silence = silent_sites(
        sites.iter().zip(&hours).map(|(s, h)| SiteContact {
            hours: h.as_ref(),
            agents: u64::try_from(s.agents).unwrap_or(0),
            last_contact: s.last_seen.map(Timestamp::from_unix),
        }),
        now,
    );
    out.family(
        "cardwatch_sites_open_with_agents",
        "gauge",
        "Sites inside their own core hours (UK local time) with at least one enrolled agent.",
    );
    out.sample(
        "cardwatch_sites_open_with_agents",
        &[],
        silence.in_hours_with_agents,
    );
    out.family(
        "cardwatch_sites_agents_silent",
        "gauge",
        "Sites inside their own core hours with at least one enrolled agent from which no agent has reported in the last hour.",
    );
    out.sample("cardwatch_sites_agents_silent", &[], silence.silent);
}

/// Prometheus's text exposition format, written family by family.
#[derive(Debug, Default)]
pub(crate) struct Text(pub(crate) String);

impl Text {
    /// A family's HELP and TYPE lines.
    pub(crate) fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample; label values are escaped as the format asks.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                self.0.push_str(k);
                self.0.push_str("=\"");
                for c in v.chars() {
                    match c {
                        '\\' => self.0.push_str("\\\\"),
                        '"' => self.0.push_str("\\\""),
                        '\n' => self.0.push_str("\\n"),
                        c => self.0.push(c),
                    }
                }
                self.0.push('"');
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }
}

/// The method as a bounded label: the standard ones by name, anything else as `other`.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Every request: given an id (the proxy's `X-Request-Id`, else one made here) that its answer
/// returns and every log line it causes carries (a span named `request`, with the route template
/// and never the path, which can name a card or a person); counted and timed by route template.
pub(crate) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let _answering = state.metrics.answering();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let method = method_label(req.method());
    let id = state.metrics.request_id(req.headers().get("x-request-id"));
    let span = tracing::info_span!("request", request_id = %id, method, route = %route);
    let mut res = next.run(req).instrument(span.clone()).await;
    let took = started.elapsed();
    let status = res.status().as_u16();
    state.metrics.request(&route, method, status, took);
    span.in_scope(|| {
        tracing::info!(status, ms = took.as_secs_f64() * 1000.0, "answered");
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("x-request-id", v);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut t = Text::default();
        t.sample("x", &[("a", "q\"b\\c\nd")], 1);
        assert_eq!(t.0, "x{a=\"q\\\"b\\\\c\\nd\"} 1\n");
    }

    #[test]
    fn a_sent_request_id_is_kept_only_when_plain() {
        let m = Metrics::default();
        let kept = HeaderValue::from_static("abc-123_x.y:z");
        assert_eq!(m.request_id(Some(&kept)), "abc-123_x.y:z");
        let forged = HeaderValue::from_static("a\" level=error msg=x");
        let made = m.request_id(Some(&forged));
        assert!(made.starts_with(&m.id_prefix), "{made}");
        assert_ne!(m.request_id(None), made, "each made id is new");
    }

    #[test]
    fn latencies_fall_in_cumulative_buckets() {
        let m = Metrics::default();
        m.request("/x", "GET", 200, Duration::from_millis(3));
        m.request("/x", "GET", 503, Duration::from_millis(700));
        m.request("/x", "GET", 200, Duration::from_secs(20));
        let answering = m.answering();
        let mut t = Text::default();
        m.write_http(&mut t);
        for line in [
            "cardwatch_http_requests_total{route=\"/x\",method=\"GET\",status=\"2xx\"} 2",
            "cardwatch_http_requests_total{route=\"/x\",method=\"GET\",status=\"5xx\"} 1",
            "cardwatch_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.005\"} 1",
            "cardwatch_http_request_duration_seconds_bucket{route=\"/x\",le=\"0.5\"} 1",
            "cardwatch_http_request_duration_seconds_bucket{route=\"/x\",le=\"1\"} 2",
            "cardwatch_http_request_duration_seconds_bucket{route=\"/x\",le=\"10\"} 2",
            "cardwatch_http_request_duration_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3",
            "cardwatch_http_request_duration_seconds_count{route=\"/x\"} 3",
            "cardwatch_http_requests_in_flight 1",
        ] {
            assert!(t.0.lines().any(|l| l == line), "{line} in\n{}", t.0);
        }
        drop(answering);
        assert_eq!(m.in_flight(), 0, "an answer given leaves the count");
    }
}
