//! What people decide about findings (acknowledged, snoozed, until a day), how findings and
//! those notes are joined, and how findings are filtered and written out.

use std::borrow::Cow;

use serde::Serialize;

use super::{Finding, Severity};
use crate::date::{Date, Timestamp};
use crate::fasthash::FastMap;

ordered_words!(
    /// What a person decided about a finding.
    NoteState {
        /// Seen and being dealt with: still shown, no longer alerts.
        Acknowledged = "acknowledged",
        /// Put off: hidden until the note expires.
        Snoozed = "snoozed",
    }
);

/// A person's acknowledgement or snooze of one finding, until a day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FindingNote {
    /// The finding's id.
    pub finding_id: String,
    /// Acknowledged or snoozed.
    pub state: NoteState,
    /// Why, in the person's words.
    pub reason: String,
    /// Who.
    pub actor: String,
    /// When.
    pub noted_at: Timestamp,
    /// The last day the note applies.
    pub until: Date,
}

/// The longest a finding can be put off: long enough for a quarter's work, short enough that
/// nothing is forgotten.
pub const MAX_NOTE_DAYS: i32 = 180;

impl FindingNote {
    /// A validated note: a reason is required, and the note must end between today and
    /// [`MAX_NOTE_DAYS`] from now.
    pub fn new(
        finding_id: &str,
        state: NoteState,
        reason: &str,
        until: Date,
        actor: &str,
        now: Timestamp,
    ) -> Result<FindingNote, String> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(format!(
                "{state} needs a reason — say why (e.g. \"renewal booked for 3 Dec\")"
            ));
        }
        if reason.chars().count() > 500 || reason.chars().any(char::is_control) {
            return Err(
                "the reason must be one line of at most 500 characters — shorten it".into(),
            );
        }
        let today = now.date();
        if until < today {
            return Err(format!(
                "until {until} is in the past — give a day from {today}"
            ));
        }
        if today.days_until(until) > MAX_NOTE_DAYS {
            return Err(format!(
                "until {until} is more than {MAX_NOTE_DAYS} days away — choose a nearer day and review it then"
            ));
        }
        Ok(FindingNote {
            finding_id: finding_id.to_owned(),
            state,
            reason: reason.to_owned(),
            actor: actor.to_owned(),
            noted_at: now,
            until,
        })
    }

    /// Whether the note still applies on `today`.
    pub fn applies(&self, today: Date) -> bool {
        today <= self.until
    }
}

/// A finding with what was decided about it, if that still applies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Noted {
    /// The finding.
    #[serde(flatten)]
    pub finding: Finding,
    /// `open`, `acknowledged` or `snoozed`.
    pub state: &'static str,
    /// The note, while it applies. Boxed: nearly every finding has none, and a national check
    /// holds over a million of them.
    pub note: Option<Box<FindingNote>>,
}

impl Noted {
    /// A finding nobody has noted.
    pub fn open(finding: Finding) -> Noted {
        Noted {
            finding,
            state: "open",
            note: None,
        }
    }

    /// Whether it should alert (open: neither acknowledged nor snoozed).
    pub fn is_open(&self) -> bool {
        self.note.is_none()
    }
}

/// Joins findings with the notes that still apply. A note whose finding is gone (the condition
/// was fixed) or whose day has passed has no effect.
pub fn with_notes(findings: Vec<Finding>, notes: &[FindingNote], today: Date) -> Vec<Noted> {
    let mut noted: Vec<Noted> = findings.into_iter().map(Noted::open).collect();
    apply_notes(&mut noted, notes, today);
    noted
}

/// Sets on open findings, in place, the notes that still apply ([`with_notes`]).
pub fn apply_notes(all: &mut [Noted], notes: &[FindingNote], today: Date) {
    // Keyed by (rule, subject): an id is the rule, a slash, and the subject (rules have none).
    let live: FastMap<(&str, &str), &FindingNote> = notes
        .iter()
        .filter(|n| n.applies(today))
        .filter_map(|n| n.finding_id.split_once('/').map(|k| (k, n)))
        .collect();
    if live.is_empty() {
        return;
    }
    for n in all {
        if let Some(note) = live.get(&(n.finding.rule, n.finding.subject.as_str())) {
            n.state = note.state.as_str();
            n.note = Some(Box::new((*note).clone()));
        }
    }
}

/// Which findings to show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this site's.
    pub site: Option<String>,
    /// Only at or above this severity.
    pub min_severity: Option<Severity>,
    /// Also those snoozed (hidden by default; acknowledged ones are always shown).
    pub include_snoozed: bool,
    /// Only rules whose id starts with this: one rule (`spare-readers-low`) or a group of them
    /// (`integration-`, `cert-signing-`).
    pub rule: Option<String>,
}

impl Filter {
    /// Whether a finding passes.
    pub fn keep(&self, n: &Noted) -> bool {
        self.site
            .as_deref()
            .is_none_or(|s| n.finding.site.eq_ignore_ascii_case(s))
            && self.min_severity.is_none_or(|m| n.finding.severity >= m)
            && (self.include_snoozed || n.state != NoteState::Snoozed.as_str())
            && self
                .rule
                .as_deref()
                .is_none_or(|r| n.finding.rule.starts_with(r))
    }
}

/// The columns of a findings CSV export.
pub const CSV_COLUMNS: [&str; 13] = [
    "id",
    "rule",
    "severity",
    "state",
    "subject_kind",
    "subject",
    "site",
    "owner",
    "due",
    "why",
    "fix",
    "note_reason",
    "note_until",
];

impl Noted {
    /// The fields of a CSV row, in [`CSV_COLUMNS`] order, borrowed where they can be.
    pub fn csv_fields(&self) -> [Cow<'_, str>; 13] {
        let f = &self.finding;
        let note = self.note.as_ref();
        [
            Cow::Owned(f.id()),
            Cow::Borrowed(f.rule),
            Cow::Borrowed(f.severity.as_str()),
            Cow::Borrowed(self.state),
            Cow::Borrowed(f.subject_kind.as_str()),
            Cow::Borrowed(f.subject.as_str()),
            Cow::Borrowed(f.site.as_str()),
            Cow::Borrowed(f.owner.as_str()),
            Cow::Owned(iso(f.due)),
            Cow::Borrowed(f.why.as_str()),
            Cow::Borrowed(&f.fix),
            note.map_or(Cow::Borrowed(""), |n| Cow::Borrowed(n.reason.as_str())),
            note.map_or(Cow::Borrowed(""), |n| Cow::Owned(iso(n.until))),
        ]
    }
}

/// `yyyy-mm-dd`, without the formatting machinery (a row of every finding in a CSV has one).
fn iso(d: Date) -> String {
    d.iso().iter().map(|&b| char::from(b)).collect()
}
