//! What the work queue keeps per health check, so that a page costs what a page costs.
//!
//! For a viewer of the whole estate, an index: each group's findings (one owner, one rule) in
//! queue order, the snoozed apart, with where each severity's run ends and its soonest due date.
//! The queue's order puts the most serious findings first, so in a group's list the findings at a
//! severity or worse are a prefix of it: a page's groups, counts, worst severity and first due
//! are read from a few numbers per group, and its rows straight from the groups' lists — not two
//! passes over every finding of the estate ([`Queue::page`], 1.3 million at national size).
//! Beside it, every finding in each sortable column's order, both ways.
//!
//! For a scoped viewer (a practice, an ICB), the places of the findings they see: finding those
//! asks each of the estate's thousands of sites whether the viewer sees it, once per scope and
//! check rather than per request; a page then passes over those few ([`Queue::page`]).
//!
//! For every viewer, the findings by id: one finding's page looks its id up instead of passing
//! over the estate's findings.
//!
//! Each part is built once per check — by [`Kept::warm`] off the request threads, at the lowest
//! priority, as soon as a findings request has the check, or by the first request that needs it
//! before then (a second request waits for the first's build; none waits for the background's)
//! — and kept while its check is in use. A sorted page near the
//! start does not wait for its column's orders: it picks its findings in one pass
//! ([`crate::prevent::columns::first`]) until they are built.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use cardwatch_core::access::Scope;

use cardwatch_core::date::Date;
use cardwatch_core::fasthash::FastMap;
use cardwatch_core::health::{Filter, Group, NoteState, Noted, Owner, Queue, QueuePage, Severity};

use crate::prevent::check::Check;
use crate::prevent::columns::SORTABLE;
use crate::prevent::finding_ids;
use crate::web::scope::Viewer;

/// The index of one check's queue.
#[derive(Debug, Default)]
pub(crate) struct Index {
    groups: Vec<GroupRuns>,
}

/// One group's findings: not snoozed, and snoozed.
#[derive(Debug)]
struct GroupRuns {
    owner: Owner,
    rule: &'static str,
    runs: [Run; 2],
}

/// Some of a group's findings in queue order.
#[derive(Debug, Default)]
struct Run {
    /// Their places in the queue, ascending: most serious first, then soonest due.
    places: Vec<u32>,
    /// By severity (its order, information first): how many are at it or worse, a prefix of
    /// `places`.
    at_least: [u32; SEVERITIES],
    /// By severity: the soonest due of those at exactly it (the first of its run).
    first_due: [Option<Date>; SEVERITIES],
}

const SEVERITIES: usize = Severity::ALL.len();

impl Run {
    /// How many are at `min` or worse.
    fn passing(&self, min: usize) -> usize {
        self.at_least[min] as usize
    }
}

/// What is kept for one check: its index, its columns' orders, and each scoped viewer's
/// findings' places (its findings by id are the check's own, [`Check::ids`]).
#[derive(Debug, Default)]
pub(crate) struct Kept {
    index: OnceLock<Option<Index>>,
    /// A scope's organisations → its findings' places in the queue, ascending. The sites a
    /// scope covers change only with the estate's facts, which make a new check.
    scoped: Mutex<HashMap<String, Arc<Vec<u32>>>>,
    /// By [`SORTABLE`] column: every finding's index in its order, ascending and descending,
    /// ties in the check's order.
    columns: [OnceLock<Orders>; SORTABLE.len()],
    /// Every finding's subject's head, in queue order ([`crate::prevent::columns::subject_heads`]).
    heads: OnceLock<Arc<Vec<u128>>>,
    /// Whether a background build has started: of the ids, and of everything a viewer of the
    /// whole estate reads.
    warming_ids: AtomicBool,
    warming_all: AtomicBool,
    /// In tests: the background build waits before each part while this is held, and counts
    /// the parts it came to.
    #[cfg(test)]
    hold: Mutex<()>,
    #[cfg(test)]
    entered: std::sync::atomic::AtomicUsize,
}

/// A column's two orders.
#[derive(Debug)]
struct Orders {
    ascending: Arc<Vec<u32>>,
    descending: Arc<Vec<u32>>,
}

/// A column's two orders over a check's findings.
fn orders(check: &Check, by: &str) -> Orders {
    let (ascending, descending) = crate::prevent::columns::orders(&check.all, by);
    Orders {
        ascending: Arc::new(ascending),
        descending: Arc::new(descending),
    }
}

/// The scopes kept per check at most (a practice manager's each): past it they start again.
const MAX_SCOPES: usize = 10_000;

/// Which check the kept parts are for: they live while its check does.
type Entry = (Weak<Queue>, Weak<Vec<Noted>>, Arc<Kept>);

/// The kept parts of the checks still in use (the cache's, and one a slow request still reads).
static KEPT: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// What is kept for a check.
pub(crate) fn kept(check: &Check) -> Arc<Kept> {
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    kept.retain(|(q, a, _)| q.strong_count() > 0 && a.strong_count() > 0);
    let found = kept.iter().find(|(q, a, _)| {
        std::ptr::eq(q.as_ptr(), Arc::as_ptr(&check.queue))
            && std::ptr::eq(a.as_ptr(), Arc::as_ptr(&check.all))
    });
    match found {
        Some((_, _, k)) => k.clone(),
        None => {
            let k = Arc::new(Kept::default());
            kept.push((
                Arc::downgrade(&check.queue),
                Arc::downgrade(&check.all),
                k.clone(),
            ));
            k
        }
    }
}

/// The column's place in [`SORTABLE`] (an unknown one sorts as the last, due, does in
/// [`crate::prevent::columns::column_order`]).
fn column(by: &str) -> usize {
    SORTABLE
        .iter()
        .position(|c| *c == by)
        .unwrap_or(SORTABLE.len() - 1)
}

impl Kept {
    /// Starts building what this check's pages read, off the request threads, once per check:
    /// the findings by id, and for a viewer of the whole estate (`whole`) also every column's
    /// orders — so that no request, a sorted page's first included, pays for them.
    ///
    /// The build runs on a thread of its own at the lowest scheduling priority
    /// ([`crate::web::background::lowest_priority`]): a request's threads run before it whenever
    /// both are ready, where a build at the requests' priority took half the processor from the
    /// pages asked straight after a check (at load 14, 3–29 ms of work waited 60–240 ms for the
    /// processor). No request waits for it: each part is built outside its lock and put in place
    /// when done, so a request needing a part before then builds it itself (a sorted page near the
    /// start picks its findings instead, [`crate::prevent::columns::first`]). The index and the
    /// subjects' heads are not built here: every page of the whole estate needs the index, and the
    /// first builds both, side by side ([`crate::prevent::findings`]).
    pub(crate) fn warm(self: &Arc<Self>, check: &Check, whole: bool) {
        // The whole estate's build makes the ids too.
        let started = if whole {
            self.warming_all.swap(true, Ordering::AcqRel)
        } else {
            self.warming_all.load(Ordering::Acquire)
                || self.warming_ids.swap(true, Ordering::AcqRel)
        };
        if started {
            return;
        }
        let (kept, check) = (self.clone(), check.clone());
        let span = tracing::Span::current();
        let spawned = std::thread::Builder::new()
            .name("findings-kept".into())
            .spawn(move || {
                crate::web::background::lowest_priority("the findings' background build");
                span.in_scope(|| kept.build(&check, whole));
            });
        if let Err(e) = spawned {
            // The pages build what they need themselves.
            tracing::warn!(error = %e, "the findings' background build did not start");
        }
    }

    /// The background build ([`Kept::warm`]): each part not yet built, built and put in place.
    fn build(&self, check: &Check, whole: bool) {
        let timed = |what: &str, build: &dyn Fn()| {
            let began = std::time::Instant::now();
            self.held();
            build();
            tracing::debug!(
                findings = check.all.len(),
                ms = began.elapsed().as_secs_f64() * 1e3,
                "findings kept per check: {what} built"
            );
        };
        if check.ids.get().is_none() {
            timed("the ids", &|| {
                let _ = check.ids.set(finding_ids::table(&check.all));
            });
        }
        if whole {
            for by in SORTABLE {
                if !self.sorted_built(by) {
                    timed(by, &|| {
                        let _ = self.columns[column(by)].set(orders(check, by));
                    });
                }
            }
        }
    }

    /// In tests, waits while the test holds the background build (`hold`), before each part.
    fn held(&self) {
        #[cfg(test)]
        {
            self.entered.fetch_add(1, Ordering::AcqRel);
            drop(self.hold.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    /// The check's index, built on first use (one builder; others wait for it); none when the
    /// queue's order does not put the most serious first (pages then pass over the queue).
    pub(crate) fn index(&self, check: &Check) -> Option<&Index> {
        self.index
            .get_or_init(|| Index::build(&check.all, check.queue.order()))
            .as_ref()
    }

    /// Every finding's index sorted by a column (as the findings page sorts: ties in the check's
    /// order), built on first use with the other way's.
    pub(crate) fn sorted(
        &self,
        check: &Check,
        by: &'static str,
        descending: bool,
    ) -> Arc<Vec<u32>> {
        let orders = self.columns[column(by)].get_or_init(|| orders(check, by));
        if descending {
            orders.descending.clone()
        } else {
            orders.ascending.clone()
        }
    }

    /// Every finding's subject's head in queue order, built on first use (one builder; others
    /// wait for it).
    pub(crate) fn subject_heads(&self, check: &Check) -> Arc<Vec<u128>> {
        self.heads
            .get_or_init(|| {
                Arc::new(crate::prevent::columns::subject_heads(
                    &check.all,
                    &check.queue,
                ))
            })
            .clone()
    }

    /// Whether the orders by a column are built.
    pub(crate) fn sorted_built(&self, by: &str) -> bool {
        self.columns[column(by)].get().is_some()
    }

    /// Whether the index is built (or found not to apply).
    pub(crate) fn built(&self) -> bool {
        self.index.get().is_some()
    }

    /// The check's findings by id, built now if they are not yet.
    fn id_table<'a>(&self, check: &'a Check) -> &'a [(u64, u32)] {
        check.ids.get_or_init(|| finding_ids::table(&check.all))
    }

    /// The viewer's findings with these ids (snoozed ones included), each the first in the
    /// check's order with its id among those the viewer sees; none for an id that names none of
    /// them (or is not an id).
    pub(crate) fn find<'a>(
        &self,
        check: &'a Check,
        viewer: &Viewer,
        ids: &[&str],
    ) -> Vec<Option<&'a Noted>> {
        let table = self.id_table(check);
        ids.iter()
            .map(|id| finding_ids::lookup(&check.all, table, id, |site| viewer.sees_site(site)))
            .collect()
    }

    /// The places in the queue of the findings a viewer sees, ascending; none for a viewer of
    /// the whole estate. Found once per scope and check: finding them means asking each of the
    /// estate's sites whether the viewer sees it.
    pub(crate) fn places(&self, check: &Check, viewer: &Viewer) -> Option<Arc<Vec<u32>>> {
        let Scope::Only(codes) = viewer.caller.user.scope() else {
            return None;
        };
        let key = codes
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let lock = || self.scoped.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = lock().get(&key) {
            return Some(p.clone());
        }
        let mine = check.viewer_findings(viewer).unwrap_or_default();
        let places = Arc::new(check.queue.places(mine.into_iter()));
        let mut scoped = lock();
        if scoped.len() >= MAX_SCOPES {
            scoped.clear();
        }
        scoped.insert(key, places.clone());
        Some(places)
    }
}

/// The check's findings by id built, off the request threads; a request arriving while the
/// background build runs waits for it.
pub(crate) async fn ids_ready(check: &Check) {
    let kept = kept(check);
    kept.warm(check, false);
    if check.ids.get().is_some() {
        return;
    }
    let check = check.clone();
    let _ = tokio::task::spawn_blocking(move || {
        kept.id_table(&check);
    })
    .await;
}

impl Index {
    /// The index over a check's findings and its queue's order (every finding's index, most
    /// urgent first); none when that order is not most serious first.
    pub(crate) fn build(all: &[Noted], order: &[u32]) -> Option<Index> {
        if order.len() != all.len() {
            return None;
        }
        if all.is_empty() {
            return Some(Index::default());
        }
        // Each finding's group, read in the findings' own order (a read across memory per finding
        // in queue order costs several times more), then written to its place in the queue.
        let mut ids: FastMap<(Owner, &'static str), u32> = FastMap::default();
        let mut groups: Vec<GroupRuns> = Vec::new();
        let mut place = vec![0u32; all.len()];
        for (p, &i) in order.iter().enumerate() {
            *place.get_mut(i as usize)? = p as u32;
        }
        #[derive(Clone, Copy)]
        struct Slot {
            run: u32,
            severity: u8,
            due: Date,
        }
        let filler = Slot {
            run: 0,
            severity: 0,
            due: all[0].finding.due,
        };
        let mut slots = vec![filler; all.len()];
        for (i, n) in all.iter().enumerate() {
            let f = &n.finding;
            let g = *ids.entry((f.owner, f.rule)).or_insert_with(|| {
                groups.push(GroupRuns {
                    owner: f.owner,
                    rule: f.rule,
                    runs: Default::default(),
                });
                (groups.len() - 1) as u32
            });
            let snoozed = n.state == NoteState::Snoozed.as_str();
            slots[place[i] as usize] = Slot {
                run: g * 2 + u32::from(snoozed),
                severity: f.severity as u8,
                due: f.due,
            };
        }
        drop(place);
        let mut counts = vec![[0u32; SEVERITIES]; groups.len() * 2];
        let mut last = vec![u8::MAX; groups.len() * 2];
        for (p, s) in slots.iter().enumerate() {
            let r = s.run as usize;
            // A severity above the run's last breaks the prefix the counts rest on.
            if s.severity > last[r] {
                return None;
            }
            last[r] = s.severity;
            let run = &mut groups[r / 2].runs[r % 2];
            run.places.push(p as u32);
            let sev = s.severity as usize;
            if counts[r][sev] == 0 {
                run.first_due[sev] = Some(s.due);
            }
            counts[r][sev] += 1;
        }
        for (r, c) in counts.iter().enumerate() {
            let run = &mut groups[r / 2].runs[r % 2];
            let mut worse = 0;
            for sev in (0..SEVERITIES).rev() {
                worse += c[sev];
                run.at_least[sev] = worse;
            }
        }
        Some(Index { groups })
    }

    /// The page `[offset, offset + limit)` of the whole queue that `filter` (no site) and `owner`
    /// keep, as [`Queue::page`] cuts it: the groups ranked by their most urgent finding, their
    /// counts, and the rows (group, finding index) in group then queue order. `order` is the
    /// queue's (`Queue::order`).
    pub(crate) fn page(
        &self,
        order: &[u32],
        filter: &Filter,
        owner: Option<Owner>,
        offset: usize,
        limit: usize,
    ) -> QueuePage {
        let min = filter.min_severity.map_or(0, |s| s as usize);
        let runs = if filter.include_snoozed { 2 } else { 1 };
        // The groups that keep any finding, ranked by their first (most urgent) one.
        let mut ranked: Vec<(u32, Group, &GroupRuns)> = self
            .groups
            .iter()
            .filter(|g| owner.is_none_or(|o| g.owner == o))
            .filter(|g| filter.rule.as_deref().is_none_or(|r| g.rule.starts_with(r)))
            .filter_map(|g| {
                let used = &g.runs[..runs];
                let first = used
                    .iter()
                    .filter(|r| r.passing(min) > 0)
                    .map(|r| r.places[0])
                    .min()?;
                // Each severity kept has its first due: the soonest of all is the least of them.
                let first_due = used
                    .iter()
                    .flat_map(|r| r.first_due[min..].iter().flatten())
                    .min()
                    .copied()?;
                let worst = (min..SEVERITIES)
                    .rev()
                    .find(|&s| used.iter().any(|r| r.first_due[s].is_some()))?;
                let group = Group {
                    owner: g.owner,
                    rule: g.rule,
                    count: used.iter().map(|r| r.passing(min)).sum(),
                    worst: Severity::ALL[worst],
                    first_due,
                };
                Some((first, group, g))
            })
            .collect();
        ranked.sort_unstable_by_key(|x| x.0);
        let (runs_of, groups): (Vec<&GroupRuns>, Vec<Group>) =
            ranked.into_iter().map(|(_, group, g)| (g, group)).unzip();
        let total: usize = groups.iter().map(|g| g.count).sum();
        let end = offset.saturating_add(limit).min(total);
        let mut rows: Vec<(usize, u32)> = Vec::with_capacity(end.saturating_sub(offset));
        let mut start = 0;
        for (rank, (g, runs_of)) in groups.iter().zip(&runs_of).enumerate() {
            let (from, to) = (offset.max(start), end.min(start + g.count));
            if from < to {
                let a = &runs_of.runs[0].places[..runs_of.runs[0].passing(min)];
                let b = if runs == 2 {
                    &runs_of.runs[1].places[..runs_of.runs[1].passing(min)]
                } else {
                    &[][..]
                };
                merged(a, b, from - start, to - from, |p| {
                    rows.push((rank, order[p as usize]))
                });
            }
            start += g.count;
            if start >= end {
                break;
            }
        }
        QueuePage {
            groups,
            total,
            rows,
        }
    }
}

/// Calls `each` with the `take` places after the first `skip` of two ascending, disjoint lists
/// merged, in ascending order.
fn merged(a: &[u32], b: &[u32], skip: usize, take: usize, mut each: impl FnMut(u32)) {
    // How many of the skipped come from `a`: the least i for which a[i] follows b's last skipped.
    let (mut lo, mut hi) = (skip.saturating_sub(b.len()), skip.min(a.len()));
    while lo < hi {
        let i = (lo + hi) / 2;
        let j = skip - i;
        if j > 0 && b[j - 1] > a[i] {
            lo = i + 1;
        } else {
            hi = i;
        }
    }
    let (mut i, mut j) = (lo, skip - lo);
    for _ in 0..take {
        let from_a = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x < y,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return,
        };
        if from_a {
            each(a[i]);
            i += 1;
        } else {
            each(b[j]);
            j += 1;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use cardwatch_core::health::{Finding, SubjectKind};

    /// A small xorshift: the same findings every run.
    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    const RULES: [&str; 6] = [
        "cert-signing-90d",
        "cert-signing-7d",
        "cert-authentication-30d",
        "spare-readers-low",
        "integration-emis-cdb",
        "leaver-card",
    ];

    /// Findings with every owner, severity and note state, due over a few weeks (many ties).
    fn findings(n: usize, mut seed: u64) -> Vec<Noted> {
        let today = Date::from_ymd(2026, 11, 22).expect("date");
        (0..n)
            .map(|i| {
                let mut pick = |k: usize| (next(&mut seed) % k as u64) as usize;
                let finding = Finding {
                    rule: RULES[pick(RULES.len())],
                    severity: Severity::ALL[pick(SEVERITIES)],
                    subject_kind: SubjectKind::Card,
                    subject: format!("s{i}"),
                    site: format!("A8100{}", pick(4)),
                    owner: Owner::ALL[pick(Owner::ALL.len())],
                    due: today.add_days(pick(30) as i32),
                    why: String::new(),
                    fix: std::borrow::Cow::Borrowed(""),
                };
                let state = match pick(8) {
                    0 | 1 => NoteState::Snoozed.as_str(),
                    2 => NoteState::Acknowledged.as_str(),
                    _ => "open",
                };
                Noted {
                    finding,
                    state,
                    note: None,
                }
            })
            .collect()
    }

    #[test]
    fn every_page_equals_the_queues_pass_over_every_finding() {
        let mut severities: Vec<Option<Severity>> = vec![None];
        severities.extend(Severity::ALL.iter().copied().map(Some));
        let mut owners: Vec<Option<Owner>> = vec![None];
        owners.extend(Owner::ALL.iter().copied().map(Some));
        let rules = [
            None,
            Some("cert-"),
            Some("cert-signing-7d"),
            Some("none-such"),
        ];
        let cuts = [
            (0, 50),
            (0, 0),
            (7, 13),
            (40, 1),
            (100, 50),
            (250, 1_000),
            (10_000, 5),
            (0, usize::MAX),
        ];
        let mut compared = 0;
        for seed in 1..12u64 {
            let all = findings(60 + seed as usize * 41, seed * 7919);
            let queue = Queue::new(&all);
            let index = Index::build(&all, queue.order()).expect("most serious first");
            for min_severity in &severities {
                for include_snoozed in [false, true] {
                    for rule in rules {
                        let filter = Filter {
                            site: None,
                            min_severity: *min_severity,
                            include_snoozed,
                            rule: rule.map(str::to_owned),
                        };
                        for owner in &owners {
                            let wanted = queue.wanted(&filter, *owner);
                            for (offset, limit) in cuts {
                                let scan = queue.page(None, &wanted, offset, limit);
                                let read =
                                    index.page(queue.order(), &filter, *owner, offset, limit);
                                let at = (seed, &filter, owner, offset, limit);
                                assert_eq!(read.groups, scan.groups, "{at:?}");
                                assert_eq!(read.total, scan.total, "{at:?}");
                                assert_eq!(read.rows, scan.rows, "{at:?}");
                                compared += usize::from(!scan.rows.is_empty());
                            }
                        }
                    }
                }
            }
        }
        // The comparison is not of empty pages only.
        assert!(compared > 1_000, "{compared}");
    }

    /// Findings whose subjects repeat, share long heads, differ past their 16th byte, run
    /// shorter than 16 bytes and are empty — every path of the subjects' ranking — and whose
    /// ids repeat, some at other sites.
    pub(crate) fn awkward(n: usize, seed: u64) -> Vec<Noted> {
        let mut all = findings(n, seed);
        let mut s = seed;
        for (i, x) in all.iter_mut().enumerate() {
            let k = next(&mut s) % 1_000;
            x.finding.subject = match next(&mut s) % 6 {
                0 => format!("CS{k:010}"),
                1 => format!("CS0000000000000000{k}"),
                2 => format!("CS00000000000000{}", k % 3),
                3 => String::new(),
                4 => format!("{k:x}\u{e9}/{}", i % 7),
                _ => x.finding.subject.clone(),
            };
        }
        all
    }

    #[test]
    fn the_ids_carried_past_a_sites_change_equal_the_ids_built_afresh() {
        // A check in site order, some ids shared by several findings (as a holder's card is at
        // two sites).
        let site_order = |mut all: Vec<Noted>| {
            all.sort_by(|a, b| a.finding.site.cmp(&b.finding.site));
            all
        };
        let mut all = findings(2_000, 11);
        for (i, n) in all.iter_mut().enumerate() {
            n.finding.subject = format!("s{}", i % 1_500);
        }
        let old = Check::new(site_order(all.clone()), Vec::new(), Vec::new());
        // A81001 re-checked to fewer findings, A81002 to more, A81004 new, A81000 gone.
        let mut now: Vec<Noted> = all
            .iter()
            .filter(|n| n.finding.site == "A81003")
            .cloned()
            .collect();
        let mut more = findings(700, 12);
        for (i, n) in more.iter_mut().enumerate() {
            n.finding.site = ["A81001", "A81002", "A81002", "A81004"][i % 4].to_owned();
            n.finding.subject = format!("s{}", i % 900);
        }
        now.extend(
            more.into_iter()
                .filter(|n| n.finding.site != "A81001" || n.finding.subject.as_str() < "s3"),
        );
        let new = Check::new(site_order(now), Vec::new(), Vec::new());
        let ids = finding_ids::carried(
            &finding_ids::table(&old.all),
            &old.sites,
            &new.all,
            &new.sites,
            &["A81000", "A81001", "A81002", "A81004"],
        );
        assert_eq!(ids, finding_ids::table(&new.all));
        for id in [
            "cert-signing-90d/s7",
            "leaver-card/s1499",
            "spare-readers-low/s3",
        ] {
            let (rule, subject) = id.split_once('/').unwrap();
            let first = new
                .all
                .iter()
                .find(|n| n.finding.rule == rule && n.finding.subject == subject);
            assert_eq!(
                finding_ids::lookup(&new.all, &ids, id, |_| true),
                first,
                "{id}"
            );
        }
    }

    pub(crate) fn check_of(all: Vec<Noted>) -> Check {
        Check {
            queue: Arc::new(Queue::new(&all)),
            all: Arc::new(all),
            sites: Arc::default(),
            expiring: Arc::default(),
            open_incidents: Arc::default(),
            ids: Arc::default(),
        }
    }

    #[test]
    fn a_columns_order_is_the_stable_sort_of_the_checks() {
        for (n, seed) in [(700, 11), (3_000, 5), (1, 2), (0, 1)] {
            let check = check_of(awkward(n, seed));
            let kept = kept(&check);
            for by in SORTABLE {
                assert!(!kept.sorted_built(by));
                for descending in [false, true] {
                    let mut stable: Vec<usize> = (0..check.all.len()).collect();
                    stable.sort_by(|&a, &b| {
                        crate::prevent::columns::column_order(
                            &check.all[a],
                            &check.all[b],
                            by,
                            descending,
                        )
                    });
                    let kept: Vec<usize> = kept
                        .sorted(&check, by, descending)
                        .iter()
                        .map(|&i| i as usize)
                        .collect();
                    assert_eq!(kept, stable, "{n} {by} {descending}");
                    assert!(self::kept(&check).sorted_built(by));
                }
            }
        }
    }

    /// The nice value of this process's thread named `name`, from /proc (Linux).
    #[cfg(target_os = "linux")]
    fn nice_of(name: &str) -> Option<i64> {
        std::fs::read_dir("/proc/self/task")
            .ok()?
            .flatten()
            .find_map(|t| {
                let comm = std::fs::read_to_string(t.path().join("comm")).ok()?;
                if comm.trim() != name {
                    return None;
                }
                let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
                // After the name's closing parenthesis: state is field 3, nice field 19.
                let rest = &stat[stat.rfind(')')? + 2..];
                rest.split_whitespace().nth(16)?.parse().ok()
            })
    }

    /// While the background build is under way (held here at its first part, at the lowest
    /// priority), a page gets every part it reads without waiting for it: the index, the
    /// subjects' heads, each column's orders and the findings by id, each built by the asking
    /// thread. A background build holding a part's lock while it builds it made the page wait
    /// for a thread that, at the lowest priority on a loaded machine, runs last.
    #[test]
    fn no_page_waits_for_the_background_build() {
        use std::time::{Duration, Instant};
        let check = check_of(awkward(3_000, 29));
        let kept = kept(&check);
        let hold = kept.hold.lock().expect("hold");
        kept.warm(&check, true);
        let began = Instant::now();
        while kept.entered.load(Ordering::Acquire) == 0 {
            assert!(
                began.elapsed() < Duration::from_secs(60),
                "no background build"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        #[cfg(target_os = "linux")]
        assert_eq!(nice_of("findings-kept"), Some(19), "the build's priority");
        let (tx, rx) = std::sync::mpsc::channel();
        let (k, c) = (kept.clone(), check.clone());
        std::thread::spawn(move || {
            let index = k.index(&c).is_some();
            let heads = k.subject_heads(&c).len();
            let orders: usize = SORTABLE.iter().map(|by| k.sorted(&c, by, true).len()).sum();
            let ids = k.id_table(&c).len();
            let _ = tx.send((index, heads, orders, ids));
        });
        let got = rx.recv_timeout(Duration::from_secs(60));
        drop(hold);
        assert_eq!(
            got,
            Ok((true, 3_000, 3_000 * SORTABLE.len(), 3_000)),
            "a page's part waited for the held background build"
        );
        // Held once, at its first part: the rest it found built.
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(kept.entered.load(Ordering::Acquire), 1);
    }

    /// The background build, not held, puts every part in place, the same as a request builds.
    #[test]
    fn the_background_build_puts_every_part_in_place() {
        use std::time::{Duration, Instant};
        let check = check_of(awkward(2_000, 31));
        let kept = kept(&check);
        kept.warm(&check, true);
        let began = Instant::now();
        while !(check.ids.get().is_some() && SORTABLE.iter().all(|by| kept.sorted_built(by))) {
            assert!(began.elapsed() < Duration::from_secs(60), "not built");
            std::thread::sleep(Duration::from_millis(2));
        }
        // Every part, each once: the ids and six columns.
        assert_eq!(kept.entered.load(Ordering::Acquire), 1 + SORTABLE.len());
        assert_eq!(kept.id_table(&check), finding_ids::table(&check.all));
        for by in SORTABLE {
            let (ascending, descending) = crate::prevent::columns::orders(&check.all, by);
            assert_eq!(*kept.sorted(&check, by, false), ascending, "{by}");
            assert_eq!(*kept.sorted(&check, by, true), descending, "{by}");
        }
        // The index and the heads are the first page's to build.
        assert!(!kept.built() && kept.heads.get().is_none());
    }

    /// A finding found by its id is the one the pass over the findings finds: the first in the
    /// check's order with that id among those the viewer sees.
    #[test]
    fn a_finding_by_its_id_is_the_first_a_pass_finds() {
        let all = awkward(4_000, 17);
        let table = finding_ids::table(&all);
        let scan = |id: &str, sees: &dyn Fn(&str) -> bool| {
            let (rule, subject) = id.split_once('/')?;
            all.iter().find(|n| {
                n.finding.rule == rule && n.finding.subject == subject && sees(&n.finding.site)
            })
        };
        let mut ids: Vec<String> = all.iter().map(|n| n.finding.id()).collect();
        ids.extend(
            [
                "",
                "/",
                "no-slash",
                "cert-signing-7d/",
                "cert-signing-7d/NOSUCH",
                "none-such/CS0000000001",
            ]
            .map(str::to_owned),
        );
        let scopes: [&dyn Fn(&str) -> bool; 4] = [
            &|_| true,
            &|s| s == "A81001",
            &|s| s == "A81002" || s == "A81003",
            &|_| false,
        ];
        let (mut found, mut refused) = (0, 0);
        for (k, sees) in scopes.iter().enumerate() {
            for id in &ids {
                let by_id = finding_ids::lookup(&all, &table, id, sees);
                let passed = scan(id, sees);
                assert_eq!(
                    by_id.map(|n| n as *const Noted),
                    passed.map(|n| n as *const Noted),
                    "scope {k}, {id:?}"
                );
                found += usize::from(by_id.is_some());
                refused += usize::from(by_id.is_none());
            }
        }
        // Found and refused both, and an id repeated at other sites found in scope.
        assert!(found > 4_000 && refused > 4_000, "{found} {refused}");
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert!(distinct.len() < all.len(), "some ids repeat");
    }

    #[test]
    fn an_order_not_most_serious_first_is_not_indexed() {
        let all = findings(50, 3);
        let mut order: Vec<u32> = (0..all.len() as u32).collect();
        // In the findings' own order the severities are mixed.
        assert!(Index::build(&all, &order).is_none());
        order.pop();
        assert!(Index::build(&all, &order).is_none());
        assert!(Index::build(&[], &[]).is_some_and(|i| i.groups.is_empty()));
    }

    #[test]
    fn merging_skips_and_takes_across_both_lists() {
        let (a, b) = ([1, 4, 5, 9, 10], [2, 3, 6, 11]);
        let mut whole: Vec<u32> = a.iter().chain(&b).copied().collect();
        whole.sort_unstable();
        for skip in 0..=whole.len() + 1 {
            for take in 0..=whole.len() + 1 {
                let mut got = Vec::new();
                merged(&a, &b, skip, take, |p| got.push(p));
                let want: Vec<u32> = whole.iter().skip(skip).take(take).copied().collect();
                assert_eq!(got, want, "skip {skip} take {take}");
            }
        }
    }
}
