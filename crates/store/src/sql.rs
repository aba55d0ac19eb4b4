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
        let p = self.plain_param(n);
        match (self, ty) {
            (Dialect::Sqlite, _) => p,
            (Dialect::Postgres, ColType::Text) => format!("{p}::text"),
            (Dialect::Postgres, ColType::Int) => format!("{p}::bigint"),
            (Dialect::Postgres, ColType::Bool) => format!("{p}::boolean"),
            (Dialect::Postgres, ColType::Date) => format!("{p}::text::date"),
            (Dialect::Postgres, ColType::Timestamp) => format!("to_timestamp({p}::bigint)"),
        }
    }

    /// The n-th parameter, sent as the column stores it.
    fn plain_param(self, n: usize) -> String {
        match self {
            Dialect::Sqlite => format!("?{n}"),
            Dialect::Postgres => format!("${n}"),
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

/// Certificates that are SHA-1 signing certificates, written exactly as the predicate of
/// migration 0014's partial index (both dialects) so that the planners use that index: as a
/// parameter, or reworded, it would not match.
pub(crate) const SHA1_SIGNING: &str = "purpose = 'signing' AND hash_algorithm = 'sha1'";

/// The SELECT list of some of a kind's columns (indexes into its columns).
pub(crate) fn some_columns(kind: Kind, columns: &[usize]) -> String {
    columns
        .iter()
        .map(|&i| ident(kind.columns()[i].name))
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

/// `SELECT list FROM table WHERE` the key matches the first parameters.
pub(crate) fn select_by_key(kind: Kind, list: &str, d: Dialect) -> String {
    format!(
        "SELECT {list} FROM {} WHERE {}",
        kind.name(),
        key_match(kind, d)
    )
}

/// The audit log's columns, in the order records are written and read.
pub(crate) const AUDIT_COLUMNS: &str =
    "seq, at, actor, action, entity_kind, entity_key, note, before, after, prev_hash, hash";

/// Appends one audit record (parameters in [`AUDIT_COLUMNS`] order).
pub(crate) fn insert_audit(d: Dialect) -> String {
    let params: Vec<String> = (1..=11).map(|n| d.plain_param(n)).collect();
    format!(
        "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ({})",
        params.join(", ")
    )
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

/// The kind's own column called `name`, the only column name a caller's words may put into a
/// query; an error naming the kind's columns when it has none by that name.
pub(crate) fn own_column(kind: Kind, name: &str) -> Result<&'static str, crate::StoreError> {
    if let Some(c) = kind.columns().iter().find(|c| c.name == name) {
        return Ok(c.name);
    }
    let names: Vec<&str> = kind.columns().iter().map(|c| c.name).collect();
    Err(crate::StoreError::Invalid(format!(
        "{kind} has no column {name:?} — use one of: {}",
        names.join(", ")
    )))
}

/// `SELECT list FROM table WHERE column = first parameter ORDER BY key LIMIT second`, or an error
/// naming the kind's columns when `column` is not one of them.
pub(crate) fn select_where(
    kind: Kind,
    list: &str,
    column: &str,
    d: Dialect,
) -> Result<String, crate::StoreError> {
    let column = own_column(kind, column)?;
    let key: Vec<String> = kind.columns()[..kind.key_len()]
        .iter()
        .map(|c| ident(c.name))
        .collect();
    Ok(format!(
        "SELECT {list} FROM {} WHERE {} = {} ORDER BY {} LIMIT {}",
        kind.name(),
        ident(column),
        d.plain_param(1),
        key.join(", "),
        d.plain_param(2)
    ))
}
