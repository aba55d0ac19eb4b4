//! `serve --demo`'s estate with its past: the synthetic estate imported as an operator would
//! import it, then the history `core::demo::history` draws for it written through the store's
//! ordinary operations — each incident opened, stepped and closed as the triage wizard records a
//! run, each review decided as the reviews page decides one — at the moments they happened, so the audit
//! chain holds them like any other change.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use cardwatch_core::demo::history::{history, History, REPORTER};
use cardwatch_core::demo::DemoConfig;
use cardwatch_core::estate::Lockout;
use cardwatch_core::records::{Kind, Record};
use cardwatch_core::triage::KnowledgeBase;
use cardwatch_store::reviews::{keep_all, Kept};
use cardwatch_store::{
    Change, Format, ImportInput, ImportOptions, ImportReport, RecordWriter, Store,
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

fn by(at: cardwatch_core::date::Timestamp) -> Change {
    Change {
        actor: REPORTER.to_owned(),
        at,
    }
}

/// Imports the demo estate `cfg` makes (with the lockouts its past adds to the estate's own), then
/// writes its incidents and access reviews.
pub fn fill(store: &dyn Store, cfg: &DemoConfig, kb: &KnowledgeBase) -> Result<Filled> {
    let past = history(cfg, kb);
    let dir = tempfile::tempdir().context("cannot make a temporary folder")?;
    let files = cardwatch_store::write_demo(cfg, dir.path())?;
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
    for i in &past.incidents {
        let id = store.open_incident(&i.opened, &by(i.opened_at))?;
        for step in &i.steps {
            store.record_incident_step(id, step, &by(step.at))?;
        }
        store.close_incident(id, i.status, i.cause.as_deref(), &by(i.closed_at))?;
    }
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
