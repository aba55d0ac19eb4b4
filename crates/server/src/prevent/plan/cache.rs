//! What the renewal plan keeps between requests: every renewal the planner places, and the last
//! answers given, so the same plan asked for again on an unchanged estate and day is not planned
//! again. The renewals are read in full once (about four seconds at national size, two million
//! of them), then brought up to date after each change by reading again only the renewals of
//! the sites the change touched, and shared with every plan made from them (the planner reads
//! them in place, so a new question copies none of them). They are also written to the store
//! ([`snapshot`]), and a server with none kept (as it starts) takes them from there and brings
//! them up to date the same way, instead of reading the estate in full.

use std::sync::Arc;

use cardwatch_core::date::Date;
use cardwatch_core::fasthash::FastSet;
use cardwatch_core::health::Thresholds;
use cardwatch_core::planner::{replace_sites_numbered, Jobs, Renewal, SiteNumbers};
use cardwatch_store::recheck::{touched_since, touched_sites};
use cardwatch_store::{renewals_due, renewals_of_sites, Store, StoreError};

use crate::web::blocking;
use crate::AppState;

/// The renewals, the estate's version they were read at, their jobs in the renewals' order and
/// in order of expiry (what every plan of them starts from, brought up to date by each update
/// rather than worked out for each plan), and their sites' numbers for the next update
/// (numbered by the first update rather than as they are read, which a plan asked for as the
/// server starts would wait for).
#[derive(Clone, Debug)]
pub(crate) struct CachedRenewals {
    at: i64,
    all: Arc<Vec<Renewal>>,
    jobs: Arc<Jobs>,
    sites: Option<SiteNumbers>,
}

impl CachedRenewals {
    fn read(at: i64, all: Arc<Vec<Renewal>>) -> CachedRenewals {
        CachedRenewals {
            at,
            jobs: Arc::new(Jobs::new(&all)),
            all,
            sites: None,
        }
    }
}

/// Every renewal the planner places, as of the estate's facts at `version` (every change to
/// people, cards, certificates, positions, sites and organisations adds to the audit chain;
/// which renewals there are does not depend on the day). After a change the kept renewals are
/// updated for the sites it touched; what cannot be placed on sites is read in full. One request
/// reads at a time; the others wait for its answer rather than repeat the work.
///
/// With them come their jobs ([`cardwatch_core::planner::plan_teams_kept`] plans from them).
pub(crate) async fn renewals(
    state: &AppState,
    version: i64,
) -> Result<(Arc<Vec<Renewal>>, Arc<Jobs>), crate::web::Failure> {
    let cache = state.renewals.clone().lock_owned().await;
    kept_or_read(state, cache, version).await
}

/// Starts reading every renewal as the server starts, when the store holds an estate, so that
/// the first plan finds them read or being read (under a second from the store's snapshot at
/// national size, four to twenty seconds reading the estate). The kept renewals are taken before
/// it returns: a plan request arriving first waits for this read instead of starting a second
/// one, and the scheduler's jobs start after it (`notify::jobs::spawn`). Pages do not wait.
pub(crate) fn read_ahead(state: AppState) {
    let Ok(cache) = state.renewals.clone().try_lock_owned() else {
        return;
    };
    tokio::spawn(async move {
        let Ok(version) = crate::prevent::check::facts_version(&state, None).await else {
            return;
        };
        let estate = blocking(&state, |s| cardwatch_store::holds_cards(s)).await;
        if matches!(estate, Ok(true)) {
            // A failure is the first plan's to report: it reads again.
            let _ = kept_or_read(&state, cache, version).await;
        }
    });
}

/// The kept renewals at `version` or later, read (updated or in full) into `cache` when not.
async fn kept_or_read(
    state: &AppState,
    mut cache: tokio::sync::OwnedMutexGuard<Option<CachedRenewals>>,
    version: i64,
) -> Result<(Arc<Vec<Renewal>>, Arc<Jobs>), crate::web::Failure> {
    // A version read before waiting for another request's update may be older than the kept
    // one: what is kept is the estate as it is now, as a read in full would be.
    if let Some(kept) = cache.as_ref() {
        if kept.at >= version {
            return Ok((kept.all.clone(), kept.jobs.clone()));
        }
    }
    // The work runs in a task of its own holding the cache, so a client that goes away
    // mid-update leaves the renewals kept for the next request instead of losing them to a
    // read in full; the task carries the caller's span, as the store's reads inside it log.
    let task = state.clone();
    let work = tracing::Instrument::in_current_span(async move {
        let thresholds = task.checks.thresholds.clone();
        // Taken out for the update: a failure leaves nothing kept, and the next request reads
        // in full.
        let kept = cache.take();
        let (kept, in_full) = blocking(&task, move |s| {
            let started = std::time::Instant::now();
            // None kept (a server starting): the store's snapshot, if it can be used.
            let kept = kept.or_else(|| {
                snapshot::load(s, &thresholds).map(|(at, all)| CachedRenewals::read(at, all))
            });
            if let Some(old) = kept {
                if old.at >= version {
                    return Ok((old, false));
                }
                match updated(s, &thresholds, version, old)? {
                    Ok((new, sites)) => {
                        tracing::info!(renewals = new.all.len(), sites, in_full = false, took = ?started.elapsed(), "renewals read for the plan");
                        return Ok((new, false));
                    }
                    Err(why) => tracing::info!(%why, "the plan's renewals cannot be updated"),
                }
            }
            let all = renewals_due(s, &thresholds)?;
            tracing::info!(renewals = all.len(), in_full = true, took = ?started.elapsed(), "renewals read for the plan");
            Ok((CachedRenewals::read(version, Arc::new(all)), true))
        })
        .await?;
        let (at, read, jobs) = (kept.at, kept.all.clone(), kept.jobs.clone());
        *cache = Some(kept);
        drop(cache);
        // After a read in full the store's snapshot, if any, could not be brought up to date
        // (or was unusable): a server starting would read in full too, so it is written again.
        snapshot::refresh(&task, at, &read, in_full);
        Ok((read, jobs))
    });
    match tokio::spawn(work).await {
        Ok(done) => done,
        Err(e) => Err(crate::web::Failure(StoreError::Database(format!(
            "the plan's renewals task failed: {e}"
        )))),
    }
}

/// The renewals kept brought up to `version`: those of the sites the audit records since
/// touched read again and put in place of theirs (with how many sites), or why they must be
/// read in full.
fn updated(
    s: &dyn Store,
    t: &Thresholds,
    version: i64,
    old: CachedRenewals,
) -> Result<Result<(CachedRenewals, usize), String>, StoreError> {
    let touched = match touched_since(s, old.at, version)? {
        Ok(t) => t,
        Err(why) => return Ok(Err(why)),
    };
    let sites = match touched.facts {
        false => Default::default(),
        true => match touched_sites(s, &touched)? {
            Some(sites) => sites,
            None => return Ok(Err("a changed record is no longer in the estate".into())),
        },
    };
    let started = std::time::Instant::now();
    let list: Vec<&str> = sites.iter().map(String::as_str).collect();
    let fresh = renewals_of_sites(s, t, &list)?;
    let read = started.elapsed();
    let mut all = owned(old.all);
    // Numbered once, by the first update after a read; kept and brought up to date after.
    let mut numbers = old.sites.unwrap_or_else(|| SiteNumbers::new(&all));
    let set: FastSet<&str> = list.iter().copied().collect();
    let changed = replace_sites_numbered(&mut all, &mut numbers, &set, fresh);
    let replaced = started.elapsed();
    // Renewals replaced in place (a certificate renewed, a holder moved) move only their own
    // jobs; a card that came or went shifts every place after it, and the jobs are built again.
    let jobs = match changed {
        Some(changed) => {
            let mut jobs = owned(old.jobs);
            jobs.replaced(&all, &changed);
            jobs
        }
        None => Jobs::new(&all),
    };
    tracing::debug!(?read, ?replaced, jobs = ?started.elapsed(), "renewals of the touched sites");
    let new = CachedRenewals {
        at: version,
        all: Arc::new(all),
        jobs: Arc::new(jobs),
        sites: Some(numbers),
    };
    Ok(Ok((new, list.len())))
}

/// How long an update waits for the kept renewals' other holders before it copies them.
const SHARED_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// The kept renewals (or their jobs) to change. The cache held the only other reference,
/// unless a plan made from them is still being written out or the store's snapshot is being
/// encoded from them (each well under a second). No one takes a new share while the update holds the cache, so
/// it waits for those to end, which costs no processor, where copying two million renewals
/// cost 0.6–1.3 s of it beside the snapshot's encoding; after [`SHARED_WAIT`] it copies them.
fn owned<T: Clone>(mut all: Arc<T>) -> T {
    let until = std::time::Instant::now() + SHARED_WAIT;
    loop {
        match Arc::try_unwrap(all) {
            Ok(only) => return only,
            Err(shared) if std::time::Instant::now() < until => {
                all = shared;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(shared) => return (*shared).clone(),
        }
    }
}

/// Answers kept: a few plans asked for at once (a team's capacity tried at several values)
/// stay answered.
const ANSWERS_KEPT: usize = 8;

/// The last answers given: what was asked (the query, and for the API the sites the caller
/// sees), the estate's version and day they were planned on, and the answer.
#[derive(Debug, Default)]
pub(crate) struct Answers(Vec<(String, i64, Date, Arc<String>)>);

/// A kept answer to the same question on the same estate and day.
pub(crate) fn answered(
    state: &AppState,
    key: &str,
    version: i64,
    day: Date,
) -> Option<Arc<String>> {
    let answers = state.plans.lock().unwrap_or_else(|e| e.into_inner());
    answers
        .0
        .iter()
        .find(|(k, v, d, _)| k == key && *v == version && *d == day)
        .map(|(_, _, _, a)| a.clone())
}

/// Keeps an answer, the oldest going when there are [`ANSWERS_KEPT`].
pub(crate) fn keep(state: &AppState, key: String, version: i64, day: Date, answer: Arc<String>) {
    let mut answers = state.plans.lock().unwrap_or_else(|e| e.into_inner());
    answers
        .0
        .retain(|(k, v, d, _)| *v == version && *d == day && *k != key);
    if answers.0.len() >= ANSWERS_KEPT {
        answers.0.remove(0);
    }
    answers.0.push((key, version, day, answer));
}

mod snapshot;

#[cfg(test)]
mod tests;
