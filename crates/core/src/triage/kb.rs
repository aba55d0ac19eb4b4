//! The triage knowledge base: symptoms, causes, checks and fixes as data
//! (`knowledge/triage/*.toml`, shipped, overridable), compiled into index-based tables the engine
//! reads without looking anything up by name.
//!
//! Every file has the same shape (`[[symptom]]`, `[[cause]]`, `[[check]]`, `[[fix]]` and an
//! optional `[settings]`), so a fact can live next to the ones it belongs with; ids are global
//! and an operator's file replaces an entry by id. A base that is not consistent (probabilities out
//! of range or not summing to one, unknown ids, a symptom with no causes, a cause nothing can fix)
//! is refused with the file, line and reason.

use serde::Deserialize;

use super::plain::{Phrasing, Vocabulary};

mod load;

/// The shipped knowledge base, file by file.
pub const SHIPPED: &[(&str, &str)] = &[
    (
        "knowledge/triage/settings.toml",
        include_str!("../../../../knowledge/triage/settings.toml"),
    ),
    (
        "knowledge/triage/causes.toml",
        include_str!("../../../../knowledge/triage/causes.toml"),
    ),
    (
        "knowledge/triage/checks.toml",
        include_str!("../../../../knowledge/triage/checks.toml"),
    ),
    (
        "knowledge/triage/fixes.toml",
        include_str!("../../../../knowledge/triage/fixes.toml"),
    ),
    (
        "knowledge/triage/words.toml",
        include_str!("../../../../knowledge/triage/words.toml"),
    ),
    (
        "knowledge/triage/symptoms.toml",
        include_str!("../../../../knowledge/triage/symptoms.toml"),
    ),
    (
        "knowledge/triage/coded-errors.toml",
        include_str!("../../../../knowledge/triage/coded-errors.toml"),
    ),
    (
        "knowledge/triage/onboarding.toml",
        include_str!("../../../../knowledge/triage/onboarding.toml"),
    ),
];

/// How far probabilities that should sum to one may stray (rounding in hand-written files).
const SUM_TOLERANCE: f64 = 0.005;

/// Who can carry out a check or a fix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    /// Whoever is at the desk: reception, the practice manager, the user.
    Reception,
    /// The card holder themselves.
    Holder,
    /// The practice manager (or a trained local smartcard administrator).
    PracticeManager,
    /// IT support: needs an admin account on the workstation.
    It,
    /// The Registration Authority.
    Ra,
}

impl Who {
    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Who::Reception => "reception",
            Who::Holder => "holder",
            Who::PracticeManager => "practice_manager",
            Who::It => "it",
            Who::Ra => "ra",
        }
    }

    /// A person without IT rights can do it (it belongs on the cheat sheet).
    pub fn at_the_desk(self) -> bool {
        matches!(self, Who::Reception | Who::Holder | Who::PracticeManager)
    }
}

/// Where a check's answer can come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    /// A question to the person at the desk.
    Question,
    /// A lookup in the estate (answered without asking when the estate knows).
    Lookup,
    /// An automatic probe by the workstation agent (asked of a person when no agent answered).
    Probe,
}

impl CheckKind {
    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Question => "question",
            CheckKind::Lookup => "lookup",
            CheckKind::Probe => "probe",
        }
    }
}

/// The knobs of the engine, from `[settings]`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Escalate once this many minutes have gone on one fault (the articles say 15–20).
    pub escalate_after_minutes: f64,
    /// What handing over to support costs in minutes, when the checks and fixes run out.
    pub escalation_minutes: f64,
    /// Escalate when this many people at one site report the same symptom…
    pub cluster_people: u32,
    /// …within this many minutes.
    pub cluster_window_minutes: u32,
    /// How many incidents the shipped priors are worth when learning (pseudo-counts).
    pub prior_strength: f64,
    /// Said with every step: what to do meanwhile, and what never to do.
    pub guardrail: String,
    /// The everyday symptoms a site's cheat sheet covers, in order.
    #[serde(default)]
    pub cheat_sheet: Vec<String>,
    /// The symptoms added to the sheet of a site with computers on Smartcard Connect.
    #[serde(default)]
    pub cheat_sheet_smartcard_connect: Vec<String>,
    /// Where these come from.
    pub source: String,
}

/// A fault that can lie behind a symptom.
#[derive(Clone, Debug, PartialEq)]
pub struct Cause {
    /// Stable id (`middleware-outdated`).
    pub id: String,
    /// Its name in plain words.
    pub name: String,
    /// Where the fact comes from.
    pub source: String,
    /// A fault of one card or one person's record (an expired certificate, a locked card, a
    /// missing role), which others at the site reporting the same does not make a shared one.
    pub personal: bool,
}

/// A check: a question, a lookup or a probe, with what each answer says about each cause.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// Stable id.
    pub id: String,
    /// Where the answer can come from.
    pub kind: CheckKind,
    /// What to ask or look at, in plain words.
    pub prompt: String,
    /// Who can do it.
    pub who: Who,
    /// Minutes it takes.
    pub cost_minutes: f64,
    /// The possible answers.
    pub results: Vec<String>,
    /// The estate or agent fact that answers it without asking, if any (`software.oberthur-middleware`).
    pub fact: Option<String>,
    /// P(result | cause), `likelihood[cause][result]`, for every cause of the base.
    pub likelihood: Vec<Vec<f64>>,
    /// What a description can say that answers it (`said = { no = ["light dark"] }`): a result
    /// and the phrasings that give it, in the vocabulary's concepts.
    pub said: Vec<(usize, Vec<Phrasing>)>,
    /// Where the figures come from.
    pub source: String,
}

/// A fix: what to do, what it costs, and how often it clears each cause.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    /// Stable id.
    pub id: String,
    /// What to do, in plain words.
    pub prompt: String,
    /// Who can do it.
    pub who: Who,
    /// Minutes it takes, including trying the card again.
    pub cost_minutes: f64,
    /// P(fixed | cause), for every cause of the base (0 where it does not help).
    pub success: Vec<f64>,
    /// Offered only when nothing else is left (a card re-issue).
    pub last_resort: bool,
    /// Answers (check, result) of which one must have been given before it is offered — a
    /// renewal the holder does themselves only once the certificate is known to be inside its
    /// window, never on a guess; empty when it may be offered at once.
    pub only_after: Vec<(usize, usize)>,
    /// Where the figures come from.
    pub source: String,
}

/// A symptom: what the user sees, with its causes' prior likelihoods.
#[derive(Clone, Debug, PartialEq)]
pub struct Symptom {
    /// Stable id (`cannot-sign`).
    pub id: String,
    /// Its name as support staff would say it.
    pub name: String,
    /// Texts and codes users see or type, normalised (see [`super::matching`]).
    pub texts: Vec<String>,
    /// How people describe it in their own words (see [`super::plain`]).
    pub phrasings: Vec<Phrasing>,
    /// What it is in a receptionist's words, offered as a choice when a description fits it and
    /// another equally ("The card logs in but will not sign").
    pub plain: String,
    /// Concepts that rule it out when a description says them ("expired" for a renewal prompt).
    pub unless: Vec<String>,
    /// The causes that can lie behind it and their prior likelihoods (summing to one).
    pub causes: Vec<(usize, f64)>,
    /// The checks whose answers tell its causes apart.
    pub checks: Vec<usize>,
    /// The fixes that clear at least one of its causes.
    pub fixes: Vec<usize>,
    /// The order in which the source documents say to try the fixes (the comparison in the
    /// simulation); by default its causes' best fixes, most likely cause first.
    pub fixed_order: Vec<usize>,
    /// Where the figures come from.
    pub source: String,
}

/// A loaded, consistent knowledge base.
#[derive(Clone, Debug, PartialEq)]
pub struct KnowledgeBase {
    /// Engine settings.
    pub settings: Settings,
    /// Every cause.
    pub causes: Vec<Cause>,
    /// Every check.
    pub checks: Vec<Check>,
    /// Every fix.
    pub fixes: Vec<Fix>,
    /// Every symptom.
    pub symptoms: Vec<Symptom>,
    /// The words people use, folded into the concepts phrasings are written in.
    pub vocabulary: Vocabulary,
    /// Each cause's fixes (indices into `fixes`) in the order that clears it soonest on
    /// average: success ÷ cost, best first.
    pub cause_fixes: Vec<Vec<usize>>,
    /// The fixes each answer makes available, `unlocks[check][result]` (see [`Fix::only_after`]).
    pub unlocks: Vec<Vec<Vec<usize>>>,
}

/// A knowledge-base file that cannot be used, with the place and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct KbError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and what to do.
    pub message: String,
}

impl KnowledgeBase {
    /// A symptom by id.
    pub fn symptom(&self, id: &str) -> Option<usize> {
        self.symptoms.iter().position(|s| s.id == id)
    }

    /// A check by id.
    pub fn check(&self, id: &str) -> Option<usize> {
        self.checks.iter().position(|c| c.id == id)
    }

    /// A fix by id.
    pub fn fix(&self, id: &str) -> Option<usize> {
        self.fixes.iter().position(|f| f.id == id)
    }

    /// A cause by id.
    pub fn cause(&self, id: &str) -> Option<usize> {
        self.causes.iter().position(|c| c.id == id)
    }

    /// Expected minutes to clear a fault whose cause is known, trying its fixes not in `tried`
    /// best first; a hand-over to support (`escalation_minutes`) when none of them works.
    pub fn known_cause_minutes(&self, cause: usize, tried: impl Fn(usize) -> bool) -> f64 {
        let mut reach = 1.0;
        let mut minutes = 0.0;
        for &f in &self.cause_fixes[cause] {
            if tried(f) {
                continue;
            }
            minutes += reach * self.fixes[f].cost_minutes;
            reach *= 1.0 - self.fixes[f].success[cause];
        }
        minutes + reach * self.settings.escalation_minutes
    }

    /// Expected minutes of handing a fault with this cause over to support after the fixes in
    /// `tried`: the hand-over itself, then support working as if it knew the cause with the fixes
    /// not yet tried (it does not repeat what failed at the desk), handing on once more if none
    /// of them works. With no fix left to try, the hand-over is all there is.
    pub fn handover_minutes(&self, cause: usize, tried: impl Fn(usize) -> bool) -> f64 {
        let esc = self.settings.escalation_minutes;
        if self.cause_fixes[cause].iter().all(|&f| tried(f)) {
            esc
        } else {
            esc + self.known_cause_minutes(cause, tried)
        }
    }
}

/// True when a text would have someone use another person's card or sign for them.
pub fn suggests_sharing(text: &str) -> bool {
    let t = text.to_lowercase();
    let card_of_another = [
        "colleague's card",
        "colleagues card",
        "someone else's card",
        "another user's card",
        "another person's card",
        "their card to",
    ];
    let sign_for = [
        "on their behalf",
        "on behalf of",
        "sign for them",
        "signs for them",
        "sign for the user",
    ];
    let share =
        t.contains("share") && (t.contains("card") || t.contains("pin") || t.contains("passcode"));
    let negated = t.contains("never") || t.contains("do not") || t.contains("don't");
    !negated
        && (share
            || card_of_another.iter().any(|p| t.contains(p))
            || sign_for.iter().any(|p| t.contains(p)))
}
