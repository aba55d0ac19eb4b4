//! The one-page cheat sheet for a site's reception (seed 000 and 001: a poster of what to do when
//! a card fails): for the everyday symptoms, the checks and fixes someone without IT rights can do,
//! in the order the engine would take them at that site; when to escalate; who to call; and what
//! never to do.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::engine::{Case, Fact, StepKind, NOT_FIXED};
use super::kb::KnowledgeBase;

/// A local contact, from the configuration (`[[contacts]]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// What they are for ("IT service desk", "Registration Authority").
    pub role: String,
    /// Name or team.
    pub name: String,
    /// Telephone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Sites, organisations or ICBs (ODS codes) they serve; empty for every site.
    #[serde(default)]
    pub serves: Vec<String>,
}

/// The most characters a contact's role or name may have.
const CONTACT_WORDS_MOST: usize = 200;

/// Whether a contact's phone is a number someone can dial: 6 to 20 digits, with spaces, `+`,
/// brackets, hyphens or dots between them, and perhaps an extension ("ext 214", "x214").
fn is_phone_number(p: &str) -> bool {
    let lower = p.to_lowercase();
    let dialled = lower
        .replace("extension", " ")
        .replace("ext", " ")
        .replace('x', " ");
    let digits = dialled.chars().filter(char::is_ascii_digit).count();
    (6..=20).contains(&digits)
        && dialled
            .chars()
            .all(|c| c.is_ascii_digit() || " +()-.".contains(c))
}

impl Contact {
    /// What stops reception using this contact, if anything: the same rule for the
    /// configuration's contacts and the ones kept for a site.
    pub fn problem(&self) -> Option<String> {
        self.problem_at().map(|(_, m)| m)
    }

    /// [`Contact::problem`] with the field it is about: `role`, `name`, `phone`, `email` or
    /// `serves`.
    pub fn problem_at(&self) -> Option<(&'static str, String)> {
        for (field, text) in [("role", &self.role), ("name", &self.name)] {
            if text.trim().is_empty() {
                let m = "a contact needs a role (what they are for) and a name";
                return Some((field, m.to_owned()));
            }
            // Longer than a name or a team's name runs, it would crowd the printed sheet.
            if text.chars().count() > CONTACT_WORDS_MOST {
                return Some((
                    field,
                    format!("a contact's role and name are at most {CONTACT_WORDS_MOST} characters each — shorten them"),
                ));
            }
        }
        if let Some(p) = self.phone.as_deref().filter(|p| !is_phone_number(p)) {
            return Some((
                "phone",
                format!(
                    "contact {:?}: {p:?} is not a phone number — give its digits, like 0113 496 0000 (spaces, +, brackets and an extension are fine)",
                    self.name
                ),
            ));
        }
        if self.phone.is_none() && self.email.is_none() {
            return Some((
                "phone",
                format!(
                    "contact {:?} needs a phone or an email — give a phone number or an email \
                     address, so reception can reach them",
                    self.name
                ),
            ));
        }
        if let Some(e) = self
            .email
            .as_deref()
            .filter(|e| crate::ids::Email::parse(e).is_err())
        {
            return Some((
                "email",
                format!("contact {:?}: {e:?} is not an email address", self.name),
            ));
        }
        self.serves
            .iter()
            .find(|s| crate::ids::OdsCode::parse(s).is_err())
            .map(|s| {
                (
                    "serves",
                    format!("contact {:?}: {s:?} is not an ODS code", self.name),
                )
            })
    }
}

/// Steps at the desk for one symptom.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SheetSection {
    /// The symptom's name.
    pub symptom: String,
    /// What to do, in order.
    pub steps: Vec<String>,
}

/// The cheat sheet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheatSheet {
    /// The site's ODS code.
    pub site: String,
    /// The site's name, if known.
    pub site_name: Option<String>,
    /// One section per everyday symptom.
    pub sections: Vec<SheetSection>,
    /// When to call for help.
    pub escalate_when: Vec<String>,
    /// Who to call.
    pub contacts: Vec<Contact>,
    /// What never to do.
    pub guardrail: String,
}

/// At most this many steps per symptom: the page must stay one page.
const STEPS_PER_SYMPTOM: usize = 4;

impl KnowledgeBase {
    /// The steps a person at the desk takes for a symptom, in the engine's order with these
    /// priors: the engine's likeliest path (each check answered as most likely, each fix not
    /// working), keeping the steps that need no IT rights.
    pub fn desk_steps(
        &self,
        symptom: usize,
        priors: Option<Vec<f64>>,
        facts: Vec<Fact>,
    ) -> Vec<String> {
        let mut case = Case {
            priors,
            facts,
            ..Case::default()
        };
        let mut steps = Vec::new();
        for _ in 0..(self.checks.len() + self.fixes.len()) {
            let Ok(a) = self.advise(symptom, &case) else {
                break;
            };
            let next = &a.next;
            let answer = match next.kind {
                StepKind::Check => {
                    // The likeliest answer under the current posterior.
                    let ch = &self.checks[self.check(&next.id).unwrap_or(0)];
                    (0..ch.results.len())
                        .max_by(|&x, &y| {
                            let p = |r: usize| -> f64 {
                                a.posterior
                                    .iter()
                                    .map(|&(c, w)| w * ch.likelihood[c][r])
                                    .sum()
                            };
                            p(x).total_cmp(&p(y))
                        })
                        .map_or(String::new(), |r| ch.results[r].clone())
                }
                StepKind::Fix => NOT_FIXED.to_owned(),
                StepKind::Escalate | StepKind::Done => break,
            };
            if next.who.is_some_and(|w| w.at_the_desk()) && steps.len() < STEPS_PER_SYMPTOM {
                steps.push(next.prompt.clone());
            }
            // Steps taken meanwhile add minutes; the sheet lists the order, not the clock.
            case.elapsed_minutes = Some(0.0);
            case.observations.push((next.id.clone(), answer));
        }
        steps
    }

    /// The cheat sheet for a site; `priors` gives a symptom's learned priors there, if any, and
    /// `smartcard_connect` the component of NHS Smartcard Connect when some of the site's
    /// computers run it — the sheet then says what is new on them, which needs no fixing.
    pub fn cheat_sheet(
        &self,
        site: &str,
        site_name: Option<&str>,
        priors: impl Fn(usize) -> Option<Vec<f64>>,
        contacts: &[Contact],
        smartcard_connect: Option<&str>,
    ) -> CheatSheet {
        let mut sections: Vec<SheetSection> = self
            .settings
            .cheat_sheet
            .iter()
            .filter_map(|id| self.symptom(id))
            .map(|s| SheetSection {
                symptom: self.symptoms[s].name.clone(),
                steps: self.desk_steps(s, priors(s), Vec::new()),
            })
            .collect();
        if let Some(component) = smartcard_connect {
            // Asked on one of those computers: the engine knows the client, so its first step
            // says what the behaviour is rather than looking for a fault.
            let on_it = || {
                vec![Fact {
                    key: "workstation.auth-client".into(),
                    value: component.to_owned(),
                    because: "the computer runs NHS Smartcard Connect".into(),
                }]
            };
            // One section for them all, with each one's first step (what the behaviour is):
            // should it be a fault after all, the everyday sections above apply, and the sheet
            // stays one page.
            let new: Vec<usize> = self
                .settings
                .cheat_sheet_smartcard_connect
                .iter()
                .filter_map(|id| self.symptom(id))
                .collect();
            let mut steps: Vec<String> = Vec::new();
            for &s in &new {
                if let Some(first) = self.desk_steps(s, priors(s), on_it()).into_iter().next() {
                    if !steps.contains(&first) {
                        steps.push(first);
                    }
                }
            }
            if !steps.is_empty() {
                sections.push(SheetSection {
                    symptom: new
                        .iter()
                        .map(|&s| self.symptoms[s].plain.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                    steps,
                });
            }
        }
        let s = &self.settings;
        CheatSheet {
            site: site.to_owned(),
            site_name: site_name.map(str::to_owned),
            sections,
            escalate_when: vec![
                format!(
                    "The steps above have not fixed it within {:.0} minutes.",
                    s.escalate_after_minutes
                ),
                format!(
                    "{} or more people at the site have the same problem within {} minutes.",
                    s.cluster_people, s.cluster_window_minutes
                ),
                "The card is damaged, or the screen says it is blocked or cancelled.".into(),
            ],
            contacts: contacts
                .iter()
                .filter(|c| c.serves.is_empty() || c.serves.iter().any(|x| x == site))
                .cloned()
                .collect(),
            guardrail: s.guardrail.clone(),
        }
    }
}

impl CheatSheet {
    /// The sheet's title: "When a smartcard fails" and the site.
    pub fn title(&self) -> String {
        match &self.site_name {
            Some(n) => format!("When a smartcard fails — {n} ({})", self.site),
            None => format!("When a smartcard fails — {}", self.site),
        }
    }

    /// A contact as one line: role, name, phone and email.
    pub fn contact_line(c: &Contact) -> String {
        let mut line = format!("{}: {}", c.role, c.name);
        for v in [&c.phone, &c.email].into_iter().flatten() {
            let _ = write!(line, ", {v}");
        }
        line
    }

    /// Plain text.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "{}\n", self.title());
        for s in &self.sections {
            let _ = writeln!(t, "{}", s.symptom);
            for (i, step) in s.steps.iter().enumerate() {
                let _ = writeln!(t, "  {}. {step}", i + 1);
            }
            let _ = writeln!(t);
        }
        let _ = writeln!(t, "Call for help when:");
        for e in &self.escalate_when {
            let _ = writeln!(t, "  - {e}");
        }
        let _ = writeln!(t, "\nWho to call:");
        if self.contacts.is_empty() {
            let _ = writeln!(
                t,
                "  (no contacts configured: add [[contacts]] to the configuration)"
            );
        }
        for c in &self.contacts {
            let _ = writeln!(t, "  {}", Self::contact_line(c));
        }
        let _ = writeln!(t, "\n{}", self.guardrail);
        t
    }
}
