//! The access reviews list's counts (positions in force, those due for review) and what the
//! audit chain says about them: whether a run of audit records can change them, and how "keep"
//! decisions move them, so that counts made once follow the estate without a recount.
//!
//! The counts read three things only: positions (in force or not), their holders (who exist,
//! at which site) and the decisions on positions. Every change to them is audited under the
//! kind `people`, `positions` or `access_review`; sites and organisations decide which sites a
//! caller sees, and are taken as touching too. A record of any other kind known here (an
//! incident, a finding's note, a card and its certificates, a workstation, an operator's
//! sign-in…) cannot change them. A kind not known here counts as touching: a new kind of record
//! costs a recount until it is placed, never a wrong count.

use std::collections::BTreeMap;

use crate::audit::AuditRecord;
use crate::date::Timestamp;

/// How many positions in force a scope holds and how many of them are due, at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReviewCounts {
    /// Positions in force.
    pub in_force: u64,
    /// Of those, the ones not reviewed since the moment counted for.
    pub due: u64,
    /// The newest decision of a position not due, at or after the moment counted for, the
    /// oldest such: as the moment passes it, that position falls due. `None`: none to fall due.
    /// A count carried past decisions keeps a lower bound here (the counts then hold for less
    /// long than they could, never longer).
    pub next_due: Option<Timestamp>,
}

impl ReviewCounts {
    /// Whether these counts, made for the moment `counted_for`, hold for the moment `not_since`
    /// too with nothing else changed: no position's newest decision lies between the two.
    pub fn hold_for(&self, counted_for: Timestamp, not_since: Timestamp) -> bool {
        not_since.unix() >= counted_for.unix()
            && self.next_due.is_none_or(|t| not_since.unix() <= t.unix())
    }
}

/// Record kinds that hold nothing the counts read: incidents, findings' notes, cards and their
/// certificates and lockouts, workstations and what is on them, stock, integrations, agents
/// (their inventory arrives as imports of these kinds), operators and their sign-ins and
/// tokens, notification settings, webhooks, contacts.
const UNRELATED: &[&str] = &[
    "incident",
    "finding",
    "cards",
    "certificates",
    "lockouts",
    "workstations",
    "software",
    "readers",
    "stock",
    "integrations",
    "integration_cards",
    "agent",
    "enrolment_token",
    "operator",
    "user",
    "sign_in",
    "token",
    "notify_prefs",
    "webhook",
    "site_contact",
];

/// A position, as a decision's audit record names it: (holder's UUID, organisation, role).
pub type PositionKey = (String, String, String);

/// A "keep" decision read from the audit chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeepDecision {
    /// The position kept.
    pub position: PositionKey,
    /// When (the decision's own moment, which its row is stored under).
    pub at: Timestamp,
    /// Whether it replaced a decision stored under the same moment (its record's `before`).
    pub replaced: bool,
}

/// What a run of audit records did to the counts: nothing but these "keep" decisions (none:
/// nothing at all), or something that takes a recount (why, for the log).
pub fn bearing(records: &[AuditRecord]) -> Result<Vec<KeepDecision>, String> {
    let mut keeps = Vec::new();
    for r in records {
        let kind = r.entity_kind.as_str();
        if UNRELATED.contains(&kind) {
            continue;
        }
        let why = |what: &str| {
            format!(
                "audit record {} ({} {} {}): {what}",
                r.seq, r.action, r.entity_kind, r.entity_key
            )
        };
        if kind != "access_review" {
            return Err(why("may change positions, holders or who sees them"));
        }
        if r.action != "keep" {
            return Err(why("a decision other than keep"));
        }
        let mut parts = r.entity_key.split('\u{1f}');
        let (Some(holder), Some(ods), Some(role), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(why("a decision whose key names no position"));
        };
        keeps.push(KeepDecision {
            position: (holder.to_owned(), ods.to_owned(), role.to_owned()),
            at: r.at,
            replaced: r.before.is_some(),
        });
    }
    Ok(keeps)
}

/// A position a run of "keep" decisions named, as the store holds it at the end of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placed {
    /// Its holder's site.
    pub site_ods: String,
    /// Whether it is in force.
    pub in_force: bool,
    /// The moments of every decision stored on it.
    pub decided: Vec<Timestamp>,
}

/// The counts of a scope (`sites`, `None`: every site), made for the moment `not_since`, moved
/// by `keeps` (from [`bearing`], in the chain's order), given each kept position as the store
/// holds it after them (`placed`, `None` for one not there). A keep leaves its position in force
/// and due or not by its newest decision; its newest decision before the run is the newest stored
/// one that no keep of the run wrote, or that a keep replaced (the first keep of the run at that
/// moment says whether a decision was there before it). Anything that cannot be so placed — a
/// position gone or not in force, a decision the run wrote and the store no longer holds — is
/// refused with why, for a recount.
pub fn after_keeps(
    counts: ReviewCounts,
    not_since: Timestamp,
    sites: Option<&[String]>,
    keeps: &[KeepDecision],
    placed: &BTreeMap<PositionKey, Option<Placed>>,
) -> Result<ReviewCounts, String> {
    // Each position's keeps: the moments the run wrote, and whether the first at each moment
    // replaced a decision.
    let mut by_position: BTreeMap<&PositionKey, BTreeMap<i64, bool>> = BTreeMap::new();
    for k in keeps {
        by_position
            .entry(&k.position)
            .or_default()
            .entry(k.at.unix())
            .or_insert(k.replaced);
    }
    let mut out = counts;
    let cutoff = not_since.unix();
    for (key, written) in by_position {
        let (holder, ods, role) = key;
        let name = || format!("{role} at {ods} for {holder}");
        let p = placed
            .get(key)
            .and_then(Option::as_ref)
            .ok_or_else(|| format!("{} is not in the estate", name()))?;
        if !p.in_force {
            return Err(format!("{} is not in force", name()));
        }
        if sites.is_some_and(|s| !s.contains(&p.site_ods)) {
            continue;
        }
        let decided: Vec<i64> = p.decided.iter().map(|t| t.unix()).collect();
        if let Some(t) = written.keys().find(|t| !decided.contains(t)) {
            return Err(format!(
                "a decision on {} at {t} is no longer stored",
                name()
            ));
        }
        let before = decided
            .iter()
            .copied()
            .filter(|t| written.get(t).is_none_or(|&replaced| replaced))
            .max();
        let after = decided.iter().copied().max();
        let was_due = before.is_none_or(|t| t < cutoff);
        let is_due = after.is_none_or(|t| t < cutoff);
        // The newest decision only grows: a keep never makes a position due.
        if was_due && !is_due {
            out.due = out
                .due
                .checked_sub(1)
                .ok_or_else(|| format!("{} kept with none due", name()))?;
        }
        if let Some(t) = after.filter(|&t| t >= cutoff) {
            let next = out.next_due.map_or(t, |n| n.unix().min(t));
            out.next_due = Some(Timestamp::from_unix(next));
        }
    }
    if out.due > out.in_force {
        return Err(format!(
            "{} due of {} in force after the keeps",
            out.due, out.in_force
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_790_000_000;
    const YEAR: i64 = 365 * 86_400;

    fn record(seq: i64, action: &str, kind: &str, key: &str, before: Option<&str>) -> AuditRecord {
        AuditRecord {
            seq,
            at: Timestamp::from_unix(NOW + seq),
            actor: "web:ra".into(),
            action: action.into(),
            entity_kind: kind.into(),
            entity_key: key.into(),
            note: String::new(),
            before: before.map(str::to_owned),
            after: Some(r#"{"reason":"still here"}"#.into()),
        }
    }

    fn key(holder: &str) -> String {
        format!("{holder}\u{1f}A81001\u{1f}R8000")
    }

    fn position(holder: &str) -> PositionKey {
        (holder.into(), "A81001".into(), "R8000".into())
    }

    #[test]
    fn unrelated_changes_pass_and_anything_touching_positions_takes_a_recount() {
        let unrelated = [
            record(1, "open", "incident", "17", None),
            record(2, "acknowledged", "finding", "cert-signing-30d/CS1", None),
            record(3, "status", "cards", "CS0000000042", Some("{}")),
            record(4, "import", "certificates", "certificates.csv", None),
            record(5, "import", "software", "agent 12 inventory", None),
            record(6, "update", "workstations", "a81001-ws001", None),
            record(7, "add", "user", "pm@nhs.net", None),
            record(8, "sign_in", "operator", "admin", None),
            record(9, "add", "token", "t1", None),
            record(10, "update", "webhook", "w1", None),
            record(11, "enrol", "agent", "12", None),
            record(12, "update", "site_contact", "A81001", None),
            record(13, "status", "lockouts", "CS1", None),
        ];
        assert_eq!(bearing(&unrelated), Ok(vec![]));
        let keep = record(14, "keep", "access_review", &key("555000000001"), None);
        let mut run = unrelated.to_vec();
        run.push(keep);
        assert_eq!(
            bearing(&run),
            Ok(vec![KeepDecision {
                position: position("555000000001"),
                at: Timestamp::from_unix(NOW + 14),
                replaced: false,
            }])
        );
        for touching in [
            record(20, "remove", "access_review", &key("555000000001"), None),
            record(21, "import", "people", "people.csv", None),
            record(22, "update", "people", "555000000001", None),
            record(23, "import", "positions", "positions.csv", None),
            record(24, "update", "positions", "555000000001/A81001/R8000", None),
            record(25, "update", "sites", "A81001", None),
            record(26, "update", "organisations", "Y00001", None),
            record(27, "delete", "people", "555000000001", None),
            record(28, "keep", "access_review", "555000000001", None),
            record(29, "update", "something_new", "x", None),
        ] {
            let mut run = unrelated.to_vec();
            run.push(touching.clone());
            assert!(bearing(&run).is_err(), "{touching:?}");
        }
    }

    fn counts(in_force: u64, due: u64, next_due: Option<i64>) -> ReviewCounts {
        ReviewCounts {
            in_force,
            due,
            next_due: next_due.map(Timestamp::from_unix),
        }
    }

    fn keep(holder: &str, at: i64, replaced: bool) -> KeepDecision {
        KeepDecision {
            position: position(holder),
            at: Timestamp::from_unix(at),
            replaced,
        }
    }

    fn placed(site: &str, decided: &[i64]) -> Option<Placed> {
        Some(Placed {
            site_ods: site.into(),
            in_force: true,
            decided: decided.iter().copied().map(Timestamp::from_unix).collect(),
        })
    }

    #[test]
    fn a_keep_stops_a_position_being_due_once() {
        let cutoff = Timestamp::from_unix(NOW - YEAR);
        let old = NOW - 2 * YEAR;
        let recent = NOW - 10 * 86_400;
        let before = counts(10, 4, Some(recent));
        // Never reviewed, reviewed long ago, reviewed lately, kept twice in the run.
        let keeps = [
            keep("1", NOW, false),
            keep("2", NOW + 1, false),
            keep("3", NOW + 2, false),
            keep("4", NOW + 3, false),
            keep("4", NOW + 4, false),
        ];
        let places = BTreeMap::from([
            (position("1"), placed("A81001", &[NOW])),
            (position("2"), placed("A81001", &[old, NOW + 1])),
            (position("3"), placed("A81001", &[recent, NOW + 2])),
            (position("4"), placed("A81001", &[old, NOW + 3, NOW + 4])),
        ]);
        let after = after_keeps(before, cutoff, None, &keeps, &places).expect("placed");
        assert_eq!(after, counts(10, 1, Some(recent)));
        // A practice's scope counts only its own holders.
        let sites = ["A81002".to_owned()];
        let scoped = after_keeps(before, cutoff, Some(&sites), &keeps, &places);
        assert_eq!(scoped, Ok(before));
        // A position with nothing to fall due gains its keep as the next to.
        let none_next = after_keeps(counts(10, 4, None), cutoff, None, &keeps[..1], &places);
        assert_eq!(none_next, Ok(counts(10, 3, Some(NOW))));
    }

    #[test]
    fn a_keep_over_a_decision_of_the_same_moment_is_placed_by_its_record() {
        let cutoff = Timestamp::from_unix(NOW - YEAR);
        let old = NOW - 2 * YEAR;
        let places = BTreeMap::from([(position("1"), placed("A81001", &[old, NOW]))]);
        // The decision at NOW was there before the run (the keep replaced it): not due before.
        let replaced = after_keeps(
            counts(5, 2, Some(NOW)),
            cutoff,
            None,
            &[keep("1", NOW, true)],
            &places,
        );
        assert_eq!(replaced, Ok(counts(5, 2, Some(NOW))));
        // Written by the run: due before.
        let written = after_keeps(
            counts(5, 2, None),
            cutoff,
            None,
            &[keep("1", NOW, false), keep("1", NOW, true)],
            &places,
        );
        assert_eq!(written, Ok(counts(5, 1, Some(NOW))));
    }

    #[test]
    fn what_cannot_be_placed_takes_a_recount() {
        let cutoff = Timestamp::from_unix(NOW - YEAR);
        let before = counts(5, 2, None);
        let keeps = [keep("1", NOW, false)];
        let gone = BTreeMap::from([(position("1"), None)]);
        assert!(after_keeps(before, cutoff, None, &keeps, &gone).is_err());
        let mut removed = placed("A81001", &[NOW]);
        if let Some(p) = removed.as_mut() {
            p.in_force = false;
        }
        let removed = BTreeMap::from([(position("1"), removed)]);
        assert!(after_keeps(before, cutoff, None, &keeps, &removed).is_err());
        let forgotten = BTreeMap::from([(position("1"), placed("A81001", &[NOW - 5]))]);
        assert!(after_keeps(before, cutoff, None, &keeps, &forgotten).is_err());
        let unasked = BTreeMap::new();
        assert!(after_keeps(before, cutoff, None, &keeps, &unasked).is_err());
        // None due to stop being due.
        let places = BTreeMap::from([(position("1"), placed("A81001", &[NOW]))]);
        assert!(after_keeps(counts(5, 0, None), cutoff, None, &keeps, &places).is_err());
    }
}
