//! A health check's findings by id: one finding's page looks its id up in a table of every
//! finding's id hash and index instead of passing over the estate's findings. The table is built
//! once per check ([`crate::prevent::queue_index`] builds it off the request threads), or carried
//! from the last check by a re-check ([`carried`]), which changes a few sites' findings only.

use std::collections::HashMap;
use std::hash::Hasher;

use cardwatch_core::fasthash::{FastSet, FxHasher};
use cardwatch_core::health::Noted;

/// A finding id's hash: its rule and its subject (an id is the rule, a slash, the subject).
fn hash(rule: &str, subject: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(rule.as_bytes());
    h.write(subject.as_bytes());
    h.finish()
}

/// Every finding's (id's hash, index), sorted: the findings with one id are together, in the
/// check's order.
pub(crate) fn table(all: &[Noted]) -> Vec<(u64, u32)> {
    let mut table: Vec<(u64, u32)> = all
        .iter()
        .enumerate()
        .map(|(i, n)| (hash(n.finding.rule, &n.finding.subject), i as u32))
        .collect();
    table.sort_unstable();
    table
}

/// The [`table`] of `all`, a check's findings made from an old check's by replacing the findings
/// of the sites `changed`, every other site's findings the same and in the same order:
/// `old_table` with those findings' indexes moved to their new places, and only the changed
/// sites' ids hashed afresh. `old_sites` and `sites` are the two checks' site indexes (each
/// site's findings' indexes, in order). Equal to the table built afresh, for a pass over it:
/// hashing every id again (0.35–0.5 s at national size) was what the finding's page after a
/// re-check waited for.
pub(crate) fn carried<V>(
    old_table: &[(u64, u32)],
    old_sites: &HashMap<String, (Vec<u32>, V)>,
    all: &[Noted],
    sites: &HashMap<String, (Vec<u32>, V)>,
    changed: &[&str],
) -> Vec<(u64, u32)> {
    // Each old finding's new index, or none where its site changed.
    let mut moved = vec![u32::MAX; old_table.len()];
    let mut carried: FastSet<&str> = FastSet::default();
    for (site, (was, _)) in old_sites {
        match sites.get(site) {
            Some((now, _)) if now.len() == was.len() && !changed.contains(&site.as_str()) => {
                for (&o, &n) in was.iter().zip(now) {
                    if let Some(m) = moved.get_mut(o as usize) {
                        *m = n;
                    }
                }
                carried.insert(site);
            }
            _ => {}
        }
    }
    let mut fresh: Vec<(u64, u32)> = sites
        .iter()
        .filter(|(site, _)| !carried.contains(site.as_str()))
        .flat_map(|(_, (now, _))| now.iter())
        .map(|&i| {
            let f = &all[i as usize].finding;
            (hash(f.rule, &f.subject), i)
        })
        .collect();
    fresh.sort_unstable();
    // Indexes move in step (both lists are in site order), so the old table stays sorted.
    let mut old = old_table
        .iter()
        .filter_map(|&(h, o)| Some((h, *moved.get(o as usize)?)))
        .filter(|&(_, n)| n != u32::MAX)
        .peekable();
    let mut out = Vec::with_capacity(all.len());
    let mut fresh = fresh.into_iter().peekable();
    while let (Some(a), Some(b)) = (old.peek(), fresh.peek()) {
        out.extend(if a <= b { old.next() } else { fresh.next() });
    }
    out.extend(old);
    out.extend(fresh);
    // Every re-check in the tests' builds proves the carried table equal to a fresh one.
    debug_assert!(
        out == table(all),
        "the carried ids differ from the findings'"
    );
    out
}

/// The first finding in the check's order with this id whose site `sees` lets through.
pub(crate) fn lookup<'a>(
    all: &'a [Noted],
    table: &[(u64, u32)],
    id: &str,
    sees: impl Fn(&str) -> bool,
) -> Option<&'a Noted> {
    let (rule, subject) = id.split_once('/')?;
    let hash = hash(rule, subject);
    let from = table.partition_point(|&(h, _)| h < hash);
    table[from..]
        .iter()
        .take_while(|&&(h, _)| h == hash)
        .map(|&(_, i)| &all[i as usize])
        .find(|n| n.finding.rule == rule && n.finding.subject == subject && sees(&n.finding.site))
}
