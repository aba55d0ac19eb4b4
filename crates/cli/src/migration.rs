//! `cardwatch plan migration`: the move from a retiring authentication client to its successor,
//! per site and machine, with what holds machines up.

use std::io::{self, Write};

use anyhow::Result;
use cardwatch_core::date::Date;
use cardwatch_core::migration::{plan, MigrationPlan, Settings, State};
use cardwatch_store::csv_out::CsvOut;
use cardwatch_store::{load_workstations, Store};

use crate::config::Settings as Config;
use crate::Exit;

/// `plan migration`'s options.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The first day a machine may move (default today).
    #[arg(long, value_parser = crate::parse_date)]
    from: Option<Date>,
    /// Machines the IT team can move in one working day across the estate (default: no limit).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    per_day: Option<u32>,
    /// Days before the old client stops by which every machine should have moved.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(i32).range(0..=90))]
    margin_days: i32,
    /// Only this site's machines in the output (the plan is made for the whole estate).
    #[arg(long)]
    site: Option<String>,
    /// table, csv or json.
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    format: String,
}

/// Makes and prints the plan.
pub fn run(store: &dyn Store, config: &Config, args: &Args, today: Date) -> Result<()> {
    let estate = load_workstations(store)?;
    let settings = Settings {
        from: args.from.unwrap_or(today),
        calendar: &config.calendar,
        per_day: args.per_day,
        margin_days: args.margin_days,
    };
    let Some(mut p) = plan(&estate, &config.catalogue, &settings) else {
        eprintln!(
            "cardwatch: the catalogue has no authentication client that stops working and has a successor: nothing to move"
        );
        return Err(Exit(2).into());
    };
    if let Some(site) = &args.site {
        let site = site.trim().to_ascii_uppercase();
        p.sites.retain(|s| s.site == site);
        if p.sites.is_empty() {
            eprintln!("cardwatch: --site {site}: no workstation of that site is on either client");
            return Err(Exit(2).into());
        }
    }
    let mut out = io::stdout().lock();
    match args.format.as_str() {
        "json" => {
            let totals = p.totals();
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({"plan": p, "totals": totals}),
            )?;
            writeln!(out)?;
        }
        "csv" => csv(&p, &mut out)?,
        _ => table(&p, &mut out)?,
    }
    Ok(())
}

fn csv(p: &MigrationPlan, out: &mut impl Write) -> Result<()> {
    let mut w = CsvOut::new(out);
    w.row([
        "site",
        "hostname",
        "ring",
        "state",
        "step",
        "day",
        "after",
        "late",
        "blocked_by",
    ])?;
    for s in &p.sites {
        for m in &s.machines {
            let (state, step, day, after, late, by) = match &m.state {
                State::Moved => ("moved", "", String::new(), "", "", String::new()),
                State::Planned {
                    day,
                    step,
                    after,
                    late,
                } => (
                    "planned",
                    step.as_str(),
                    day.to_string(),
                    after.as_deref().unwrap_or(""),
                    if *late { "yes" } else { "no" },
                    String::new(),
                ),
                State::Blocked { by } => ("blocked", "", String::new(), "", "", by.join("; ")),
            };
            w.row([
                s.site.as_str(),
                &m.hostname,
                m.ring.as_str(),
                state,
                step,
                &day,
                after,
                late,
                &by,
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

fn table(p: &MigrationPlan, out: &mut impl Write) -> Result<()> {
    let t = p.totals();
    writeln!(
        out,
        "Move from {} to {}: it stops working on {}; every machine moved by {}.",
        p.from_client, p.to_client, p.works_until, p.move_by
    )?;
    writeln!(
        out,
        "{} moved, {} planned in time, {} planned late, {} held up by an application.\n",
        t.moved, t.planned, t.late, t.blocked
    )?;
    for s in &p.sites {
        let st = s.totals();
        writeln!(
            out,
            "== site {}: {} moved, {} planned, {} late, {} held up",
            s.site, st.moved, st.planned, st.late, st.blocked
        )?;
        for m in &s.machines {
            let what = match &m.state {
                State::Moved => "moved".to_owned(),
                State::Planned {
                    day,
                    step,
                    after,
                    late,
                } => format!(
                    "{day} {}{}{}",
                    step.as_str(),
                    after
                        .as_deref()
                        .map(|a| format!(", {a}"))
                        .unwrap_or_default(),
                    if *late {
                        " — LATE: after the move-by day"
                    } else {
                        ""
                    }
                ),
                State::Blocked { by } => format!("held up by {}", by.join(", ")),
            };
            writeln!(out, "  {:<24} {:<7} {what}", m.hostname, m.ring.as_str())?;
        }
    }
    Ok(())
}
