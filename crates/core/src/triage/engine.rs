//! The decision-theoretic engine: single-fault Bayesian updating, and the next step chosen to
//! minimise the expected minutes until the card works again.
//!
//! Exactly one of a symptom's causes is at fault. Each answer multiplies every cause's weight by
//! how likely that answer is under it; each fix that did not work multiplies it by the chance the
//! fix fails under it. The repairs alone are ordered by P(fixed by this step) ÷ cost, which is the
//! optimal order for single-fault repair-and-test sequences (Kadane & Simon 1977; Heckerman,
//! Breese & Rommelse 1995); the order is recomputed after each simulated failure because a fix may
//! clear more than one cause. A check is chosen instead when asking it first and then repairing in
//! the best order for its answer costs less on average than repairing now (one-step look-ahead).
//! `docs/TRIAGE.md` gives the maths.

use super::kb::{KnowledgeBase, Who};
use super::plain::Reading;

/// A fact the estate or an agent already knows, that answers a check without asking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    /// The key checks name in `fact` (`software.oberthur-middleware`).
    pub key: String,
    /// Its value, one of the check's results (`outdated`).
    pub value: String,
    /// Where it comes from, in plain words ("the estate: Oberthur middleware 6.1.0.2 on
    /// GP-A81001-03, current is 6.2.0.4").
    pub because: String,
}

/// What has happened in one triage so far.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Case {
    /// Observations in the order they were made: a check's id and its result, or a fix's id and
    /// `fixed` / `not-fixed`.
    pub observations: Vec<(String, String)>,
    /// The problem as the person at the desk described it: the checks it already answers are
    /// not asked ("the reader's light is off").
    pub words: Option<String>,
    /// Facts from the estate and the agent.
    pub facts: Vec<Fact>,
    /// Learned priors over the symptom's causes (in the symptom's order), if any.
    pub priors: Option<Vec<f64>>,
    /// Minutes since the fault was reported, if known; the steps' own minutes count when more.
    pub elapsed_minutes: Option<f64>,
    /// Other people at the same site who reported the same symptom within the cluster window.
    pub others_affected: u32,
}

/// What kind of step comes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// Ask, look up or probe.
    Check,
    /// Try a fix, then try the card again.
    Fix,
    /// Hand over to support with the escalation packet.
    Escalate,
    /// A fix worked: the incident can be closed.
    Done,
}

impl StepKind {
    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Check => "check",
            StepKind::Fix => "fix",
            StepKind::Escalate => "escalate",
            StepKind::Done => "done",
        }
    }
}

/// The step the engine advises, with its reason.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Check, fix, escalate or done.
    pub kind: StepKind,
    /// The check's or fix's id (`escalate`, `done` otherwise).
    pub id: String,
    /// What to do, in plain words.
    pub prompt: String,
    /// Why this step now.
    pub reason: String,
    /// Minutes it takes.
    pub cost_minutes: f64,
    /// Who can do it.
    pub who: Option<Who>,
    /// The answers a check can have (for a fix: `fixed`, `not-fixed`).
    pub results: Vec<String>,
}

/// A check the engine did not ask because a fact answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    /// The check's id.
    pub check: String,
    /// The answer the fact gives.
    pub result: String,
    /// Why it was not asked.
    pub because: String,
}

/// The engine's advice for one case.
#[derive(Clone, Debug, PartialEq)]
pub struct Advice {
    /// The symptom's index.
    pub symptom: usize,
    /// What to do next.
    pub next: Step,
    /// P(cause | everything so far), most likely first: (cause index, probability).
    pub posterior: Vec<(usize, f64)>,
    /// Time to hand over with the escalation packet.
    pub escalate: bool,
    /// Why escalate (empty when not).
    pub escalate_because: Vec<String>,
    /// Checks answered by facts instead of being asked.
    pub known: Vec<Known>,
    /// Minutes spent on the steps so far.
    pub minutes_spent: f64,
    /// Expected minutes from here until fixed (or handed over), if the advice is followed.
    pub expected_minutes: f64,
    /// The cause a working fix confirms (when `next` is done).
    pub confirmed_cause: Option<usize>,
    /// What to do meanwhile, and what never to do.
    pub guardrail: String,
    /// Said beside the step when others at the site report the same but this card's or this
    /// person's own record explains it better (so the step is not a hand-over).
    pub aside: Option<String>,
    /// When the next step is a fix: the cause it most likely clears, which may be another than
    /// the likeliest (a cheap fix tried first).
    pub fix_for: Option<usize>,
}

/// An observation that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// Neither a check nor a fix.
    #[error("{id:?} is neither a check nor a fix of the knowledge base — use an id from `cardwatch triage --list` or the previous step")]
    UnknownStep {
        /// The id given.
        id: String,
    },
    /// A result the check does not have.
    #[error("{id:?} has no result {result:?} — use one of: {allowed}")]
    BadResult {
        /// The check or fix.
        id: String,
        /// The result given.
        result: String,
        /// The results allowed, comma-separated.
        allowed: String,
    },
    /// Learned priors of the wrong shape.
    #[error("the learned priors have {given} values but the symptom has {expected} causes")]
    BadPriors {
        /// Values given.
        given: usize,
        /// Causes of the symptom.
        expected: usize,
    },
}

impl CaseError {
    /// The observation's id the error is about, for an API's `field`.
    pub fn step_id(&self) -> Option<&str> {
        match self {
            CaseError::UnknownStep { id } | CaseError::BadResult { id, .. } => Some(id),
            CaseError::BadPriors { .. } => None,
        }
    }
}

/// How many checks ahead the engine looks when weighing a check against repairing now.
pub const LOOKAHEAD: u32 = 2;

/// The result a fix has when it worked.
pub const FIXED: &str = "fixed";
/// The result a fix has when it did not.
pub const NOT_FIXED: &str = "not-fixed";
/// The answer to a check that could not be made, or a fix that could not be tried (no admin
/// rights, the holder gone home): it teaches nothing, and the step is not offered again.
pub const CANNOT: &str = "cannot";

/// The engine's working state: weights over the symptom's causes (in the symptom's order), what
/// was asked and tried, minutes spent.
#[derive(Clone, Debug, PartialEq)]
pub struct State {
    /// Unnormalised P(cause) for each of the symptom's causes.
    pub weights: Vec<f64>,
    /// Checks answered (by index in the base).
    pub asked: Vec<bool>,
    /// Fixes tried (by index in the base).
    pub tried: Vec<bool>,
    /// Minutes spent so far.
    pub spent: f64,
}

/// The engine's bare decision, before it is explained.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Decision {
    /// Ask this check.
    Check(usize),
    /// Try this fix.
    Fix(usize),
    /// Hand over to support: no check or fix left is worth more than that.
    Handover,
}

impl KnowledgeBase {
    /// The starting state of a symptom, from the shipped priors or learned ones.
    pub fn start(&self, symptom: usize, priors: Option<&[f64]>) -> Result<State, CaseError> {
        let sym = &self.symptoms[symptom];
        let weights = match priors {
            Some(p) if p.len() != sym.causes.len() => {
                return Err(CaseError::BadPriors {
                    given: p.len(),
                    expected: sym.causes.len(),
                })
            }
            Some(p) => p.to_vec(),
            None => sym.causes.iter().map(|c| c.1).collect(),
        };
        Ok(State {
            weights,
            asked: vec![false; self.checks.len()],
            // A fix waiting for a confirming answer counts as tried until it comes.
            tried: self
                .fixes
                .iter()
                .map(|f| !f.only_after.is_empty())
                .collect(),
            spent: 0.0,
        })
    }

    /// Updates the state with a check's answer (by result index).
    pub fn observe(&self, symptom: usize, state: &mut State, check: usize, result: usize) {
        state.weights = self.answered(symptom, &state.weights, check, result);
        state.asked[check] = true;
        for &f in &self.unlocks[check][result] {
            state.tried[f] = false;
        }
    }

    /// Updates the state with a fix that did not work.
    pub fn fix_failed(&self, symptom: usize, state: &mut State, fix: usize) {
        state.weights = self.failed(symptom, &state.weights, fix);
        state.tried[fix] = true;
    }

    /// The weights after a check's answer (by result index); their sum over the weights'
    /// before is the answer's probability.
    pub fn answered(
        &self,
        symptom: usize,
        weights: &[f64],
        check: usize,
        result: usize,
    ) -> Vec<f64> {
        let likelihood = &self.checks[check].likelihood;
        weights
            .iter()
            .zip(&self.symptoms[symptom].causes)
            .map(|(w, &(c, _))| w * likelihood[c][result])
            .collect()
    }

    /// The weights after a fix did not work; their sum over the weights' before is the chance
    /// it fails.
    pub fn failed(&self, symptom: usize, weights: &[f64], fix: usize) -> Vec<f64> {
        let success = &self.fixes[fix].success;
        weights
            .iter()
            .zip(&self.symptoms[symptom].causes)
            .map(|(w, &(c, _))| w * (1.0 - success[c]))
            .collect()
    }

    /// Expected minutes of handing over from these weights (need not be normalised) after the
    /// fixes in `tried`.
    pub fn handover_expected(&self, symptom: usize, weights: &[f64], tried: &[bool]) -> f64 {
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return 0.0;
        }
        weights
            .iter()
            .zip(&self.symptoms[symptom].causes)
            // Support is not held back by a fix waiting for an answer at the desk: it knows.
            .map(|(w, &(c, _))| {
                w / total
                    * self.handover_minutes(c, |f| tried[f] && self.fixes[f].only_after.is_empty())
            })
            .sum()
    }

    /// The expected minutes to fix from this state by repairs alone, in the best order and
    /// handing over at the best point, and the first repair of that order (`None` when handing
    /// over now is best or nothing is left). Weights need not be normalised.
    pub fn repair_cost(
        &self,
        symptom: usize,
        weights: &[f64],
        tried: &[bool],
    ) -> (f64, Option<usize>) {
        let sym = &self.symptoms[symptom];
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return (self.settings.escalation_minutes, None);
        }
        let mut w: Vec<f64> = weights.iter().map(|x| x / total).collect();
        // The fixes tried, and those placed in the order so far: support would not repeat them.
        let mut placed = tried.to_vec();
        let mut spent = 0.0;
        let mut best = (self.handover_expected(symptom, &w, &placed), None);
        let mut first = None;
        loop {
            let reach: f64 = w.iter().sum();
            let mut pick: Option<(f64, usize)> = None; // (efficiency, fix)
            for &f in &sym.fixes {
                if placed[f] {
                    continue;
                }
                let fix = &self.fixes[f];
                let p: f64 = w
                    .iter()
                    .zip(&sym.causes)
                    .map(|(x, &(c, _))| x * fix.success[c])
                    .sum();
                let e = p / fix.cost_minutes;
                if p > 1e-12 && pick.is_none_or(|(b, _)| e > b) {
                    pick = Some((e, f));
                }
            }
            let Some((_, f)) = pick else { break };
            placed[f] = true;
            first.get_or_insert(f);
            spent += reach * self.fixes[f].cost_minutes;
            for (x, &(c, _)) in w.iter_mut().zip(&sym.causes) {
                *x *= 1.0 - self.fixes[f].success[c];
            }
            // Stopping here and handing over what is left (`w` sums to its probability).
            let left: f64 = w.iter().sum();
            let here = spent + left * self.handover_expected(symptom, &w, &placed);
            if here < best.0 - 1e-9 {
                best = (here, first);
            }
        }
        best
    }

    /// The next step from a state: a check when asking it, then acting best on its answer
    /// (looking [`LOOKAHEAD`] checks ahead), costs less on average than repairing now; else the
    /// first repair of the best order, or a hand-over. Also returns the expected minutes from
    /// here and, for a check, the minutes it saves over repairing now.
    pub fn decide(&self, symptom: usize, state: &State) -> (Decision, f64, f64) {
        let mut asked = state.asked.clone();
        let repair = self.repair_cost(symptom, &state.weights, &state.tried).0;
        let (expected, decision) =
            self.lookahead(symptom, &state.weights, &mut asked, &state.tried, LOOKAHEAD);
        let saving = match decision {
            Decision::Check(_) => repair - expected,
            _ => 0.0,
        };
        (decision, expected, saving)
    }

    /// Expected minutes from `weights` under the best of: repairing now (in the best order), or
    /// asking one unasked check and then acting best on its answer with `depth - 1` more checks
    /// of look-ahead.
    fn lookahead(
        &self,
        symptom: usize,
        weights: &[f64],
        asked: &mut [bool],
        tried: &[bool],
        depth: u32,
    ) -> (f64, Decision) {
        let sym = &self.symptoms[symptom];
        let (repair, first) = self.repair_cost(symptom, weights, tried);
        let mut best = (repair, first.map_or(Decision::Handover, Decision::Fix));
        if depth == 0 {
            return best;
        }
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return best;
        }
        // The first repair, then deciding afresh on its failure: a failed fix is evidence too,
        // and may make a check worth asking that was not before.
        if let Some(f) = first {
            let fix = &self.fixes[f];
            let after = self.failed(symptom, weights, f);
            let p_fail = after.iter().sum::<f64>() / total;
            let mut tried_after = tried.to_vec();
            tried_after[f] = true;
            let expected = fix.cost_minutes
                + p_fail
                    * self
                        .lookahead(symptom, &after, asked, &tried_after, depth - 1)
                        .0;
            if expected < best.0 - 1e-9 {
                best = (expected, Decision::Fix(f));
            }
        }
        let mut scratch = weights.to_vec();
        for &ch in &sym.checks {
            let check = &self.checks[ch];
            if asked[ch] || check.cost_minutes >= best.0 {
                continue;
            }
            asked[ch] = true;
            let mut expected = check.cost_minutes;
            for r in 0..check.results.len() {
                let mut p_r = 0.0;
                for ((s, w), &(c, _)) in scratch.iter_mut().zip(weights).zip(&sym.causes) {
                    *s = w * check.likelihood[c][r];
                    p_r += *s;
                }
                if p_r > 0.0 {
                    let unlocked;
                    let tried = if self.unlocks[ch][r].is_empty() {
                        tried
                    } else {
                        let mut t = tried.to_vec();
                        for &f in &self.unlocks[ch][r] {
                            t[f] = false;
                        }
                        unlocked = t;
                        &unlocked
                    };
                    let next = self.lookahead(symptom, &scratch, asked, tried, depth - 1).0;
                    expected += p_r / total * next;
                }
                if expected >= best.0 {
                    break;
                }
            }
            asked[ch] = false;
            // Ties go to repairing: a check must save time to be worth asking.
            if expected < best.0 - 1e-9 {
                best = (expected, Decision::Check(ch));
            }
        }
        best
    }

    /// Advice for a case: the facts and observations applied in order, then the next step with
    /// its reason, the posterior, and whether to escalate.
    pub fn advise(&self, symptom: usize, case: &Case) -> Result<Advice, CaseError> {
        let sym = &self.symptoms[symptom];
        let settings = &self.settings;
        let mut state = self.start(symptom, case.priors.as_deref())?;
        let mut fixed_by = None;
        for (id, result) in &case.observations {
            if result.trim() == CANNOT {
                if let Some(ch) = self.check(id) {
                    state.asked[ch] = true;
                } else if let Some(f) = self.fix(id) {
                    state.tried[f] = true;
                } else {
                    return Err(CaseError::UnknownStep { id: id.clone() });
                }
            } else if let Some(ch) = self.check(id) {
                let check = &self.checks[ch];
                let r = check
                    .results
                    .iter()
                    .position(|x| x == result.trim())
                    .ok_or_else(|| CaseError::BadResult {
                        id: id.clone(),
                        result: result.clone(),
                        allowed: check.results.join(", "),
                    })?;
                if !state.asked[ch] {
                    state.spent += check.cost_minutes;
                }
                self.observe(symptom, &mut state, ch, r);
            } else if let Some(f) = self.fix(id) {
                state.spent += self.fixes[f].cost_minutes;
                match result.trim() {
                    FIXED => {
                        fixed_by = Some((f, state.weights.clone()));
                        state.tried[f] = true;
                    }
                    NOT_FIXED => self.fix_failed(symptom, &mut state, f),
                    _ => {
                        return Err(CaseError::BadResult {
                            id: id.clone(),
                            result: result.clone(),
                            allowed: format!("{FIXED}, {NOT_FIXED}"),
                        })
                    }
                }
            } else {
                return Err(CaseError::UnknownStep { id: id.clone() });
            }
        }
        // What was said when the problem was described answers the checks it plainly settles:
        // asking "is the reader's light on?" of someone who said it is off wastes their minutes
        // and their trust. An answer given since wins, as a person's words win over the facts.
        let mut known = Vec::new();
        if let Some(words) = case
            .words
            .as_deref()
            .map(str::trim)
            .filter(|w| !w.is_empty())
        {
            for (ch, r) in Reading::new(self, words).answers(symptom) {
                if state.asked[ch] {
                    continue;
                }
                self.observe(symptom, &mut state, ch, r);
                known.push(Known {
                    check: self.checks[ch].id.clone(),
                    result: self.checks[ch].results[r].clone(),
                    because: format!("not asked: the problem was described as \"{words}\""),
                });
            }
        }
        // Facts answer the checks nobody has asked yet; a fact whose value is not one of the
        // check's results is not evidence about it and is left alone.
        for &ch in &sym.checks {
            let check = &self.checks[ch];
            if state.asked[ch] {
                continue;
            }
            let Some(key) = &check.fact else { continue };
            let Some(fact) = case.facts.iter().find(|f| &f.key == key) else {
                continue;
            };
            if let Some(r) = check.results.iter().position(|x| *x == fact.value) {
                self.observe(symptom, &mut state, ch, r);
                known.push(Known {
                    check: check.id.clone(),
                    result: fact.value.clone(),
                    because: format!("not asked: {}", fact.because),
                });
            }
        }
        let total: f64 = state.weights.iter().sum();
        let mut posterior: Vec<(usize, f64)> = sym
            .causes
            .iter()
            .zip(&state.weights)
            .map(|(&(c, _), &w)| (c, if total > 0.0 { w / total } else { 0.0 }))
            .collect();
        posterior.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        // Others at the site with the same symptom point to a shared fault, unless this card's
        // or this person's own record already makes a fault of their own the likelier (an
        // expired certificate, a locked card): handing that over as a site's fault would send
        // support the wrong way and keep the holder from the step that fixes it.
        let aside: Option<String> = (case.others_affected + 1 >= settings.cluster_people)
            .then_some(posterior[0])
            .filter(|&(top, p)| self.causes[top].personal && p > 0.5)
            .map(|_| {
                format!(
                    "{} people at this site reported the same within {} minutes, but this looks like a fault of this card or this person's record, not the site's.",
                    case.others_affected + 1,
                    settings.cluster_window_minutes
                )
            });
        let minutes_spent = state.spent;
        let base = |next: Step, escalate_because: Vec<String>, expected: f64, confirmed| Advice {
            symptom,
            escalate: !escalate_because.is_empty(),
            next,
            posterior: posterior.clone(),
            escalate_because,
            known: known.clone(),
            minutes_spent,
            expected_minutes: expected,
            confirmed_cause: confirmed,
            guardrail: settings.guardrail.clone(),
            aside: aside.clone(),
            fix_for: None,
        };

        if let Some((f, before)) = fixed_by {
            // The cause the fix most likely cleared, judged on the evidence before it.
            let cause = sym
                .causes
                .iter()
                .zip(&before)
                .map(|(&(c, _), w)| (c, w * self.fixes[f].success[c]))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|x| x.0);
            let name = cause.map_or("unknown", |c| self.causes[c].name.as_str());
            let next = Step {
                kind: StepKind::Done,
                id: "done".into(),
                prompt: "The card works again: close the incident.".into(),
                reason: format!("That worked. The cause it most likely cleared: {name}."),
                cost_minutes: 0.0,
                who: None,
                results: Vec::new(),
            };
            return Ok(base(next, Vec::new(), 0.0, cause));
        }

        let mut because = Vec::new();
        // The clock since the report, or the steps' own minutes if more (steps recorded together
        // afterwards, or a clock not given).
        // Said as what it is: time on the clock, or the steps' own estimate.
        let clock = case.elapsed_minutes.unwrap_or(0.0);
        if clock >= settings.escalate_after_minutes && clock >= minutes_spent {
            because.push(format!(
                "{clock:.0} minutes have gone since the fault was reported (pass it on after {:.0} minutes)",
                settings.escalate_after_minutes
            ));
        } else if minutes_spent >= settings.escalate_after_minutes {
            because.push(format!(
                "the steps tried so far take about {minutes_spent:.0} minutes by Cardwatch's estimates (pass it on after {:.0} minutes)",
                settings.escalate_after_minutes
            ));
        }
        if case.others_affected + 1 >= settings.cluster_people && aside.is_none() {
            because.push(format!(
                "{} people at this site reported the same symptom within {} minutes — likely a shared fault",
                case.others_affected + 1,
                settings.cluster_window_minutes
            ));
        }
        if total <= 0.0 {
            because.push("the answers fit none of the known causes".into());
        }
        let (decision, expected, saving) = self.decide(symptom, &state);
        if decision == Decision::Handover && total > 0.0 {
            let untried = sym.fixes.iter().any(|&f| {
                !state.tried[f]
                    && sym
                        .causes
                        .iter()
                        .zip(&state.weights)
                        .any(|(&(c, _), w)| *w > 0.0 && self.fixes[f].success[c] > 0.0)
            });
            because.push(if untried {
                "handing over now is quicker on average than the checks and fixes left".into()
            } else {
                "every fix for this symptom has been tried".into()
            });
        }
        if !because.is_empty() {
            let next = Step {
                kind: StepKind::Escalate,
                id: "escalate".into(),
                prompt: "Hand over to IT support or the Registration Authority with the escalation packet.".into(),
                reason: format!("Escalate: {}.", because.join("; ")),
                cost_minutes: settings.escalation_minutes,
                who: None,
                results: Vec::new(),
            };
            return Ok(base(next, because, settings.escalation_minutes, None));
        }
        let pct = |p: f64| format!("{:.0}%", p * 100.0);
        let (top_cause, top_p) = posterior[0];
        let mut fix_for = None;
        let next = match decision {
            Decision::Check(ch) => {
                let check = &self.checks[ch];
                Step {
                    kind: StepKind::Check,
                    id: check.id.clone(),
                    prompt: check.prompt.clone(),
                    reason: format!(
                        "Most likely: {}, {}; asking this first saves about {:.1} minutes on average; {}.{}",
                        self.causes[top_cause].name,
                        pct(top_p),
                        saving,
                        minutes_text(check.cost_minutes),
                        aside_text(aside.as_deref())
                    ),
                    cost_minutes: check.cost_minutes,
                    who: Some(check.who),
                    results: check.results.clone(),
                }
            }
            Decision::Fix(f) => {
                let fix = &self.fixes[f];
                let cause = posterior
                    .iter()
                    .map(|&(c, p)| (c, p * fix.success[c]))
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map_or(top_cause, |x| x.0);
                fix_for = Some(cause);
                let chance: f64 = posterior.iter().map(|&(c, p)| p * fix.success[c]).sum();
                let lead = if cause == top_cause {
                    format!("Most likely: {}, {}", self.causes[cause].name, pct(top_p))
                } else {
                    format!(
                        "Clears {}, {} (most likely now: {}, {})",
                        self.causes[cause].name,
                        pct(posterior.iter().find(|x| x.0 == cause).map_or(0.0, |x| x.1)),
                        self.causes[top_cause].name,
                        pct(top_p)
                    )
                };
                let last = if fix.last_resort {
                    " Nothing cheaper is left."
                } else {
                    ""
                };
                Step {
                    kind: StepKind::Fix,
                    id: fix.id.clone(),
                    prompt: fix.prompt.clone(),
                    reason: format!(
                        "{lead}; {} chance this fixes it; {}.{last}{}",
                        pct(chance),
                        minutes_text(fix.cost_minutes),
                        aside_text(aside.as_deref())
                    ),
                    cost_minutes: fix.cost_minutes,
                    who: Some(fix.who),
                    results: vec![FIXED.into(), NOT_FIXED.into()],
                }
            }
            Decision::Handover => unreachable!("escalated above"),
        };
        Ok(Advice {
            fix_for,
            ..base(next, Vec::new(), expected, None)
        })
    }
}

impl Advice {
    /// Whether the next step is the Registration Authority's to do in person (a renewal, a
    /// re-issue): the desk books it, and cannot say there and then whether it worked.
    pub fn books_ra(&self) -> bool {
        self.next.kind == StepKind::Fix && self.next.who == Some(Who::Ra)
    }
}

/// An aside as the end of a reason: a space and the sentence, or nothing.
fn aside_text(aside: Option<&str>) -> String {
    aside.map(|a| format!(" {a}")).unwrap_or_default()
}

/// "1 minute", "0.5 minutes", "15 minutes".
pub fn minutes_text(m: f64) -> String {
    if m < 1.0 - 1e-9 {
        // Under a minute reads as seconds ("30 seconds", not "0.5 minutes").
        format!("{:.0} seconds", (m * 60.0).round().max(1.0))
    } else if (m - 1.0).abs() < 1e-9 {
        "1 minute".into()
    } else if (m - m.round()).abs() < 1e-9 {
        format!("{m:.0} minutes")
    } else {
        format!("{m:.1} minutes")
    }
}
