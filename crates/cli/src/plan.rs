//! `cardwatch plan`: the renewal plan for the estate, beside what happens if everyone waits
//! for the login prompt.

use std::io::{self, Write};

use anyhow::Result;
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::planner::{
    plan_teams, Outcome, Settings as PlanSettings, TeamPlan, CSV_COLUMNS,
};
use cardwatch_store::csv_out::CsvOut;
use cardwatch_store::{renewals_due, Store};

use crate::config::Settings;
use crate::Exit;

/// How `plan` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A summary and the weekly forecast.
    Table,
    /// Everything as JSON.
    Json,
    /// One row per renewal.
    Csv,
    /// One calendar event per renewal (iCalendar).
    Ics,
}

impl Format {
    /// Parses `table`, `json`, `csv` or `ics`.
    pub fn parse(s: &str) -> Result<Format, String> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Format::Table),
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "ics" => Ok(Format::Ics),
            _ => Err(format!(
                "unknown format {s:?} — use table, csv, json or ics"
            )),
        }
    }
}

/// What to plan.
#[derive(Debug)]
pub struct Request {
    /// Renewals per working day, for everyone no configured RA team serves.
    pub capacity: Option<u32>,
    /// First day.
    pub from: Date,
    /// Only this site's renewals in the output (the plan is for everyone: capacity is shared).
    pub site: Option<String>,
    /// How many days before expiry people act when they wait for the prompt.
    pub wait_days: i32,
    /// Output.
    pub format: Format,
}

/// Plans and prints.
pub fn run(store: &dyn Store, settings: &Settings, req: &Request, now: Timestamp) -> Result<()> {
    let refuse = |message: &str| -> Result<()> {
        eprintln!("cardwatch: {message}");
        Err(Exit(2).into())
    };
    if req.capacity == Some(0) {
        return refuse("--capacity must be at least 1 renewal a working day");
    }
    if req.capacity.is_none() && settings.teams.is_empty() {
        return refuse("give --capacity N (renewals a working day), or RA teams in the configuration's [[planner.teams]]");
    }
    if !(1..=90).contains(&req.wait_days) {
        return refuse("--wait-days must be 1 to 90");
    }
    let s = PlanSettings {
        from: req.from,
        capacity: 1,
        window_days: settings.thresholds.renewal_window_days,
        calendar: &settings.calendar,
    };
    let renewals = renewals_due(store, &settings.thresholds)?;
    let plans = match plan_teams(renewals, &settings.teams, req.capacity, &s, req.wait_days) {
        Ok(p) => p,
        Err(e) => return refuse(&e.to_string()),
    };
    let site = req.site.as_deref();
    let mut out = io::BufWriter::new(io::stdout().lock());
    match req.format {
        Format::Table => {
            for p in &plans {
                table(&mut out, req.from, p)?;
            }
            writeln!(
                out,
                "Each holder's target day: --format csv (or ics for calendars); --site ODS for one site."
            )?;
        }
        Format::Csv => {
            let mut w = CsvOut::new(&mut out);
            w.row(CSV_COLUMNS)?;
            for p in &plans {
                let r = &p.report;
                for i in r.of_site(site) {
                    w.row(r.renewals[i].csv_fields(&r.plan.targets[i], &p.team))?;
                }
            }
            w.flush()?;
        }
        Format::Json => {
            let teams: Vec<serde_json::Value> = plans
                .iter()
                .map(|p| {
                    let r = &p.report;
                    serde_json::json!({
                        "team": p.team,
                        "capacity": p.capacity,
                        "plan": r.plan.outcome,
                        "wait_for_prompt": r.wait,
                        "capacity_for_no_lapses": r.plan.capacity_for_no_lapses,
                        "weeks": r.plan.weeks,
                        "renewals": r.of_site(site).into_iter().map(|i| r.json_row(i)).collect::<Vec<_>>(),
                    })
                })
                .collect();
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({ "from": req.from, "teams": teams }),
            )?;
            writeln!(out)?;
        }
        Format::Ics => {
            let events: Vec<_> = plans
                .iter()
                .flat_map(|p| {
                    let r = &p.report;
                    r.of_site(site)
                        .into_iter()
                        .map(move |i| r.renewals[i].event(&r.plan.targets[i]))
                })
                .collect();
            out.write_all(
                cardwatch_core::ics::calendar("Smartcard renewals", &events, now).as_bytes(),
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

fn table(out: &mut impl Write, from: Date, team: &TeamPlan) -> io::Result<()> {
    let (plan, wait) = (&team.report.plan, &team.report.wait);
    let p = &plan.outcome;
    writeln!(
        out,
        "Renewal plan for RA team {} from {from} with {} renewals a working day ({} certificates)",
        team.team, team.capacity, p.renewals
    )?;
    writeln!(out)?;
    writeln!(out, "{:<44} {:>14} {:>18}", "", "plan", "wait for prompt")?;
    let row = |out: &mut dyn Write, what: &str, a: String, b: String| {
        writeln!(out, "{what:<44} {a:>14} {b:>18}")
    };
    row(
        out,
        "certificates that lapse",
        p.lapsed.to_string(),
        wait.lapsed.to_string(),
    )?;
    row(
        out,
        "  of which already expired",
        p.already_expired.to_string(),
        wait.already_expired.to_string(),
    )?;
    row(
        out,
        "holder-days without a valid certificate",
        p.lapsed_holder_days.to_string(),
        wait.lapsed_holder_days.to_string(),
    )?;
    row(
        out,
        "busiest day (renewals)",
        p.peak_day.to_string(),
        wait.peak_day.to_string(),
    )?;
    row(
        out,
        "longest RA queue",
        p.peak_queue.to_string(),
        wait.peak_queue.to_string(),
    )?;
    let last = |o: &Outcome| o.last_day.map_or("-".to_owned(), |d| d.to_string());
    row(out, "last renewal", last(p), last(wait))?;
    writeln!(out)?;
    let new_lapses = p.lapsed - p.already_expired;
    if new_lapses == 0 {
        writeln!(
            out,
            "No certificate still valid today lapses under the plan."
        )?;
    } else {
        writeln!(
            out,
            "{new_lapses} certificate(s) still valid today lapse whatever is done at this capacity; \
             {} renewals a working day would save every one a working day can still reach.",
            plan.capacity_for_no_lapses
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Weekly forecast (next 26 weeks)")?;
    writeln!(
        out,
        "{:<12} {:>10} {:>10} {:>10}",
        "week of", "expiring", "planned", "capacity"
    )?;
    for w in plan.weeks.iter().take(26) {
        writeln!(
            out,
            "{:<12} {:>10} {:>10} {:>10}",
            w.starts.to_string(),
            w.expiring,
            w.planned,
            w.capacity
        )?;
    }
    writeln!(out)
}
