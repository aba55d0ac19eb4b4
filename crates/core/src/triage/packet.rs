//! The escalation packet: everything support needs to skip the first twenty minutes (seed 002's
//! list — who, card UUID, application, exact error, Windows build and reader model, software
//! versions, last successful signing, time, what they were doing, every check and its result).

use std::fmt::Write as _;

use serde::Serialize;

use super::engine::Advice;
use super::facts::Context;
use super::incident::Incident;
use super::kb::KnowledgeBase;
use crate::date::Timestamp;

/// One step as support reads it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PacketStep {
    /// When it was answered.
    pub at: Timestamp,
    /// check or fix.
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// What was asked or done.
    pub prompt: String,
    /// The answer.
    pub result: String,
}

/// A likely cause with its probability.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Likely {
    /// The cause's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// P(cause | everything so far).
    pub probability: f64,
}

/// The escalation packet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Packet {
    /// The incident's number.
    pub incident: i64,
    /// When the fault was reported.
    pub opened_at: Timestamp,
    /// When the packet was made.
    pub escalated_at: Timestamp,
    /// Who ran the triage.
    pub reporter: String,
    /// The card holder's name, if known.
    pub person: Option<String>,
    /// The card holder's UUID (the long number on the card), if known.
    pub card_uuid: Option<String>,
    /// The card's serial.
    pub card_serial: Option<String>,
    /// The site.
    pub site: Option<String>,
    /// The application in use.
    pub application: Option<String>,
    /// What the user was doing.
    pub doing: Option<String>,
    /// The symptom.
    pub symptom: String,
    /// The exact error text.
    pub error_text: Option<String>,
    /// The workstation's host name.
    pub hostname: Option<String>,
    /// Its operating system and build.
    pub windows_build: Option<String>,
    /// Readers on it: vendor, model, firmware.
    pub readers: Vec<String>,
    /// Smartcard software on it: component and version.
    pub software: Vec<String>,
    /// The card's last recorded successful use (authentication).
    pub last_successful_use: Option<String>,
    /// The last successful signing on the workstation, when its agent has seen one.
    pub last_successful_signing: Option<String>,
    /// Why it is escalated.
    pub escalate_because: Vec<String>,
    /// The likeliest causes after every check.
    pub likely_causes: Vec<Likely>,
    /// Every step and its result.
    pub steps: Vec<PacketStep>,
    /// Minutes spent so far.
    pub minutes_so_far: f64,
    /// What to do meanwhile, and what never to do.
    pub guardrail: String,
}

impl KnowledgeBase {
    /// The packet for an incident, from the engine's advice on it and the estate's records.
    pub fn packet(&self, inc: &Incident, advice: &Advice, cx: &Context, now: Timestamp) -> Packet {
        let steps = inc
            .steps
            .iter()
            .map(|s| {
                let (kind, prompt) = match (self.check(&s.id), self.fix(&s.id)) {
                    (Some(c), _) => ("check", self.checks[c].prompt.clone()),
                    (_, Some(f)) => ("fix", self.fixes[f].prompt.clone()),
                    _ => ("step", String::new()),
                };
                PacketStep {
                    at: s.at,
                    kind,
                    id: s.id.clone(),
                    prompt,
                    result: s.result.clone(),
                }
            })
            .collect();
        let symptom = self
            .symptom(&inc.opened.symptom)
            .map_or(inc.opened.symptom.clone(), |s| {
                self.symptoms[s].name.clone()
            });
        Packet {
            incident: inc.id,
            opened_at: inc.opened_at,
            escalated_at: now,
            reporter: inc.opened.reporter.clone(),
            person: cx.holder_name.clone(),
            card_uuid: cx.card.as_ref().map(|c| c.holder_uuid.as_str().to_owned()),
            card_serial: inc.opened.card_serial.clone(),
            site: inc.opened.site.clone().or_else(|| cx.site.clone()),
            application: inc.opened.application.clone(),
            doing: inc.opened.doing.clone(),
            symptom,
            error_text: inc.opened.error_text.clone(),
            hostname: inc.opened.hostname.clone(),
            windows_build: cx
                .workstation
                .as_ref()
                .map(|w| format!("{} {}", w.os, w.os_build)),
            readers: cx
                .readers
                .iter()
                .map(|r| {
                    format!(
                        "{} {} firmware {}",
                        r.vendor,
                        r.model,
                        r.firmware.as_deref().unwrap_or("not reported")
                    )
                })
                .collect(),
            software: cx
                .software
                .iter()
                .map(|s| format!("{} {}", s.component, s.version))
                .collect(),
            last_successful_use: cx
                .card
                .as_ref()
                .and_then(|c| c.last_used_on)
                .map(|d| d.to_string()),
            last_successful_signing: cx.last_signing.as_ref().map(|(at, token)| {
                format!("{at}: card {token}, the workstation agent's signing self-test")
            }),
            escalate_because: advice.escalate_because.clone(),
            likely_causes: advice
                .posterior
                .iter()
                .take(3)
                .map(|&(c, p)| Likely {
                    id: self.causes[c].id.clone(),
                    name: self.causes[c].name.clone(),
                    probability: (p * 1000.0).round() / 1000.0,
                })
                .collect(),
            steps,
            minutes_so_far: ((now.unix() - inc.opened_at.unix()).max(0) as f64 / 60.0).round(),
            guardrail: advice.guardrail.clone(),
        }
    }
}

impl Packet {
    /// The packet as plain text, for an email or a ticket.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "not known".into());
        let _ = writeln!(t, "SMARTCARD ESCALATION — incident {}", self.incident);
        let _ = writeln!(
            t,
            "Reported {} by {}; escalated {} ({} minutes so far)",
            self.opened_at, self.reporter, self.escalated_at, self.minutes_so_far
        );
        let _ = writeln!(t, "Why now: {}", self.escalate_because.join("; "));
        let _ = writeln!(t);
        for (label, value) in [
            ("Person", or(&self.person)),
            ("Card UUID", or(&self.card_uuid)),
            ("Card serial", or(&self.card_serial)),
            ("Site", or(&self.site)),
            ("Application", or(&self.application)),
            ("Doing", or(&self.doing)),
            ("Symptom", self.symptom.clone()),
            ("Exact error", or(&self.error_text)),
            ("Workstation", or(&self.hostname)),
            ("Windows build", or(&self.windows_build)),
            ("Last successful use", or(&self.last_successful_use)),
            (
                "Last successful signing",
                self.last_successful_signing
                    .clone()
                    .unwrap_or_else(|| "not recorded (no agent report yet)".into()),
            ),
        ] {
            let _ = writeln!(t, "{label:<24} {value}");
        }
        let list = |v: &[String]| {
            if v.is_empty() {
                "not known".to_owned()
            } else {
                v.join("; ")
            }
        };
        let _ = writeln!(t, "{:<24} {}", "Readers", list(&self.readers));
        let _ = writeln!(t, "{:<24} {}", "Smartcard software", list(&self.software));
        let _ = writeln!(t, "\nLikeliest causes now:");
        for l in &self.likely_causes {
            let _ = writeln!(t, "  {:>3.0}%  {}", l.probability * 100.0, l.name);
        }
        let _ = writeln!(t, "\nChecks and fixes so far:");
        if self.steps.is_empty() {
            let _ = writeln!(t, "  none");
        }
        for s in &self.steps {
            let _ = writeln!(t, "  {}  {} {}: {}", s.at, s.kind, s.id, s.result);
        }
        let _ = writeln!(t, "\n{}", self.guardrail);
        t
    }
}
