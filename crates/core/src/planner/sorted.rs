//! The planner's three passes over jobs in order of expiry, with no list built per job.
//!
//! In expiry order the jobs of one deadline are one run of the list, all released on the same
//! day, and the runs are released in order of deadline. Every queue of the general passes
//! (`plan_in_order`) holds, for each deadline, a stack of that run's jobs (favoured ones popped
//! before the rest, the last pushed first); here each such stack is a cursor walking back
//! through the run to the next job of its kind, and the queues' earliest deadline a run index
//! that only moves forward. Each cursor crosses its run once, so the passes are a few walks over
//! the list in sequence instead of millions of pushes into per-day and per-deadline lists. The
//! plan is the same, job for job (a property test compares the two).

use super::{Days, Job, Outcome, Plan, Settings, Target, NONE};

/// The runs of equal deadline: each run's deadline (days from the first day) and where it
/// starts; `starts` ends with the number of jobs.
struct Runs {
    deadline: Vec<i64>,
    starts: Vec<usize>,
}

impl Runs {
    fn new(jobs: &[Job], s: &Settings<'_>) -> Runs {
        let mut runs = Runs {
            deadline: Vec::new(),
            starts: Vec::new(),
        };
        for (i, j) in jobs.iter().enumerate() {
            let d = i64::from(s.from.days_until(j.expiry));
            if runs.deadline.last() != Some(&d) {
                runs.deadline.push(d);
                runs.starts.push(i);
            }
        }
        runs.starts.push(jobs.len());
        runs
    }

    fn len(&self) -> usize {
        self.deadline.len()
    }

    fn range(&self, g: usize) -> std::ops::Range<usize> {
        self.starts[g]..self.starts[g + 1]
    }
}

/// A stack per run of the jobs `fits` accepts, the last in the list on top (favoured ones
/// above the rest when `favoured_first`): a cursor per run (and kind) walking back from the
/// run's end.
struct Stacks {
    /// Per run: the favoured jobs' cursor, then the others' (or every job's, in the first).
    at: Vec<[usize; 2]>,
    favoured_first: bool,
}

impl Stacks {
    fn new(runs: &Runs, favoured_first: bool) -> Stacks {
        Stacks {
            at: (0..runs.len()).map(|g| [runs.starts[g + 1]; 2]).collect(),
            favoured_first,
        }
    }

    /// Pops run `g`'s top job that `fits`.
    fn pop(
        &mut self,
        runs: &Runs,
        g: usize,
        jobs: &[Job],
        fits: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let start = runs.starts[g];
        let kinds: &[Option<bool>] = if self.favoured_first {
            &[Some(true), Some(false)]
        } else {
            &[None]
        };
        for (k, kind) in kinds.iter().enumerate() {
            let at = &mut self.at[g][k];
            while *at > start {
                *at -= 1;
                if kind.is_none_or(|f| jobs[*at].priority == f) && fits(*at) {
                    return Some(*at);
                }
            }
        }
        None
    }
}

/// Plans jobs given in order of expiry: `plan_in_order`'s plan, found without its lists. With
/// `given` (each job's place in the caller's own order) each target is written at that place,
/// so the plan's targets are in the caller's order without a second list of them.
pub(super) fn plan_sorted(jobs: &[Job], s: &Settings<'_>, given: Option<&[u32]>) -> Plan {
    assert!(s.capacity > 0, "capacity is validated by the caller");
    let mut days = Days::new(s.from, s.calendar);
    let runs = Runs::new(jobs, s);
    let w = i64::from(s.window_days);
    let release = |g: usize| (runs.deadline[g] - w).max(0) as usize;
    let on_time = on_time_set(jobs, &runs, s, &mut days);
    let latest = latest_days(jobs, &runs, &on_time, s, &mut days);

    // Each day's jobs that cannot wait longer, counted out by day.
    let last_latest = latest.iter().filter(|&&d| d != NONE).max().copied();
    let mut must_at = vec![0u32; last_latest.map_or(0, |d| d as usize + 2)];
    for &d in latest.iter().filter(|&&d| d != NONE) {
        must_at[d as usize + 1] += 1;
    }
    for d in 1..must_at.len() {
        must_at[d] += must_at[d - 1];
    }
    let mut must = vec![0u32; *must_at.last().unwrap_or(&0) as usize];
    let mut fill = must_at.clone();
    for (i, &d) in latest.iter().enumerate() {
        if d != NONE {
            must[fill[d as usize] as usize] = i as u32;
            fill[d as usize] += 1;
        }
    }

    // The jobs released and waiting: on-time ones early, the others lapsing; each queue's
    // earliest run that may still hold any.
    let mut early = Stacks::new(&runs, true);
    let mut lapsing = Stacks::new(&runs, true);
    let (mut early_from, mut lapsing_from, mut released) = (0usize, 0usize, 0usize);
    let mut lapsing_len = 0usize;
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
        already_expired: runs
            .deadline
            .iter()
            .enumerate()
            .filter(|&(_, &d)| d < 0)
            .map(|(g, _)| runs.range(g).len())
            .sum(),
        ..Outcome::default()
    };
    // Renewals planned by working day, for the weeks: the days with any.
    let mut loads: Vec<(usize, u32)> = Vec::new();
    let mut left = jobs.len();
    let mut day = 0usize;
    while left > 0 {
        while released < runs.len() && release(released) <= day {
            lapsing_len += runs.range(released).filter(|&i| !on_time[i]).count();
            released += 1;
        }
        if days.is_working(day) {
            let mut load = 0u32;
            // Places a job today, unless it was placed before (a job pulled forward is still
            // among its latest day's).
            let mut take = |i: usize| {
                if done[i] {
                    return 0;
                }
                done[i] = true;
                let deadline = s.from.days_until(jobs[i].expiry);
                let lapsed_days = (day as i64 - i64::from(deadline)).max(0) as u32;
                targets[given.map_or(i, |g| g[i] as usize)] = Target {
                    date: s.from.add_days(day as i32),
                    lapsed_days,
                };
                if lapsed_days > 0 {
                    outcome.lapsed += 1;
                    outcome.lapsed_holder_days += u64::from(lapsed_days);
                }
                1
            };
            if day + 1 < must_at.len() {
                for &i in &must[must_at[day] as usize..must_at[day + 1] as usize] {
                    load += take(i as usize);
                }
            }
            while load < s.capacity {
                let Some(i) = next(
                    &mut lapsing,
                    &mut lapsing_from,
                    released,
                    &runs,
                    jobs,
                    |i| !on_time[i],
                ) else {
                    break;
                };
                lapsing_len -= 1;
                load += take(i);
            }
            while load < s.capacity {
                let Some(i) = next(&mut early, &mut early_from, released, &runs, jobs, |i| {
                    on_time[i]
                }) else {
                    break;
                };
                load += take(i);
            }
            left -= load as usize;
            outcome.peak_day = outcome.peak_day.max(load);
            outcome.peak_queue = outcome.peak_queue.max(lapsing_len);
            if load > 0 {
                outcome.last_day = Some(s.from.add_days(day as i32));
                loads.push((day, load));
            }
        }
        day += 1;
    }
    // The lapses were counted as the jobs were placed; the capacity needed and the weeks are
    // counted by run and by day, not read again from two million jobs and targets.
    let by_run = (0..runs.len()).map(|g| (runs.deadline[g], runs.range(g).len()));
    let deadlines = by_run.clone().map(|(d, n)| (d as i32, n as u64));
    let capacity_for_no_lapses = super::capacity_needed_counted(jobs, deadlines, s, &mut days);
    let expiring = by_run.map(|(d, n)| (s.from.add_days(d as i32), n as u32));
    let planned = loads.iter().map(|&(d, n)| (s.from.add_days(d as i32), n));
    let weeks = super::weekly_counted(expiring, planned, s, &mut days);
    Plan {
        targets,
        outcome,
        capacity_for_no_lapses,
        weeks,
    }
}

/// The next job of the released runs `from..released` that `fits`, from the earliest run
/// holding one (`from` moves past the runs found empty).
fn next(
    stacks: &mut Stacks,
    from: &mut usize,
    released: usize,
    runs: &Runs,
    jobs: &[Job],
    fits: impl Fn(usize) -> bool,
) -> Option<usize> {
    while *from < released {
        if let Some(i) = stacks.pop(runs, *from, jobs, &fits) {
            return Some(i);
        }
        *from += 1;
    }
    None
}

/// `super::on_time_set` over runs: each working day its places go to the released jobs of the
/// earliest deadlines; the runs whose deadline has passed are dropped.
fn on_time_set(jobs: &[Job], runs: &Runs, s: &Settings<'_>, days: &mut Days<'_>) -> Vec<bool> {
    let mut on_time = vec![false; jobs.len()];
    let Some(&max_d) = runs.deadline.last().filter(|&&d| d >= 0) else {
        return on_time;
    };
    let w = i64::from(s.window_days);
    // Runs already expired on the first day are never released.
    let mut from = runs.deadline.iter().take_while(|&&d| d < 0).count();
    let mut released = from;
    let mut stacks = Stacks::new(runs, true);
    for day in 0..=max_d as usize {
        while released < runs.len() && (runs.deadline[released] - w).max(0) as usize <= day {
            released += 1;
        }
        // Past their deadline: drop them.
        while from < released && runs.deadline[from] < day as i64 {
            from += 1;
        }
        if days.is_working(day) {
            for _ in 0..s.capacity {
                let Some(i) = next(&mut stacks, &mut from, released, runs, jobs, |_| true) else {
                    break;
                };
                on_time[i] = true;
            }
        }
    }
    on_time
}

/// `super::latest_days` over runs: the on-time jobs by latest release first, from the last
/// deadline back. Runs released after the first day each have a release of their own and are
/// taken in the order they came (latest release first); the runs released on the first day
/// share one, and are taken last pushed first.
fn latest_days(
    jobs: &[Job],
    runs: &Runs,
    on_time: &[bool],
    s: &Settings<'_>,
    days: &mut Days<'_>,
) -> Vec<u32> {
    let mut latest = vec![NONE; jobs.len()];
    let w = i64::from(s.window_days);
    // Runs holding on-time jobs: those with a deadline from the first day on.
    let first = runs.deadline.iter().take_while(|&&d| d < 0).count();
    let Some(last) = (first..runs.len())
        .rev()
        .find(|&g| runs.range(g).any(|i| on_time[i]))
    else {
        return latest;
    };
    // Every job of a run on one stack, favoured or not.
    let mut stacks = Stacks::new(runs, false);
    let fits = |i: usize| on_time[i];
    // Runs pushed with a release after the first day, oldest first from `later_from`; runs
    // released on the first day, a stack.
    let mut later: Vec<usize> = Vec::new();
    let mut later_from = 0usize;
    let mut on_first: Vec<usize> = Vec::new();
    let mut g = last + 1;
    for day in (0..=runs.deadline[last] as usize).rev() {
        while g > first && runs.deadline[g - 1] >= day as i64 {
            g -= 1;
            if runs.deadline[g] == day as i64 {
                if runs.deadline[g] - w > 0 {
                    later.push(g);
                } else {
                    on_first.push(g);
                }
            }
        }
        if days.is_working(day) {
            let mut placed = 0;
            while placed < s.capacity {
                let i = loop {
                    if let Some(&r) = later.get(later_from) {
                        match stacks.pop(runs, r, jobs, fits) {
                            Some(i) => break Some(i),
                            None => later_from += 1,
                        }
                    } else if let Some(&r) = on_first.last() {
                        match stacks.pop(runs, r, jobs, fits) {
                            Some(i) => break Some(i),
                            None => {
                                on_first.pop();
                            }
                        }
                    } else {
                        break None;
                    }
                };
                let Some(i) = i else { break };
                latest[i] = day as u32;
                placed += 1;
            }
        }
    }
    latest
}
