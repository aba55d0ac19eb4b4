//! Care Identity Management (CIM) report exports, read by header name. NHS England does not
//! publish the exports' column names, so which header fills which Cardwatch column is data
//! (`knowledge/cim-mapping.toml`, shipped, overridable by the operator's own file), and this
//! module only parses that mapping, recognises an export by its header and turns its rows into
//! rows of a Cardwatch kind. The import (crates/store) reads the files.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::records::{Kind, MAX_COLUMNS};

/// The mapping shipped with Cardwatch.
pub const SHIPPED: &str = include_str!("../../../knowledge/cim-mapping.toml");

/// Where the shipped mapping lives, for its errors.
const SHIPPED_NAME: &str = "knowledge/cim-mapping.toml";

/// A header name as compared: letters and digits only, lower-cased, so that "Date of issue",
/// "DATE_OF_ISSUE" and "date-of-issue" are one name (a spreadsheet's byte-order mark and
/// trailing spaces vanish too).
pub fn normalise(header: &str) -> String {
    header
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Columns holding space-separated lists: an export may separate them otherwise.
const LIST_COLUMNS: &[&str] = &[
    "activity_codes",
    "ra_roles",
    "required_roles",
    "required_activity_codes",
    "applications",
];

/// One way of filling a column: one header, or several joined with a space ("Forename +
/// Surname"), each as written and normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spelling {
    /// As written in the mapping, for messages.
    pub written: String,
    /// The headers it joins, normalised.
    parts: Vec<String>,
}

/// One CIM report and how its export becomes a Cardwatch file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The report's name in CIM ("Smartcards").
    pub name: String,
    /// The Cardwatch kind it fills.
    pub kind: Kind,
    /// Columns (by index in the kind) whose headers must all be in a file for it to be this
    /// report.
    pub recognise: Vec<usize>,
    /// Per column (by index), its spellings, first found wins.
    pub columns: BTreeMap<usize, Vec<Spelling>>,
    /// Per column, CIM's values (normalised) and what Cardwatch takes for each.
    pub values: BTreeMap<usize, BTreeMap<String, String>>,
    /// Per column, a value for records the file creates when the export has no such column.
    pub defaults: BTreeMap<usize, String>,
    /// Where the report is described.
    pub source: Option<String>,
}

/// Every report Cardwatch can read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CimMapping {
    /// In the order given, the shipped ones first.
    pub reports: Vec<Report>,
}

/// A mapping file that cannot be used, with the place and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct MappingError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and what to do.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    report: Vec<ReportDoc>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportDoc {
    name: String,
    kind: Option<String>,
    recognise: Option<Vec<String>>,
    #[serde(default)]
    columns: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
    #[serde(default)]
    defaults: BTreeMap<String, String>,
    source: Option<String>,
}

/// Where a column's value comes from in one file.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Source {
    /// Nowhere: the column is optional and the stored record keeps its value.
    Absent,
    /// These fields of the row, joined with a space.
    Fields(Vec<usize>),
    /// The mapping's default, for new records only.
    Default(String),
}

/// An export recognised as one report: how each of its rows becomes a row of the report's kind.
#[derive(Clone, Debug)]
pub struct Matched {
    /// The report's name.
    pub report: String,
    /// The kind the rows become.
    pub kind: Kind,
    /// Per column of the kind, where its value comes from.
    sources: Vec<Source>,
    /// Per column, the value table.
    values: Vec<Option<BTreeMap<String, String>>>,
    /// Per column, the header it was read from, as the file writes it (for messages).
    pub headers: Vec<Option<String>>,
    /// The file's headers the mapping does not use, as written.
    pub ignored: Vec<String>,
}

impl CimMapping {
    /// The shipped mapping (parsed once).
    pub fn shipped() -> &'static CimMapping {
        static SHIPPED_MAPPING: OnceLock<CimMapping> = OnceLock::new();
        // The shipped file is tested; a failure here is a build that was never tested.
        SHIPPED_MAPPING.get_or_init(|| {
            CimMapping::default()
                .with_file(SHIPPED_NAME, SHIPPED)
                .unwrap_or_else(|e| panic!("the shipped CIM mapping is invalid: {e}"))
        })
    }

    /// This mapping with an operator's file laid over it: a report of the same name (any case)
    /// changes what the file gives for it, column by column; a new name adds a report. Refused
    /// with the file's line when the file is malformed or leaves a report unable to fill its kind.
    pub fn with_file(&self, file: &str, text: &str) -> Result<CimMapping, MappingError> {
        let at = |offset: usize, message: String| {
            let before = &text[..offset.min(text.len())];
            MappingError {
                file: file.to_owned(),
                line: before.matches('\n').count() + 1,
                column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
                message,
            }
        };
        let doc: FileDoc = toml::from_str(text).map_err(|e| {
            at(
                e.span().map_or(0, |s| s.start),
                e.message().trim().to_owned(),
            )
        })?;
        let mut out = self.clone();
        let mut seen = Vec::new();
        for r in doc.report {
            // Entries are checked after parsing; each is found again by its name's text, and a
            // key within it by the key's text after that.
            let start = find_from(text, 0, &format!("\"{}\"", r.name));
            let err = |offset: usize, message: String| at(offset, message);
            let name = r.name.trim().to_owned();
            if name.is_empty() {
                return Err(err(start, "a report has an empty name — give CIM's name for it, e.g. name = \"Smartcards\"".into()));
            }
            if seen.contains(&name.to_lowercase()) {
                return Err(err(
                    start,
                    format!("report {name:?} is given twice — keep one [[report]] of that name"),
                ));
            }
            seen.push(name.to_lowercase());
            let base = out
                .reports
                .iter()
                .position(|b| b.name.eq_ignore_ascii_case(&name));
            let kind = match (&r.kind, base) {
                (Some(k), _) => Kind::parse(k).ok_or_else(|| {
                    err(
                        find_key(text, start, "kind"),
                        format!(
                            "report {name:?}: kind {k:?} is not a Cardwatch kind — use one of {}",
                            kinds()
                        ),
                    )
                })?,
                (None, Some(b)) => out.reports[b].kind,
                (None, None) => {
                    return Err(err(
                        start,
                        format!(
                            "report {name:?}: no kind — say which Cardwatch file it fills, e.g. kind = \"cards\" (one of {})",
                            kinds()
                        ),
                    ))
                }
            };
            let column = |key: &str, what: &str| -> Result<usize, MappingError> {
                kind.columns()
                    .iter()
                    .position(|c| c.name == key.trim())
                    .ok_or_else(|| {
                        err(
                            find_key(text, start, key),
                            format!(
                                "report {name:?}: {what} {key:?} is not a column of {kind} — use one of {}",
                                kind.columns()
                                    .iter()
                                    .map(|c| c.name)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })
            };
            let mut report = match base {
                // A new kind for a known report starts it afresh.
                Some(b) if out.reports[b].kind == kind => out.reports[b].clone(),
                _ => Report {
                    name: name.clone(),
                    kind,
                    recognise: Vec::new(),
                    columns: BTreeMap::new(),
                    values: BTreeMap::new(),
                    defaults: BTreeMap::new(),
                    source: None,
                },
            };
            for (key, spellings) in &r.columns {
                let c = column(key, "column")?;
                let mut list = Vec::new();
                for s in spellings {
                    let parts: Vec<String> = s.split('+').map(normalise).collect();
                    if parts.iter().any(String::is_empty) {
                        return Err(err(
                            find_key(text, start, key),
                            format!(
                                "report {name:?}: column {key}: {s:?} names no header — write the header as the export has it, or two joined as \"Forename + Surname\""
                            ),
                        ));
                    }
                    list.push(Spelling {
                        written: s.trim().to_owned(),
                        parts,
                    });
                }
                if list.is_empty() {
                    return Err(err(
                        find_key(text, start, key),
                        format!("report {name:?}: column {key} lists no header — give at least one, or remove the line"),
                    ));
                }
                report.columns.insert(c, list);
            }
            for (key, table) in &r.values {
                let c = column(key, "value table for")?;
                let table = table
                    .iter()
                    .map(|(from, to)| (normalise(from), to.trim().to_owned()))
                    .collect();
                report.values.insert(c, table);
            }
            for (key, value) in &r.defaults {
                let c = column(key, "default for")?;
                report.defaults.insert(c, value.trim().to_owned());
            }
            if let Some(rec) = &r.recognise {
                report.recognise = rec
                    .iter()
                    .map(|k| column(k, "recognised column"))
                    .collect::<Result<_, _>>()?;
            }
            if r.source.is_some() {
                report.source = r.source.clone();
            }
            if report.recognise.is_empty() {
                return Err(err(
                    start,
                    format!(
                        "report {name:?}: recognise names no column — list the Cardwatch columns whose headers tell this report apart, e.g. recognise = [\"card_serial\", \"holder_uuid\"]"
                    ),
                ));
            }
            if let Some(&c) = report
                .recognise
                .iter()
                .find(|c| !report.columns.contains_key(c))
            {
                return Err(err(
                    find_key(text, start, "recognise"),
                    format!(
                        "report {name:?}: recognises {} but gives no header for it — add {} = [\"…\"] under [report.columns]",
                        kind.columns()[c].name,
                        kind.columns()[c].name
                    ),
                ));
            }
            // A report that could never fill a required column would refuse every export.
            for (c, col) in kind.columns().iter().enumerate() {
                if !col.may_be_absent()
                    && !report.columns.contains_key(&c)
                    && !report.defaults.contains_key(&c)
                {
                    return Err(err(
                        start,
                        format!(
                            "report {name:?}: {kind} need {} and the report gives no header or default for it — add {} = [\"…\"] under [report.columns], or a default",
                            col.name, col.name
                        ),
                    ));
                }
            }
            match base {
                Some(b) => out.reports[b] = report,
                None => out.reports.push(report),
            }
        }
        Ok(out)
    }

    /// The report a file's header is an export of, if any: every column its `recognise` names
    /// has a header in the file; when several fit, the one using most of the file's headers
    /// (`kind` narrows the choice). `Err` when two fit equally, naming them.
    /// A header using any of Cardwatch's own column names of several words (`card_serial`)
    /// is never an export.
    pub fn recognise<S: AsRef<str>>(
        &self,
        header: &[S],
        kind: Option<Kind>,
    ) -> Result<Option<Matched>, String> {
        // A header in Cardwatch's own names is a Cardwatch file, even with a column wrong or
        // missing: its problems are named as such, not read as an export. Cardwatch's names of
        // more than one word are joined by `_`; an export's headers are taken to be words with
        // spaces, as CIM's screens show its fields (unconfirmed for the files themselves).
        let own = |h: &str| {
            let h = h.trim().trim_start_matches('\u{feff}');
            h.contains('_')
                && Kind::ALL
                    .iter()
                    .any(|k| k.columns().iter().any(|c| c.name.eq_ignore_ascii_case(h)))
        };
        if header.iter().any(|h| own(h.as_ref())) {
            return Ok(None);
        }
        let norm: Vec<String> = header.iter().map(|h| normalise(h.as_ref())).collect();
        let mut best: Option<(usize, &Report)> = None;
        let mut tied: Option<&Report> = None;
        for r in &self.reports {
            if kind.is_some_and(|k| k != r.kind) {
                continue;
            }
            let fits = r
                .recognise
                .iter()
                .all(|c| r.columns[c].iter().any(|s| find(&norm, s).is_some()));
            if !fits {
                continue;
            }
            let used = r.used(&norm).iter().filter(|u| **u).count();
            match best {
                Some((n, _)) if n > used => {}
                Some((n, _)) if n == used => tied = Some(r),
                _ => {
                    best = Some((used, r));
                    tied = None;
                }
            }
        }
        let Some((_, report)) = best else {
            return Ok(None);
        };
        if let Some(other) = tied {
            return Err(format!(
                "the header fits both the {} and the {} report of Care Identity Management — pass --kind {} or --kind {}",
                report.name, other.name, report.kind, other.kind
            ));
        }
        Ok(Some(report.matched(header, &norm)))
    }
}

impl Report {
    /// Which of the file's headers (normalised) the report reads.
    fn used(&self, norm: &[String]) -> Vec<bool> {
        let mut used = vec![false; norm.len()];
        for spellings in self.columns.values() {
            if let Some(fields) = spellings.iter().find_map(|s| find(norm, s)) {
                for f in fields {
                    used[f] = true;
                }
            }
        }
        used
    }

    fn matched<S: AsRef<str>>(&self, header: &[S], norm: &[String]) -> Matched {
        let cols = self.kind.columns();
        let mut sources = Vec::with_capacity(cols.len());
        let mut headers = Vec::with_capacity(cols.len());
        for c in 0..cols.len() {
            let found = self
                .columns
                .get(&c)
                .and_then(|ss| ss.iter().find_map(|s| find(norm, s)));
            match (found, self.defaults.get(&c)) {
                (Some(fields), _) => {
                    let written: Vec<&str> =
                        fields.iter().map(|&f| header[f].as_ref().trim()).collect();
                    headers.push(Some(
                        written
                            .join(" + ")
                            .trim_start_matches('\u{feff}')
                            .to_owned(),
                    ));
                    sources.push(Source::Fields(fields));
                }
                (None, Some(d)) => {
                    headers.push(None);
                    sources.push(Source::Default(d.clone()));
                }
                (None, None) => {
                    headers.push(None);
                    // A required column left without a source is reported by `missing`.
                    sources.push(Source::Absent);
                }
            }
        }
        let used = self.used(norm);
        let ignored = header
            .iter()
            .zip(&used)
            .filter(|(h, u)| !**u && !normalise(h.as_ref()).is_empty())
            .map(|(h, _)| h.as_ref().trim().trim_start_matches('\u{feff}').to_owned())
            .collect();
        Matched {
            report: self.name.clone(),
            kind: self.kind,
            sources,
            values: (0..cols.len())
                .map(|c| self.values.get(&c).cloned())
                .collect(),
            headers,
            ignored,
        }
    }

    /// The spellings the report looks for, for a message.
    pub fn spellings(&self, column: usize) -> Vec<&str> {
        self.columns
            .get(&column)
            .map(|ss| ss.iter().map(|s| s.written.as_str()).collect())
            .unwrap_or_default()
    }
}

impl Matched {
    /// The required columns the file has no header for, each with the message to give:
    /// the headers the mapping looks for and what to do.
    pub fn missing(&self, mapping: &CimMapping) -> Vec<String> {
        let report = mapping
            .reports
            .iter()
            .find(|r| r.name == self.report && r.kind == self.kind);
        self.kind
            .columns()
            .iter()
            .enumerate()
            .filter(|(c, col)| !col.may_be_absent() && self.sources[*c] == Source::Absent)
            .map(|(c, col)| {
                let looked = report.map(|r| r.spellings(c)).unwrap_or_default();
                format!(
                    "column {} is missing — it is required, and the {} report's mapping looks for a header named {}: export the report with that column, or name your header for {} in a mapping file (--mapping)",
                    col.name,
                    self.report,
                    looked
                        .iter()
                        .map(|s| format!("{s:?}"))
                        .collect::<Vec<_>>()
                        .join(" or "),
                    col.name
                )
            })
            .collect()
    }

    /// The columns of the kind that only count for records the file creates (defaults) or are
    /// not in the file at all: a record already in the store keeps its value there. A bit per
    /// column, as the import's `Keep`.
    pub fn keep(&self) -> u32 {
        self.sources
            .iter()
            .enumerate()
            .filter(|(_, s)| !matches!(s, Source::Fields(_)))
            .fold(0, |k, (c, _)| k | 1 << c)
    }

    /// One row of the export (its fields as read) as a row of the kind, in the kind's column
    /// order: joined headers, CIM's values translated, lists separated by spaces, defaults.
    pub fn row(&self, fields: &[&str]) -> Vec<String> {
        let cols = self.kind.columns();
        let mut out = Vec::with_capacity(MAX_COLUMNS);
        for (c, source) in self.sources.iter().enumerate() {
            let mut v = match source {
                Source::Absent => String::new(),
                Source::Default(d) => d.clone(),
                Source::Fields(fs) => fs
                    .iter()
                    .map(|&f| fields.get(f).map_or("", |s| s.trim()))
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            if let Some(table) = &self.values[c] {
                if let Some(to) = table.get(&normalise(&v)) {
                    v.clone_from(to);
                }
            }
            if LIST_COLUMNS.contains(&cols[c].name) {
                v = v
                    .split([',', ';', '|', '\n'])
                    .flat_map(str::split_whitespace)
                    .collect::<Vec<_>>()
                    .join(" ");
            }
            out.push(v);
        }
        out
    }

    /// A column's name for messages: the Cardwatch name and the header it was read from.
    pub fn label(&self, column: &str) -> String {
        let c = self.kind.columns().iter().position(|c| c.name == column);
        match c.and_then(|c| self.headers[c].as_deref()) {
            Some(h) => format!("{column} ({h})"),
            None => column.to_owned(),
        }
    }
}

/// The fields a spelling names in a header (normalised), if all are there.
fn find(norm: &[String], s: &Spelling) -> Option<Vec<usize>> {
    s.parts
        .iter()
        .map(|p| norm.iter().position(|h| h == p))
        .collect()
}

fn kinds() -> String {
    Kind::ALL.map(Kind::name).join(", ")
}

/// Where `needle` is in `text` at or after `from` (or `from`).
fn find_from(text: &str, from: usize, needle: &str) -> usize {
    text.get(from..)
        .and_then(|t| t.find(needle))
        .map_or(from, |i| from + i)
}

/// Where a line setting `key` starts at or after `from` (or `from`).
fn find_key(text: &str, from: usize, key: &str) -> usize {
    let mut offset = from;
    for line in text.get(from..).unwrap_or("").split_inclusive('\n') {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(key.trim()) {
            if rest.trim_start().starts_with('=') {
                return offset + (line.len() - t.len());
            }
        }
        offset += line.len();
    }
    from
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_compare_without_case_spaces_or_punctuation() {
        assert_eq!(normalise("\u{feff}Date of Issue "), "dateofissue");
        assert_eq!(normalise("DATE_OF_ISSUE"), normalise("date-of-issue"));
    }

    #[test]
    fn the_shipped_mapping_is_valid_and_every_report_cites_a_source() {
        let m = CimMapping::shipped();
        assert!(m.reports.len() >= 3);
        for r in &m.reports {
            let source = r.source.as_deref().unwrap_or_default();
            assert!(source.contains("read 2026-"), "{}: {source}", r.name);
            assert!(source.contains("unconfirmed"), "{}: {source}", r.name);
        }
        // Every spelling in the shipped file sits under a comment saying it is unconfirmed.
        let mut in_columns = false;
        let mut said = false;
        for line in SHIPPED.lines() {
            if line.starts_with('[') {
                in_columns = line == "[report.columns]";
                said = false;
            } else if line.contains("unconfirmed") {
                said = true;
            } else if in_columns && line.contains('=') {
                assert!(said, "{line}: spellings must be marked unconfirmed");
            }
        }
    }

    #[test]
    fn an_export_is_recognised_by_its_headers_and_its_rows_mapped() {
        let header = [
            "\u{feff}Smartcard Serial Number",
            "UUID",
            "Status",
            "Date of issue",
            "Date of expiry",
            "Type",
        ];
        let m = CimMapping::shipped()
            .recognise(&header, None)
            .expect("one report")
            .expect("recognised");
        assert_eq!((m.report.as_str(), m.kind), ("Smartcards", Kind::Cards));
        assert_eq!(m.ignored, ["Date of expiry", "Type"]);
        assert!(m.missing(CimMapping::shipped()).is_empty());
        let row = m.row(&[
            "0912345678",
            "555123456789",
            "Expired",
            "05/12/2026",
            "",
            "PIV",
        ]);
        assert_eq!(
            row,
            ["0912345678", "555123456789", "", "active", "05/12/2026", ""]
        );
        assert_eq!(m.label("issued_on"), "issued_on (Date of issue)");
        // series and last_used_on are not in the file: stored records keep theirs.
        assert_eq!(m.keep(), 1 << 2 | 1 << 5);
    }

    #[test]
    fn names_are_joined_defaults_fill_and_lists_are_spaced() {
        let users = [
            "UUID",
            "Forename",
            "Surname",
            "Org Code",
            "Email",
            "Workgroups",
        ];
        let m = CimMapping::shipped()
            .recognise(&users, None)
            .expect("ok")
            .expect("users");
        assert_eq!(m.kind, Kind::People);
        let row = m.row(&["555123456789", "Asha", "Patel", "a81001", "", "X"]);
        assert_eq!(row[1], "Asha Patel");
        assert_eq!(row[6], "no");
        assert_ne!(
            m.keep() & 1 << 6,
            0,
            "a default counts for new records only"
        );
        let positions = ["UUID", "ODS code", "Role code", "Activities"];
        let m = CimMapping::shipped()
            .recognise(&positions, None)
            .expect("ok")
            .expect("positions");
        let row = m.row(&["555123456789", "A81001", "R8000", "B0420, B0068;B1300"]);
        assert_eq!(row[4], "B0420 B0068 B1300");
        assert_eq!(row[5], "active");
    }

    #[test]
    fn a_cardwatch_header_is_not_an_export() {
        let cards = [
            "card_serial",
            "holder_uuid",
            "series",
            "status",
            "issued_on",
        ];
        assert!(CimMapping::shipped()
            .recognise(&cards, None)
            .expect("ok")
            .is_none());
    }

    #[test]
    fn a_missing_required_column_names_the_headers_looked_for() {
        let m = CimMapping::shipped()
            .recognise(&["Smartcard serial number", "UUID", "Status"], None)
            .expect("ok")
            .expect("smartcards");
        let missing = m.missing(CimMapping::shipped());
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(missing[0].contains("column issued_on is missing"));
        assert!(missing[0].contains("\"Date of issue\""));
    }

    #[test]
    fn an_operators_file_overrides_column_by_column() {
        let text =
            "[[report]]\nname = \"smartcards\"\n[report.columns]\ncard_serial = [\"Card No\"]\n";
        let m = CimMapping::shipped()
            .with_file("mine.toml", text)
            .expect("valid");
        let r = m
            .reports
            .iter()
            .find(|r| r.name == "Smartcards")
            .expect("kept");
        assert_eq!(r.spellings(0), ["Card No"]);
        assert_eq!(
            r.spellings(3),
            CimMapping::shipped().reports[1].spellings(3)
        );
        assert_eq!(m.reports.len(), CimMapping::shipped().reports.len());
    }

    #[test]
    fn a_bad_mapping_file_is_refused_with_its_line() {
        let refused = |text: &str| {
            CimMapping::shipped()
                .with_file("mine.toml", text)
                .expect_err("refused")
        };
        let e = refused("[[report]]\nname = \"Logins\"\nkind = \"logins\"\n");
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("not a Cardwatch kind"), "{e}");
        let e =
            refused("[[report]]\nname = \"Smartcards\"\n[report.columns]\ncolour = [\"Colour\"]\n");
        assert_eq!(e.line, 4, "{e}");
        assert!(
            e.message.contains("\"colour\" is not a column of cards"),
            "{e}"
        );
        let e = refused("[[report]]\nname = \"X\"\nkind = \"cards\"\nrecognise = [\"card_serial\"]\n[report.columns]\ncard_serial = [\"Serial\"]\n");
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("need holder_uuid"), "{e}");
        let e = refused("[[report]]\nname = \"X\"\nkind = \"cards\"\nunknown = 1\n");
        assert_eq!(e.line, 4, "{e}");
        let e = refused(
            "[[report]]\nname = \"Smartcards\"\n[report.columns]\ncard_serial = [\" + \"]\n",
        );
        assert_eq!(e.line, 4, "{e}");
    }

    #[test]
    fn the_documented_mapping_file_is_valid() {
        let doc = include_str!("../../../docs/IMPORT.md");
        let from = doc.find("**A mapping file**").expect("the section");
        let block = doc[from..]
            .split("```toml\n")
            .nth(1)
            .and_then(|b| b.split("```").next())
            .expect("the example");
        let m = CimMapping::shipped()
            .with_file("cim.toml", block)
            .expect("the example is valid");
        let header = [
            "UUID",
            "First name",
            "Last name",
            "Org code",
            "Leaving date",
        ];
        let matched = m.recognise(&header, None).expect("ok").expect("leavers");
        assert_eq!(matched.report, "Leavers");
        let e = CimMapping::shipped()
            .with_file(
                "cim.toml",
                "[[report]]\nname = \"Logins\"\nkind = \"logins\"\n",
            )
            .expect_err("refused");
        assert!(doc.contains(&e.to_string()[..40]), "{e}");
    }

    #[test]
    fn two_reports_that_fit_equally_are_named() {
        let text = "[[report]]\nname = \"Other\"\nkind = \"cards\"\nrecognise = [\"card_serial\"]\n[report.columns]\ncard_serial = [\"Smartcard serial number\"]\nholder_uuid = [\"UUID\"]\nstatus = [\"Status\"]\nissued_on = [\"Date of issue\"]\n";
        let m = CimMapping::shipped()
            .with_file("mine.toml", text)
            .expect("valid");
        let header = ["Smartcard serial number", "UUID", "Status", "Date of issue"];
        let e = m.recognise(&header, None).expect_err("ambiguous");
        assert!(e.contains("Smartcards") && e.contains("Other"), "{e}");
    }
}
