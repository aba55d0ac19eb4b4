//! The kept renewals written to the store ([`cardwatch_store::plan_snapshot`]) and taken from it
//! when a server has none kept (as it starts): the snapshot brought up to the estate's version
//! through the same update as after a change is the list a read in full gives, in a fraction
//! of the time. A snapshot that cannot be used is logged with the reason and read past.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cardwatch_core::health::{Thresholds, RECHECK_MAX_RECORDS};
use cardwatch_core::planner::Renewal;
use cardwatch_store::{plan_snapshot, Store};

use crate::web::blocking;
use crate::AppState;

/// Audit records the kept renewals may run ahead of the store's snapshot before it is written
/// again. A server starting brings the snapshot up to date by reading what those records
/// touched, which is refused past [`RECHECK_MAX_RECORDS`] (then it reads in full); a quarter of
/// that leaves room for the changes made while no server runs, keeps a start's update to a few
/// thousand records' sites, and writes the snapshot (a few seconds of background work, about
/// 91 MB nationally) at most once per few thousand changes rather than after each import.
pub(crate) const REWRITE_AFTER: i64 = (RECHECK_MAX_RECORDS / 4) as i64;

/// One snapshot written at a time by this server: a second waits and then finds the first's.
static WRITING: Mutex<()> = Mutex::new(());

/// The store's snapshot and the chain length it is valid at, if it can be used.
pub(super) fn load(s: &dyn Store, t: &Thresholds) -> Option<(i64, Arc<Vec<Renewal>>)> {
    let started = std::time::Instant::now();
    match plan_snapshot::load(s, t) {
        Ok(Ok((at, all))) => {
            tracing::info!(renewals = all.len(), version = at, took = ?started.elapsed(), "renewals taken from the store's snapshot");
            Some((at, Arc::new(all)))
        }
        Ok(Err(why)) => {
            tracing::info!(%why, "the store's snapshot of the renewals is not used");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "the store's snapshot of the renewals could not be read");
            None
        }
    }
}

/// Whether a snapshot stamped `kept` should be replaced by renewals at `version`: there is none,
/// it was decided otherwise, or it is [`REWRITE_AFTER`] records behind.
fn stale(kept: Option<&plan_snapshot::Stamp>, t: &Thresholds, version: i64) -> bool {
    match kept {
        None => true,
        Some(k) if k.format != plan_snapshot::FORMAT => true,
        Some(k) if k.fingerprint != plan_snapshot::fingerprint(t) => true,
        Some(k) => k.version + REWRITE_AFTER <= version,
    }
}

/// A write after a read in full that found its renewals replaced before it could encode them:
/// the next refresh writes whatever the stamp says, as that one would have.
static OWED: AtomicBool = AtomicBool::new(false);

/// After the kept renewals were read at `version`: writes them to the store in the background
/// when its snapshot is [`stale`], or always after a read `in_full` (the snapshot kept, if any,
/// could not be used or brought up to date). Nothing waits for it but a caller that wants to
/// (tests); a failure is logged and the next read tries again.
///
/// It holds the renewals only while it encodes them, not while it waits for another write or
/// for the store: an update meanwhile changes them in place (a shared list is waited for, then
/// copied — two million renewals). Renewals an update replaced before this began are left to
/// that update's own refresh.
pub(super) fn refresh(
    state: &AppState,
    version: i64,
    all: &Arc<Vec<Renewal>>,
    in_full: bool,
) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    let all = Arc::downgrade(all);
    tokio::spawn(async move {
        let t = state.checks.thresholds.clone();
        let wrote = blocking(&state, move |s| {
            let _one = WRITING.lock().unwrap_or_else(|e| e.into_inner());
            let owed = in_full || OWED.swap(false, Ordering::Relaxed);
            if !owed && !stale(plan_snapshot::stamp(s)?.as_ref(), &t, version) {
                return Ok(None);
            }
            let Some(all) = all.upgrade() else {
                OWED.fetch_or(owed, Ordering::Relaxed);
                return Ok(None);
            };
            let started = std::time::Instant::now();
            let renewals = all.len();
            let encoded = plan_snapshot::encoded(&all)?;
            drop(all);
            let wrote = plan_snapshot::write_encoded(s, &t, version, &encoded)?;
            Ok(wrote.then(|| (renewals, started.elapsed())))
        })
        .await;
        match wrote {
            Ok(Some((renewals, took))) => {
                tracing::info!(renewals, version, ?took, "the renewals' snapshot written")
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e.0, "the renewals' snapshot was not written"),
        }
    })
}
