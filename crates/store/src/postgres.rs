//! The PostgreSQL backend. Every round trip to a server costs far more than the work it carries,
//! so rows are handled a batch at a time: one query checks a batch's references, one finds its
//! existing records, and new records stream in through `COPY` (into a table that was empty, one
//! `COPY` for a whole file).

pub(crate) mod connect;
mod copy_out;
mod incidents;
mod tls;
mod users;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::Duration;

use cardwatch_core::access::{NewUser, Token, User, Username};
use cardwatch_core::audit::{self, AuditRecord, StoredAudit};
use cardwatch_core::card_status::CardStatus;
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::health::FindingNote;
use cardwatch_core::ids::CardSerial;
use cardwatch_core::records::{key_of, to_values, Cell, ColType, Kind, Value, MAX_COLUMNS};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, Transaction};

use self::connect::Target;
use self::copy_out::{Fields, Streamer};
use crate::batch::{Batch, Row};
use crate::exec::{Entry, Exec, P, V};
use crate::import::{self, ImportInput, ImportOptions, ImportReport};
use crate::migrations;
use crate::pool::{Limit, Pool};
use crate::sql::{self, ident, Dialect};
use crate::tx::AuditChain;
use crate::tx::{self, check_update, Book, Outcome, Tx};
use crate::{
    AuditQuery, AuditVerdict, Backend, Change, DueCard, ExpiringCertificate, Store, StoreError,
};
use cardwatch_core::triage::{CauseCount, Incident, IncidentStatus, IncidentStep, NewIncident};

/// Any number, so long as no other program's advisory lock uses it: serialises migrations when
/// several Cardwatch processes start at once.
const MIGRATION_LOCK: i64 = 0x00ca_4d3a_7c00;

/// A query connection and the statements it has prepared for the reads every request makes
/// (the session, the audit chain's length). A statement sent as text is parsed and planned by
/// the server each time: for these small reads that is most of their cost there (pgbench, 10
/// clients: the session's read 9,000 a second sent as text against 21,000 prepared).
pub(crate) struct Conn {
    client: Client,
    /// By SQL text: only fixed statements, so the map stays small.
    prepared: HashMap<&'static str, postgres::Statement>,
}

impl Conn {
    fn new(client: Client) -> Conn {
        Conn {
            client,
            prepared: HashMap::new(),
        }
    }

    /// The rows of a fixed statement, prepared on this connection the first time (then one
    /// round trip each, with no parsing or planning of its text).
    fn cached(
        &mut self,
        sql: &'static str,
        types: &[postgres::types::Type],
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        let statement = match self.prepared.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = self.client.prepare_typed(sql, types)?;
                self.prepared.insert(sql, s.clone());
                s
            }
        };
        self.client.query(&statement, params).inspect_err(|_| {
            // Prepared again next time, whatever the error did to it.
            self.prepared.remove(sql);
        })
    }
}

impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// A Cardwatch store in a PostgreSQL database.
pub(crate) struct PgStore {
    shown: String,
    /// The URL for `pg_dump` (it may hold a password: never shown or logged).
    url: String,
    pool: Pool<Conn>,
    /// Connections for large reads (`copy_out`).
    streamers: Pool<Streamer>,
    /// The most connections open at once, both pools together.
    max: usize,
}

/// A connection idle this long is asked a round trip before it is used again: long enough idle
/// for a server restart or a firewall's idle timeout to have broken it. One used more recently
/// is only checked for having seen its end.
const IDLE_CHECK: Duration = Duration::from_secs(30);

/// How long that round trip may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The least time a large read waits for a connection of its own (`pool_wait` if longer).
const LARGE_READ_WAIT: Duration = Duration::from_secs(300);

/// What a caller is told when every connection stayed in use for the whole wait.
fn exhausted(n: usize, what: &str, wait: Duration, pool_max: usize) -> String {
    format!(
        "all {n} of the store's PostgreSQL connections for {what} stayed in use for {} s \
         (the pool of {pool_max} is exhausted) — raise pool_max in the database URL \
         (e.g. pool_max={}, keeping every replica's total under the server's \
         max_connections), or pool_wait to wait longer; pg_stat_activity shows what the \
         connections are doing",
        wait.as_secs(),
        pool_max * 2,
    )
}

/// How many of `pool_max` connections serve large reads: a few, for a health check's dozen
/// reads to queue for.
fn large_reads(pool_max: usize) -> usize {
    (pool_max / 4).clamp(1, 4)
}

impl PgStore {
    pub(crate) fn open(url: &str) -> Result<PgStore, StoreError> {
        let target = std::sync::Arc::new(Target::parse(url)?);
        // Large reads run a few at a time (the health checks read a dozen tables, which then
        // queue for these); everything else shares the rest. Both count towards `pool_max`.
        let streams = large_reads(target.pool_max);
        let queries = target.pool_max - streams;
        let limit = |n: usize, what: &str, wait: Duration| Limit {
            max: n,
            wait,
            exhausted: exhausted(n, what, wait, target.pool_max),
        };
        let for_queries = target.clone();
        let for_streams = target.clone();
        let pool = Pool::capped(
            limit(queries, "queries", target.pool_wait),
            Box::new(move || for_queries.client().map(Conn::new)),
            Box::new(|c: &mut Conn, idle| {
                !c.is_closed() && (idle < IDLE_CHECK || c.is_valid(CHECK_TIMEOUT).is_ok())
            }),
        );
        // Migrations run on the pool's first connection, which stays for reuse.
        migrate(&mut **pool.get()?)?;
        Ok(PgStore {
            shown: target.shown.clone(),
            url: target.libpq.clone(),
            pool,
            streamers: Pool::capped(
                // A health check queues a dozen reads for these by design: waiting seconds for
                // one is normal, so they wait at least LARGE_READ_WAIT.
                limit(
                    streams,
                    "large reads",
                    target.pool_wait.max(LARGE_READ_WAIT),
                ),
                Box::new(move || Streamer::connect(&for_streams)),
                Box::new(|s: &mut Streamer, idle| s.usable(idle >= IDLE_CHECK, CHECK_TIMEOUT)),
            ),
            max: target.pool_max,
        })
    }

    /// Streams the rows of `select` (some `columns` of a `kind`) to `each`, through
    /// `COPY … TO STDOUT (FORMAT binary)`: several times faster than fetching them through a
    /// portal, and binary spares the server formatting dates and numbers as text. A large read
    /// takes a streamer; a `small` one (a few sites' records) a connection of the query pool,
    /// so that it does not queue behind a health check's dozen large reads, and like every
    /// everyday query it keeps the role's `statement_timeout`.
    fn copy_cells(
        &self,
        small: bool,
        select: &str,
        kind: Kind,
        columns: &[usize],
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        if small {
            let mut conn = self.pool.get()?;
            let read = cells_of_rows(kind, columns, each, |row| {
                copy_out::copy_rows_on_client(&mut conn.client, select, columns.len(), row)
            });
            if read.is_err() {
                conn.discard();
            }
            return read;
        }
        let mut conn = self.streamers.get()?;
        let read = copy_cells_on(&mut conn, select, kind, columns, each);
        if read.is_err() {
            // The stream may have been left half read.
            conn.discard();
        }
        read
    }

    fn write<T>(
        &self,
        commit: bool,
        f: impl FnOnce(&mut PgTx<'_, '_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut client = self.pool.get()?;
        let result = (|| {
            let mut tx = client.transaction()?;
            let mut ptx = PgTx {
                tx: &mut tx,
                known: Default::default(),
                fresh: false,
                dropped: Vec::new(),
                bulk: None,
                checks_off: false,
            };
            let out = f(&mut ptx)?;
            if commit {
                tx.commit()?;
            } else {
                // A check must fail where the commit would: run the deferred key checks.
                tx.batch_execute("SET CONSTRAINTS ALL IMMEDIATE")?;
                tx.rollback()?;
            }
            Ok(out)
        })();
        if result.is_err() && client.is_closed() {
            client.discard();
        }
        result
    }
}

fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version BIGINT PRIMARY KEY, name TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )?;
    for (version, name, text) in migrations::POSTGRES {
        let done = tx
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[version],
            )?
            .is_some();
        if !done {
            tx.batch_execute(text).map_err(|e| {
                StoreError::Database(format!(
                    "migration {version} {name}: {}",
                    StoreError::from(e)
                ))
            })?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                &[version, name],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// The select list for a kind: dates as ISO text and moments as unix seconds, which the driver
/// reads without extra crates.
fn select_list(kind: Kind, prefix: &str) -> String {
    let all: Vec<usize> = (0..kind.columns().len()).collect();
    select_columns(kind, &all, prefix)
}

/// Some columns of a kind, dates as ISO text and moments as unix seconds.
fn select_columns(kind: Kind, columns: &[usize], prefix: &str) -> String {
    columns
        .iter()
        .map(|&i| {
            let c = kind.columns()[i];
            let name = ident(c.name);
            match c.ty {
                ColType::Date => format!("to_char({prefix}{name}, 'YYYY-MM-DD')"),
                ColType::Timestamp => format!("extract(epoch from {prefix}{name})::bigint"),
                _ => format!("{prefix}{name}"),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_values(kind: Kind, row: &postgres::Row) -> Result<Vec<Value>, StoreError> {
    let all: Vec<usize> = (0..kind.columns().len()).collect();
    Ok(to_values(&read_cells(kind, &all, row)?))
}

/// The row's values, the row holding the columns [`select_columns`] chose.
fn read_cells<'r>(
    kind: Kind,
    columns: &[usize],
    row: &'r postgres::Row,
) -> Result<Vec<Cell<'r>>, StoreError> {
    columns
        .iter()
        .enumerate()
        .map(|(i, &col)| {
            let v = match kind.columns()[col].ty {
                ColType::Text => row.try_get::<_, Option<&str>>(i)?.map(Cell::Text),
                ColType::Int => row.try_get::<_, Option<i64>>(i)?.map(Cell::Int),
                ColType::Bool => row.try_get::<_, Option<bool>>(i)?.map(Cell::Bool),
                ColType::Date => match row.try_get::<_, Option<&str>>(i)? {
                    Some(s) => Some(Cell::Date(
                        Date::parse(s).map_err(|e| StoreError::Database(e.to_string()))?,
                    )),
                    None => None,
                },
                ColType::Timestamp => row
                    .try_get::<_, Option<i64>>(i)?
                    .map(|t| Cell::Timestamp(Timestamp::from_unix(t))),
            };
            Ok(v.unwrap_or(Cell::Null))
        })
        .collect()
}

/// PostgreSQL's binary dates and timestamps count from 2000-01-01.
const PG_EPOCH_DAYS: i32 = 10_957;

/// A text array as an SQL literal (`'{"a","b"}'`): each element quoted, `"` and `\\` escaped
/// for the array, `'` doubled for the string.
fn array_literal(items: &[&str]) -> String {
    let mut out = String::with_capacity(items.iter().map(|i| i.len() + 3).sum::<usize>() + 4);
    out.push_str("'{");
    for (n, item) in items.iter().enumerate() {
        if n > 0 {
            out.push(',');
        }
        out.push('"');
        for ch in item.chars() {
            match ch {
                '"' | '\\' => {
                    out.push('\\');
                    out.push(ch);
                }
                '\'' => out.push_str("''"),
                _ => out.push(ch),
            }
        }
        out.push('"');
    }
    out.push_str("}'");
    out
}

/// The query of [`Store::scan_keyed`]. COPY takes no parameters, so the keys are written into
/// the query as one array literal: fetching a few hundred thousand rows through a portal costs
/// the client several times what COPY does.
fn keyed_select(kind: Kind, columns: &[usize], keys: &[&str]) -> String {
    format!(
        "SELECT {} FROM {} WHERE {} = ANY({}::text[])",
        sql::some_columns(kind, columns),
        kind.name(),
        ident(kind.columns()[0].name),
        array_literal(keys),
    )
}

/// [`Store::cards_with_certificates_due`] on a connection the caller holds. The partial index
/// of migration 0014 serves the SHA-1 condition, `certificates_not_after` the dates: one bitmap
/// OR. `by` is a validated date, safe to write into the query.
fn cards_due_on(conn: &mut Streamer, by: Date) -> Result<Vec<DueCard>, StoreError> {
    let select = format!(
        "SELECT card_serial, purpose FROM certificates
         WHERE not_after <= DATE '{by}' OR ({})",
        sql::SHA1_SIGNING
    );
    let mut pairs = Vec::new();
    copy_cells_on(conn, &select, Kind::Certificates, &[0, 1], &mut |cells| {
        if let [Cell::Text(serial), Cell::Text(purpose)] = cells {
            pairs.push(((*serial).to_owned(), *purpose == "signing"));
        }
        Ok(())
    })?;
    Ok(DueCard::from_pairs(pairs))
}

/// The query of [`Store::scan_of_cards_due`]: the records of a kind keyed by card whose card
/// holds a certificate due by `by` or a SHA-1 signing certificate ([`cards_due_on`]'s cards).
/// `by` is a validated date, safe to write into the query.
fn of_cards_due_select(kind: Kind, columns: &[usize], by: Date) -> String {
    format!(
        "SELECT {} FROM {} WHERE {} IN (SELECT card_serial FROM certificates
         WHERE not_after <= DATE '{by}' OR ({}))",
        sql::some_columns(kind, columns),
        kind.name(),
        ident(kind.columns()[0].name),
        sql::SHA1_SIGNING
    )
}

/// Settings for [`of_cards_due_select`], whose join hashes the due cards (12 MB at national
/// size). With the default `work_mem` of 4 MB the hash spilled to disk in two batches; the
/// setting is raised to 64 MB for this statement alone, never lowered. No parallel workers:
/// the rows all pass through the one process that sends them, and on a server with few cores
/// the workers took CPU from the other reads of a health check.
const HASH_SETTINGS: &str = "SELECT set_config('work_mem', \
     greatest(pg_size_bytes(current_setting('work_mem')), 64 * 1024 * 1024) / 1024 || 'kB', \
     false); SET max_parallel_workers_per_gather = 0";

/// The connection's own settings back, after [`HASH_SETTINGS`].
const HASH_SETTINGS_RESET: &str = "RESET work_mem; RESET max_parallel_workers_per_gather";

/// Keyed reads of at most this many keys are small: a practice's or a few sites' records (an
/// import of one practice names a few hundred people or cards).
const SMALL_READ_KEYS: usize = 2_000;

/// [`PgStore::copy_cells`] on a streamer the caller holds (and discards if this fails).
fn copy_cells_on(
    conn: &mut Streamer,
    select: &str,
    kind: Kind,
    columns: &[usize],
    each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
) -> Result<u64, StoreError> {
    cells_of_rows(kind, columns, each, |row| {
        conn.copy_rows(select, columns.len(), row)
    })
}

/// Runs `copy`, which hands each row's binary fields to the handler it is given, and hands
/// them on to `each` as cells of the `columns`' types.
fn cells_of_rows(
    kind: Kind,
    columns: &[usize],
    each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    copy: impl FnOnce(&mut dyn FnMut(&Fields<'_>) -> Result<(), StoreError>) -> Result<u64, StoreError>,
) -> Result<u64, StoreError> {
    let bad = |e: String| StoreError::Database(format!("{kind}: COPY: {e}"));
    let mut row = |fields: &Fields<'_>| {
        let mut cells = [Cell::Null; MAX_COLUMNS];
        for (i, &col) in columns.iter().enumerate() {
            cells[i] = binary_cell(kind.columns()[col].ty, fields[i]).map_err(bad)?;
        }
        each(&cells[..columns.len()]).map_err(|source| StoreError::Io {
            path: "(output)".into(),
            source,
        })
    };
    copy(&mut row)
}

/// One binary field as a cell of the column's type.
fn binary_cell(ty: ColType, f: Option<&[u8]>) -> Result<Cell<'_>, String> {
    let Some(f) = f else { return Ok(Cell::Null) };
    let fixed = |n: usize| {
        (f.len() == n)
            .then_some(f)
            .ok_or_else(|| format!("a {ty:?} field of {} bytes", f.len()))
    };
    Ok(match ty {
        ColType::Text => Cell::Text(std::str::from_utf8(f).map_err(|e| e.to_string())?),
        ColType::Int => {
            let b = fixed(8)?;
            Cell::Int(i64::from_be_bytes([
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
            ]))
        }
        ColType::Bool => Cell::Bool(fixed(1)?[0] != 0),
        ColType::Date => {
            let b = fixed(4)?;
            Cell::Date(Date::from_days(
                i32::from_be_bytes([b[0], b[1], b[2], b[3]]) + PG_EPOCH_DAYS,
            ))
        }
        ColType::Timestamp => {
            let b = fixed(8)?;
            let micros = i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            Cell::Timestamp(Timestamp::from_unix(
                micros.div_euclid(1_000_000) + i64::from(PG_EPOCH_DAYS) * 86_400,
            ))
        }
    })
}

/// Parameters as the placeholders of [`Dialect::param`] expect them.
fn params(values: &[Value]) -> Vec<Box<dyn ToSql + Sync>> {
    values
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync> {
            match v {
                Value::Null => Box::new(AnyNull),
                Value::Text(s) => Box::new(s.clone()),
                Value::Int(n) => Box::new(*n),
                Value::Bool(b) => Box::new(*b),
                Value::Date(d) => Box::new(d.to_string()),
                Value::Timestamp(t) => Box::new(t.unix()),
            }
        })
        .collect()
}

/// NULL for a parameter of whatever type the statement gives it. The driver checks a value's
/// type before sending it, NULL or not: `None::<String>` is refused for a number column (an
/// empty `last_seen` checked against a stored workstation).
#[derive(Debug)]
struct AnyNull;

impl ToSql for AnyNull {
    fn to_sql(
        &self,
        _: &postgres::types::Type,
        _: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        Ok(postgres::types::IsNull::Yes)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn as_refs(p: &[Box<dyn ToSql + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    p.iter().map(|b| b.as_ref()).collect()
}

/// How much binary `COPY` data is encoded before it is sent on: small enough that the server
/// starts on a batch soon after it is begun, large enough that sending costs little.
const COPY_CHUNK: usize = 64 << 10;

/// The signature a binary COPY stream starts with (then 32 bits of flags and the length of a
/// header extension), written by the import and checked by `copy_out`.
const COPY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// One row of a binary COPY stream. Binary spares the server parsing text into dates, numbers and
/// booleans, and the client formatting them.
fn copy_row<'a>(out: &mut Vec<u8>, cells: impl ExactSizeIterator<Item = Cell<'a>>) {
    out.extend_from_slice(&(cells.len() as i16).to_be_bytes());
    for cell in cells {
        let field: &[u8] = match cell {
            Cell::Null => {
                out.extend_from_slice(&(-1i32).to_be_bytes());
                continue;
            }
            Cell::Text(s) => s.as_bytes(),
            Cell::Int(n) => &n.to_be_bytes(),
            Cell::Bool(b) => &[u8::from(b)],
            Cell::Date(d) => &(d.days() - PG_EPOCH_DAYS).to_be_bytes(),
            Cell::Timestamp(t) => {
                &((t.unix() - i64::from(PG_EPOCH_DAYS) * 86_400) * 1_000_000).to_be_bytes()
            }
        };
        out.extend_from_slice(&(field.len() as i32).to_be_bytes());
        out.extend_from_slice(field);
    }
}

/// A binary `COPY` into one table, sent in chunks as rows are encoded so that the server starts
/// on them while the rest are encoded.
struct CopyIn<'t> {
    kind: Kind,
    writer: postgres::CopyInWriter<'t>,
    /// Encoded rows not yet sent: a chunk and the row that crosses its end.
    buf: Vec<u8>,
}

impl<'t> CopyIn<'t> {
    fn begin(tx: &'t mut Transaction<'_>, kind: Kind) -> Result<CopyIn<'t>, StoreError> {
        let statement = format!(
            "COPY {} ({}) FROM STDIN (FORMAT binary)",
            kind.name(),
            sql::column_list(kind, |c, _| c.to_owned())
        );
        let mut buf = Vec::with_capacity(2 * COPY_CHUNK);
        // No flags, no header extension.
        buf.extend_from_slice(COPY_SIGNATURE);
        buf.extend_from_slice(&[0; 8]);
        Ok(CopyIn {
            kind,
            writer: tx.copy_in(&statement)?,
            buf,
        })
    }

    /// Adds the batch's rows whose outcome is `Created`.
    fn rows(&mut self, batch: &Batch, outcomes: &[Outcome]) -> Result<(), StoreError> {
        for (row, _) in batch
            .rows()
            .zip(outcomes)
            .filter(|(_, o)| **o == Outcome::Created)
        {
            copy_row(&mut self.buf, row.cells());
            if self.buf.len() >= COPY_CHUNK {
                self.send()?;
            }
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), StoreError> {
        let kind = self.kind;
        self.writer
            .write_all(&self.buf)
            .map_err(|e| StoreError::Database(format!("COPY into {kind}: {e}")))?;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<(), StoreError> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.send()?;
        self.writer.finish()?;
        Ok(())
    }
}

struct PgTx<'a, 'b> {
    tx: &'a mut Transaction<'b>,
    /// Keys confirmed to exist, per kind, so a batch asks only about keys not seen before.
    known: [HashSet<String>; Kind::ALL.len()],
    /// The table being filled was empty when its file began: every row is new (the reader has
    /// already refused duplicates), so nothing need be looked up.
    fresh: bool,
    /// Constraints, indexes and counting triggers dropped or turned off for a bulk load, to
    /// restore at its end, then the recount of what the triggers count.
    dropped: Vec<String>,
    /// The table loaded in bulk, to analyse afterwards.
    bulk: Option<Kind>,
    /// The bulk load runs with `session_replication_role = replica`: see `begin_bulk`.
    checks_off: bool,
}

impl PgTx<'_, '_> {
    /// Per row of a batch: `MissingRef` where a reference names nothing, `None` where all are
    /// found. One query per referenced kind for the whole batch, and none for rows whose
    /// references an earlier file of this import holds.
    fn reference_outcomes(&mut self, batch: &Batch) -> Result<Vec<Option<Outcome>>, StoreError> {
        let mut wanted: HashMap<Kind, HashSet<&str>> = HashMap::new();
        for row in batch.rows().filter(|r| !r.refs_loaded) {
            for (_, target, key) in row.refs() {
                wanted.entry(target).or_default().insert(key);
            }
        }
        let mut missing: HashMap<Kind, HashSet<String>> = HashMap::new();
        for (target, keys) in wanted {
            missing.insert(target, self.missing(target, keys)?);
        }
        Ok(batch
            .rows()
            .map(|row| {
                if row.refs_loaded {
                    return None;
                }
                row.refs()
                    .find(|(_, target, key)| missing.get(target).is_some_and(|m| m.contains(*key)))
                    .map(|(column, target, _)| Outcome::MissingRef { column, target })
            })
            .collect())
    }

    /// Which of these keys of `kind` do not exist.
    fn missing(&mut self, kind: Kind, keys: HashSet<&str>) -> Result<HashSet<String>, StoreError> {
        let known = &mut self.known[kind as usize];
        let ask: Vec<&str> = keys.into_iter().filter(|k| !known.contains(*k)).collect();
        if ask.is_empty() {
            return Ok(HashSet::new());
        }
        let col = ident(kind.columns()[0].name);
        let found: HashSet<String> = self
            .tx
            .query(
                &format!("SELECT {col} FROM {} WHERE {col} = ANY($1)", kind.name()),
                &[&ask],
            )?
            .into_iter()
            .map(|r| r.get(0))
            .collect();
        let missing = ask
            .iter()
            .filter(|k| !found.contains(**k))
            .map(|k| (*k).to_owned())
            .collect();
        let known = &mut self.known[kind as usize];
        if known.len() > 200_000 {
            known.clear();
        }
        known.extend(found);
        Ok(missing)
    }

    /// The existing records among these rows' keys, by key. Asked by the first key column
    /// (`= ANY`, which the primary key's index serves whatever the planner's statistics say);
    /// rows sharing only that column are dropped here.
    fn existing(
        &mut self,
        kind: Kind,
        rows: &[Row<'_>],
    ) -> Result<HashMap<String, Vec<Value>>, StoreError> {
        if self.fresh || rows.is_empty() {
            return Ok(HashMap::new());
        }
        let first: Vec<String> = rows.iter().map(|r| r.cell(0).to_csv()).collect();
        let wanted: HashSet<String> = rows.iter().map(|r| key_of(kind, &r.values())).collect();
        let query = format!(
            "SELECT {} FROM {} WHERE {} = ANY($1)",
            select_list(kind, ""),
            kind.name(),
            ident(kind.columns()[0].name)
        );
        let mut out = HashMap::new();
        for row in self.tx.query(&query, &[&first])? {
            let values = read_values(kind, &row)?;
            let key = key_of(kind, &values);
            if wanted.contains(&key) {
                out.insert(key, values);
            }
        }
        Ok(out)
    }

    /// Sets `session_replication_role = replica` for the rest of the bulk load, under which
    /// the server fires no foreign-key checks for the rows added (as `pg_restore
    /// --disable-triggers` loads). Only a superuser, or a role granted `SET` on the parameter
    /// (PostgreSQL 15), may; for any other role this returns `false` and changes nothing.
    fn turn_checks_off(&mut self) -> Result<bool, StoreError> {
        self.tx.batch_execute("SAVEPOINT checks_off")?;
        match self
            .tx
            .batch_execute("SET LOCAL session_replication_role = replica")
        {
            Ok(()) => {
                self.tx.batch_execute("RELEASE SAVEPOINT checks_off")?;
                self.checks_off = true;
            }
            Err(e) if e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => {
                self.tx.batch_execute("ROLLBACK TO SAVEPOINT checks_off")?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(self.checks_off)
    }
}

impl Tx for PgTx<'_, '_> {
    fn apply(&mut self, batch: &Batch) -> Result<Vec<Outcome>, StoreError> {
        let kind = batch.kind();
        let mut out = self.reference_outcomes(batch)?;
        // Existing records for the rest.
        let live: Vec<Row<'_>> = batch
            .rows()
            .zip(&out)
            .filter(|(_, o)| o.is_none())
            .map(|(r, _)| r)
            .collect();
        let existing = self.existing(kind, &live)?;
        // New records by COPY; changed ones updated one by one once the COPY is done (rare in
        // bulk loads; no key is both new and changed in one batch).
        let mut changed = Vec::new();
        for (row, slot) in batch.rows().zip(out.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            // Into an empty table nothing exists: no key string is built per row.
            let before = if existing.is_empty() {
                None
            } else {
                existing.get(&key_of(kind, &row.values()))
            };
            *slot = Some(match before {
                None => Outcome::Created,
                Some(before) if row.matches(before) => Outcome::Unchanged,
                Some(before) => {
                    let after = row.values_over(before);
                    match check_update(kind, before, &after) {
                        Err((column, message)) => Outcome::Refused { column, message },
                        Ok(()) => {
                            changed.push(after);
                            Outcome::Updated {
                                before: before.clone(),
                            }
                        }
                    }
                }
            });
        }
        let out: Vec<Outcome> = out.into_iter().flatten().collect();
        if out.contains(&Outcome::Created) {
            let mut copy = CopyIn::begin(self.tx, kind)?;
            copy.rows(batch, &out)?;
            copy.finish()?;
        }
        let update = sql::update(kind, Dialect::Postgres);
        for after in changed {
            let p = params(&after);
            self.tx.execute(&update, &as_refs(&p))?;
        }
        Ok(out)
    }

    fn apply_all(
        &mut self,
        batches: &mut dyn Iterator<Item = Batch>,
        chain: &mut AuditChain,
        book: &mut Book<'_>,
    ) -> Result<(), StoreError> {
        if !self.fresh {
            return tx::apply_each(self, batches, chain, book);
        }
        // Into a table that was empty when its file began every row is new (the reader refuses
        // a key repeated in the file), so batch after batch streams into one COPY: the server
        // neither waits at each batch's end nor starts a COPY per batch (≈2 ms each, 200 in a
        // national import). A COPY ends only where references must be looked up — rows whose
        // references no earlier file of the import held.
        let mut next = batches.next();
        while let Some(first) = next.take() {
            let outcomes: Vec<Outcome> = self
                .reference_outcomes(&first)?
                .into_iter()
                .map(|o| o.unwrap_or(Outcome::Created))
                .collect();
            let mut audit = Vec::new();
            let mut copy = CopyIn::begin(self.tx, first.kind())?;
            copy.rows(&first, &outcomes)?;
            audit.extend(book(first, outcomes));
            for batch in &mut *batches {
                if !batch.rows().all(|r| r.refs_loaded) {
                    next = Some(batch);
                    break;
                }
                let outcomes = vec![Outcome::Created; batch.len()];
                copy.rows(&batch, &outcomes)?;
                audit.extend(book(batch, outcomes));
            }
            copy.finish()?;
            chain.append(self, audit)?;
        }
        Ok(())
    }

    fn exists(&mut self, kind: Kind, key: &str) -> Result<bool, StoreError> {
        Ok(!self.missing(kind, HashSet::from([key]))?.contains(key))
    }

    fn begin_bulk(&mut self, kind: Kind, bulk: bool) -> Result<bool, StoreError> {
        let table = kind.name();
        self.fresh = self
            .tx
            .query_opt(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])?
            .is_none();
        if !self.fresh || !bulk {
            return Ok(self.fresh);
        }
        // Filling an empty table from a large file: its keys and indexes go, and come back at
        // the end built in one pass each (a sort, not a B-tree insert per row). Its foreign keys
        // are checked by the import itself, row by row, to name the line; the primary key's
        // uniqueness by the reader's duplicate check. Foreign keys of other tables that point at
        // this one must go with its primary key; those tables are empty, since this one is.
        // All inside the transaction: a refused import restores everything.
        let pk = self.tx.query_opt(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
             WHERE conrelid = $1::text::regclass AND contype = 'p'",
            &[&table],
        )?;
        let fks = self.tx.query(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid),
                    confrelid::regclass::text
             FROM pg_constraint
             WHERE contype = 'f' AND (conrelid = $1::text::regclass
                                      OR confrelid = $1::text::regclass)
             ORDER BY conrelid = $1::text::regclass DESC, conname",
            &[&table],
        )?;
        let indexes = self.tx.query(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i
             WHERE i.schemaname = current_schema() AND i.tablename = $1
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                               WHERE c.conname = i.indexname AND c.contype IN ('p', 'u'))",
            &[&table],
        )?;
        // ALTER TABLE refuses while deferred checks are queued: run them now.
        self.tx
            .batch_execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")?;
        // This table's own foreign keys to other tables can stay if the server may be told not
        // to check the rows this load adds: the import has matched every reference itself,
        // exactly (an earlier file's keys by exact code, the rest looked up in this
        // transaction), and re-adding a key would make the server check 2 M references again,
        // a full join. The tables referred to are locked against writes until the commit, so
        // what was looked up cannot go away.
        let own =
            |fk: &postgres::Row| fk.get::<_, String>(0) == table && fk.get::<_, String>(3) != table;
        if fks.iter().any(own) && self.turn_checks_off()? {
            for fk in fks.iter().filter(|fk| own(fk)) {
                let target: String = fk.get(3);
                self.tx
                    .batch_execute(&format!("LOCK TABLE {target} IN SHARE MODE"))?;
            }
        }
        // Restored in this order: primary key, then indexes, then foreign keys.
        let mut restore = Vec::new();
        for fk in fks.iter().filter(|fk| !(self.checks_off && own(fk))) {
            let (on, name, def): (String, String, String) = (fk.get(0), fk.get(1), fk.get(2));
            self.tx
                .batch_execute(&format!("ALTER TABLE {on} DROP CONSTRAINT \"{name}\""))?;
            restore.push(format!("ALTER TABLE {on} ADD CONSTRAINT \"{name}\" {def}"));
        }
        for ix in &indexes {
            let (name, def): (String, String) = (ix.get(0), ix.get(1));
            self.tx.batch_execute(&format!("DROP INDEX \"{name}\""))?;
            restore.insert(0, def);
        }
        if let Some(pk) = pk {
            let (name, def): (String, String) = (pk.get(0), pk.get(1));
            self.tx
                .batch_execute(&format!("ALTER TABLE {table} DROP CONSTRAINT \"{name}\""))?;
            restore.insert(
                0,
                format!("ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {def}"),
            );
        }
        // The statement triggers counting the table's rows per site (`list_counts`) and the
        // reports' machines (`site_machine_counts`) are off for the load (each would hold every
        // row loaded in a transition table); what they count is counted once after it instead
        // (`lists::recount`, `reports::recount`).
        let counting = self.tx.query(
            "SELECT t.tgname, t.tgenabled::text, p.prosrc LIKE '%list_counts%',
                    p.prosrc LIKE '%site_machine_counts%'
             FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
             WHERE t.tgrelid = $1::text::regclass AND NOT t.tgisinternal AND t.tgenabled <> 'D'
               AND (p.prosrc LIKE '%list_counts%' OR p.prosrc LIKE '%site_machine_counts%')",
            &[&table],
        )?;
        let counted = |n: usize| counting.iter().any(|t| t.get::<_, bool>(n));
        let (lists, machines) = (counted(2), counted(3));
        for trigger in &counting {
            let (name, enabled): (String, String) = (trigger.get(0), trigger.get(1));
            self.tx
                .batch_execute(&format!("ALTER TABLE {table} DISABLE TRIGGER \"{name}\""))?;
            let how = match enabled.as_str() {
                "A" => "ALWAYS ",
                "R" => "REPLICA ",
                _ => "",
            };
            restore.push(format!(
                "ALTER TABLE {table} ENABLE {how}TRIGGER \"{name}\""
            ));
        }
        restore.extend(crate::lists::recount(kind).filter(|_| lists));
        restore.extend(crate::reports::recount(kind).filter(|_| machines));
        self.dropped = restore;
        self.bulk = Some(kind);
        Ok(true)
    }

    fn end_bulk(&mut self) -> Result<(), StoreError> {
        if std::mem::take(&mut self.checks_off) {
            self.tx
                .batch_execute("SET LOCAL session_replication_role = origin")?;
        }
        if !self.dropped.is_empty() {
            self.tx
                .batch_execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")?;
        }
        for sql in std::mem::take(&mut self.dropped) {
            let started = std::time::Instant::now();
            self.tx.batch_execute(&sql)?;
            tracing::debug!(took = ?started.elapsed(), sql, "restored after a bulk load");
        }
        if let Some(kind) = self.bulk.take() {
            // The planner's statistics still describe an empty table.
            let started = std::time::Instant::now();
            self.tx.batch_execute(&format!("ANALYZE {}", kind.name()))?;
            tracing::debug!(took = ?started.elapsed(), %kind, "analysed after a bulk load");
        }
        self.fresh = false;
        Ok(())
    }

    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<Vec<Value>>, StoreError> {
        let query = format!(
            "{} FOR UPDATE",
            sql::select_by_key(kind, &select_list(kind, ""), Dialect::Postgres)
        );
        match self.tx.query_opt(&query, &[&key])? {
            Some(row) => Ok(Some(read_values(kind, &row)?)),
            None => Ok(None),
        }
    }

    fn update(&mut self, kind: Kind, values: &[Value]) -> Result<(), StoreError> {
        let p = params(values);
        self.tx
            .execute(&sql::update(kind, Dialect::Postgres), &as_refs(&p))?;
        Ok(())
    }

    fn audit_head(&mut self) -> Result<(i64, String), StoreError> {
        // The row lock orders concurrent writers: each appends after the one before commits.
        let row = self.tx.query_one(
            "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
            &[],
        )?;
        Ok((row.get(0), row.get(1)))
    }

    fn insert_audit(&mut self, records: &[StoredAudit]) -> Result<(), StoreError> {
        let stmt = self.tx.prepare(&sql::insert_audit(Dialect::Postgres))?;
        for s in records {
            let r = &s.record;
            self.tx.execute(
                &stmt,
                &[
                    &r.seq,
                    &r.at.unix(),
                    &r.actor,
                    &r.action,
                    &r.entity_kind,
                    &r.entity_key,
                    &r.note,
                    &r.before,
                    &r.after,
                    &s.prev_hash,
                    &s.hash,
                ],
            )?;
        }
        Ok(())
    }

    fn set_audit_head(&mut self, seq: i64, hash: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1",
            &[&seq, &hash],
        )?;
        Ok(())
    }

    fn finding_note(&mut self, id: &str) -> Result<Option<FindingNote>, StoreError> {
        let row = self.tx.query_opt(
            &format!("SELECT {NOTE_SELECT} FROM finding_notes WHERE finding_id = $1"),
            &[&id],
        )?;
        row.map(|r| note(&r)).transpose()
    }

    fn put_finding_note(&mut self, id: &str, note: Option<&FindingNote>) -> Result<(), StoreError> {
        match note {
            None => self
                .tx
                .execute("DELETE FROM finding_notes WHERE finding_id = $1", &[&id])?,
            Some(n) => self.tx.execute(
                &format!(
                    "INSERT INTO finding_notes ({}) VALUES ($1, $2, $3, $4, $5, $6::text::date)
                     ON CONFLICT (finding_id) DO UPDATE SET state = EXCLUDED.state,
                       reason = EXCLUDED.reason, actor = EXCLUDED.actor,
                       noted_at = EXCLUDED.noted_at, until = EXCLUDED.until",
                    tx::NOTE_COLUMNS
                ),
                &[
                    &id,
                    &n.state.as_str(),
                    &n.reason,
                    &n.actor,
                    &n.noted_at.unix(),
                    &n.until.to_string(),
                ],
            )?,
        };
        Ok(())
    }

    fn note_refreshed(
        &mut self,
        cards: Option<&str>,
        new_sites: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        // The planner takes any list for 100 rows and looks each card and holder up by index: a
        // national import's million cards took 57 s so, 9 s joined by hashing (loaded machine).
        let many = cards.is_none_or(|list| list.len() > 1 << 20);
        if many {
            self.tx.batch_execute("SET LOCAL enable_nestloop = off")?;
        }
        match cards {
            Some(list) => self.tx.execute(
                "INSERT INTO site_refreshes (site_ods, refreshed_at)
                 SELECT DISTINCT p.site_ods, $2::bigint FROM cards c JOIN people p ON p.uuid = c.holder_uuid
                 WHERE c.card_serial IN (SELECT json_array_elements_text($1::text::json))
                 ON CONFLICT (site_ods) DO UPDATE
                 SET refreshed_at = GREATEST(site_refreshes.refreshed_at, EXCLUDED.refreshed_at)",
                &[&list, &at.unix()],
            )?,
            None => self.tx.execute(
                "INSERT INTO site_refreshes (site_ods, refreshed_at)
                 SELECT DISTINCT p.site_ods, $1::bigint FROM cards c JOIN people p ON p.uuid = c.holder_uuid
                 ON CONFLICT (site_ods) DO UPDATE
                 SET refreshed_at = GREATEST(site_refreshes.refreshed_at, EXCLUDED.refreshed_at)",
                &[&at.unix()],
            )?,
        };
        if many {
            self.tx
                .batch_execute("SET LOCAL enable_nestloop = DEFAULT")?;
        }
        self.tx.execute(
            "INSERT INTO site_refreshes (site_ods, refreshed_at)
             SELECT json_array_elements_text($1::text::json), $2::bigint
             ON CONFLICT (site_ods) DO NOTHING",
            &[&new_sites, &at.unix()],
        )?;
        Ok(())
    }

    fn created_sites(&mut self, kind: Kind, keys: &str) -> Result<Vec<String>, StoreError> {
        let elements = "SELECT json_array_elements_text($1::text::json)";
        let Some(sql) = tx::created_sites_sql(kind, elements) else {
            return Ok(Vec::new());
        };
        let rows = self.tx.query(&sql, &[&keys])?;
        Ok(rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?)
    }
}

/// The note columns, the date as ISO text.
const NOTE_SELECT: &str = "finding_id, state, reason, actor, noted_at, until::text";

fn note(r: &postgres::Row) -> Result<FindingNote, StoreError> {
    tx::note_from_columns(
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
    )
}

fn read_audit(r: &postgres::Row) -> Result<StoredAudit, postgres::Error> {
    Ok(StoredAudit {
        record: AuditRecord {
            seq: r.try_get(0)?,
            at: Timestamp::from_unix(r.try_get(1)?),
            actor: r.try_get(2)?,
            action: r.try_get(3)?,
            entity_kind: r.try_get(4)?,
            entity_key: r.try_get(5)?,
            note: r.try_get(6)?,
            before: r.try_get(7)?,
            after: r.try_get(8)?,
        },
        prev_hash: r.try_get(9)?,
        hash: r.try_get(10)?,
    })
}

const NO_PARAMS: [&(dyn ToSql + Sync); 0] = [];

impl Store for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn backup_to(&self, to: &std::path::Path) -> Result<crate::backup::Backup, StoreError> {
        crate::backup::backup(&self.url, to)
    }

    fn connections(&self) -> Option<crate::Connections> {
        let (q, s) = (self.pool.figures(), self.streamers.figures());
        Some(crate::Connections {
            in_use: q.in_use + s.in_use,
            idle: q.idle + s.idle,
            max: self.max,
        })
    }

    fn ping(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get()?;
        if let Err(e) = client.simple_query("SELECT 1") {
            client.discard();
            return Err(e.into());
        }
        Ok(())
    }

    fn import(
        &self,
        inputs: &[ImportInput],
        options: &ImportOptions,
        change: &Change,
    ) -> Result<ImportReport, StoreError> {
        self.write(!options.check_only, |tx| {
            // A national file is one COPY and each rebuilt key one sort: statements that can
            // outlast a `statement_timeout` set for the role's everyday queries, as hosted
            // servers often do. Like `pg_restore`, the import lifts it for its own transaction.
            tx.tx.batch_execute("SET LOCAL statement_timeout = 0")?;
            import::run(tx, inputs, options, change)
        })
    }

    fn scan(
        &self,
        kind: Kind,
        columns: &[usize],
        ordered: bool,
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        let order = if ordered {
            format!(" ORDER BY {}", sql::key_order(kind))
        } else {
            String::new()
        };
        let select = format!(
            "SELECT {} FROM {}{order}",
            sql::some_columns(kind, columns),
            kind.name()
        );
        self.copy_cells(false, &select, kind, columns, each)
    }

    fn scan_reference(
        &self,
        kind: Kind,
        columns: &[usize],
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        let select = format!(
            "SELECT {} FROM {}",
            sql::some_columns(kind, columns),
            kind.name()
        );
        self.copy_cells(true, &select, kind, columns, each)
    }

    fn scan_keyed(
        &self,
        kind: Kind,
        columns: &[usize],
        keys: &[&str],
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        self.copy_cells(
            keys.len() <= SMALL_READ_KEYS,
            &keyed_select(kind, columns, keys),
            kind,
            columns,
            each,
        )
    }

    fn scan_by(
        &self,
        kind: Kind,
        columns: &[usize],
        by: &str,
        keys: &[&str],
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        // Only one of the kind's own column names goes into the query.
        let by = sql::own_column(kind, by)?;
        let select = format!(
            "SELECT {} FROM {} WHERE {} = ANY({}::text[])",
            sql::some_columns(kind, columns),
            kind.name(),
            ident(by),
            array_literal(keys),
        );
        self.copy_cells(keys.len() <= SMALL_READ_KEYS, &select, kind, columns, each)
    }

    fn cards_with_certificates_due(&self, by: Date) -> Result<Vec<DueCard>, StoreError> {
        let mut conn = self.streamers.get()?;
        let due = cards_due_on(&mut conn, by);
        if due.is_err() {
            conn.discard();
        }
        due
    }

    fn large_reads_at_once(&self) -> usize {
        large_reads(self.max)
    }

    fn scan_of_cards_due(
        &self,
        kind: Kind,
        columns: &[usize],
        by: Date,
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        // One statement: the server finds the due cards and joins them to the records itself,
        // by hashing. Fetching the cards first and sending them back as a list of a few
        // hundred thousand serials cost the client that list and the server parsing it, and
        // made the health check's longest read two reads one after the other.
        let mut conn = self.streamers.get()?;
        let read = conn
            .batch(HASH_SETTINGS)
            .and_then(|()| {
                copy_cells_on(
                    &mut conn,
                    &of_cards_due_select(kind, columns, by),
                    kind,
                    columns,
                    each,
                )
            })
            .and_then(|rows| conn.batch(HASH_SETTINGS_RESET).map(|()| rows));
        if read.is_err() {
            conn.discard();
        }
        read
    }

    fn set_card_status(
        &self,
        card: &CardSerial,
        to: CardStatus,
        reason: &str,
        change: &Change,
    ) -> Result<CardStatus, StoreError> {
        self.write(true, |tx| {
            tx::set_card_status(tx, card.as_ref(), to, reason, change)
        })
    }

    fn finding_notes(&self) -> Result<Vec<FindingNote>, StoreError> {
        let mut client = self.pool.get()?;
        let rows = client.query(
            &format!("SELECT {NOTE_SELECT} FROM finding_notes ORDER BY finding_id"),
            &[],
        )?;
        rows.iter().map(note).collect()
    }

    fn note_finding(&self, n: &FindingNote, change: &Change) -> Result<(), StoreError> {
        self.write(true, |tx| {
            tx::note_finding(tx, &n.finding_id, Some(n), &n.reason, change).map(|_| ())
        })
    }

    fn reopen_finding(
        &self,
        finding_id: &str,
        reason: &str,
        change: &Change,
    ) -> Result<bool, StoreError> {
        self.write(true, |tx| {
            tx::note_finding(tx, finding_id, None, reason, change)
        })
    }

    fn records_where(
        &self,
        kind: Kind,
        column: &str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<Vec<Value>>, StoreError> {
        let query = sql::select_where(kind, &select_list(kind, ""), column, Dialect::Postgres)?;
        let rows = self.pool.get()?.query(&query, &[&value, &(limit as i64)])?;
        rows.iter().map(|r| read_values(kind, r)).collect()
    }

    fn list_page(&self, q: &crate::lists::ListQuery) -> Result<crate::lists::ListPage, StoreError> {
        let mut client = self.pool.get()?;
        let client = std::cell::RefCell::new(&mut **client);
        crate::lists::run(
            q,
            Dialect::Postgres,
            &select_list(q.kind, ""),
            &mut |sql, args| {
                let rows = read_rows(&mut **client.borrow_mut(), sql, args)?;
                rows.iter().map(|r| read_values(q.kind, r)).collect()
            },
            &mut |sql, args| {
                let rows = read_rows(&mut **client.borrow_mut(), sql, args)?;
                let row = rows
                    .first()
                    .ok_or_else(|| StoreError::Database(format!("no row from {sql}")))?;
                Ok(row.get(0))
            },
        )
    }

    fn add_user(&self, u: &NewUser, change: &Change) -> Result<(), StoreError> {
        self.write(true, |tx| crate::users::add(tx, u, change))
    }

    fn user(&self, name: &Username) -> Result<Option<User>, StoreError> {
        users::one(&mut **self.pool.get()?, name)
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        users::all(&mut **self.pool.get()?)
    }

    fn set_user_password(
        &self,
        name: &Username,
        hash: &str,
        change: &Change,
    ) -> Result<(), StoreError> {
        self.write(true, |tx| {
            crate::users::set_password(tx, name, hash, change)
        })
    }

    fn set_user_disabled(
        &self,
        name: &Username,
        disabled: bool,
        change: &Change,
    ) -> Result<(), StoreError> {
        self.write(true, |tx| {
            crate::users::set_disabled(tx, name, disabled, change)
        })
    }

    fn record_sign_in(&self, name: &Username, ok: bool, at: Timestamp) -> Result<(), StoreError> {
        users::sign_in(&mut **self.pool.get()?, name, ok, at)
    }

    fn create_session(
        &self,
        token_hash: &str,
        name: &Username,
        csrf: &str,
        at: Timestamp,
        expires: Timestamp,
    ) -> Result<(), StoreError> {
        users::create_session(&mut **self.pool.get()?, token_hash, name, csrf, at, expires)
    }

    fn session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(User, String)>, StoreError> {
        users::session(&mut **self.pool.get()?, token_hash, now)
    }

    fn session_with_length(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(User, String, i64)>, StoreError> {
        users::session_with_length(&mut *self.pool.get()?, token_hash, now)
    }

    fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        users::end_session(&mut **self.pool.get()?, token_hash)
    }

    fn add_token(&self, t: &Token, hash: &str, change: &Change) -> Result<(), StoreError> {
        self.write(true, |tx| crate::users::add_token(tx, t, hash, change))
    }

    fn tokens(&self, owner: Option<&Username>) -> Result<Vec<Token>, StoreError> {
        users::tokens(&mut **self.pool.get()?, owner)
    }

    fn revoke_token(&self, id: &str, change: &Change) -> Result<(), StoreError> {
        self.write(true, |tx| crate::users::revoke_token(tx, id, change))
    }

    fn live_token(&self, hash: &str) -> Result<Option<(Token, User)>, StoreError> {
        users::live_token(&mut **self.pool.get()?, hash)
    }

    fn open_incident(&self, n: &NewIncident, change: &Change) -> Result<i64, StoreError> {
        self.write(true, |tx| crate::incidents::open(tx, n, change))
    }

    fn record_incident_step(
        &self,
        id: i64,
        step: &IncidentStep,
        change: &Change,
    ) -> Result<(), StoreError> {
        self.write(true, |tx| {
            crate::incidents::record_step(tx, id, step, change)
        })
    }

    fn close_incident(
        &self,
        id: i64,
        status: IncidentStatus,
        cause: Option<&str>,
        change: &Change,
    ) -> Result<Incident, StoreError> {
        self.write(true, |tx| {
            crate::incidents::close(tx, id, status, cause, change)
        })
    }

    fn record_incidents(
        &self,
        list: &[crate::incidents::RecordedIncident],
    ) -> Result<Vec<i64>, StoreError> {
        self.write(true, |tx| crate::incidents::record_all(tx, list))
    }

    fn incident(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        incidents::one(&mut **self.pool.get()?, id)
    }

    fn incidents(&self, limit: usize) -> Result<Vec<Incident>, StoreError> {
        incidents::newest(&mut **self.pool.get()?, limit)
    }

    fn incident_cause_counts(&self) -> Result<Vec<CauseCount>, StoreError> {
        incidents::cause_counts(&mut **self.pool.get()?)
    }

    fn recent_reports(
        &self,
        site: &str,
        symptom: &str,
        since: Timestamp,
        except: Option<i64>,
    ) -> Result<u32, StoreError> {
        incidents::recent(&mut **self.pool.get()?, site, symptom, since, except)
    }

    fn transaction(
        &self,
        f: &mut dyn FnMut(&mut dyn Exec) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.write(true, |tx| f(tx))
    }

    fn audit_search(&self, q: &AuditQuery) -> Result<Vec<StoredAudit>, StoreError> {
        let mut client = self.pool.get()?;
        let rows = client.query(
            &format!(
                "SELECT {} FROM audit_log WHERE ($1::text IS NULL OR entity_kind = $1) \
                 AND ($2::text IS NULL OR entity_key = $2) AND ($3::text IS NULL OR actor = $3) \
                 AND ($4::bigint IS NULL OR seq < $4) ORDER BY seq DESC LIMIT $5",
                sql::AUDIT_COLUMNS
            ),
            &[
                &q.entity_kind,
                &q.entity_key,
                &q.actor,
                &q.before_seq,
                &(q.limit as i64),
            ],
        )?;
        Ok(rows.iter().map(read_audit).collect::<Result<_, _>>()?)
    }

    fn audit_records(&self, after_seq: i64, limit: usize) -> Result<Vec<StoredAudit>, StoreError> {
        let mut client = self.pool.get()?;
        let rows = client.query(
            &format!(
                "SELECT {} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                sql::AUDIT_COLUMNS
            ),
            &[&after_seq, &(limit as i64)],
        )?;
        Ok(rows.iter().map(read_audit).collect::<Result<_, _>>()?)
    }

    fn audit_length(&self) -> Result<i64, StoreError> {
        let rows = self
            .pool
            .get()?
            .cached("SELECT seq FROM audit_head WHERE id = 1", &[], &[])?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Database("the audit chain has no head".into()))?;
        Ok(row.try_get(0)?)
    }

    fn verify_audit(&self) -> Result<AuditVerdict, StoreError> {
        let mut client = self.pool.get()?;
        // One snapshot: the head and the records as of the same moment.
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let head = tx.query_one("SELECT seq, hash FROM audit_head WHERE id = 1", &[])?;
        let head: (i64, String) = (head.get(0), head.get(1));
        let mut failed = None;
        let rows = tx
            .query_raw(
                &format!("SELECT {} FROM audit_log ORDER BY seq", sql::AUDIT_COLUMNS),
                NO_PARAMS,
            )?
            .iterator()
            .map_while(|r| {
                r.and_then(|r| read_audit(&r))
                    .map_err(|e| failed = Some(e))
                    .ok()
            });
        let verdict = audit::verify(rows, Some(head));
        if let Some(e) = failed {
            return Err(e.into());
        }
        Ok(match verdict {
            Ok(n) => AuditVerdict::Intact(n),
            Err(b) => AuditVerdict::Broken(b),
        })
    }

    fn expiring_certificates(&self, limit: usize) -> Result<Vec<ExpiringCertificate>, StoreError> {
        let mut client = self.pool.get()?;
        let rows = client.query(
            "SELECT c.card_serial, c.purpose, to_char(c.not_after, 'YYYY-MM-DD'), p.uuid, p.name,
                    p.site_ods
             FROM certificates c
             JOIN cards k ON k.card_serial = c.card_serial
             JOIN people p ON p.uuid = k.holder_uuid
             WHERE k.status = 'active'
             ORDER BY c.not_after, c.card_serial, c.purpose
             LIMIT $1",
            &[&(limit as i64)],
        )?;
        rows.iter()
            .map(|r| {
                Ok(ExpiringCertificate {
                    card_serial: r.get(0),
                    purpose: r.get(1),
                    not_after: Date::parse(r.get(2))
                        .map_err(|e| StoreError::Database(e.to_string()))?,
                    holder_uuid: r.get(3),
                    holder_name: r.get(4),
                    site_ods: r.get(5),
                })
            })
            .collect()
    }

    fn counts(&self) -> Result<Vec<(Kind, i64)>, StoreError> {
        let mut client = self.pool.get()?;
        Kind::ALL
            .into_iter()
            .map(|k| {
                let row = client.query_one(&format!("SELECT count(*) FROM {}", k.name()), &[])?;
                Ok((k, row.get(0)))
            })
            .collect()
    }
}

/// A statement's parameters with their types, so that it goes to the server unprepared
/// (`query_typed`): one round trip, where preparing it first is two (with 10 clients on a
/// loaded machine each page's handful of statements waits in line for every one of them).
/// `None` when one is an untyped NULL, whose type only the statement knows.
pub(crate) fn typed_params<'a>(
    params: &[P<'a>],
) -> Option<Vec<(Box<dyn ToSql + Sync + 'a>, postgres::types::Type)>> {
    params
        .iter()
        .map(
            |p| -> Option<(Box<dyn ToSql + Sync + 'a>, postgres::types::Type)> {
                match *p {
                    P::I(n) => Some((Box::new(n), postgres::types::Type::INT8)),
                    P::T(t) => Some((Box::new(t), postgres::types::Type::TEXT)),
                    P::Null => None,
                }
            },
        )
        .collect()
}

/// The rows of a statement that only reads, sent unprepared when its parameters' types are known
/// ([`typed_params`]), prepared first otherwise.
pub(crate) fn read_rows(
    c: &mut impl postgres::GenericClient,
    sql: &str,
    params: &[P<'_>],
) -> Result<Vec<postgres::Row>, postgres::Error> {
    match typed_params(params) {
        Some(typed) => {
            let refs: Vec<(&(dyn ToSql + Sync), postgres::types::Type)> =
                typed.iter().map(|(v, t)| (&**v, t.clone())).collect();
            c.query_typed(sql, &refs)
        }
        None => {
            let owned = pg_params(params);
            let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| &**b).collect();
            c.query(sql, &refs)
        }
    }
}

/// Parameters as the driver takes them: numbers as `BIGINT`, text as `TEXT`.
fn pg_params<'a>(params: &[P<'a>]) -> Vec<Box<dyn ToSql + Sync + 'a>> {
    params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync + 'a> {
            match *p {
                P::I(n) => Box::new(n),
                P::T(t) => Box::new(t),
                // Untyped NULLs take the column's type from the statement.
                P::Null => Box::new(AnyNull),
            }
        })
        .collect()
}

impl Exec for PgTx<'_, '_> {
    fn exec(&mut self, sql: &str, params: &[P<'_>]) -> Result<u64, StoreError> {
        let owned = pg_params(params);
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| &**b).collect();
        Ok(self.tx.execute(sql, &refs)?)
    }

    fn rows(&mut self, sql: &str, params: &[P<'_>]) -> Result<Vec<Vec<V>>, StoreError> {
        let rows = read_rows(&mut *self.tx, sql, params)?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| {
                        let ty = r.columns()[i].type_();
                        Ok(if *ty == postgres::types::Type::INT8 {
                            r.try_get::<_, Option<i64>>(i)?.map_or(V::Null, V::I)
                        } else if *ty == postgres::types::Type::INT4 {
                            r.try_get::<_, Option<i32>>(i)?
                                .map_or(V::Null, |n| V::I(n.into()))
                        } else if *ty == postgres::types::Type::BOOL {
                            r.try_get::<_, Option<bool>>(i)?
                                .map_or(V::Null, |b| V::I(b.into()))
                        } else if *ty == postgres::types::Type::FLOAT8 {
                            r.try_get::<_, Option<f64>>(i)?.map_or(V::Null, V::R)
                        } else {
                            r.try_get::<_, Option<String>>(i)?.map_or(V::Null, V::T)
                        })
                    })
                    .collect()
            })
            .collect()
    }

    fn audit(&mut self, change: &Change, entry: &Entry<'_>) -> Result<(), StoreError> {
        crate::exec::audit(self, change, entry)
    }
}

#[cfg(test)]
mod tests {
    use super::array_literal;

    #[test]
    fn array_literals_quote_what_would_end_them() {
        assert_eq!(array_literal(&[]), "'{}'");
        assert_eq!(array_literal(&["CS1", "CS2"]), r#"'{"CS1","CS2"}'"#);
        // An element's own quote, backslash, comma or brace stays inside it.
        assert_eq!(
            array_literal(&[r#"a"b\c"#, "O'Neil", "x,{y}"]),
            r#"'{"a\"b\\c","O''Neil","x,{y}"}'"#
        );
    }
}
