//! Health checks: pure rules over the whole estate, each turning a known cause of smartcard
//! failure into a finding before it stops a clinic. Every finding names its rule, how serious it
//! is, what it is about, where, who should act, by when, why, and the fix in plain words.
//!
//! Findings are recomputed from the estate each time, never kept by hand: a fixed condition
//! simply stops producing its finding. A finding's id is its rule and subject, so that what a
//! person decided about it (acknowledged, snoozed) still applies on the next run; rules that
//! escalate (a certificate's 90 → 30 → 7 days → expired) have one rule id per step, so a snooze
//! of the early warning never hides the later one.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::card_status::CardStatus;
use crate::catalogue::{compare, Catalogue, Presence, Version};
use crate::date::{Date, Timestamp};
use crate::estate::CoreHours;
use crate::fasthash::FastMap;
use crate::ids::ActivityCode;
use crate::records::Kind;
use crate::vocab::{HashAlgorithm, PositionStatus, Purpose, ReaderStatus, UpdateRing};

macro_rules! ordered_words {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant,)+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The text form.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// Parses the text form (any case).
            pub fn parse(s: &str) -> Result<$name, String> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
                    .ok_or_else(|| format!(
                        "{s:?} is not one of: {}",
                        $name::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                    ))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

mod clients;
mod estate;
mod freshness;
mod integrations;
mod notes;
mod organisations;
mod queue;
mod recheck;
pub use estate::*;
pub use integrations::integration_card_subject;
pub use notes::*;
pub use queue::*;
pub use recheck::*;

ordered_words!(
    /// How serious a finding is, least first.
    Severity {
        /// Worth knowing; act when convenient.
        Info = "info",
        /// Will cause trouble if left.
        Warning = "warning",
        /// Act this week.
        Urgent = "urgent",
        /// Stopping someone working now.
        Critical = "critical",
    }
);

impl Severity {
    /// One step more serious (critical stays critical).
    pub fn raised(self) -> Severity {
        match self {
            Severity::Info => Severity::Warning,
            Severity::Warning => Severity::Urgent,
            _ => Severity::Critical,
        }
    }
}

ordered_words!(
    /// Who should act on a finding.
    Owner {
        /// The card holder.
        Holder = "holder",
        /// The practice manager.
        PracticeManager = "practice_manager",
        /// IT support.
        It = "it",
        /// The Registration Authority.
        Ra = "ra",
    }
);

ordered_words!(
    /// What a finding is about.
    SubjectKind {
        /// A smartcard.
        Card = "card",
        /// A person.
        Person = "person",
        /// A workstation.
        Workstation = "workstation",
        /// A reader.
        Reader = "reader",
        /// A site.
        Site = "site",
        /// A service acting with practice cards (or one of its cards).
        Integration = "integration",
    }
);

/// One problem found in the estate. Its stable id, the rule and the subject
/// (`cert-signing-30d/CS0000000042`), is written out when needed rather than kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The rule that found it.
    pub rule: &'static str,
    /// How serious.
    pub severity: Severity,
    /// What kind of thing it is about.
    pub subject_kind: SubjectKind,
    /// Which one (card serial, UUID, hostname, reader serial, site ODS).
    pub subject: String,
    /// The site it belongs to.
    pub site: String,
    /// Who should act.
    pub owner: Owner,
    /// By when.
    pub due: Date,
    /// Why it matters, in one line.
    pub why: String,
    /// What to do, in plain words.
    pub fix: Cow<'static, str>,
}

impl Finding {
    /// The stable id: rule and subject.
    pub fn id(&self) -> String {
        // Built by hand: a CSV of a national check writes 771,000 of them.
        let mut id = String::with_capacity(self.rule.len() + 1 + self.subject.len());
        id.push_str(self.rule);
        id.push('/');
        id.push_str(&self.subject);
        id
    }

    /// Whether `id` is this finding's id (without building it).
    pub fn has_id(&self, id: &str) -> bool {
        id.split_once('/') == Some((self.rule, self.subject.as_str()))
    }
}

impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Finding", 11)?;
        st.serialize_field("id", &self.id())?;
        st.serialize_field("rule", self.rule)?;
        st.serialize_field("severity", &self.severity)?;
        st.serialize_field("subject_kind", &self.subject_kind)?;
        st.serialize_field("subject", &self.subject)?;
        st.serialize_field("site", &self.site)?;
        st.serialize_field("owner", &self.owner)?;
        st.serialize_field("due", &self.due)?;
        st.serialize_field("why", &self.why)?;
        st.serialize_field("fix", &self.fix)?;
        st.end()
    }
}

/// The limits the rules use; every one can be changed in the configuration's `[health]` table.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Days before expiry that users may self-renew (and are prompted at each login).
    pub renewal_window_days: i32,
    /// Days before expiry that a certificate is urgent.
    pub soon_days: i32,
    /// Days before expiry that a certificate is about to stop someone working.
    pub imminent_days: i32,
    /// Days without use that make an active card dormant.
    pub dormant_days: i32,
    /// Lockouts within `lockout_window_days` that count as repeated.
    pub lockouts: usize,
    /// The window for repeated lockouts, in days.
    pub lockout_window_days: i32,
    /// Working days a role request may wait for RA approval.
    pub approval_working_days: i32,
    /// Spare readers each site should keep.
    pub min_spare_readers: usize,
    /// Trained local smartcard admins each site should have.
    pub min_local_admins: usize,
    /// Activity codes that make a position's holder someone who must sign (prescribers).
    pub prescribing_activities: Vec<String>,
    /// Seconds a workstation's clock may be off the server's (Kerberos refuses sign-in at five
    /// minutes; TLS checks certificate times).
    pub clock_skew_seconds: i64,
    /// Days after a leaver's last day of employment that their name, email and staff role are
    /// kept (once nothing of theirs is in force); then the `retention` job erases them. Set it to
    /// the organisation's records retention schedule.
    pub leaver_retention_days: i32,
    /// Days after a catalogue fact's `as_of` that it is reported as due to be checked against
    /// its source again: a deadline or version that moved since is otherwise judged by its old
    /// value with no sign anything is wrong.
    pub catalogue_max_age_days: i32,
    /// Days a site's card data may go without an import naming one of its cards or an agent
    /// report from one of its workstations before it is raised as stale: stale data hides
    /// certificates that have since come into their renewal window.
    pub stale_data_days: i32,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            renewal_window_days: 90,
            soon_days: 30,
            imminent_days: 7,
            dormant_days: 90,
            lockouts: 3,
            lockout_window_days: 30,
            approval_working_days: 10,
            min_spare_readers: 2,
            min_local_admins: 2,
            // Independent and supplementary prescribing, verifying and dispensing prescriptions.
            prescribing_activities: ["B0420", "B0440", "B0068", "B0058", "B0570"]
                .map(String::from)
                .to_vec(),
            clock_skew_seconds: 120,
            leaver_retention_days: 6 * 365,
            // About six months, so that every fact is looked at again at least twice a year: a
            // judgement, since no published review period for these facts was found (unconfirmed).
            catalogue_max_age_days: 183,
            // A month between imports (the cadence of a monthly report export) and a few days'
            // grace: a site on a monthly routine is never raised, one that misses a month is
            // raised within a week — while a certificate first seen inside its 90-day window
            // still has most of it left. A judgement (unconfirmed: no published cadence).
            stale_data_days: 35,
        }
    }
}

impl Thresholds {
    /// The last day of employment before which, seen from `today`, a leaver's personal data is
    /// past its retention period.
    pub fn leavers_erased_before(&self, today: Date) -> Date {
        today.add_days(-self.leaver_retention_days)
    }

    /// Refuses limits that make no sense, naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        let days = [
            ("renewal_window_days", self.renewal_window_days),
            ("soon_days", self.soon_days),
            ("imminent_days", self.imminent_days),
            ("dormant_days", self.dormant_days),
            ("lockout_window_days", self.lockout_window_days),
            ("approval_working_days", self.approval_working_days),
            ("catalogue_max_age_days", self.catalogue_max_age_days),
            ("stale_data_days", self.stale_data_days),
        ];
        if let Some((name, n)) = days.iter().find(|(_, n)| !(1..=3650).contains(n)) {
            return Err(format!(
                "health.{name} = {n}: must be 1 to 3650 days — fix the configuration"
            ));
        }
        if !(self.imminent_days < self.soon_days && self.soon_days < self.renewal_window_days) {
            return Err(format!(
                "health: imminent_days ({}) < soon_days ({}) < renewal_window_days ({}) must hold — fix the configuration",
                self.imminent_days, self.soon_days, self.renewal_window_days
            ));
        }
        if !(30..=36_500).contains(&self.leaver_retention_days) {
            return Err(format!(
                "health.leaver_retention_days = {}: must be 30 to 36500 days — fix the configuration",
                self.leaver_retention_days
            ));
        }
        if self.lockouts == 0 {
            return Err("health.lockouts must be at least 1 — fix the configuration".into());
        }
        if !(1..=86_400).contains(&self.clock_skew_seconds) {
            return Err(format!(
                "health.clock_skew_seconds = {}: must be 1 to 86400 — fix the configuration",
                self.clock_skew_seconds
            ));
        }
        if let Some(bad) = self
            .prescribing_activities
            .iter()
            .find(|c| ActivityCode::parse(c).is_err())
        {
            return Err(format!(
                "health.prescribing_activities: {bad:?} is not an activity code (B and four digits)"
            ));
        }
        Ok(())
    }
}

/// Everything a check needs besides the estate.
#[derive(Clone, Copy, Debug)]
pub struct Context<'a> {
    /// The day the check is made.
    pub today: Date,
    /// What is current and retired.
    pub catalogue: &'a Catalogue,
    /// The limits.
    pub thresholds: &'a Thresholds,
    /// Working days (for how long a request has waited).
    pub calendar: &'a Calendar,
}

/// Cards in these states are still their holder's card: their certificates and series matter.
fn in_use(status: CardStatus) -> bool {
    matches!(
        status,
        CardStatus::Active | CardStatus::Locked | CardStatus::Blocked
    )
}

struct Out {
    today: Date,
    /// Each open: the notes are set in place afterwards ([`check_noted`]), without a second
    /// list of a million findings.
    findings: Vec<Noted>,
}

impl Out {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        rule: &'static str,
        severity: Severity,
        subject_kind: SubjectKind,
        // A subject built for the finding is moved in, not copied.
        subject: impl Into<String>,
        site: &str,
        owner: Owner,
        due: Date,
        why: String,
        fix: Cow<'static, str>,
    ) {
        self.findings.push(Noted::open(Finding {
            rule,
            severity,
            subject_kind,
            subject: subject.into(),
            site: site.to_owned(),
            owner,
            due: due.max(self.today),
            why,
            fix,
        }));
    }

    /// A finding for IT about a workstation (or one of its components), filed under its site.
    #[allow(clippy::too_many_arguments)]
    fn it_workstation(
        &mut self,
        rule: &'static str,
        severity: Severity,
        subject: impl Into<String>,
        site: &str,
        due: Date,
        why: String,
        fix: Cow<'static, str>,
    ) {
        let kind = SubjectKind::Workstation;
        self.push(
            rule,
            severity,
            kind,
            subject,
            site,
            Owner::It,
            due,
            why,
            fix,
        );
    }
}

ordered_words!(
    /// A group of rules that read the same parts of the estate, to run on their own.
    Family {
        /// Certificate expiry bands and SHA-1 signing.
        Certificates = "certificates",
        /// Card series, lockouts, dormant cards, leavers' cards.
        Cards = "cards",
        /// Leavers' positions and requests waiting for the RA.
        Positions = "positions",
        /// Smartcard software, update windows and rings, reader firmware.
        Workstations = "workstations",
        /// Spare readers, stock and local admins per site.
        Sites = "sites",
        /// Readiness of services that act with practice cards.
        Integrations = "integrations",
    }
);

impl Family {
    /// The families whose findings a site's own records decide (every one but the integration
    /// rules, see [`reach`]): what a re-check of some sites runs.
    pub const LOCAL: &'static [Family] = &[
        Family::Certificates,
        Family::Cards,
        Family::Positions,
        Family::Workstations,
        Family::Sites,
    ];

    /// Whether the family's rules read positions' organisations and roles, not only whether
    /// they prescribe ([`LEAN_POSITION_COLUMNS`] is enough for the others).
    pub fn reads_position_roles(self) -> bool {
        matches!(self, Family::Positions | Family::Integrations)
    }

    /// The kinds of record the family's rules read.
    pub fn kinds(self) -> &'static [Kind] {
        match self {
            Family::Certificates => &[
                Kind::People,
                Kind::Cards,
                Kind::Certificates,
                Kind::Positions,
            ],
            Family::Cards => &[Kind::People, Kind::Cards, Kind::Positions, Kind::Lockouts],
            Family::Positions => &[Kind::People, Kind::Positions],
            Family::Workstations => &[
                Kind::Sites,
                Kind::Workstations,
                Kind::Software,
                Kind::Readers,
            ],
            Family::Sites => &[
                Kind::Organisations,
                Kind::Sites,
                Kind::People,
                Kind::Cards,
                Kind::Workstations,
                Kind::Readers,
                Kind::Stock,
            ],
            Family::Integrations => &[
                Kind::Sites,
                Kind::Cards,
                Kind::Positions,
                Kind::Integrations,
                Kind::IntegrationCards,
            ],
        }
    }
}

/// Runs every rule over the estate: findings ordered by site, most serious first, then rule and
/// subject. The estate's lists are first put in key order (free when, as from the store, they
/// already are), so that cards meet their certificates and lockouts, people their positions,
/// and workstations their software, by merging rather than by millions of hash lookups.
pub fn check(estate: &mut Estate, cx: &Context<'_>) -> Vec<Finding> {
    check_only(estate, cx, Family::ALL)
}

/// Runs the rules of some families only (the estate needs only their [`Family::kinds`]).
pub fn check_only(estate: &mut Estate, cx: &Context<'_>, families: &[Family]) -> Vec<Finding> {
    // Collected in place: a finding is the first part of a noted one.
    run_rules(estate, cx, families)
        .into_iter()
        .map(|n| n.finding)
        .collect()
}

/// [`check_only`] with the notes that still apply ([`with_notes`]), set in place on the
/// findings as the rules wrote them.
pub fn check_noted(
    estate: &mut Estate,
    cx: &Context<'_>,
    families: &[Family],
    notes: &[FindingNote],
) -> Vec<Noted> {
    let mut noted = run_rules(estate, cx, families);
    apply_notes(&mut noted, notes, cx.today);
    noted
}

/// The findings of some families' rules, in [`check`]'s order, each open.
fn run_rules(estate: &mut Estate, cx: &Context<'_>, families: &[Family]) -> Vec<Noted> {
    estate.sort();
    let estate = &*estate;
    let on = |f: Family| families.contains(&f);
    let mut out = Out {
        today: cx.today,
        findings: Vec::new(),
    };
    let holders = Holders::new(estate, cx.thresholds);
    let mut machines = Out {
        today: cx.today,
        findings: Vec::new(),
    };
    std::thread::scope(|s| {
        // The workstation rules (every machine's software) take about as long as all the
        // others together on a national estate: they run on the second core meanwhile.
        if on(Family::Workstations) {
            s.spawn(|| workstations(estate, cx, &mut machines));
        }
        if on(Family::Certificates) || on(Family::Cards) {
            cards(
                estate,
                cx,
                &holders,
                on(Family::Certificates),
                on(Family::Cards),
                &mut out,
            );
        }
        if on(Family::Positions) {
            positions(estate, cx, &holders, &mut out);
        }
        if on(Family::Sites) {
            sites(estate, cx, &mut out);
            freshness::stale_data(estate, cx, &mut out);
            organisations::closed_in_use(estate, cx, &mut out);
        }
        if on(Family::Integrations) {
            integrations::integrations(estate, cx, &mut out);
        }
    });
    out.findings.append(&mut machines.findings);
    sort_findings(&mut out.findings);
    out.findings
}

/// Every certificate to renew: the newest of each purpose on each card in use, with its holder's
/// site and whether it is a prescriber's signing certificate. In card and purpose order.
pub fn renewals(estate: &mut Estate, t: &Thresholds) -> Vec<crate::planner::Renewal> {
    estate.sort();
    let estate = &*estate;
    let holders = Holders::new(estate, t);
    // Each site's organisation and that organisation's parent, for RA teams to match on.
    let parents: FastMap<&str, &Option<Arc<str>>> = estate
        .organisations
        .iter()
        .map(|o| (o.ods_code.as_str(), &o.parent_ods))
        .collect();
    let above: FastMap<&str, [Option<Arc<str>>; 2]> = estate
        .sites
        .iter()
        .map(|s| {
            let org = s.organisation_ods.clone();
            let parent = parents.get(&*org).and_then(|p| (*p).clone());
            (s.site_ods.as_str(), [Some(org), parent])
        })
        .collect();
    let mut certs = Groups::new(&estate.certificates, |c| &c.card_serial);
    let mut out = Vec::with_capacity(estate.certificates.len());
    for (i, card) in estate.cards.iter().enumerate() {
        let card_certs = certs.of(&card.card_serial);
        if !in_use(card.status) {
            continue;
        }
        let holder = holders.of_card(i);
        for purpose in [Purpose::Authentication, Purpose::Signing] {
            let newest = card_certs
                .iter()
                .filter(|c| c.purpose == purpose)
                .max_by_key(|c| c.not_after);
            if let Some(cert) = newest {
                out.push(crate::planner::Renewal {
                    card_serial: card.card_serial.clone(),
                    purpose,
                    holder_uuid: card.holder_uuid.clone(),
                    site: holder.map_or("", |h| h.site).to_owned(),
                    expiry: cert.not_after,
                    prescriber_signing: purpose == Purpose::Signing
                        && holder.is_some_and(|h| h.prescriber),
                    organisations: holder
                        .and_then(|h| above.get(h.site))
                        .cloned()
                        .unwrap_or_default(),
                });
            }
        }
    }
    out
}

/// Orders findings by site, most serious first, rule, subject. Sites and rules are ranked once,
/// and each subject's first 16 bytes carried in the key, so that nearly every comparison is of
/// integers held in the key itself (card serials and UUIDs fit whole) rather than of strings
/// reached through the findings.
fn sort_findings(findings: &mut [Noted]) {
    /// The distinct values' ranks in sorted order: a hash pass, then a sort of the few distinct.
    fn ranks<'a>(values: impl Iterator<Item = &'a str>) -> FastMap<&'a str, u32> {
        let mut rank: FastMap<&str, u32> = FastMap::default();
        for v in values {
            rank.entry(v).or_insert(0);
        }
        let mut distinct: Vec<&str> = rank.keys().copied().collect();
        distinct.sort_unstable();
        for (i, v) in distinct.into_iter().enumerate() {
            rank.insert(v, i as u32);
        }
        rank
    }
    /// The first 16 bytes, zero-padded: ordered as the strings are, up to ties broken in full.
    fn prefix(s: &str) -> u128 {
        let mut b = [0u8; 16];
        let n = s.len().min(16);
        b[..n].copy_from_slice(&s.as_bytes()[..n]);
        u128::from_be_bytes(b)
    }
    let site_rank = ranks(findings.iter().map(|n| n.finding.site.as_str()));
    let rule_rank = ranks(findings.iter().map(|n| n.finding.rule));
    type Key = (u32, std::cmp::Reverse<Severity>, u32, u128, usize);
    let mut keyed: Vec<Key> = findings
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let f = &n.finding;
            (
                site_rank[f.site.as_str()],
                std::cmp::Reverse(f.severity),
                rule_rank[f.rule],
                prefix(&f.subject),
                i,
            )
        })
        .collect();
    let all: &[Noted] = findings;
    let cmp = |a: &Key, b: &Key| {
        (a.0, a.1, a.2, a.3)
            .cmp(&(b.0, b.1, b.2, b.3))
            .then_with(|| all[a.4].finding.subject.cmp(&all[b.4].finding.subject))
            .then(a.4.cmp(&b.4))
    };
    // Each half sorted on its own core, then merged.
    let mid = keyed.len() / 2;
    let (left, right) = keyed.split_at_mut(mid);
    std::thread::scope(|s| {
        s.spawn(|| left.sort_unstable_by(cmp));
        right.sort_unstable_by(cmp);
    });
    let (left, right) = keyed.split_at(mid);
    let mut order: Vec<usize> = Vec::with_capacity(keyed.len());
    let (mut l, mut r) = (left.iter().peekable(), right.iter().peekable());
    while let (Some(a), Some(b)) = (l.peek(), r.peek()) {
        let next = if cmp(b, a).is_lt() {
            r.next()
        } else {
            l.next()
        };
        order.extend(next.map(|k| k.4));
    }
    order.extend(l.chain(r).map(|k| k.4));
    // Put each finding in its place by following the permutation's cycles: swaps in place,
    // no second vector of findings.
    for start in 0..order.len() {
        let mut at = start;
        while order[at] != start {
            let from = order[at];
            findings.swap(at, from);
            order[at] = at;
            at = from;
        }
        order[at] = at;
    }
}

/// A person as the card and position rules see them.
struct Holder<'a> {
    site: &'a str,
    /// Holds an active or approved position with a prescribing activity code.
    prescriber: bool,
    /// Their last day, when it has passed.
    left: Option<Date>,
}

/// Everyone's holder facts, and which person each card belongs to.
struct Holders<'a> {
    people: Vec<Holder<'a>>,
    /// Per card (same order as `estate.cards`), the holder's index in `people`.
    of_card: Vec<Option<u32>>,
    /// Per position, the holder's index in `people`.
    of_position: Vec<Option<u32>>,
}

impl<'a> Holders<'a> {
    fn new(estate: &'a Estate, t: &Thresholds) -> Holders<'a> {
        // Two independent passes of about equal cost, one on each core: positions merged into
        // people (who prescribes), and each card's holder looked up.
        let ((prescribes, of_position), of_card) = std::thread::scope(|s| {
            let merged = s.spawn(|| merge_positions(estate, t));
            let of_card = holder_of_each_card(estate);
            let merged = merged
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (merged, of_card)
        });
        let people = estate
            .people
            .iter()
            .zip(prescribes)
            .map(|(p, prescriber)| Holder {
                site: &p.site_ods,
                prescriber,
                left: p.employment_end,
            })
            .collect();
        Holders {
            people,
            of_card,
            of_position,
        }
    }

    fn of_card(&self, card: usize) -> Option<&Holder<'a>> {
        self.of_card[card].map(|i| &self.people[i as usize])
    }
}

/// Positions and people are both in UUID order: one merge pass. Per person, whether an active
/// or approved position of theirs prescribes; per position, its holder's index.
fn merge_positions(estate: &Estate, t: &Thresholds) -> (Vec<bool>, Vec<Option<u32>>) {
    let mut prescribes = vec![false; estate.people.len()];
    let mut of_position = Vec::with_capacity(estate.positions.len());
    let mut at = 0;
    for pos in &estate.positions {
        while at < estate.people.len() && estate.people[at].uuid.as_str() < pos.holder_uuid.as_str()
        {
            at += 1;
        }
        let found =
            (at < estate.people.len() && estate.people[at].uuid == pos.holder_uuid).then_some(at);
        if let Some(i) = found {
            let prescribing = matches!(
                pos.status,
                PositionStatus::Active | PositionStatus::Approved
            ) && pos
                .activity_codes
                .split_whitespace()
                .any(|a| t.prescribing_activities.iter().any(|c| c == a));
            prescribes[i] |= prescribing;
        }
        of_position.push(found.map(|i| i as u32));
    }
    (prescribes, of_position)
}

/// Cards are in serial order, not holder order: one lookup each.
fn holder_of_each_card(estate: &Estate) -> Vec<Option<u32>> {
    let index: FastMap<&str, u32> = estate
        .people
        .iter()
        .enumerate()
        .map(|(i, p)| (p.uuid.as_str(), i as u32))
        .collect();
    estate
        .cards
        .iter()
        .map(|c| index.get(c.holder_uuid.as_str()).copied())
        .collect()
}

/// For each card in order, the slice of a sorted list that belongs to it: a merge walk.
struct Groups<'a, T> {
    items: &'a [T],
    at: usize,
    key: fn(&T) -> &str,
}

impl<'a, T> Groups<'a, T> {
    fn new(items: &'a [T], key: fn(&T) -> &str) -> Groups<'a, T> {
        Groups { items, at: 0, key }
    }

    /// The groups of keys from `first` on.
    fn from(items: &'a [T], key: fn(&T) -> &str, first: &str) -> Groups<'a, T> {
        let at = items.partition_point(|item| key(item) < first);
        Groups { items, at, key }
    }

    /// The items whose key is `k`; keys must be asked for in increasing order.
    fn of(&mut self, k: &str) -> &'a [T] {
        while self.at < self.items.len() && (self.key)(&self.items[self.at]) < k {
            self.at += 1;
        }
        let start = self.at;
        while self.at < self.items.len() && (self.key)(&self.items[self.at]) == k {
            self.at += 1;
        }
        &self.items[start..self.at]
    }
}

fn cards(
    estate: &Estate,
    cx: &Context<'_>,
    holders: &Holders<'_>,
    certificate_rules: bool,
    card_rules_on: bool,
    out: &mut Out,
) {
    // A national estate's million cards are judged in two halves, one on each core; the second
    // half's findings follow the first's, as one pass would give them.
    let mid = estate.cards.len() / 2;
    let mut later = Out {
        today: cx.today,
        findings: Vec::new(),
    };
    let judge = |cards: std::ops::Range<usize>, out: &mut Out| {
        cards_in(
            estate,
            cards,
            cx,
            holders,
            certificate_rules,
            card_rules_on,
            out,
        );
    };
    std::thread::scope(|s| {
        s.spawn(|| judge(mid..estate.cards.len(), &mut later));
        judge(0..mid, out);
    });
    out.findings.append(&mut later.findings);
}

/// The card and certificate rules over some of the cards (in card order).
fn cards_in(
    estate: &Estate,
    range: std::ops::Range<usize>,
    cx: &Context<'_>,
    holders: &Holders<'_>,
    certificate_rules: bool,
    card_rules_on: bool,
    out: &mut Out,
) {
    let t = cx.thresholds;
    let since = Timestamp::start_of(cx.today.add_days(1 - t.lockout_window_days));
    let first = estate
        .cards
        .get(range.start)
        .map_or("", |c| c.card_serial.as_str());
    let mut certs = Groups::from(&estate.certificates, |c| &c.card_serial, first);
    let mut locks = Groups::from(&estate.lockouts, |l| &l.card_serial, first);
    for (i, card) in estate
        .cards
        .iter()
        .enumerate()
        .take(range.end)
        .skip(range.start)
    {
        let serial = card.card_serial.as_str();
        let holder = holders.of_card(i);
        let site = holder.map_or("", |h| h.site);
        let prescriber = holder.is_some_and(|h| h.prescriber);
        let card_certs = certs.of(serial);
        let card_locks = locks.of(serial);
        if !in_use(card.status) {
            continue;
        }
        let left = holder.and_then(|h| h.left).filter(|d| *d < cx.today);
        if let Some(left) = left.filter(|_| card_rules_on) {
            out.push(
                "leaver-card",
                Severity::Urgent,
                SubjectKind::Card,
                serial,
                site,
                Owner::Ra,
                cx.today,
                format!("the holder left on {left} and the card is still {}", card.status),
                "ask the RA to cancel the card (or close the holder's access at this organisation) and collect it".into(),
            );
        }
        for purpose in [Purpose::Authentication, Purpose::Signing]
            .into_iter()
            .filter(|_| certificate_rules)
        {
            // A renewed certificate sits beside the one it replaced: judge the newest.
            if let Some(cert) = card_certs
                .iter()
                .filter(|c| c.purpose == purpose)
                .max_by_key(|c| c.not_after)
            {
                certificate(cert, serial, site, prescriber, cx, out);
            }
        }
        if card_rules_on {
            card_rules(card, serial, site, prescriber, card_locks, since, cx, out);
        }
    }
}

/// The last day a certificate can expire on and still be judged by the certificate rules (the
/// end of the renewal window). Those rules find something on a card only when one of its
/// certificates expires by then or is a SHA-1 signing certificate, so a store need not read
/// the other cards' certificates at all (a fifth of a national estate's two million are read),
/// nor, for [`Family::Certificates`] alone, those cards, holders and positions.
pub fn certificate_reach(cx: &Context<'_>) -> Date {
    cx.today.add_days(cx.thresholds.renewal_window_days)
}

/// The expiry bands of one certificate (the newest of its purpose on a card in use).
fn certificate(
    cert: &CertificateFacts,
    serial: &str,
    site: &str,
    prescriber: bool,
    cx: &Context<'_>,
    out: &mut Out,
) {
    let t = cx.thresholds;
    let purpose = cert.purpose;
    if purpose == Purpose::Signing && prescriber && cert.hash_algorithm == HashAlgorithm::Sha1 {
        out.push(
            "sha1-signing-prescriber",
            Severity::Urgent,
            SubjectKind::Card,
            serial,
            site,
            Owner::Ra,
            cx.today.add_days(7),
            "the signing certificate of a prescriber uses SHA-1; electronic prescriptions need SHA-256".into(),
            "issue a card of series 8 or later with a SHA-256 signing certificate (RA, in person)".into(),
        );
    }
    let days = cx.today.days_until(cert.not_after);
    let (step, severity, owner, fix) = if days < 0 {
        (
            "expired",
            Severity::Critical,
            Owner::Ra,
            "book the holder in person with an RA Manager or RA Agent to renew it: expired certificates cannot be self-renewed",
        )
    } else if days <= t.imminent_days {
        (
            "7d",
            Severity::Urgent,
            Owner::Holder,
            "self-renew today: sign in on a connected workstation and accept the renewal prompt (a Sponsor or Local Smartcard Administrator can help); once expired it needs an RA in person",
        )
    } else if days <= t.soon_days {
        (
            "30d",
            Severity::Warning,
            Owner::Holder,
            "self-renew this week: sign in on a connected workstation and accept the renewal prompt",
        )
    } else if days <= t.renewal_window_days {
        (
            "90d",
            Severity::Info,
            Owner::Holder,
            "self-renew now, at the next sign-in prompt — no RA visit needed while inside the window",
        )
    } else {
        return;
    };
    // Prescribers' signing certificates are judged a level higher: without them no
    // prescription is signed.
    let severity = if purpose == Purpose::Signing && prescriber {
        severity.raised()
    } else {
        severity
    };
    let rule = match (purpose, step) {
        (Purpose::Authentication, "expired") => "cert-authentication-expired",
        (Purpose::Authentication, "7d") => "cert-authentication-7d",
        (Purpose::Authentication, "30d") => "cert-authentication-30d",
        (Purpose::Authentication, _) => "cert-authentication-90d",
        (Purpose::Signing, "expired") => "cert-signing-expired",
        (Purpose::Signing, "7d") => "cert-signing-7d",
        (Purpose::Signing, "30d") => "cert-signing-30d",
        (Purpose::Signing, _) => "cert-signing-90d",
    };
    let what = match purpose {
        Purpose::Authentication => "authentication certificate (sign-in)",
        Purpose::Signing if prescriber => "signing certificate of a prescriber",
        Purpose::Signing => "signing certificate",
    };
    // Written by hand rather than by `format!`: a national check writes 400,000 of these.
    let mut why = String::with_capacity(what.len() + 32);
    why.push_str(what);
    why.push_str(if days < 0 {
        " expired on "
    } else {
        " expires on "
    });
    why.extend(cert.not_after.iso().iter().map(|&b| char::from(b)));
    if days >= 0 {
        why.push_str(" (");
        push_number(&mut why, days);
        why.push_str(if days == 1 { " day)" } else { " days)" });
    }
    let due = if days < 0 { cx.today } else { cert.not_after };
    out.push(
        rule,
        severity,
        SubjectKind::Card,
        serial,
        site,
        owner,
        due,
        why,
        fix.into(),
    );
}

/// Appends a whole number in decimal.
fn push_number(to: &mut String, n: i32) {
    if n < 0 {
        to.push('-');
    }
    let mut n = n.unsigned_abs();
    let mut digits = [0u8; 10];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    to.extend(digits[at..].iter().map(|&b| char::from(b)));
}

/// The rules about the card itself: its series, its lockouts, its use.
#[allow(clippy::too_many_arguments)]
fn card_rules(
    card: &CardFacts,
    serial: &str,
    site: &str,
    prescriber: bool,
    locks: &[LockoutFacts],
    since: Timestamp,
    cx: &Context<'_>,
    out: &mut Out,
) {
    let t = cx.thresholds;
    if let Some(series) = cx.catalogue.series(card.series) {
        match series.stops_working {
            Some(stop) if stop <= cx.today => out.push(
                "series-retired",
                Severity::Critical,
                SubjectKind::Card,
                serial,
                site,
                Owner::Ra,
                cx.today,
                format!(
                    "series {} ({}) cards stopped working on {stop}",
                    series.series, series.maker
                ),
                "issue a replacement card of a current series (RA, in person) and cancel this one"
                    .into(),
            ),
            Some(stop) => out.push(
                "series-retiring",
                if cx.today.days_until(stop) <= t.renewal_window_days {
                    Severity::Urgent
                } else {
                    Severity::Warning
                },
                SubjectKind::Card,
                serial,
                site,
                Owner::Ra,
                stop,
                format!(
                    "series {} ({}) cards stop working on {stop}",
                    series.series, series.maker
                ),
                "book a replacement card of a current series before that date (RA, in person)"
                    .into(),
            ),
            None => {}
        }
        if !series.sign && prescriber {
            out.push(
                "series-cannot-sign",
                Severity::Urgent,
                SubjectKind::Card,
                serial,
                site,
                Owner::Ra,
                cx.today.add_days(7),
                format!(
                    "a prescriber holds a series {} card, which cannot sign",
                    series.series
                ),
                "issue a card that can sign (series 8 or 9) so prescriptions can be signed".into(),
            );
        }
    }
    let n = locks.iter().filter(|l| l.locked_at >= since).count();
    {
        if n >= t.lockouts {
            out.push(
                "repeated-lockouts",
                Severity::Warning,
                SubjectKind::Card,
                serial,
                site,
                Owner::PracticeManager,
                cx.today.add_days(7),
                format!("locked {n} times in the last {} days", t.lockout_window_days),
                "talk to the holder: check the passcode they use and the card on another reader; set up self-service unlock (needs an email on their profile)".into(),
            );
        }
    }
    if card.status == CardStatus::Active {
        let last = card.last_used_on.unwrap_or(card.issued_on);
        let idle = last.days_until(cx.today);
        if idle >= t.dormant_days {
            out.push(
                "card-dormant",
                Severity::Info,
                SubjectKind::Card,
                serial,
                site,
                Owner::PracticeManager,
                cx.today.add_days(30),
                format!("not used for {idle} days (since {last})"),
                "check the holder still needs it; if not, ask the RA to cancel it".into(),
            );
        }
    }
}

fn positions(estate: &Estate, cx: &Context<'_>, holders: &Holders<'_>, out: &mut Out) {
    for (pos, holder) in estate.positions.iter().zip(&holders.of_position) {
        let holder = holder.map(|i| &holders.people[i as usize]);
        let site = holder.map_or("", |h| h.site);
        let subject = || format!("{}/{}/{}", pos.holder_uuid, pos.ods_code, pos.role_code);
        let left = holder.and_then(|h| h.left).filter(|d| *d < cx.today);
        if left.is_some() && pos.status != PositionStatus::Removed {
            out.push(
                "leaver-position",
                Severity::Urgent,
                SubjectKind::Person,
                subject(),
                site,
                Owner::Ra,
                cx.today,
                format!(
                    "a leaver still has the {} position {} at {}",
                    pos.status, pos.role_code, pos.ods_code
                ),
                "ask the RA or a sponsor to remove the position in the Care Identity Service"
                    .into(),
            );
        } else if pos.status == PositionStatus::Requested {
            if let Some(asked) = pos.requested_on {
                let waited = cx.calendar.working_days_between(asked, cx.today);
                if waited > cx.thresholds.approval_working_days {
                    out.push(
                        "request-awaiting-ra",
                        Severity::Warning,
                        SubjectKind::Person,
                        subject(),
                        site,
                        Owner::Ra,
                        cx.today.add_days(2),
                        format!(
                            "role request {} at {} has waited {waited} working days for RA approval (since {asked})",
                            pos.role_code, pos.ods_code
                        ),
                        "ask the RA to approve or reject the request; the holder cannot use the role until then".into(),
                    );
                }
            }
        }
    }
}

/// The findings about one installed component's version, the same for every workstation
/// holding that version: rule, severity, due, why and fix.
type VersionWords = Option<(&'static str, Severity, Date, String, String)>;

/// The software rules' texts, written once per component (and version) and copied to each
/// workstation's finding: a national estate has a million installs and few distinct versions.
#[derive(Default)]
struct SoftwareWords<'a> {
    /// Per catalogue entry: `software-missing`'s why and fix, `software-to-remove`'s fix.
    entries: Vec<Option<[String; 3]>>,
    /// Per catalogue entry and installed version: `software-to-remove`'s why.
    removing: FastMap<(usize, &'a str), String>,
    /// Per catalogue entry and installed version: the version rules' finding, if any.
    versions: FastMap<(usize, &'a str), VersionWords>,
}

/// `host/component`, a workstation finding's subject.
fn host_subject(host: &str, component: &str) -> String {
    let mut s = String::with_capacity(host.len() + 1 + component.len());
    s.push_str(host);
    s.push('/');
    s.push_str(component);
    s
}

fn workstations(estate: &Estate, cx: &Context<'_>, out: &mut Out) {
    // A national estate's machines are judged in two halves, one on each core: these rules take
    // longer than all the others together, and the core that ran the others would otherwise
    // wait. The second half's findings follow the first's, as one pass would give them.
    let mid = estate.workstations.len() / 2;
    let mut later = Out {
        today: cx.today,
        findings: Vec::new(),
    };
    std::thread::scope(|s| {
        s.spawn(|| workstations_in(estate, mid..estate.workstations.len(), cx, &mut later));
        workstations_in(estate, 0..mid, cx, out);
    });
    out.findings.append(&mut later.findings);
    workstations_together(estate, cx, out);
}

/// The rules of each workstation on its own (its clients, its software, its update window),
/// over some of the workstations (in host order).
fn workstations_in(
    estate: &Estate,
    range: std::ops::Range<usize>,
    cx: &Context<'_>,
    out: &mut Out,
) {
    let machines = &estate.workstations[range];
    let Some(first) = machines.first() else {
        return;
    };
    let mut installed = Groups::from(&estate.software, |s| &s.hostname, &first.hostname);
    let core_hours: FastMap<&str, &CoreHours> = estate
        .sites
        .iter()
        .filter_map(|s| s.core_hours.as_ref().map(|h| (s.site_ods.as_str(), h)))
        .collect();
    let mut client_words = clients::Words::default();
    let mut words = SoftwareWords {
        entries: vec![None; cx.catalogue.software.len()],
        ..SoftwareWords::default()
    };
    for ws in machines {
        let host = ws.hostname.as_str();
        let site = &*ws.site_ods;
        let here = installed.of(host);
        let clients = clients::clients_of(here, cx.catalogue);
        clients::judge(ws, here, &clients, cx, &mut client_words, out);
        for (at, entry) in cx.catalogue.software.iter().enumerate() {
            // A client's own software is judged only where that client is in use.
            if let Some(c) = &entry.client {
                if !clients.iter().any(|x| x.id == *c) {
                    continue;
                }
            }
            let found = here.iter().find(|s| *s.component == *entry.id);
            let texts = || {
                let current = entry
                    .current
                    .as_ref()
                    .map(|v| format!(" ({v})"))
                    .unwrap_or_default();
                [
                    format!(
                        "{} is not installed; every clinical workstation needs it",
                        entry.name
                    ),
                    format!(
                        "install the current {}{current} and restart the workstation",
                        entry.name
                    ),
                    format!(
                        "uninstall {} out of clinic hours, then check a card signs in and signs",
                        entry.name
                    ),
                ]
            };
            // Rule, severity, due, why and fix: every software finding is IT's, about one
            // component of the workstation.
            let finding = match (entry.presence, found) {
                (Presence::Required, None) => {
                    let [why, fix, _] = words.entries[at].get_or_insert_with(texts);
                    Some((
                        "software-missing",
                        Severity::Urgent,
                        cx.today.add_days(7),
                        &*why,
                        &*fix,
                    ))
                }
                (Presence::Remove, Some(s)) => {
                    let [_, _, fix] = words.entries[at].get_or_insert_with(texts);
                    let why = words.removing.entry((at, &*s.version)).or_insert_with(|| {
                        format!(
                            "{} {} is still installed and is being withdrawn",
                            entry.name, s.version
                        )
                    });
                    Some((
                        "software-to-remove",
                        Severity::Warning,
                        cx.today.add_days(30),
                        &*why,
                        &*fix,
                    ))
                }
                (_, Some(s)) => words
                    .versions
                    .entry((at, &*s.version))
                    .or_insert_with(|| software_version(entry, &s.version, cx))
                    .as_ref()
                    .map(|(rule, severity, due, why, fix)| (*rule, *severity, *due, why, fix)),
                _ => None,
            };
            if let Some((rule, severity, due, why, fix)) = finding {
                out.it_workstation(
                    rule,
                    severity,
                    host_subject(host, &entry.id),
                    site,
                    due,
                    why.clone(),
                    fix.clone().into(),
                );
            }
        }
        if let (Some(window), Some(hours)) = (&ws.update_window, core_hours.get(site)) {
            if let Some(clash) = overlap(window, hours) {
                out.it_workstation(
                    "updates-in-clinic-hours",
                    Severity::Warning,
                    host,
                    site,
                    cx.today.add_days(14),
                    format!("updates are scheduled {window}, inside core clinic hours ({hours}) at {clash}"),
                    "move the update window out of hours (evenings or weekends) so a failed update cannot stop a clinic".into(),
                );
            }
        }
    }
}

/// The workstation rules over more than one machine at a time (clocks, canaries, readers).
fn workstations_together(estate: &Estate, cx: &Context<'_>, out: &mut Out) {
    clock_skew(estate, cx, out);
    // Updates should reach one machine first: a site with several workstations and none in the
    // canary ring has nowhere to try them.
    let mut by_site: FastMap<&str, (usize, bool)> = FastMap::default();
    for ws in &estate.workstations {
        let e = by_site.entry(&*ws.site_ods).or_default();
        e.0 += 1;
        e.1 |= ws.update_ring == UpdateRing::Canary;
    }
    for (site, (n, canary)) in by_site {
        if n >= 2 && !canary {
            out.push(
                "no-canary-workstation",
                Severity::Warning,
                SubjectKind::Site,
                site,
                site,
                Owner::It,
                cx.today.add_days(30),
                format!("none of the site's {n} workstations is in the canary ring, so updates are not tried on one machine first"),
                "put one workstation in the canary ring; roll updates to the rest after it has worked for a day".into(),
            );
        }
    }
    for r in &estate.readers {
        if !matches!(r.status, ReaderStatus::InService | ReaderStatus::Spare) {
            continue;
        }
        let (Some(fw), Some(model)) = (&r.firmware, cx.catalogue.reader(&r.vendor, &r.model))
        else {
            continue;
        };
        if compare(fw, model.current_firmware.as_str()) == Ordering::Less {
            out.push(
                "reader-firmware-old",
                Severity::Warning,
                SubjectKind::Reader,
                &r.reader_serial,
                &r.site_ods,
                Owner::It,
                cx.today.add_days(30),
                format!(
                    "{} {} firmware {fw} is older than the current {} (old firmware can break signing while sign-in works)",
                    r.vendor, r.model, model.current_firmware
                ),
                "update the firmware with the vendor's utility (needs an admin account)".into(),
            );
        }
    }
}

/// What the version rules find on one installed version of a catalogue component.
fn software_version(
    entry: &crate::catalogue::SoftwareEntry,
    v: &str,
    cx: &Context<'_>,
) -> VersionWords {
    // Compared as text, part by part: most installs are current, and need no allocation.
    let older = |than: &Version| compare(v, than.as_str()) == Ordering::Less;
    let retired = entry
        .retired
        .iter()
        .find(|r| compare(v, r.version.as_str()) == Ordering::Equal && r.on <= cx.today);
    let below = match (&entry.mandatory_minimum, entry.mandatory_from) {
        (Some(min), Some(from)) if older(min) => Some((min, from)),
        _ => None,
    };
    let outdated = entry.current.as_ref().is_some_and(older);
    if below.is_none() && retired.is_none() && !outdated {
        return None;
    }
    let fix = format!(
        "install {} {} out of clinic hours and restart the workstation",
        entry.name,
        entry
            .current
            .as_ref()
            .or(entry.mandatory_minimum.as_ref())
            .map_or("(current)".to_owned(), ToString::to_string)
    );
    if let Some((min, from)) = below {
        let (severity, why) = if from <= cx.today {
            (
                Severity::Urgent,
                format!(
                    "{} {v} is below the mandatory {min} (mandatory since {from}); smartcards may stop working here",
                    entry.name
                ),
            )
        } else {
            (
                Severity::Warning,
                format!(
                    "{} {v} is below {min}, which becomes mandatory on {from}",
                    entry.name
                ),
            )
        };
        let due = if from <= cx.today {
            cx.today.add_days(7)
        } else {
            from
        };
        Some(("software-below-mandatory", severity, due, why, fix))
    } else if let Some(r) = retired {
        Some((
            "software-retired-version",
            Severity::Urgent,
            cx.today.add_days(7),
            format!("{} {v} was retired on {}", entry.name, r.on),
            fix,
        ))
    } else {
        Some((
            "software-outdated",
            Severity::Info,
            cx.today.add_days(60),
            format!(
                "{} {v} is older than the current {} (signing breaks first when middleware falls behind)",
                entry.name,
                entry.current.as_ref().map_or("", Version::as_str)
            ),
            fix,
        ))
    }
}

/// The first day and time at which an update window falls inside core hours, if any.
/// How recent an agent's clock report must be to be judged: an older one says nothing of now.
const CLOCK_REPORT_DAYS: i32 = 7;

/// Workstations whose agents last reported a clock further off the server's than allowed.
fn clock_skew(estate: &Estate, cx: &Context<'_>, out: &mut Out) {
    let clocks: FastMap<&str, &ClockFacts> = estate
        .clocks
        .iter()
        .map(|c| (c.hostname.as_str(), c))
        .collect();
    for ws in &estate.workstations {
        let Some(c) = clocks.get(ws.hostname.as_str()) else {
            continue;
        };
        if c.offset_seconds.abs() <= cx.thresholds.clock_skew_seconds
            || c.at.date() < cx.today.add_days(-CLOCK_REPORT_DAYS)
        {
            continue;
        }
        let (n, way) = if c.offset_seconds > 0 {
            (c.offset_seconds, "ahead of")
        } else {
            (-c.offset_seconds, "behind")
        };
        out.it_workstation(
            "workstation-clock-skew",
            Severity::Warning,
            ws.hostname.as_str(),
            &ws.site_ods,
            cx.today.add_days(7),
            format!(
                "its clock was {n} s {way} the server's when its agent last reported ({}); smartcard sign-in fails at five minutes",
                c.at
            ),
            "set the workstation to take its time from the domain (w32tm /resync) and check the agent's next report".into(),
        );
    }
}

fn overlap(window: &CoreHours, hours: &CoreHours) -> Option<String> {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    for w in window.spans() {
        for h in hours.spans() {
            let days = w.days & h.days;
            let start = w.opens.max(h.opens);
            if days != 0 && start < w.closes.min(h.closes) {
                let day = days.trailing_zeros() as usize;
                return Some(format!("{} {:02}:{:02}", DAYS[day], start / 60, start % 60));
            }
        }
    }
    None
}

fn sites(estate: &Estate, cx: &Context<'_>, out: &mut Out) {
    let t = cx.thresholds;
    let mut spares: FastMap<&str, usize> = FastMap::default();
    for r in &estate.readers {
        if r.status == ReaderStatus::Spare {
            *spares.entry(&*r.site_ods).or_default() += 1;
        }
    }
    let mut admins: FastMap<&str, usize> = FastMap::default();
    for p in &estate.people {
        let here = p.employment_end.is_none_or(|end| end >= cx.today);
        if p.local_admin && here {
            *admins.entry(&*p.site_ods).or_default() += 1;
        }
    }
    // Sites told to order spare readers from the readers list: their stock count of readers
    // says the same shortage again, so it is not raised twice.
    let mut short_of_readers: FastMap<&str, ()> = FastMap::default();
    for site in &estate.sites {
        let ods = site.site_ods.as_str();
        let n = spares.get(ods).copied().unwrap_or(0);
        if n < t.min_spare_readers {
            short_of_readers.insert(ods, ());
            out.push(
                "spare-readers-low",
                Severity::Warning,
                SubjectKind::Site,
                ods,
                ods,
                Owner::PracticeManager,
                cx.today.add_days(14),
                format!(
                    "{n} spare {} on site; keep at least {}",
                    if n == 1 { "reader" } else { "readers" },
                    t.min_spare_readers
                ),
                "order spare readers so a failed reader is swapped in minutes, not days".into(),
            );
        }
        let n = admins.get(ods).copied().unwrap_or(0);
        if n < t.min_local_admins {
            out.push(
                "local-admins-low",
                Severity::Warning,
                SubjectKind::Site,
                ods,
                ods,
                Owner::PracticeManager,
                cx.today.add_days(30),
                format!(
                    "{n} trained local smartcard {} on site; at least {} means one is always in",
                    if n == 1 {
                        "administrator"
                    } else {
                        "administrators"
                    },
                    t.min_local_admins
                ),
                "train another member of staff (not IT) to unlock cards and help with renewals"
                    .into(),
            );
        }
    }
    for s in &estate.stock {
        if s.quantity < s.minimum
            && !(&*s.item == "reader" && short_of_readers.contains_key(&*s.site_ods))
        {
            let short = s.minimum - s.quantity;
            let (one, many) = match &*s.item {
                "card" => ("spare card", "spare cards"),
                "reader" => ("spare reader", "spare readers"),
                other => (other, other),
            };
            out.push(
                "stock-below-minimum",
                Severity::Warning,
                SubjectKind::Site,
                format!("{}/{}", s.site_ods, s.item),
                &s.site_ods,
                Owner::PracticeManager,
                cx.today.add_days(14),
                format!("{many}: {} in stock, minimum {}", s.quantity, s.minimum),
                format!("order {short} more {}", if short == 1 { one } else { many }).into(),
            );
        }
    }
}

#[cfg(test)]
mod tests;
