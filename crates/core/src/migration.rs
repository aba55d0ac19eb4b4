//! The move from a retiring authentication client to its successor — NHS Identity Agent (CIS1)
//! to NHS Smartcard Connect before CIS1 stops on the catalogue's date — planned per site in the
//! update policy the source documents give: one machine first, out of core hours, then the rest
//! in rings (pilot, then broad), each ring after the one before has worked for a working day, all
//! finished a margin before the client stops. A machine that uses an application not ready for
//! the successor is listed with what holds it up, not scheduled.

use serde::Serialize;

use crate::calendar::Calendar;
use crate::catalogue::{Catalogue, ClientEntry};
use crate::date::Date;
use crate::fasthash::FastMap;
use crate::health::Estate;
use crate::ics::Event;
use crate::vocab::UpdateRing;

/// What the plan is asked for.
#[derive(Clone, Debug)]
pub struct Settings<'a> {
    /// The first day a machine may be moved.
    pub from: Date,
    /// Working days of the IT team.
    pub calendar: &'a Calendar,
    /// Machines the IT team can move in one working day across the estate (none: no limit).
    pub per_day: Option<u32>,
    /// Days before the client stops by which every machine should have moved.
    pub margin_days: i32,
}

/// Where one machine stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// Already on the successor only.
    Moved,
    /// To move on `day`, after core hours, in `step` (first machine, pilot ring, broad ring).
    Planned {
        /// The day.
        day: Date,
        /// Which step of the site's rollout.
        step: Step,
        /// From when on that day (the site's core hours' end), if the site has core hours.
        after: Option<String>,
        /// Later than the day everything should have moved by.
        late: bool,
    },
    /// Held up by applications that do not (or are not known to) support the successor.
    Blocked {
        /// The applications, as "name (why)".
        by: Vec<String>,
    },
}

/// A step of a site's rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The one machine that goes first.
    First,
    /// The pilot ring, after the first machine has worked for a day.
    Pilot,
    /// Everything else, after the pilot ring has worked for a day.
    Broad,
}

impl Step {
    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::First => "first machine",
            Step::Pilot => "pilot ring",
            Step::Broad => "broad ring",
        }
    }
}

/// One machine in the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// Host name.
    pub hostname: String,
    /// Its update ring.
    pub ring: UpdateRing,
    /// Where it stands.
    #[serde(flatten)]
    pub state: State,
}

/// One site's rollout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SitePlan {
    /// The site's ODS code.
    pub site: String,
    /// Its machines on either client, first to move first.
    pub machines: Vec<Machine>,
}

/// The whole move.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MigrationPlan {
    /// The retiring client's name.
    pub from_client: String,
    /// The successor's name.
    pub to_client: String,
    /// The last day the retiring client works.
    pub works_until: Date,
    /// The day every machine should have moved by.
    pub move_by: Date,
    /// Every site with a machine on either client, by ODS code.
    pub sites: Vec<SitePlan>,
}

/// Counts of machines by where they stand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Already moved.
    pub moved: usize,
    /// Planned before the move-by day.
    pub planned: usize,
    /// Planned, but after the move-by day (more than the IT team can do in time).
    pub late: usize,
    /// Held up by an application.
    pub blocked: usize,
}

impl SitePlan {
    /// The site's counts.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for m in &self.machines {
            match &m.state {
                State::Moved => t.moved += 1,
                State::Planned { late: true, .. } => t.late += 1,
                State::Planned { .. } => t.planned += 1,
                State::Blocked { .. } => t.blocked += 1,
            }
        }
        t
    }
}

impl MigrationPlan {
    /// The estate's counts.
    pub fn totals(&self) -> Totals {
        self.sites
            .iter()
            .map(SitePlan::totals)
            .fold(Totals::default(), |a, b| Totals {
                moved: a.moved + b.moved,
                planned: a.planned + b.planned,
                late: a.late + b.late,
                blocked: a.blocked + b.blocked,
            })
    }
}

/// Day slots with an optional limit per day, counted from `from`.
struct Slots<'a> {
    from: Date,
    calendar: &'a Calendar,
    per_day: Option<u32>,
    used: Vec<u32>,
}

impl Slots<'_> {
    /// The first working day on or after `day` with room for `n` machines, taking them.
    fn take(&mut self, mut day: Date, n: u32) -> Date {
        loop {
            while !self.calendar.is_working(day) {
                day = day.add_days(1);
            }
            let i = self.from.days_until(day) as usize;
            if self.used.len() <= i {
                self.used.resize(i + 1, 0);
            }
            let room = self
                .per_day
                .is_none_or(|cap| self.used[i] + n <= cap.max(n));
            if room {
                self.used[i] += n;
                return day;
            }
            day = day.add_days(1);
        }
    }

    /// The working day after `day`.
    fn next(&self, mut day: Date) -> Date {
        day = day.add_days(1);
        while !self.calendar.is_working(day) {
            day = day.add_days(1);
        }
        day
    }
}

/// The plan, or `None` when the catalogue has no client that is retiring into a successor.
pub fn plan(estate: &Estate, cat: &Catalogue, s: &Settings<'_>) -> Option<MigrationPlan> {
    let (old, new, end) = cat.retiring()?;
    let move_by = end.add_days(-s.margin_days);
    // Which client each machine has, from its software (kept in key order by host).
    let mut has: FastMap<&str, (bool, bool, Vec<&str>)> = FastMap::default();
    for sw in &estate.software {
        let e = has.entry(&*sw.hostname).or_default();
        if *sw.component == *old.component {
            e.0 = true;
        } else if *sw.component == *new.component {
            e.1 = true;
        } else if cat.application(&sw.component).is_some() {
            e.2.push(&sw.component);
        }
    }
    let closes: FastMap<&str, &crate::estate::CoreHours> = estate
        .sites
        .iter()
        .filter_map(|x| x.core_hours.as_ref().map(|h| (x.site_ods.as_str(), h)))
        .collect();
    let mut by_site: std::collections::BTreeMap<&str, Vec<&crate::health::WorkstationFacts>> =
        Default::default();
    for ws in &estate.workstations {
        by_site.entry(&ws.site_ods).or_default().push(ws);
    }
    let mut slots = Slots {
        from: s.from,
        calendar: s.calendar,
        per_day: s.per_day,
        used: Vec::new(),
    };
    let mut sites = Vec::new();
    for (site, mut machines) in by_site {
        machines.sort_by(|a, b| (a.update_ring, &a.hostname).cmp(&(b.update_ring, &b.hostname)));
        let mut out = Vec::new();
        let mut to_move: Vec<(&crate::health::WorkstationFacts, UpdateRing)> = Vec::new();
        for ws in &machines {
            let (on_old, on_new, installed) = has
                .get(ws.hostname.as_str())
                .map_or((false, false, &[][..]), |h| (h.0, h.1, &h.2[..]));
            if on_new && !on_old {
                out.push(Machine {
                    hostname: ws.hostname.clone(),
                    ring: ws.update_ring,
                    state: State::Moved,
                });
                continue;
            }
            if !on_old {
                continue; // neither client: not part of this move
            }
            let by = blockers(ws, installed, cat, new);
            if by.is_empty() {
                to_move.push((ws, ws.update_ring));
            } else {
                out.push(Machine {
                    hostname: ws.hostname.clone(),
                    ring: ws.update_ring,
                    state: State::Blocked { by },
                });
            }
        }
        if out.is_empty() && to_move.is_empty() {
            continue;
        }
        let tried = out.iter().any(|m| m.state == State::Moved);
        let after = |day: Date| {
            closes.get(site).and_then(|h| {
                let wd = day.weekday();
                h.spans()
                    .iter()
                    .filter(|sp| sp.days & (1 << wd) != 0)
                    .map(|sp| sp.closes)
                    .max()
                    .map(|m| format!("after {:02}:{:02}", m / 60, m % 60))
            })
        };
        // The first machine: the site's canary (its machines are in ring order), unless one has
        // already moved and shown the successor works there.
        let mut day = s.from;
        let mut rest = &to_move[..];
        if !tried {
            if let Some((ws, ring)) = to_move.first() {
                day = slots.take(day, 1);
                out.push(planned(ws, *ring, day, Step::First, after(day), move_by));
                day = slots.next(day);
                rest = &to_move[1..];
            }
        }
        for (step, ring) in [
            (Step::Pilot, UpdateRing::Pilot),
            (Step::Broad, UpdateRing::Broad),
        ] {
            let group: Vec<_> = rest
                .iter()
                .filter(|(_, r)| match ring {
                    UpdateRing::Pilot => *r != UpdateRing::Broad,
                    _ => *r == UpdateRing::Broad,
                })
                .collect();
            if group.is_empty() {
                continue;
            }
            let mut left = group.len() as u32;
            let mut iter = group.into_iter();
            let mut last = day;
            while left > 0 {
                // A ring larger than a day's room is spread over the days that have room.
                let room = s.per_day.map_or(left, |cap| cap.min(left).max(1));
                let d = slots.take(day, room);
                for (ws, r) in iter.by_ref().take(room as usize) {
                    out.push(planned(ws, *r, d, step, after(d), move_by));
                }
                left -= room;
                last = d;
                day = d;
            }
            day = slots.next(last);
        }
        // Moved first, then the planned in the order they go, then those held up.
        out.sort_by(|a, b| {
            order(&a.state)
                .cmp(&order(&b.state))
                .then(a.hostname.cmp(&b.hostname))
        });
        sites.push(SitePlan {
            site: site.to_owned(),
            machines: out,
        });
    }
    Some(MigrationPlan {
        from_client: old.name.clone(),
        to_client: new.name.clone(),
        works_until: end,
        move_by,
        sites,
    })
}

/// Days before a move day that its calendar event's reminder fires: the evening before, to
/// warn the site that its computers change after closing.
const MOVE_REMINDER_DAYS: u32 = 1;

/// "a", "a and b", "a, b and c".
fn and_list(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

impl MigrationPlan {
    /// One site's calendar events: one per day it has machines to move, naming the site, the
    /// computers and what holds any of its others up. A site whose machines are all held up gets
    /// one event on the move-by day instead, so that the hold-up is in the calendar before the
    /// client stops. `name` is the site's name when known.
    pub fn site_events(&self, site: &SitePlan, name: Option<&str>) -> Vec<Event> {
        let place = match name {
            Some(n) => format!("{n}, site {}", site.site),
            None => format!("site {}", site.site),
        };
        let held: Vec<String> = site
            .machines
            .iter()
            .filter_map(|m| match &m.state {
                State::Blocked { by } => Some(format!("{} by {}", m.hostname, and_list(by))),
                _ => None,
            })
            .collect();
        let held_text = if held.is_empty() {
            String::new()
        } else {
            format!(
                " Held up, not planned: {}. Each moves once its applications support {}.",
                held.join("; "),
                self.to_client
            )
        };
        let deadline = format!(
            "{} stops working after {}; every computer should have moved by {}.",
            self.from_client,
            self.works_until.long(),
            self.move_by.long()
        );
        let mut days: std::collections::BTreeMap<Date, Vec<&Machine>> = Default::default();
        for m in &site.machines {
            if let State::Planned { day, .. } = m.state {
                days.entry(day).or_default().push(m);
            }
        }
        let computers = |n: usize| {
            if n == 1 {
                "1 computer".to_owned()
            } else {
                format!("{n} computers")
            }
        };
        if days.is_empty() {
            if held.is_empty() {
                return Vec::new();
            }
            return vec![Event {
                uid: format!("smartcard-connect-{}-held@cardwatch", site.site),
                date: self.move_by,
                summary: format!(
                    "{} held up, cannot move to {} ({place})",
                    computers(held.len()),
                    self.to_client
                ),
                description: format!("{deadline}{held_text}"),
                remind_days_before: MOVE_REMINDER_DAYS,
            }];
        }
        days.into_iter()
            .map(|(day, machines)| {
                let mut steps: Vec<&str> = Vec::new();
                let mut after = None;
                let mut late = false;
                for m in &machines {
                    if let State::Planned {
                        step,
                        after: a,
                        late: l,
                        ..
                    } = &m.state
                    {
                        if !steps.contains(&step.as_str()) {
                            steps.push(step.as_str());
                        }
                        after = after.or(a.as_deref());
                        late |= *l;
                    }
                }
                let hosts: Vec<String> = machines.iter().map(|m| m.hostname.clone()).collect();
                Event {
                    uid: format!("smartcard-connect-{}-{day}@cardwatch", site.site),
                    date: day,
                    summary: format!(
                        "Move {} to {} ({place})",
                        computers(machines.len()),
                        self.to_client
                    ),
                    description: format!(
                        "Move {} ({}) from {} to {}{}.{} {deadline}{held_text}",
                        and_list(&hosts),
                        steps.join(", "),
                        self.from_client,
                        self.to_client,
                        after.map_or(String::new(), |a| format!(", {a} (out of core hours)")),
                        if late {
                            " This is later than the move-by day: move them sooner if the team can."
                        } else {
                            ""
                        },
                    ),
                    remind_days_before: MOVE_REMINDER_DAYS,
                }
            })
            .collect()
    }
}

/// Where a machine sorts in its site's list.
fn order(s: &State) -> (u8, Option<Date>) {
    match s {
        State::Moved => (0, None),
        State::Planned { day, .. } => (1, Some(*day)),
        State::Blocked { .. } => (2, None),
    }
}

fn planned(
    ws: &crate::health::WorkstationFacts,
    ring: UpdateRing,
    day: Date,
    step: Step,
    after: Option<String>,
    move_by: Date,
) -> Machine {
    Machine {
        hostname: ws.hostname.clone(),
        ring,
        state: State::Planned {
            day,
            step,
            after,
            late: day > move_by,
        },
    }
}

/// The applications a machine uses that hold up its move to `next`.
fn blockers(
    ws: &crate::health::WorkstationFacts,
    installed: &[&str],
    cat: &Catalogue,
    next: &ClientEntry,
) -> Vec<String> {
    if !next.needs_ready_applications {
        return Vec::new();
    }
    cat.not_ready(cat.applications_used(ws.applications.as_deref(), installed.iter().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Kind, Record};

    fn add(e: &mut Estate, kind: Kind, line: &str) {
        let fields: Vec<&str> = line.split(',').collect();
        e.push(Record::parse(kind, &fields).unwrap_or_else(|err| panic!("{line}: {err:?}")));
    }

    fn d(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    /// A site with core hours to 18:30 and machines `(host, ring, client, applications)`.
    fn site(e: &mut Estate, ods: &str, machines: &[(&str, &str, &str, &str)]) {
        add(
            e,
            Kind::Sites,
            &format!("{ods},{ods},Surgery,Mon-Fri 08:00-18:30"),
        );
        for (host, ring, client, apps) in machines {
            add(
                e,
                Kind::Workstations,
                &format!("{host},{ods},Windows 11,26100,{ring},,,{apps}"),
            );
            match *client {
                "ia" => add(
                    e,
                    Kind::Software,
                    &format!("{host},identity-agent,2.4.10.0"),
                ),
                "sc" => add(e, Kind::Software, &format!("{host},smartcard-connect,4.1")),
                _ => {}
            }
        }
    }

    fn settings(cal: &Calendar, per_day: Option<u32>) -> Settings<'_> {
        Settings {
            from: d("2026-12-07"), // a Monday
            calendar: cal,
            per_day,
            margin_days: 14,
        }
    }

    fn states(p: &MigrationPlan, site: &str) -> Vec<(String, State)> {
        p.sites
            .iter()
            .find(|s| s.site == site)
            .unwrap()
            .machines
            .iter()
            .map(|m| (m.hostname.clone(), m.state.clone()))
            .collect()
    }

    fn on(day: &str, step: Step) -> State {
        State::Planned {
            day: d(day),
            step,
            after: Some("after 18:30".into()),
            late: false,
        }
    }

    #[test]
    fn one_machine_first_then_the_rings_each_a_working_day_later() {
        let mut e = Estate::default();
        site(
            &mut e,
            "A81001",
            &[
                ("ws1", "broad", "ia", "eps"),
                ("ws2", "canary", "ia", ""),
                ("ws3", "pilot", "ia", "scr"),
                ("ws4", "broad", "ia", ""),
            ],
        );
        let cal = Calendar::weekends_only();
        let p = plan(&e, &Catalogue::shipped(), &settings(&cal, None)).unwrap();
        assert_eq!(p.works_until, d("2027-02-28"));
        assert_eq!(p.move_by, d("2027-02-14"));
        assert_eq!(
            states(&p, "A81001"),
            vec![
                ("ws2".into(), on("2026-12-07", Step::First)),
                ("ws3".into(), on("2026-12-08", Step::Pilot)),
                ("ws1".into(), on("2026-12-09", Step::Broad)),
                ("ws4".into(), on("2026-12-09", Step::Broad)),
            ]
        );
        assert_eq!(p.totals().planned, 4);
    }

    #[test]
    fn a_site_that_has_moved_one_goes_on_with_the_rings_and_blocked_ones_wait() {
        let mut e = Estate::default();
        site(
            &mut e,
            "A81002",
            &[
                ("ws1", "canary", "sc", "emis-web"),
                ("ws2", "pilot", "ia", "eps emis-web"),
                ("ws3", "broad", "ia", ""),
                ("ws4", "broad", "none", ""),
            ],
        );
        let cal = Calendar::weekends_only();
        let s = Settings {
            from: d("2026-12-11"),
            ..settings(&cal, None)
        };
        let p = plan(&e, &Catalogue::shipped(), &s).unwrap();
        let got = states(&p, "A81002");
        assert_eq!(got[0], ("ws1".into(), State::Moved));
        assert_eq!(got[1], ("ws3".into(), on("2026-12-11", Step::Broad)));
        assert_eq!(
            got[2],
            (
                "ws2".into(),
                State::Blocked {
                    by: vec!["EMIS Web (readiness unconfirmed)".into()]
                }
            )
        );
        assert_eq!(
            got.len(),
            3,
            "a machine on neither client is not part of the move"
        );
        let t = p.totals();
        assert_eq!((t.moved, t.planned, t.blocked, t.late), (1, 1, 1, 0));
    }

    #[test]
    fn a_day_limit_spreads_the_work_and_what_cannot_fit_is_late() {
        let mut e = Estate::default();
        for n in 0..3 {
            let (a, b) = (format!("a{n}"), format!("b{n}"));
            site(
                &mut e,
                &format!("A8100{n}"),
                &[(&a, "canary", "ia", ""), (&b, "broad", "ia", "")],
            );
        }
        let cal = Calendar::weekends_only();
        let p = plan(&e, &Catalogue::shipped(), &settings(&cal, Some(2))).unwrap();
        let mut per_day: std::collections::BTreeMap<Date, usize> = Default::default();
        for m in p.sites.iter().flat_map(|s| &s.machines) {
            if let State::Planned { day, .. } = m.state {
                *per_day.entry(day).or_default() += 1;
            }
        }
        assert!(per_day.values().all(|&n| n <= 2), "{per_day:?}");
        assert_eq!(per_day.values().sum::<usize>(), 6);
        // Started close to the day the client stops, the same work runs past the move-by day.
        let late = Settings {
            from: d("2027-02-12"),
            ..settings(&cal, Some(2))
        };
        let t = plan(&e, &Catalogue::shipped(), &late).unwrap().totals();
        assert!(t.late > 0 && t.late + t.planned == 6, "{t:?}");
    }

    #[test]
    fn each_move_day_is_an_event_naming_the_site_computers_and_hold_ups() {
        let mut e = Estate::default();
        site(
            &mut e,
            "A81001",
            &[
                ("ws1", "canary", "ia", ""),
                ("ws2", "broad", "ia", ""),
                ("ws3", "broad", "ia", ""),
                ("ws4", "broad", "ia", "emis-web"),
            ],
        );
        site(&mut e, "A81002", &[("ws9", "broad", "ia", "emis-web")]);
        site(&mut e, "A81003", &[("ws8", "broad", "sc", "")]);
        let cal = Calendar::weekends_only();
        let p = plan(&e, &Catalogue::shipped(), &settings(&cal, None)).unwrap();
        let events: Vec<Event> = p
            .sites
            .iter()
            .flat_map(|s| p.site_events(s, (s.site == "A81001").then_some("Riverside Surgery")))
            .collect();
        let got: Vec<(&str, Date, &str)> = events
            .iter()
            .map(|ev| (ev.uid.as_str(), ev.date, ev.summary.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "smartcard-connect-A81001-2026-12-07@cardwatch",
                    d("2026-12-07"),
                    "Move 1 computer to NHS Smartcard Connect (CIS2 authentication) (Riverside Surgery, site A81001)"
                ),
                (
                    "smartcard-connect-A81001-2026-12-08@cardwatch",
                    d("2026-12-08"),
                    "Move 2 computers to NHS Smartcard Connect (CIS2 authentication) (Riverside Surgery, site A81001)"
                ),
                (
                    "smartcard-connect-A81002-held@cardwatch",
                    d("2027-02-14"),
                    "1 computer held up, cannot move to NHS Smartcard Connect (CIS2 authentication) (site A81002)"
                ),
            ],
            "a site already moved has nothing in the calendar"
        );
        assert!(
            events[1].description.starts_with(
                "Move ws2 and ws3 (broad ring) from NHS Identity Agent (CIS1 authentication) to NHS Smartcard Connect (CIS2 authentication), after 18:30 (out of core hours)."
            ),
            "{}",
            events[1].description
        );
        for ev in &events {
            assert!(ev
                .description
                .contains("every computer should have moved by 14 February 2027"));
            assert_eq!(ev.remind_days_before, 1);
        }
        assert!(
            events[0]
                .description
                .contains("Held up, not planned: ws4 by EMIS Web (readiness unconfirmed)."),
            "{}",
            events[0].description
        );
        assert!(events[2].description.contains("ws9 by EMIS Web"));
    }

    #[test]
    fn no_retiring_client_no_plan() {
        let mut cat = Catalogue::shipped();
        for c in &mut cat.clients {
            c.works_until = None;
        }
        let cal = Calendar::weekends_only();
        assert!(plan(&Estate::default(), &cat, &settings(&cal, None)).is_none());
    }
}
