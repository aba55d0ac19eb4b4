//! Planning the move of 50,000 workstations from NHS Identity Agent to NHS Smartcard Connect
//! (issue 25's figure: ≤ 1 s). `cargo bench -p cardwatch-core --bench migration` prints the best
//! of five runs. The estate: 6,250 sites of eight machines (one canary, two pilot, five broad),
//! a fifth already moved, the clinical systems laid over as ready (as an operator's catalogue
//! would, once suppliers confirm) so that almost every machine is scheduled, the dearest case,
//! and a limit of 700 machines a working day.

use std::time::{Duration, Instant};

use cardwatch_core::calendar::Calendar;
use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::date::Date;
use cardwatch_core::health::Estate;
use cardwatch_core::migration::{plan, Settings};
use cardwatch_core::records::{Kind, Record};

fn add(e: &mut Estate, kind: Kind, line: &str) {
    let fields: Vec<&str> = line.split(',').collect();
    e.push(Record::parse(kind, &fields).expect("row"));
}

fn main() {
    let mut e = Estate::default();
    let mut machines = 0;
    for s in 0..6_250 {
        let site = format!("B{s:05}");
        add(
            &mut e,
            Kind::Sites,
            &format!("{site},{site},Surgery {s},Mon-Fri 08:00-18:30"),
        );
        for w in 0..8 {
            let host = format!("b{s:05}-ws{w}");
            let ring = match w {
                0 => "canary",
                1 | 2 => "pilot",
                _ => "broad",
            };
            let apps = if s % 2 == 0 {
                "e-rs emis-web eps scr"
            } else {
                "e-rs eps scr systmone"
            };
            add(
                &mut e,
                Kind::Workstations,
                &format!("{host},{site},Windows 11,26100,{ring},,,{apps}"),
            );
            let client = if s % 5 == 0 && w < 3 {
                "smartcard-connect,4.1"
            } else {
                "identity-agent,2.4.10.0"
            };
            add(&mut e, Kind::Software, &format!("{host},{client}"));
            machines += 1;
        }
    }
    let ready = "[[applications]]\nid = \"emis-web\"\nname = \"EMIS Web\"\ncis2 = \"ready\"\nsource = \"supplier's letter\"\nas_of = 2026-12-01\n\n[[applications]]\nid = \"systmone\"\nname = \"SystmOne\"\ncis2 = \"ready\"\nsource = \"supplier's letter\"\nas_of = 2026-12-01\n";
    let cat = Catalogue::shipped()
        .with_file("bench.toml", ready)
        .expect("overlay");
    let calendar = Calendar::england_and_wales();
    let s = Settings {
        from: Date::parse("2026-12-07").expect("date"),
        calendar: &calendar,
        per_day: Some(700),
        margin_days: 14,
    };
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..5 {
        let started = Instant::now();
        let p = plan(&e, &cat, &s).expect("a plan");
        best = best.min(started.elapsed());
        last = Some(p);
    }
    let t = last.expect("ran").totals();
    println!(
        "plan the move of {machines} workstations, 700 a working day: {:.3} s best of 5 (goal ≤ 1 s: {})",
        best.as_secs_f64(),
        if best.as_secs_f64() <= 1.0 { "met" } else { "NOT met" }
    );
    println!(
        "  {} moved, {} planned in time, {} late, {} held up",
        t.moved, t.planned, t.late, t.blocked
    );
}
