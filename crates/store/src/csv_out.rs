//! Cardwatch's one CSV writer, and the rule that keeps its files safe to open in a spreadsheet.
//!
//! A cell that begins with `=`, `+`, `-`, `@`, a tab or a carriage return is read by Excel,
//! LibreOffice and Google Sheets as a formula; a holder's name or a note typed as
//! `=HYPERLINK(…)` would run when an operator opens a download. OWASP's guidance on CSV
//! injection (<https://owasp.org/www-community/attacks/CSV_Injection>) is to prefix such a cell
//! with a single quote, which spreadsheets show as text. Every CSV Cardwatch writes goes through
//! [`CsvOut`], which does that; Cardwatch's own import takes the quote off again
//! ([`restore`]), so an exported file imports back to identical values.
//!
//! The rule is written so that it can always be undone: a cell that already begins with quotes
//! followed by one of those characters (`'=x`) gets one more quote too, and [`restore`] takes one
//! quote off any cell of that shape. Any other cell (`O'Brien`, `'quoted`, `-` nowhere at the
//! start) is written and read exactly as it is. Numbers from typed columns ([`Cell::Int`]) are
//! written as numbers: `-5` in a whole-number column is a number to a spreadsheet, not a formula.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

use cardwatch_core::records::Cell;

/// Whether a spreadsheet would take a cell starting with `c` as a formula.
fn triggers(c: u8) -> bool {
    matches!(c, b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
}

/// Whether `s` is quotes (none or more) then a formula's first character.
fn guarded(s: &str, quotes_at_least: usize) -> bool {
    let b = s.as_bytes();
    let quotes = b.iter().take_while(|&&c| c == b'\'').count();
    quotes >= quotes_at_least && b.get(quotes).copied().is_some_and(triggers)
}

/// The cell as written: with a `'` in front when a spreadsheet would run it as a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if guarded(cell, 0) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A cell as read back by Cardwatch's import: [`neutralise`] undone.
pub fn restore(cell: &str) -> &str {
    // The first byte alone settles nearly every cell, which keeps national imports fast.
    if cell.as_bytes().first() == Some(&b'\'') && guarded(cell, 1) {
        &cell[1..]
    } else {
        cell
    }
}

/// CSV rows (RFC 4180, through the `csv` crate) with every text cell neutralised.
#[derive(Debug)]
pub struct CsvOut<W: Write> {
    w: csv::Writer<W>,
    /// Reused for the text of typed cells.
    scratch: String,
}

impl<W: Write> CsvOut<W> {
    /// A writer onto `out`; nothing is written until the first row (the header is a row).
    pub fn new(out: W) -> CsvOut<W> {
        CsvOut {
            w: csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(out),
            scratch: String::new(),
        }
    }

    /// One row of text cells.
    pub fn row<I, F>(&mut self, cells: I) -> io::Result<()>
    where
        I: IntoIterator<Item = F>,
        F: AsRef<str>,
    {
        for cell in cells {
            self.w.write_field(neutralise(cell.as_ref()).as_bytes())?;
        }
        self.w.write_record(None::<&[u8]>)?;
        Ok(())
    }

    /// One row of typed cells, as the import contract gives them: text neutralised, numbers,
    /// dates, moments and yes/no as they are (none of them can start a formula but a negative
    /// number, which a spreadsheet reads as that number).
    pub fn cells(&mut self, cells: &[Cell<'_>]) -> io::Result<()> {
        for cell in cells {
            match cell {
                Cell::Text(s) => self.w.write_field(neutralise(s).as_bytes())?,
                Cell::Null => self.w.write_field(b"")?,
                Cell::Bool(b) => self.w.write_field(if *b { "yes" } else { "no" })?,
                other => {
                    self.scratch.clear();
                    let _ = match other {
                        Cell::Int(n) => write!(self.scratch, "{n}"),
                        Cell::Date(d) => write!(self.scratch, "{d}"),
                        Cell::Timestamp(t) => write!(self.scratch, "{t}"),
                        Cell::Null | Cell::Text(_) | Cell::Bool(_) => Ok(()),
                    };
                    self.w.write_field(self.scratch.as_bytes())?;
                }
            }
        }
        self.w.write_record(None::<&[u8]>)?;
        Ok(())
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// Flushes and returns the output.
    pub fn into_inner(self) -> io::Result<W> {
        self.w.into_inner().map_err(|e| {
            let kind = e.error().kind();
            io::Error::new(kind, e.error().to_string())
        })
    }
}

/// One row of text cells appended to `out`, byte for byte as [`CsvOut::row`] writes it (the
/// `csv` crate's defaults: a cell is quoted when it holds a comma, a quote, CR or LF, and its
/// quotes doubled; rows end in LF). For rows formatted in memory by the hundred thousand (a
/// national health check prints 771,000): the bytes are copied as they are, without the `csv`
/// crate's state machine, which is most of the time of printing them.
pub fn push_row<I, F>(out: &mut Vec<u8>, cells: I)
where
    I: IntoIterator<Item = F>,
    F: AsRef<str>,
{
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let cell = neutralise(cell.as_ref());
        let bytes = cell.as_bytes();
        // Every byte is looked at without stopping at the first special one: the compiler
        // then tests many bytes at once, and nearly no cell has one.
        let special = bytes.iter().fold(false, |any, &c| {
            any | matches!(c, b',' | b'"' | b'\r' | b'\n')
        });
        if special {
            out.push(b'"');
            for part in bytes.split_inclusive(|&c| c == b'"') {
                out.extend_from_slice(part);
                if part.last() == Some(&b'"') {
                    out.push(b'"');
                }
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(bytes);
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(rows: &[&[&str]]) -> String {
        let mut w = CsvOut::new(Vec::new());
        for r in rows {
            w.row(r.iter()).unwrap();
        }
        String::from_utf8(w.into_inner().unwrap()).unwrap()
    }

    #[test]
    fn formulas_are_quoted_and_everything_else_is_left_alone() {
        let cases = [
            ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"),
            ("+44 20", "'+44 20"),
            ("-5", "'-5"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'=x", "''=x"),
            ("''-1", "'''-1"),
            ("O'Brien", "O'Brien"),
            ("'quoted", "'quoted"),
            ("'", "'"),
            ("", ""),
            ("a=b", "a=b"),
            ("CS0001", "CS0001"),
        ];
        for (cell, out) in cases {
            assert_eq!(neutralise(cell), out, "{cell:?}");
            assert_eq!(restore(&neutralise(cell)), cell, "{cell:?} back");
        }
        // A cell nobody neutralised is read as it is unless it has the guarded shape.
        assert_eq!(restore("'quoted"), "'quoted");
        assert_eq!(restore("O'Brien"), "O'Brien");
    }

    #[test]
    fn rows_pushed_in_memory_are_the_rows_written() {
        // Rows of one length, as the csv crate requires.
        let rows: &[&[&str]] = &[
            &["name", "note", "more"],
            &["=1+1", "a, \"b\"", "-5"],
            &["\"", "\"\"", "x\""],
            &["line\nbreak", "cr\rhere", "'=x"],
            &["", "", "O'Brien"],
            &["caf\u{e9}, \u{2014} \"quoted\"", "\t", "plain"],
        ];
        let mut pushed = Vec::new();
        for r in rows {
            push_row(&mut pushed, r.iter());
        }
        assert_eq!(String::from_utf8(pushed).unwrap(), written(rows));
    }

    #[test]
    fn rows_are_rfc_4180_with_formulas_neutralised() {
        assert_eq!(
            written(&[&["name", "note"], &["=1+1", "a, \"b\""], &["-5", ""]]),
            "name,note\n'=1+1,\"a, \"\"b\"\"\"\n'-5,\n"
        );
        let mut w = CsvOut::new(Vec::new());
        w.cells(&[
            Cell::Text("-x"),
            Cell::Int(-5),
            Cell::Null,
            Cell::Bool(true),
        ])
        .unwrap();
        assert_eq!(
            String::from_utf8(w.into_inner().unwrap()).unwrap(),
            "'-x,-5,,yes\n"
        );
    }
}
