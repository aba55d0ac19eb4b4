//! Validated rows of one kind on their way into the store, with all their text in one buffer.
//! An import holds tens of thousands of rows at a time; with a string per field and a vector per
//! row, allocating them and freeing them again was a third of the import's own work.

use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::records::{Cell, Kind, Value};

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

/// A value whose text, if any, is `text[start..end]` of its batch.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Null,
    Text(usize, usize),
    Int(i64),
    Bool(bool),
    Date(Date),
    Timestamp(Timestamp),
}

/// A set of columns (bit `i` for column `i`): no kind has more than 32.
pub(crate) type Keep = u32;

/// Rows of one kind, in the order they were read.
#[derive(Debug)]
pub(crate) struct Batch {
    kind: Kind,
    /// Every row's text, one value after another.
    text: String,
    /// `kind.columns().len()` slots per row.
    slots: Vec<Slot>,
    /// Per row: where it came from, whether its references are already known to exist, and
    /// which columns it keeps as stored (see [`Row::keep`]).
    rows: Vec<(Location, bool, Keep)>,
}

impl Batch {
    /// An empty batch with room for `rows` rows.
    pub(crate) fn with_capacity(kind: Kind, rows: usize) -> Batch {
        Batch {
            kind,
            text: String::new(),
            slots: Vec::with_capacity(rows * kind.columns().len()),
            rows: Vec::with_capacity(rows),
        }
    }

    /// The kind of its rows.
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// Adds a row: its values in canonical column order, where it came from, and whether every
    /// reference it makes names a key an earlier file of this import holds (matched on the key's
    /// exact code, `import::key_code`), so that neither backend looks it up again; and the
    /// columns `keep` whose values count only for a new record (see [`Row::keep`]).
    pub(crate) fn push(&mut self, at: Location, cells: &[Cell<'_>], refs_loaded: bool, keep: Keep) {
        debug_assert_eq!(cells.len(), self.kind.columns().len());
        for &cell in cells {
            let slot = match cell {
                Cell::Null => Slot::Null,
                Cell::Text(s) => {
                    let start = self.text.len();
                    self.text.push_str(s);
                    Slot::Text(start, self.text.len())
                }
                Cell::Int(n) => Slot::Int(n),
                Cell::Bool(b) => Slot::Bool(b),
                Cell::Date(d) => Slot::Date(d),
                Cell::Timestamp(t) => Slot::Timestamp(t),
            };
            self.slots.push(slot);
        }
        self.rows.push((at, refs_loaded, keep));
    }

    /// How many rows it holds.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether it holds no row.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Empties it, keeping its memory for the next rows.
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.slots.clear();
        self.rows.clear();
    }

    /// The rows, in order.
    pub(crate) fn rows(&self) -> impl ExactSizeIterator<Item = Row<'_>> {
        let width = self.kind.columns().len();
        self.rows
            .iter()
            .enumerate()
            .map(move |(i, &(at, refs_loaded, keep))| Row {
                kind: self.kind,
                at,
                refs_loaded,
                keep,
                slots: &self.slots[i * width..(i + 1) * width],
                text: &self.text,
            })
    }
}

/// One row of a batch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Row<'a> {
    kind: Kind,
    /// Where it came from, for messages.
    pub(crate) at: Location,
    /// Every reference names a key that an earlier file of this import holds.
    pub(crate) refs_loaded: bool,
    /// Columns the file did not have (absent from its header, or from a JSON item): they say
    /// nothing about the stored record, so an update keeps its values there, and only a new
    /// record takes the row's (empty, or a default).
    pub(crate) keep: Keep,
    slots: &'a [Slot],
    text: &'a str,
}

impl<'a> Row<'a> {
    /// The value of column `col`.
    pub(crate) fn cell(&self, col: usize) -> Cell<'a> {
        match self.slots[col] {
            Slot::Null => Cell::Null,
            Slot::Text(start, end) => Cell::Text(&self.text[start..end]),
            Slot::Int(n) => Cell::Int(n),
            Slot::Bool(b) => Cell::Bool(b),
            Slot::Date(d) => Cell::Date(d),
            Slot::Timestamp(t) => Cell::Timestamp(t),
        }
    }

    /// The values in canonical column order.
    pub(crate) fn cells(self) -> impl ExactSizeIterator<Item = Cell<'a>> {
        (0..self.slots.len()).map(move |col| self.cell(col))
    }

    /// Whether these stored values are exactly the row's (an import that changes nothing),
    /// columns it keeps aside.
    pub(crate) fn matches(self, values: &[Value]) -> bool {
        values
            .iter()
            .zip(self.cells())
            .enumerate()
            .all(|(i, (v, c))| self.keep & (1 << i) != 0 || v.as_cell() == c)
    }

    /// The record this row makes of the stored one: its own values, but the stored ones in
    /// the columns it keeps.
    pub(crate) fn values_over(self, before: &[Value]) -> Vec<Value> {
        self.cells()
            .zip(before)
            .enumerate()
            .map(|(i, (c, b))| {
                if self.keep & (1 << i) != 0 {
                    b.clone()
                } else {
                    c.to_value()
                }
            })
            .collect()
    }

    /// The values, owned (for the rarer paths: updates, audit records).
    pub(crate) fn values(self) -> Vec<Value> {
        self.cells().map(Cell::to_value).collect()
    }

    /// The references to other kinds this row makes, as (column index, target, key). A kind's
    /// references to itself (an organisation's parent) are resolved by the import once the whole
    /// file is in, since they may point forwards.
    pub(crate) fn refs(self) -> impl Iterator<Item = (usize, Kind, &'a str)> {
        let kind = self.kind;
        kind.reference_columns()
            .iter()
            .filter(move |(_, target)| *target != kind)
            .filter_map(move |&(col, target)| match self.cell(col) {
                Cell::Text(key) => Some((col, target, key)),
                _ => None,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_give_back_exactly_what_was_pushed() {
        let kind = Kind::Cards;
        let day = Date::parse("2026-01-02").expect("date");
        let first = [
            Cell::Text("CS1"),
            Cell::Text("123456789012"),
            Cell::Int(10),
            Cell::Text("active"),
            Cell::Date(day),
            Cell::Null,
        ];
        let second = [
            Cell::Text(""),
            Cell::Text("é"),
            Cell::Int(-1),
            Cell::Text("lost"),
            Cell::Date(day),
            Cell::Date(day),
        ];
        let mut batch = Batch::with_capacity(kind, 1);
        for round in 0..2 {
            batch.push(Location::Line(2), &first, true, 0);
            batch.push(Location::Line(3), &second, false, 0b10_0000);
            // Only these two rows' text: nothing of an earlier round is kept.
            assert_eq!(batch.text.len(), "CS1123456789012activeélost".len());
            let rows: Vec<Row<'_>> = batch.rows().collect();
            assert_eq!(rows.len(), 2, "round {round}");
            assert_eq!(rows[0].cells().collect::<Vec<_>>(), first);
            assert_eq!(rows[1].cells().collect::<Vec<_>>(), second);
            assert_eq!((rows[0].at, rows[0].refs_loaded), (Location::Line(2), true));
            assert_eq!(
                (rows[1].at, rows[1].refs_loaded),
                (Location::Line(3), false)
            );
            assert_eq!(
                rows[0].refs().collect::<Vec<_>>(),
                [(1, Kind::People, "123456789012")]
            );
            // A column kept: the stored value stays, and a difference there is no change.
            let stored = rows[1].values_over(&rows[0].values());
            assert_eq!(stored[5], Value::Null, "kept from the stored record");
            assert_eq!(stored[3], Value::Text("lost".into()), "the row's own");
            let mut before = rows[1].values();
            before[5] = Value::Null;
            assert!(rows[1].matches(&before));
            assert!(!rows[0].matches(&before));
            // A batch cleared for reuse holds nothing of its earlier rows.
            batch.clear();
            assert!(batch.is_empty());
        }
    }
}
