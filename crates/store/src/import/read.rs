//! The reading half of an import, run on a thread of its own so that parsing and validating
//! one batch overlaps with the database writing the one before: header to layout, CSV (streamed)
//! or JSON to validated rows, duplicate keys found, every problem kept with its line.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender};

use cardwatch_core::cim::{CimMapping, Matched};
use cardwatch_core::ods::{self, Extract, OdsOrganisation};
use cardwatch_core::records::{
    display_key, key_of, references_of, to_values, Cell, Column, Kind, Record, Reference,
    MAX_COLUMNS,
};
use sha2::{Digest, Sha256};

use super::key_code::{find_near, KeyCode, SeenCodes};
use super::{ImportInput, ImportOptions, ImportProblem, Location, Problems, BATCH};
use crate::batch::{Batch, Keep};
use crate::StoreError;

/// A JSON document, read and parsed once when its header is looked at.
pub(super) struct JsonDoc {
    items: Vec<serde_json::Map<String, serde_json::Value>>,
    sha256: String,
}

/// A file's column names, and for JSON the document they came from; or, for a file NHS England
/// publishes (an ODS extract, an ORD record), which one it is.
pub(super) struct Header {
    names: Vec<String>,
    json: Option<JsonDoc>,
    ods: Option<Ods>,
}

/// A published organisation file: read into organisation and site rows (`core::ods`).
#[derive(Clone)]
pub(super) enum Ods {
    /// `epraccur.csv` or `ebranchs.csv`, read again for each kind it gives.
    Extract(Extract),
    /// The ORD API's record of one practice, already read, with its file's SHA-256.
    Ord(Box<OdsOrganisation>, String),
}

/// How a file's columns map onto its kind's canonical columns.
pub(super) struct Layout {
    pub(super) kind: Kind,
    /// For each canonical column, its index in the file's rows, or `None` when the header
    /// leaves that (optional) column out.
    index: Vec<Option<usize>>,
    /// The columns the header leaves out, which every row keeps as stored.
    absent: Keep,
    json: Option<JsonDoc>,
    /// A published organisation file, read as this layout's kind.
    ods: Option<Ods>,
    /// A Care Identity Management report export, read through the mapping.
    pub(super) cim: Option<Matched>,
    /// Files of one kind apply in this order, then as given (branches after the practices
    /// they name).
    pub(super) rank: u8,
}

/// The layouts a file is read in: one, or for a published organisation file one per kind it
/// gives (organisations, then sites).
pub(super) fn layouts(
    input: &ImportInput,
    header: Header,
    forced: Option<Kind>,
    mapping: &CimMapping,
) -> Result<Vec<Layout>, String> {
    let Some(ods) = header.ods else {
        // A file Cardwatch's own header names fit is read as before, whatever a mapping says.
        if header.json.is_none() && Kind::from_header(&header.names).is_none() {
            if let Some(matched) = mapping.recognise(&header.names, forced)? {
                return cim_layout(matched, mapping).map(|l| vec![l]);
            }
        }
        return layout(input, header, forced).map(|l| vec![l]);
    };
    let rank = match &ods {
        Ods::Extract(e) => e.rank(),
        Ods::Ord(..) => Extract::Ord.rank(),
    };
    Ok([Kind::Organisations, Kind::Sites]
        .into_iter()
        .map(|kind| Layout {
            kind,
            index: Vec::new(),
            absent: 0,
            json: None,
            ods: Some(ods.clone()),
            cim: None,
            rank,
        })
        .collect())
}

/// The layout of a Care Identity Management export: its kind and columns come from the
/// mapping; a required column it has no header for refuses the file, naming the headers looked
/// for.
fn cim_layout(matched: Matched, mapping: &CimMapping) -> Result<Layout, String> {
    let missing = matched.missing(mapping);
    if !missing.is_empty() {
        return Err(format!(
            "read as Care Identity Management's {} report: {}",
            matched.report,
            missing.join("; ")
        ));
    }
    Ok(Layout {
        kind: matched.kind,
        index: Vec::new(),
        absent: matched.keep(),
        json: None,
        ods: None,
        cim: Some(matched),
        rank: 0,
    })
}

/// Decides a file's kind and column layout from its header, or says exactly what is wrong.
fn layout(input: &ImportInput, header: Header, forced: Option<Kind>) -> Result<Layout, String> {
    let norm: Vec<String> = header
        .names
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
            let (shared, best) = Kind::ALL
                .into_iter()
                .map(|k| {
                    let shared = k
                        .columns()
                        .iter()
                        .filter(|c| norm.iter().any(|h| h == c.name));
                    (shared.count(), k)
                })
                .max()
                .unwrap_or((0, Kind::Organisations));
            // A guess from a minority of the columns would blame the wrong kind's columns
            // (a Care Identity Management export with headers no mapping knows shares a "Name"
            // or "Status" with organisations), so the message asks for the kind instead.
            if shared == 0 || shared * 2 < norm.len() {
                return Err(format!(
                    "cannot tell what this file holds from its header ({}) — the header must name \
                     the columns of one kind (see docs/IMPORT.md), or pass --kind; a Care \
                     Identity Management report export needs a mapping that names its headers \
                     (--mapping FILE, or [import] mapping in the configuration)",
                    header.names.join(",")
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
    let mut absent: Keep = 0;
    for (n, c) in kind.columns().iter().enumerate() {
        match norm.iter().position(|h| h == c.name) {
            Some(i) => index.push(Some(i)),
            // An optional column left out says nothing about the records: see `Row::keep`.
            None if c.may_be_absent() => {
                index.push(None);
                absent |= 1 << n;
            }
            None => problems.push(format!(
                "column {} is missing — it is required: add it to the header and fill it in",
                c.name
            )),
        }
    }
    if problems.is_empty() {
        Ok(Layout {
            kind,
            index,
            absent,
            json: header.json,
            ods: None,
            cim: None,
            rank: 0,
        })
    } else {
        let (required, optional): (Vec<&Column>, Vec<&Column>) =
            kind.columns().iter().partition(|c| !c.may_be_absent());
        let names = |cs: Vec<&Column>| cs.iter().map(|c| c.name).collect::<Vec<_>>().join(",");
        Err(format!(
            "{} — a {kind} file has these columns, in any order: {} (required), {} (optional)",
            problems.join("; "),
            names(required),
            names(optional),
        ))
    }
}

/// The column names of a file: its first CSV record, or the keys of its first JSON object; or
/// that it is a published organisation file — an ODS extract, known by its name and its first
/// line's shape (it has no header), or an ORD record, known by its `Organisation`.
pub(super) fn header(input: &ImportInput, forced: Option<Kind>) -> Result<Header, String> {
    let mut reader = input.open().map_err(|e| e.to_string())?;
    if input.is_json() {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if forced.is_none() {
            if let Ok(doc @ serde_json::Value::Object(_)) =
                serde_json::from_slice::<serde_json::Value>(&bytes)
            {
                if doc.get("Organisation").is_some() {
                    let org = ods::parse_ord(&doc)?;
                    return Ok(Header {
                        names: Vec::new(),
                        json: None,
                        ods: Some(Ods::Ord(Box::new(org), sha256)),
                    });
                }
            }
        }
        let items = parse_json(&bytes[..])?;
        return Ok(Header {
            names: items
                .first()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default(),
            json: Some(JsonDoc { items, sha256 }),
            ods: None,
        });
    }
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => {
            let names: Vec<String> = rec
                .iter()
                .map(|s| s.trim_start_matches('\u{feff}').to_owned())
                .collect();
            let extract = Extract::from_name(&input.name).filter(|_| forced.is_none());
            let ods = match extract {
                Some(e) => {
                    let first: Vec<&str> = names.iter().map(String::as_str).collect();
                    if !ods::looks_like(&first) {
                        return Err(format!(
                            "named like {} but its first line is not one ({} fields, the first an \
                             ODS code, no header) — import the file as NHS England publishes it, \
                             or rename it if it is not an extract",
                            e.describe(),
                            ods::FIELDS
                        ));
                    }
                    Some(Ods::Extract(e))
                }
                None => None,
            };
            Ok(Header {
                names,
                json: None,
                ods,
            })
        }
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

fn parse_json(
    reader: impl Read,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, String> {
    serde_json::from_reader(reader).map_err(|e| {
        format!(
            "not a JSON array of objects ({e}) — export one with `cardwatch export KIND --format json`"
        )
    })
}

/// What reading a file produced besides its rows.
pub(super) struct Parsed {
    /// SHA-256 of the file's bytes.
    pub(super) sha256: String,
    /// Data rows read (good or bad).
    pub(super) rows: u64,
    /// Problems found while reading.
    pub(super) problems: Problems,
    /// Self-references to resolve once all rows are written: (line, reference).
    pub(super) pending: Vec<(u64, Reference)>,
    /// Keys of this file, for those self-references.
    pub(super) own_keys: HashSet<String>,
    /// The codes of every key in the file, sorted: later files' references are looked up here.
    pub(super) key_codes: Vec<KeyCode>,
    /// Codes of an ODS practices extract's other prescribing settings, left out.
    pub(super) not_practices: Vec<String>,
}

/// The codes of the keys each kind's files in this import hold (sorted), so references to rows
/// this import is writing can be recognised without asking the database.
pub(super) type Loaded = [Option<std::sync::Arc<Vec<KeyCode>>>; Kind::ALL.len()];

/// What the files read earlier in this import hold.
#[derive(Default)]
pub(super) struct Earlier {
    /// Their keys, by kind.
    pub(super) keys: Loaded,
    /// Codes an ODS practices extract left out as other prescribing settings (walk-in centres,
    /// out-of-hours services…): a branch surgery they run is not a practice's either, and is left
    /// out with them rather than refused for a parent the estate does not hold.
    pub(super) not_practices: HashSet<String>,
}

/// Validates rows and sends them on in batches.
struct Parser<'a> {
    file: &'a str,
    kind: Kind,
    send: SyncSender<Batch>,
    /// Batches the writer has finished with, to fill again.
    recycle: Receiver<Batch>,
    batch: Batch,
    /// Code of each key seen so far → its line. 64 bits keep memory flat on national files. A
    /// hashed key (not a packed one) could share its code with another: the chance among 2 million
    /// is about one in ten million, and the second row would be refused as a duplicate.
    seen: SeenCodes,
    loaded: &'a Earlier,
    /// Per reference column, where in its earlier file's keys the last lookup ended.
    near: Vec<usize>,
    parsed: Parsed,
    /// For a Care Identity Management export, the mapping that names its headers in problems.
    cim: Option<&'a Matched>,
}

/// The applying side has stopped (it failed, and will report why).
struct Stopped;

impl Parser<'_> {
    fn problem(&mut self, at: Location, column: &str, value: &str, message: String) {
        self.parsed.problems.push(ImportProblem {
            file: self.file.to_owned(),
            at,
            column: Some(column.to_owned()),
            value: Some(value.to_owned()),
            message,
        });
    }

    fn file_problem(&mut self, at: Location, message: String) {
        self.parsed.problems.push(ImportProblem {
            file: self.file.to_owned(),
            at,
            column: None,
            value: None,
            message,
        });
    }

    /// Validates one row (fields in canonical order; those in `keep` were not in the file and
    /// are empty) and queues it.
    fn row(&mut self, at: Location, line: u64, fields: &[&str], keep: Keep) -> Result<(), Stopped> {
        self.parsed.rows += 1;
        match Record::parse(self.kind, fields) {
            Ok(record) => record.with_cells(|cells| self.accept(at, line, fields, cells, keep)),
            Err(errors) => {
                for e in errors {
                    // An export's problem names the header the value was read from too.
                    let column = match self.cim {
                        Some(m) => m.label(e.column),
                        None => e.column.to_owned(),
                    };
                    self.problem(at, &column, &e.value, e.message);
                }
                Ok(())
            }
        }
    }

    /// Queues a valid row unless its key was seen before.
    fn accept(
        &mut self,
        at: Location,
        line: u64,
        fields: &[&str],
        cells: &[Cell<'_>],
        keep: Keep,
    ) -> Result<(), Stopped> {
        // No string is built for the key on the common path.
        let key_len = self.kind.key_len();
        let code = KeyCode::of(&cells[..key_len]);
        let first_part = if key_len == 1 {
            code
        } else {
            KeyCode::of(&cells[..1])
        };
        if let Some(first) = self.seen.insert(code, first_part, line) {
            let key = key_of(self.kind, &to_values(cells));
            let key_cols: Vec<&str> = self.kind.columns()[..key_len]
                .iter()
                .map(|c| c.name)
                .collect();
            let first = match at {
                Location::Item(_) => format!("item {first}"),
                _ => format!("line {first}"),
            };
            let message = format!(
                "duplicate key: {first} has the same {} ({}) — keep one of the two rows",
                key_cols.join(" + "),
                display_key(&key)
            );
            self.problem(at, key_cols[0], fields[0], message);
            return Ok(());
        }
        if self
            .kind
            .reference_columns()
            .iter()
            .any(|r| r.1 == self.kind)
        {
            let values = to_values(cells);
            self.parsed.own_keys.insert(key_of(self.kind, &values));
            let own = references_of(self.kind, &values)
                .into_iter()
                .filter(|r| r.target == self.kind);
            self.parsed.pending.extend(own.map(|r| (line, r)));
        }
        let refs_loaded = self.refs_loaded(cells);
        self.batch.push(at, cells, refs_loaded, keep);
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Whether every reference of the row names a key that an earlier file of this import holds,
    /// certainly: a match on a hashed key's code does not count.
    fn refs_loaded(&mut self, cells: &[Cell<'_>]) -> bool {
        let mut any = false;
        for (n, &(col, target)) in self.kind.reference_columns().iter().enumerate() {
            if target == self.kind || cells[col] == Cell::Null {
                continue;
            }
            let code = KeyCode::of(&cells[col..=col]);
            let found = code.exact()
                && self.loaded.keys[target as usize]
                    .as_ref()
                    .is_some_and(|keys| find_near(keys, code, &mut self.near[n]));
            if !found {
                return false;
            }
            any = true;
        }
        any
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let next = match self.recycle.try_recv() {
            Ok(mut used) => {
                used.clear();
                used
            }
            Err(_) => Batch::with_capacity(self.kind, BATCH),
        };
        let batch = std::mem::replace(&mut self.batch, next);
        self.send.send(batch).map_err(|_| Stopped)
    }
}

/// Reads a whole file, sending its validated rows in batches. Returns when the file is read or
/// the receiver has gone.
pub(super) fn parse_file(
    input: &ImportInput,
    layout: &Layout,
    options: &ImportOptions,
    send: SyncSender<Batch>,
    recycle: Receiver<Batch>,
    loaded: &Earlier,
) -> Result<Parsed, StoreError> {
    let mut p = Parser {
        file: &input.name,
        kind: layout.kind,
        send,
        recycle,
        batch: Batch::with_capacity(layout.kind, BATCH),
        seen: SeenCodes::default(),
        loaded,
        near: vec![0; layout.kind.reference_columns().len()],
        parsed: Parsed {
            sha256: String::new(),
            rows: 0,
            problems: Problems::default(),
            pending: Vec::new(),
            own_keys: HashSet::new(),
            key_codes: Vec::new(),
            not_practices: Vec::new(),
        },
        cim: layout.cim.as_ref(),
    };
    let sha256 = match (&layout.json, &layout.ods) {
        (_, Some(Ods::Extract(extract))) => read_ods(input, *extract, options, &mut p)?,
        (_, Some(Ods::Ord(org, sha256))) => {
            let _ = ods_rows(
                org,
                layout.kind,
                Location::Item(1),
                1,
                &mut HashSet::new(),
                &mut p,
            );
            sha256.clone()
        }
        (Some(doc), None) => read_json(doc, layout.kind, &mut p),
        (None, None) => read_csv(input, layout, options, &mut p)?,
    };
    // A closed channel means the writer failed; its error is the one reported.
    let _ = p.flush();
    p.parsed.sha256 = sha256;
    // Sorted codes answer by binary search.
    p.parsed.key_codes = std::mem::take(&mut p.seen).into_sorted();
    Ok(p.parsed)
}

/// Streams a CSV file's rows into the parser; returns the file's SHA-256.
fn read_csv(
    input: &ImportInput,
    layout: &Layout,
    options: &ImportOptions,
    p: &mut Parser<'_>,
) -> Result<String, StoreError> {
    let hashing = Hashing {
        inner: input.open()?,
        hasher: Sha256::new(),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(Lf::new(hashing));
    let mut rec = csv::StringRecord::new();
    let mut width = 0;
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let message = csv_message(&e);
                if let csv::ErrorKind::Io(source) = e.into_kind() {
                    let path = input.name.clone().into();
                    return Err(StoreError::Io { path, source });
                }
                p.file_problem(Location::Line(line), message);
                continue;
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        if width == 0 {
            width = rec.len(); // the header, already understood
            continue;
        }
        if line.is_multiple_of(4096) {
            if let Some(progress) = &options.progress {
                progress.advance(rdr.position().byte());
            }
        }
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue; // spreadsheets leave rows of bare commas at the end
        }
        if rec.len() != width {
            let message = format!(
                "the row has {} fields but the header has {width} — quote values that contain commas",
                rec.len()
            );
            p.file_problem(Location::Line(line), message);
            continue;
        }
        if let Some(cim) = &layout.cim {
            let read: Vec<&str> = rec.iter().collect();
            let owned = cim.row(&read);
            let fields: Vec<&str> = owned.iter().map(String::as_str).collect();
            if p.row(Location::Line(line), line, &fields, layout.absent)
                .is_err()
            {
                break;
            }
            continue;
        }
        let mut fields = [""; MAX_COLUMNS];
        for (f, i) in fields.iter_mut().zip(&layout.index) {
            if let Some(i) = *i {
                // A cell Cardwatch's export guarded against spreadsheets reads back as it was.
                *f = crate::csv_out::restore(&rec[i]);
            }
        }
        let fields = &fields[..layout.index.len()];
        if p.row(Location::Line(line), line, fields, layout.absent)
            .is_err()
        {
            break;
        }
    }
    Ok(hex::encode(rdr.into_inner().inner.hasher.finalize()))
}

/// Streams an ODS extract's lines into the parser as rows of its kind; returns the file's
/// SHA-256. The file is read once per kind: a damaged line is reported by the first reading
/// (organisations) and passed over by the second.
fn read_ods(
    input: &ImportInput,
    extract: Extract,
    options: &ImportOptions,
    p: &mut Parser<'_>,
) -> Result<String, StoreError> {
    let hashing = Hashing {
        inner: input.open()?,
        hasher: Sha256::new(),
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(Lf::new(hashing));
    let report = p.kind == Kind::Organisations;
    let mut rec = csv::StringRecord::new();
    // The ICBs and sub-ICB locations already given, each once however many practices name it.
    let mut given = HashSet::new();
    loop {
        match rdr.read_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                let message = csv_message(&e);
                if let csv::ErrorKind::Io(source) = e.into_kind() {
                    let path = input.name.clone().into();
                    return Err(StoreError::Io { path, source });
                }
                if report {
                    p.file_problem(Location::Line(line), message);
                }
                continue;
            }
        }
        let line = rec.position().map_or(0, |p| p.line());
        if line.is_multiple_of(4096) {
            if let Some(progress) = &options.progress {
                progress.advance(rdr.position().byte());
            }
        }
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let fields: Vec<&str> = rec.iter().collect();
        let org = match ods::parse_line(extract, &fields) {
            Ok(org) => org,
            Err(errors) => {
                for e in errors.into_iter().filter(|_| report) {
                    p.problem(Location::Line(line), &e.column, &e.value, e.message);
                }
                continue;
            }
        };
        // Walk-in centres, out-of-hours services and the like share the file: not practices,
        // and neither are the branch surgeries they run.
        if !org.gp_practice {
            if report && extract == Extract::Practices {
                p.parsed.not_practices.push(org.code.to_string());
            }
            continue;
        }
        let parent = org.commissioner.as_ref().map(ToString::to_string);
        if extract == Extract::Branches
            && parent.is_some_and(|c| p.loaded.not_practices.contains(&c))
        {
            continue;
        }
        if ods_rows(&org, p.kind, Location::Line(line), line, &mut given, p).is_err() {
            break;
        }
    }
    Ok(hex::encode(rdr.into_inner().inner.hasher.finalize()))
}

/// Queues the rows of `kind` one published organisation gives; its ICB and sub-ICB location
/// only the first time (`given`).
fn ods_rows(
    org: &OdsOrganisation,
    kind: Kind,
    at: Location,
    line: u64,
    given: &mut HashSet<String>,
    p: &mut Parser<'_>,
) -> Result<(), Stopped> {
    let rows = match kind {
        Kind::Organisations => org.organisations(),
        _ => vec![org.site()],
    };
    let own = org.code.to_string();
    for row in rows {
        if row.fields[0] != own && !given.insert(row.fields[0].clone()) {
            continue;
        }
        let fields: Vec<&str> = row.fields.iter().map(String::as_str).collect();
        p.row(at, line, &fields, row.keep)?;
    }
    Ok(())
}

/// Feeds a JSON array of objects (as `export --format json` writes) to the parser; returns
/// the document's SHA-256.
fn read_json(doc: &JsonDoc, kind: Kind, p: &mut Parser<'_>) -> String {
    let items = &doc.items;
    let columns = kind.columns();
    for (n, item) in items.iter().enumerate() {
        let n = n as u64 + 1;
        let at = Location::Item(n);
        if let Some(extra) = item
            .keys()
            .find(|k| !columns.iter().any(|c| c.name == k.as_str()))
        {
            let message = format!("{extra:?} is not a column of {kind} — remove it");
            p.problem(at, extra, "", message);
            continue;
        }
        // A key left out of an item, like a column left out of a CSV header, says nothing about
        // the stored record; `null` or "" clears it.
        let mut keep: Keep = 0;
        for (n, c) in columns.iter().enumerate() {
            if c.may_be_absent() && !item.contains_key(c.name) {
                keep |= 1 << n;
            }
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
        if p.row(at, n, &fields, keep).is_err() {
            break;
        }
    }
    doc.sha256.clone()
}

/// A reader that turns each CRLF into LF. The csv crate numbers the records after a CRLF one
/// line short (rust-csv issue #395: it stops at the `\r` and counts the line at the `\n`), and
/// a spreadsheet saved on Windows writes CRLF: without this, every problem in such a file would
/// name the line above the bad one.
struct Lf<R> {
    inner: R,
    /// A `\r` that ended the last read, held back until the next byte shows whether a `\n`
    /// follows.
    held_cr: bool,
}

impl<R> Lf<R> {
    fn new(inner: R) -> Lf<R> {
        Lf {
            inner,
            held_cr: false,
        }
    }
}

impl<R: Read> Read for Lf<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.len() < 2 {
            // Too small to hold back a byte: pass through (csv's buffer is never this small).
            if std::mem::take(&mut self.held_cr) && !buf.is_empty() {
                buf[0] = b'\r';
                return Ok(1);
            }
            return self.inner.read(buf);
        }
        loop {
            let start = usize::from(self.held_cr);
            let n = self.inner.read(&mut buf[start..])?;
            if self.held_cr {
                buf[0] = b'\r';
            }
            let total = start + n;
            if n == 0 {
                // The end: a held `\r` is a lone one.
                self.held_cr = false;
                return Ok(total);
            }
            if !buf[..total].contains(&b'\r') {
                // The common case (LF files): nothing to do, found at memchr's speed.
                return Ok(total);
            }
            let mut w = 0;
            for i in 0..total {
                if i + 1 < total && buf[i] == b'\r' && buf[i + 1] == b'\n' {
                    continue;
                }
                buf[w] = buf[i];
                w += 1;
            }
            self.held_cr = buf[w - 1] == b'\r';
            if self.held_cr {
                w -= 1;
            }
            if w > 0 {
                return Ok(w);
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes a few at a time, as a slow pipe would.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(self.0.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn crlf_becomes_lf_whatever_the_chunks_and_a_lone_cr_stays() {
        let input = b"a,b\r\n1,2\r\n\"x\ry\",3\r\nend\r";
        for chunk in 1..=input.len() {
            for buf in [2usize, 3, 8, 64] {
                let mut r = Lf::new(Trickle(input, chunk));
                let mut out = Vec::new();
                let mut b = vec![0u8; buf];
                loop {
                    let n = r.read(&mut b).expect("read");
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&b[..n]);
                }
                assert_eq!(
                    out, b"a,b\n1,2\n\"x\ry\",3\nend\r",
                    "chunk {chunk}, buffer {buf}"
                );
            }
        }
    }
}
