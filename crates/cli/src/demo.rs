//! `serve --demo`'s estate with its past: the synthetic estate imported as an operator would
//! import it, then the history `core::demo::history` draws for it written through the store's
//! ordinary operations — each incident opened, stepped and closed as the triage wizard records a
//! run (today's few still open), each review decided as the reviews page decides one — at the
//! moments they happened, so the audit chain holds them like any other change. The incidents go
//! in one transaction (`Store::record_incidents`), audited change by change as the wizard's
//! calls audit them, rather than a commit for each of hundreds of changes.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cardwatch_core::demo::history::{desk_today, history, History, PastIncident, REPORTER};
use cardwatch_core::demo::DemoConfig;
use cardwatch_core::estate::Lockout;
use cardwatch_core::records::{Kind, Record};
use cardwatch_core::triage::{IncidentStatus, KnowledgeBase};
use cardwatch_store::reviews::{keep_all, Kept};
use cardwatch_store::{
    Change, Format, ImportInput, ImportOptions, ImportReport, RecordWriter, RecordedIncident, Store,
};

/// What a filled demo holds.
pub struct Filled {
    /// The estate's import.
    pub report: ImportReport,
    /// Its past, as written.
    pub history: History,
}

/// Adds the history's lockouts to the estate's lockouts file, so the estate is still one file a
/// kind, as an operator's export would be.
fn add_lockouts(path: &Path, lockouts: &[Lockout]) -> Result<()> {
    let mut w = RecordWriter::new(Kind::Lockouts, Format::Csv, Vec::new())?;
    for l in lockouts {
        Record::Lockout(l.clone()).with_cells(|cells| w.write(cells))?;
    }
    let csv = w.finish()?;
    // The rows after the writer's header line.
    let rows = csv
        .iter()
        .position(|&b| b == b'\n')
        .map_or(&csv[..0], |n| &csv[n + 1..]);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("cannot add to {}", path.display()))?;
    f.write_all(rows)
        .with_context(|| format!("cannot add to {}", path.display()))?;
    Ok(())
}

/// An ODS status as the extracts write it (A, C, D, P).
fn ods_status(status: &str) -> &'static str {
    match status {
        "closed" => "C",
        "dormant" => "D",
        "proposed" => "P",
        _ => "A",
    }
}

/// The demo estate's files as an operator has them: one CSV per kind, except that the GP
/// practices come in NHS England's ODS practices extract (`epraccur.csv`: 27 quoted fields, no
/// header, dates as YYYYMMDD, CRLF) rather than in `organisations.csv`, so the demo shows — and
/// is imported through — each kind of file a real estate comes in. The ICB and branch
/// surgeries stay in `organisations.csv`; the practices' main surgeries stay in `sites.csv`
/// with their core hours, which the extract does not carry.
pub fn write_files(cfg: &DemoConfig, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = cardwatch_store::write_demo(cfg, dir)?;
    let Some(orgs) = files
        .iter()
        .find(|f| {
            f.file_stem()
                .is_some_and(|s| s == Kind::Organisations.name())
        })
        .cloned()
    else {
        return Ok(files);
    };
    let mut reader =
        csv::Reader::from_path(&orgs).with_context(|| format!("cannot read {}", orgs.display()))?;
    let header = reader.headers()?.clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{} has no {name} column", orgs.display()))
    };
    let (code, name, kind, parent, status, closed) = (
        col("ods_code")?,
        col("name")?,
        col("type")?,
        col("parent_ods")?,
        col("status")?,
        col("closed_on")?,
    );
    let mut kept = csv::Writer::from_writer(Vec::new());
    kept.write_record(&header)?;
    let mut extract = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for row in reader.records() {
        let row = row.with_context(|| format!("cannot read {}", orgs.display()))?;
        if &row[kind] != "gp_practice" {
            kept.write_record(&row)?;
            continue;
        }
        let mut fields = vec![String::new(); cardwatch_core::ods::FIELDS];
        fields[0] = row[code].to_owned();
        fields[1] = row[name].to_owned();
        fields[3] = row[parent].to_owned();
        fields[11] = row[closed].replace('-', "");
        fields[12] = ods_status(&row[status]).to_owned();
        // Prescribing setting 4: a GP practice.
        fields[25] = "4".to_owned();
        extract.write_record(&fields)?;
    }
    let write = |path: &Path, bytes: Vec<u8>| {
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
    };
    write(&orgs, kept.into_inner().context("organisations.csv")?)?;
    let epraccur = dir.join("epraccur.csv");
    write(&epraccur, extract.into_inner().context("epraccur.csv")?)?;
    files.push(epraccur);
    Ok(files)
}

/// One incident as the triage wizard records a run: opened, each step, then resolved or handed
/// over — or left open while it is still being worked.
fn recorded(i: &PastIncident) -> RecordedIncident {
    RecordedIncident {
        opened: i.opened.clone(),
        opened_by: by(i.opened_at),
        steps: i.steps.iter().map(|s| (s.clone(), by(s.at))).collect(),
        closed: (i.status != IncidentStatus::Open)
            .then(|| (i.status, i.cause.clone(), by(i.closed_at))),
    }
}

fn by(at: cardwatch_core::date::Timestamp) -> Change {
    Change {
        actor: REPORTER.to_owned(),
        at,
    }
}

/// Imports the demo estate `cfg` makes (with the lockouts its past adds to the estate's own), then
/// writes its incidents, the desk's incidents of today (counted back from the clock's now) and
/// its access reviews.
pub fn fill(store: &dyn Store, cfg: &DemoConfig, kb: &KnowledgeBase) -> Result<Filled> {
    let past = history(cfg, kb);
    let dir = tempfile::tempdir().context("cannot make a temporary folder")?;
    let files = write_files(cfg, dir.path())?;
    if let Some(path) = files
        .iter()
        .find(|f| f.file_stem().is_some_and(|s| s == Kind::Lockouts.name()))
    {
        add_lockouts(path, &past.lockouts)?;
    }
    let inputs: Vec<ImportInput> = files.iter().map(ImportInput::file).collect();
    let report = crate::import(
        store,
        &inputs,
        &ImportOptions {
            progress: crate::progress_bar(),
            ..ImportOptions::default()
        },
    )?;
    // Today's after the past's, so numbers follow time.
    let today = desk_today(cfg, kb, crate::clock::now());
    let incidents: Vec<RecordedIncident> =
        past.incidents.iter().chain(&today).map(recorded).collect();
    store.record_incidents(&incidents)?;
    // The reviews in one transaction: hundreds of past decisions, not hundreds of commits.
    let kept: Vec<Kept> = past
        .reviews
        .iter()
        .map(|r| Kept {
            holder: &r.holder_uuid,
            ods: &r.ods_code,
            role: &r.role_code,
            reason: &r.reason,
            change: by(r.at),
        })
        .collect();
    keep_all(store, &kept)?;
    Ok(Filled {
        report,
        history: past,
    })
}
