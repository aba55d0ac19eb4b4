//! SQL text for each record kind, shared by both dialects (they differ only in placeholders).

use cardwatch_core::records::{ColType, Kind};

/// Placeholder style: SQLite `?1`, PostgreSQL `$1`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The n-th parameter for a column of type `ty`. PostgreSQL is sent dates as text and
    /// moments as unix seconds (the driver has no date types without extra crates), so its
    /// placeholders carry the conversion.
    pub(crate) fn param(self, ty: ColType, n: usize) -> String {
        match (self, ty) {
            (Dialect::Sqlite, _) => format!("?{n}"),
            (Dialect::Postgres, ColType::Text) => format!("${n}::text"),
            (Dialect::Postgres, ColType::Int) => format!("${n}::bigint"),
            (Dialect::Postgres, ColType::Bool) => format!("${n}::boolean"),
            (Dialect::Postgres, ColType::Date) => format!("${n}::text::date"),
            (Dialect::Postgres, ColType::Timestamp) => format!("to_timestamp(${n}::bigint)"),
        }
    }
}

/// A column name as an SQL identifier (`type` is quoted everywhere for safety).
pub(crate) fn ident(name: &str) -> String {
    format!("\"{name}\"")
}

/// The kind's columns, comma-separated, with `expr` applied to each (for PostgreSQL's
/// conversions of dates and moments to text).
pub(crate) fn column_list(kind: Kind, expr: impl Fn(&str, usize) -> String) -> String {
    kind.columns()
        .iter()
        .enumerate()
        .map(|(i, c)| expr(&ident(c.name), i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `k1 = ?1 AND k2 = ?2 …` over the key columns.
pub(crate) fn key_match(kind: Kind, d: Dialect) -> String {
    kind.columns()[..kind.key_len()]
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} = {}", ident(c.name), d.param(c.ty, i + 1)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// `ORDER BY` over the key columns.
pub(crate) fn key_order(kind: Kind) -> String {
    kind.columns()[..kind.key_len()]
        .iter()
        .map(|c| ident(c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Replaces every column of the record whose key is the first `key_len` parameters.
pub(crate) fn update(kind: Kind, d: Dialect) -> String {
    let set = kind.columns()[kind.key_len()..]
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let n = kind.key_len() + i + 1;
            format!("{} = {}", ident(c.name), d.param(c.ty, n))
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "UPDATE {} SET {set} WHERE {}",
        kind.name(),
        key_match(kind, d)
    )
}

/// Inserts a record unless its key exists.
pub(crate) fn insert(kind: Kind, d: Dialect) -> String {
    let params = kind
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| d.param(c.ty, i + 1))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO {} ({}) VALUES ({params}) ON CONFLICT DO NOTHING",
        kind.name(),
        column_list(kind, |c, _| c.to_owned())
    )
}
