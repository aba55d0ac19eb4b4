//! The renewal planner: a target day for every certificate renewal, inside its holder's 90-day
//! self-renewal window, that keeps each working day's load within the RA team's capacity, and
//! the comparison with everyone waiting for the login prompt. See `docs/PLANNER.md`.
//!
//! Each renewal is one unit of work on one working day. A certificate can be renewed from
//! `window_days` before its last valid day up to that day; after it, it has lapsed and needs an
//! RA in person. Scheduling unit jobs with release days and deadlines on days of equal capacity
//! is matching in a convex bipartite graph, and taking each day in turn and giving its places to
//! the waiting jobs with the earliest deadlines (Glover, 1967) finds a largest on-time set: the
//! lapses reported are the fewest possible. Ties go to prescribers' signing certificates, and
//! within a day they come first.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;

use crate::calendar::Calendar;
use crate::date::Date;

mod sorted;
mod update;
pub use update::{renewal_order, replace_sites, replace_sites_numbered, SiteNumbers};

/// One renewal to plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// The certificate's last valid day.
    pub expiry: Date,
    /// A prescriber's signing certificate: favoured.
    pub priority: bool,
}

/// A certificate to renew, as the planner's callers list it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Renewal {
    /// The card.
    pub card_serial: String,
    /// Authentication or signing.
    pub purpose: crate::vocab::Purpose,
    /// The holder.
    pub holder_uuid: String,
    /// The holder's site.
    pub site: String,
    /// Last valid day.
    pub expiry: Date,
    /// The signing certificate of a prescriber.
    pub prescriber_signing: bool,
    /// The organisation running the site, and its parent (an ICB): with the site, what an RA
    /// team's `serves` list can name.
    #[serde(skip)]
    pub organisations: [Option<Arc<str>>; 2],
}

/// An RA team: its daily capacity and the sites it serves (named by site, organisation or
/// parent organisation ODS code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    /// Name.
    pub name: String,
    /// Renewals per working day.
    pub capacity: u32,
    /// ODS codes of sites, organisations or ICBs.
    pub serves: Vec<String>,
}

impl Renewal {
    /// Whether the team serves this renewal's site.
    pub fn served_by(&self, team: &Team) -> bool {
        team.serves.iter().any(|code| {
            code.eq_ignore_ascii_case(&self.site)
                || self
                    .organisations
                    .iter()
                    .flatten()
                    .any(|o| code.eq_ignore_ascii_case(o))
        })
    }
}

/// One team's plan.
#[derive(Clone, Debug)]
pub struct TeamPlan {
    /// The team's name.
    pub team: String,
    /// Its capacity.
    pub capacity: u32,
    /// Its renewals, plan and comparison.
    pub report: Report,
}

/// Renewals that no team serves (and no capacity was given for the rest).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{count} renewal(s) at sites no RA team serves (e.g. site {example}) — add the site, its organisation or its ICB to a team's `serves`, or give a capacity for everyone else")]
pub struct Unserved {
    /// How many.
    pub count: usize,
    /// One of their sites.
    pub example: String,
}

/// Some of a shared list of renewals, read in place: a team's share of the estate's, in the
/// list's order. Planning a national estate again (another capacity, another day) copies none
/// of its two million renewals.
#[derive(Clone, Debug)]
pub struct Share {
    all: Arc<Vec<Renewal>>,
    /// Indexes into `all`, ascending; `None`: every renewal.
    rows: Option<Vec<u32>>,
}

impl Share {
    /// Every renewal of the list.
    pub fn all(all: Arc<Vec<Renewal>>) -> Share {
        Share { all, rows: None }
    }

    /// How many renewals.
    pub fn len(&self) -> usize {
        self.rows.as_ref().map_or(self.all.len(), Vec::len)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The renewals, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Renewal> + '_ {
        let n = self.len();
        (0..n).map(move |i| &self[i])
    }
}

impl std::ops::Index<usize> for Share {
    type Output = Renewal;

    fn index(&self, i: usize) -> &Renewal {
        match &self.rows {
            Some(rows) => &self.all[rows[i] as usize],
            None => &self.all[i],
        }
    }
}

/// Splits the renewals between RA teams (the first team that serves a site takes it; those no
/// team serves go to "everyone else" with capacity `rest`) and plans each team on its own. The
/// renewals are read in place: pass an `Arc<Vec<Renewal>>` kept between plans to copy none (a
/// `Vec`, rather than a slice, so that the keeper can bring it up to date in place
/// ([`replace_sites`]) once no plan reads it).
pub fn plan_teams(
    renewals: impl Into<Arc<Vec<Renewal>>>,
    teams: &[Team],
    rest: Option<u32>,
    s: &Settings<'_>,
    react_days: i32,
) -> Result<Vec<TeamPlan>, Unserved> {
    plan_teams_with(renewals.into(), None, teams, rest, s, react_days)
}

/// [`plan_teams`] with the renewals' jobs kept beside them ([`Jobs`], of exactly these
/// renewals): a plan of every renewal neither builds its two million jobs nor puts them in
/// order of expiry, and a team's share takes its jobs from the kept ones.
pub fn plan_teams_kept(
    renewals: Arc<Vec<Renewal>>,
    jobs: &Jobs,
    teams: &[Team],
    rest: Option<u32>,
    s: &Settings<'_>,
    react_days: i32,
) -> Result<Vec<TeamPlan>, Unserved> {
    debug_assert_eq!(
        jobs.jobs.len(),
        renewals.len(),
        "the jobs of these renewals"
    );
    plan_teams_with(renewals, Some(jobs), teams, rest, s, react_days)
}

fn plan_teams_with(
    all: Arc<Vec<Renewal>>,
    kept: Option<&Jobs>,
    teams: &[Team],
    rest: Option<u32>,
    s: &Settings<'_>,
    react_days: i32,
) -> Result<Vec<TeamPlan>, Unserved> {
    // With no teams every renewal is everyone else's: no split to make.
    let mut shares: Vec<Vec<u32>> = vec![Vec::new(); teams.len() + 1];
    let others = if teams.is_empty() {
        Share::all(all.clone())
    } else {
        for (i, r) in all.iter().enumerate() {
            let k = teams
                .iter()
                .position(|t| r.served_by(t))
                .unwrap_or(teams.len());
            shares[k].push(i as u32);
        }
        Share {
            all: all.clone(),
            rows: shares.pop(),
        }
    };
    if rest.is_none() && !others.is_empty() {
        return Err(Unserved {
            count: others.len(),
            example: others[0].site.clone(),
        });
    }
    let mut plans: Vec<TeamPlan> = teams
        .iter()
        .zip(shares)
        .map(|(t, rows)| TeamPlan {
            team: t.name.clone(),
            capacity: t.capacity,
            report: Report::of_share(
                Share {
                    all: all.clone(),
                    rows: Some(rows),
                },
                kept,
                &Settings {
                    capacity: t.capacity,
                    ..*s
                },
                react_days,
            ),
        })
        .collect();
    if let Some(capacity) = rest.filter(|_| !others.is_empty() || teams.is_empty()) {
        plans.push(TeamPlan {
            team: if teams.is_empty() {
                "all"
            } else {
                "everyone else"
            }
            .to_owned(),
            capacity,
            report: Report::of_share(others, kept, &Settings { capacity, ..*s }, react_days),
        });
    }
    Ok(plans)
}

impl Renewal {
    /// The job the planner places.
    pub fn job(&self) -> Job {
        Job {
            expiry: self.expiry,
            priority: self.prescriber_signing,
        }
    }
}

/// The columns of a plan's CSV export, one row per renewal.
pub const CSV_COLUMNS: [&str; 10] = [
    "card_serial",
    "purpose",
    "holder_uuid",
    "site",
    "expires",
    "target",
    "lapsed_days",
    "prescriber_signing",
    "action",
    "ra_team",
];

impl Renewal {
    /// What the holder does on the target day.
    pub fn action(&self, t: &Target) -> &'static str {
        if t.lapsed_days == 0 {
            "self-renew at a connected workstation (accept the sign-in prompt)"
        } else {
            "book an RA appointment in person: the certificate will have expired"
        }
    }

    /// A CSV row, in [`CSV_COLUMNS`] order.
    pub fn csv_fields(&self, t: &Target, team: &str) -> [String; 10] {
        [
            self.card_serial.clone(),
            self.purpose.as_str().to_owned(),
            self.holder_uuid.clone(),
            self.site.clone(),
            self.expiry.to_string(),
            t.date.to_string(),
            t.lapsed_days.to_string(),
            if self.prescriber_signing { "yes" } else { "no" }.to_owned(),
            self.action(t).to_owned(),
            team.to_owned(),
        ]
    }

    /// The target day as a calendar event, with a reminder the working day before.
    pub fn event(&self, t: &Target) -> crate::ics::Event {
        crate::ics::Event {
            uid: format!(
                "renewal-{}-{}-{}@cardwatch",
                self.card_serial, self.purpose, self.expiry
            ),
            date: t.date,
            summary: format!(
                "Renew smartcard {} certificate (card {})",
                self.purpose, self.card_serial
            ),
            description: format!(
                "The {} certificate on card {} expires on {}. Planned day: {}. {}.",
                self.purpose,
                self.card_serial,
                self.expiry,
                t.date,
                self.action(t)
            ),
            remind_days_before: 1,
        }
    }
}

/// What the plan works within.
#[derive(Clone, Copy, Debug)]
pub struct Settings<'a> {
    /// The first day that can be planned.
    pub from: Date,
    /// Renewals the RA team can handle per working day.
    pub capacity: u32,
    /// Days before expiry that renewal opens (90).
    pub window_days: i32,
    /// The team's working days.
    pub calendar: &'a Calendar,
}

/// The result for one job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The planned day.
    pub date: Date,
    /// Days it is planned after expiry (0: on time).
    pub lapsed_days: u32,
}

/// Totals of a plan or a simulation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Renewals.
    pub renewals: usize,
    /// Renewals done after their certificate expired (holders locked out meanwhile).
    pub lapsed: usize,
    /// Of those, already expired on the first day.
    pub already_expired: usize,
    /// The sum over lapsed renewals of the days without a valid certificate.
    pub lapsed_holder_days: u64,
    /// The most renewals on one day.
    pub peak_day: u32,
    /// The most renewals asked for and not yet done at the end of a working day.
    pub peak_queue: usize,
    /// The last day of work.
    pub last_day: Option<Date>,
}

/// One week of the forecast (weeks start on Monday).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Week {
    /// The Monday.
    pub starts: Date,
    /// Certificates whose last valid day falls in the week.
    pub expiring: u32,
    /// Renewals planned in the week.
    pub planned: u32,
    /// The team's capacity in the week (working days × daily capacity).
    pub capacity: u32,
}

/// A plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Per job, in the order given.
    pub targets: Vec<Target>,
    /// Totals.
    pub outcome: Outcome,
    /// The smallest daily capacity with which no certificate still valid on the first day
    /// lapses.
    pub capacity_for_no_lapses: u32,
    /// Weekly forecast from the first day's week to the last day of work or expiry.
    pub weeks: Vec<Week>,
}

/// Which days, counted from `from`, are working days: worked out once each, as far as needed.
struct Days<'a> {
    from: Date,
    calendar: &'a Calendar,
    working: Vec<bool>,
}

impl<'a> Days<'a> {
    fn new(from: Date, calendar: &'a Calendar) -> Days<'a> {
        Days {
            from,
            calendar,
            working: Vec::with_capacity(1200),
        }
    }

    fn is_working(&mut self, day: usize) -> bool {
        while self.working.len() <= day {
            let d = self.from.add_days(self.working.len() as i32);
            self.working.push(self.calendar.is_working(d));
        }
        self.working[day]
    }
}

/// Jobs waiting, by deadline day: a bucket queue (deadlines are small integers), the earliest
/// deadline found by a cursor that only moves back when a job with an earlier deadline arrives.
struct Waiting {
    /// Per deadline (offset by `base`): favoured jobs, then the rest.
    buckets: Vec<(Vec<u32>, Vec<u32>)>,
    base: i64,
    cursor: usize,
    len: usize,
}

impl Waiting {
    fn new(min_deadline: i64, max_deadline: i64) -> Waiting {
        let n = (max_deadline - min_deadline + 1).max(1) as usize;
        Waiting {
            buckets: vec![(Vec::new(), Vec::new()); n],
            base: min_deadline,
            cursor: n,
            len: 0,
        }
    }

    fn push(&mut self, deadline: i64, priority: bool, job: u32) {
        let b = (deadline - self.base) as usize;
        let bucket = &mut self.buckets[b];
        if priority {
            bucket.0.push(job);
        } else {
            bucket.1.push(job);
        }
        self.cursor = self.cursor.min(b);
        self.len += 1;
    }

    /// The waiting job with the earliest deadline (favoured first), and that deadline.
    fn pop(&mut self) -> Option<(u32, i64)> {
        while self.cursor < self.buckets.len() {
            let (fav, rest) = &mut self.buckets[self.cursor];
            if let Some(j) = fav.pop().or_else(|| rest.pop()) {
                self.len -= 1;
                return Some((j, self.cursor as i64 + self.base));
            }
            self.cursor += 1;
        }
        None
    }

    /// The earliest deadline waiting.
    fn earliest(&mut self) -> Option<i64> {
        while self.cursor < self.buckets.len() {
            let (fav, rest) = &self.buckets[self.cursor];
            if !fav.is_empty() || !rest.is_empty() {
                return Some(self.cursor as i64 + self.base);
            }
            self.cursor += 1;
        }
        None
    }
}

/// Plans every job. Deterministic: the same jobs and settings give the same plan.
///
/// The jobs are planned in order of expiry, each day's and each deadline's jobs in the order
/// given, and each target written in the order given: the passes read and write each job's
/// deadline, place and target as they go, and two million jobs in the estate's order (by card)
/// make each of those a jump through memory, where in expiry order they follow one another, and
/// each deadline's jobs are one run of the list, walked by cursors rather than copied into
/// queues (`sorted`). The plan is the one the jobs' own order gives: every choice between jobs
/// is between jobs of the same deadline, whose order is kept.
pub fn plan(jobs: &[Job], s: &Settings<'_>) -> Plan {
    let (order, sorted) = expiry_order(jobs);
    sorted::plan_sorted(&sorted, s, Some(&order))
}

/// The jobs of a kept list of renewals, in the list's order and in order of expiry (what
/// [`plan`] works out for each plan), kept beside the list and brought up to date with it:
/// a plan of the whole list starts from them, rather than building two million jobs and
/// ordering them for each question.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Jobs {
    /// Each renewal's job, in the list's order.
    jobs: Vec<Job>,
    /// The list's indexes by expiry, one day's in the list's order (as [`plan`] orders them).
    order: Vec<u32>,
    /// The jobs in that order.
    sorted: Vec<Job>,
}

impl Jobs {
    /// The jobs of `all`.
    pub fn new(all: &[Renewal]) -> Jobs {
        let jobs: Vec<Job> = all.iter().map(Renewal::job).collect();
        let (order, sorted) = expiry_order(&jobs);
        Jobs {
            jobs,
            order,
            sorted,
        }
    }

    /// Brought up to date with `all` after the renewals at `changed` were replaced in place,
    /// none coming or going (what [`replace_sites_numbered`] reports): each changed job moves
    /// to its new day's place in the order, the jobs between shifting by one.
    pub fn replaced(&mut self, all: &[Renewal], changed: &[usize]) {
        debug_assert_eq!(all.len(), self.jobs.len(), "replaced in place");
        for &i in changed {
            let new = all[i].job();
            let old = self.jobs[i];
            if new == old {
                continue;
            }
            self.jobs[i] = new;
            let from = self.place(i, old.expiry);
            // Where `i` goes among the other jobs: after those of earlier days and those of its
            // day listed before it.
            let key = |k: usize| (self.sorted[k].expiry, self.order[k]);
            let at = (new.expiry, i as u32);
            let to = match new.expiry.cmp(&old.expiry) {
                std::cmp::Ordering::Less => first_not(0, from, |k| key(k) < at),
                std::cmp::Ordering::Equal => from,
                std::cmp::Ordering::Greater => {
                    first_not(from + 1, self.order.len(), |k| key(k) < at) - 1
                }
            };
            if to < from {
                self.order[to..=from].rotate_right(1);
                self.sorted[to..=from].rotate_right(1);
            } else if to > from {
                self.order[from..=to].rotate_left(1);
                self.sorted[from..=to].rotate_left(1);
            }
            self.order[to] = i as u32;
            self.sorted[to] = new;
        }
    }

    /// Whether these are the jobs of `all`, as [`Jobs::new`] gives them.
    pub fn matches(&self, all: &[Renewal]) -> bool {
        *self == Jobs::new(all)
    }

    /// Where job `i`, of last valid day `expiry`, is in the order.
    fn place(&self, i: usize, expiry: Date) -> usize {
        let day = self.sorted.partition_point(|j| j.expiry < expiry);
        let end = day + self.sorted[day..].partition_point(|j| j.expiry == expiry);
        day + self.order[day..end]
            .binary_search(&(i as u32))
            .expect("a kept job is in the order")
    }
}

/// The first of `lo..hi` for which `before` is false, `before` being true up to some point of
/// the range and false after it.
fn first_not(mut lo: usize, mut hi: usize, before: impl Fn(usize) -> bool) -> usize {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The jobs' indexes by expiry, those of one day in the order given, and the jobs in that
/// order: counted out by day, in two passes over the jobs. Each job is copied as its index is
/// placed, so the jobs in expiry order are written a day's run at a time (a thousand or so runs
/// filled side by side) rather than read back by index from all over the list.
fn expiry_order(jobs: &[Job]) -> (Vec<u32>, Vec<Job>) {
    let Some(one) = jobs.first() else {
        return (Vec::new(), Vec::new());
    };
    let (first, last) = jobs.iter().fold((one.expiry, one.expiry), |(lo, hi), j| {
        (lo.min(j.expiry), hi.max(j.expiry))
    });
    let day = |j: &Job| first.days_until(j.expiry) as usize;
    // Where each day's jobs start in the order.
    let mut at = vec![0u32; first.days_until(last) as usize + 2];
    for j in jobs {
        at[day(j) + 1] += 1;
    }
    for d in 1..at.len() {
        at[d] += at[d - 1];
    }
    let mut order = vec![0u32; jobs.len()];
    let mut sorted = vec![*one; jobs.len()];
    for (i, j) in jobs.iter().enumerate() {
        let d = day(j);
        let k = at[d] as usize;
        order[k] = i as u32;
        sorted[k] = *j;
        at[d] += 1;
    }
    (order, sorted)
}

/// Plans every job, in the order given (see [`plan`]): the general passes, with lists per day
/// and per deadline, that the planner over runs of one deadline (`sorted`) is tested against.
///
/// Three passes. First, the largest set of jobs that can be on time (earliest deadline first,
/// day by day). Second, the latest day each of those could be done (the same, backwards in
/// time), which says how many places each day must keep for them. Third, day by day: the jobs
/// that cannot wait any longer; then, in the places left, holders who have lapsed (they are
/// locked out now), oldest first; then on-time renewals pulled forward, earliest deadline first,
/// so that capacity not needed today is not wasted.
#[cfg(test)]
fn plan_in_order(jobs: &[Job], s: &Settings<'_>) -> Plan {
    assert!(s.capacity > 0, "capacity is validated by the caller");
    let mut days = Days::new(s.from, s.calendar);
    let deadlines: Vec<i64> = jobs
        .iter()
        .map(|j| i64::from(s.from.days_until(j.expiry)))
        .collect();
    let releases: Vec<usize> = deadlines
        .iter()
        .map(|d| (d - i64::from(s.window_days)).max(0) as usize)
        .collect();
    let on_time = on_time_set(jobs, &deadlines, &releases, s, &mut days);
    let latest = latest_days(&deadlines, &releases, &on_time, s, &mut days);

    let (min_d, max_d) = deadlines
        .iter()
        .fold((0i64, 0i64), |(lo, hi), &d| (lo.min(d), hi.max(d)));
    let mut released: Vec<Vec<u32>> = vec![Vec::new(); releases.iter().max().map_or(1, |r| r + 1)];
    for (i, &r) in releases.iter().enumerate() {
        released[r].push(i as u32);
    }
    let mut must: Vec<Vec<u32>> = vec![
        Vec::new();
        latest
            .iter()
            .filter(|&&d| d != NONE)
            .max()
            .map_or(1, |&d| d as usize + 1)
    ];
    for (i, &d) in latest.iter().enumerate() {
        if d != NONE {
            must[d as usize].push(i as u32);
        }
    }
    let mut early = Waiting::new(min_d, max_d);
    let mut lapsing = Waiting::new(min_d, max_d);
    let mut done = vec![false; jobs.len()];
    let mut targets = vec![
        Target {
            date: s.from,
            lapsed_days: 0,
        };
        jobs.len()
    ];
    let mut outcome = Outcome {
        renewals: jobs.len(),
        already_expired: deadlines.iter().filter(|&&d| d < 0).count(),
        ..Outcome::default()
    };
    let mut left = jobs.len();
    let mut day = 0usize;
    while left > 0 {
        for &i in released.get(day).map(Vec::as_slice).unwrap_or_default() {
            let q = if on_time[i as usize] {
                &mut early
            } else {
                &mut lapsing
            };
            q.push(deadlines[i as usize], jobs[i as usize].priority, i);
        }
        if days.is_working(day) {
            let mut load = 0u32;
            // Places a job today, unless it was placed before (a job pulled forward still sits
            // in the list for its latest day).
            let mut take = |i: u32| {
                let i = i as usize;
                if done[i] {
                    return 0;
                }
                done[i] = true;
                targets[i] = Target {
                    date: s.from.add_days(day as i32),
                    lapsed_days: (day as i64 - deadlines[i]).max(0) as u32,
                };
                1
            };
            for &i in must.get(day).map(Vec::as_slice).unwrap_or_default() {
                load += take(i);
            }
            while load < s.capacity {
                let Some((i, _)) = lapsing.pop() else { break };
                load += take(i);
            }
            while load < s.capacity {
                let Some((i, _)) = early.pop() else { break };
                load += take(i);
            }
            left -= load as usize;
            outcome.peak_day = outcome.peak_day.max(load);
            outcome.peak_queue = outcome.peak_queue.max(lapsing.len);
            if load > 0 {
                outcome.last_day = Some(s.from.add_days(day as i32));
            }
        }
        day += 1;
    }
    finish(jobs, targets, outcome, s, &mut days)
}

/// The plan from its targets and the day-by-day totals: the lapses counted, the capacity that
/// lapses no one, the weeks. (The planner over runs counts these from its runs and its days
/// instead: `sorted`.)
#[cfg(test)]
fn finish(
    jobs: &[Job],
    targets: Vec<Target>,
    mut outcome: Outcome,
    s: &Settings<'_>,
    days: &mut Days<'_>,
) -> Plan {
    for t in &targets {
        if t.lapsed_days > 0 {
            outcome.lapsed += 1;
            outcome.lapsed_holder_days += u64::from(t.lapsed_days);
        }
    }
    let capacity_for_no_lapses = capacity_needed(jobs, s, days);
    let weeks = weekly(jobs, &targets, s, days);
    Plan {
        targets,
        outcome,
        capacity_for_no_lapses,
        weeks,
    }
}

/// No day: the job is not in the on-time set.
const NONE: u32 = u32::MAX;

/// Which jobs a largest on-time set holds: each working day, its places go to the released
/// jobs with the earliest deadlines (favoured first on a tie); a job whose deadline passes
/// unplaced cannot be on time.
fn on_time_set(
    jobs: &[Job],
    deadlines: &[i64],
    releases: &[usize],
    s: &Settings<'_>,
    days: &mut Days<'_>,
) -> Vec<bool> {
    let mut on_time = vec![false; jobs.len()];
    let max_d = deadlines.iter().copied().max().unwrap_or(0);
    if max_d < 0 {
        return on_time;
    }
    let mut released: Vec<Vec<u32>> = vec![Vec::new(); max_d as usize + 1];
    for (i, &r) in releases.iter().enumerate() {
        if deadlines[i] >= 0 {
            released[r].push(i as u32);
        }
    }
    let mut waiting = Waiting::new(0, max_d);
    for (day, new) in released.iter().enumerate() {
        for &i in new {
            waiting.push(deadlines[i as usize], jobs[i as usize].priority, i);
        }
        // Past their deadline: drop them.
        while waiting.earliest().is_some_and(|d| d < day as i64) {
            waiting.pop();
        }
        if days.is_working(day) {
            for _ in 0..s.capacity {
                let Some((i, _)) = waiting.pop() else { break };
                on_time[i as usize] = true;
            }
        }
    }
    on_time
}

/// For each job of the on-time set, the latest day it can be done with the whole set still on
/// time: earliest-deadline-first run backwards (latest release first, from the last deadline).
#[cfg(test)]
fn latest_days(
    deadlines: &[i64],
    releases: &[usize],
    on_time: &[bool],
    s: &Settings<'_>,
    days: &mut Days<'_>,
) -> Vec<u32> {
    let mut latest = vec![NONE; deadlines.len()];
    let Some(max_d) = (0..deadlines.len())
        .filter(|&i| on_time[i])
        .map(|i| deadlines[i])
        .max()
    else {
        return latest;
    };
    let max_r = releases.iter().copied().max().unwrap_or(0) as i64;
    let mut by_deadline: Vec<Vec<u32>> = vec![Vec::new(); max_d as usize + 1];
    for i in (0..deadlines.len()).filter(|&i| on_time[i]) {
        by_deadline[deadlines[i] as usize].push(i as u32);
    }
    // Keyed so that the smallest key is the latest release.
    let mut waiting = Waiting::new(0, max_r);
    for day in (0..=max_d as usize).rev() {
        for &i in &by_deadline[day] {
            waiting.push(max_r - releases[i as usize] as i64, false, i);
        }
        if days.is_working(day) {
            for _ in 0..s.capacity {
                let Some((i, _)) = waiting.pop() else { break };
                latest[i as usize] = day as u32;
            }
        }
    }
    latest
}

/// Beyond this many days ahead the search over spans of days (quadratic in days) gives way to
/// bisection over capacities. Real certificates last three years; a far later date is most
/// likely a mistake in the data, and must not make the plan take hours.
const MAX_SPAN_SEARCH_DAYS: usize = 4_000;

/// The least capacity with which `valid` jobs (those that can be on time) are, by bisection:
/// each step is one earliest-deadline pass.
fn capacity_by_bisection(jobs: &[Job], s: &Settings<'_>, days: &mut Days<'_>, valid: usize) -> u32 {
    let deadlines: Vec<i64> = jobs
        .iter()
        .map(|j| i64::from(s.from.days_until(j.expiry)))
        .collect();
    let releases: Vec<usize> = deadlines
        .iter()
        .map(|d| (d - i64::from(s.window_days)).max(0) as usize)
        .collect();
    let (mut lo, mut hi) = (1u32, u32::try_from(valid.max(1)).unwrap_or(u32::MAX));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let with = Settings {
            capacity: mid,
            ..*s
        };
        let on_time = on_time_set(jobs, &deadlines, &releases, &with, days);
        if on_time.iter().filter(|&&t| t).count() == valid {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// The least daily capacity with which every job that can be on time is: still valid on the
/// first day, with a working day between its release and its expiry. (One with none — a
/// certificate expiring on the Sunday a plan starts — lapses at any capacity, and is left out
/// rather than asking for a capacity no team has.) By Hall's condition for interval scheduling,
/// that is the largest, over spans of days [a, b], of the jobs that must be done inside the span
/// divided by its working days (rounded up).
#[cfg(test)]
fn capacity_needed(jobs: &[Job], s: &Settings<'_>, days: &mut Days<'_>) -> u32 {
    let deadlines = jobs.iter().map(|j| (s.from.days_until(j.expiry), 1));
    capacity_needed_counted(jobs, deadlines, s, days)
}

/// The capacity needed, as `capacity_needed` says, from the jobs counted by deadline (days from
/// the first day, in any order, a deadline more than once): the planner over runs has them
/// counted already, and reads the jobs themselves only when their dates lie too far apart for
/// the search over spans.
fn capacity_needed_counted(
    jobs: &[Job],
    deadlines: impl Iterator<Item = (i32, u64)> + Clone,
    s: &Settings<'_>,
    days: &mut Days<'_>,
) -> u32 {
    let horizon = deadlines.clone().map(|(d, _)| d).max().unwrap_or(0).max(0) as usize;
    let w = s.window_days.max(0) as usize;
    let mut work_upto = vec![0u64; horizon + 2]; // working days < i
    for i in 0..=horizon {
        work_upto[i + 1] = work_upto[i] + u64::from(days.is_working(i));
    }
    let reachable = |&(d, _): &(i32, u64)| {
        d >= 0 && work_upto[d as usize + 1] > work_upto[(d as usize).saturating_sub(w)]
    };
    if horizon > MAX_SPAN_SEARCH_DAYS {
        let valid: u64 = deadlines.filter(reachable).map(|(_, n)| n).sum();
        return capacity_by_bisection(jobs, s, days, valid as usize);
    }
    // Jobs by deadline day, and their prefix sums.
    let mut by_deadline = vec![0u64; horizon + 2];
    for (d, n) in deadlines.filter(reachable) {
        by_deadline[d as usize] += n;
    }
    let mut jobs_upto = vec![0u64; horizon + 2]; // jobs with deadline < i
    for i in 0..=horizon {
        jobs_upto[i + 1] = jobs_upto[i] + by_deadline[i];
    }
    let mut need = 0u64;
    for a in 0..=horizon {
        // Jobs that cannot start before day a: released on a or later, i.e. deadline ≥ a + w
        // (every job when a is the first day).
        let first_deadline = if a == 0 { 0 } else { a + w };
        if first_deadline > horizon {
            break;
        }
        for b in first_deadline..=horizon {
            let n = jobs_upto[b + 1] - jobs_upto[first_deadline];
            if n == 0 {
                continue;
            }
            // A span without a working day holds no job in reach (each has one in its window).
            let work = work_upto[b + 1] - work_upto[a];
            if work > 0 {
                need = need.max(n.div_ceil(work));
            }
        }
    }
    need.min(u64::from(u32::MAX)) as u32
}

#[cfg(test)]
fn weekly(jobs: &[Job], targets: &[Target], s: &Settings<'_>, days: &mut Days<'_>) -> Vec<Week> {
    let expiring = jobs.iter().map(|j| (j.expiry, 1));
    weekly_counted(expiring, targets.iter().map(|t| (t.date, 1)), s, days)
}

/// The weeks from the certificates counted by last valid day and the renewals by planned day
/// (in any order, a day more than once; only days with renewals planned): the planner over runs
/// counts them by run and by day instead of reading two million targets.
fn weekly_counted(
    expiring: impl Iterator<Item = (Date, u32)> + Clone,
    planned: impl Iterator<Item = (Date, u32)> + Clone,
    s: &Settings<'_>,
    days: &mut Days<'_>,
) -> Vec<Week> {
    let monday = s.from.add_days(-(s.from.weekday() as i32));
    let last = expiring
        .clone()
        .map(|(d, _)| d)
        .chain(planned.clone().map(|(d, _)| d))
        .max()
        .unwrap_or(s.from)
        .max(s.from);
    let n = (monday.days_until(last) / 7 + 1) as usize;
    let mut weeks: Vec<Week> = (0..n)
        .map(|w| Week {
            starts: monday.add_days(7 * w as i32),
            expiring: 0,
            planned: 0,
            capacity: 0,
        })
        .collect();
    let week_of = |d: Date| {
        let k = monday.days_until(d);
        (k >= 0).then_some((k / 7) as usize)
    };
    for (d, n) in expiring {
        if let Some(w) = week_of(d) {
            weeks[w].expiring += n;
        }
    }
    for (d, n) in planned {
        if let Some(w) = week_of(d) {
            weeks[w].planned += n;
        }
    }
    for (w, week) in weeks.iter_mut().enumerate() {
        for k in 0..7 {
            let day = monday.add_days(7 * w as i32 + k);
            let idx = s.from.days_until(day);
            if idx >= 0 && days.is_working(idx as usize) {
                week.capacity += s.capacity;
            }
        }
    }
    weeks
}

/// The renewals, their plan, and what waiting for the prompt would do instead.
#[derive(Clone, Debug)]
pub struct Report {
    /// The certificates, in card order (read in place from the list planned).
    pub renewals: Share,
    /// The plan (targets in the same order).
    pub plan: Plan,
    /// Everyone waiting for the prompt.
    pub wait: Outcome,
}

impl Report {
    /// Plans the renewals and simulates waiting (`react_days` before expiry) with the same team.
    pub fn new(renewals: Share, s: &Settings<'_>, react_days: i32) -> Report {
        Report::of_share(renewals, None, s, react_days)
    }

    /// [`Report::new`], with the jobs of the whole list kept (`kept`): a share of every
    /// renewal plans from them as they are, a team's share takes its jobs from them.
    fn of_share(renewals: Share, kept: Option<&Jobs>, s: &Settings<'_>, react_days: i32) -> Report {
        let built: Vec<Job>;
        // The jobs in the share's order, and in order of expiry when kept.
        let mut ordered: Option<&Jobs> = None;
        let jobs: &[Job] = match (kept, &renewals.rows) {
            (Some(k), None) => {
                ordered = Some(k);
                &k.jobs
            }
            (Some(k), Some(rows)) => {
                built = rows.iter().map(|&r| k.jobs[r as usize]).collect();
                &built
            }
            (None, _) => {
                built = renewals.iter().map(Renewal::job).collect();
                &built
            }
        };
        // The two are independent: the comparison runs on the second core meanwhile.
        let (plan, wait) = std::thread::scope(|scope| {
            let wait = scope.spawn(|| wait_for_prompt(jobs, s, react_days));
            let plan = match ordered {
                Some(k) => sorted::plan_sorted(&k.sorted, s, Some(&k.order)),
                None => plan(jobs, s),
            };
            let wait = wait.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
            (plan, wait)
        });
        Report {
            plan,
            wait,
            renewals,
        }
    }

    /// The indexes of one site's renewals (all when no site is given).
    pub fn of_site(&self, site: Option<&str>) -> Vec<usize> {
        (0..self.renewals.len())
            .filter(|&i| site.is_none_or(|s| self.renewals[i].site.eq_ignore_ascii_case(s)))
            .collect()
    }

    /// A renewal with its target, as JSON.
    pub fn json_row(&self, i: usize) -> serde_json::Value {
        let t = &self.plan.targets[i];
        let mut v = serde_json::to_value(&self.renewals[i]).unwrap_or_default();
        v["target"] = t.date.to_string().into();
        v["lapsed_days"] = t.lapsed_days.into();
        v["action"] = self.renewals[i].action(t).into();
        v
    }
}

/// "Everyone waits for the prompt": each holder asks for renewal on a day in the last
/// `react_days` before expiry (spread evenly, in a fixed order), or on the first day when that is
/// past; the team works through requests first come, first served, `capacity` a working day.
///
/// Requests asked on the same day for the same deadline are alike to the team, so the queue is
/// kept as runs of them counted by (request day, deadline), in that order: one pass over the jobs
/// and one over the days and their deadlines, with no sort of millions of requests.
pub fn wait_for_prompt(jobs: &[Job], s: &Settings<'_>, react_days: i32) -> Outcome {
    let react = react_days.max(1);
    // Request day per job: spread by a multiplicative hash of its index, so the simulation is
    // deterministic and the spread even.
    let requests = jobs.iter().enumerate().map(|(i, j)| {
        let deadline = i64::from(s.from.days_until(j.expiry));
        let spread = ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % react as u64;
        ((deadline - spread as i64).max(0), deadline)
    });
    let (lo, hi) = jobs.iter().fold((0i64, 0i64), |(lo, hi), j| {
        let d = i64::from(s.from.days_until(j.expiry));
        (lo.min(d), hi.max(d))
    });
    let runs = request_runs(requests, lo, hi, i64::from(react));
    let mut days = Days::new(s.from, s.calendar);
    let mut out = Outcome {
        renewals: jobs.len(),
        already_expired: runs.iter().filter(|r| r.1 < 0).map(|r| r.2 as usize).sum(),
        ..Outcome::default()
    };
    // (deadline, requests) in the order asked; `queued` requests in all.
    let mut queue: VecDeque<(i64, u64)> = VecDeque::new();
    let mut queued = 0u64;
    let mut next = 0usize;
    let mut day = 0i64;
    while next < runs.len() || queued > 0 {
        while next < runs.len() && runs[next].0 <= day {
            queue.push_back((runs[next].1, runs[next].2));
            queued += runs[next].2;
            next += 1;
        }
        if days.is_working(day as usize) {
            let mut load = 0u32;
            while load < s.capacity {
                let Some((deadline, count)) = queue.front_mut() else {
                    break;
                };
                let k = (*count).min(u64::from(s.capacity - load));
                if day > *deadline {
                    out.lapsed += k as usize;
                    out.lapsed_holder_days += k * (day - *deadline) as u64;
                }
                *count -= k;
                if *count == 0 {
                    queue.pop_front();
                }
                queued -= k;
                load += k as u32;
            }
            out.peak_day = out.peak_day.max(load);
            out.peak_queue = out.peak_queue.max(queued as usize);
            if load > 0 {
                out.last_day = Some(s.from.add_days(day as i32));
            }
        }
        day += 1;
    }
    out
}

/// The requests (request day, deadline) as runs (request day, deadline, how many) in order of
/// request day, then deadline. Deadlines lie in `lo..=hi`; a request is asked `0..react` days
/// before its deadline, or on day 0. Counted in a grid of request days by days before the
/// deadline, day 0 by deadline (anything before `react` can be asked on it). Dates are of the
/// years 1900 to 2199, so the grid holds at most about six million counters.
fn request_runs(
    requests: impl Iterator<Item = (i64, i64)>,
    lo: i64,
    hi: i64,
    react: i64,
) -> Vec<(i64, i64, u64)> {
    let first: i64 = lo.min(0);
    let rows = hi.max(0);
    // Day 0: by deadline from `first`; day r ≥ 1: by deadline − r.
    let mut zero = vec![0u32; (react - first) as usize];
    let mut grid = vec![0u32; (rows * react) as usize];
    for (r, d) in requests {
        if r == 0 {
            zero[(d - first) as usize] += 1;
        } else {
            grid[((r - 1) * react + (d - r)) as usize] += 1;
        }
    }
    let mut runs: Vec<(i64, i64, u64)> = zero
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(k, &n)| (0, first + k as i64, u64::from(n)))
        .collect();
    runs.extend(
        grid.iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(k, &n)| {
                let r = k as i64 / react + 1;
                (r, r + k as i64 % react, u64::from(n))
            }),
    );
    runs
}

/// A synthetic national picture: `background` certificates expiring evenly over three years
/// from `from`, and `spike` more all on `spike_day` (as the 140,000 due on 27 June 2022).
pub fn spike_scenario(background: usize, spike: usize, spike_day: Date, from: Date) -> Vec<Job> {
    let mut jobs = Vec::with_capacity(background + spike);
    for i in 0..background {
        jobs.push(Job {
            expiry: from.add_days((i * 1095 / background.max(1)) as i32),
            priority: i % 10 == 0,
        });
    }
    jobs.extend((0..spike).map(|i| Job {
        expiry: spike_day,
        priority: i % 10 == 0,
    }));
    jobs
}

#[cfg(test)]
mod tests;
