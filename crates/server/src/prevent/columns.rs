//! The columns findings sort by, and their order: shared by a page sorted on request and the
//! orders the queue index keeps per check.

use std::cmp::Ordering;
use std::hash::Hash;

use cardwatch_core::fasthash::FastMap;
use cardwatch_core::health::{Column, Noted, Queue, Wanted};

/// The columns findings sort by (instead of the queue's order).
pub(crate) const SORTABLE: [&str; 6] = ["site", "severity", "rule", "subject", "owner", "due"];

/// Two findings' order by a column, descending or not (ties are equal).
pub(crate) fn column_order(a: &Noted, b: &Noted, by: &str, descending: bool) -> Ordering {
    let (x, y) = (&a.finding, &b.finding);
    let o = match by {
        "site" => x.site.cmp(&y.site),
        "severity" => x.severity.cmp(&y.severity),
        "rule" => x.rule.cmp(y.rule),
        "subject" => x.subject.cmp(&y.subject),
        "owner" => x.owner.cmp(&y.owner),
        _ => x.due.cmp(&y.due),
    };
    if descending {
        o.reverse()
    } else {
        o
    }
}

/// The first `k` findings (their indexes) in a column's order, descending or not, among those
/// `wanted` keeps: the start of the column's order from [`orders`] filtered, picked in one pass
/// over what the queue keeps of each finding (16 bytes) instead of ranking and counting out all
/// of them. The subjects are read from `heads` ([`subject_heads`]), only subjects with equal
/// heads compared whole.
pub(crate) fn first(
    all: &[Noted],
    queue: &Queue,
    heads: impl FnOnce() -> std::sync::Arc<Vec<u128>>,
    by: &str,
    descending: bool,
    wanted: &Wanted,
    k: usize,
) -> Vec<u32> {
    let column = match by {
        "site" => Column::Site,
        "severity" => Column::Severity,
        "rule" => Column::Rule,
        "owner" => Column::Owner,
        "subject" => {
            let subject = |i: u32| all[i as usize].finding.subject.as_bytes();
            return queue.first_by_keys(&heads(), descending, wanted, k, |a, b| {
                subject(a).cmp(subject(b))
            });
        }
        _ => Column::Due,
    };
    queue.first_by(column, descending, wanted, k)
}

/// Every finding's subject's first 16 bytes as a number ([`head`]), in the queue's order: the
/// subjects read once, in the findings' order, so that a page sorted by subject passes over
/// these instead of reaching each subject across memory.
pub(crate) fn subject_heads(all: &[Noted], queue: &Queue) -> Vec<u128> {
    let heads: Vec<u128> = all
        .iter()
        .map(|n| head(n.finding.subject.as_bytes()))
        .collect();
    queue.order().iter().map(|&i| heads[i as usize]).collect()
}

/// Every finding's index in a column's order, ascending and descending, ties in the findings'
/// own order either way — as a stable sort by [`column_order`] puts them.
///
/// Each finding's value is read once, in the findings' order, and turned into a rank (equal
/// values, equal ranks); the orders are then counted out by rank. A sort comparing the
/// findings themselves reads two of them across memory per comparison: 0.2–1.5 s for a
/// national check's 771,000 findings, where this takes a pass or two over small numbers.
pub(crate) fn orders(all: &[Noted], by: &str) -> (Vec<u32>, Vec<u32>) {
    let (ranks, distinct) = ranks(all, by);
    (
        by_rank(&ranks, distinct, false),
        by_rank(&ranks, distinct, true),
    )
}

/// Each finding's rank by a column (0 the least; equal values share one, a greater value has a
/// greater one) and how many ranks there are at most.
fn ranks(all: &[Noted], by: &str) -> (Vec<u32>, usize) {
    let f = all.iter().map(|n| &n.finding);
    match by {
        "site" => dense(f.map(|f| f.site.as_str())),
        "severity" => dense(f.map(|f| f.severity)),
        "rule" => dense(f.map(|f| f.rule)),
        "subject" => subjects(all),
        "owner" => dense(f.map(|f| f.owner)),
        _ => dense(f.map(|f| f.due)),
    }
}

/// Ranks of values with few distinct ones (sites, rules, dates): each distinct value is
/// numbered as met, the distinct values sorted, and the numbers mapped to their places.
fn dense<K: Ord + Hash + Copy>(values: impl Iterator<Item = K>) -> (Vec<u32>, usize) {
    let mut ids: FastMap<K, u32> = FastMap::default();
    let mut distinct: Vec<K> = Vec::new();
    let met: Vec<u32> = values
        .map(|k| {
            *ids.entry(k).or_insert_with(|| {
                distinct.push(k);
                (distinct.len() - 1) as u32
            })
        })
        .collect();
    let mut sorted: Vec<u32> = (0..distinct.len() as u32).collect();
    sorted.sort_unstable_by(|&a, &b| distinct[a as usize].cmp(&distinct[b as usize]));
    let mut rank = vec![0u32; distinct.len()];
    for (r, &id) in sorted.iter().enumerate() {
        rank[id as usize] = r as u32;
    }
    (
        met.into_iter().map(|id| rank[id as usize]).collect(),
        distinct.len(),
    )
}

/// Ranks of the subjects, nearly all distinct (card serials, UUIDs, host names): their first 16
/// bytes are sorted as numbers — a card serial or a UUID's first half tells most apart — and
/// only subjects sharing those are compared whole.
fn subjects(all: &[Noted]) -> (Vec<u32>, usize) {
    let subject = |i: u32| all[i as usize].finding.subject.as_bytes();
    let mut keyed: Vec<(u128, u32)> = all
        .iter()
        .enumerate()
        .map(|(i, n)| (head(n.finding.subject.as_bytes()), i as u32))
        .collect();
    keyed.sort_unstable();
    let mut ranks = vec![0u32; all.len()];
    let mut rank = 0u32;
    let mut start = 0;
    while start < keyed.len() {
        let head = keyed[start].0;
        let len = keyed[start..].iter().take_while(|k| k.0 == head).count();
        let run = &mut keyed[start..start + len];
        if len > 1 {
            run.sort_by(|a, b| subject(a.1).cmp(subject(b.1)));
        }
        for j in 0..len {
            if j > 0 && subject(run[j].1) != subject(run[j - 1].1) {
                rank += 1;
            }
            ranks[run[j].1 as usize] = rank;
        }
        rank += 1;
        start += len;
    }
    (ranks, rank as usize)
}

/// A string's first 16 bytes as a number in the same order as the bytes (shorter ones padded
/// with zeros: two strings whose heads are equal are compared whole).
fn head(s: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    let n = s.len().min(16);
    b[..n].copy_from_slice(&s[..n]);
    u128::from_be_bytes(b)
}

/// Every index in rank order (the greatest rank first when descending), equal ranks in index
/// order: a counting sort, stable by construction.
fn by_rank(ranks: &[u32], distinct: usize, descending: bool) -> Vec<u32> {
    let bucket = |r: u32| {
        if descending {
            distinct - 1 - r as usize
        } else {
            r as usize
        }
    };
    let mut starts = vec![0u32; distinct + 1];
    for &r in ranks {
        starts[bucket(r) + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    let mut order = vec![0u32; ranks.len()];
    for (i, &r) in ranks.iter().enumerate() {
        let at = &mut starts[bucket(r)];
        order[*at as usize] = i as u32;
        *at += 1;
    }
    order
}
