//! What the renewal plan keeps between requests: every renewal the planner places, read once per
//! change to the estate (the reading costs most of a plan: about a second at national size) and
//! shared with every plan made from it (the planner reads them in place, so a new question
//! copies none of them), and the last answers given, so the same plan asked for again on an
//! unchanged estate and day is not planned again.

use std::sync::Arc;

use cardwatch_core::date::Date;
use cardwatch_core::planner::Renewal;
use cardwatch_store::renewals_due;

use crate::web::blocking;
use crate::AppState;

/// The renewals and the estate's version they were read at.
pub(crate) type CachedRenewals = (i64, Arc<[Renewal]>);

/// Every renewal the planner places, read again only when the estate has changed (every change
/// to people, cards, certificates, positions, sites and organisations adds to the audit chain;
/// which renewals there are does not depend on the day). One request reads at a time; the
/// others wait for its answer rather than repeat the work.
pub(crate) async fn renewals(
    state: &AppState,
    version: i64,
) -> Result<Arc<[Renewal]>, crate::web::Failure> {
    let mut cache = state.renewals.lock().await;
    if let Some((at, r)) = cache.as_ref() {
        if *at == version {
            return Ok(r.clone());
        }
    }
    let thresholds = state.checks.thresholds.clone();
    let read: Arc<[Renewal]> =
        blocking(state, move |s| Ok(renewals_due(s, &thresholds)?.into())).await?;
    tracing::info!(renewals = read.len(), "renewals read for the plan");
    *cache = Some((version, read.clone()));
    Ok(read)
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
