//! The engine measured against two others on simulated faults: the fixed order the source
//! documents give, and an oracle that knows the cause. Each trial draws a symptom and a true
//! cause, then lets each strategy work until a fix clears the fault or it has to hand over. The
//! three see the same luck (common random numbers: one draw per fix and per check in each trial),
//! so their difference is the strategies' and not the dice's.

use serde::Serialize;

use super::engine::Decision;
use super::exact::{expected, Answered};
use super::kb::KnowledgeBase;
use super::learning::{learned_priors, Tally};
use crate::demo::Rng;

/// How to run a simulation.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Trials per strategy.
    pub n: usize,
    /// Seed of the random stream.
    pub seed: u64,
    /// Only this symptom (index); all of them, equally often, otherwise.
    pub symptom: Option<usize>,
    /// Also search exhaustively for the best any strategy can do (minutes of work on the
    /// largest symptoms).
    pub best: bool,
}

/// Mean and 95th-percentile minutes to fix.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Minutes {
    /// Mean minutes.
    pub mean: f64,
    /// 95th percentile.
    pub p95: f64,
}

/// The symptom the learning experiment uses when the simulation covers them all: seed 002's.
pub const LEARNING_SYMPTOM: &str = "cannot-sign";

/// How learning changes the engine's mean on a site whose causes differ from the priors.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Learning {
    /// The symptom learned on.
    pub symptom: String,
    /// How the site differs: its causes' likelihoods are the shipped ones in reverse order.
    pub site_mix: String,
    /// Mean minutes with the shipped priors.
    pub before: f64,
    /// After 50 resolved incidents at the site.
    pub after_50: f64,
    /// After 200.
    pub after_200: f64,
    /// The oracle's mean on the same site (the floor).
    pub oracle: f64,
}

/// The simulation's result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SimReport {
    /// Trials per strategy.
    pub trials: usize,
    /// The decision-theoretic engine, every answer asked.
    pub engine: Minutes,
    /// The engine when the estate answers what it knows (software versions, certificates, card
    /// status and series, reader firmware, positions, integration profiles) before the first
    /// step.
    pub engine_with_estate: Minutes,
    /// The engine when a workstation agent answers its probes as well.
    pub engine_with_agent: Minutes,
    /// The documents' fixed order (seed 002's middleware → certificate → firmware → re-issue for
    /// signing; each symptom's `fixed_order`).
    pub fixed_order: Minutes,
    /// An oracle that knows the cause and applies its best fixes.
    pub oracle: Minutes,
    /// The engine's mean over the oracle's (every answer asked).
    pub engine_over_oracle: f64,
    /// The same comparison computed exactly — every branch weighed by its probability, no
    /// sampling — for each of what the engine may know without asking.
    pub exact: Vec<ExactRow>,
    /// Learning on a skewed site.
    pub learning: Learning,
}

/// Expected minutes over the simulated symptoms (each equally often), computed exactly.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExactRow {
    /// What the engine knows without asking.
    pub answered: Answered,
    /// The engine's expected minutes.
    pub engine: f64,
    /// The best any strategy can reach knowing the same (when searched for).
    pub best: Option<f64>,
    /// The oracle's.
    pub oracle: f64,
    /// The engine's over the oracle's.
    pub engine_over_oracle: f64,
    /// The best strategy's over the oracle's: no engine can do better than this.
    pub best_over_oracle: Option<f64>,
}

/// One simulated fault: its symptom, its true cause and the luck of each step.
struct Trial {
    symptom: usize,
    cause: usize,
    /// One uniform draw per fix of the base: the fix works when below its success rate.
    fix_luck: Vec<f64>,
    /// One uniform draw per check: picks the answer from the true cause's likelihoods.
    check_luck: Vec<f64>,
}

fn uniform(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn draw(rng: &mut Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = uniform(rng) * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

impl Trial {
    fn new(kb: &KnowledgeBase, rng: &mut Rng, symptom: usize, mix: &[f64]) -> Trial {
        let k = draw(rng, mix);
        Trial {
            symptom,
            cause: kb.symptoms[symptom].causes[k].0,
            fix_luck: (0..kb.fixes.len()).map(|_| uniform(rng)).collect(),
            check_luck: (0..kb.checks.len()).map(|_| uniform(rng)).collect(),
        }
    }

    fn answer(&self, kb: &KnowledgeBase, check: usize) -> usize {
        let row = &kb.checks[check].likelihood[self.cause];
        let mut x = self.check_luck[check];
        for (r, p) in row.iter().enumerate() {
            if x < *p {
                return r;
            }
            x -= p;
        }
        row.len() - 1
    }

    fn works(&self, kb: &KnowledgeBase, fix: usize) -> bool {
        self.fix_luck[fix] < kb.fixes[fix].success[self.cause]
    }
}

/// Minutes the engine takes on a trial, with the given priors. The checks `answered` covers are
/// known before the first step, as they are when Cardwatch holds the card, the workstation and
/// the reader (and an agent runs there).
fn run_engine(kb: &KnowledgeBase, t: &Trial, priors: Option<&[f64]>, answered: Answered) -> f64 {
    let Ok(mut state) = kb.start(t.symptom, priors) else {
        return kb.settings.escalation_minutes;
    };
    for &ch in &kb.symptoms[t.symptom].checks {
        if answered.answers(&kb.checks[ch]) {
            let r = t.answer(kb, ch);
            kb.observe(t.symptom, &mut state, ch, r);
        }
    }
    // Every step asks or tries something new, so this ends; the bound is a belt and braces.
    for _ in 0..(kb.checks.len() + kb.fixes.len() + 1) {
        match kb.decide(t.symptom, &state).0 {
            Decision::Check(ch) => {
                state.spent += kb.checks[ch].cost_minutes;
                let r = t.answer(kb, ch);
                kb.observe(t.symptom, &mut state, ch, r);
            }
            Decision::Fix(f) => {
                state.spent += kb.fixes[f].cost_minutes;
                if t.works(kb, f) {
                    return state.spent;
                }
                kb.fix_failed(t.symptom, &mut state, f);
            }
            Decision::Handover => break,
        }
    }
    // A fix still waiting for its confirming answer was never tried: support may use it.
    let tried: Vec<bool> = state
        .tried
        .iter()
        .zip(&kb.fixes)
        .map(|(&t, f)| t && f.only_after.is_empty())
        .collect();
    state.spent + hand_over(kb, t, &tried)
}

/// Minutes the documents' fixed order takes.
fn run_fixed(kb: &KnowledgeBase, t: &Trial) -> f64 {
    let mut spent = 0.0;
    let mut tried = vec![false; kb.fixes.len()];
    for &f in &kb.symptoms[t.symptom].fixed_order {
        spent += kb.fixes[f].cost_minutes;
        if t.works(kb, f) {
            return spent;
        }
        tried[f] = true;
    }
    spent + hand_over(kb, t, &tried)
}

/// Minutes an oracle takes: it knows the cause and tries only the fixes for it, best first.
fn run_oracle(kb: &KnowledgeBase, t: &Trial) -> f64 {
    knowing(kb, t, &vec![false; kb.fixes.len()])
}

/// Minutes of a hand-over: support takes it (`escalation_minutes`), then works as the oracle
/// would with the fixes not yet tried — the draw of what [`KnowledgeBase::handover_minutes`]
/// expects.
fn hand_over(kb: &KnowledgeBase, t: &Trial, tried: &[bool]) -> f64 {
    let left = kb.cause_fixes[t.cause].iter().any(|&f| !tried[f]);
    kb.settings.escalation_minutes + if left { knowing(kb, t, tried) } else { 0.0 }
}

/// Minutes to clear the trial's fault knowing its cause, with the untried fixes in order of
/// success ÷ cost; when none works (or none is left), those minutes plus a hand-over — the
/// draw of what [`KnowledgeBase::known_cause_minutes`] expects.
fn knowing(kb: &KnowledgeBase, t: &Trial, tried: &[bool]) -> f64 {
    let mut spent = 0.0;
    for &f in &kb.cause_fixes[t.cause] {
        if tried[f] {
            continue;
        }
        spent += kb.fixes[f].cost_minutes;
        if t.works(kb, f) {
            return spent;
        }
    }
    spent + kb.settings.escalation_minutes
}

fn summary(mut xs: Vec<f64>) -> Minutes {
    if xs.is_empty() {
        return Minutes {
            mean: 0.0,
            p95: 0.0,
        };
    }
    xs.sort_by(f64::total_cmp);
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    // Nearest rank.
    let rank = ((0.95 * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    Minutes {
        mean,
        p95: xs[rank - 1],
    }
}

fn shipped_mix(kb: &KnowledgeBase, s: usize) -> Vec<f64> {
    kb.symptoms[s].causes.iter().map(|c| c.1).collect()
}

/// Runs the comparison and the learning experiment.
pub fn simulate(kb: &KnowledgeBase, cfg: &SimConfig) -> SimReport {
    let mut rng = Rng::new(cfg.seed);
    let symptoms: Vec<usize> = match cfg.symptom {
        Some(s) => vec![s],
        None => (0..kb.symptoms.len()).collect(),
    };
    let mut engine = Vec::with_capacity(cfg.n);
    let mut with_estate = Vec::with_capacity(cfg.n);
    let mut with_agent = Vec::with_capacity(cfg.n);
    let mut fixed = Vec::with_capacity(cfg.n);
    let mut oracle = Vec::with_capacity(cfg.n);
    for i in 0..cfg.n {
        let s = symptoms[i % symptoms.len()];
        let t = Trial::new(kb, &mut rng, s, &shipped_mix(kb, s));
        engine.push(run_engine(kb, &t, None, Answered::Nothing));
        with_estate.push(run_engine(kb, &t, None, Answered::Estate));
        with_agent.push(run_engine(kb, &t, None, Answered::EstateAndAgent));
        fixed.push(run_fixed(kb, &t));
        oracle.push(run_oracle(kb, &t));
    }
    let engine = summary(engine);
    let oracle = summary(oracle);
    // Learning is shown on one symptom, so that 50 and 200 incidents are that many of it.
    let learn_on = cfg
        .symptom
        .or_else(|| kb.symptom(LEARNING_SYMPTOM))
        .unwrap_or(0);
    SimReport {
        trials: cfg.n,
        engine,
        engine_with_estate: summary(with_estate),
        engine_with_agent: summary(with_agent),
        fixed_order: summary(fixed),
        engine_over_oracle: engine.mean / oracle.mean,
        exact: Answered::ALL
            .iter()
            .map(|&a| exact_row(kb, &symptoms, a, cfg.best))
            .collect(),
        oracle,
        learning: learning(kb, learn_on, cfg.n, &mut rng),
    }
}

/// The exact expected minutes over `symptoms`, each equally often.
fn exact_row(kb: &KnowledgeBase, symptoms: &[usize], answered: Answered, best: bool) -> ExactRow {
    let mut engine = 0.0;
    let mut oracle = 0.0;
    let mut floor = Some(0.0);
    for &s in symptoms {
        let Some(x) = expected(kb, s, None, answered, best) else {
            continue;
        };
        engine += x.engine;
        oracle += x.oracle;
        floor = floor.zip(x.best).map(|(a, b)| a + b);
    }
    let n = symptoms.len() as f64;
    let best = if best { floor.map(|b| b / n) } else { None };
    ExactRow {
        answered,
        engine: engine / n,
        best,
        oracle: oracle / n,
        engine_over_oracle: engine / oracle,
        best_over_oracle: best.map(|b| b * n / oracle),
    }
}

/// A site whose every symptom has its causes' likelihoods reversed (the rarest shipped cause is
/// the commonest there): the engine's mean with the shipped priors, then after 50 and 200
/// resolved incidents at that site have been learned from.
fn learning(kb: &KnowledgeBase, symptom: usize, n: usize, rng: &mut Rng) -> Learning {
    let symptoms = &[symptom];
    let skewed = |s: usize| -> Vec<f64> {
        let mut mix = shipped_mix(kb, s);
        mix.reverse();
        mix
    };
    let mut site = Tally::new();
    let estate = Tally::new();
    let evaluate = |site: &Tally, rng: &mut Rng| -> (f64, f64) {
        let mut rng_eval = Rng::new(rng.next_u64());
        let mut e = Vec::new();
        let mut o = Vec::new();
        let mut priors = Vec::new();
        for &s in symptoms {
            priors.push(learned_priors(kb, s, &estate, Some(site)));
        }
        for i in 0..n {
            let k = i % symptoms.len();
            let s = symptoms[k];
            let t = Trial::new(kb, &mut rng_eval, s, &skewed(s));
            e.push(run_engine(kb, &t, Some(&priors[k]), Answered::Nothing));
            o.push(run_oracle(kb, &t));
        }
        (summary(e).mean, summary(o).mean)
    };
    // Evaluations share one seed so the three means differ only by what was learned.
    let eval_seed = rng.next_u64();
    let (before, oracle) = evaluate(&site, &mut Rng::new(eval_seed));
    let mut learned = 0;
    let mut after = |count: usize, site: &mut Tally, rng: &mut Rng| {
        while learned < count {
            let s = symptoms[learned % symptoms.len()];
            let t = Trial::new(kb, rng, s, &skewed(s));
            site.add(kb, s, t.cause, 1.0);
            learned += 1;
        }
        evaluate(site, &mut Rng::new(eval_seed)).0
    };
    let after_50 = after(50, &mut site, rng);
    let after_200 = after(200, &mut site, rng);
    Learning {
        symptom: kb.symptoms[symptom].id.clone(),
        site_mix: "each symptom's cause likelihoods in reverse order of the shipped priors".into(),
        before,
        after_50,
        after_200,
        oracle,
    }
}
