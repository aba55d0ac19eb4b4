//! Importing files: reading CSV (streamed) or JSON, matching the header to a record kind,
//! validating every field, finding duplicate keys and unknown references, and handing rows to a
//! backend in batches inside one transaction. Every problem is collected with its file, line and
//! column, so one run lists them all; any problem rejects the whole import.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cardwatch_core::audit::AuditRecord;
use cardwatch_core::records::{display_key, key_of, references_of, Kind, Record, Reference};
use sha2::{Digest, Sha256};

use crate::tx::{values_json, Outcome, Row, Tx};
use crate::{Change, StoreError};

/// Rows handed to the backend at a time: large enough that PostgreSQL round trips vanish, small
/// enough that memory stays flat.
const BATCH: usize = 5_000;
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
}

impl fmt::Debug for ImportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportOptions")
            .field("kind", &self.kind)
            .field("check_only", &self.check_only)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// Where in a file a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    /// The file as a whole (its header, its encoding).
    File,
    /// A line of a CSV file, from 1 (the header is line 1).
    Line(u64),
    /// An item of a JSON array, from 1.
    Item(u64),
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

    fn into_error(mut self) -> Option<StoreError> {
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
        Some(StoreError::Rejected(self.list))
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

/// How a file's columns map onto its kind's canonical columns.
struct Layout {
    kind: Kind,
    /// For each canonical column, its index in the file's rows.
    index: Vec<usize>,
}

/// Decides a file's kind and column layout from its header, or says exactly what is wrong.
fn layout(input: &ImportInput, header: &[String], forced: Option<Kind>) -> Result<Layout, String> {
    let norm: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let stem = Path::new(&input.name)
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(Kind::parse);
    let kind = match forced.or_else(|| Kind::from_header(&norm)).or(stem) {
        Some(k) => k,
        None => {
            // The kind sharing most columns is the best guess for the message.
            let best = Kind::ALL
                .into_iter()
                .max_by_key(|k| {
                    k.columns()
                        .iter()
                        .filter(|c| norm.iter().any(|h| h == c.name))
                        .count()
                })
                .unwrap_or(Kind::Organisations);
            let shared = best
                .columns()
                .iter()
                .filter(|c| norm.iter().any(|h| h == c.name))
                .count();
            if shared == 0 {
                return Err(format!(
                    "cannot tell what this file holds from its header ({}) — the header must name \
                     the columns of one kind (see docs/IMPORT.md), or pass --kind",
                    header.join(",")
                ));
            }
            best
        }
    };
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for h in &norm {
        if !seen.insert(h.as_str()) {
            problems.push(format!("column {h} appears twice"));
        } else if !kind.columns().iter().any(|c| c.name == h) {
            problems.push(format!("column {h:?} is not part of {kind}"));
        }
    }
    let mut index = Vec::with_capacity(kind.columns().len());
    for c in kind.columns() {
        match norm.iter().position(|h| h == c.name) {
            Some(i) => index.push(i),
            None => problems.push(format!("column {} is missing", c.name)),
        }
    }
    if problems.is_empty() {
        Ok(Layout { kind, index })
    } else {
        let names: Vec<&str> = kind.columns().iter().map(|c| c.name).collect();
        Err(format!(
            "{} — a {kind} file has exactly these columns, in any order: {}",
            problems.join("; "),
            names.join(",")
        ))
    }
}

/// A reader that hashes what passes through it, so the file's SHA-256 costs no second read.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Rows of one file on their way to the backend, with the bookkeeping that spans batches.
struct FileRun<'a> {
    file: &'a str,
    kind: Kind,
    change: &'a Change,
    batch: Vec<Row>,
    /// Hash of each key seen so far → its line. A 64-bit hash keeps memory flat on national files;
    /// the chance of two different keys colliding among 2 million is about one in ten million.
    seen: HashMap<u64, u64, BuildHasherDefault<Prehashed>>,
    /// Keys of this file, for kinds that refer to themselves (an organisation's parent).
    own_keys: HashSet<String>,
    /// Self-references to resolve when the whole file has been read: (line, reference).
    pending: Vec<(u64, Reference)>,
    report: FileReport,
    audit: AuditChain,
}

/// The keys of `FileRun::seen` are already SipHash values: hashing them again is wasted work.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The audit chain's tip while a transaction appends to it.
pub(crate) struct AuditChain {
    pub(crate) seq: i64,
    pub(crate) hash: String,
}

impl AuditChain {
    /// Seals records onto the chain and hands them to the backend.
    pub(crate) fn append(
        &mut self,
        tx: &mut dyn Tx,
        records: Vec<AuditRecord>,
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut sealed = Vec::with_capacity(records.len());
        for mut r in records {
            self.seq += 1;
            r.seq = self.seq;
            let s = r.seal(std::mem::take(&mut self.hash));
            self.hash = s.hash.clone();
            sealed.push(s);
        }
        tx.insert_audit(&sealed)
    }
}

impl FileRun<'_> {
    fn problem(&self, at: Location, column: &str, value: &str, message: String) -> ImportProblem {
        ImportProblem {
            file: self.file.to_owned(),
            at,
            column: Some(column.to_owned()),
            value: Some(value.to_owned()),
            message,
        }
    }

    /// Validates one row (fields in canonical order) and queues it.
    fn row(
        &mut self,
        tx: &mut dyn Tx,
        at: Location,
        line: u64,
        fields: &[&str],
        problems: &mut Problems,
    ) -> Result<(), StoreError> {
        self.report.rows += 1;
        let record = match Record::parse(self.kind, fields) {
            Ok(r) => r,
            Err(errors) => {
                for e in errors {
                    problems.push(self.problem(at, e.column, &e.value, e.message));
                }
                return Ok(());
            }
        };
        let values = record.into_values();
        let mut refs = references_of(self.kind, &values);
        let key = key_of(self.kind, &values);
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        if let Some(first) = self.seen.insert(h.finish(), line) {
            let key_cols: Vec<&str> = self.kind.columns()[..self.kind.key_len()]
                .iter()
                .map(|c| c.name)
                .collect();
            let first = match at {
                Location::Item(_) => format!("item {first}"),
                _ => format!("line {first}"),
            };
            problems.push(self.problem(
                at,
                key_cols[0],
                fields[0],
                format!(
                    "duplicate key: {first} has the same {} ({}) — keep one of the two rows",
                    key_cols.join(" + "),
                    display_key(&key)
                ),
            ));
            return Ok(());
        }
        if refs.iter().any(|r| r.target == self.kind) {
            self.own_keys.insert(key);
            let (own, other): (Vec<_>, Vec<_>) =
                refs.into_iter().partition(|r| r.target == self.kind);
            self.pending.extend(own.into_iter().map(|r| (line, r)));
            refs = other;
        }
        self.batch.push(Row { at, values, refs });
        if self.batch.len() >= BATCH {
            self.flush(tx, problems)?;
        }
        Ok(())
    }

    /// Sends the queued rows to the backend and books the outcomes.
    fn flush(&mut self, tx: &mut dyn Tx, problems: &mut Problems) -> Result<(), StoreError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let outcomes = tx.apply(self.kind, &self.batch)?;
        let mut audit = Vec::new();
        for (row, outcome) in self.batch.iter().zip(outcomes) {
            match outcome {
                Outcome::Created => self.report.created += 1,
                Outcome::Unchanged => self.report.unchanged += 1,
                Outcome::Updated { before } => {
                    self.report.updated += 1;
                    audit.push(AuditRecord {
                        seq: 0,
                        at: self.change.at,
                        actor: self.change.actor.clone(),
                        action: "update".into(),
                        entity_kind: self.kind.name().into(),
                        entity_key: display_key(&key_of(self.kind, &row.values)),
                        note: format!("import {}", self.file),
                        before: Some(values_json(self.kind, &before)),
                        after: Some(values_json(self.kind, &row.values)),
                    });
                }
                Outcome::MissingRef(i) => {
                    let r = &row.refs[i];
                    problems.push(self.problem(row.at, r.column, &r.key, missing_message(r)));
                }
                Outcome::Refused { column, message } => {
                    let col = self
                        .kind
                        .columns()
                        .iter()
                        .position(|c| c.name == column)
                        .map_or(String::new(), |i| row.values[i].to_csv());
                    problems.push(self.problem(row.at, column, &col, message));
                }
            }
        }
        self.batch.clear();
        self.audit.append(tx, audit)
    }

    /// Resolves self-references once the whole file is known.
    fn finish(&mut self, tx: &mut dyn Tx, problems: &mut Problems) -> Result<(), StoreError> {
        self.flush(tx, problems)?;
        for (line, r) in std::mem::take(&mut self.pending) {
            if !self.own_keys.contains(&r.key) && !tx.exists(r.target, &r.key)? {
                problems.push(self.problem(
                    Location::Line(line),
                    r.column,
                    &r.key,
                    missing_message(&r),
                ));
            }
        }
        Ok(())
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
    for (i, input) in inputs.iter().enumerate() {
        match header(input).and_then(|h| layout(input, &h, options.kind)) {
            Ok(l) => plan.push((i, l)),
            Err(message) => problems.push(file_problem(&input.name, message)),
        }
    }
    if !problems.list.is_empty() {
        return Err(problems.into_error().unwrap_or_else(|| unreachable!()));
    }
    plan.sort_by_key(|(i, l)| (l.kind, *i));
    let (seq, hash) = tx.audit_head()?;
    let mut chain = AuditChain { seq, hash };
    let mut files = Vec::new();
    for (i, layout) in plan {
        let input = &inputs[i];
        let mut run = FileRun {
            file: &input.name,
            kind: layout.kind,
            change,
            batch: Vec::with_capacity(BATCH),
            seen: HashMap::default(),
            own_keys: HashSet::new(),
            pending: Vec::new(),
            report: FileReport {
                file: input.name.clone(),
                kind: layout.kind,
                sha256: String::new(),
                rows: 0,
                created: 0,
                updated: 0,
                unchanged: 0,
            },
            audit: chain,
        };
        tx.begin_bulk(layout.kind, input.len())?;
        if let Some(p) = &options.progress {
            p.start(&input.name, input.len());
        }
        let read = if input.is_json() {
            read_json(tx, input, &layout, &mut run, &mut problems)
        } else {
            read_csv(tx, input, &layout, options, &mut run, &mut problems)
        };
        if let Some(p) = &options.progress {
            p.finish();
        }
        run.report.sha256 = read?;
        run.finish(tx, &mut problems)?;
        tx.end_bulk()?;
        let r = &run.report;
        if r.created + r.updated > 0 {
            let summary = serde_json::json!({
                "file": r.file, "sha256": r.sha256, "rows": r.rows,
                "created": r.created, "updated": r.updated, "unchanged": r.unchanged,
            });
            let record = AuditRecord {
                seq: 0,
                at: change.at,
                actor: change.actor.clone(),
                action: "import".into(),
                entity_kind: r.kind.name().into(),
                entity_key: r.file.clone(),
                note: String::new(),
                before: None,
                after: Some(summary.to_string()),
            };
            run.audit.append(tx, vec![record])?;
        }
        files.push(run.report);
        chain = run.audit;
    }
    if let Some(e) = problems.into_error() {
        return Err(e);
    }
    tx.set_audit_head(chain.seq, &chain.hash)?;
    Ok(ImportReport {
        files,
        checked_only: options.check_only,
    })
}

/// The column names of a file: its first CSV record, or the keys of its first JSON object.
fn header(input: &ImportInput) -> Result<Vec<String>, String> {
    let reader = input.open().map_err(|e| e.to_string())?;
    if input.is_json() {
        let items = parse_json(reader)?;
        return Ok(items
            .first()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default());
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => Ok(rec
            .iter()
            .map(|s| s.trim_start_matches('\u{feff}').to_owned())
            .collect()),
        Ok(false) => Err("the file is empty — it needs a header line naming its columns".into()),
        Err(e) => Err(csv_message(&e)),
    }
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => {
            "the text is not UTF-8 — save the file as \"CSV UTF-8\" and import it again".into()
        }
        _ => format!("{e} — check the file is comma-separated text"),
    }
}

/// Streams a CSV file's rows into the run; returns the file's SHA-256.
fn read_csv(
    tx: &mut dyn Tx,
    input: &ImportInput,
    layout: &Layout,
    options: &ImportOptions,
    run: &mut FileRun<'_>,
    problems: &mut Problems,
) -> Result<String, StoreError> {
    let hashing = Hashing {
        inner: input.open()?,
        hasher: Sha256::new(),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(hashing);
    let mut rec = csv::StringRecord::new();
    let mut width = 0;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if let csv::ErrorKind::Io(io) = e.kind() {
                    return Err(StoreError::Database(format!("{}: {io}", input.name)));
                }
                problems.push(ImportProblem {
                    file: input.name.clone(),
                    at: Location::Line(line),
                    column: None,
                    value: None,
                    message: csv_message(&e),
                });
                continue;
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        if width == 0 {
            width = rec.len(); // the header, already understood
            continue;
        }
        if line.is_multiple_of(4096) {
            if let Some(p) = &options.progress {
                p.advance(rdr.position().byte());
            }
        }
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue; // spreadsheets leave rows of bare commas at the end
        }
        if rec.len() != width {
            problems.push(ImportProblem {
                file: input.name.clone(),
                at: Location::Line(line),
                column: None,
                value: None,
                message: format!(
                    "the row has {} fields but the header has {width} — quote values that contain commas",
                    rec.len()
                ),
            });
            continue;
        }
        let fields: Vec<&str> = layout.index.iter().map(|&i| &rec[i]).collect();
        run.row(tx, Location::Line(line), line, &fields, problems)?;
    }
    Ok(hex::encode(rdr.into_inner().hasher.finalize()))
}

fn parse_json(
    reader: impl Read,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
    serde_json::from_reader(reader).map_err(|e| {
        format!(
            "not a JSON array of objects ({e}) — export one with `cardwatch export KIND --format json`"
        )
    })
}

/// Reads a JSON array of objects (as `export --format json` writes) into the run.
fn read_json(
    tx: &mut dyn Tx,
    input: &ImportInput,
    layout: &Layout,
    run: &mut FileRun<'_>,
    problems: &mut Problems,
) -> Result<String, StoreError> {
    let mut bytes = Vec::new();
    input
        .open()?
        .read_to_end(&mut bytes)
        .map_err(|e| StoreError::Database(format!("{}: {e}", input.name)))?;
    let items = parse_json(&bytes[..])
        .map_err(|m| StoreError::Rejected(vec![file_problem(&input.name, m)]))?;
    let columns = layout.kind.columns();
    for (n, item) in items.iter().enumerate() {
        let n = n as u64 + 1;
        let at = Location::Item(n);
        if let Some(extra) = item
            .keys()
            .find(|k| !columns.iter().any(|c| c.name == k.as_str()))
        {
            problems.push(ImportProblem {
                file: input.name.clone(),
                at,
                column: Some(extra.clone()),
                value: None,
                message: format!("{extra:?} is not a column of {} — remove it", layout.kind),
            });
            continue;
        }
        let owned: Vec<String> = columns
            .iter()
            .map(|c| match item.get(c.name) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Bool(b)) => if *b { "yes" } else { "no" }.to_owned(),
                Some(other) => other.to_string(),
            })
            .collect();
        let fields: Vec<&str> = owned.iter().map(String::as_str).collect();
        run.row(tx, at, n, &fields, problems)?;
    }
    Ok(hex::encode(Sha256::digest(&bytes)))
}

fn missing_message(r: &Reference) -> String {
    let hint = match r.target {
        Kind::Organisations => "import organisations.csv with it first, or correct the code",
        Kind::Sites => "add the site to sites.csv, or correct the code",
        Kind::People => "add the person to people.csv, or correct the UUID",
        Kind::Cards => "add the card to cards.csv, or correct the serial",
        Kind::Workstations => "add the workstation to workstations.csv, or correct the hostname",
        _ => "add it first, or correct the reference",
    };
    format!("no such {} in the estate — {hint}", singular(r.target))
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
    }
}
