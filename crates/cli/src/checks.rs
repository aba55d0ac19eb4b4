//! `cardwatch check`, `cardwatch finding …` and `cardwatch catalogue show`: the health checks
//! from the command line, for people and for monitoring.

use std::io::{self, Write};

use anyhow::Result;
use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::date::Date;
use cardwatch_core::health::{
    Context, Family, Filter, FindingNote, NoteState, Noted, Severity, CSV_COLUMNS,
};
use cardwatch_store::csv_out::push_row;
use cardwatch_store::{
    current_findings, current_findings_keeping_facts, Change, Store, StoreError,
};

use crate::config::Settings;
use crate::Exit;

/// How `check` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Grouped by site and severity, for people.
    Table,
    /// One JSON array.
    Json,
    /// CSV with a header.
    Csv,
}

impl Output {
    /// Parses `table`, `json` or `csv`.
    pub fn parse(s: &str) -> Result<Output, String> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Output::Table),
            "json" => Ok(Output::Json),
            "csv" => Ok(Output::Csv),
            _ => Err(format!("unknown format {s:?} — use table, json or csv")),
        }
    }
}

/// Exit status when a finding at or above `--fail-on` is open.
pub const EXIT_FINDINGS: u8 = 4;

/// Warns (on stderr) when catalogue facts were last checked longer ago than
/// `health.catalogue_max_age_days`, seen from this run's today.
pub fn warn_aged(settings: &Settings) {
    let limit = settings.thresholds.catalogue_max_age_days;
    let aged = settings
        .catalogue
        .facts_older_than(crate::clock::today(), limit);
    if let Some(w) = cardwatch_core::catalogue::age_warning(&aged, limit) {
        eprintln!("cardwatch: {w}");
    }
}

/// Warns (on stderr) that an operator's catalogue was refused and the shipped one is in force,
/// and that facts are past their age.
pub fn warn_refused(settings: &Settings) {
    warn_aged(settings);
    if let Some(e) = &settings.catalogue_refused {
        eprintln!("cardwatch: catalogue override refused: {e}");
        eprintln!(
            "cardwatch: the shipped catalogue stays in force — correct the file and run again"
        );
    }
}

fn context<'a>(settings: &'a Settings, today: Date) -> Context<'a> {
    Context {
        today,
        catalogue: &settings.catalogue,
        thresholds: &settings.thresholds,
        calendar: &settings.calendar,
    }
}

/// Runs the full health check and prints what passes the filter.
pub fn check(
    store: &dyn Store,
    settings: &Settings,
    today: Date,
    filter: &Filter,
    output: Output,
    fail_on: Option<Severity>,
    families: &[Family],
) -> Result<()> {
    warn_refused(settings);
    // The facts are kept rather than freed on another thread: the process ends after printing,
    // and freeing them would take a core from the printing.
    let (all, facts) = current_findings_keeping_facts(store, &context(settings, today), families)?;
    let shown: Vec<&Noted> = all.iter().filter(|n| filter.keep(n)).collect();
    let started = std::time::Instant::now();
    let mut out = io::BufWriter::new(io::stdout().lock());
    match output {
        Output::Json => {
            serde_json::to_writer_pretty(&mut out, &shown)?;
            writeln!(out)?;
        }
        Output::Csv => csv_rows(&mut out, &shown, CSV_CHUNK)?,
        Output::Table => table(&mut out, &shown, today)?,
    }
    out.flush()?;
    tracing::debug!(took = ?started.elapsed(), rows = shown.len(), "printed");
    let failing = fail_on.map_or(0, |level| {
        shown
            .iter()
            .filter(|n| n.is_open() && n.finding.severity >= level)
            .count()
    });
    drop(shown);
    // A national estate's findings and facts are millions of small strings, and the process
    // ends next: the freeing is left to another thread, which the exit cuts short.
    std::thread::spawn(move || drop((all, facts)));
    if failing > 0 {
        if let Some(level) = fail_on {
            eprintln!("cardwatch: {failing} open finding(s) at or above {level}");
        }
        return Err(Exit(EXIT_FINDINGS).into());
    }
    Ok(())
}

/// Rows formatted at a time when printing CSV: a few megabytes.
const CSV_CHUNK: usize = 16_384;

/// Findings as CSV with a header. A national estate's 771,000 rows (230 MB) take about half a
/// second to format on one core, so every other chunk of `chunk` rows is formatted on a second
/// thread; chunks are written in order, and at most a few are held at once.
fn csv_rows(out: &mut impl Write, shown: &[&Noted], chunk: usize) -> Result<()> {
    fn format(rows: &[&Noted], mut buf: Vec<u8>) -> Result<Vec<u8>> {
        for n in rows {
            push_row(&mut buf, n.csv_fields());
        }
        Ok(buf)
    }
    let mut header = Vec::new();
    push_row(&mut header, CSV_COLUMNS);
    out.write_all(&header)?;
    let chunks: Vec<&[&Noted]> = shown.chunks(chunk).collect();
    let chunks = &chunks;
    std::thread::scope(|s| {
        let (send, formatted) = std::sync::mpsc::sync_channel::<Result<Vec<u8>>>(2);
        let (recycle, spare) = std::sync::mpsc::channel::<Vec<u8>>();
        s.spawn(move || {
            for rows in chunks.iter().skip(1).step_by(2) {
                let buf = spare.try_recv().unwrap_or_default();
                if send.send(format(rows, buf)).is_err() {
                    break; // the writer stopped on an error
                }
            }
        });
        let mut own = Vec::new();
        for (i, rows) in chunks.iter().enumerate() {
            if i % 2 == 0 {
                own = format(rows, std::mem::take(&mut own))?;
                out.write_all(&own)?;
                own.clear();
            } else {
                let mut theirs = formatted.recv()??;
                out.write_all(&theirs)?;
                theirs.clear();
                let _ = recycle.send(theirs);
            }
        }
        // Returning drops `formatted`, which stops the other thread if this one stopped early.
        Ok(())
    })
}

fn table(out: &mut impl Write, shown: &[&Noted], today: Date) -> io::Result<()> {
    let mut site = None;
    let mut severity = None;
    for n in shown {
        let f = &n.finding;
        if site != Some(f.site.as_str()) {
            writeln!(
                out,
                "\n== site {} ==",
                if f.site.is_empty() { "(none)" } else { &f.site }
            )?;
            site = Some(f.site.as_str());
            severity = None;
        }
        if severity != Some(f.severity) {
            writeln!(out, "  {}", f.severity.as_str().to_uppercase())?;
            severity = Some(f.severity);
        }
        let state = match &n.note {
            Some(note) => format!("  [{} until {}: {}]", note.state, note.until, note.reason),
            None => String::new(),
        };
        writeln!(
            out,
            "    {:<26} {:<12} {:<40} due {}  {}{state}",
            f.rule,
            f.owner.as_str(),
            format!("{} {}", f.subject_kind, f.subject),
            f.due,
            f.why
        )?;
        writeln!(out, "      fix: {}", f.fix)?;
    }
    let count = |s: Severity| shown.iter().filter(|n| n.finding.severity == s).count();
    writeln!(
        out,
        "\n{} finding(s) on {today}: {} critical, {} urgent, {} warning, {} info",
        shown.len(),
        count(Severity::Critical),
        count(Severity::Urgent),
        count(Severity::Warning),
        count(Severity::Info)
    )
}

/// Acknowledges or snoozes a finding that the check finds today.
pub fn note(
    store: &dyn Store,
    settings: &Settings,
    change: &Change,
    id: &str,
    state: NoteState,
    reason: &str,
    until: Date,
) -> Result<()> {
    let today = change.at.date();
    let findings = current_findings(store, &context(settings, today), Family::ALL)?;
    if !findings.iter().any(|n| n.finding.has_id(id)) {
        eprintln!(
            "cardwatch: no finding {id:?} today — copy the id from `cardwatch check --format csv` (fixed conditions close their findings by themselves)"
        );
        return Err(Exit(2).into());
    }
    let note = match FindingNote::new(id, state, reason, until, &change.actor, change.at) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("cardwatch: {e}");
            return Err(Exit(2).into());
        }
    };
    store.note_finding(&note, change)?;
    outln!("{id} {state} until {until}");
    Ok(())
}

/// Reopens a finding.
pub fn reopen(store: &dyn Store, change: &Change, id: &str, reason: &str) -> Result<()> {
    match store.reopen_finding(id, reason, change) {
        Ok(true) => {
            outln!("{id} is open again");
            Ok(())
        }
        Ok(false) => {
            outln!("{id} had no acknowledgement or snooze; nothing changed");
            Ok(())
        }
        Err(e @ StoreError::Invalid(_)) => {
            eprintln!("cardwatch: {e}");
            Err(Exit(2).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Prints the catalogue in force, with each entry's source; exits 2 when an override was refused.
pub fn show_catalogue(settings: &Settings, json: bool) -> Result<()> {
    let c: &Catalogue = &settings.catalogue;
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, c)?;
        writeln!(out)?;
    } else {
        let opt = |v: &Option<_>| {
            v.as_ref()
                .map_or("-".to_owned(), |v: &cardwatch_core::catalogue::Version| {
                    v.to_string()
                })
        };
        let yes = |b: bool| if b { "yes" } else { "no" };
        // Each entry as (section, its lines, its source); confirmed ones are printed under their
        // section, the unconfirmed gathered at the end with their count.
        let mut entries: Vec<(&str, String, &cardwatch_core::catalogue::Source)> = Vec::new();
        for s in &c.software {
            let mut t = format!(
                "  {:<22} {:<9} current {:<10} mandatory {}{}{}",
                s.id,
                format!("{:?}", s.presence).to_lowercase(),
                opt(&s.current),
                opt(&s.mandatory_minimum),
                s.mandatory_from
                    .map(|d| format!(" from {d}"))
                    .unwrap_or_default(),
                s.client
                    .as_ref()
                    .map(|c| format!(" (on {c} workstations)"))
                    .unwrap_or_default()
            );
            for r in &s.retired {
                t.push_str(&format!("\n      retired {} on {}", r.version, r.on));
            }
            entries.push(("SOFTWARE", t, &s.source));
        }
        for cl in &c.clients {
            let series: Vec<String> = cl
                .series
                .iter()
                .map(|s| {
                    format!(
                        "{}{}{}",
                        s.series,
                        if s.sign { "" } else { " (no signing)" },
                        s.until.map(|d| format!(" until {d}")).unwrap_or_default()
                    )
                })
                .collect();
            entries.push((
                "AUTHENTICATION CLIENTS",
                format!(
                    "  {:<6} {} — component {}{}{}\n      card series: {}",
                    cl.id,
                    cl.name,
                    cl.component,
                    cl.works_until
                        .map(|d| format!(", works until {d}"))
                        .unwrap_or_default(),
                    cl.successor
                        .as_ref()
                        .map(|n| format!(", then {n}"))
                        .unwrap_or_default(),
                    series.join(", ")
                ),
                &cl.source,
            ));
        }
        for a in &c.applications {
            let ready = match a.cis2 {
                cardwatch_core::catalogue::Readiness::Ready => "ready",
                cardwatch_core::catalogue::Readiness::NotReady => "not ready",
                cardwatch_core::catalogue::Readiness::Unconfirmed => "not known",
            };
            entries.push((
                "APPLICATIONS",
                format!("  {:<14} {:<52} CIS2 {ready}", a.id, a.name),
                &a.source,
            ));
        }
        for s in &c.series {
            entries.push((
                "CARD SERIES",
                format!(
                    "  series {:<3} {:<28} authenticate {:<3} sign {:<3} sha256 {:<3} {}",
                    s.series,
                    s.maker,
                    yes(s.authenticate),
                    yes(s.sign),
                    yes(s.sha256),
                    s.stops_working
                        .map(|d| format!("stops working {d}"))
                        .unwrap_or_default()
                ),
                &s.source,
            ));
        }
        for r in &c.readers {
            entries.push((
                "READERS",
                format!(
                    "  {:<18} {:<22} current firmware {}",
                    r.vendor, r.model, r.current_firmware
                ),
                &r.source,
            ));
        }
        let (unconfirmed, confirmed): (Vec<_>, Vec<_>) =
            entries.iter().partition(|(_, _, src)| src.unconfirmed());
        let mut section = "";
        for (head, text, src) in &confirmed {
            if *head != section {
                writeln!(out, "{head}")?;
                section = head;
            }
            writeln!(
                out,
                "{text}\n      source: {} (as of {})",
                src.source, src.as_of
            )?;
        }
        writeln!(
            out,
            "UNCONFIRMED — {} fact(s) with no public source found: confirm them with NHS England or the supplier before relying on them",
            unconfirmed.len()
        )?;
        for (head, text, src) in &unconfirmed {
            writeln!(
                out,
                "{text}   [{}]\n      source: {} (as of {})",
                head.to_lowercase(),
                src.source,
                src.as_of
            )?;
        }
    }
    drop(out);
    if settings.catalogue_refused.is_some() {
        warn_refused(settings);
        return Err(Exit(2).into());
    }
    warn_aged(settings);
    Ok(())
}

/// Parses a severity for `--fail-on`.
pub fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s)
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use cardwatch_core::health::{Finding, Owner, SubjectKind};
    use cardwatch_store::csv_out::CsvOut;

    use super::*;

    fn noted(i: usize) -> Noted {
        Noted {
            finding: Finding {
                rule: "cert-signing-30d",
                severity: Severity::Urgent,
                subject_kind: SubjectKind::Card,
                subject: format!("CS{i:010}"),
                site: "Y01234".into(),
                owner: Owner::Holder,
                due: Date::from_days(20_000 + i as i32),
                why: format!("expires in {i} days, \"renew\", now\nplease"),
                fix: Cow::Borrowed("Book a renewal"),
            },
            state: "open",
            note: None,
        }
    }

    #[test]
    fn csv_printed_in_chunks_on_two_threads_is_csv_printed_in_one_pass() {
        let all: Vec<Noted> = (0..7).map(noted).collect();
        let shown: Vec<&Noted> = all.iter().collect();
        let mut w = CsvOut::new(Vec::new());
        w.row(CSV_COLUMNS).unwrap();
        for n in &shown {
            w.row(n.csv_fields()).unwrap();
        }
        let expected = w.into_inner().unwrap();
        for chunk in [1, 2, 3, 6, 7, 100] {
            let mut out = Vec::new();
            csv_rows(&mut out, &shown, chunk).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(expected.clone()).unwrap(),
                "chunks of {chunk}"
            );
        }
        let mut out = Vec::new();
        csv_rows(&mut out, &[], 2).unwrap();
        assert_eq!(
            out,
            expected[..expected.iter().position(|&b| b == b'\n').unwrap() + 1]
        );
    }
}
