//! Importing files: reading CSV (streamed) or JSON, matching the header to a record kind,
//! validating every field, finding duplicate keys and unknown references, and handing rows to a
//! backend in batches inside one transaction. Every problem is collected with its file, line and
//! column, so one run lists them all; any problem rejects the whole import.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel};
use std::sync::Arc;

use cardwatch_core::audit::AuditRecord;
use cardwatch_core::cim::CimMapping;
use cardwatch_core::health::IMPORT_SITES_MAX;
use cardwatch_core::records::{display_key, key_of, Cell, Kind, Reference};

pub use crate::batch::Location;
use crate::batch::{Batch, Row};
use crate::tx::{values_json, AuditChain, Outcome, Tx};
use crate::{Change, StoreError};

mod key_code;
mod read;

/// Rows handed to the backend at a time: large enough that PostgreSQL's per-batch round trips
/// (lookups and a `COPY` for each batch into a table that already holds rows) fade — a national
/// import took 9.24 s against 9.81 s with 5,000 when every batch was its own `COPY` — and small
/// enough that memory stays flat (180–225 MB at peak into SQLite, 110–140 MB into PostgreSQL).
/// Into an empty table PostgreSQL streams the whole file into one `COPY` anyway, and there
/// 5,000 made no difference (session 15: 5.67–5.85 s vs 5.77–5.85 s, peak 165–190 MB vs
/// 182–222 MB into SQLite). `pub` for the tests that cross batch boundaries.
pub const BATCH: usize = 20_000;
/// Batches parsed ahead of the writer: enough to keep both threads busy, few enough to bound
/// memory.
const AHEAD: usize = 2;
/// Problems kept in full; beyond this only a count is kept, so a wholly wrong file cannot exhaust
/// memory.
const MAX_PROBLEMS: usize = 10_000;

/// One file (or in-memory document) to import.
#[derive(Clone, Debug)]
pub struct ImportInput {
    /// The name used in messages and the audit log (the path as given, or a label).
    pub name: String,
    /// Where the bytes are.
    pub data: InputData,
}

/// The bytes of an import.
#[derive(Clone, Debug)]
pub enum InputData {
    /// A file on disk, streamed.
    File(PathBuf),
    /// Bytes already in memory (uploads, tests).
    Bytes(Vec<u8>),
}

impl ImportInput {
    /// A file on disk.
    pub fn file(path: impl AsRef<Path>) -> ImportInput {
        let path = path.as_ref();
        ImportInput {
            name: path.display().to_string(),
            data: InputData::File(path.to_owned()),
        }
    }

    /// Bytes in memory under a name (the name's extension picks CSV or JSON).
    pub fn bytes(name: impl Into<String>, data: impl Into<Vec<u8>>) -> ImportInput {
        ImportInput {
            name: name.into(),
            data: InputData::Bytes(data.into()),
        }
    }

    /// Records built in code (objects of column → text) as a JSON document named `name.json`:
    /// they pass the same validation and audit as a file an operator imports.
    pub fn records(name: &str, rows: Vec<serde_json::Value>) -> ImportInput {
        ImportInput::bytes(
            format!("{name}.json"),
            serde_json::Value::Array(rows).to_string(),
        )
    }

    fn is_json(&self) -> bool {
        self.name.to_ascii_lowercase().ends_with(".json")
    }

    fn len(&self) -> u64 {
        match &self.data {
            InputData::File(p) => std::fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            InputData::Bytes(b) => b.len() as u64,
        }
    }

    fn open(&self) -> Result<Box<dyn Read + Send + '_>, StoreError> {
        match &self.data {
            InputData::File(p) => {
                let f = File::open(p).map_err(|source| StoreError::Io {
                    path: p.clone(),
                    source,
                })?;
                Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
            }
            InputData::Bytes(b) => Ok(Box::new(&b[..])),
        }
    }
}

/// Told how far an import has got, for a progress bar.
pub trait Progress: Send + Sync {
    /// A file starts; `total` is its size in bytes.
    fn start(&self, file: &str, total: u64);
    /// This many bytes of the current file have been read.
    fn advance(&self, done: u64);
    /// The current file is done.
    fn finish(&self);
}

/// How to import.
#[derive(Clone, Default)]
pub struct ImportOptions {
    /// Read every file as this kind instead of telling it from the header.
    pub kind: Option<Kind>,
    /// Validate everything, write nothing.
    pub check_only: bool,
    /// Where to report progress.
    pub progress: Option<Arc<dyn Progress>>,
    /// Files at least this large, going into an empty table, load in bulk: the table's
    /// secondary indexes (and on PostgreSQL its foreign keys) are rebuilt once at the end
    /// instead of row by row. `None` means [`BULK_FROM_BYTES`].
    pub bulk_from_bytes: Option<u64>,
    /// How Care Identity Management report exports are read (`core::cim`): the operator's
    /// mapping laid over the shipped one. `None` means the shipped mapping.
    pub mapping: Option<Arc<CimMapping>>,
}

/// Default size from which a file loads in bulk (see [`ImportOptions::bulk_from_bytes`]): about
/// 14,000 people. Row by row, a 100,000-holder estate's people (7 MB) took 7–12 s on SQLite and
/// 2.5 s on PostgreSQL with the lists' indexes and counting triggers; in bulk 0.8 s and 0.5 s.
pub const BULK_FROM_BYTES: u64 = 1 << 20;

impl fmt::Debug for ImportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportOptions")
            .field("kind", &self.kind)
            .field("check_only", &self.check_only)
            .field("progress", &self.progress.is_some())
            .field("bulk_from_bytes", &self.bulk_from_bytes)
            .field("mapping", &self.mapping.is_some())
            .finish()
    }
}

/// One thing wrong with an import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportProblem {
    /// The file's name as given.
    pub file: String,
    /// Where in it.
    pub at: Location,
    /// The column, if the problem is in one field.
    pub column: Option<String>,
    /// The value as written, if the problem is in one field.
    pub value: Option<String>,
    /// What is wrong — what to do.
    pub message: String,
}

impl ImportProblem {
    /// The line number, for CSV problems.
    pub fn line(&self) -> Option<u64> {
        match self.at {
            Location::Line(n) => Some(n),
            _ => None,
        }
    }
}

impl fmt::Display for ImportProblem {
    /// `file:line: column: value: what is wrong — what to do`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Location::File => write!(f, "{}: ", self.file)?,
            Location::Line(n) => write!(f, "{}:{n}: ", self.file)?,
            Location::Item(n) => write!(f, "{}: item {n}: ", self.file)?,
        }
        if let Some(c) = &self.column {
            write!(f, "{c}: ")?;
        }
        if let Some(v) = &self.value {
            if v.is_empty() {
                f.write_str("(empty): ")?;
            } else {
                write!(f, "{v}: ")?;
            }
        }
        f.write_str(&self.message)
    }
}

/// What one file's import did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileReport {
    /// The file's name as given.
    pub file: String,
    /// What it held.
    pub kind: Kind,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Data rows read.
    pub rows: u64,
    /// New records.
    pub created: u64,
    /// Records that changed.
    pub updated: u64,
    /// Records already as the file says.
    pub unchanged: u64,
    /// The Care Identity Management report the file was read as an export of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cim_report: Option<String>,
    /// The file's columns the mapping does not use, as its header writes them: ignored, not
    /// refused, since CIM's exports may carry columns Cardwatch has no place for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
}

/// What an import did (or, with `check_only`, would do).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    /// Per file, in the order applied.
    pub files: Vec<FileReport>,
    /// Nothing was written.
    pub checked_only: bool,
}

/// A collector that keeps the first problems and counts the rest.
#[derive(Default)]
struct Problems {
    list: Vec<ImportProblem>,
    more: usize,
}

impl Problems {
    fn push(&mut self, p: ImportProblem) {
        if self.list.len() < MAX_PROBLEMS {
            self.list.push(p);
        } else {
            self.more += 1;
        }
    }

    fn absorb(&mut self, other: Problems) {
        for p in other.list {
            self.push(p);
        }
        self.more += other.more;
    }

    /// Orders problems by line (stable: a row's problems stay in column order).
    fn sort(&mut self) {
        self.list.sort_by_key(|p| match p.at {
            Location::File => 0,
            Location::Line(n) | Location::Item(n) => n,
        });
    }

    fn take_error(&mut self) -> Option<StoreError> {
        if self.list.is_empty() {
            return None;
        }
        if self.more > 0 {
            let last = &self.list[self.list.len() - 1];
            let file = last.file.clone();
            self.list.push(ImportProblem {
                file,
                at: Location::File,
                column: None,
                value: None,
                message: format!(
                    "{} more problem(s) not listed — fix the ones above and run again",
                    self.more
                ),
            });
        }
        Some(StoreError::Rejected(std::mem::take(&mut self.list)))
    }
}

fn file_problem(file: &str, message: String) -> ImportProblem {
    ImportProblem {
        file: file.to_owned(),
        at: Location::File,
        column: None,
        value: None,
        message,
    }
}

/// Books the backend's outcomes for one file's rows: counts, audit records, problems.
struct Applier<'a> {
    file: &'a str,
    kind: Kind,
    change: &'a Change,
    report: FileReport,
    problems: Problems,
    refreshed: &'a mut Refreshed,
    created: CreatedSites,
}

/// Past this many created records whose sites are their parents' (software, positions,
/// lockouts), a file's summary names no sites: a practice's import creates a few hundred, and a
/// larger list is not looked up at the import's cost only for a full check to follow anyway.
const CREATED_KEYS_MAX: usize = 50_000;

/// The sites of the records a file created, named in its summary record (`created_sites`) so
/// that a health re-check places them: the audit chain has no record of each created record.
/// People, workstations, readers and stock name their site; the parents of software, positions
/// and lockouts are kept as a JSON array and looked up once, after the file, in the import's
/// transaction (where records the import created are found too).
#[derive(Default)]
struct CreatedSites {
    /// The sites named so far.
    sites: BTreeSet<String>,
    /// The parents' keys, a JSON array being written.
    keys: String,
    /// The key pushed last: a workstation's software, a holder's positions and a card's
    /// lockouts come one after another.
    last: String,
    /// How many keys `keys` holds.
    count: usize,
    /// Past a bound (or a row without its reference): the summary names no sites.
    over: bool,
}

impl CreatedSites {
    fn add(&mut self, kind: Kind, row: &Row<'_>) {
        if self.over {
            return;
        }
        let (column, own) = match kind {
            Kind::People => (4, true),
            Kind::Workstations => (1, true),
            Kind::Readers => (5, true),
            Kind::Stock => (0, true),
            Kind::Software | Kind::Positions | Kind::Lockouts => (0, false),
            _ => return,
        };
        let Cell::Text(key) = row.cell(column) else {
            self.give_up();
            return;
        };
        if own {
            if !self.sites.contains(key) {
                self.sites.insert(key.to_owned());
                if self.sites.len() > IMPORT_SITES_MAX {
                    self.give_up();
                }
            }
        } else if key != self.last {
            push_json(&mut self.keys, key);
            self.last.clear();
            self.last.push_str(key);
            self.count += 1;
            if self.count > CREATED_KEYS_MAX {
                self.give_up();
            }
        }
    }

    fn give_up(&mut self) {
        self.over = true;
        self.sites = BTreeSet::new();
        self.keys = String::new();
    }

    /// The sites to name, `None` past the bound.
    fn finish(mut self, tx: &mut dyn Tx, kind: Kind) -> Result<Option<Vec<String>>, StoreError> {
        if !self.over && !self.keys.is_empty() {
            let found = tx.created_sites(kind, &json_list(&mut self.keys))?;
            self.sites.extend(found);
        }
        if self.over || self.sites.len() > IMPORT_SITES_MAX {
            tracing::debug!(
                kind = kind.name(),
                "created records' sites not named: too many"
            );
            return Ok(None);
        }
        Ok(Some(self.sites.into_iter().collect()))
    }
}

/// What an import says of how fresh each site's card data is: the cards its cards and
/// certificates files name, changed or not (an unchanged re-import writes no audit record, so
/// this is the only trace of it), and the sites it creates. Kept as JSON arrays, one statement's
/// parameter each, so that a national file's million serials cost a string, not a query each.
#[derive(Default)]
struct Refreshed {
    cards: String,
    /// The serial named last: a card's certificates come one after another.
    last: String,
    new_sites: String,
    /// Whether the store held no card when the import's first cards or certificates file began
    /// (`None` before): then every card the store holds at the end is one the import named, and
    /// the sites are found from the tables, with no list (a national import's is 15 MB).
    every_card: Option<bool>,
    /// Whether any card was named.
    any_card: bool,
}

impl Refreshed {
    fn card(&mut self, serial: &str) {
        self.any_card = true;
        if self.every_card != Some(true) && serial != self.last {
            push_json(&mut self.cards, serial);
            self.last.clear();
            self.last.push_str(serial);
        }
    }
}

/// Appends `key` to a JSON array being written (its `]` added by [`json_list`]).
fn push_json(list: &mut String, key: &str) {
    list.push(if list.is_empty() { '[' } else { ',' });
    list.push_str(&serde_json::Value::from(key).to_string());
}

/// Closes a JSON array being written, taking it (a national import's list is 15 MB: not copied).
fn json_list(list: &mut String) -> String {
    if list.is_empty() {
        "[]".to_owned()
    } else {
        list.push(']');
        std::mem::take(list)
    }
}

impl Applier<'_> {
    fn problem(&mut self, at: Location, column: &str, value: &str, message: String) {
        self.problems.push(ImportProblem {
            file: self.file.to_owned(),
            at,
            column: Some(column.to_owned()),
            value: Some(value.to_owned()),
            message,
        });
    }

    /// Counts a written batch's outcomes, lists its problems, and returns the audit records of
    /// the records it changed.
    fn book(&mut self, batch: &Batch, outcomes: Vec<Outcome>) -> Vec<AuditRecord> {
        let mut audit = Vec::new();
        for (row, outcome) in batch.rows().zip(outcomes) {
            let written = matches!(
                outcome,
                Outcome::Created | Outcome::Unchanged | Outcome::Updated { .. }
            );
            if let (true, Cell::Text(key)) = (written, row.cell(0)) {
                match self.kind {
                    Kind::Cards => self.refreshed.card(key),
                    // A certificate of a card an earlier (cards) file of this import named adds
                    // nothing: that file listed the card. A national import's list is then its
                    // million cards, not its two million certificates' cards again.
                    Kind::Certificates if !row.refs_loaded => self.refreshed.card(key),
                    Kind::Sites if outcome == Outcome::Created => {
                        push_json(&mut self.refreshed.new_sites, key)
                    }
                    _ => {}
                }
            }
            match outcome {
                Outcome::Created => {
                    self.report.created += 1;
                    self.created.add(self.kind, &row);
                }
                Outcome::Unchanged => self.report.unchanged += 1,
                Outcome::Updated { before } => {
                    self.report.updated += 1;
                    let after = row.values_over(&before);
                    audit.push(AuditRecord {
                        seq: 0,
                        at: self.change.at,
                        actor: self.change.actor.clone(),
                        action: "update".into(),
                        entity_kind: self.kind.name().into(),
                        entity_key: display_key(&key_of(self.kind, &after)),
                        note: format!("import {}", self.file),
                        before: Some(values_json(self.kind, &before)),
                        after: Some(values_json(self.kind, &after)),
                    });
                }
                Outcome::MissingRef { column, target } => {
                    let name = self.kind.columns()[column].name;
                    let key = row.cell(column).to_csv();
                    self.problem(row.at, name, &key, missing_message(target));
                }
                Outcome::Refused { column, message } => {
                    let value = self
                        .kind
                        .columns()
                        .iter()
                        .position(|c| c.name == column)
                        .map_or(String::new(), |i| row.cell(i).to_csv());
                    self.problem(row.at, column, &value, message);
                }
            }
        }
        audit
    }

    /// Writes one file: a reader thread parses and validates while this thread writes.
    fn run_file(
        &mut self,
        tx: &mut dyn Tx,
        chain: &mut AuditChain,
        input: &ImportInput,
        layout: &read::Layout,
        options: &ImportOptions,
        loaded: &read::Earlier,
    ) -> Result<read::Parsed, StoreError> {
        let (send, receive) = sync_channel::<Batch>(AHEAD);
        let (recycle, recycled) = channel::<Batch>();
        std::thread::scope(|scope| {
            let reader = scope
                .spawn(move || read::parse_file(input, layout, options, send, recycled, loaded));
            // Which side waits for the other tells where a faster import must look.
            let started = std::time::Instant::now();
            let mut waiting = std::time::Duration::ZERO;
            let mut batches = std::iter::from_fn(|| {
                let asked = std::time::Instant::now();
                let batch = receive.recv().ok();
                waiting += asked.elapsed();
                batch
            });
            let written = tx.apply_all(&mut batches, chain, &mut |batch, outcomes| {
                let audit = self.book(&batch, outcomes);
                let _ = recycle.send(batch);
                audit
            });
            let writing = started.elapsed().saturating_sub(waiting);
            tracing::debug!(?writing, file = input.name, "batches written");
            // On an error this stops the reader.
            drop(receive);
            let parsed = reader
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            written.and(parsed)
        })
    }
}

/// Imports files through a backend's open transaction. The caller commits on `Ok` (unless only
/// checking) and rolls back otherwise.
pub(crate) fn run(
    tx: &mut dyn Tx,
    inputs: &[ImportInput],
    options: &ImportOptions,
    change: &Change,
) -> Result<ImportReport, StoreError> {
    let mut problems = Problems::default();
    // Every header is read first, so that files apply in dependency order whatever the order
    // given, and a wrong header is reported before any row is read.
    let mut plan = Vec::new();
    let mapping: &CimMapping = match options.mapping.as_deref() {
        Some(m) => m,
        None => CimMapping::shipped(),
    };
    for (i, input) in inputs.iter().enumerate() {
        match read::header(input, options.kind)
            .and_then(|h| read::layouts(input, h, options.kind, mapping))
        {
            Ok(ls) => plan.extend(ls.into_iter().map(|l| (i, l))),
            Err(message) => problems.push(file_problem(&input.name, message)),
        }
    }
    if let Some(e) = problems.take_error() {
        return Err(e);
    }
    plan.sort_by_key(|(i, l)| (l.kind, l.rank, *i));
    let (seq, hash) = tx.audit_head()?;
    let mut chain = AuditChain { seq, hash };
    let mut files = Vec::new();
    let mut loaded = read::Earlier::default();
    let mut refreshed = Refreshed::default();
    // References to a record of the same kind, checked once every file of that kind is in:
    // a branch surgery in one file may name its practice in another given after it.
    let mut same_kind: Vec<(Kind, String, u64, Reference)> = Vec::new();
    for (i, layout) in plan {
        if same_kind
            .first()
            .is_some_and(|(kind, ..)| *kind != layout.kind)
        {
            check_same_kind(tx, &mut same_kind, &mut problems)?;
        }
        let input = &inputs[i];
        let mut applier = Applier {
            file: &input.name,
            kind: layout.kind,
            change,
            report: FileReport {
                file: input.name.clone(),
                kind: layout.kind,
                sha256: String::new(),
                rows: 0,
                created: 0,
                updated: 0,
                unchanged: 0,
                cim_report: layout.cim.as_ref().map(|m| m.report.clone()),
                ignored: layout
                    .cim
                    .as_ref()
                    .map(|m| m.ignored.clone())
                    .unwrap_or_default(),
            },
            problems: Problems::default(),
            refreshed: &mut refreshed,
            created: CreatedSites::default(),
        };
        let size = input.len();
        let empty = tx.begin_bulk(
            layout.kind,
            size >= options.bulk_from_bytes.unwrap_or(BULK_FROM_BYTES),
        )?;
        if matches!(layout.kind, Kind::Cards | Kind::Certificates)
            && applier.refreshed.every_card.is_none()
        {
            // Certificates first: of cards already held, or refused for want of one.
            applier.refreshed.every_card = Some(layout.kind == Kind::Cards && empty);
        }
        if let Some(p) = &options.progress {
            p.start(&input.name, size);
        }
        let started = std::time::Instant::now();
        let parsed = applier.run_file(tx, &mut chain, input, &layout, options, &loaded);
        tracing::debug!(took = ?started.elapsed(), file = input.name, "read and written");
        if let Some(p) = &options.progress {
            p.finish();
        }
        let parsed = parsed?;
        // Self-references can point forwards in the file, or into a later file of the kind.
        same_kind.extend(
            parsed
                .pending
                .iter()
                .filter(|(_, r)| !parsed.own_keys.contains(&r.key))
                .map(|(line, r)| (layout.kind, input.name.clone(), *line, r.clone())),
        );
        tx.end_bulk()?;
        loaded.not_practices.extend(parsed.not_practices);
        let slot = &mut loaded.keys[layout.kind as usize];
        *slot = Some(Arc::new(match slot.take() {
            None => parsed.key_codes,
            Some(earlier) => {
                let mut all = [&earlier[..], &parsed.key_codes[..]].concat();
                all.sort_unstable();
                all
            }
        }));
        let mut report = applier.report;
        let created_sites = match report.created > 0 && names_created_sites(layout.kind) {
            true => applier.created.finish(tx, layout.kind)?,
            false => None,
        };
        report.rows = parsed.rows;
        report.sha256 = parsed.sha256;
        // The reader and the writer each found problems; list them in file order.
        let mut found = parsed.problems;
        found.absorb(applier.problems);
        found.sort();
        problems.absorb(found);
        if report.created + report.updated > 0 {
            let mut summary = serde_json::json!({
                "file": report.file, "sha256": report.sha256, "rows": report.rows,
                "created": report.created, "updated": report.updated,
                "unchanged": report.unchanged,
            });
            if let Some(sites) = created_sites {
                summary["created_sites"] = sites.into();
            }
            let record = AuditRecord {
                seq: 0,
                at: change.at,
                actor: change.actor.clone(),
                action: "import".into(),
                entity_kind: report.kind.name().into(),
                entity_key: report.file.clone(),
                note: String::new(),
                before: None,
                after: Some(summary.to_string()),
            };
            chain.append(tx, vec![record])?;
        }
        files.push(report);
    }
    check_same_kind(tx, &mut same_kind, &mut problems)?;
    if let Some(e) = problems.take_error() {
        return Err(e);
    }
    let started = std::time::Instant::now();
    let every_card = refreshed.every_card == Some(true) && refreshed.any_card;
    if every_card || !(refreshed.cards.is_empty() && refreshed.new_sites.is_empty()) {
        let cards = (!every_card).then(|| json_list(&mut refreshed.cards));
        tx.note_refreshed(
            cards.as_deref(),
            &json_list(&mut refreshed.new_sites),
            change.at,
        )?;
    }
    tracing::debug!(took = ?started.elapsed(), "refreshed sites noted");
    tx.set_audit_head(chain.seq, &chain.hash)?;
    Ok(ImportReport {
        files,
        checked_only: options.check_only,
    })
}

/// Whether a file of `kind` names the sites of the records it created in its summary record.
fn names_created_sites(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::People
            | Kind::Positions
            | Kind::Workstations
            | Kind::Software
            | Kind::Readers
            | Kind::Stock
            | Kind::Lockouts
    )
}

/// Lists each same-kind reference that no file of its kind gave, and empties the list.
fn check_same_kind(
    tx: &mut dyn Tx,
    refs: &mut Vec<(Kind, String, u64, Reference)>,
    problems: &mut Problems,
) -> Result<(), StoreError> {
    for (_, file, line, r) in refs.drain(..) {
        if !tx.exists(r.target, &r.key)? {
            problems.push(ImportProblem {
                file,
                at: Location::Line(line),
                column: Some(r.column.to_owned()),
                value: Some(r.key),
                message: missing_message(r.target),
            });
        }
    }
    Ok(())
}

fn missing_message(target: Kind) -> String {
    let hint = match target {
        Kind::Organisations => "import organisations.csv with it first, or correct the code",
        Kind::Sites => "add the site to sites.csv, or correct the code",
        Kind::People => "add the person to people.csv, or correct the UUID",
        Kind::Cards => "add the card to cards.csv, or correct the serial",
        Kind::Workstations => "add the workstation to workstations.csv, or correct the hostname",
        _ => "add it first, or correct the reference",
    };
    format!("no such {} in the estate — {hint}", singular(target))
}

fn singular(kind: Kind) -> &'static str {
    match kind {
        Kind::Organisations => "organisation",
        Kind::Sites => "site",
        Kind::People => "person",
        Kind::Cards => "card",
        Kind::Certificates => "certificate",
        Kind::Positions => "position",
        Kind::Workstations => "workstation",
        Kind::Software => "software",
        Kind::Readers => "reader",
        Kind::Stock => "stock item",
        Kind::Lockouts => "lockout",
        Kind::Integrations => "integration",
        Kind::IntegrationCards => "integration card",
    }
}
