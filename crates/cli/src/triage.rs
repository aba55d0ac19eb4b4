//! `cardwatch triage`: the next step for a symptom (scripted, or as JSON), an interactive wizard
//! on the terminal, and the simulation that measures the engine.

use std::io::{self, BufRead, Write};
use std::path::Path;

use anyhow::{Context, Result};
use cardwatch_core::triage::{
    minutes_text, simulate, Advice, Case, KnowledgeBase, SimConfig, StepKind, SHIPPED,
};

use crate::Exit;

/// The shipped knowledge base with every `*.toml` of an operator's folder laid over it, in name
/// order. A base that does not load is refused with the file, line and reason (exit 2).
pub fn knowledge_base(dir: Option<&Path>) -> Result<KnowledgeBase> {
    let mut owned = Vec::new();
    if let Some(dir) = dir {
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read the triage folder {}", dir.display()))?;
        let mut paths: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            owned.push((p.display().to_string(), text));
        }
    }
    let mut files: Vec<(&str, &str)> = SHIPPED.to_vec();
    files.extend(owned.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    KnowledgeBase::load(&files).map_err(|e| {
        eprintln!("cardwatch: {e}");
        eprintln!("cardwatch: the triage knowledge base was refused — correct the file above");
        Exit(2).into()
    })
}

/// `--observe CHECK=RESULT`.
pub fn parse_observation(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not CHECK=RESULT, e.g. middleware-version=outdated"))?;
    Ok((k.trim().to_owned(), v.trim().to_owned()))
}

/// What the scripted mode was given.
#[derive(Debug)]
pub struct Scripted<'a> {
    /// A symptom id.
    pub symptom: Option<&'a str>,
    /// The text the user saw.
    pub error_text: Option<&'a str>,
    /// What happened so far.
    pub case: Case,
    /// As one JSON object.
    pub json: bool,
}

/// One step's advice for a scripted request.
pub fn scripted(kb: &KnowledgeBase, req: Scripted<'_>) -> Result<()> {
    let refuse = |field: &str, message: &str| -> anyhow::Error {
        eprintln!("cardwatch: {field}: {message}");
        Exit(2).into()
    };
    let (symptom, matched) = kb
        .resolve(req.symptom, req.error_text)
        .map_err(|e| refuse(&e.field, &e.message))?;
    let advice = kb
        .answer(symptom, &req.case)
        .map_err(|e| refuse(&e.field, &e.message))?;
    let mut out = io::stdout().lock();
    if req.json {
        serde_json::to_writer_pretty(&mut out, &kb.advice_json(&advice, matched.as_deref()))?;
        writeln!(out)?;
    } else {
        write_advice(&mut out, kb, &advice)?;
    }
    Ok(())
}

fn write_advice(out: &mut impl Write, kb: &KnowledgeBase, a: &Advice) -> io::Result<()> {
    let sym = &kb.symptoms[a.symptom];
    writeln!(out, "Symptom: {} ({})", sym.name, sym.id)?;
    for k in &a.known {
        writeln!(out, "  known: {} = {} ({})", k.check, k.result, k.because)?;
    }
    let likely: Vec<String> = a
        .posterior
        .iter()
        .take(3)
        .map(|&(c, p)| format!("{} {:.0}%", kb.causes[c].name, p * 100.0))
        .collect();
    writeln!(out, "Likeliest causes: {}", likely.join("; "))?;
    let n = &a.next;
    match n.kind {
        StepKind::Check => {
            writeln!(out, "\nNext, a check ({}): {}", n.id, n.prompt)?;
            writeln!(out, "  answers: {}", n.results.join(" | "))?;
        }
        StepKind::Fix => {
            writeln!(out, "\nNext, a fix ({}): {}", n.id, n.prompt)?;
            writeln!(out, "  then: fixed | not-fixed")?;
        }
        StepKind::Escalate | StepKind::Done => writeln!(out, "\n{}", n.prompt)?,
    }
    writeln!(out, "  why: {}", n.reason)?;
    if let Some(who) = n.who {
        writeln!(
            out,
            "  who: {}; takes {}",
            who.as_str().replace('_', " "),
            minutes_text(n.cost_minutes)
        )?;
    }
    writeln!(out, "\n{}", a.guardrail)
}

/// The wizard: asks what the user sees, then one step at a time until the card works or it is
/// time to escalate. Reads answers line by line, so it can be driven from a script too.
pub fn wizard(kb: &KnowledgeBase, base: Case) -> Result<()> {
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    let mut out = io::stdout().lock();
    let mut ask = |out: &mut io::StdoutLock<'_>, prompt: &str| -> Result<Option<String>> {
        write!(out, "{prompt}")?;
        out.flush()?;
        Ok(lines.next().transpose()?.map(|l| l.trim().to_owned()))
    };
    let symptom = loop {
        let Some(text) = ask(
            &mut out,
            "What does the user see? (the error text or code, or a symptom id): ",
        )?
        else {
            return Ok(());
        };
        match kb.resolve(None, Some(&text)) {
            Ok((s, _)) => break s,
            Err(e) => writeln!(out, "{} Try again, or type one of: {}", e.message, ids(kb))?,
        }
    };
    let mut case = base;
    loop {
        let advice = kb
            .answer(symptom, &case)
            .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
        writeln!(out)?;
        write_advice(&mut out, kb, &advice)?;
        let step = &advice.next;
        if matches!(step.kind, StepKind::Escalate | StepKind::Done) {
            return Ok(());
        }
        let answer = loop {
            let Some(a) = ask(
                &mut out,
                &format!("Answer ({}): ", step.results.join(" | ")),
            )?
            else {
                writeln!(out, "\nStopped before an answer.")?;
                return Ok(());
            };
            if step.results.contains(&a) {
                break a;
            }
            writeln!(out, "{a:?} is not one of: {}", step.results.join(", "))?;
        };
        case.observations.push((step.id.clone(), answer));
    }
}

fn ids(kb: &KnowledgeBase) -> String {
    kb.symptoms
        .iter()
        .map(|s| s.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `cardwatch triage --list`: every symptom with its id and the texts it answers to.
pub fn list(kb: &KnowledgeBase) -> Result<()> {
    let mut out = io::stdout().lock();
    for s in &kb.symptoms {
        writeln!(out, "{:<28} {}", s.id, s.name)?;
    }
    Ok(())
}

/// `cardwatch triage simulate`.
pub fn run_simulation(kb: &KnowledgeBase, cfg: &SimConfig, json: bool) -> Result<()> {
    if cfg.n == 0 {
        eprintln!("cardwatch: --n must be at least 1");
        return Err(Exit(2).into());
    }
    let r = simulate(kb, cfg);
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        return Ok(writeln!(out)?);
    }
    let scope = cfg
        .symptom
        .map_or("every symptom, equally often".to_owned(), |s| {
            kb.symptoms[s].id.clone()
        });
    writeln!(
        out,
        "{} simulated faults ({scope}), minutes to fix:",
        r.trials
    )?;
    writeln!(out, "{:<34} {:>8} {:>8}", "strategy", "mean", "p95")?;
    for (name, m) in [
        ("engine (every answer asked)", r.engine),
        ("engine (estate answers lookups)", r.engine_with_estate),
        ("fixed order of the documents", r.fixed_order),
        ("oracle (knows the cause)", r.oracle),
    ] {
        writeln!(out, "{name:<34} {:>8.1} {:>8.1}", m.mean, m.p95)?;
    }
    writeln!(out, "engine ÷ oracle: {:.2}", r.engine_over_oracle)?;
    let l = &r.learning;
    writeln!(
        out,
        "\nLearning on {} at a site where {}:\n  shipped priors {:.1}, after 50 incidents {:.1}, after 200 {:.1} (oracle {:.1})",
        l.symptom, l.site_mix, l.before, l.after_50, l.after_200, l.oracle
    )?;
    Ok(())
}
