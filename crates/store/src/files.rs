//! Writing records out: export of a kind as CSV or JSON, and the demo estate as CSV files.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use cardwatch_core::demo::{self, DemoConfig};
use cardwatch_core::records::{Cell, Kind};

use crate::csv_out::CsvOut;
use crate::{Store, StoreError};

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header, as `import` reads.
    Csv,
    /// A JSON array of objects keyed by column name, as `import` reads from a `.json` file.
    Json,
}

impl Format {
    /// Parses `csv` or `json`.
    pub fn parse(s: &str) -> Result<Format, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            other => Err(format!("unknown format {other:?} — use csv or json")),
        }
    }
}

/// Writes rows of one kind as CSV or JSON.
#[derive(Debug)]
pub struct RecordWriter<W: Write> {
    kind: Kind,
    out: Out<W>,
    rows: u64,
    line: String,
}

/// Where rows go: CSV through the one CSV writer, JSON written here.
#[derive(Debug)]
enum Out<W: Write> {
    // Boxed: the csv crate's writer carries its buffer's bookkeeping, JSON only the output.
    Csv(Box<CsvOut<W>>),
    Json(W),
}

impl<W: Write> RecordWriter<W> {
    /// Starts the output (the CSV header, or the JSON array's opening).
    pub fn new(kind: Kind, format: Format, mut out: W) -> io::Result<RecordWriter<W>> {
        let out = match format {
            Format::Csv => {
                let mut csv = CsvOut::new(out);
                csv.row(kind.columns().iter().map(|c| c.name))?;
                Out::Csv(Box::new(csv))
            }
            Format::Json => {
                out.write_all(b"[")?;
                Out::Json(out)
            }
        };
        Ok(RecordWriter {
            kind,
            out,
            rows: 0,
            line: String::new(),
        })
    }

    /// Writes one row of values in canonical column order.
    pub fn write(&mut self, cells: &[Cell<'_>]) -> io::Result<()> {
        let out = match &mut self.out {
            Out::Csv(csv) => {
                self.rows += 1;
                return csv.cells(cells);
            }
            Out::Json(out) => out,
        };
        self.line.clear();
        // Written by hand to keep the columns in contract order.
        self.line
            .push_str(if self.rows == 0 { "\n  {" } else { ",\n  {" });
        for (i, (c, v)) in self.kind.columns().iter().zip(cells).enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            self.line.push('"');
            self.line.push_str(c.name);
            self.line.push_str("\":");
            self.line.push_str(&v.to_json().to_string());
        }
        self.line.push('}');
        self.rows += 1;
        out.write_all(self.line.as_bytes())
    }

    /// Ends the output and returns the writer.
    pub fn finish(self) -> io::Result<W> {
        match self.out {
            Out::Csv(csv) => csv.into_inner(),
            Out::Json(mut out) => {
                out.write_all(if self.rows == 0 { b"]\n" } else { b"\n]\n" })?;
                out.flush()?;
                Ok(out)
            }
        }
    }
}
/// Exports every record of a kind, in key order, to `out`. Returns the number of records.
pub fn export(
    store: &dyn Store,
    kind: Kind,
    format: Format,
    out: impl Write,
) -> Result<u64, StoreError> {
    let io = |source| StoreError::Io {
        path: PathBuf::from("(output)"),
        source,
    };
    let mut w = RecordWriter::new(kind, format, out).map_err(io)?;
    let n = store.export(kind, &mut |cells| w.write(cells))?;
    w.finish().map_err(io)?;
    Ok(n)
}

/// Writes the demo estate as one CSV file per kind into `dir` (created if missing). Returns the
/// files written, in import order.
pub fn write_demo(cfg: &DemoConfig, dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let paths: Vec<PathBuf> = Kind::ALL
        .iter()
        .map(|k| dir.join(format!("{}.csv", k.name())))
        .collect();
    let mut writers = Vec::with_capacity(paths.len());
    for (k, p) in Kind::ALL.iter().zip(&paths) {
        let f = File::create(p).map_err(io(p))?;
        writers.push(
            RecordWriter::new(*k, Format::Csv, BufWriter::with_capacity(1 << 16, f))
                .map_err(io(p))?,
        );
    }
    let mut failed: Option<(usize, io::Error)> = None;
    demo::generate(cfg, |record| {
        if failed.is_some() {
            return;
        }
        // Kind::ALL lists the kinds in declaration order, so the discriminant is the index.
        let i = record.kind() as usize;
        if let Err(e) = record.with_cells(|cells| writers[i].write(cells)) {
            failed = Some((i, e));
        }
    });
    if let Some((i, e)) = failed {
        return Err(io(&paths[i])(e));
    }
    for (w, p) in writers.into_iter().zip(&paths) {
        w.finish().map_err(io(p))?;
    }
    Ok(paths)
}
