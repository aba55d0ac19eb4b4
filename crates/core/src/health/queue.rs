//! Findings as a work queue: grouped by what to do and who does it, the most urgent group first
//! and the most urgent finding first within it; and the plain words a person reads for an owner,
//! a severity and a rule, in place of the codes the API and exports keep.
//!
//! The order is computed once per health check ([`Queue::new`]); each request then filters and
//! counts in one pass over it and collects its page in a second, so a page of 50 out of hundreds
//! of thousands of findings never sorts or copies them.

use super::{Finding, Noted, Owner, Severity, SubjectKind};
use crate::catalogue::Catalogue;
use crate::date::Date;
use crate::fasthash::FastMap;

impl Owner {
    /// Who acts, as people say it.
    pub const fn label(self) -> &'static str {
        match self {
            Owner::Holder => "Card holder",
            Owner::PracticeManager => "Practice manager",
            Owner::It => "IT support",
            Owner::Ra => "Registration Authority",
        }
    }
}

impl Severity {
    /// How serious, as a word for a tag.
    pub const fn label(self) -> &'static str {
        match self {
            Severity::Info => "Information",
            Severity::Warning => "Warning",
            Severity::Urgent => "Urgent",
            Severity::Critical => "Critical",
        }
    }
}

impl SubjectKind {
    /// What the finding is about, as a word.
    pub const fn label(self) -> &'static str {
        match self {
            SubjectKind::Card => "Card",
            SubjectKind::Person => "Person",
            SubjectKind::Workstation => "Workstation",
            SubjectKind::Reader => "Reader",
            SubjectKind::Site => "Site",
            SubjectKind::Integration => "Service card",
        }
    }

    /// A finding's subject as people read it: the key it is kept by joins its parts with `/`
    /// (a position is holder/site/role, a workstation's software host/component, a stock line
    /// site/item), which reads as "005550000069 (role R8000 at A10000)" and
    /// "a10000-ws001 (Gemalto middleware)", a component by the catalogue's name for it.
    pub fn subject_words(self, subject: &str, catalogue: &Catalogue) -> String {
        let parts: Vec<&str> = subject.split('/').collect();
        match (self, parts.as_slice()) {
            (SubjectKind::Person, [holder, site, role]) => {
                format!("{holder} (role {role} at {site})")
            }
            (SubjectKind::Workstation, [host, component]) => {
                let name = catalogue
                    .software(component)
                    .map_or(*component, |s| s.name.as_str());
                format!("{host} ({name})")
            }
            (_, [what, detail]) => format!("{what} ({detail})"),
            _ => subject.to_owned(),
        }
    }
}

/// What to do about a rule's findings, in a few plain words: the heading of its group.
const ACTIONS: &[(&str, &str)] = &[
    (
        "cert-authentication-90d",
        "Renew sign-in certificates at the next prompt",
    ),
    (
        "cert-authentication-30d",
        "Renew sign-in certificates within 30 days",
    ),
    (
        "cert-authentication-7d",
        "Renew sign-in certificates this week",
    ),
    (
        "cert-authentication-expired",
        "Renew expired sign-in certificates in person",
    ),
    (
        "cert-signing-90d",
        "Renew signing certificates at the next prompt",
    ),
    (
        "cert-signing-30d",
        "Renew signing certificates within 30 days",
    ),
    ("cert-signing-7d", "Renew signing certificates this week"),
    (
        "cert-signing-expired",
        "Renew expired signing certificates in person",
    ),
    (
        "sha1-signing-prescriber",
        "Replace prescribers' SHA-1 signing certificates",
    ),
    (
        "series-retired",
        "Replace cards of a series that has stopped working",
    ),
    ("series-retiring", "Replace cards of a series being retired"),
    (
        "series-cannot-sign",
        "Give prescribers a card that can sign",
    ),
    (
        "repeated-lockouts",
        "Help people locked out of their card again and again",
    ),
    ("card-dormant", "Check cards no one has used for months"),
    ("leaver-card", "Cancel leavers' cards"),
    ("leaver-position", "End leavers' roles"),
    (
        "request-awaiting-ra",
        "Approve role requests waiting too long",
    ),
    ("software-missing", "Install missing smartcard software"),
    (
        "auth-client-retiring",
        "Move workstations to the new sign-in client",
    ),
    (
        "auth-client-move-blocked",
        "Confirm the applications holding up the move",
    ),
    ("auth-clients-both", "Remove one of two sign-in clients"),
    ("auth-client-missing", "Install a sign-in client"),
    (
        "software-below-mandatory",
        "Update software below the required version",
    ),
    (
        "software-retired-version",
        "Update software on a withdrawn version",
    ),
    ("software-outdated", "Update older software when convenient"),
    ("software-to-remove", "Remove software that must go"),
    (
        "updates-in-clinic-hours",
        "Move updates out of clinic hours",
    ),
    ("workstation-clock-skew", "Correct workstation clocks"),
    (
        "no-canary-workstation",
        "Choose a workstation to try updates on first",
    ),
    ("reader-firmware-old", "Update card reader firmware"),
    ("spare-readers-low", "Order spare card readers"),
    ("stock-below-minimum", "Restock smartcard supplies"),
    ("local-admins-low", "Train more local smartcard admins"),
    ("site-data-stale", "Bring sites' card data up to date"),
    (
        "closed-practice-in-use",
        "Move people and workstations off a closed practice",
    ),
    (
        "integration-ods-missing",
        "Add the practice to a service's card",
    ),
    (
        "integration-role-insufficient",
        "Give a service's card the role it needs",
    ),
    (
        "integration-emis-account",
        "Give each service card its own EMIS account",
    ),
    (
        "integration-emis-cdb",
        "Correct the EMIS CDB a service holds",
    ),
    (
        "integration-systmone-profile",
        "Correct the SystmOne profile a service holds",
    ),
    (
        "integration-card-unusable",
        "Unlock or replace a service's card",
    ),
];

/// Families of rules a filter can name by the start of their ids (the overview's tiles do), in
/// plain words.
const FAMILIES: &[(&str, &str)] = &[
    (
        "cert-authentication-",
        "Renew sign-in certificates (every kind)",
    ),
    ("cert-signing-", "Renew signing certificates (every kind)"),
    ("cert-", "Renew certificates (every kind)"),
    ("integration-", "Put integrations right (every kind)"),
    ("auth-client", "Move to Smartcard Connect (every kind)"),
    ("software-", "Put smartcard software right (every kind)"),
    ("leaver-", "Close leavers' access (every kind)"),
];

/// What a rule filter covers, in plain words: the rule's action, a family's name for the start
/// of rule ids, or the filter as typed when it is neither.
pub fn filter_label(rule: &str) -> String {
    if let Some((_, a)) = ACTIONS.iter().find(|(r, _)| *r == rule) {
        return (*a).to_owned();
    }
    match FAMILIES.iter().find(|(prefix, _)| *prefix == rule) {
        Some((_, name)) => (*name).to_owned(),
        None => format!("Findings whose rule starts “{rule}”"),
    }
}

/// Every rule with an action, in the order above (families together).
pub fn rules_with_actions() -> impl Iterator<Item = (&'static str, &'static str)> {
    ACTIONS.iter().copied()
}

/// What to do about a rule's findings, in plain words; a rule without its own words (one added
/// since) reads as its id in words.
pub fn action(rule: &str) -> std::borrow::Cow<'static, str> {
    match ACTIONS.iter().find(|(r, _)| *r == rule) {
        Some((_, a)) => std::borrow::Cow::Borrowed(a),
        None => {
            let words = rule.replace('-', " ");
            let mut c = words.chars();
            std::borrow::Cow::Owned(
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default(),
            )
        }
    }
}

/// A group of the queue: one thing to do, by one kind of person.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    /// Who acts.
    pub owner: Owner,
    /// The rule behind it.
    pub rule: &'static str,
    /// Findings in it (after the filters).
    pub count: usize,
    /// The most serious of them.
    pub worst: Severity,
    /// The soonest any of them is due.
    pub first_due: Date,
}

/// One page of the queue: every group of the filtered findings, most urgent first, their total,
/// and the page's findings (as indexes into the check's list) with the group each belongs to.
#[derive(Clone, Debug, Default)]
pub struct QueuePage {
    /// The groups, most urgent first: a group ranks by its most urgent finding.
    pub groups: Vec<Group>,
    /// Findings passing the filters.
    pub total: usize,
    /// The page: (index into `groups`, index into the findings), in queue order.
    pub rows: Vec<(usize, u32)>,
}

/// The queue's order over one health check's findings, computed once.
#[derive(Clone, Debug, Default)]
pub struct Queue {
    /// Finding indexes, most urgent first: most serious, then soonest due, then the check's order.
    order: Vec<u32>,
    /// Each finding's place in `order`, to put a subset in queue order.
    place: Vec<u32>,
    /// The distinct (owner, rule) pairs.
    keys: Vec<(Owner, &'static str)>,
    /// What the filters read of each finding, in queue order: a page's passes read these few
    /// bytes in a row instead of reaching each finding across memory.
    items: Vec<Item>,
    /// The distinct sites and rules, by the ids items hold.
    sites: Vec<String>,
    rules: Vec<&'static str>,
}

/// What the filters read of one finding.
#[derive(Clone, Copy, Debug)]
struct Item {
    group: u16,
    rule: u16,
    site: u32,
    severity: Severity,
    owner: Owner,
    snoozed: bool,
    due: Date,
}

/// The filters compiled against a queue's sites and rules.
#[derive(Clone, Debug)]
pub struct Wanted {
    /// Per site id, whether wanted; none: any site.
    sites: Option<Vec<bool>>,
    rules: Option<Vec<bool>>,
    min_severity: Option<Severity>,
    include_snoozed: bool,
    owner: Option<Owner>,
}

impl Wanted {
    fn keeps(&self, x: &Item) -> bool {
        self.min_severity.is_none_or(|m| x.severity >= m)
            && (self.include_snoozed || !x.snoozed)
            && self.owner.is_none_or(|o| x.owner == o)
            && self.sites.as_ref().is_none_or(|s| s[x.site as usize])
            && self.rules.as_ref().is_none_or(|r| r[x.rule as usize])
    }
}

fn urgency(f: &Finding) -> (std::cmp::Reverse<Severity>, Date) {
    (std::cmp::Reverse(f.severity), f.due)
}

impl Queue {
    /// The queue over a check's findings (in the check's order).
    pub fn new(all: &[Noted]) -> Queue {
        // Stable on the index, so equal findings keep the check's order. The keys are taken
        // once, in the findings' order, and sorted on their own: a million findings read
        // through their indexes during the sort cost several times more.
        let mut keyed: Vec<_> = all
            .iter()
            .enumerate()
            .map(|(i, n)| (urgency(&n.finding), i as u32))
            .collect();
        keyed.sort_unstable();
        let order: Vec<u32> = keyed.into_iter().map(|(_, i)| i).collect();
        let mut place = vec![0u32; all.len()];
        for (p, &i) in order.iter().enumerate() {
            place[i as usize] = p as u32;
        }
        let mut ids: FastMap<(Owner, &'static str), u16> = FastMap::default();
        let mut keys = Vec::new();
        let group: Vec<u16> = all
            .iter()
            .map(|n| {
                let k = (n.finding.owner, n.finding.rule);
                *ids.entry(k).or_insert_with(|| {
                    keys.push(k);
                    (keys.len() - 1) as u16
                })
            })
            .collect();
        let mut site_ids: FastMap<&str, u32> = FastMap::default();
        let mut rule_ids: FastMap<&'static str, u16> = FastMap::default();
        let (mut sites, mut rules) = (Vec::new(), Vec::new());
        let items = order
            .iter()
            .map(|&i| {
                let n = &all[i as usize];
                let f = &n.finding;
                let site = *site_ids.entry(f.site.as_str()).or_insert_with(|| {
                    sites.push(f.site.clone());
                    (sites.len() - 1) as u32
                });
                let rule = *rule_ids.entry(f.rule).or_insert_with(|| {
                    rules.push(f.rule);
                    (rules.len() - 1) as u16
                });
                Item {
                    group: group[i as usize],
                    rule,
                    site,
                    severity: f.severity,
                    owner: f.owner,
                    snoozed: n.state == super::NoteState::Snoozed.as_str(),
                    due: f.due,
                }
            })
            .collect();
        Queue {
            order,
            place,
            keys,
            items,
            sites,
            rules,
        }
    }

    /// A filter and an owner compiled for [`Queue::page`]: as [`super::Filter::keep`] decides.
    pub fn wanted(&self, filter: &super::Filter, owner: Option<Owner>) -> Wanted {
        Wanted {
            sites: filter.site.as_deref().map(|want| {
                self.sites
                    .iter()
                    .map(|s| s.eq_ignore_ascii_case(want))
                    .collect()
            }),
            rules: filter
                .rule
                .as_deref()
                .map(|want| self.rules.iter().map(|r| r.starts_with(want)).collect()),
            min_severity: filter.min_severity,
            include_snoozed: filter.include_snoozed,
            owner,
        }
    }

    /// Some findings' places in the queue, in order (a scoped viewer's few).
    pub fn places(&self, idx: impl Iterator<Item = u32>) -> Vec<u32> {
        let mut p: Vec<u32> = idx.map(|i| self.place[i as usize]).collect();
        p.sort_unstable();
        p
    }

    /// Every finding's index, in queue order.
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// The page `[offset, offset + limit)` of the findings at `places` in the queue (every
    /// finding when none) that `wanted` keeps, grouped: each group's findings together, the group
    /// whose most urgent finding comes first leading. Rows are (group, finding index).
    pub fn page(
        &self,
        places: Option<&[u32]>,
        wanted: &Wanted,
        offset: usize,
        limit: usize,
    ) -> QueuePage {
        const NONE: u32 = u32::MAX;
        let scan = |f: &mut dyn FnMut(u32, &Item) -> bool| match places {
            None => {
                for (p, x) in self.items.iter().enumerate() {
                    if !f(p as u32, x) {
                        break;
                    }
                }
            }
            Some(places) => {
                for &p in places {
                    if !f(p, &self.items[p as usize]) {
                        break;
                    }
                }
            }
        };
        // A group's rank is the order of its first (most urgent) finding.
        let mut rank = vec![NONE; self.keys.len()];
        let mut groups: Vec<Group> = Vec::new();
        scan(&mut |_, x| {
            if !wanted.keeps(x) {
                return true;
            }
            let g = x.group as usize;
            let due = x.due;
            if rank[g] == NONE {
                rank[g] = groups.len() as u32;
                groups.push(Group {
                    owner: self.keys[g].0,
                    rule: self.keys[g].1,
                    count: 0,
                    worst: x.severity,
                    first_due: due,
                });
            }
            let y = &mut groups[rank[g] as usize];
            y.count += 1;
            y.first_due = y.first_due.min(due);
            true
        });
        let total: usize = groups.iter().map(|g| g.count).sum();
        // How many of each group the page skips and takes.
        let end = offset.saturating_add(limit).min(total);
        let mut want: Vec<(usize, usize)> = Vec::with_capacity(groups.len());
        let mut start = 0;
        for g in &groups {
            let (from, to) = (offset.max(start), end.min(start + g.count));
            want.push(if from < to {
                (from - start, to - from)
            } else {
                (0, 0)
            });
            start += g.count;
        }
        let mut left: usize = want.iter().map(|w| w.1).sum();
        let mut seen = vec![0usize; groups.len()];
        let mut picked: Vec<(usize, u32)> = Vec::with_capacity(left);
        scan(&mut |p, x| {
            if left == 0 {
                return false;
            }
            let g = rank[x.group as usize];
            if g == NONE {
                return true;
            }
            let g = g as usize;
            let (skip, take) = want[g];
            if take == 0 || seen[g] >= skip + take || !wanted.keeps(x) {
                return true;
            }
            seen[g] += 1;
            if seen[g] > skip {
                picked.push((g, self.order[p as usize]));
                left -= 1;
            }
            true
        });
        // Each group's findings are in queue order already; the groups go in rank order.
        picked.sort_by_key(|&(g, _)| g);
        QueuePage {
            groups,
            total,
            rows: picked,
        }
    }
}

/// A column the queue keeps of each finding, for [`Queue::first_by`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Site,
    Severity,
    Rule,
    Owner,
    Due,
}

impl Queue {
    /// The first `k` findings (their indexes) that `wanted` keeps in a column's order, descending
    /// or not, ties in the check's order either way: the start of every finding stably sorted by
    /// the column and filtered. One pass over the few bytes the queue keeps of each finding,
    /// keeping the least `k` met so far; the sites and rules are ranked once per call.
    pub fn first_by(
        &self,
        column: Column,
        descending: bool,
        wanted: &Wanted,
        k: usize,
    ) -> Vec<u32> {
        fn ranks<T>(values: &[T], cmp: impl Fn(&T, &T) -> std::cmp::Ordering) -> Vec<u32> {
            let mut sorted: Vec<u32> = (0..values.len() as u32).collect();
            sorted.sort_unstable_by(|&a, &b| cmp(&values[a as usize], &values[b as usize]));
            let mut rank = vec![0u32; values.len()];
            for (r, &id) in sorted.iter().enumerate() {
                rank[id as usize] = r as u32;
            }
            rank
        }
        match column {
            Column::Site => {
                let rank = ranks(&self.sites, |a, b| a.cmp(b));
                self.first_by_key(descending, wanted, k, |x| rank[x.site as usize])
            }
            Column::Rule => {
                let rank = ranks(&self.rules, |a, b| a.cmp(b));
                self.first_by_key(descending, wanted, k, |x| rank[x.rule as usize])
            }
            Column::Severity => self.first_by_key(descending, wanted, k, |x| x.severity),
            Column::Owner => self.first_by_key(descending, wanted, k, |x| x.owner),
            Column::Due => self.first_by_key(descending, wanted, k, |x| x.due),
        }
    }

    /// As [`Queue::first_by`], by a key given per finding in queue order (`keys[p]` the key of
    /// the finding at place `p`), findings with equal keys ordered by `tie` (their indexes; equal
    /// there too, by the check's order).
    pub fn first_by_keys<K: Ord + Copy>(
        &self,
        keys: &[K],
        descending: bool,
        wanted: &Wanted,
        k: usize,
        tie: impl Fn(u32, u32) -> std::cmp::Ordering,
    ) -> Vec<u32> {
        let kept = self
            .items
            .iter()
            .zip(&self.order)
            .zip(keys)
            .filter(|((x, _), _)| wanted.keeps(x))
            .map(|((_, &i), &key)| (key, i));
        let cmp = |a: &(K, u32), b: &(K, u32)| {
            let o = a.0.cmp(&b.0).then_with(|| tie(a.1, b.1));
            let o = if descending { o.reverse() } else { o };
            o.then(a.1.cmp(&b.1))
        };
        least(kept, k, cmp).into_iter().map(|(_, i)| i).collect()
    }

    fn first_by_key<K: Ord + Copy>(
        &self,
        descending: bool,
        wanted: &Wanted,
        k: usize,
        key: impl Fn(&Item) -> K,
    ) -> Vec<u32> {
        let kept = self
            .items
            .iter()
            .zip(&self.order)
            .filter(|(x, _)| wanted.keeps(x))
            .map(|(x, &i)| (key(x), i));
        let first = if descending {
            least(kept, k, |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)))
        } else {
            least(kept, k, |a, b| a.cmp(b))
        };
        first.into_iter().map(|(_, i)| i).collect()
    }
}

/// The least `k` of `items` by `cmp`, in its order: a buffer of twice `k` is cut back to its
/// least `k` when full (`select_nth_unstable_by`), and an item no less than the `k`-th kept is
/// passed over — a pass over the items, never a sort of them. `cmp` must order no two items
/// equal, or which of equals are kept is not defined.
pub fn least<T: Copy>(
    items: impl Iterator<Item = T>,
    k: usize,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
) -> Vec<T> {
    if k == 0 {
        return Vec::new();
    }
    let room = k.saturating_mul(2).max(64);
    let mut kept: Vec<T> = Vec::with_capacity(room.min(1 << 20));
    let mut bound: Option<T> = None;
    for x in items {
        if bound
            .as_ref()
            .is_some_and(|b| cmp(&x, b) != std::cmp::Ordering::Less)
        {
            continue;
        }
        kept.push(x);
        if kept.len() >= room {
            kept.select_nth_unstable_by(k - 1, &cmp);
            kept.truncate(k);
            bound = Some(kept[k - 1]);
        }
    }
    kept.sort_unstable_by(&cmp);
    kept.truncate(k);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::with_notes;
    use std::borrow::Cow;

    #[test]
    fn a_subject_kept_by_its_parts_reads_as_words() {
        let c = Catalogue::shipped();
        assert_eq!(
            SubjectKind::Person.subject_words("005550000069/A10000/R8000", &c),
            "005550000069 (role R8000 at A10000)"
        );
        let gemalto = &c.software("gemalto-middleware").unwrap().name;
        assert_eq!(
            SubjectKind::Workstation.subject_words("a10000-ws001/gemalto-middleware", &c),
            format!("a10000-ws001 ({gemalto})")
        );
        assert_eq!(
            SubjectKind::Workstation.subject_words("a10000-ws001/unknown-thing", &c),
            "a10000-ws001 (unknown-thing)"
        );
        assert_eq!(
            SubjectKind::Card.subject_words("CS0000000001", &c),
            "CS0000000001"
        );
        assert_eq!(SubjectKind::Site.subject_words("A10000", &c), "A10000");
    }

    fn finding(
        rule: &'static str,
        sev: Severity,
        owner: Owner,
        subject: &str,
        due: i32,
    ) -> Finding {
        Finding {
            rule,
            severity: sev,
            subject_kind: SubjectKind::Card,
            subject: subject.into(),
            site: "A81001".into(),
            owner,
            due: Date::from_ymd(2026, 12, 1).expect("date").add_days(due),
            why: String::new(),
            fix: Cow::Borrowed(""),
        }
    }

    fn sample() -> Vec<Noted> {
        let mut f = Vec::new();
        for i in 0..7 {
            f.push(finding(
                "cert-signing-90d",
                Severity::Info,
                Owner::Holder,
                &format!("h{i}"),
                i,
            ));
        }
        for i in 0..3 {
            f.push(finding(
                "spare-readers-low",
                Severity::Warning,
                Owner::PracticeManager,
                &format!("p{i}"),
                5 - i,
            ));
        }
        f.push(finding(
            "cert-signing-expired",
            Severity::Critical,
            Owner::Ra,
            "r0",
            0,
        ));
        f.push(finding(
            "cert-signing-7d",
            Severity::Urgent,
            Owner::Holder,
            "u0",
            3,
        ));
        with_notes(f, &[], Date::from_ymd(2026, 12, 1).expect("date"))
    }

    #[test]
    fn groups_rank_by_their_most_urgent_finding_and_add_up() {
        let all = sample();
        let q = Queue::new(&all);
        let any = q.wanted(&Default::default(), None);
        let p = q.page(None, &any, 0, 100);
        let names: Vec<_> = p.groups.iter().map(|g| (g.rule, g.count)).collect();
        assert_eq!(
            names,
            [
                ("cert-signing-expired", 1),
                ("cert-signing-7d", 1),
                ("spare-readers-low", 3),
                ("cert-signing-90d", 7)
            ]
        );
        assert_eq!(p.total, 12);
        assert_eq!(p.rows.len(), 12);
        // Within a group, the soonest due first.
        let spares: Vec<&str> = p
            .rows
            .iter()
            .filter(|(g, _)| *g == 2)
            .map(|(_, i)| all[*i as usize].finding.subject.as_str())
            .collect();
        assert_eq!(spares, ["p2", "p1", "p0"]);
    }

    #[test]
    fn pages_walk_every_finding_once_and_filters_count() {
        let all = sample();
        let q = Queue::new(&all);
        let any = q.wanted(&crate::health::Filter::default(), None);
        let whole = q.page(None, &any, 0, usize::MAX);
        let mut walked = Vec::new();
        for offset in (0..20).step_by(5) {
            let p = q.page(None, &any, offset, 5);
            walked.extend(p.rows.iter().map(|r| r.1));
        }
        assert_eq!(walked, whole.rows.iter().map(|r| r.1).collect::<Vec<_>>());
        let holders = q.page(
            None,
            &q.wanted(&Default::default(), Some(Owner::Holder)),
            0,
            3,
        );
        assert_eq!(holders.total, 8);
        assert_eq!(holders.groups.len(), 2);
        assert_eq!(holders.rows.len(), 3);
        // A subset by place: the same rows as the whole queue filtered to it.
        let few = q.places([11, 0, 10].into_iter());
        let p = q.page(Some(&few), &any, 0, 10);
        let rows: Vec<u32> = p.rows.iter().map(|r| r.1).collect();
        assert_eq!(rows, [10, 11, 0]);
    }

    #[test]
    fn the_least_k_are_the_start_of_the_sorted_items() {
        let mut seed = 7u64;
        let mut items: Vec<(u32, u32)> = (0..5_000u32)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                ((seed % 300) as u32, i)
            })
            .collect();
        let mut sorted = items.clone();
        sorted.sort_unstable();
        for k in [
            0, 1, 2, 31, 32, 33, 64, 100, 2_499, 2_500, 4_999, 5_000, 9_999,
        ] {
            let got = least(items.iter().copied(), k, |a, b| a.cmp(b));
            assert_eq!(got, sorted[..k.min(sorted.len())], "{k}");
        }
        // Items met in descending order: every one passes the bound until it is cut back.
        items.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(
            least(items.iter().copied(), 50, |a, b| a.cmp(b)),
            sorted[..50]
        );
    }

    #[test]
    fn the_first_by_a_column_are_the_stable_sorts_start() {
        let all = sample();
        let q = Queue::new(&all);
        let columns = [
            Column::Site,
            Column::Severity,
            Column::Rule,
            Column::Owner,
            Column::Due,
        ];
        for column in columns {
            for descending in [false, true] {
                for owner in [None, Some(Owner::Holder)] {
                    let wanted = q.wanted(&Default::default(), owner);
                    let mut stable: Vec<u32> = (0..all.len() as u32)
                        .filter(|&i| owner.is_none_or(|o| all[i as usize].finding.owner == o))
                        .collect();
                    stable.sort_by(|&a, &b| {
                        let (x, y) = (&all[a as usize].finding, &all[b as usize].finding);
                        let o = match column {
                            Column::Site => x.site.cmp(&y.site),
                            Column::Severity => x.severity.cmp(&y.severity),
                            Column::Rule => x.rule.cmp(y.rule),
                            Column::Owner => x.owner.cmp(&y.owner),
                            Column::Due => x.due.cmp(&y.due),
                        };
                        if descending {
                            o.reverse()
                        } else {
                            o
                        }
                    });
                    for k in [0, 1, 5, 12, 100] {
                        let got = q.first_by(column, descending, &wanted, k);
                        let at = (column, descending, owner, k);
                        assert_eq!(got, stable[..k.min(stable.len())], "{at:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_documented_rule_says_what_to_do() {
        let doc = include_str!("../../../../docs/HEALTH.md");
        let documented: Vec<&str> = doc
            .lines()
            .filter(|l| l.starts_with("| `"))
            .flat_map(|l| {
                l.split('|')
                    .nth(1)
                    .unwrap_or("")
                    .split('`')
                    .skip(1)
                    .step_by(2)
            })
            .filter(|r| !r.contains('…'))
            .collect();
        assert!(documented.len() > 30, "{documented:?}");
        for r in documented {
            assert!(ACTIONS.iter().any(|(a, _)| *a == r), "no action for {r}");
        }
        assert_eq!(action("made-up-rule"), "Made up rule");
        assert_eq!(Owner::Ra.label(), "Registration Authority");
    }
}
