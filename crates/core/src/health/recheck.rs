//! Re-checking only what changed: which sites a run of audit records touched, and how the
//! findings of those sites, checked again, replace theirs in the last full check.
//!
//! Every finding belongs to one site, and every rule but the integration rules decides a site's
//! findings from that site's own records alone, so checking a site's records again gives exactly
//! the findings a full check gives it. Rule family by rule family:
//!
//! - certificates and cards: a card's findings are filed under its holder's site and read only
//!   the card, its certificates and lockouts, and its holder with their positions (who
//!   prescribes). A site's re-check reads its people, every card they hold and those cards'
//!   certificates, lockouts and positions: everything those findings read. A change to a card
//!   touches its holder's site; a person moving touches the site they left and the one they
//!   joined (both are in the audit record).
//! - positions: filed under the holder's site, reading the position and its holder.
//! - workstations: software, update windows (against the site's own core hours), clock skew and
//!   the canary ring, filed under the workstation's site and reading its own records; readers
//!   under their own site.
//! - sites: spare readers, stock, local admins (the site's people) and stale data (the site's
//!   own refresh time) are counted per site. Closed practices in use read the organisation
//!   running the site: every organisation is read, and a change to an organisation is not
//!   localised (a full check follows), as it can close many sites at once.
//! - integrations: a service at one site acts with cards that may be held at another, so its
//!   findings are not local. The integration rules read little (the integrations, their cards,
//!   those cards' holders' positions), and so they are run again over every integration on each
//!   re-check and replace all the integration findings.
//!
//! An import audits the records it changes one by one, but those it creates only as a count in
//! its summary record. For created people, positions, workstations, software, readers, stock
//! and lockouts that record names their sites (`created_sites`, found by the import in its own
//! transaction); created cards and certificates are placed by the sites their import marked
//! refreshed (`site_refreshes`, the import's own time). Changes the audit chain cannot place
//! fall back to a full check: an import's created records whose sites its record does not name
//! (past [`IMPORT_SITES_MAX`] sites, or a record written before imports named them), changes to
//! organisations, and any kind of record this module does not know. Notes on findings change no
//! fact: only the notes are read again.

use std::collections::BTreeSet;

use super::{FindingNote, Noted};
use crate::audit::AuditRecord;
use crate::date::Timestamp;
use crate::fasthash::FastSet;

/// The most audit records a re-check reads; past that a full check costs less than placing them.
pub const RECHECK_MAX_RECORDS: usize = 20_000;

/// The most sites an import's summary record names for the records it created: past that (a
/// regional or national import) it names none, and a full check, which costs about as much as
/// re-checking a quarter of the national estate's sites, runs instead.
pub const IMPORT_SITES_MAX: usize = 2_000;

/// What a run of audit records touched, before the store places it on sites.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Touched {
    /// Sites named by the records themselves.
    pub sites: BTreeSet<String>,
    /// People (UUIDs), whose current site is touched.
    pub people: BTreeSet<String>,
    /// Cards (serials), whose holder's site is touched.
    pub cards: BTreeSet<String>,
    /// Workstations (hostnames), whose site is touched.
    pub hosts: BTreeSet<String>,
    /// Agents (ids), whose workstation's site is touched.
    pub agents: BTreeSet<String>,
    /// Sites whose card data was marked refreshed at or after this moment are touched: an
    /// import's created cards and certificates are known only by that mark.
    pub refreshed_since: Option<Timestamp>,
    /// Whether any fact changed (otherwise only notes did, and no rule need run).
    pub facts: bool,
    /// Findings whose note changed (their ids).
    pub notes: BTreeSet<String>,
}

/// Where a run of audit records leaves the last check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Only these things changed.
    Touched(Touched),
    /// Something no re-check can place changed: run a full check (why, for the log).
    Full(String),
}

/// Record kinds that hold no fact any rule reads: operators, sign-ins, notifications, reviews,
/// incidents, contacts, enrolment tokens, backups.
const NOT_FACTS: &[&str] = &[
    "operator",
    "user",
    "sign_in",
    "token",
    "notify_prefs",
    "webhook",
    "access_review",
    "incident",
    "site_contact",
    "enrolment_token",
    "sqlite",
    "postgresql",
];

/// What `records` (audit records, any order) touched.
pub fn reach(records: &[AuditRecord]) -> Reach {
    let mut t = Touched::default();
    for r in records {
        if let Err(why) = place(r, &mut t) {
            return Reach::Full(format!(
                "audit record {} ({} {} {}): {why}",
                r.seq, r.action, r.entity_kind, r.entity_key
            ));
        }
    }
    Reach::Touched(t)
}

/// A field of the record's JSON before and after the change (each side that has it).
fn fields(r: &AuditRecord, name: &str) -> Vec<String> {
    [&r.before, &r.after]
        .into_iter()
        .flatten()
        .filter_map(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .filter_map(|v| v.get(name).and_then(|f| f.as_str()).map(str::to_owned))
        .collect()
}

/// The key's first part: keys of several columns are joined by `/` in the import's records
/// and by the unit separator in others.
fn first_key(r: &AuditRecord) -> String {
    r.entity_key
        .split(['/', '\u{1f}'])
        .next()
        .unwrap_or("")
        .to_owned()
}

/// Adds what one record touched to `t`, or says why it cannot be placed.
fn place(r: &AuditRecord, t: &mut Touched) -> Result<(), String> {
    let kind = r.entity_kind.as_str();
    if kind == "finding" {
        t.notes.insert(r.entity_key.clone());
        return Ok(());
    }
    if NOT_FACTS.contains(&kind) {
        return Ok(());
    }
    t.facts = true;
    if r.action == "import" {
        return place_import(r, t);
    }
    // A named field from the record's JSON, or else the key's first part.
    let named = |field: &str| {
        let mut v = fields(r, field);
        if v.is_empty() {
            v.push(first_key(r));
        }
        v.retain(|s| !s.is_empty());
        v
    };
    match kind {
        "sites" | "stock" => t.sites.extend(named("site_ods")),
        "people" => {
            // Both sides' sites: a person who moved takes findings from one and gives to the
            // other. The key names them too, in case a side has no site.
            t.sites.extend(fields(r, "site_ods"));
            t.people.insert(first_key(r));
        }
        "workstations" => {
            t.sites.extend(fields(r, "site_ods"));
            t.hosts.insert(first_key(r));
        }
        "readers" => {
            let sites = fields(r, "site_ods");
            if sites.is_empty() {
                return Err("a reader's change without its site".into());
            }
            t.sites.extend(sites);
        }
        "cards" => {
            t.people.extend(fields(r, "holder_uuid"));
            t.cards.insert(first_key(r));
        }
        "certificates" | "lockouts" => t.cards.extend(named("card_serial")),
        "positions" => t.people.extend(named("holder_uuid")),
        "software" => t.hosts.extend(named("hostname")),
        "agent" => {
            // Enrolled or revoked: a revoked agent's clock no longer counts.
            t.agents.insert(r.entity_key.clone());
        }
        // Re-checked whole on every re-check.
        "integrations" | "integration_cards" => {}
        "organisations" => return Err("an organisation changed".into()),
        other => return Err(format!("{other} records are not placed on sites")),
    }
    Ok(())
}

/// An import's summary record: the records it changed have records of their own; those it
/// created are counted, and for the kinds not placed by the refresh marks their sites named.
fn place_import(r: &AuditRecord, t: &mut Touched) -> Result<(), String> {
    let summary = r
        .after
        .as_deref()
        .and_then(|a| serde_json::from_str::<serde_json::Value>(a).ok());
    let created = summary
        .as_ref()
        .and_then(|v| v.get("created").and_then(|c| c.as_u64()))
        .ok_or("an import record without its count of created records")?;
    // A cards, certificates or sites import marks refreshed the sites of every card it names,
    // unchanged ones too: a site's data can turn fresh again with nothing created.
    let agent = r.entity_key.starts_with("agent ");
    if !agent && matches!(r.entity_kind.as_str(), "cards" | "certificates" | "sites") {
        t.refreshed_since = earliest(t.refreshed_since, r.at);
    }
    if created == 0 {
        return Ok(());
    }
    // An agent's inventory arrives as an import named for the agent: what it creates is on its
    // workstation (software, readers), or certificates of cards, which the refresh marks place.
    if let Some(rest) = r.entity_key.strip_prefix("agent ") {
        let (agent, _) = rest.rsplit_once(' ').unwrap_or((rest, ""));
        t.agents.insert(agent.to_owned());
        t.refreshed_since = earliest(t.refreshed_since, r.at);
        return Ok(());
    }
    match r.entity_kind.as_str() {
        // The import marks the sites of every card it names, and every site it creates,
        // refreshed at its own time.
        "cards" | "certificates" | "sites" => Ok(()),
        "integrations" | "integration_cards" => Ok(()),
        kind @ ("people" | "positions" | "workstations" | "software" | "readers" | "stock"
        | "lockouts") => {
            let sites = summary.as_ref().and_then(|v| v.get("created_sites"));
            let Some(sites) = sites else {
                return Err(format!(
                    "an import created {created} {kind} record(s) and its record names no \
                     sites for them (an import past {IMPORT_SITES_MAX} sites names none)"
                ));
            };
            let list = sites
                .as_array()
                .ok_or_else(|| format!("an import's created sites are not a list: {sites}"))?;
            for site in list {
                match site.as_str() {
                    Some(s) if !s.is_empty() => {
                        t.sites.insert(s.to_owned());
                    }
                    _ => return Err(format!("an import's created site is not a site: {site}")),
                }
            }
            Ok(())
        }
        other => Err(format!("an import created {created} {other} record(s)")),
    }
}

fn earliest(a: Option<Timestamp>, b: Timestamp) -> Option<Timestamp> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// Whether a rule is one of the integration rules, which a re-check runs over every
/// integration (their findings are not local to a site).
pub fn is_integration_rule(rule: &str) -> bool {
    rule.starts_with("integration-")
}

/// The check's order of findings: site, most serious first, rule, subject (as the full check
/// sorts them).
pub fn finding_order(a: &Noted, b: &Noted) -> std::cmp::Ordering {
    let (a, b) = (&a.finding, &b.finding);
    (
        a.site.as_str(),
        std::cmp::Reverse(a.severity),
        a.rule,
        &a.subject,
    )
        .cmp(&(
            b.site.as_str(),
            std::cmp::Reverse(b.severity),
            b.rule,
            &b.subject,
        ))
}

/// The last check's findings with those of `sites` (and every integration finding) replaced by
/// `fresh`: the re-checked sites' findings and every integration's, each list in the check's
/// order. The result is in the check's order, as a full check gives it. One pass over the old
/// findings, each moved once: at national size they are over a million.
pub fn splice(old: Vec<Noted>, sites: &FastSet<&str>, fresh: Vec<Vec<Noted>>) -> Vec<Noted> {
    // The fresh lists are small: merged first.
    let mut new: Vec<Noted> = Vec::new();
    for list in fresh {
        new = merge(new, list);
    }
    let kept = old.into_iter().filter(|n| {
        !(sites.contains(n.finding.site.as_str()) || is_integration_rule(n.finding.rule))
    });
    let mut out = Vec::with_capacity(kept.size_hint().1.unwrap_or(0) + new.len());
    let mut new = new.into_iter().peekable();
    for n in kept {
        // A fresh finding never ties with a kept one: a kept finding's site was not re-checked
        // and its rule is not an integration rule, and a fresh one's is one or the other.
        while new.peek().is_some_and(|x| finding_order(x, &n).is_lt()) {
            out.extend(new.next());
        }
        out.push(n);
    }
    out.extend(new);
    out
}

/// As [`splice`], in place: when the integration findings are unchanged (their rules re-run to
/// the same findings, as after any change that names no integration or its cards) and few sites
/// were re-checked, only those sites' runs of findings are replaced, the rest of the million
/// staying where they are. Otherwise the whole list is spliced again. Whether only the sites'
/// runs changed, every other site's findings the same and in the same order.
pub fn splice_in_place(
    all: &mut Vec<Noted>,
    sites: &[&str],
    fresh: Vec<Noted>,
    integrations: Vec<Noted>,
) -> bool {
    /// Past this many sites one pass over every finding costs less than a move of the tail each.
    const FEW_SITES: usize = 8;
    let unchanged = sites.len() <= FEW_SITES && {
        let mut old = all.iter().filter(|n| is_integration_rule(n.finding.rule));
        integrations.iter().all(|n| old.next() == Some(n)) && old.next().is_none()
    };
    if !unchanged {
        let set: FastSet<&str> = sites.iter().copied().collect();
        let old = std::mem::take(all);
        *all = splice(old, &set, vec![fresh, integrations]);
        return false;
    }
    let mut sites = sites.to_vec();
    sites.sort_unstable();
    sites.dedup();
    // From the last site back, so that each earlier run's place is unchanged.
    for site in sites.into_iter().rev() {
        let from = all.partition_point(|n| n.finding.site.as_str() < site);
        let to = from + all[from..].partition_point(|n| n.finding.site.as_str() == site);
        let here = |n: &&Noted| n.finding.site == site;
        let run = merge(
            fresh.iter().filter(here).cloned().collect(),
            integrations.iter().filter(here).cloned().collect(),
        );
        all.splice(from..to, run);
    }
    true
}

/// Two lists in the check's order as one; on a tie the first list's finding comes first.
fn merge(a: Vec<Noted>, b: Vec<Noted>) -> Vec<Noted> {
    if b.is_empty() {
        return a;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
        let next = if finding_order(y, x).is_lt() {
            b.next()
        } else {
            a.next()
        };
        out.extend(next);
    }
    out.extend(a);
    out.extend(b);
    out
}

/// Sets the note of each finding whose id is in `ids` from `notes` (the store's, all of them),
/// as [`super::with_notes`] would.
pub fn renote(
    all: &mut [Noted],
    ids: &BTreeSet<String>,
    notes: &[FindingNote],
    today: crate::date::Date,
) {
    if ids.is_empty() {
        return;
    }
    let wanted: FastSet<(&str, &str)> = ids.iter().filter_map(|id| id.split_once('/')).collect();
    let live: Vec<&FindingNote> = notes
        .iter()
        .filter(|n| n.applies(today) && ids.contains(&n.finding_id))
        .collect();
    for n in all.iter_mut() {
        if !wanted.contains(&(n.finding.rule, n.finding.subject.as_str())) {
            continue;
        }
        let note = live
            .iter()
            .find(|x| n.finding.has_id(&x.finding_id))
            .map(|x| Box::new((*x).clone()));
        n.state = note.as_ref().map_or("open", |x| x.state.as_str());
        n.note = note;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{Finding, Owner, Severity, SubjectKind};

    fn record(
        action: &str,
        kind: &str,
        key: &str,
        before: Option<&str>,
        after: Option<&str>,
    ) -> AuditRecord {
        AuditRecord {
            seq: 7,
            at: Timestamp::from_unix(1_700_000_000),
            actor: "import".into(),
            action: action.into(),
            entity_kind: kind.into(),
            entity_key: key.into(),
            note: String::new(),
            before: before.map(str::to_owned),
            after: after.map(str::to_owned),
        }
    }

    /// An import of a kind's file that created and updated so many records.
    fn imported(kind: &str, created: u32, updated: u32) -> AuditRecord {
        let counts = format!(r#"{{"created":{created},"updated":{updated}}}"#);
        record("import", kind, &format!("{kind}.csv"), None, Some(&counts))
    }

    /// A change to one record, whose before and after the placing does not need.
    fn changed(kind: &str, key: &str) -> AuditRecord {
        record("update", kind, key, None, None)
    }

    fn touched(records: &[AuditRecord]) -> Touched {
        match reach(records) {
            Reach::Touched(t) => t,
            Reach::Full(why) => panic!("full: {why}"),
        }
    }

    #[test]
    fn a_person_who_moved_touches_both_sites_and_a_card_its_holder() {
        let t = touched(&[
            record(
                "update",
                "people",
                "555000000001",
                Some(r#"{"uuid":"555000000001","site_ods":"A81001"}"#),
                Some(r#"{"uuid":"555000000001","site_ods":"A81002"}"#),
            ),
            changed("certificates", "CS0000000042/authentication/01"),
            changed("software", "a81003-ws001/identity-agent"),
            record(
                "delete",
                "software",
                "a81004-ws001\u{1f}gemalto",
                Some(r#"{"version":"1"}"#),
                None,
            ),
        ]);
        assert_eq!(t.sites, ["A81001", "A81002"].map(String::from).into());
        assert_eq!(t.people, ["555000000001".to_owned()].into());
        assert_eq!(t.cards, ["CS0000000042".to_owned()].into());
        assert_eq!(
            t.hosts,
            ["a81003-ws001", "a81004-ws001"].map(String::from).into()
        );
        assert!(t.facts && t.notes.is_empty() && t.refreshed_since.is_none());
    }

    #[test]
    fn notes_change_no_fact_and_created_cards_are_placed_by_their_refresh() {
        let t = touched(&[
            record(
                "acknowledged",
                "finding",
                "cert-signing-30d/CS1",
                None,
                Some("{}"),
            ),
            record("sign_in", "operator", "admin", None, None),
        ]);
        assert!(!t.facts);
        assert_eq!(t.notes, ["cert-signing-30d/CS1".to_owned()].into());
        let t = touched(&[imported("certificates", 3, 0)]);
        assert_eq!(t.refreshed_since, Some(Timestamp::from_unix(1_700_000_000)));
        // An import that only changed records has their own records to place.
        let t = touched(&[imported("people", 0, 2)]);
        assert!(t.sites.is_empty() && t.refreshed_since.is_none());
        // A cards import that changed nothing still marks its cards' sites refreshed, which
        // can clear their stale-data findings.
        let t = touched(&[imported("cards", 0, 0)]);
        assert_eq!(t.refreshed_since, Some(Timestamp::from_unix(1_700_000_000)));
    }

    #[test]
    fn near_misses_fall_back_to_a_full_check() {
        for r in [
            imported("people", 1, 0),
            changed("organisations", "A81001"),
            changed("something_new", "x"),
            record("import", "stock", "stock.csv", None, None),
        ] {
            assert!(
                matches!(reach(std::slice::from_ref(&r)), Reach::Full(_)),
                "{r:?}"
            );
        }
    }

    /// An import of a kind's file that created records at `sites` (the summary's JSON value).
    fn created_at(kind: &str, created: u32, sites: &str) -> AuditRecord {
        let summary = format!(r#"{{"created":{created},"updated":0,"created_sites":{sites}}}"#);
        record("import", kind, &format!("{kind}.csv"), None, Some(&summary))
    }

    #[test]
    fn created_records_are_placed_on_the_sites_their_import_names() {
        for kind in [
            "people",
            "positions",
            "workstations",
            "software",
            "readers",
            "stock",
            "lockouts",
        ] {
            let t = touched(&[
                created_at(kind, 3, r#"["A81001","A81002"]"#),
                imported(kind, 0, 1),
            ]);
            assert_eq!(
                t.sites,
                ["A81001", "A81002"].map(String::from).into(),
                "{kind}"
            );
            assert!(
                t.facts && t.people.is_empty() && t.hosts.is_empty(),
                "{kind}"
            );
            assert!(t.refreshed_since.is_none(), "{kind}");
            // Without the sites (past the bound, or recorded before imports named them): in
            // full, saying why.
            match reach(&[imported(kind, 3, 0)]) {
                Reach::Full(why) => assert!(
                    why.contains(&format!("created 3 {kind} record(s)"))
                        && why.contains("names no sites"),
                    "{why}"
                ),
                other => panic!("{kind}: {other:?}"),
            }
        }
        // Sites named for kinds the refresh marks place add to them.
        let t = touched(&[created_at("cards", 2, r#"["A81009"]"#)]);
        assert_eq!(t.refreshed_since, Some(Timestamp::from_unix(1_700_000_000)));
    }

    #[test]
    fn malformed_created_sites_fall_back_to_a_full_check_with_a_reason() {
        for (sites, reason) in [
            (r#""A81001""#, "not a list"),
            ("{}", "not a list"),
            ("null", "not a list"),
            ("[1]", "not a site: 1"),
            (r#"["A81001",null]"#, "not a site: null"),
            (r#"[["A81001"]]"#, "not a site"),
            (r#"[""]"#, "not a site"),
        ] {
            match reach(&[created_at("people", 1, sites)]) {
                Reach::Full(why) => assert!(why.contains(reason), "{sites}: {why}"),
                other => panic!("{sites}: {other:?}"),
            }
        }
        // A summary that is not JSON at all.
        let r = record(
            "import",
            "people",
            "people.csv",
            None,
            Some("created_sites"),
        );
        assert!(matches!(reach(&[r]), Reach::Full(_)));
    }

    fn noted(site: &str, severity: Severity, rule: &'static str, subject: &str) -> Noted {
        Noted {
            finding: Finding {
                rule,
                severity,
                subject_kind: SubjectKind::Card,
                subject: subject.into(),
                site: site.into(),
                owner: Owner::Holder,
                due: crate::date::Date::parse("2026-11-22").unwrap(),
                why: String::new(),
                fix: "".into(),
            },
            state: "open",
            note: None,
        }
    }

    /// A check's findings over three sites, in the check's order.
    fn old() -> Vec<Noted> {
        [
            ("A1", Severity::Urgent, "cert-a", "CS1"),
            ("A2", Severity::Critical, "cert-a", "CS2"),
            ("A2", Severity::Info, "integration-x", "i/CS2"),
            ("A3", Severity::Info, "cert-a", "CS3"),
        ]
        .map(|(site, severity, rule, subject)| noted(site, severity, rule, subject))
        .into()
    }

    #[test]
    fn spliced_findings_replace_the_sites_and_keep_the_checks_order() {
        let old = old();
        let sites: FastSet<&str> = ["A2"].into_iter().collect();
        let fresh = vec![noted("A2", Severity::Warning, "cert-b", "CS9")];
        let integrations = vec![noted("A1", Severity::Info, "integration-x", "i/CS1")];
        let all = splice(old, &sites, vec![fresh, integrations]);
        let order: Vec<(&str, &str)> = all
            .iter()
            .map(|n| (n.finding.site.as_str(), n.finding.subject.as_str()))
            .collect();
        assert_eq!(
            order,
            [("A1", "CS1"), ("A1", "i/CS1"), ("A2", "CS9"), ("A3", "CS3")]
        );
    }

    #[test]
    fn spliced_in_place_when_the_integrations_are_unchanged_as_in_full() {
        let old = old();
        let fresh = vec![
            noted("A2", Severity::Warning, "cert-b", "CS9"),
            noted("A2", Severity::Info, "cert-b", "CS8"),
        ];
        let same = vec![noted("A2", Severity::Info, "integration-x", "i/CS2")];
        let changed = vec![noted("A3", Severity::Info, "integration-x", "i/CS3")];
        for (integrations, in_place) in [(same, true), (changed, false)] {
            let sites: FastSet<&str> = ["A2"].into_iter().collect();
            let whole = splice(
                old.clone(),
                &sites,
                vec![fresh.clone(), integrations.clone()],
            );
            let mut all = old.clone();
            assert_eq!(
                splice_in_place(&mut all, &["A2"], fresh.clone(), integrations),
                in_place,
                "only the site's run changed when the integrations did not"
            );
            assert_eq!(all, whole);
            assert_eq!(all.len(), 5);
        }
    }
}
