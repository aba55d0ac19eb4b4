//! The latest health check, shared by every page and job that shows findings or counts them:
//! computed in full once a day (on the day's first request or job that asks), and after a change
//! to the estate re-checked for the sites the change touched only
//! ([`cardwatch_core::health::reach`]), then read from the cache.

use std::collections::HashMap;

use axum::response::{IntoResponse, Response};
use cardwatch_core::health::{renote, splice_in_place, Context, Family, Noted, Severity};
use cardwatch_core::migration::Totals;
use cardwatch_store::recheck::{touched_since, touched_sites};
use cardwatch_store::{current_findings, integration_findings, site_findings};
use serde::Serialize;

use crate::prevent::finding_ids::carried;
use crate::web::background::Priority;
use crate::web::blocking;
use crate::web::scope::Viewer;
use crate::AppState;

/// A health check and what it was computed from: every change to the estate (and every note on
/// a finding) adds to the audit chain, so an unchanged chain length on the same day means the
/// findings are still right, and the records added since say what to check again.
#[derive(Debug)]
pub(crate) struct Cached {
    audit_length: i64,
    day: cardwatch_core::date::Date,
    check: Check,
    /// The move between authentication clients, as the last full check counted it.
    migration: Option<Totals>,
}

/// Every current finding, and by site: the indexes of its findings (in rank order) and the
/// overview's counts, so a practice's request touches its own findings only.
#[derive(Clone, Debug)]
pub(crate) struct Check {
    /// Every finding, most serious first.
    pub all: std::sync::Arc<Vec<Noted>>,
    /// Site → its findings' indexes and counts.
    pub sites: std::sync::Arc<HashMap<String, (Vec<u32>, crate::prevent::check::Overview)>>,
    /// The certificates expiring soonest, estate-wide (the home page's table).
    pub expiring: std::sync::Arc<Vec<cardwatch_store::ExpiringCertificate>>,
    /// Incidents still open: (site, count).
    pub open_incidents: std::sync::Arc<Vec<(Option<String>, usize)>>,
    /// The findings as a work queue: its order, computed once per check so that a page of it
    /// costs a pass over the findings, not a sort.
    pub queue: std::sync::Arc<cardwatch_core::health::Queue>,
    /// The findings by id ([`crate::prevent::finding_ids`]): built once, off the request threads
    /// or by the first page that looks a finding up, or carried from the last check by a
    /// re-check.
    pub ids: std::sync::Arc<std::sync::OnceLock<Vec<(u64, u32)>>>,
}

impl Check {
    pub(crate) fn new(
        all: Vec<Noted>,
        expiring: Vec<cardwatch_store::ExpiringCertificate>,
        open_incidents: Vec<(Option<String>, usize)>,
    ) -> Check {
        let mut sites: HashMap<String, (Vec<u32>, crate::prevent::check::Overview)> =
            HashMap::new();
        // The findings are in site order: each site's run is looked up once.
        let mut at = 0;
        while at < all.len() {
            let site = all[at].finding.site.as_str();
            let e = sites.entry(site.to_owned()).or_default();
            while at < all.len() && all[at].finding.site == site {
                e.0.push(at as u32);
                e.1.add(&all[at].finding);
                at += 1;
            }
        }
        let queue = cardwatch_core::health::Queue::new(&all);
        Check {
            queue: std::sync::Arc::new(queue),
            all: std::sync::Arc::new(all),
            sites: std::sync::Arc::new(sites),
            expiring: std::sync::Arc::new(expiring),
            open_incidents: std::sync::Arc::new(open_incidents),
            ids: std::sync::Arc::default(),
        }
    }

    /// The viewer's findings' indexes: none for a viewer of the whole estate (every finding), a
    /// scoped viewer's sites' findings gathered from the site index.
    pub fn viewer_findings(&self, viewer: &Viewer) -> Option<Vec<u32>> {
        viewer.visible_sites()?;
        Some(
            self.sites
                .iter()
                .filter(|(site, _)| viewer.sees_site(site))
                .flat_map(|(_, (i, _))| i.iter().copied())
                .collect(),
        )
    }
}

/// Every current finding of the estate, from the cache when the estate and the day are unchanged,
/// re-checked for what changed when only the estate did. One request computes at a time; the
/// others wait for its answer rather than repeat the work. `known` is the estate's version when
/// this request has read it already (a scoped viewer has).
pub(crate) async fn all_findings(state: &AppState, known: Option<i64>) -> Result<Check, Response> {
    all_findings_at(state, known, Priority::Asked).await
}

/// [`all_findings`] with the check's work at `priority`: a scheduled job's at the lowest, so
/// that pages asked meanwhile have the processor first. A page that needs the findings while
/// such a check runs waits for it as for any other, the check running whenever no request's
/// work is ready to.
pub(crate) async fn all_findings_at(
    state: &AppState,
    known: Option<i64>,
    priority: Priority,
) -> Result<Check, Response> {
    let today = (state.now)().date();
    // The chain's length is read before waiting for the cache, so requests do not queue on it.
    let length = match known {
        Some(v) => v,
        None => crate::web::background::blocking(state, priority, |s| s.audit_length())
            .await
            .map_err(IntoResponse::into_response)?,
    };
    let cache = state.findings.clone().lock_owned().await;
    if let Some(c) = cache.as_ref() {
        if c.audit_length == length && c.day == today {
            return Ok(c.check.clone());
        }
    }
    // The work runs in a task of its own, holding the cache: a client that goes away mid-check
    // leaves its result cached for the next request rather than throwing the last check away.
    let task = state.clone();
    // The task carries the caller's span (its request or job), as the store's reads inside it log.
    let work = tracing::Instrument::in_current_span(async move {
        refresh(&task, cache, length, today, priority).await
    });
    match tokio::spawn(work).await {
        Ok(done) => done,
        Err(_) => Err((
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "the health check stopped unexpectedly; try again",
        )
            .into_response()),
    }
}

/// Brings the cached check up to `length` on `today`: re-checked where it can be, in full
/// otherwise.
async fn refresh(
    state: &AppState,
    mut cache: tokio::sync::OwnedMutexGuard<Option<Cached>>,
    length: i64,
    today: cardwatch_core::date::Date,
    priority: Priority,
) -> Result<Check, Response> {
    // The same day, and the chain grew: re-check what the new records touched. A new day (the
    // nightly full check) or a chain that is not the cached one's continuation runs in full.
    if let Some(old) = cache.take_if(|c| c.day == today && c.audit_length < length) {
        let started = std::time::Instant::now();
        let migration = old.migration;
        match recheck(state, old, length, today, priority).await? {
            Ok(check) => {
                tracing::info!(took = ?started.elapsed(), findings = check.all.len(), "health re-check");
                publish_later(state, migration, started, priority);
                *cache = Some(Cached {
                    audit_length: length,
                    day: today,
                    check: check.clone(),
                    migration,
                });
                return Ok(check);
            }
            Err(why) => tracing::info!(%why, "a full health check instead of a re-check"),
        }
    }
    let check = full_check(state, length, today, priority).await?;
    let out = check.check.clone();
    *cache = Some(check);
    Ok(out)
}

/// The estate's version as far as its facts go: the chain length at which a fact last changed,
/// for the caches that hold what is computed from facts alone (the reports' machines, the plan's
/// renewals and answers). Sign-ins, incidents and notes on findings add to the chain without
/// changing a fact, so they leave it as it was: a stranger's failed sign-ins cannot make the
/// server count the estate again.
/// `known` is the chain's length when the request has read it already (a scoped viewer has).
pub(crate) async fn facts_version(state: &AppState, known: Option<i64>) -> Result<i64, Response> {
    let length = match known {
        Some(v) => v,
        None => crate::web::version(state).await?,
    };
    let mut facts = state.facts.lock().await;
    let (seen, at) = *facts;
    if length == seen {
        return Ok(at);
    }
    let unchanged = seen > 0
        && length > seen
        && blocking(state, move |s| touched_since(s, seen, length))
            .await
            .map_err(IntoResponse::into_response)
            .map(|touched| matches!(touched, Ok(t) if !t.facts))?;
    *facts = (length, if unchanged { at } else { length });
    Ok(facts.1)
}

/// A full health check of the whole estate, its metrics written.
async fn full_check(
    state: &AppState,
    length: i64,
    today: cardwatch_core::date::Date,
    priority: Priority,
) -> Result<Cached, Response> {
    let checks = state.checks.clone();
    let started = std::time::Instant::now();
    let all = crate::web::background::blocking(state, priority, move |s| {
        let cx = Context {
            today,
            catalogue: &checks.catalogue,
            thresholds: &checks.thresholds,
            calendar: &checks.calendar,
        };
        let findings = current_findings(s, &cx, Family::ALL)?;
        let expiring = s.expiring_certificates(100)?;
        let open = cardwatch_store::open_incidents_by_site(s)?;
        // The move to the successor client is counted with the check, for the metrics.
        let migration = crate::prevent::risk::migration(s, &checks, today)?;
        Ok((findings, expiring, open, migration))
    })
    .await
    .map_err(IntoResponse::into_response)?;
    state.metrics.set_estate(crate::prevent::risk::text(
        &all.0,
        all.3,
        (state.now)(),
        started.elapsed(),
    ));
    Ok(Cached {
        audit_length: length,
        day: today,
        check: Check::new(all.0, all.1, all.2),
        migration: all.3,
    })
}

/// The last check with the findings of the sites the audit records after it touched (up to
/// `length`) checked again, or why a full check must run instead.
async fn recheck(
    state: &AppState,
    old: Cached,
    length: i64,
    today: cardwatch_core::date::Date,
    priority: Priority,
) -> Result<Result<Check, String>, Response> {
    let checks = state.checks.clone();
    crate::web::background::blocking(state, priority, move |s| {
        let started = std::time::Instant::now();
        let cx = Context {
            today,
            catalogue: &checks.catalogue,
            thresholds: &checks.thresholds,
            calendar: &checks.calendar,
        };
        let touched = match touched_since(s, old.audit_length, length)? {
            Ok(t) => t,
            Err(why) => return Ok(Err(why)),
        };
        let sites = match touched.facts {
            false => None,
            true => match touched_sites(s, &touched)? {
                Some(sites) => Some(sites),
                None => return Ok(Err("a changed record is no longer in the estate".into())),
            },
        };
        if !touched.facts && touched.notes.is_empty() {
            // Sign-ins, incidents and the like: the findings stand as they are, without being
            // indexed again; only the open incidents are read.
            let open = cardwatch_store::open_incidents_by_site(s)?;
            return Ok(Ok(Check {
                open_incidents: std::sync::Arc::new(open),
                ..old.check
            }));
        }
        let notes = s.finding_notes()?;
        // The findings by id, if built, are carried to the new check where only some sites'
        // findings change.
        let Check {
            all,
            expiring,
            sites: old_sites,
            ids: old_ids,
            ..
        } = old.check;
        let placed = started.elapsed();
        let mut all = owned(all);
        let (expiring, changed) = match &sites {
            None => ((*expiring).clone(), Some(Vec::new())),
            Some(sites) => {
                let list: Vec<&str> = sites.iter().map(String::as_str).collect();
                let fresh = if list.is_empty() {
                    Vec::new()
                } else {
                    site_findings(s, &cx, &list, &notes)?
                };
                let integrations = integration_findings(s, &cx, &notes)?;
                let checked = started.elapsed();
                let in_place = splice_in_place(&mut all, &list, fresh, integrations);
                tracing::debug!(sites = list.len(), ?placed, ?checked, spliced = ?started.elapsed(), "sites re-checked");
                (s.expiring_certificates(100)?, in_place.then_some(list))
            }
        };
        renote(&mut all, &touched.notes, &notes, today);
        let open = cardwatch_store::open_incidents_by_site(s)?;
        let read = started.elapsed();
        let check = Check::new(all, expiring, open);
        let indexed = started.elapsed();
        if let (Some(ids), Some(changed)) = (old_ids.get(), changed) {
            let carried = carried(ids, &old_sites, &check.all, &check.sites, &changed);
            let _ = check.ids.set(carried);
        }
        tracing::debug!(?read, ?indexed, ids = ?started.elapsed(), "re-check");
        Ok(Ok(check))
    })
    .await
    .map_err(IntoResponse::into_response)
}

/// The findings of the last check to change: the cache held the only other reference, unless a
/// page is still being cut from them or the metrics are being written from them (both brief),
/// for which it waits a little before copying them.
fn owned(all: std::sync::Arc<Vec<Noted>>) -> Vec<Noted> {
    let mut all = all;
    for _ in 0..50 {
        match std::sync::Arc::try_unwrap(all) {
            Ok(v) => return v,
            Err(shared) => all = shared,
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (*all).clone()
}

/// Writes the estate's metrics from a re-check in the background, so the page that asked does
/// not wait for them: the move between authentication clients is counted again, the findings'
/// families from the new findings. At `priority`, the re-check's.
fn publish_later(
    state: &AppState,
    migration: Option<Totals>,
    started: std::time::Instant,
    priority: Priority,
) {
    let state = state.clone();
    let took = started.elapsed();
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        let (checks, today) = (state.checks.clone(), (state.now)().date());
        let migration = crate::web::background::blocking(&state, priority, move |s| {
            crate::prevent::risk::migration(s, &checks, today)
        })
        .await
        .unwrap_or(migration);
        // The findings as they are now (a later re-check may have replaced them meanwhile),
        // held only while their families are counted.
        let Some(all) = state
            .findings
            .lock()
            .await
            .as_ref()
            .map(|c| c.check.all.clone())
        else {
            return;
        };
        let text = crate::web::background::compute(priority, move || {
            crate::prevent::risk::text(&all, migration, (state.now)(), took)
        })
        .await;
        if let Ok(text) = text {
            state.metrics.set_estate(text);
        }
    }));
}

/// The overview's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Overview {
    /// Certificates already expired.
    pub expired: usize,
    /// Expiring within 7 days.
    pub within_7_days: usize,
    /// Within 30 days (after 7).
    pub within_30_days: usize,
    /// Within the 90-day window (after 30).
    pub within_90_days: usize,
    /// Findings at urgent or critical.
    pub urgent_findings: usize,
    /// Incidents still open.
    pub open_incidents: usize,
    /// Sites short of spare readers or other stock.
    pub spares_below_minimum: usize,
    /// Workstations with software below the mandatory version.
    pub software_below_mandatory: usize,
    /// Workstations on an authentication client that stops working (Identity Agent, CIS1).
    pub workstations_to_move: usize,
    /// Of those, the ones held up by an application not ready for the successor.
    pub workstations_held_up: usize,
}

impl Overview {
    /// Counts one finding.
    pub(crate) fn add(&mut self, f: &cardwatch_core::health::Finding) {
        let o = self;
        let rule = f.rule;
        if rule.starts_with("cert-") {
            if rule.ends_with("-expired") {
                o.expired += 1;
            } else if rule.ends_with("-7d") {
                o.within_7_days += 1;
            } else if rule.ends_with("-30d") {
                o.within_30_days += 1;
            } else if rule.ends_with("-90d") {
                o.within_90_days += 1;
            }
        }
        if f.severity >= Severity::Urgent {
            o.urgent_findings += 1;
        }
        match rule {
            "spare-readers-low" | "stock-below-minimum" => o.spares_below_minimum += 1,
            "software-below-mandatory" => o.software_below_mandatory += 1,
            "auth-client-retiring" => o.workstations_to_move += 1,
            "auth-client-move-blocked" => o.workstations_held_up += 1,
            _ => {}
        }
    }

    fn plus(&mut self, x: &Overview) {
        self.expired += x.expired;
        self.within_7_days += x.within_7_days;
        self.within_30_days += x.within_30_days;
        self.within_90_days += x.within_90_days;
        self.urgent_findings += x.urgent_findings;
        self.spares_below_minimum += x.spares_below_minimum;
        self.software_below_mandatory += x.software_below_mandatory;
        self.workstations_to_move += x.workstations_to_move;
        self.workstations_held_up += x.workstations_held_up;
    }
}

/// The overview's figures over the sites a viewer sees.
pub(crate) fn count(check: &Check, v: &Viewer) -> Overview {
    let mut o = Overview::default();
    for (_, counts) in check
        .sites
        .iter()
        .filter(|(site, _)| v.sees_site(site))
        .map(|(s, (_, c))| (s, c))
    {
        o.plus(counts);
    }
    o.open_incidents = check
        .open_incidents
        .iter()
        .filter(|(site, _)| site.as_deref().is_some_and(|s| v.sees_site(s)))
        .map(|(_, n)| n)
        .sum();
    o
}
