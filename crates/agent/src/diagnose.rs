//! `cardwatch-agent diagnose`: what the automatic checks found, in plain words — the card's
//! certificates, the readers, the smartcard software, Credential Management, the NHS
//! endpoints — the triage checks they answer for the symptom, Cardwatch's next step, and the
//! escalation packet fields the agent knows.

use std::fmt::Write as _;

use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::inventory::{certificate_verdicts, Diagnosis};
use cardwatch_core::reader::Firmware;
use cardwatch_core::triage::matching::find_symptom;
use cardwatch_core::triage::{agent_facts, Case, Fact, KnowledgeBase, StepKind};
use serde_json::json;

/// The symptom named by id or by the text the user saw.
pub fn symptom(kb: &KnowledgeBase, given: &str) -> Result<usize, String> {
    kb.symptom(given.trim())
        .or_else(|| find_symptom(kb, given).map(|m| m.symptom))
        .ok_or_else(|| {
            let ids: Vec<&str> = kb.symptoms.iter().map(|s| s.id.as_str()).collect();
            format!(
                "--symptom {given:?}: no such symptom or error text — give one of {}",
                ids.join(", ")
            )
        })
}

/// The escalation packet's fields the agent can fill: (field, value).
pub fn packet_fields(d: &Diagnosis) -> Vec<(&'static str, String)> {
    let inv = &d.inventory;
    let mut out = vec![("hostname", inv.hostname.clone())];
    if let Some(os) = &inv.os {
        out.push(("windows_build", format!("{} {}", os.name, os.build)));
    }
    for r in inv.readers.iter().flat_map(|r| &r.readers) {
        let fw = match &r.firmware {
            Firmware::Version(v) => format!("firmware {v}"),
            Firmware::Unsupported => "firmware not reported".to_owned(),
        };
        out.push(("readers", format!("{} ({fw})", r.name)));
    }
    for s in &inv.software {
        out.push(("software", format!("{} {}", s.component, s.version)));
    }
    let mut serials: Vec<&str> = inv
        .certificates
        .iter()
        .flatten()
        .map(|c| c.token_serial.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    serials.dedup();
    for s in serials {
        out.push(("card_serial", s.to_owned()));
    }
    out
}

/// The facts for the diagnosis and, with a symptom, the engine's advice.
fn facts(d: &Diagnosis, catalogue: &Catalogue) -> Vec<Fact> {
    agent_facts(&d.inventory, Some(&d.probes), catalogue, d.at)
}

/// The diagnosis as text.
pub fn text(
    d: &Diagnosis,
    kb: &KnowledgeBase,
    catalogue: &Catalogue,
    symptom: Option<usize>,
    problems: &[String],
) -> String {
    let mut out = String::new();
    let inv = &d.inventory;
    let os = inv.os.as_ref().map_or("unknown OS".to_owned(), |o| {
        format!("{} {}", o.name, o.build)
    });
    let _ = writeln!(
        out,
        "Workstation {} ({os}), cardwatch-agent {}",
        inv.hostname, inv.agent_version
    );
    let _ = writeln!(out, "\nFound:");
    if let Some(r) = &inv.readers {
        let _ = writeln!(
            out,
            "- {} reader(s), {} card(s) inserted",
            r.readers.len(),
            r.cards
        );
        for w in &r.warnings {
            let _ = writeln!(out, "- {w}");
        }
    }
    if let Some(certs) = &inv.certificates {
        if certs.is_empty() {
            let _ = writeln!(out, "- no certificate on any inserted card");
        }
        for v in certificate_verdicts(certs, d.at) {
            let _ = writeln!(out, "- {v}");
        }
    }
    for s in &inv.software {
        let _ = writeln!(out, "- {} {} ({})", s.component, s.version, s.source);
    }
    if let Some(up) = d.probes.credential_management_running() {
        let _ = writeln!(
            out,
            "- Credential Management {}",
            if up {
                "answers on its local port"
            } else {
                "does not answer on its local ports: it is not running"
            }
        );
    }
    for e in &d.probes.endpoints {
        let _ = writeln!(
            out,
            "- {} {} ({})",
            e.url,
            if e.reachable {
                "reachable"
            } else {
                "NOT reachable"
            },
            e.detail
        );
    }
    if let Some(o) = d.probes.clock_offset_seconds {
        let _ = writeln!(out, "- this clock is {o} s off the server's");
    }
    for p in inv.problems.iter().chain(problems) {
        let _ = writeln!(out, "- could not check {p}");
    }
    let facts = facts(d, catalogue);
    match symptom {
        Some(s) => {
            let sym = &kb.symptoms[s];
            let _ = writeln!(out, "\nFor \"{}\", answered without asking:", sym.name);
            let case = Case {
                facts,
                ..Case::default()
            };
            match kb.advise(s, &case) {
                Ok(a) => {
                    for k in &a.known {
                        let prompt = kb
                            .check(&k.check)
                            .map_or("", |c| kb.checks[c].prompt.as_str());
                        let _ = writeln!(out, "- {prompt} → {} ({})", k.result, k.because);
                    }
                    if a.known.is_empty() {
                        let _ = writeln!(out, "- none of its checks");
                    }
                    if let Some((c, p)) = a.posterior.first() {
                        let _ = writeln!(
                            out,
                            "\nMost likely: {} ({:.0}%)",
                            kb.causes[*c].name,
                            p * 100.0
                        );
                    }
                    let what = match a.next.kind {
                        StepKind::Check => "check",
                        StepKind::Fix => "do",
                        StepKind::Escalate => "escalate",
                        StepKind::Done => "done",
                    };
                    let _ = writeln!(out, "Next ({what}): {} — {}", a.next.prompt, a.next.reason);
                }
                Err(e) => {
                    let _ = writeln!(out, "- {e}");
                }
            }
        }
        None => {
            let _ = writeln!(out, "\nTriage checks this answers:");
            for f in &facts {
                let _ = writeln!(out, "- {} = {} ({})", f.key, f.value, f.because);
            }
        }
    }
    let _ = writeln!(out, "\nFor an escalation packet:");
    for (field, value) in packet_fields(d) {
        let _ = writeln!(out, "- {field}: {value}");
    }
    out
}

/// The diagnosis as one JSON object: the report, the verdicts, the facts.
pub fn json(d: &Diagnosis, catalogue: &Catalogue, problems: &[String]) -> serde_json::Value {
    let verdicts = d
        .inventory
        .certificates
        .as_deref()
        .map(|c| certificate_verdicts(c, d.at))
        .unwrap_or_default();
    let facts: Vec<serde_json::Value> = facts(d, catalogue)
        .into_iter()
        .map(|f| json!({"key": f.key, "value": f.value, "because": f.because}))
        .collect();
    let packet: Vec<serde_json::Value> = packet_fields(d)
        .into_iter()
        .map(|(k, v)| json!({"field": k, "value": v}))
        .collect();
    json!({
        "diagnosis": d,
        "verdicts": verdicts,
        "facts": facts,
        "packet": packet,
        "problems": problems,
    })
}
