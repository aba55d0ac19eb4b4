//! Why Cardwatch keeps its own date type (`cardwatch_core::date`) instead of a date crate: the
//! same work done by `chrono`, on the same million dates, side by side. An import of the national
//! estate parses about four million dates (cards, two certificates each, positions) in both the
//! ISO and the UK form, and an export prints as many; the planner and the health check do day
//! arithmetic over every certificate. Every result is checked against chrono's before anything
//! is timed, so a faster wrong answer cannot pass.
//!
//! `cargo bench -p cardwatch-core --bench dates` prints the best of five runs per operation.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};

use cardwatch_core::date::Date;
use chrono::{Datelike, NaiveDate};

const N: i32 = 1_000_000;
const RUNS: usize = 5;

/// The best of [`RUNS`] runs of `f`, in nanoseconds per date.
fn best(mut f: impl FnMut() -> usize) -> f64 {
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let started = Instant::now();
        black_box(f());
        best = best.min(started.elapsed());
    }
    best.as_nanos() as f64 / f64::from(N)
}

fn row(what: &str, ours: f64, theirs: f64) {
    println!(
        "| {what:<38} | {ours:>7.1} ns | {theirs:>7.1} ns | {:>5.1}× |",
        theirs / ours
    );
}

fn main() {
    // 20,000 days from 1990 on, fifty times over: every month length and leap year of the estate's range.
    let base = NaiveDate::from_ymd_opt(1990, 1, 1).expect("day");
    let theirs: Vec<NaiveDate> = (0..N)
        .map(|i| base + chrono::Days::new((i % 20_000) as u64))
        .collect();
    let iso: Vec<String> = theirs
        .iter()
        .map(|d| d.format("%Y-%m-%d").to_string())
        .collect();
    let uk: Vec<String> = theirs
        .iter()
        .map(|d| d.format("%d/%m/%Y").to_string())
        .collect();
    let ours: Vec<Date> = iso.iter().map(|s| Date::parse(s).expect("ISO")).collect();

    // The same answers first.
    for ((o, t), (i, u)) in ours.iter().zip(&theirs).zip(iso.iter().zip(&uk)) {
        let (y, m, d) = o.ymd();
        assert_eq!((y, m, d), (t.year(), t.month(), t.day()), "{i}");
        assert_eq!(Date::parse(u).expect("UK"), *o, "{u}");
        assert_eq!(std::str::from_utf8(&o.iso()).expect("ASCII"), i);
        assert_eq!(o.weekday(), t.weekday().num_days_from_monday(), "{i}");
    }
    let (o0, t0) = (ours[0], theirs[0]);
    for (o, t) in ours.iter().zip(&theirs).step_by(997) {
        assert_eq!(
            i64::from(o0.days_until(*o)),
            t.signed_duration_since(t0).num_days()
        );
    }

    println!(
        "| operation, per date                    | Cardwatch  | chrono     | chrono ÷ Cardwatch |"
    );
    println!("|---|---|---|---|");
    row(
        "parse yyyy-mm-dd",
        best(|| {
            iso.iter()
                .map(|s| Date::parse(s).map_or(0, |d| d.days() as usize))
                .sum()
        }),
        best(|| {
            iso.iter()
                .map(|s| s.parse::<NaiveDate>().map_or(0, |d| d.ordinal() as usize))
                .sum()
        }),
    );
    row(
        "parse dd/mm/yyyy",
        best(|| {
            uk.iter()
                .map(|s| Date::parse(s).map_or(0, |d| d.days() as usize))
                .sum()
        }),
        best(|| {
            uk.iter()
                .map(|s| {
                    NaiveDate::parse_from_str(s, "%d/%m/%Y").map_or(0, |d| d.ordinal() as usize)
                })
                .sum()
        }),
    );
    // Into one reused buffer each, as an export writes its rows.
    let mut buf = Vec::with_capacity(11 * N as usize);
    let mut text = String::with_capacity(11 * N as usize);
    row(
        "print yyyy-mm-dd",
        best(|| {
            buf.clear();
            for d in &ours {
                buf.extend_from_slice(&d.iso());
                buf.push(b',');
            }
            buf.len()
        }),
        best(|| {
            text.clear();
            for d in &theirs {
                write!(text, "{d},").expect("write");
            }
            text.len()
        }),
    );
    assert_eq!(buf, text.as_bytes());
    row(
        "add 30 days, then days until",
        best(|| {
            ours.iter()
                .map(|d| d.add_days(30).days_until(o0).unsigned_abs() as usize)
                .sum()
        }),
        best(|| {
            theirs
                .iter()
                .map(|d| {
                    (*d + chrono::Days::new(30))
                        .signed_duration_since(t0)
                        .num_days()
                        .unsigned_abs() as usize
                })
                .sum()
        }),
    );
}
