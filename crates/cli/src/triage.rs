//! `cardwatch triage`: the next step for a symptom (scripted, or as JSON), an interactive wizard
//! on the terminal, and the simulation that measures the engine.

use std::io::{self, BufRead, Write};
use std::path::Path;

use anyhow::{Context, Result};
use cardwatch_core::triage::matching::{recognise, Recognised};
use cardwatch_core::triage::{
    minutes_text, simulate, Advice, Case, IncidentStatus, IncidentStep, KnowledgeBase, NewIncident,
    SimConfig, StepKind, SHIPPED,
};
use cardwatch_server::fix::triage::{parse_desk, prepare, Desk};
use cardwatch_server::Checks;
use cardwatch_store::Store;

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
    /// Where: with any of site, card or workstation, the estate and past incidents are read.
    pub desk: Desk,
    /// As one JSON object.
    pub json: bool,
}

fn refuse(field: &str, message: &str) -> anyhow::Error {
    eprintln!("cardwatch: {field}: {message}");
    Exit(2).into()
}

/// Parses `--site`, `--card` and `--hostname`, refusing a bad one by name (exit 2).
pub fn desk(site: Option<&str>, card: Option<&str>, hostname: Option<&str>) -> Result<Desk> {
    parse_desk(site, card, hostname).map_err(|(field, message)| refuse(field, &message))
}

/// One step's advice for a scripted request. The store (from `open`) is read only when the
/// request names a site, card or workstation.
pub fn scripted(
    checks: &Checks,
    open: impl FnOnce() -> Result<Box<dyn Store>>,
    req: Scripted<'_>,
) -> Result<()> {
    let kb = &checks.triage;
    let (symptom, matched) = kb
        .resolve(req.symptom, req.error_text)
        .map_err(|e| refuse(&e.field, &e.message))?;
    let d = &req.desk;
    let case = if d.site.is_some() || d.card.is_some() || d.hostname.is_some() {
        let store = open()?;
        prepare(&*store, checks, symptom, d, crate::now(), None, req.case)?.1
    } else {
        req.case
    };
    let advice = kb
        .answer(symptom, &case)
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

/// Who is at the desk, for the incident the wizard records.
#[derive(Debug, Default)]
pub struct Opening {
    /// Where.
    pub desk: Desk,
    /// Who runs the triage.
    pub reporter: String,
    /// The application in use.
    pub application: Option<String>,
    /// What the user was doing.
    pub doing: Option<String>,
}

/// The wizard: asks what the user sees, opens an incident, then one step at a time — each
/// answer recorded with its time — until a fix works (resolved, with the cause it confirms) or
/// it is time to escalate (escalated, with the packet). Reads answers line by line, so it can be
/// driven from a script too.
pub fn wizard(checks: &Checks, store: &dyn Store, opening: Opening) -> Result<()> {
    let kb = &checks.triage;
    let stdin = io::stdin();
    let mut lines = stdin.lock().lines();
    let mut out = io::stdout().lock();
    let mut ask = |out: &mut io::StdoutLock<'_>, prompt: &str| -> Result<Option<String>> {
        write!(out, "{prompt}")?;
        out.flush()?;
        Ok(lines.next().transpose()?.map(|l| l.trim().to_owned()))
    };
    let (symptom, text) = 'asked: loop {
        let Some(text) = ask(
            &mut out,
            "What is happening? (in the clinician's words, or the error text or code): ",
        )?
        else {
            return Ok(());
        };
        if let Some(s) = kb.symptom(&text) {
            break (s, text);
        }
        match recognise(kb, &text) {
            Recognised::Symptom(m) => break (m.symptom, text),
            Recognised::Choose(choices) => {
                writeln!(out, "Which is closer to what is happening?")?;
                for (n, &s) in choices.iter().enumerate() {
                    writeln!(out, "  {}. {}", n + 1, kb.symptoms[s].plain)?;
                }
                let Some(pick) = ask(&mut out, "Type its number: ")? else {
                    return Ok(());
                };
                match pick.parse::<usize>().ok().and_then(|n| choices.get(n.wrapping_sub(1))) {
                    Some(&s) => break 'asked (s, text),
                    None => writeln!(out, "{pick:?} is not one of the numbers. Start again.")?,
                }
            }
            Recognised::Nothing => writeln!(
                out,
                "That does not sound like a smartcard problem Cardwatch knows. Say it another way, or type one of: {}",
                ids(kb)
            )?,
        }
    };
    let d = &opening.desk;
    // The site is the one given, else the workstation's, else the card holder's: incidents are
    // seen, counted and learned from by site.
    let known = cardwatch_store::triage_context(
        store,
        d.site.as_ref(),
        d.card.as_ref(),
        d.hostname.as_ref(),
    )?;
    let site = known.site.or(known.holder_site);
    let id = store.open_incident(
        &NewIncident {
            reporter: opening.reporter.clone(),
            site,
            card_serial: d.card.as_ref().map(|c| c.as_str().to_owned()),
            hostname: d.hostname.as_ref().map(|h| h.as_str().to_owned()),
            application: opening.application.clone(),
            doing: opening.doing.clone(),
            symptom: kb.symptoms[symptom].id.clone(),
            error_text: (kb.symptoms[symptom].id != text).then_some(text),
        },
        &crate::change(),
    )?;
    writeln!(out, "Incident {id} opened.")?;
    loop {
        let incident = store
            .incident(id)?
            .context("the incident just opened is gone")?;
        let now = crate::now();
        let (cx, case) = prepare(store, checks, symptom, d, now, Some(id), incident.case(now))?;
        let advice = kb
            .answer(symptom, &case)
            .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
        writeln!(out)?;
        write_advice(&mut out, kb, &advice)?;
        let step = &advice.next;
        match step.kind {
            StepKind::Done => {
                let cause = advice.confirmed_cause.map(|c| kb.causes[c].id.as_str());
                let closed =
                    store.close_incident(id, IncidentStatus::Resolved, cause, &crate::change())?;
                writeln!(
                    out,
                    "Incident {id} resolved in {:.0} minutes.",
                    closed.minutes_to_fix.unwrap_or(0.0)
                )?;
                return Ok(());
            }
            StepKind::Escalate => {
                let mut packet = kb.packet(&incident, &advice, &cx, &checks.catalogue, now);
                // Written as it is handed over.
                packet.status = IncidentStatus::Escalated;
                store.close_incident(id, IncidentStatus::Escalated, None, &crate::change())?;
                writeln!(out, "\n{}", packet.to_text())?;
                writeln!(out, "Incident {id} escalated: send the packet above to support (`cardwatch incident packet {id}` prints it again).")?;
                return Ok(());
            }
            StepKind::Check | StepKind::Fix => {}
        }
        let answer = loop {
            let Some(a) = ask(
                &mut out,
                &format!("Answer ({}): ", step.results.join(" | ")),
            )?
            else {
                writeln!(out, "\nStopped before an answer; incident {id} stays open.")?;
                return Ok(());
            };
            if step.results.contains(&a) {
                break a;
            }
            writeln!(out, "{a:?} is not one of: {}", step.results.join(", "))?;
        };
        store.record_incident_step(
            id,
            &IncidentStep {
                at: crate::now(),
                id: step.id.clone(),
                result: answer,
            },
            &crate::change(),
        )?;
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
    writeln!(out, "{:<38} {:>8} {:>8}", "strategy", "mean", "p95")?;
    for (name, m) in [
        ("engine (every answer asked)", r.engine),
        ("engine (the estate answering)", r.engine_with_estate),
        ("engine (estate and agent answering)", r.engine_with_agent),
        ("fixed order of the documents", r.fixed_order),
        ("oracle (knows the cause)", r.oracle),
    ] {
        writeln!(out, "{name:<38} {:>8.1} {:>8.1}", m.mean, m.p95)?;
    }
    writeln!(out, "engine ÷ oracle: {:.2}", r.engine_over_oracle)?;
    writeln!(
        out,
        "\nExpected minutes, exactly (every branch weighed, no sampling):"
    )?;
    writeln!(
        out,
        "{:<50} {:>7} {:>7} {:>7} {:>9} {:>9}",
        "the engine knowing", "engine", "best", "oracle", "engine ÷", "best ÷"
    )?;
    for x in &r.exact {
        let or_dash =
            |v: Option<f64>, digits: usize| v.map_or("—".to_owned(), |v| format!("{v:.digits$}"));
        writeln!(
            out,
            "{:<50} {:>7.1} {:>7} {:>7.1} {:>9.3} {:>9}",
            x.answered.describe(),
            x.engine,
            or_dash(x.best, 1),
            x.oracle,
            x.engine_over_oracle,
            or_dash(x.best_over_oracle, 3)
        )?;
    }
    if !cfg.best {
        writeln!(out, "(--best searches for the best any strategy can do)")?;
    }
    let l = &r.learning;
    writeln!(
        out,
        "\nLearning on {} at a site where {}:\n  shipped priors {:.1}, after 50 incidents {:.1}, after 200 {:.1} (oracle {:.1})",
        l.symptom, l.site_mix, l.before, l.after_50, l.after_200, l.oracle
    )?;
    Ok(())
}

/// `cardwatch incident list`: the newest incidents.
pub fn list_incidents(store: &dyn Store, limit: usize, json: bool) -> Result<()> {
    let incidents = store.incidents(limit)?;
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &incidents)?;
        return Ok(writeln!(out)?);
    }
    writeln!(
        out,
        "{:>6}  {:<20}  {:<9}  {:<9}  {:<24}  {:>7}  cause",
        "id", "opened", "status", "site", "symptom", "minutes"
    )?;
    for i in &incidents {
        writeln!(
            out,
            "{:>6}  {:<20}  {:<9}  {:<9}  {:<24}  {:>7}  {}",
            i.id,
            i.opened_at.to_string(),
            i.status.as_str(),
            i.opened.site.as_deref().unwrap_or("-"),
            i.opened.symptom,
            i.minutes_to_fix.map_or("-".into(), |m| format!("{m:.0}")),
            i.confirmed_cause.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}

fn stored(store: &dyn Store, id: i64) -> Result<cardwatch_core::triage::Incident> {
    store.incident(id)?.ok_or_else(|| {
        eprintln!("cardwatch: there is no incident {id} — see `cardwatch incident list`");
        Exit(2).into()
    })
}

/// `cardwatch incident show ID`: the incident as JSON.
pub fn show_incident(store: &dyn Store, id: i64) -> Result<()> {
    let i = stored(store, id)?;
    let mut out = io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &i)?;
    Ok(writeln!(out)?)
}

/// `cardwatch incident packet ID`: the escalation packet, as text, JSON or a printable page.
pub fn packet(checks: &Checks, store: &dyn Store, id: i64, format: &str) -> Result<()> {
    let kb = &checks.triage;
    let inc = stored(store, id)?;
    let Some(symptom) = kb.symptom(&inc.opened.symptom) else {
        eprintln!(
            "cardwatch: incident {id}'s symptom {:?} is not in the knowledge base in force",
            inc.opened.symptom
        );
        return Err(Exit(2).into());
    };
    let desk = desk(
        inc.opened.site.as_deref(),
        inc.opened.card_serial.as_deref(),
        inc.opened.hostname.as_deref(),
    )?;
    let now = inc.closed_at.unwrap_or_else(crate::now);
    let (cx, case) = prepare(store, checks, symptom, &desk, now, Some(id), inc.case(now))?;
    let advice = kb
        .answer(symptom, &case)
        .map_err(|e| anyhow::anyhow!("{}: {}", e.field, e.message))?;
    let mut p = kb.packet(&inc, &advice, &cx, &checks.catalogue, now);
    if p.escalate_because.is_empty() {
        p.escalate_because.push("asked for by the operator".into());
    }
    let mut out = io::stdout().lock();
    match format {
        "json" => {
            serde_json::to_writer_pretty(&mut out, &p)?;
            writeln!(out)?;
        }
        "html" => write!(
            out,
            "{}",
            cardwatch_server::fix::print::packet_page(
                &p,
                cardwatch_server::fix::print::Styles::Inline
            )
        )?,
        _ => write!(out, "{}", p.to_text())?,
    }
    Ok(())
}
