//! SQL written once for both backends: `$1`-style placeholders, `BIGINT`/`TEXT` columns, and
//! statements both dialects accept (`ON CONFLICT`, `RETURNING`). The scheduler's and the
//! notifier's tables are small and their statements simple, so they need no per-backend code.

use crate::{Change, StoreError};

/// A parameter.
#[derive(Clone, Copy, Debug)]
pub enum P<'a> {
    /// A whole number.
    I(i64),
    /// Text.
    T(&'a str),
    /// No value.
    Null,
}

impl<'a> From<&'a str> for P<'a> {
    fn from(s: &'a str) -> Self {
        P::T(s)
    }
}

impl From<i64> for P<'_> {
    fn from(n: i64) -> Self {
        P::I(n)
    }
}

impl<'a> From<Option<&'a str>> for P<'a> {
    fn from(s: Option<&'a str>) -> Self {
        s.map_or(P::Null, P::T)
    }
}

impl From<Option<i64>> for P<'_> {
    fn from(n: Option<i64>) -> Self {
        n.map_or(P::Null, P::I)
    }
}

/// `column IN ($k, …)` over `values`, their parameters appended to `params` (numbered after
/// those already there). `values` must not be empty: an empty `IN ()` is no SQL.
pub(crate) fn in_list<'a>(column: &str, values: &'a [String], params: &mut Vec<P<'a>>) -> String {
    let marks: Vec<String> = (1..=values.len())
        .map(|i| format!("${}", params.len() + i))
        .collect();
    params.extend(values.iter().map(|v| P::T(v)));
    format!("{column} IN ({})", marks.join(", "))
}

/// How many rows `from_where` (`… WHERE …`, after FROM) matches, and one page of them: `columns`
/// in `order`, at most `limit` (all when `None`) after skipping `offset` — both in the caller's
/// read transaction, so the count and the page agree.
pub(crate) fn counted_page(
    x: &mut dyn Exec,
    columns: &str,
    from_where: &str,
    order: &str,
    params: &[P<'_>],
    limit: Option<usize>,
    offset: usize,
) -> Result<(u64, Vec<Vec<V>>), StoreError> {
    let total = x
        .rows(&format!("SELECT COUNT(*) FROM {from_where}"), params)?
        .first()
        .map_or(0, |r| r[0].int()) as u64;
    let n = params.len();
    let mut page_params = params.to_vec();
    page_params.push(P::I(limit.map_or(i64::MAX, |l| l as i64)));
    page_params.push(P::I(offset as i64));
    let rows = x.rows(
        &format!(
            "SELECT {columns} FROM {from_where} ORDER BY {order} LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        ),
        &page_params,
    )?;
    Ok((total, rows))
}

/// A value read back.
#[derive(Clone, Debug, PartialEq)]
pub enum V {
    /// A whole number.
    I(i64),
    /// A real number (minutes to fix, and their sums).
    R(f64),
    /// Text.
    T(String),
    /// No value.
    Null,
}

impl V {
    /// The number, or 0 for anything else.
    pub fn int(&self) -> i64 {
        match self {
            V::I(n) => *n,
            _ => 0,
        }
    }

    /// The number, if there is one.
    pub fn opt_int(&self) -> Option<i64> {
        match self {
            V::I(n) => Some(*n),
            _ => None,
        }
    }

    /// The number as a real, if there is one (a whole number too).
    pub fn opt_real(&self) -> Option<f64> {
        match self {
            V::R(x) => Some(*x),
            V::I(n) => Some(*n as f64),
            _ => None,
        }
    }

    /// The text, or "" for anything else.
    pub fn text(&self) -> &str {
        match self {
            V::T(s) => s,
            _ => "",
        }
    }

    /// The text, if there is some.
    pub fn opt_text(&self) -> Option<&str> {
        match self {
            V::T(s) => Some(s),
            _ => None,
        }
    }

    /// Takes the text out.
    pub fn into_text(self) -> String {
        match self {
            V::T(s) => s,
            _ => String::new(),
        }
    }
}

/// One audit record's subject.
#[derive(Debug)]
pub struct Entry<'a> {
    /// What was done (`create`, `update`, `delete`…).
    pub action: &'a str,
    /// The kind of thing.
    pub kind: &'a str,
    /// Which one.
    pub key: &'a str,
    /// How it was (JSON), if it was.
    pub before: Option<String>,
    /// How it is (JSON), if it is.
    pub after: Option<String>,
}

/// Appends `entry` through a backend's transaction.
pub(crate) fn audit(
    tx: &mut dyn crate::tx::Tx,
    change: &Change,
    e: &Entry<'_>,
) -> Result<(), StoreError> {
    crate::tx::append_one(
        tx,
        change,
        e.action,
        e.kind,
        e.key,
        "",
        e.before.clone(),
        e.after.clone(),
    )
}

/// An open transaction that runs SQL written for both backends.
pub trait Exec {
    /// Runs a statement; the number of rows it touched.
    fn exec(&mut self, sql: &str, params: &[P<'_>]) -> Result<u64, StoreError>;
    /// Runs a query; its rows.
    fn rows(&mut self, sql: &str, params: &[P<'_>]) -> Result<Vec<Vec<V>>, StoreError>;
    /// Appends a record to the audit chain in this transaction.
    fn audit(&mut self, change: &Change, entry: &Entry<'_>) -> Result<(), StoreError>;
}

/// Runs `f` once inside `within` (a store's transaction, which takes its work as a `FnMut`),
/// handing back what `f` returns.
fn once<T>(
    within: impl FnOnce(
        &mut dyn FnMut(&mut dyn Exec) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>,
    f: impl FnOnce(&mut dyn Exec) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut f = Some(f);
    let mut out = None;
    within(&mut |x| {
        let f = f
            .take()
            .ok_or_else(|| StoreError::Database("run twice".into()))?;
        out = Some(f(x)?);
        Ok(())
    })?;
    out.ok_or_else(|| StoreError::Database("the transaction did not run".into()))
}

/// Runs `f` in one transaction of `store`, committed when it returns `Ok`.
pub fn with_exec<T>(
    store: &(impl crate::Store + ?Sized),
    f: impl FnOnce(&mut dyn Exec) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    once(|g| store.transaction(g), f)
}

/// Runs `f`, which only reads, in one read transaction of `store`.
pub fn with_read<T>(
    store: &(impl crate::Store + ?Sized),
    f: impl FnOnce(&mut dyn Exec) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    once(|g| store.read_transaction(g), f)
}

/// `$1` → `?1` for SQLite (which would otherwise number `$`-named parameters by first use).
pub(crate) fn sqlite_placeholders(sql: &str) -> String {
    sql.replace('$', "?")
}
