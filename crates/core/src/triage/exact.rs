//! Expected minutes to fix computed exactly instead of sampled: the engine's decisions followed
//! down every branch, the oracle's, and the best any strategy could reach — an exhaustive search
//! over every order of checks and fixes under the same model. The last is the floor the engine
//! is judged against: a strategy that has to ask cannot match an oracle that knows the cause, and
//! the search says by how much no strategy can.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::Serialize;

use super::engine::{Decision, State};
use super::kb::{Check, KnowledgeBase};

/// What the engine knows without asking, before the first step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Answered {
    /// Nothing: every check is asked.
    Nothing,
    /// The estate's facts: software versions, certificates, card status and series, reader
    /// firmware, positions, integration profiles.
    Estate,
    /// The estate's and a workstation agent's (card seated, reader driver, Credential
    /// Management running, the CIS domains reachable).
    EstateAndAgent,
}

impl Answered {
    /// Every setting, least known first.
    pub const ALL: [Answered; 3] = [
        Answered::Nothing,
        Answered::Estate,
        Answered::EstateAndAgent,
    ];

    /// True when this setting answers the check without asking.
    pub fn answers(self, check: &Check) -> bool {
        match (self, &check.fact) {
            (Answered::Nothing, _) | (_, None) => false,
            (Answered::Estate, Some(key)) => !key.starts_with("agent."),
            (Answered::EstateAndAgent, Some(_)) => true,
        }
    }

    /// In plain words.
    pub fn describe(self) -> &'static str {
        match self {
            Answered::Nothing => "every answer asked",
            Answered::Estate => "the estate answering what it knows",
            Answered::EstateAndAgent => "the estate and the workstation agent answering",
        }
    }
}

/// Expected minutes to fix one symptom, exactly.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Expected {
    /// The engine's.
    pub engine: f64,
    /// The best any strategy can reach knowing what the engine knows (`None`: not searched, or
    /// too large to search).
    pub best: Option<f64>,
    /// An oracle's that knows the cause.
    pub oracle: f64,
}

/// The exhaustive search gives up on a symptom with more states than this (none of the shipped
/// base's comes near).
const MAX_STATES: usize = 20_000_000;

/// The engine's, the best strategy's and the oracle's expected minutes on a symptom, with the
/// given priors and what is known without asking; the best only with `search` (it takes minutes
/// on the largest symptoms). `None` for priors of the wrong shape.
pub fn expected(
    kb: &KnowledgeBase,
    symptom: usize,
    priors: Option<&[f64]>,
    answered: Answered,
    search: bool,
) -> Option<Expected> {
    let state = kb.start(symptom, priors).ok()?;
    let sym = &kb.symptoms[symptom];
    let total: f64 = state.weights.iter().sum();
    let oracle = sym
        .causes
        .iter()
        .zip(&state.weights)
        .map(|(&(c, _), w)| w / total * kb.known_cause_minutes(c, |_| false))
        .sum();
    let engine = with_answers(kb, symptom, state.clone(), answered, &mut |s| {
        engine_from(kb, symptom, s)
    });
    let searcher = if search {
        Search::new(kb, symptom, answered)
    } else {
        None
    };
    let best = searcher.and_then(|mut search| {
        let mut tried = state.tried.clone();
        search.value(&state.weights, 0, &mut tried, 0)
    });
    Some(Expected {
        engine,
        best,
        oracle,
    })
}

/// The expectation of `then` over every combination of answers the setting gives for free.
fn with_answers(
    kb: &KnowledgeBase,
    symptom: usize,
    state: State,
    answered: Answered,
    then: &mut dyn FnMut(&State) -> f64,
) -> f64 {
    let sym = &kb.symptoms[symptom];
    let free = sym
        .checks
        .iter()
        .copied()
        .find(|&ch| !state.asked[ch] && answered.answers(&kb.checks[ch]));
    let Some(ch) = free else {
        return then(&state);
    };
    let total: f64 = state.weights.iter().sum();
    let mut sum = 0.0;
    for r in 0..kb.checks[ch].results.len() {
        let mut next = state.clone();
        kb.observe(symptom, &mut next, ch, r);
        let p = next.weights.iter().sum::<f64>() / total;
        if p > 1e-12 {
            sum += p * with_answers(kb, symptom, next, answered, then);
        }
    }
    sum
}

/// The engine's expected minutes from a state, following its decision on every branch.
fn engine_from(kb: &KnowledgeBase, symptom: usize, state: &State) -> f64 {
    let total: f64 = state.weights.iter().sum();
    if total <= 0.0 {
        return kb.settings.escalation_minutes;
    }
    match kb.decide(symptom, state).0 {
        Decision::Check(ch) => {
            let check = &kb.checks[ch];
            let mut sum = check.cost_minutes;
            for r in 0..check.results.len() {
                let mut next = state.clone();
                kb.observe(symptom, &mut next, ch, r);
                let p = next.weights.iter().sum::<f64>() / total;
                if p > 1e-12 {
                    sum += p * engine_from(kb, symptom, &next);
                }
            }
            sum
        }
        Decision::Fix(f) => {
            let mut next = state.clone();
            kb.fix_failed(symptom, &mut next, f);
            let p_fail = next.weights.iter().sum::<f64>() / total;
            let after = if p_fail > 1e-12 {
                engine_from(kb, symptom, &next)
            } else {
                0.0
            };
            kb.fixes[f].cost_minutes + p_fail * after
        }
        Decision::Handover => kb.handover_expected(symptom, &state.weights, &state.tried),
    }
}

/// The exhaustive search for the best strategy, memoised on what has been answered and tried
/// (the weights follow from those, whatever the order).
struct Search<'a> {
    kb: &'a KnowledgeBase,
    symptom: usize,
    answered: Answered,
    /// Each of the symptom's checks' place value in the answers' key (mixed radix: 0 for
    /// unasked, 1 + the result).
    radix: Vec<u128>,
    memo: HashMap<(u128, u128), f64, BuildHasherDefault<KeyHasher>>,
}

/// The memo's keys are already well spread integers: a multiply-rotate hash (as rustc's
/// FxHasher) is several times faster here than the default SipHash, which guards against
/// hostile keys this search never sees.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u128(&mut self, x: u128) {
        self.write_u64(x as u64);
        self.write_u64((x >> 64) as u64);
    }
}

impl<'a> Search<'a> {
    /// `None` when the symptom's answers or fixes do not fit the keys.
    fn new(kb: &'a KnowledgeBase, symptom: usize, answered: Answered) -> Option<Search<'a>> {
        let sym = &kb.symptoms[symptom];
        let mut radix = Vec::new();
        let mut place: u128 = 1;
        for &ch in &sym.checks {
            radix.push(place);
            place = place.checked_mul(kb.checks[ch].results.len() as u128 + 1)?;
        }
        (sym.fixes.len() <= 128).then(|| Search {
            kb,
            symptom,
            answered,
            radix,
            memo: HashMap::default(),
        })
    }

    /// The least expected minutes from these weights, with the symptom's checks answered as
    /// `answers` says and the fixes in `tried` (also as `tried_key`, by place in the
    /// symptom's fixes) tried; `None` past [`MAX_STATES`].
    fn value(
        &mut self,
        w: &[f64],
        answers: u128,
        tried: &mut [bool],
        tried_key: u128,
    ) -> Option<f64> {
        if let Some(v) = self.memo.get(&(answers, tried_key)) {
            return Some(*v);
        }
        if self.memo.len() >= MAX_STATES {
            return None;
        }
        let kb = self.kb;
        let sym = &kb.symptoms[self.symptom];
        let total: f64 = w.iter().sum();
        // Repairing in the engine's order is a strategy too: its minutes bound the search.
        let mut best = kb.repair_cost(self.symptom, w, tried).0;
        best = best.min(kb.handover_expected(self.symptom, w, tried));
        for (k, &f) in sym.fixes.iter().enumerate() {
            let fix = &kb.fixes[f];
            if tried[f] || fix.cost_minutes >= best {
                continue;
            }
            let after = kb.failed(self.symptom, w, f);
            let p_fail = after.iter().sum::<f64>() / total;
            if p_fail > 1.0 - 1e-12 {
                continue;
            }
            let mut v = fix.cost_minutes;
            if p_fail > 1e-12 {
                tried[f] = true;
                let rest = self.value(&after, answers, tried, tried_key | 1 << k);
                tried[f] = false;
                v += p_fail * rest?;
            }
            best = best.min(v);
        }
        for (i, &ch) in sym.checks.iter().enumerate() {
            let check = &kb.checks[ch];
            // This check's digit of the key: 0 while unasked.
            let digit = answers / self.radix[i] % (check.results.len() as u128 + 1);
            if digit > 0 {
                continue;
            }
            // What is known without asking costs nothing to "ask": the best strategy asks it
            // first (an answer never hurts), which is the same as knowing it from the start.
            let mut v = if self.answered.answers(check) {
                0.0
            } else {
                check.cost_minutes
            };
            for r in 0..check.results.len() {
                if v >= best {
                    break;
                }
                let next = kb.answered(self.symptom, w, ch, r);
                let p = next.iter().sum::<f64>() / total;
                if p > 1e-12 {
                    let key = answers + self.radix[i] * (r as u128 + 1);
                    // A fix this answer makes available (unlocking is a function of the
                    // answers, so the memo's key still names the state).
                    let unlocked: Vec<usize> = kb.unlocks[ch][r]
                        .iter()
                        .copied()
                        .filter(|&f| tried[f])
                        .collect();
                    for &f in &unlocked {
                        tried[f] = false;
                    }
                    let rest = self.value(&next, key, tried, tried_key);
                    for &f in &unlocked {
                        tried[f] = true;
                    }
                    v += p * rest?;
                }
            }
            best = best.min(v);
        }
        self.memo.insert((answers, tried_key), best);
        Some(best)
    }
}
