//! Reading the knowledge-base files: each parsed with the place of every entry kept, laid over
//! the earlier ones by id, then compiled into the engine's tables and checked as a whole.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use toml::Spanned;

use super::*;

/// Finds a cause by id for an entry of a file, or says which entry named an unknown one.
type FindCause<'a> = dyn Fn(usize, &Spanned<String>, &str) -> Result<usize, KbError> + 'a;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    settings: Option<Spanned<Settings>>,
    #[serde(default)]
    cause: Vec<Spanned<RawCause>>,
    #[serde(default)]
    check: Vec<Spanned<RawCheck>>,
    #[serde(default)]
    fix: Vec<Spanned<RawFix>>,
    #[serde(default)]
    symptom: Vec<Spanned<RawSymptom>>,
    #[serde(default)]
    word: Vec<Spanned<RawWord>>,
}

/// A concept and the ways people say it (`word = "sign"`, `also = ["signing", "authorise"]`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWord {
    id: Spanned<String>,
    also: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCause {
    id: Spanned<String>,
    name: String,
    source: String,
    #[serde(default)]
    personal: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    id: Spanned<String>,
    kind: CheckKind,
    prompt: String,
    who: Who,
    cost_minutes: Spanned<f64>,
    results: Vec<String>,
    fact: Option<String>,
    /// cause id → result → probability; `otherwise` for every cause not named.
    likelihood: BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<f64>>>,
    /// result → phrasings of a description that give it.
    #[serde(default)]
    said: BTreeMap<Spanned<String>, Vec<String>>,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFix {
    id: Spanned<String>,
    prompt: String,
    who: Who,
    cost_minutes: Spanned<f64>,
    /// cause id → P(fixed | cause).
    repairs: BTreeMap<Spanned<String>, Spanned<f64>>,
    #[serde(default)]
    last_resort: bool,
    /// `check=result` answers, one of which must be given before it is offered.
    #[serde(default)]
    only_after: Vec<Spanned<String>>,
    source: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSymptom {
    id: Spanned<String>,
    name: String,
    #[serde(default)]
    texts: Vec<String>,
    #[serde(default)]
    phrasings: Vec<String>,
    plain: Option<String>,
    #[serde(default)]
    unless: Vec<String>,
    causes: Spanned<BTreeMap<Spanned<String>, Spanned<f64>>>,
    /// The checks worth asking for it; by default every check that tells its causes apart.
    checks: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    fixed_order: Vec<Spanned<String>>,
    source: String,
}

/// An entry kept with the file and place it came from, until the whole base is checked.
struct Placed<T> {
    file: usize,
    span: std::ops::Range<usize>,
    value: T,
}

struct Files<'a>(Vec<(&'a str, &'a str)>);

impl Files<'_> {
    fn error(&self, file: usize, offset: usize, message: impl Into<String>) -> KbError {
        let (name, text) = self.0[file];
        let before = &text[..offset.min(text.len())];
        KbError {
            file: name.to_owned(),
            line: before.matches('\n').count() + 1,
            column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
            message: message.into(),
        }
    }
}

/// Entries of one kind by id, a later file's entry replacing an earlier one's.
struct Table<T> {
    order: Vec<String>,
    entries: HashMap<String, Placed<T>>,
}

impl<T> Table<T> {
    fn new() -> Self {
        Table {
            order: Vec::new(),
            entries: HashMap::new(),
        }
    }

    fn put(
        &mut self,
        files: &Files<'_>,
        file: usize,
        id: &Spanned<String>,
        span: std::ops::Range<usize>,
        value: T,
        what: &str,
    ) -> Result<(), KbError> {
        check_id(files, file, id, what)?;
        let key = id.get_ref().clone();
        if let Some(old) = self.entries.get(&key) {
            if old.file == file {
                return Err(files.error(
                    file,
                    id.span().start,
                    format!("{what} {key:?} is defined twice in this file — keep one"),
                ));
            }
        } else {
            self.order.push(key.clone());
        }
        self.entries.insert(key, Placed { file, span, value });
        Ok(())
    }

    fn index(&self) -> HashMap<&str, usize> {
        self.order
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect()
    }

    fn in_order(&self) -> impl Iterator<Item = (&String, &Placed<T>)> {
        self.order.iter().map(|id| (id, &self.entries[id]))
    }
}

fn check_id(
    files: &Files<'_>,
    file: usize,
    id: &Spanned<String>,
    what: &str,
) -> Result<(), KbError> {
    let s = id.get_ref();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(files.error(
            file,
            id.span().start,
            format!("{what} id {s:?} must be lower-case letters, digits and hyphens, e.g. middleware-outdated"),
        ))
    }
}

fn probability(
    files: &Files<'_>,
    file: usize,
    p: &Spanned<f64>,
    what: &str,
) -> Result<f64, KbError> {
    let v = *p.get_ref();
    if v.is_finite() && (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(files.error(
            file,
            p.span().start,
            format!("{what} is {v}, which is not a probability — write a number from 0 to 1"),
        ))
    }
}

fn minutes(files: &Files<'_>, file: usize, m: &Spanned<f64>) -> Result<f64, KbError> {
    let v = *m.get_ref();
    if v.is_finite() && v > 0.0 && v <= 24.0 * 60.0 {
        Ok(v)
    } else {
        Err(files.error(
            file,
            m.span().start,
            format!("cost_minutes is {v} — write the minutes it takes, more than 0 and at most a day (1440)"),
        ))
    }
}

impl KnowledgeBase {
    /// The shipped knowledge base.
    pub fn shipped() -> KnowledgeBase {
        // The shipped files are tested; a failure here is a build that was never tested.
        KnowledgeBase::load(SHIPPED)
            .unwrap_or_else(|e| panic!("the shipped triage knowledge base is invalid: {e}"))
    }

    /// Loads files (name, text) in order, a later file's entry replacing an earlier one with the
    /// same id, and checks the whole base.
    pub fn load(files: &[(&str, &str)]) -> Result<KnowledgeBase, KbError> {
        let files = Files(files.to_vec());
        let mut settings: Option<Settings> = None;
        let mut settings_at = (0, 0);
        let mut causes = Table::new();
        let mut checks = Table::new();
        let mut fixes = Table::new();
        let mut symptoms = Table::new();
        let mut words = Table::new();
        for (f, (_, text)) in files.0.iter().enumerate() {
            let raw: RawFile = toml::from_str(text).map_err(|e| {
                files.error(
                    f,
                    e.span().map_or(0, |s| s.start),
                    e.message().trim().to_owned(),
                )
            })?;
            if let Some(s) = raw.settings {
                let span = s.span();
                settings_at = (f, span.start);
                let s = s.into_inner();
                check_settings(&files, f, span.start, &s)?;
                settings = Some(s);
            }
            for c in raw.cause {
                let span = c.span();
                let c = c.into_inner();
                causes.put(&files, f, &c.id.clone(), span, c, "cause")?;
            }
            for c in raw.check {
                let span = c.span();
                let c = c.into_inner();
                checks.put(&files, f, &c.id.clone(), span, c, "check")?;
            }
            for x in raw.fix {
                let span = x.span();
                let x = x.into_inner();
                fixes.put(&files, f, &x.id.clone(), span, x, "fix")?;
            }
            for s in raw.symptom {
                let span = s.span();
                let s = s.into_inner();
                symptoms.put(&files, f, &s.id.clone(), span, s, "symptom")?;
            }
            for w in raw.word {
                let span = w.span();
                let w = w.into_inner();
                words.put(&files, f, &w.id.clone(), span, w, "word")?;
            }
        }
        let settings = settings.ok_or_else(|| {
            files.error(
                0,
                0,
                "no [settings] in any file — the shipped settings.toml must be loaded first",
            )
        })?;
        let cause_ix = causes.index();
        let n_causes = cause_ix.len();
        let causes_out: Vec<Cause> = causes
            .in_order()
            .map(|(id, p)| Cause {
                id: id.clone(),
                name: p.value.name.clone(),
                source: p.value.source.clone(),
                personal: p.value.personal,
            })
            .collect();
        let find_cause = |file: usize, id: &Spanned<String>, what: &str| {
            cause_ix.get(id.get_ref().as_str()).copied().ok_or_else(|| {
                files.error(
                    file,
                    id.span().start,
                    format!(
                        "{what} names cause {:?}, which no file defines — add a [[cause]] or fix the id",
                        id.get_ref()
                    ),
                )
            })
        };

        let mut checks_out = Vec::new();
        for (id, p) in checks.in_order() {
            checks_out.push(compile_check(&files, p, id, n_causes, &find_cause)?);
        }
        let mut fixes_out = Vec::new();
        for (id, p) in fixes.in_order() {
            let raw = &p.value;
            let mut success = vec![0.0; n_causes];
            if raw.repairs.is_empty() {
                return Err(files.error(
                    p.file,
                    p.span.start,
                    format!("fix {id:?} repairs no cause — name at least one in repairs"),
                ));
            }
            for (cause, s) in &raw.repairs {
                let c = find_cause(p.file, cause, &format!("fix {id:?}"))?;
                success[c] = probability(&files, p.file, s, "a success rate")?;
            }
            fixes_out.push(Fix {
                id: id.clone(),
                prompt: raw.prompt.clone(),
                who: raw.who,
                cost_minutes: minutes(&files, p.file, &raw.cost_minutes)?,
                success,
                last_resort: raw.last_resort,
                only_after: only_after(&files, p.file, id, &raw.only_after, &checks_out)?,
                source: raw.source.clone(),
            });
        }
        let fix_ix = fixes.index();
        let vocabulary = compile_vocabulary(&files, &words, &checks, &symptoms)?;
        for ((id, p), check) in checks.in_order().zip(&mut checks_out) {
            check.said = said(&files, p, id, check, &vocabulary)?;
        }
        let mut symptoms_out = Vec::new();
        for (id, p) in symptoms.in_order() {
            symptoms_out.push(compile_symptom(
                &files,
                p,
                id,
                &find_cause,
                &fix_ix,
                &checks_out,
                &fixes_out,
                &vocabulary,
            )?);
        }
        let cause_fixes = (0..causes_out.len())
            .map(|c| {
                let mut order: Vec<usize> = (0..fixes_out.len())
                    .filter(|&f| fixes_out[f].success[c] > 0.0)
                    .collect();
                let e = |f: usize| fixes_out[f].success[c] / fixes_out[f].cost_minutes;
                order.sort_by(|&a, &b| e(b).total_cmp(&e(a)));
                order
            })
            .collect();
        let mut unlocks: Vec<Vec<Vec<usize>>> = checks_out
            .iter()
            .map(|c| vec![Vec::new(); c.results.len()])
            .collect();
        for (f, fix) in fixes_out.iter().enumerate() {
            for &(ch, r) in &fix.only_after {
                unlocks[ch][r].push(f);
            }
        }
        let kb = KnowledgeBase {
            settings,
            causes: causes_out,
            checks: checks_out,
            fixes: fixes_out,
            symptoms: symptoms_out,
            vocabulary,
            cause_fixes,
            unlocks,
        };
        kb.check_guardrails(&files, &causes, &checks, &fixes)?;
        if let Some(id) = kb
            .settings
            .cheat_sheet
            .iter()
            .chain(&kb.settings.cheat_sheet_smartcard_connect)
            .find(|id| kb.symptom(id).is_none())
        {
            return Err(files.error(
                settings_at.0,
                settings_at.1,
                format!("cheat_sheet names symptom {id:?}, which no file defines"),
            ));
        }
        Ok(kb)
    }

    /// Refuses any prompt that would have someone share a card or sign for someone else: the
    /// guardrail holds even against an operator's override.
    fn check_guardrails(
        &self,
        files: &Files<'_>,
        causes: &Table<RawCause>,
        checks: &Table<RawCheck>,
        fixes: &Table<RawFix>,
    ) -> Result<(), KbError> {
        let texts = checks
            .in_order()
            .map(|(_, p)| (p.file, p.span.start, p.value.prompt.as_str()))
            .chain(
                fixes
                    .in_order()
                    .map(|(_, p)| (p.file, p.span.start, p.value.prompt.as_str())),
            )
            .chain(
                causes
                    .in_order()
                    .map(|(_, p)| (p.file, p.span.start, p.value.name.as_str())),
            );
        for (file, at, text) in texts {
            if suggests_sharing(text) {
                return Err(files.error(
                    file,
                    at,
                    format!("{text:?} suggests using someone else's card or signing on their behalf — Cardwatch never advises that; reword it"),
                ));
            }
        }
        Ok(())
    }
}

fn check_settings(files: &Files<'_>, f: usize, at: usize, s: &Settings) -> Result<(), KbError> {
    let bad = |m: String| Err(files.error(f, at, m));
    if !(5.0..=120.0).contains(&s.escalate_after_minutes) {
        return bad(format!(
            "escalate_after_minutes is {} — the source documents say 15 to 20; use 5 to 120",
            s.escalate_after_minutes
        ));
    }
    if !(s.escalation_minutes > 0.0 && s.escalation_minutes <= 24.0 * 60.0) {
        return bad(format!(
            "escalation_minutes is {} — write the minutes a hand-over to support costs, more than 0",
            s.escalation_minutes
        ));
    }
    if s.cluster_people < 2 || s.cluster_window_minutes == 0 {
        return bad(
            "cluster_people must be at least 2 and cluster_window_minutes more than 0".into(),
        );
    }
    if !(s.prior_strength > 0.0 && s.prior_strength.is_finite()) {
        return bad(format!(
            "prior_strength is {} — write how many incidents the shipped priors are worth, e.g. 20",
            s.prior_strength
        ));
    }
    if suggests_sharing(&s.guardrail) {
        return bad("the guardrail itself suggests sharing a card — reword it".into());
    }
    Ok(())
}

fn compile_check(
    files: &Files<'_>,
    p: &Placed<RawCheck>,
    id: &str,
    n_causes: usize,
    find_cause: &FindCause<'_>,
) -> Result<Check, KbError> {
    let raw = &p.value;
    let err = |at: usize, m: String| files.error(p.file, at, m);
    if raw.results.len() < 2 {
        return Err(err(
            p.span.start,
            format!("check {id:?} has fewer than two results — a check must be able to tell causes apart"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for r in &raw.results {
        if !seen.insert(r.as_str()) {
            return Err(err(
                p.span.start,
                format!("check {id:?} lists the result {r:?} twice"),
            ));
        }
    }
    // One row per named cause (and `otherwise`); a row may leave out one result, which takes
    // what is left, so a yes/no check needs only one number per cause.
    let row = |results: &BTreeMap<Spanned<String>, Spanned<f64>>,
               at: usize,
               whose: &str|
     -> Result<Vec<f64>, KbError> {
        let mut probs = vec![None; raw.results.len()];
        for (r, v) in results {
            let i = raw
                .results
                .iter()
                .position(|x| x == r.get_ref())
                .ok_or_else(|| {
                    err(
                        r.span().start,
                        format!(
                            "check {id:?}: {whose} gives result {:?}, which is not one of {:?}",
                            r.get_ref(),
                            raw.results
                        ),
                    )
                })?;
            probs[i] = Some(probability(
                files,
                p.file,
                v,
                &format!("P({} | {whose})", r.get_ref()),
            )?);
        }
        let given: f64 = probs.iter().flatten().sum();
        let missing = probs.iter().filter(|x| x.is_none()).count();
        match missing {
            0 if (given - 1.0).abs() <= SUM_TOLERANCE => {}
            0 => {
                return Err(err(
                    at,
                    format!("check {id:?}: the results' probabilities for {whose} add up to {given:.3}, not 1 — correct them"),
                ))
            }
            1 if given <= 1.0 + SUM_TOLERANCE => {
                let rest = (1.0 - given).max(0.0);
                for x in probs.iter_mut().filter(|x| x.is_none()) {
                    *x = Some(rest);
                }
            }
            _ => {
                return Err(err(
                    at,
                    format!("check {id:?}: give {whose}'s probability for every result but at most one (which takes what is left), and no more than 1 in all"),
                ))
            }
        }
        let sum: f64 = probs.iter().flatten().sum();
        Ok(probs.into_iter().map(|x| x.unwrap_or(0.0) / sum).collect())
    };
    let mut otherwise = None;
    let mut named = Vec::new();
    for (cause, results) in &raw.likelihood {
        let r = row(results, cause.span().start, cause.get_ref())?;
        if cause.get_ref() == "otherwise" {
            otherwise = Some(r);
        } else {
            named.push((find_cause(p.file, cause, &format!("check {id:?}"))?, r));
        }
    }
    if named.is_empty() {
        return Err(err(
            p.span.start,
            format!("check {id:?} says nothing about any cause — add likelihood rows"),
        ));
    }
    let otherwise = match otherwise {
        Some(o) => o,
        None => {
            return Err(err(
                p.span.start,
                format!("check {id:?} has no `otherwise` row — say what the answers look like under the causes not named"),
            ))
        }
    };
    let mut likelihood = vec![otherwise; n_causes];
    for (c, r) in named {
        likelihood[c] = r;
    }
    if let Some(fact) = &raw.fact {
        if fact.is_empty() || fact.chars().any(char::is_whitespace) {
            return Err(err(
                p.span.start,
                format!("check {id:?}: fact {fact:?} must be a key without spaces, e.g. software.oberthur-middleware"),
            ));
        }
    }
    Ok(Check {
        id: id.to_owned(),
        kind: raw.kind,
        prompt: raw.prompt.clone(),
        who: raw.who,
        cost_minutes: minutes(files, p.file, &raw.cost_minutes)?,
        results: raw.results.clone(),
        fact: raw.fact.clone(),
        likelihood,
        // Read once the vocabulary is known.
        said: Vec::new(),
        source: raw.source.clone(),
    })
}

#[allow(clippy::too_many_arguments)] // the tables compiled so far, each read by name
fn compile_symptom(
    files: &Files<'_>,
    p: &Placed<RawSymptom>,
    id: &str,
    find_cause: &FindCause<'_>,
    fix_ix: &HashMap<&str, usize>,
    checks: &[Check],
    fixes: &[Fix],
    vocabulary: &Vocabulary,
) -> Result<Symptom, KbError> {
    let raw = &p.value;
    let err = |at: usize, m: String| files.error(p.file, at, m);
    if raw.causes.get_ref().is_empty() {
        return Err(err(
            raw.causes.span().start,
            format!("symptom {id:?} has no causes — name at least one with its prior likelihood"),
        ));
    }
    let mut causes = Vec::new();
    let mut names = HashMap::new();
    for (cause, prior) in raw.causes.get_ref() {
        let c = find_cause(p.file, cause, &format!("symptom {id:?}"))?;
        names.insert(c, cause.get_ref().as_str());
        let pr = probability(
            files,
            p.file,
            prior,
            &format!("the prior of {:?}", cause.get_ref()),
        )?;
        causes.push((c, pr));
    }
    let total: f64 = causes.iter().map(|c| c.1).sum();
    if (total - 1.0).abs() > SUM_TOLERANCE {
        return Err(err(
            raw.causes.span().start,
            format!(
                "symptom {id:?}: its causes' priors add up to {total:.3}, not 1 — correct them"
            ),
        ));
    }
    for c in &mut causes {
        c.1 /= total;
    }
    // Most likely first: the order people read and the order ties are broken in.
    causes.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    for &(c, pr) in &causes {
        if pr > 0.0 && !fixes.iter().any(|f| f.success[c] > 0.0) {
            return Err(err(
                raw.causes.span().start,
                format!("symptom {id:?}: no fix repairs its cause {c_id:?} — add one, or the engine can only escalate it", c_id = names[&c]),
            ));
        }
    }
    let checks_for: Vec<usize> = match &raw.checks {
        None => checks
            .iter()
            .enumerate()
            .filter(|(_, ch)| tells_apart(ch, &causes))
            .map(|(i, _)| i)
            .collect(),
        Some(listed) => {
            let mut out = Vec::new();
            for name in listed {
                let i = checks
                    .iter()
                    .position(|c| &c.id == name.get_ref())
                    .ok_or_else(|| {
                        err(
                            name.span().start,
                            format!(
                                "symptom {id:?}: checks names {:?}, which no file defines",
                                name.get_ref()
                            ),
                        )
                    })?;
                if !tells_apart(&checks[i], &causes) {
                    return Err(err(
                        name.span().start,
                        format!("symptom {id:?}: check {:?} says the same about all its causes, so asking it cannot help — drop it or add likelihood rows", name.get_ref()),
                    ));
                }
                out.push(i);
            }
            out
        }
    };
    let fixes_for: Vec<usize> = fixes
        .iter()
        .enumerate()
        .filter(|(_, f)| causes.iter().any(|&(c, _)| f.success[c] > 0.0))
        .map(|(i, _)| i)
        .collect();
    if fixes_for.len() > 128 {
        return Err(err(
            p.span.start,
            format!(
                "symptom {id:?} has {} fixes; the engine takes at most 128 — split the symptom",
                fixes_for.len()
            ),
        ));
    }
    let fixed_order = if raw.fixed_order.is_empty() {
        // The documents' habit: the likeliest cause's usual fix first.
        let mut order = Vec::new();
        for &(c, _) in &causes {
            if let Some(best) = fixes_for
                .iter()
                .copied()
                .filter(|&f| fixes[f].success[c] > 0.0 && !order.contains(&f))
                .max_by(|&a, &b| {
                    (fixes[a].success[c] / fixes[a].cost_minutes)
                        .total_cmp(&(fixes[b].success[c] / fixes[b].cost_minutes))
                })
            {
                order.push(best);
            }
        }
        order
    } else {
        let mut order = Vec::new();
        for f in &raw.fixed_order {
            let i = *fix_ix.get(f.get_ref().as_str()).ok_or_else(|| {
                err(
                    f.span().start,
                    format!(
                        "symptom {id:?}: fixed_order names fix {:?}, which no file defines",
                        f.get_ref()
                    ),
                )
            })?;
            order.push(i);
        }
        order
    };
    let mut phrasings = Vec::new();
    for t in &raw.phrasings {
        phrasings.push(
            Phrasing::parse(t, vocabulary)
                .map_err(|m| err(p.span.start, format!("symptom {id:?}: {m}")))?,
        );
    }
    let mut texts = Vec::new();
    for t in &raw.texts {
        let n = crate::triage::matching::normalise_pattern(t);
        if n.is_empty() {
            return Err(err(
                p.span.start,
                format!("symptom {id:?}: the text {t:?} has no letters or digits to match"),
            ));
        }
        texts.push(n);
    }
    Ok(Symptom {
        id: id.to_owned(),
        name: raw.name.clone(),
        texts,
        phrasings,
        plain: raw.plain.clone().unwrap_or_else(|| raw.name.clone()),
        unless: raw
            .unless
            .iter()
            .flat_map(|w| vocabulary.concepts(w))
            .collect(),
        causes,
        checks: checks_for,
        fixes: fixes_for,
        fixed_order,
        source: raw.source.clone(),
    })
}

/// A fix's `only_after` answers as (check, result) indices, each `check=result` naming a check
/// and one of its results.
fn only_after(
    files: &Files<'_>,
    file: usize,
    id: &str,
    given: &[Spanned<String>],
    checks: &[Check],
) -> Result<Vec<(usize, usize)>, KbError> {
    given
        .iter()
        .map(|a| {
            let found = a.get_ref().split_once('=').and_then(|(c, r)| {
                let ch = checks.iter().position(|x| x.id == c.trim())?;
                let r = checks[ch].results.iter().position(|x| x == r.trim())?;
                Some((ch, r))
            });
            found.ok_or_else(|| {
                files.error(
                    file,
                    a.span().start,
                    format!(
                        "fix {id:?}: only_after {:?} must be CHECK=RESULT, naming a check and one of its results",
                        a.get_ref()
                    ),
                )
            })
        })
        .collect()
}

/// A check's `said`: each result it names with its phrasings, in the vocabulary's concepts.
fn said(
    files: &Files<'_>,
    p: &Placed<RawCheck>,
    id: &str,
    check: &Check,
    vocabulary: &Vocabulary,
) -> Result<Vec<(usize, Vec<Phrasing>)>, KbError> {
    let mut out = Vec::new();
    for (result, texts) in &p.value.said {
        let err = |m: String| files.error(p.file, result.span().start, m);
        let Some(r) = check.results.iter().position(|x| x == result.get_ref()) else {
            return Err(err(format!(
                "check {id:?}: said names the result {:?}, which is not one of {:?}",
                result.get_ref(),
                check.results
            )));
        };
        let mut phrasings = Vec::new();
        for t in texts {
            let ph =
                Phrasing::parse(t, vocabulary).map_err(|m| err(format!("check {id:?}: {m}")))?;
            if ph.fallback {
                return Err(err(format!(
                    "check {id:?}: the phrasing {t:?} ends with `?` — a description answers a check only when it says so plainly"
                )));
            }
            phrasings.push(ph);
        }
        out.push((r, phrasings));
    }
    Ok(out)
}

/// The vocabulary of every `[[word]]`, knowing too the words of every symptom's texts and
/// phrasings and of what answers a check, so a misspelling is mended to any word the base uses.
fn compile_vocabulary(
    files: &Files<'_>,
    words: &Table<RawWord>,
    checks: &Table<RawCheck>,
    symptoms: &Table<RawSymptom>,
) -> Result<Vocabulary, KbError> {
    let mut vocabulary = Vocabulary::new(
        words
            .in_order()
            .map(|(id, p)| (id.as_str(), p.value.also.as_slice())),
    )
    .map_err(|(entry, m)| {
        let (_, p) = words.in_order().nth(entry).expect("the entry refused");
        files.error(p.file, p.span.start, m)
    })?;
    for (_, p) in symptoms.in_order() {
        for t in p.value.texts.iter().chain(&p.value.phrasings) {
            vocabulary.learn(t);
        }
    }
    for (_, p) in checks.in_order() {
        for t in p.value.said.values().flatten() {
            vocabulary.learn(t);
        }
    }
    Ok(vocabulary)
}

/// A check tells a symptom's causes apart when some answer is likelier under one of them than
/// under another.
fn tells_apart(check: &Check, causes: &[(usize, f64)]) -> bool {
    let Some(&(first, _)) = causes.first() else {
        return false;
    };
    causes.iter().any(|&(c, _)| {
        check.likelihood[c]
            .iter()
            .zip(&check.likelihood[first])
            .any(|(a, b)| (a - b).abs() > 1e-9)
    })
}
