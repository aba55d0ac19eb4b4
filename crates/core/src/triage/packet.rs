//! The escalation packet: everything support needs to skip the first twenty minutes (seed 002's
//! list — who, card UUID, application, exact error, Windows build and reader model, software
//! versions, last successful signing, time, what they were doing, every check and its result).
//! Its text is written for people: dates as "5 December 2026 at 14:05", each step as its
//! question and the answer given, applications and smartcard software by name; the JSON keeps
//! the ids beside the words.

use std::fmt::Write as _;

use serde::Serialize;

use super::engine::{Advice, StepKind, CANNOT, FIXED, NOT_FIXED};
use super::facts::Context;
use super::incident::{Incident, IncidentStatus};
use super::kb::KnowledgeBase;
use crate::catalogue::Catalogue;
use crate::date::{dates_in_words, Timestamp};

/// One step as support reads it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PacketStep {
    /// When it was recorded.
    pub at: Timestamp,
    /// Whether `at` is when it was answered: false when other steps of the incident share the
    /// same second (answers recorded together afterwards), so the text gives no time for it.
    pub timed: bool,
    /// check or fix.
    pub kind: &'static str,
    /// Its id.
    pub id: String,
    /// What was asked or done.
    pub prompt: String,
    /// The answer, as recorded.
    pub result: String,
    /// The answer in plain words ("No, still not working").
    pub answer: String,
}

/// A check the estate's records answered, so nobody was asked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PacketFact {
    /// The check's id.
    pub check: String,
    /// Its question.
    pub prompt: String,
    /// The answer the records give, as the knowledge base words it.
    pub result: String,
    /// The answer in plain words.
    pub answer: String,
    /// Where it comes from.
    pub because: String,
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
    /// The incident's state when it was made: still open (the packet is only a draft so far),
    /// fixed, or passed to support.
    pub status: IncidentStatus,
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
    /// The site's name, where the caller knows it (the server's pages do).
    pub site_name: Option<String>,
    /// The application in use, by its code (`emis-web`).
    pub application: Option<String>,
    /// The application in use, by its name (EMIS Web).
    pub application_name: Option<String>,
    /// What the user was doing.
    pub doing: Option<String>,
    /// The symptom.
    pub symptom: String,
    /// The symptom as the desk says it.
    pub problem: String,
    /// The exact error text.
    pub error_text: Option<String>,
    /// The workstation's host name.
    pub hostname: Option<String>,
    /// Its operating system and build.
    pub windows_build: Option<String>,
    /// Readers on it: vendor, model, firmware.
    pub readers: Vec<String>,
    /// Smartcard software on it: component id and version (`smartcard-connect 4.1.0.12`).
    pub software: Vec<String>,
    /// The same software by the catalogue's names ("NHS Smartcard Connect (with NHS Credential
    /// Management 4.1) 4.1.0.12"), a component the catalogue does not list by its id.
    pub software_names: Vec<String>,
    /// The card's last recorded successful use (authentication).
    pub last_successful_use: Option<String>,
    /// The last successful signing on the workstation, when its agent has seen one.
    pub last_successful_signing: Option<String>,
    /// Why it is escalated.
    pub escalate_because: Vec<String>,
    /// The likeliest causes after every check.
    pub likely_causes: Vec<Likely>,
    /// The checks the estate's records answered.
    pub known: Vec<PacketFact>,
    /// Every step and its result.
    pub steps: Vec<PacketStep>,
    /// Whole minutes from the report to the packet, rounded as the engine's reasons round them.
    pub minutes_so_far: f64,
    /// What to do meanwhile, and what never to do.
    pub guardrail: String,
}

/// An application's name, for its code in [`super::APPLICATIONS`]; an unknown code as it is.
pub fn application_name(code: &str) -> &str {
    match code {
        "emis-web" => "EMIS Web",
        "systmone" => "SystmOne",
        "vision" => "Vision",
        "eps" => "Electronic Prescription Service (EPS)",
        "care-identity" => "Care Identity Management",
        "nhsmail" => "NHSmail",
        "other" => "another system",
        other => other,
    }
}

/// A software component's name as the catalogue gives it (an application installed as a
/// component by the application's name); a component the catalogue does not list by its id.
pub fn component_name<'a>(catalogue: &'a Catalogue, component: &'a str) -> &'a str {
    catalogue
        .software(component)
        .map(|s| s.name.as_str())
        .or_else(|| catalogue.application(component).map(|a| a.name.as_str()))
        .unwrap_or(component)
}

/// An answer as the desk reads it: [`answer_in_words`], except that an answer naming a software
/// component the catalogue lists ("smartcard-connect", to "which smartcard software does this
/// computer use?") is given by its name.
pub fn answer_named(catalogue: &Catalogue, kind: StepKind, result: &str) -> String {
    match catalogue.software(result) {
        Some(s) => s.name.clone(),
        None => answer_in_words(kind, result),
    }
}

/// An answer in the words the wizard offers it: a fix's outcome as "Yes, that fixed it" or "No,
/// still not working", "I can't check this" (or try, for a fix), and a check's own answer as the
/// knowledge base words it, hyphens as spaces ("not-running" → "Not running").
pub fn answer_in_words(kind: StepKind, result: &str) -> String {
    match (kind, result) {
        (_, FIXED) => "Yes, that fixed it".into(),
        (_, NOT_FIXED) => "No, still not working".into(),
        (StepKind::Fix, CANNOT) => "I can't try this".into(),
        (_, CANNOT) => "I can't check this".into(),
        (_, r) => {
            let words = r.replace('-', " ");
            let mut c = words.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

/// Who ran the triage, from the reporter recorded (`web:NAME`, `cli:NAME`).
fn reporter_in_words(reporter: &str) -> String {
    match reporter.split_once(':') {
        Some(("web", who)) => format!("{who}, in Cardwatch's web pages"),
        Some(("cli", who)) => format!("{who}, at Cardwatch's command line"),
        _ => reporter.to_owned(),
    }
}

fn minutes(n: f64) -> String {
    if n == 1.0 {
        "1 minute".into()
    } else {
        format!("{n:.0} minutes")
    }
}

impl KnowledgeBase {
    /// The packet for an incident, from the engine's advice on it and the estate's records;
    /// `catalogue` names the smartcard software.
    pub fn packet(
        &self,
        inc: &Incident,
        advice: &Advice,
        cx: &Context,
        catalogue: &Catalogue,
        now: Timestamp,
    ) -> Packet {
        let steps = inc
            .steps
            .iter()
            .map(|s| {
                let (kind, step_kind, prompt) = match (self.check(&s.id), self.fix(&s.id)) {
                    (Some(c), _) => ("check", StepKind::Check, self.checks[c].prompt.clone()),
                    (_, Some(f)) => ("fix", StepKind::Fix, self.fixes[f].prompt.clone()),
                    _ => ("step", StepKind::Check, s.id.replace('-', " ")),
                };
                PacketStep {
                    at: s.at,
                    timed: inc.steps.iter().filter(|o| o.at == s.at).count() == 1,
                    kind,
                    id: s.id.clone(),
                    prompt,
                    result: s.result.clone(),
                    answer: answer_named(catalogue, step_kind, &s.result),
                }
            })
            .collect();
        let (symptom, problem) = self.symptom(&inc.opened.symptom).map_or_else(
            || (inc.opened.symptom.clone(), inc.opened.symptom.clone()),
            |s| {
                (
                    self.symptoms[s].name.clone(),
                    self.symptoms[s].plain.clone(),
                )
            },
        );
        let known = advice
            .known
            .iter()
            .map(|k| PacketFact {
                check: k.check.clone(),
                prompt: self.check(&k.check).map_or_else(
                    || k.check.replace('-', " "),
                    |c| self.checks[c].prompt.clone(),
                ),
                result: k.result.clone(),
                answer: answer_named(catalogue, StepKind::Check, &k.result),
                because: dates_in_words(&k.because),
            })
            .collect();
        // Whole minutes rounded half to even, as the engine's "N minutes have gone" formats
        // them, so the two never differ by one.
        let gone = (now.unix() - inc.opened_at.unix()).max(0) as f64 / 60.0;
        Packet {
            incident: inc.id,
            opened_at: inc.opened_at,
            escalated_at: now,
            status: inc.status,
            reporter: inc.opened.reporter.clone(),
            person: cx.holder_name.clone(),
            card_uuid: cx.card.as_ref().map(|c| c.holder_uuid.as_str().to_owned()),
            card_serial: inc.opened.card_serial.clone(),
            site: inc.opened.site.clone().or_else(|| cx.site.clone()),
            site_name: cx.site_name.clone(),
            application: inc.opened.application.clone(),
            application_name: inc
                .opened
                .application
                .as_deref()
                .map(|a| application_name(a).to_owned()),
            doing: inc.opened.doing.clone(),
            symptom,
            problem,
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
            software_names: cx
                .software
                .iter()
                .map(|s| format!("{} {}", component_name(catalogue, &s.component), s.version))
                .collect(),
            last_successful_use: cx
                .card
                .as_ref()
                .and_then(|c| c.last_used_on)
                .map(|d| d.long()),
            last_successful_signing: cx.last_signing.as_ref().map(|(at, token)| {
                format!(
                    "{}: card {token}, the workstation agent's signing self-test",
                    at.long()
                )
            }),
            escalate_because: if advice.escalate_because.is_empty() && advice.books_ra() {
                // Passed on to book the RA: the step is theirs, in person, not a fix that failed.
                vec![format!(
                    "the next step is the Registration Authority's, in person: {}",
                    advice.next.prompt
                )]
            } else {
                advice
                    .escalate_because
                    .iter()
                    .map(|b| dates_in_words(b))
                    .collect()
            },
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
            known,
            steps,
            minutes_so_far: gone.round_ties_even(),
            guardrail: advice.guardrail.clone(),
        }
    }
}

impl Packet {
    /// The packet's first line, its title.
    pub fn title(&self) -> String {
        format!("SMARTCARD ESCALATION — incident {}", self.incident)
    }

    /// The packet as plain text, for an email or a ticket: its title, then one "Label: value"
    /// line a field (no column padding, which a mail client's proportional font would undo) in
    /// headed groups.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "not known".into());
        let list = |v: &[String]| {
            if v.is_empty() {
                "not known".to_owned()
            } else {
                v.join("; ")
            }
        };
        let _ = writeln!(t, "{}", self.title());
        let _ = writeln!(
            t,
            "Reported: {}, by {}",
            self.opened_at.long(),
            reporter_in_words(&self.reporter)
        );
        let _ = writeln!(
            t,
            "{}: {}, {} after it was reported{}",
            match self.status {
                IncidentStatus::Escalated => "Passed to support",
                IncidentStatus::Resolved => "Fixed",
                IncidentStatus::Open => "Written",
            },
            self.escalated_at.long(),
            minutes(self.minutes_so_far),
            if self.status == IncidentStatus::Open {
                "; the incident is still open at the desk"
            } else {
                ""
            }
        );
        let _ = writeln!(t, "Why now: {}", self.escalate_because.join("; "));
        let group = |t: &mut String, heading: &str, lines: &[(&str, String)]| {
            let _ = writeln!(t, "\n{heading}");
            for (label, value) in lines {
                let _ = writeln!(t, "{label}: {value}");
            }
        };
        group(
            &mut t,
            "WHO AND WHERE",
            &[
                ("Person", or(&self.person)),
                ("User ID printed on the card (UUID)", or(&self.card_uuid)),
                ("Card serial number", or(&self.card_serial)),
                match (&self.site_name, &self.site) {
                    (Some(name), Some(code)) => ("Site", format!("{name} (ODS code {code})")),
                    _ => ("Site (ODS code)", or(&self.site)),
                },
                ("System in use", or(&self.application_name)),
                ("What they were doing", or(&self.doing)),
            ],
        );
        group(
            &mut t,
            "THE PROBLEM",
            &[
                ("Problem", self.problem.clone()),
                ("What was reported, as typed", or(&self.error_text)),
            ],
        );
        group(
            &mut t,
            "THE COMPUTER AND THE CARD",
            &[
                ("Computer name", or(&self.hostname)),
                ("Windows version", or(&self.windows_build)),
                ("Card readers", list(&self.readers)),
                ("Smartcard software", list(&self.software_names)),
                ("Card last used", or(&self.last_successful_use)),
                (
                    "Last signing that worked",
                    self.last_successful_signing
                        .clone()
                        .unwrap_or_else(|| "not recorded (no agent report yet)".into()),
                ),
            ],
        );
        let _ = writeln!(t, "\nWHAT CARDWATCH'S RECORDS ANSWERED (nobody was asked)");
        if self.known.is_empty() {
            let _ = writeln!(t, "Nothing.");
        }
        for k in &self.known {
            let _ = writeln!(t, "- {}\n  {} ({})", k.prompt, k.answer, k.because);
        }
        let _ = writeln!(t, "\nWHAT WAS TRIED");
        if self.steps.is_empty() {
            let _ = writeln!(t, "Nothing yet.");
        }
        for (n, s) in self.steps.iter().enumerate() {
            let _ = writeln!(t, "{}. {}", n + 1, s.prompt);
            if s.timed {
                let _ = writeln!(t, "   Answer: {} (answered {})", s.answer, s.at.long());
            } else {
                let _ = writeln!(t, "   Answer: {}", s.answer);
            }
        }
        let _ = writeln!(t, "\nLIKELIEST CAUSES NOW");
        for l in &self.likely_causes {
            let _ = writeln!(t, "{:.0}% {}", l.probability * 100.0, l.name);
        }
        let _ = writeln!(
            t,
            "\nWHAT TO TELL THE CLINICIAN MEANWHILE\n{}",
            self.guardrail
        );
        t
    }
}

#[cfg(test)]
mod tests {
    use crate::date::dates_in_words;

    #[test]
    fn iso_dates_are_written_in_words_and_nothing_else_is() {
        assert_eq!(
            dates_in_words("valid until 2027-01-03, seen 2026-12-05"),
            "valid until 3 January 2027, seen 5 December 2026"
        );
        // Not dates: a longer number, a version, an impossible day.
        for kept in [
            "12026-12-051",
            "v2026-12-05b",
            "2026-13-45",
            "6.2.0.4",
            "",
            "2026-12-0",
        ] {
            assert_eq!(dates_in_words(kept), kept);
        }
        assert_eq!(dates_in_words("é 2026-12-05 é"), "é 5 December 2026 é");
    }
}
