//! Learning from resolved incidents: each confirmed cause is one more count for its symptom, at
//! its site and in the whole estate. Priors are Dirichlet posteriors shrunk toward the shipped
//! ones: the estate's toward the shipped priors, a site's toward the estate's, each by
//! `prior_strength` pseudo-counts — a handful of incidents nudges the order, hundreds dominate it.

use std::collections::HashMap;

use super::kb::KnowledgeBase;

/// Confirmed causes counted per symptom, aligned with each symptom's causes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    counts: HashMap<usize, Vec<f64>>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Tally {
        Tally::default()
    }

    /// Counts `n` resolved incidents of a symptom whose confirmed cause was `cause` (indices in
    /// the base). A cause that is not one of the symptom's is ignored: the base has no prior for
    /// it, so it cannot change the order.
    pub fn add(&mut self, kb: &KnowledgeBase, symptom: usize, cause: usize, n: f64) {
        let sym = &kb.symptoms[symptom];
        if let Some(k) = sym.causes.iter().position(|&(c, _)| c == cause) {
            self.counts
                .entry(symptom)
                .or_insert_with(|| vec![0.0; sym.causes.len()])[k] += n;
        }
    }

    /// Counts by ids, as a store returns them; unknown ids are ignored (an operator may have
    /// removed a cause since).
    pub fn add_by_id(&mut self, kb: &KnowledgeBase, symptom: &str, cause: &str, n: f64) {
        if let (Some(s), Some(c)) = (kb.symptom(symptom), kb.cause(cause)) {
            self.add(kb, s, c, n);
        }
    }

    /// The counts for one symptom, if any.
    pub fn get(&self, symptom: usize) -> Option<&[f64]> {
        self.counts.get(&symptom).map(Vec::as_slice)
    }

    /// Resolved incidents counted for a symptom.
    pub fn total(&self, symptom: usize) -> f64 {
        self.get(symptom).map_or(0.0, |c| c.iter().sum())
    }
}

/// The priors for a symptom after learning: the shipped ones, then the estate's counts, then the
/// site's, each level shrunk toward the one above.
pub fn learned_priors(
    kb: &KnowledgeBase,
    symptom: usize,
    estate: &Tally,
    site: Option<&Tally>,
) -> Vec<f64> {
    let k = kb.settings.prior_strength;
    let shipped: Vec<f64> = kb.symptoms[symptom].causes.iter().map(|c| c.1).collect();
    let estate_p = shrink(&shipped, estate.get(symptom), k);
    match site {
        Some(site) => shrink(&estate_p, site.get(symptom), k),
        None => estate_p,
    }
}

/// (k·prior + counts) / (k + n): the mean of a Dirichlet with `k` pseudo-counts spread as
/// `prior`, after `counts`.
fn shrink(prior: &[f64], counts: Option<&[f64]>, k: f64) -> Vec<f64> {
    let Some(counts) = counts else {
        return prior.to_vec();
    };
    let n: f64 = counts.iter().sum();
    prior
        .iter()
        .zip(counts)
        .map(|(p, c)| (k * p + c) / (k + n))
        .collect()
}
