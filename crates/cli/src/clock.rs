//! The clock every command reads. `--now` (or `CARDWATCH_NOW`) says where it starts — for tests
//! that build an estate for a fixed day and for rehearsing a date ahead (the CIS1 deadline, a
//! renewal peak) — and it then moves on in real time, so the minutes an incident has been open
//! stay true.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use cardwatch_core::date::{Date, Timestamp};

/// Seconds added to the system clock; set once, before any command reads the time.
static OFFSET: OnceLock<i64> = OnceLock::new();

fn system() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Starts the clock at `at` (the system's clock when `None`).
pub fn start_at(at: Option<Timestamp>) {
    let offset = at.map_or(0, |t| t.unix() - system());
    // Set once in `main`; a second call would mean two clocks in one run.
    OFFSET
        .set(offset)
        .expect("the clock is started once, in main");
}

/// Now, as this run's clock reads it.
pub fn now() -> Timestamp {
    Timestamp::from_unix(system() + OFFSET.get().copied().unwrap_or(0))
}

/// Today (UTC), as this run's clock reads it.
pub fn today() -> Date {
    now().date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_started_on_a_day_reads_that_day_and_moves_on() {
        let day = Date::parse("2026-11-22").expect("date");
        start_at(Some(Timestamp::start_of(day)));
        let first = now();
        assert_eq!(today(), day);
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert!(now() > first, "the clock moves on from where it started");
    }
}
