//! What the renewal plan keeps between requests: every renewal the planner places, read once per
//! change to the estate and held compactly (the reading costs most of a plan: about a second at
//! national size), and the last answers given, so the same plan asked for again on an unchanged
//! estate and day is not planned again.

use std::sync::Arc;

use cardwatch_core::date::Date;
use cardwatch_core::planner::Renewal;
use cardwatch_core::vocab::Purpose;
use cardwatch_store::renewals_due;

use crate::web::blocking;
use crate::AppState;

/// One renewal: its card serial and holder at `text[at..at + serial + holder]`, its site by
/// index.
#[derive(Clone, Copy, Debug)]
struct Row {
    at: u32,
    serial: u16,
    holder: u16,
    site: u32,
    expiry: Date,
    purpose: Purpose,
    prescriber_signing: bool,
}

/// Every renewal the planner places, each site and its organisations held once and the serials
/// and holders in one string: about a fifth of the memory of the renewals themselves.
#[derive(Debug, Default)]
pub(crate) struct Renewals {
    text: String,
    rows: Vec<Row>,
    /// Site → its code and (organisation, parent).
    sites: Vec<(String, [Option<Arc<str>>; 2])>,
}

impl Renewals {
    fn new(all: Vec<Renewal>) -> Renewals {
        let mut out = Renewals {
            text: String::new(),
            rows: Vec::with_capacity(all.len()),
            sites: Vec::new(),
        };
        let mut index: std::collections::HashMap<String, u32> = Default::default();
        for r in all {
            let site = match index.get(&r.site) {
                Some(&i) => i,
                None => {
                    let i = out.sites.len() as u32;
                    index.insert(r.site.clone(), i);
                    out.sites.push((r.site.clone(), r.organisations.clone()));
                    i
                }
            };
            let at = out.text.len() as u32;
            out.text.push_str(&r.card_serial);
            out.text.push_str(&r.holder_uuid);
            out.rows.push(Row {
                at,
                // Serials and holder ids are validated short codes (a few dozen characters).
                serial: r.card_serial.len() as u16,
                holder: r.holder_uuid.len() as u16,
                site,
                expiry: r.expiry,
                purpose: r.purpose,
                prescriber_signing: r.prescriber_signing,
            });
        }
        out.text.shrink_to_fit();
        out
    }

    /// The renewals again, in the order they were read, for the planner; their organisations
    /// only when `teams` (RA teams are configured: only a team's `serves` list reads them).
    pub(crate) fn renewals(&self, teams: bool) -> Vec<Renewal> {
        self.rows
            .iter()
            .map(|r| {
                let at = r.at as usize;
                let holder = at + r.serial as usize;
                let (site, organisations) = &self.sites[r.site as usize];
                Renewal {
                    card_serial: self.text[at..holder].to_owned(),
                    purpose: r.purpose,
                    holder_uuid: self.text[holder..holder + r.holder as usize].to_owned(),
                    site: site.clone(),
                    expiry: r.expiry,
                    prescriber_signing: r.prescriber_signing,
                    organisations: if teams {
                        organisations.clone()
                    } else {
                        Default::default()
                    },
                }
            })
            .collect()
    }
}

/// The renewals and the estate's version they were read at.
pub(crate) type CachedRenewals = (i64, Arc<Renewals>);

/// Every renewal the planner places, read again only when the estate has changed (every change
/// to people, cards, certificates, positions, sites and organisations adds to the audit chain;
/// which renewals there are does not depend on the day). One request reads at a time; the
/// others wait for its answer rather than repeat the work.
pub(crate) async fn renewals(
    state: &AppState,
    version: i64,
) -> Result<Arc<Renewals>, crate::web::Failure> {
    let mut cache = state.renewals.lock().await;
    if let Some((at, r)) = cache.as_ref() {
        if *at == version {
            return Ok(r.clone());
        }
    }
    let thresholds = state.checks.thresholds.clone();
    let read = blocking(state, move |s| {
        Ok(Arc::new(Renewals::new(renewals_due(s, &thresholds)?)))
    })
    .await?;
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
