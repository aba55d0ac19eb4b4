//! A triage run is an incident: who, which card and workstation, which application, the symptom,
//! every step with its answer and time, and how it ended. Resolved incidents are what the engine
//! learns from; an incident's steps are also what the escalation packet lists.

use serde::{Deserialize, Serialize};

use super::engine::{Case, FIXED};
use super::kb::KnowledgeBase;
use super::learning::Tally;
use crate::date::Timestamp;

/// The clinical or NHS application in use when the card failed.
pub const APPLICATIONS: &[&str] = &[
    "emis-web",
    "systmone",
    "vision",
    "eps",
    "care-identity",
    "nhsmail",
    "other",
];

/// Checks an application name against [`APPLICATIONS`] (any case, spaces as hyphens).
pub fn parse_application(s: &str) -> Result<String, String> {
    let a = s.trim().to_lowercase().replace([' ', '_'], "-");
    if APPLICATIONS.contains(&a.as_str()) {
        Ok(a)
    } else {
        Err(format!(
            "{s:?} is not an application Cardwatch knows — use one of: {}",
            APPLICATIONS.join(", ")
        ))
    }
}

/// The application a description names ("EPS signing greyed out in emis" is EMIS Web), for an
/// incident recorded without one chosen; none when it names none, or more than one. Only the
/// systems the vocabulary knows by name (EMIS Web, SystmOne) are read.
pub fn application_said(kb: &KnowledgeBase, text: &str) -> Option<&'static str> {
    let mut named: Vec<&'static str> = kb
        .vocabulary
        .concepts(text)
        .iter()
        .filter_map(|c| match c.as_str() {
            "emis" => Some("emis-web"),
            "systmone" => Some("systmone"),
            _ => None,
        })
        .collect();
    named.dedup();
    match named.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// How an incident stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    /// Still being worked.
    Open,
    /// A fix worked.
    Resolved,
    /// Handed over to support.
    Escalated,
}

impl IncidentStatus {
    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Resolved => "resolved",
            IncidentStatus::Escalated => "escalated",
        }
    }

    /// Parses the text form.
    pub fn parse(s: &str) -> Result<IncidentStatus, String> {
        match s {
            "open" => Ok(IncidentStatus::Open),
            "resolved" => Ok(IncidentStatus::Resolved),
            "escalated" => Ok(IncidentStatus::Escalated),
            _ => Err(format!("{s:?} is not open, resolved or escalated")),
        }
    }
}

/// One step taken: a check answered or a fix tried, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentStep {
    /// When it was answered.
    pub at: Timestamp,
    /// The check's or fix's id.
    pub id: String,
    /// The answer (`fixed` / `not-fixed` for a fix).
    pub result: String,
}

/// What is known when an incident is opened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NewIncident {
    /// Who is running the triage.
    pub reporter: String,
    /// The site (ODS code), if known.
    pub site: Option<String>,
    /// The card's serial, if known.
    pub card_serial: Option<String>,
    /// The workstation's hostname, if known.
    pub hostname: Option<String>,
    /// The application in use (see [`APPLICATIONS`]).
    pub application: Option<String>,
    /// What the user was doing ("signing a prescription").
    pub doing: Option<String>,
    /// The symptom's id.
    pub symptom: String,
    /// The exact error text the user saw, if any.
    pub error_text: Option<String>,
}

/// An incident as stored.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Incident {
    /// Its number.
    pub id: i64,
    /// When it was opened.
    pub opened_at: Timestamp,
    /// What was known then.
    #[serde(flatten)]
    pub opened: NewIncident,
    /// Every step, in order.
    pub steps: Vec<IncidentStep>,
    /// How it stands.
    pub status: IncidentStatus,
    /// The cause a working fix confirmed.
    pub confirmed_cause: Option<String>,
    /// Minutes from opening to the fix (or the hand-over).
    pub minutes_to_fix: Option<f64>,
    /// When it was closed.
    pub closed_at: Option<Timestamp>,
}

impl Incident {
    /// The engine's case for this incident so far.
    pub fn case(&self, now: Timestamp) -> Case {
        Case {
            observations: self
                .steps
                .iter()
                .map(|s| (s.id.clone(), s.result.clone()))
                .collect(),
            words: self.opened.error_text.clone(),
            elapsed_minutes: Some((now.unix() - self.opened_at.unix()).max(0) as f64 / 60.0),
            ..Case::default()
        }
    }

    /// Whether a fix has worked.
    pub fn fixed(&self) -> bool {
        self.steps.iter().any(|s| s.result == FIXED)
    }
}

/// A count of resolved incidents: at a site (or none), of a symptom, with a confirmed cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CauseCount {
    /// The site, if the incident had one.
    pub site: Option<String>,
    /// The symptom's id.
    pub symptom: String,
    /// The confirmed cause's id.
    pub cause: String,
    /// How many.
    pub n: u64,
}

/// The estate's tally and one site's, from stored counts.
pub fn tallies(kb: &KnowledgeBase, counts: &[CauseCount], site: Option<&str>) -> (Tally, Tally) {
    let mut estate = Tally::new();
    let mut local = Tally::new();
    for c in counts {
        estate.add_by_id(kb, &c.symptom, &c.cause, c.n as f64);
        if site.is_some() && c.site.as_deref() == site {
            local.add_by_id(kb, &c.symptom, &c.cause, c.n as f64);
        }
    }
    (estate, local)
}
