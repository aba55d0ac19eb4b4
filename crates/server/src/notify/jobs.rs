//! The recurring jobs, declared in one place ([`Job`]), and the scheduler that runs each
//! scheduled moment exactly once across every `cardwatch serve` sharing the database.
//!
//! Each replica walks every job's schedule and, for each moment that has come (up to
//! `catch_up_seconds` late), tries to claim the run in the database; the claim is a row keyed by
//! job and moment, so one replica wins. The winner renews its lease while the job runs; if it
//! dies, the row stays `running` past its lease and the next replica to look takes it over.
//! Jobs only write messages to the outbox (under idempotency keys); `deliver` sends them.

use rand::rngs::{StdRng, SysRng};
use rand::{RngExt, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use cardwatch_core::access::Permission;
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::notify::{
    digest, hook_body, reminder, reminder_stage, Channel, DigestFor, Message, ReminderFor,
};
use cardwatch_core::planner::{plan_teams_kept, Jobs, Renewal, Settings};
use cardwatch_core::records::{Cell, Kind};
use cardwatch_core::schedule::Schedule;
use cardwatch_store::notify::{self as outbox, Claim, Outgoing};
use cardwatch_store::{Store, StoreError};
use tracing::Instrument as _;

use crate::notify::send::SmtpRelay;
use crate::web::auth::Caller;
use crate::web::background::{self, Priority};
use crate::web::scope::Viewer;
use crate::AppState;

macro_rules! jobs {
    ($($variant:ident = $name:literal, $schedule:literal, $doc:literal;)+) => {
        /// A recurring job.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Job { $(#[doc = $doc] $variant,)+ }

        impl Job {
            /// Every job.
            pub const ALL: &'static [Job] = &[$(Job::$variant,)+];

            /// Its name in configuration and in the runs table.
            pub const fn name(self) -> &'static str {
                match self { $(Job::$variant => $name,)+ }
            }

            /// Its schedule unless configured (UTC).
            pub const fn default_schedule(self) -> &'static str {
                match self { $(Job::$variant => $schedule,)+ }
            }

            /// What it does.
            pub const fn about(self) -> &'static str {
                match self { $(Job::$variant => $doc,)+ }
            }
        }
    };
}

jobs! {
    Findings = "findings", "0 */15 * * * *", "Recompute the health findings, so pages and digests start from a fresh check.";
    Digest = "digest", "0 30 6 * * *", "Write each operator's digest of new and urgent findings, and the webhooks' summaries.";
    Reminders = "reminders", "0 0 7 * * *", "Write holders' renewal reminders 90, 30 and 7 days before their planned dates.";
    Stock = "stock", "0 0 8 * * 1-5", "Tell the webhooks which sites are short of spare cards and readers.";
    Deliver = "deliver", "*/10 * * * * *", "Send what the outbox holds, retrying failures with backoff.";
    Purge = "purge", "0 0 3 * * *", "Delete sent messages and finished runs past the retention period.";
    Retention = "retention", "0 30 3 * * *", "Erase leavers' names, emails and staff roles past the retention period (health.leaver_retention_days).";
    Backup = "backup", "0 0 2 * * *", "Back the store up into the [backup] folder, keeping the newest copies.";
}

/// Where the nightly backups go, and how many are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupPlan {
    /// The folder.
    pub dir: std::path::PathBuf,
    /// The newest this many are kept; older ones are deleted after each backup.
    pub keep: usize,
}

/// The files a backup job makes are named `cardwatch-<UTC time>.backup`, so that sorting their
/// names sorts them by age and nothing else in the folder is ever deleted.
fn backup_name(at: Timestamp) -> String {
    let digits: String = at
        .to_string()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("cardwatch-{digits}.backup")
}

/// Deletes all but the newest `keep` backups the job made in `dir`.
fn prune(dir: &std::path::Path, keep: usize) -> Result<usize, StoreError> {
    let io = |source| StoreError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut made: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cardwatch-") && n.ends_with(".backup"))
        })
        .collect();
    made.sort();
    let old = made.len().saturating_sub(keep);
    for p in &made[..old] {
        std::fs::remove_file(p).map_err(io)?;
    }
    Ok(old)
}

impl Job {
    /// A job by name.
    pub fn parse(s: &str) -> Result<Job, String> {
        Job::ALL
            .iter()
            .copied()
            .find(|j| j.name() == s.trim())
            .ok_or_else(|| {
                format!(
                    "{s:?} is not a job: {}",
                    Job::ALL
                        .iter()
                        .map(|j| j.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

/// What the scheduler and the senders are configured with.
#[derive(Clone, Debug)]
pub struct Notify {
    /// Each job's schedule; a job left out does not run.
    pub schedules: Vec<(Job, Schedule)>,
    /// The SMTP relay; without one, email waits in the outbox.
    pub smtp: Option<SmtpRelay>,
    /// The sender address.
    pub from: String,
    /// The address people reach this server at, for links in messages.
    pub public_url: String,
    /// How long a claimed run or message is held before another replica may take it.
    pub lease_seconds: i64,
    /// Tries before a message is marked failed.
    pub retries: u32,
    /// The wait after a first failed try; it doubles with each further failure.
    pub retry_base_seconds: i64,
    /// Messages sent at once, each over its own connection.
    pub delivery_workers: usize,
    /// How late a scheduled moment may still be run (after a restart).
    pub catch_up_seconds: i64,
    /// Days sent messages and finished runs are kept.
    pub retention_days: i64,
    /// Renewals per working day for sites no RA team in `[planner]` serves.
    pub ra_capacity: u32,
    /// Whether the scheduler runs in this process.
    pub enabled: bool,
    /// The nightly backups, when a folder is configured.
    pub backup: Option<BackupPlan>,
}

impl Default for Notify {
    fn default() -> Notify {
        Notify {
            schedules: Job::ALL
                .iter()
                .filter_map(|&j| Some((j, Schedule::parse(j.default_schedule()).ok()?)))
                .collect(),
            smtp: None,
            from: "Cardwatch <cardwatch@localhost>".to_owned(),
            public_url: "http://127.0.0.1:8080".to_owned(),
            lease_seconds: 60,
            retries: 5,
            retry_base_seconds: 30,
            delivery_workers: 4,
            catch_up_seconds: 3600,
            retention_days: 90,
            ra_capacity: 50,
            enabled: true,
            backup: None,
        }
    }
}

impl Notify {
    /// A job's schedule as written, or `off`.
    pub fn schedule_text(&self, job: Job) -> String {
        self.schedules
            .iter()
            .find(|(j, _)| *j == job)
            .map_or("off".to_owned(), |(_, s)| s.to_string())
    }
}

/// This process's name in the runs and outbox tables: host, process id and a random part. Two
/// replicas on one host must never share it, so a random source that fails is an error.
fn owner_id() -> Result<String, crate::web::auth::NoRandomness> {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".to_owned());
    let r = crate::web::auth::random_token()?;
    Ok(format!(
        "{}:{}:{}",
        host.trim(),
        std::process::id(),
        &r[..6]
    ))
}

/// The longest jobs caught up at start wait for the requests being answered to end: a server
/// never quiet still runs them.
const START_QUIET: Duration = Duration::from_secs(10);

/// Returns once no request is being answered, or after `at_most`.
async fn quiet(metrics: &crate::web::metrics::Metrics, at_most: Duration) {
    let until = tokio::time::Instant::now() + at_most;
    while metrics.in_flight() > 0 && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs the scheduler until the process ends.
pub(crate) fn spawn(state: AppState) {
    if !state.checks.notify.enabled || state.checks.notify.schedules.is_empty() {
        return;
    }
    tokio::spawn(async move {
        let owner: Arc<str> = match owner_id() {
            Ok(o) => o.into(),
            Err(e) => {
                tracing::error!(error = %e, "scheduler not started");
                return;
            }
        };
        // The renewal plan's start-up read (`prevent::plan::cache::read_ahead`) holds the kept
        // renewals until it ends. Jobs caught up at start would share the processor with it and
        // the first plan asked for as the server comes back would wait for both, so they start
        // after it: a second or two from the store's snapshot, well inside the catch-up window.
        drop(state.renewals.lock().await);
        // Then the requests being answered as it comes back (the first plan, which waited for
        // that read) finish first: on PostgreSQL a health check's large reads run in the
        // database's own processes, at a priority this process cannot lower.
        quiet(&state.metrics, START_QUIET).await;
        tracing::info!(%owner, "scheduler started");
        let now = (state.now)().unix();
        // Each job's cursor: the moment after which its next slot is looked for. A replica
        // starts at the latest moment missed within the catch-up window (run unless another
        // replica ran it), not at every moment missed.
        let mut cursor: HashMap<Job, i64> = state
            .checks
            .notify
            .schedules
            .iter()
            .map(|(j, s)| {
                let missed = s.last_at_or_before(now, state.checks.notify.catch_up_seconds);
                (*j, missed.map_or(now, |m| m - 1))
            })
            .collect();
        let mut busy: HashSet<Job> = HashSet::new();
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Job>();
        let mut last_abandoned_check = 0i64;
        loop {
            while let Ok(j) = done_rx.try_recv() {
                busy.remove(&j);
            }
            let now = (state.now)().unix();
            // Runs a dead replica left, looked for every two seconds in one query for all jobs.
            let mut abandoned: Vec<(String, Timestamp)> = Vec::new();
            if now - last_abandoned_check >= 2 {
                last_abandoned_check = now;
                let t = Timestamp::from_unix(now);
                match crate::web::blocking(&state, move |s| outbox::abandoned_runs(s, t)).await {
                    Ok(found) => abandoned = found,
                    Err(e) => tracing::warn!(error = %e.0, "cannot look for abandoned runs"),
                }
            }
            for (job, schedule) in &state.checks.notify.schedules {
                if busy.contains(job) {
                    continue;
                }
                // (slot, whether it is the cursor's next moment)
                let mut next = abandoned
                    .iter()
                    .find(|(j, _)| j == job.name())
                    .map(|&(_, slot)| (slot, false));
                if next.is_none() {
                    let c = cursor.get(job).copied().unwrap_or(now);
                    next = schedule
                        .next_after(c)
                        .filter(|&s| s <= now)
                        .map(|s| (Timestamp::from_unix(s), true));
                }
                let Some((slot, moves_cursor)) = next else {
                    continue;
                };
                let claim = {
                    let (j, o, lease) =
                        (job.name(), owner.clone(), state.checks.notify.lease_seconds);
                    crate::web::blocking(&state, move |s| {
                        outbox::claim_run(s, j, slot, &o, Timestamp::from_unix(now), lease)
                    })
                    .await
                };
                // The cursor moves once the database has answered: a moment is never skipped
                // because the database was briefly unreachable.
                if moves_cursor && claim.is_ok() {
                    cursor.insert(*job, slot.unix());
                }
                match claim {
                    Ok(Claim::Run { attempt }) => {
                        busy.insert(*job);
                        let (state, owner, job, done) =
                            (state.clone(), owner.clone(), *job, done_tx.clone());
                        tokio::spawn(async move {
                            run_claimed(&state, &owner, job, slot, attempt, Priority::Background)
                                .await;
                            let _ = done.send(job);
                        });
                    }
                    Ok(Claim::Taken) => {}
                    Err(e) => tracing::warn!(job = job.name(), error = %e.0, "cannot claim a run"),
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

/// Runs a claimed run, its work at `priority`, renewing its lease meanwhile, and records how
/// it ended. The claim, the lease and the record run at the default priority whatever the
/// work's: a lease renewed late would let another replica take over a run still under way.
async fn run_claimed(
    state: &AppState,
    owner: &Arc<str>,
    job: Job,
    slot: Timestamp,
    attempt: i64,
    priority: Priority,
) {
    // Every log line of the run, its store calls' and sending threads' included, names its task
    // and the run: the slot's second and the try, as `cardwatch jobs` lists the run
    // (scheduled or run by hand, the same span).
    let span = tracing::info_span!(
        "job",
        task = job.name(),
        run_id = %format_args!("{}-{}-{attempt}", job.name(), slot.unix())
    );
    run_claimed_in_span(state, owner, job, slot, attempt, priority)
        .instrument(span)
        .await;
}

async fn run_claimed_in_span(
    state: &AppState,
    owner: &Arc<str>,
    job: Job,
    slot: Timestamp,
    attempt: i64,
    priority: Priority,
) {
    let lease = state.checks.notify.lease_seconds;
    if attempt > 1 {
        tracing::info!(job = job.name(), %slot, attempt, "taking over a run another server left");
    } else {
        tracing::debug!(job = job.name(), %slot, "job started");
    }
    let renew = {
        let (state, owner) = (state.clone(), owner.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis((lease * 1000 / 3).max(200) as u64)).await;
                let until = Timestamp::from_unix((state.now)().unix() + lease);
                let o = owner.clone();
                match crate::web::blocking(&state, move |s| {
                    outbox::renew_run(s, job.name(), slot, &o, until)
                })
                .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(job = job.name(), %slot, "lost the run's lease to another replica");
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e.0, "cannot renew a lease"),
                }
            }
        }.in_current_span())
    };
    let outcome = run(state, owner, job, slot, priority).await;
    renew.abort();
    state.metrics.job_ended(job.name(), outcome.is_ok());
    let now = (state.now)();
    match &outcome {
        Ok(d) => tracing::debug!(job = job.name(), %slot, detail = %d, "job done"),
        Err(e) => tracing::error!(job = job.name(), %slot, error = %e, "job failed"),
    }
    let o = owner.clone();
    let _ = crate::web::blocking(state, move |s| {
        outbox::finish_run(
            s,
            job.name(),
            slot,
            &o,
            now,
            outcome.as_deref().map_err(String::as_str),
        )
    })
    .await;
}

/// Runs one job for one moment, its reading and computing at `priority`; a summary, or why it
/// failed.
///
/// Its writes run at the default priority whatever `priority` is: each holds the store's one
/// writer (on SQLite), and one that gave way to every request while holding it would keep
/// sign-ins, imports and agent reports waiting.
pub(crate) async fn run(
    state: &AppState,
    owner: &str,
    job: Job,
    slot: Timestamp,
    priority: Priority,
) -> Result<String, String> {
    let db = |e: StoreError| e.to_string();
    match job {
        Job::Findings => {
            let check = crate::prevent::check::all_findings_at(state, None, priority)
                .await
                .map_err(|_| "the health check failed — see the log".to_owned())?;
            Ok(format!("{} findings", check.all.len()))
        }
        Job::Digest => digests(state, slot, priority).await,
        Job::Reminders => {
            let (checks, today) = (state.checks.clone(), (state.now)().date());
            let (due, jobs) = kept_renewals(state).await?;
            let messages = background::blocking(state, priority, move |s| {
                reminders(s, &checks, today, due, &jobs)
            })
            .await
            .map_err(|f| db(f.0))?;
            enqueue(state, messages).await
        }
        Job::Stock => {
            let check = crate::prevent::check::all_findings_at(state, None, priority)
                .await
                .map_err(|_| "the health check failed — see the log".to_owned())?;
            let short: Vec<String> = background::compute(priority, move || {
                check
                    .all
                    .iter()
                    .filter(|n| n.state == "open")
                    .filter(|n| {
                        matches!(n.finding.rule, "stock-below-minimum" | "spare-readers-low")
                    })
                    .map(|n| format!("{}: {}", n.finding.site, n.finding.why))
                    .collect()
            })
            .await
            .map_err(|f| db(f.0))?;
            if short.is_empty() {
                return Ok("no site short of spares".to_owned());
            }
            let hooks = background::blocking(state, priority, |s| outbox::webhooks(s))
                .await
                .map_err(|f| db(f.0))?;
            let link = format!(
                "{}/findings?rule=stock-below-minimum",
                state.checks.notify.public_url
            );
            let messages = hooks
                .iter()
                .map(|h| Message {
                    key: format!("stock:{}:{}", h.name, slot.unix()),
                    channel: Channel::Webhook,
                    recipient: h.name.clone(),
                    subject: "Sites short of spares".into(),
                    text: hook_body(
                        h.format,
                        "stock",
                        &format!("{} sites short of spare cards or readers", short.len()),
                        &short,
                        &link,
                    ),
                    html: String::new(),
                    not_before: slot,
                })
                .collect();
            enqueue(state, messages).await
        }
        Job::Deliver => deliver(state, owner).await,
        Job::Purge => {
            let before = Timestamp::from_unix(
                (state.now)().unix() - state.checks.notify.retention_days * 86_400,
            );
            let (sent, runs) = crate::web::blocking(state, move |s| outbox::purge(s, before))
                .await
                .map_err(|f| db(f.0))?;
            Ok(format!("deleted {sent} sent messages and {runs} runs"))
        }
        Job::Backup => {
            let Some(plan) = state.checks.notify.backup.clone() else {
                return Ok(
                    "no backup folder is configured ([backup] dir): nothing backed up".into(),
                );
            };
            let file = plan.dir.join(backup_name((state.now)()));
            let shown = file.display().to_string();
            let (made, deleted) = background::blocking(state, priority, move |s| {
                let made = s.backup_to(&file)?;
                Ok((made, prune(&plan.dir, plan.keep)?))
            })
            .await
            .map_err(|f| f.0.to_string())?;
            Ok(format!(
                "backed up the {} store (schema {}, {} bytes) to {shown}; deleted {deleted} older",
                made.kind, made.schema, made.bytes
            ))
        }
        Job::Retention => {
            let now = (state.now)();
            let cutoff = state.checks.thresholds.leavers_erased_before(now.date());
            let change = cardwatch_store::Change {
                actor: "job:retention".into(),
                at: now,
            };
            let erased = crate::web::blocking(state, move |s| {
                cardwatch_store::retention::erase(s, cutoff, None, &change)
            })
            .await
            .map_err(|f| db(f.0))?;
            Ok(format!(
                "erased the personal data of {} leaver(s) who left before {cutoff}",
                erased.len()
            ))
        }
    }
}

async fn enqueue(state: &AppState, messages: Vec<Message>) -> Result<String, String> {
    let n = messages.len();
    let now = (state.now)();
    let new = crate::web::blocking(state, move |s| outbox::enqueue(s, &messages, now))
        .await
        .map_err(|f| f.0.to_string())?;
    Ok(format!("{new} new messages ({} already recorded)", n - new))
}

/// Each subscribed operator's digest over their organisations, and each webhook's summary.
async fn digests(state: &AppState, slot: Timestamp, priority: Priority) -> Result<String, String> {
    let check = crate::prevent::check::all_findings_at(state, None, priority)
        .await
        .map_err(|_| "the health check failed — see the log".to_owned())?;
    let (subs, hooks) = background::blocking(state, priority, |s| {
        Ok((outbox::subscribers(s)?, outbox::webhooks(s)?))
    })
    .await
    .map_err(|f| f.0.to_string())?;
    let (map, _) = crate::web::scope::sites(state)
        .await
        .map_err(|_| "cannot read the sites".to_owned())?;
    let users: HashMap<String, cardwatch_core::access::User> =
        background::blocking(state, priority, |s| s.users())
            .await
            .map_err(|f| f.0.to_string())?
            .into_iter()
            .map(|u| (u.user.username.as_str().to_owned(), u))
            .collect();
    let notify = state.checks.notify.clone();
    // Each operator's digest is cut from the findings off the async threads, at the job's
    // priority: nationally that is a pass over their sites' findings per operator.
    let (messages, covered) = background::compute(priority, move || {
        let open: Vec<&cardwatch_core::health::Noted> =
            check.all.iter().filter(|n| n.state == "open").collect();
        let index = crate::web::scope::SiteIndex::new(&map, check.sites.keys());
        let mut messages = Vec::new();
        let mut covered = Vec::new();
        for sub in &subs {
            let p = &sub.prefs;
            if !p.frequency.due_at(slot) {
                continue;
            }
            let Some(user) = users
                .get(&p.username)
                .filter(|u| !u.disabled && u.user.role.can(Permission::ViewEstate))
            else {
                continue;
            };
            let viewer = Viewer::with_sites(Caller::by_token(user.clone()), map.clone());
            // Findings are indexed by site: an operator's own sites are read, not every finding.
            let theirs: Vec<&cardwatch_core::health::Finding> = match viewer.sites_in(&index) {
                None => open.iter().map(|n| &n.finding).collect(),
                Some(sites) => sites
                    .iter()
                    .filter_map(|s| check.sites.get(*s))
                    .flat_map(|(idx, _)| idx.iter())
                    .map(|&i| &check.all[i as usize])
                    .filter(|n| n.state == "open")
                    .map(|n| &n.finding)
                    .collect(),
            };
            let seen: HashSet<String> = sub.last_digest.iter().cloned().collect();
            let who = DigestFor {
                username: &p.username,
                email: &p.email,
                min_severity: p.min_severity,
                seen: &seen,
                unsubscribe: &sub.unsubscribe,
            };
            if let Some((mut m, ids)) = digest(&who, &theirs, slot, &notify.public_url) {
                if let Some(q) = p.quiet {
                    m.not_before = q.release(slot);
                }
                messages.push(m);
                covered.push((p.username.clone(), ids));
            }
        }
        for h in &hooks {
            let items: Vec<String> = open
                .iter()
                .filter(|n| n.finding.severity >= h.min_severity)
                .take(20)
                .map(|n| {
                    let f = &n.finding;
                    format!("[{}] {} at {}: {}", f.severity, f.subject, f.site, f.why)
                })
                .collect();
            let count = open
                .iter()
                .filter(|n| n.finding.severity >= h.min_severity)
                .count();
            if count == 0 {
                continue;
            }
            let title = format!("{count} open findings at or above {}", h.min_severity);
            messages.push(Message {
                key: format!("digest:{}:{}", h.name, slot.unix()),
                channel: Channel::Webhook,
                recipient: h.name.clone(),
                subject: title.clone(),
                text: hook_body(
                    h.format,
                    "digest",
                    &title,
                    &items,
                    &format!("{}/findings", notify.public_url),
                ),
                html: String::new(),
                not_before: slot,
            });
        }
        (messages, covered)
    })
    .await
    .map_err(|f| f.0.to_string())?;
    let summary = enqueue(state, messages).await?;
    crate::web::blocking(state, move |s| outbox::set_last_digests(s, &covered))
        .await
        .map_err(|f| f.0.to_string())?;
    Ok(summary)
}

/// Every renewal of the estate as it is, the renewal plan's kept ones (read once and shared,
/// not read again for each job: two million renewals nationally), with their kept jobs (a plan
/// of them neither builds nor sorts its jobs again).
pub(crate) async fn kept_renewals(
    state: &AppState,
) -> Result<(Arc<Vec<Renewal>>, Arc<Jobs>), String> {
    let version = crate::prevent::check::facts_version(state, None)
        .await
        .map_err(|_| "the estate's version could not be read — see the log".to_owned())?;
    crate::prevent::plan::cache::renewals(state, version)
        .await
        .map_err(|f| f.0.to_string())
}

/// Reminders due today for the renewal plan's certificates (`renewals`, every one of the
/// estate, and their `jobs`), to holders with an address.
fn reminders(
    store: &dyn Store,
    checks: &crate::Checks,
    today: Date,
    renewals: Arc<Vec<Renewal>>,
    jobs: &Jobs,
) -> Result<Vec<Message>, StoreError> {
    let settings = Settings {
        from: today,
        capacity: 1,
        window_days: checks.thresholds.renewal_window_days,
        calendar: &checks.calendar,
    };
    let plans = plan_teams_kept(
        renewals,
        jobs,
        &checks.teams,
        Some(checks.notify.ra_capacity),
        &settings,
        0,
    )
    .map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut holders: HashMap<String, (String, String)> = HashMap::new();
    store.scan(Kind::People, &[0, 1, 2], false, &mut |row| {
        if let (Cell::Text(uuid), Cell::Text(name), Cell::Text(email)) = (&row[0], &row[1], &row[2])
        {
            if !email.is_empty() {
                holders.insert(
                    (*uuid).to_owned(),
                    ((*name).to_owned(), (*email).to_owned()),
                );
            }
        }
        Ok(())
    })?;
    let mut out = Vec::new();
    for team in &plans {
        let report = &team.report;
        for (r, t) in report.renewals.iter().zip(&report.plan.targets) {
            let Some(stage) = reminder_stage(today, t.date) else {
                continue;
            };
            let Some((name, email)) = holders.get(&r.holder_uuid) else {
                continue;
            };
            out.push(reminder(
                &ReminderFor {
                    card_serial: &r.card_serial,
                    purpose: r.purpose.as_str(),
                    expiry: r.expiry,
                    planned: t.date,
                    name,
                    email,
                    ra: &team.team,
                },
                stage,
                today,
            ));
        }
    }
    Ok(out)
}

/// The wait before try `n + 1` after `n` failures: `first` seconds doubling, capped at an hour,
/// with up to a fifth more at random so replicas and recipients are not retried in lockstep.
fn backoff(first: i64, failures: i64) -> i64 {
    let base = (first << (failures.clamp(1, 8) - 1)).min(3600);
    // Only the spread is random: should the source fail, the wait is simply not spread.
    let per_mille = StdRng::try_from_rng(&mut SysRng).map_or(0, |mut r| r.random_range(0..200));
    base + base * per_mille / 1000
}

/// Sends what is due, a batch at a time, until nothing is. The senders run at the default
/// priority whatever the run's: sending is waiting on the relay, not computing, and a sender
/// starved between the relay accepting a message and the outbox recording it widens the moment
/// in which a replica's death has the message sent twice (a scheduled delivery at nice 19 beside
/// a busy machine did send one twice).
async fn deliver(state: &AppState, owner: &str) -> Result<String, String> {
    let notify = state.checks.notify.clone();
    let owner = owner.to_owned();
    let now = state.now;
    background::blocking(state, Priority::Asked, move |s| {
        let hooks: HashMap<String, outbox::Webhook> = outbox::webhooks(s)?
            .into_iter()
            .map(|h| (h.name.clone(), h))
            .collect();
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (sent, failed) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let email = notify.smtp.is_some();
        // Several senders, each with its own connection: a relay's answer to each message is a
        // round trip (and lettre's last write waits on TCP's delayed acknowledgement), so one
        // connection alone would leave both ends mostly idle.
        let worker = || -> Result<(), StoreError> {
            let mut transport = None;
            // One message per claim: a claim's lease then always outlasts its sending (a batch
            // claimed at once could outlive its lease on a slow relay and be sent twice).
            while let Some(m) = outbox::claim_due(s, &owner, now(), notify.lease_seconds, 1, email)?
                .into_iter()
                .next()
            {
                match send_one(&notify, &hooks, &mut transport, &m, now().unix()) {
                    Ok(()) => {
                        outbox::mark_sent(s, m.id, &owner, now())?;
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        let retry = (m.attempts < i64::from(notify.retries)).then(|| {
                            Timestamp::from_unix(
                                now().unix() + backoff(notify.retry_base_seconds, m.attempts),
                            )
                        });
                        // The key names the holder's card and the recipient may be quoted in
                        // the error: the log gets the message's number and the error without it.
                        tracing::warn!(outbox_id = m.id, channel = %m.channel, attempt = m.attempts, error = %crate::web::logs::without_addresses(&e), retry = retry.is_some(), "message not sent");
                        outbox::mark_failed(s, m.id, &owner, &e, retry)?;
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            Ok(())
        };
        // The senders' log lines belong to the run: its span goes along.
        let span = &tracing::Span::current();
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..notify.delivery_workers.max(1))
                .map(|_| scope.spawn(|| span.in_scope(worker)))
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(StoreError::Database("a sender panicked".into())))
            })
        })?;
        let (sent, failed) = (sent.into_inner(), failed.into_inner());
        let waiting = if email {
            String::new()
        } else {
            "; email waits for an SMTP relay (smtp_url)".to_owned()
        };
        Ok(format!("sent {sent}, failed {failed}{waiting}"))
    })
    .await
    .map_err(|f| f.0.to_string())
}

/// Sends one message by its channel.
pub fn send_one(
    notify: &Notify,
    hooks: &HashMap<String, outbox::Webhook>,
    transport: &mut Option<lettre::SmtpTransport>,
    m: &Outgoing,
    now: i64,
) -> Result<(), String> {
    match m.channel.as_str() {
        "email" => {
            let relay = notify.smtp.as_ref().ok_or(
                "no SMTP relay is configured — set smtp_url in [notify] or CARDWATCH_SMTP_URL",
            )?;
            if transport.is_none() {
                *transport = Some(relay.transport()?);
            }
            let t = transport.as_ref().ok_or("no transport")?;
            crate::notify::send::email(t, &notify.from, m)
        }
        "webhook" => {
            let hook = hooks
                .get(&m.recipient)
                .ok_or_else(|| format!("the webhook {:?} has been removed", m.recipient))?;
            crate::notify::send::webhook(hook, m, now)
        }
        other => Err(format!("unknown channel {other:?}")),
    }
}

/// Runs one job now, through the same claim as the scheduler (so it cannot run beside a
/// scheduled run of the same moment): for `cardwatch jobs run` and `cardwatch notify test`.
pub async fn run_now(
    store: Arc<dyn Store>,
    now: fn() -> Timestamp,
    checks: crate::Checks,
    job: Job,
) -> Result<String, String> {
    let state = crate::AppState::new(store, now, checks);
    let owner: Arc<str> = owner_id().map_err(|e| e.to_string())?.into();
    let lease = state.checks.notify.lease_seconds;
    // A moment is one second: a run already made this second (by us or a scheduler) is
    // followed by one the next second, not refused.
    let mut tries = 0;
    let (slot, attempt) = loop {
        let slot = now();
        let o = owner.clone();
        let claim = crate::web::blocking(&state, move |s| {
            outbox::claim_run(s, job.name(), slot, &o, slot, lease)
        })
        .await
        .map_err(|f| f.0.to_string())?;
        match claim {
            Claim::Run { attempt } => break (slot, attempt),
            Claim::Taken if tries < 3 => {
                tries += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Claim::Taken => {
                return Err(format!(
                    "{} is running elsewhere — try again shortly",
                    job.name()
                ))
            }
        }
    };
    // At the default priority: someone waits at the terminal for it, and this process (the
    // command's own) serves no pages for it to give way to.
    run_claimed(&state, &owner, job, slot, attempt, Priority::Asked).await;
    let runs = crate::web::blocking(&state, move |s| outbox::job_runs(s, Some(job.name()), 1))
        .await
        .map_err(|f| f.0.to_string())?;
    match runs.into_iter().next() {
        Some(r) if r.state == "done" => Ok(r.detail.unwrap_or_default()),
        Some(r) => Err(r.detail.unwrap_or_else(|| r.state.clone())),
        None => Err("the run was not recorded".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_has_a_valid_default_schedule_and_a_unique_name() {
        let mut names = HashSet::new();
        for j in Job::ALL {
            assert!(
                Schedule::parse(j.default_schedule()).is_ok(),
                "{}",
                j.name()
            );
            assert!(names.insert(j.name()));
            assert_eq!(Job::parse(j.name()), Ok(*j));
        }
        assert_eq!(Notify::default().schedules.len(), Job::ALL.len());
        assert!(Job::parse("digests")
            .unwrap_err()
            .contains("findings, digest"));
    }

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-22T09:00:00Z").expect("a time")
    }

    /// An empty SQLite store in `dir`.
    fn sqlite_store(dir: &tempfile::TempDir) -> Arc<dyn Store> {
        let url = dir.path().join("cw.sqlite").display().to_string();
        cardwatch_store::open(&url).expect("a store").into()
    }

    /// The shipped catalogue, calendar and knowledge base, with `notify`.
    fn checks(notify: Notify) -> crate::Checks {
        crate::Checks {
            catalogue: cardwatch_core::catalogue::Catalogue::shipped(),
            thresholds: Default::default(),
            calendar: cardwatch_core::calendar::Calendar::england_and_wales(),
            teams: Vec::new(),
            triage: cardwatch_core::triage::KnowledgeBase::shipped(),
            contacts: Vec::new(),
            notify,
            sign_in: Default::default(),
            sso: None,
            import_mapping: None,
            report_wait: std::time::Duration::from_secs(1),
        }
    }

    /// No job is claimed while the renewal plan's start-up read holds the kept renewals; a job
    /// due then runs once it ends.
    #[tokio::test]
    async fn jobs_caught_up_at_start_wait_for_the_requests_being_answered() {
        let metrics = Arc::new(crate::web::metrics::Metrics::default());
        let started = std::time::Instant::now();
        quiet(&metrics, Duration::from_secs(30)).await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "none answered: no wait"
        );

        let answered = metrics.clone();
        let (held_tx, held) = tokio::sync::oneshot::channel();
        let request = tokio::spawn(async move {
            let _answering = answered.answering();
            held_tx.send(()).expect("the test waits");
            tokio::time::sleep(Duration::from_millis(300)).await;
        });
        held.await.expect("a request being answered");
        let started = std::time::Instant::now();
        quiet(&metrics, Duration::from_secs(30)).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(250),
            "waited {waited:?} for the answer"
        );
        assert!(
            waited < Duration::from_secs(30),
            "the answer ended the wait"
        );
        request.await.expect("answered");

        let _never_answered = metrics.answering();
        let started = std::time::Instant::now();
        quiet(&metrics, Duration::from_millis(200)).await;
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "waited at most that"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_start_after_the_plans_start_up_read() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = sqlite_store(&dir);
        let every_second = Schedule::parse("* * * * * *").expect("a schedule");
        let checks = checks(Notify {
            schedules: vec![(Job::Deliver, every_second)],
            ..Notify::default()
        });
        let state = AppState::new(store.clone(), now, checks);
        let runs = || outbox::job_runs(&*store, None, 10).expect("the runs");
        let read = state.renewals.clone().lock_owned().await;
        spawn(state.clone());
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(runs().is_empty(), "a job ran during the start-up read");
        drop(read);
        for _ in 0..100 {
            if !runs().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no job ran once the start-up read ended");
    }

    /// This thread's nice (field 19 of its stat, after the name's closing parenthesis).
    #[cfg(target_os = "linux")]
    fn own_nice() -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("the thread's stat");
        let rest = &stat[stat.rfind(')').expect("a name") + 2..];
        let nice = rest.split_whitespace().nth(16).and_then(|n| n.parse().ok());
        nice.expect("a nice")
    }

    /// Notes the nice of each thread other than `here` that enters a span: the work a job or
    /// request hands to other threads enters the caller's span there.
    #[cfg(target_os = "linux")]
    #[derive(Clone)]
    struct Probe {
        here: std::thread::ThreadId,
        nice: Arc<std::sync::Mutex<Vec<i64>>>,
    }

    #[cfg(target_os = "linux")]
    impl Probe {
        /// The nice of each entry noted since the last call.
        fn taken(&self) -> Vec<i64> {
            std::mem::take(&mut *self.nice.lock().expect("the notes"))
        }
    }

    #[cfg(target_os = "linux")]
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Probe {
        fn on_enter(&self, _: &tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
            if std::thread::current().id() != self.here {
                self.nice.lock().expect("the notes").push(own_nice());
            }
        }
    }

    /// A scheduled run's work (the health check's store reads and its computing) runs on
    /// threads at the lowest priority, nice 19; a request's asked afterwards, and a run by hand,
    /// at the default: a pooled thread does not carry the job's priority into them.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_scheduled_runs_work_runs_at_the_lowest_priority_and_a_requests_does_not() {
        let dir = tempfile::tempdir().expect("a folder");
        let store = sqlite_store(&dir);
        let probe = Probe {
            here: std::thread::current().id(),
            nice: Default::default(),
        };
        use tracing_subscriber::layer::SubscriberExt as _;
        let probing = tracing_subscriber::registry().with(probe.clone());
        let _probing = tracing::subscriber::set_default(probing);
        let asked = own_nice();
        assert_ne!(asked, 19, "the test runs at the lowest priority already");

        let state = AppState::new(store.clone(), now, checks(Notify::default()));
        let job = run(&state, "test", Job::Findings, now(), Priority::Background)
            .instrument(tracing::info_span!("scheduled"))
            .await;
        assert_eq!(job.as_deref(), Ok("0 findings"));
        let nice = probe.taken();
        assert!(
            !nice.is_empty(),
            "the job's work ran on no thread of its own"
        );
        assert!(nice.iter().all(|&n| n == 19), "the job's work at {nice:?}");

        // The same store and runtime, a cache of its own: the request checks in full.
        let fresh = AppState::new(store.clone(), now, checks(Notify::default()));
        let check = crate::prevent::check::all_findings(&fresh, None)
            .instrument(tracing::info_span!("request"))
            .await;
        assert!(check.is_ok(), "the request's check failed");
        let nice = probe.taken();
        assert!(
            !nice.is_empty(),
            "the request's work ran on no other thread"
        );
        assert!(
            nice.iter().all(|&n| n == asked),
            "the request's work at {nice:?}"
        );

        let by_hand = AppState::new(store, now, checks(Notify::default()));
        let job = run(&by_hand, "test", Job::Findings, now(), Priority::Asked)
            .instrument(tracing::info_span!("by hand"))
            .await;
        assert_eq!(job.as_deref(), Ok("0 findings"));
        let nice = probe.taken();
        assert!(!nice.is_empty(), "the run's work ran on no other thread");
        assert!(
            nice.iter().all(|&n| n == asked),
            "a run by hand at {nice:?}"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        for (n, lo) in [(1, 30), (2, 60), (3, 120), (7, 1920), (20, 3600)] {
            let b = backoff(30, n);
            assert!((lo..=lo + lo / 5).contains(&b), "{n}: {b}");
        }
    }
}
