//! Cron-like schedules for the recurring jobs, in UTC: five fields (`minute hour day month
//! weekday`) as cron has them, an optional leading seconds field, and the short forms `@hourly`,
//! `@daily`, `@weekly`. Each field takes `*`, numbers, ranges `a-b`, steps `*/n` or `a-b/n`, and
//! lists of these. Weekdays count from Sunday = 0 (7 is Sunday too), as in cron.

use std::fmt;

/// A parsed schedule.
#[derive(Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    seconds: u64,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    /// Both day fields restricted: cron fires when either matches.
    either_day: bool,
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Schedule({:?})", self.text)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Why a schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule {text:?}: {why} — write five fields (minute hour day month weekday), six with seconds first, or @hourly/@daily/@weekly")]
pub struct ScheduleError {
    /// The schedule as written.
    pub text: String,
    /// What is wrong.
    pub why: String,
}

fn field(text: &str, name: &str, lo: u32, hi: u32) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => {
                let step: u32 = s.parse().ok().filter(|&n| n > 0).ok_or(format!(
                    "{name}: the step {s:?} is not a whole number above 0"
                ))?;
                (r, step)
            }
            None => (part, 1),
        };
        let num = |s: &str| -> Result<u32, String> {
            s.parse::<u32>()
                .ok()
                .filter(|n| (lo..=hi).contains(n))
                .ok_or(format!("{name}: {s:?} is not a number from {lo} to {hi}"))
        };
        let (a, b) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                None if step > 1 => (num(r)?, hi),
                None => {
                    let n = num(r)?;
                    (n, n)
                }
            },
        };
        if a > b {
            return Err(format!("{name}: the range {range:?} runs backwards"));
        }
        let mut n = a;
        while n <= b {
            bits |= 1 << n;
            n += step;
        }
    }
    Ok((bits, text != "*"))
}

impl Schedule {
    /// Parses a schedule.
    pub fn parse(text: &str) -> Result<Schedule, ScheduleError> {
        let text = text.trim();
        let err = |why: String| ScheduleError {
            text: text.to_owned(),
            why,
        };
        let expanded = match text {
            "@hourly" => "0 * * * *",
            "@daily" | "@midnight" => "0 0 * * *",
            "@weekly" => "0 0 * * 0",
            t if t.starts_with('@') => return Err(err(format!("{t} is not a known short form"))),
            t => t,
        };
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let (sec, rest) = match parts.len() {
            5 => ("0", &parts[..]),
            6 => (parts[0], &parts[1..]),
            n => return Err(err(format!("{n} fields"))),
        };
        let (seconds, _) = field(sec, "second", 0, 59).map_err(err)?;
        let (minutes, _) = field(rest[0], "minute", 0, 59).map_err(err)?;
        let (hours, _) = field(rest[1], "hour", 0, 23).map_err(err)?;
        let (days, day_set) = field(rest[2], "day", 1, 31).map_err(err)?;
        let (months, _) = field(rest[3], "month", 1, 12).map_err(err)?;
        let (mut weekdays, weekday_set) = field(rest[4], "weekday", 0, 7).map_err(err)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Schedule {
            text: text.to_owned(),
            seconds,
            minutes,
            hours: hours as u32,
            days: days as u32,
            months: months as u16,
            weekdays: (weekdays & 0x7f) as u8,
            either_day: day_set && weekday_set,
        })
    }

    fn day_matches(&self, days: i32) -> bool {
        let (_, m, d) = crate::date::Date::from_days(days).ymd();
        if self.months & (1 << m) == 0 {
            return false;
        }
        // 1970-01-01 was a Thursday (4).
        let wd = (days.rem_euclid(7) + 4) % 7;
        let by_day = self.days & (1 << d) != 0;
        let by_weekday = self.weekdays & (1 << wd) != 0;
        if self.either_day {
            by_day || by_weekday
        } else {
            by_day && by_weekday
        }
    }

    /// The first moment strictly after `t` (Unix seconds, UTC) the schedule fires, looking
    /// ahead at most five years; `None` for a schedule that never fires (`30 2 31 2 *`).
    pub fn next_after(&self, t: i64) -> Option<i64> {
        let start = t + 1;
        let first_day = start.div_euclid(86_400) as i32;
        for day in first_day..first_day + 5 * 366 {
            if !self.day_matches(day) {
                continue;
            }
            let base = i64::from(day) * 86_400;
            for h in 0..24 {
                if self.hours & (1 << h) == 0 || base + (h + 1) * 3600 <= start {
                    continue;
                }
                for m in 0..60 {
                    if self.minutes & (1 << m) == 0 {
                        continue;
                    }
                    let minute = base + h * 3600 + m * 60;
                    if minute + 60 <= start {
                        continue;
                    }
                    for s in 0..60 {
                        if self.seconds & (1 << s) != 0 && minute + s >= start {
                            return Some(minute + s);
                        }
                    }
                }
            }
        }
        None
    }

    /// The last moment at or before `t` the schedule fired, looking back at most `window`
    /// seconds: the slot a replica that wakes at `t` should run.
    pub fn last_at_or_before(&self, t: i64, window: i64) -> Option<i64> {
        let mut from = t - window;
        let mut last = None;
        while let Some(n) = self.next_after(from) {
            if n > t {
                break;
            }
            last = Some(n);
            from = n;
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::date::Timestamp;

    fn at(s: &str) -> i64 {
        Timestamp::parse(s).unwrap().unix()
    }

    #[test]
    fn daily_and_weekly_fire_when_cron_would() {
        let daily = Schedule::parse("30 6 * * *").unwrap();
        assert_eq!(
            daily.next_after(at("2026-11-27T06:30:00Z")),
            Some(at("2026-11-28T06:30:00Z"))
        );
        assert_eq!(
            daily.next_after(at("2026-11-27T05:00:00Z")),
            Some(at("2026-11-27T06:30:00Z"))
        );
        // Mondays at 07:00; 2026-11-27 is a Friday.
        let weekly = Schedule::parse("0 7 * * 1").unwrap();
        assert_eq!(
            weekly.next_after(at("2026-11-27T12:00:00Z")),
            Some(at("2026-11-30T07:00:00Z"))
        );
        assert_eq!(
            Schedule::parse("@weekly")
                .unwrap()
                .next_after(at("2026-11-27T12:00:00Z")),
            Some(at("2026-11-29T00:00:00Z"))
        );
    }

    #[test]
    fn seconds_steps_ranges_and_lists() {
        let every = Schedule::parse("* * * * * *").unwrap();
        assert_eq!(every.next_after(100), Some(101));
        let s = Schedule::parse("*/15 * * * * *").unwrap();
        assert_eq!(
            s.next_after(at("2026-01-01T00:00:14Z")),
            Some(at("2026-01-01T00:00:15Z"))
        );
        assert_eq!(
            s.next_after(at("2026-01-01T00:00:45Z")),
            Some(at("2026-01-01T00:01:00Z"))
        );
        let office = Schedule::parse("0 9-17/4 * * 1-5").unwrap();
        assert_eq!(
            office.next_after(at("2026-11-27T13:00:00Z")),
            Some(at("2026-11-27T17:00:00Z"))
        );
        assert_eq!(
            office.next_after(at("2026-11-27T17:00:00Z")),
            Some(at("2026-11-30T09:00:00Z"))
        );
        let list = Schedule::parse("0 0 1,15 * *").unwrap();
        assert_eq!(
            list.next_after(at("2026-11-27T00:00:00Z")),
            Some(at("2026-12-01T00:00:00Z"))
        );
    }

    #[test]
    fn the_last_slot_is_the_one_to_run() {
        let s = Schedule::parse("0 * * * *").unwrap();
        let t = at("2026-11-27T10:20:00Z");
        assert_eq!(
            s.last_at_or_before(t, 3600),
            Some(at("2026-11-27T10:00:00Z"))
        );
        assert_eq!(s.last_at_or_before(t, 600), None);
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        for (text, says) in [
            ("* * * *", "4 fields"),
            ("61 * * * *", "minute: \"61\" is not a number from 0 to 59"),
            ("0 25 * * *", "hour"),
            ("*/0 * * * *", "step"),
            ("0 10-2 * * *", "backwards"),
            ("@yearly", "not a known short form"),
            ("x * * * *", "minute"),
        ] {
            let e = Schedule::parse(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
        }
        assert_eq!(Schedule::parse("0 0 31 2 *").unwrap().next_after(0), None);
    }
}
