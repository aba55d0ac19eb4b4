//! The embedded SQLite backend: one file, WAL journal, foreign keys on, row-by-row prepared
//! statements (in-process calls cost microseconds, so batching buys nothing here).

mod incidents;
mod users;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cardwatch_core::access::{NewUser, Token, User, Username};
use cardwatch_core::audit::{self, AuditRecord, StoredAudit};
use cardwatch_core::card_status::CardStatus;
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::health::FindingNote;
use cardwatch_core::ids::CardSerial;
use cardwatch_core::records::{Cell, ColType, Kind, Value, MAX_COLUMNS};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, ToSql, TransactionBehavior};

use crate::batch::Batch;
use crate::exec::{sqlite_placeholders, Entry, Exec, P, V};
use crate::import::{self, ImportInput, ImportOptions, ImportReport};
use crate::migrations;
use crate::pool::Pool;
use crate::sql::{self, Dialect};
use crate::tx::{self, check_update, Outcome, Tx};
use crate::{
    AuditQuery, AuditVerdict, Backend, Change, DueCard, ExpiringCertificate, Store, StoreError,
};
use cardwatch_core::triage::{CauseCount, Incident, IncidentStatus, IncidentStep, NewIncident};

/// The page cache of a bulk import's connection (`PRAGMA cache_size`: negative is KiB).
const BULK_CACHE: i32 = -65536;

/// A Cardwatch store in an SQLite file.
pub(crate) struct SqliteStore {
    path: PathBuf,
    pool: Pool<Connection>,
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)
        .map_err(|e| StoreError::Database(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(
        // Reads through a memory map: a full health check reads the whole file, and copying
        // every page through read() calls cost a fifth of its time.
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
         PRAGMA mmap_size = 4294967296;",
    )?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl SqliteStore {
    pub(crate) fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(StoreError::Url(format!(
                    "cannot create {}: the folder {} does not exist — create it or choose another path",
                    path.display(),
                    dir.display()
                )));
            }
        }
        let mut conn = connect(path)?;
        migrate(&mut conn)?;
        let owned = path.to_owned();
        let pool = Pool::new(4, Box::new(move || connect(&owned)));
        Ok(SqliteStore {
            path: path.to_owned(),
            pool,
        })
    }

    /// Runs `f` in an immediate (write-locking) transaction; commits on success when `commit`.
    ///
    /// For a `bulk` import, SQLite's own foreign-key checks are off while it runs: the import
    /// checks every reference itself (to report the line), so they would repeat each lookup.
    /// They are back on before the connection is reused.
    fn write<T>(
        &self,
        bulk: bool,
        commit: bool,
        f: impl FnOnce(&mut SqliteTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        if bulk {
            conn.execute_batch(&format!(
                "PRAGMA foreign_keys = OFF; PRAGMA cache_size = {BULK_CACHE};"
            ))?;
        }
        let result = (|| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut stx = SqliteTx {
                tx: &tx,
                known: Default::default(),
                dropped: Vec::new(),
            };
            let out = f(&mut stx)?;
            if commit {
                tx.commit()?;
            } else {
                tx.rollback()?;
            }
            Ok(out)
        })();
        if bulk
            && conn
                .execute_batch("PRAGMA foreign_keys = ON; PRAGMA cache_size = -2000;")
                .is_err()
        {
            conn.discard();
        }
        result
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    for (version, name, text) in migrations::SQLITE {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let done: Option<i64> = tx
            .query_row(
                "SELECT version FROM schema_migrations WHERE version = ?1",
                [version],
                |r| r.get(0),
            )
            .optional()?;
        if done.is_none() {
            tx.execute_batch(text)
                .map_err(|e| StoreError::Database(format!("migration {version} {name}: {e}")))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at)
                 VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                params![version, name],
            )?;
        }
        tx.commit()?;
    }
    Ok(())
}

/// A value bound as SQLite stores it: dates and moments as ISO text, yes/no as 0/1. A date's
/// text is kept in the value itself, so binding the millions of an import allocates nothing.
enum Bind<'a> {
    Cell(Cell<'a>),
    Day([u8; 10]),
}

impl<'a> Bind<'a> {
    fn of(cell: Cell<'a>) -> Bind<'a> {
        match cell {
            Cell::Date(d) => Bind::Day(d.iso()),
            c => Bind::Cell(c),
        }
    }
}

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let cell = match self {
            Bind::Day(iso) => return Ok(ToSqlOutput::Borrowed(ValueRef::Text(iso))),
            Bind::Cell(c) => *c,
        };
        Ok(match cell {
            Cell::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Cell::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Cell::Int(n) => ToSqlOutput::from(n),
            Cell::Bool(b) => ToSqlOutput::from(i64::from(b)),
            Cell::Date(d) => ToSqlOutput::from(d.to_string()),
            Cell::Timestamp(t) => ToSqlOutput::from(t.to_string()),
        })
    }
}

/// Reads a row's columns back into values by the kind's column types.
fn read_values(kind: Kind, row: &rusqlite::Row<'_>) -> rusqlite::Result<Vec<Value>> {
    kind.columns()
        .iter()
        .enumerate()
        .map(|(i, c)| read_value(c.ty, row.get_ref(i)?, i))
        .collect()
}

fn read_value(ty: ColType, v: ValueRef<'_>, i: usize) -> rusqlite::Result<Value> {
    read_cell(ty, v, i).map(Cell::to_value)
}

/// Hands each row of a scan to `each` as cells of the kind's column types.
fn stream_cells(
    kind: Kind,
    columns: &[usize],
    mut rows: rusqlite::Rows<'_>,
    each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
) -> Result<u64, StoreError> {
    let mut n = 0;
    while let Some(row) = rows.next()? {
        // The cells borrow the row's text, so they live for this row only.
        let mut cells = [Cell::Null; MAX_COLUMNS];
        for (i, &c) in columns.iter().enumerate() {
            cells[i] = read_cell(kind.columns()[c].ty, row.get_ref(i)?, i)?;
        }
        each(&cells[..columns.len()]).map_err(|source| StoreError::Io {
            path: PathBuf::from("(output)"),
            source,
        })?;
        n += 1;
    }
    Ok(n)
}

fn read_cell(ty: ColType, v: ValueRef<'_>, i: usize) -> rusqlite::Result<Cell<'_>> {
    let bad = |what: String| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            v.data_type(),
            format!("stored value is not a {what}").into(),
        )
    };
    if let ValueRef::Null = v {
        return Ok(Cell::Null);
    }
    Ok(match ty {
        ColType::Text => Cell::Text(v.as_str()?),
        ColType::Int => Cell::Int(v.as_i64()?),
        ColType::Bool => Cell::Bool(v.as_i64()? != 0),
        ColType::Date => {
            Cell::Date(Date::parse(v.as_str()?).map_err(|e| bad(format!("date ({e})")))?)
        }
        ColType::Timestamp => Cell::Timestamp(
            Timestamp::parse(v.as_str()?).map_err(|e| bad(format!("moment ({e})")))?,
        ),
    })
}

fn binds(values: &[Value]) -> impl Iterator<Item = Bind<'_>> {
    values.iter().map(|v| Bind::of(v.as_cell()))
}

/// An open SQLite write transaction.
struct SqliteTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    /// Keys confirmed to exist, per kind: most rows refer to the same few sites, or to the card
    /// on the row before, so this saves most reference lookups. Cleared when large.
    known: [HashSet<String>; Kind::ALL.len()],
    /// Definitions of indexes and counting triggers dropped for a bulk load, to create again at
    /// its end, then the recount of what the triggers count.
    dropped: Vec<String>,
}

fn exists_sql(kind: Kind) -> String {
    sql::select_by_key(kind, "1", Dialect::Sqlite)
}

fn select_sql(kind: Kind) -> String {
    let list = sql::column_list(kind, |c, _| c.to_owned());
    sql::select_by_key(kind, &list, Dialect::Sqlite)
}

impl SqliteTx<'_> {
    fn exists_any(&self, kind: Kind) -> Result<bool, StoreError> {
        let sql = format!("SELECT 1 FROM {} LIMIT 1", kind.name());
        Ok(self.tx.prepare(&sql)?.exists([])?)
    }
}

impl Tx for SqliteTx<'_> {
    fn apply(&mut self, batch: &Batch) -> Result<Vec<Outcome>, StoreError> {
        let kind = batch.kind();
        // Statements are prepared once per batch, not looked up in the cache once per row.
        let tx = self.tx;
        let mut insert = tx.prepare(&sql::insert(kind, Dialect::Sqlite))?;
        let mut select = tx.prepare(&select_sql(kind))?;
        let mut lookups: Vec<(Kind, rusqlite::Statement<'_>)> = Vec::new();
        let mut out = Vec::with_capacity(batch.len());
        'rows: for row in batch.rows() {
            // References to records an earlier file of this import wrote are known by the
            // reader's exact key codes, and not looked up again.
            let refs = row.refs().filter(|_| !row.refs_loaded);
            for (col, target, key) in refs {
                let known = &mut self.known[target as usize];
                if known.contains(key) {
                    continue;
                }
                let n = match lookups.iter().position(|(k, _)| *k == target) {
                    Some(n) => n,
                    None => {
                        lookups.push((target, tx.prepare(&exists_sql(target))?));
                        lookups.len() - 1
                    }
                };
                if !lookups[n].1.exists([key])? {
                    out.push(Outcome::MissingRef {
                        column: col,
                        target,
                    });
                    continue 'rows;
                }
                if known.len() > 100_000 {
                    known.clear();
                }
                known.insert(key.to_owned());
            }
            // Bound one by one: no iterator of parameters, no count of them asked per row.
            for (i, cell) in row.cells().enumerate() {
                insert.raw_bind_parameter(i + 1, Bind::of(cell))?;
            }
            if insert.raw_execute()? == 1 {
                out.push(Outcome::Created);
                continue;
            }
            let before = select.query_row(
                rusqlite::params_from_iter(row.cells().take(kind.key_len()).map(Bind::of)),
                |r| read_values(kind, r),
            )?;
            if row.matches(&before) {
                out.push(Outcome::Unchanged);
                continue;
            }
            let after = row.values_over(&before);
            if let Err((column, message)) = check_update(kind, &before, &after) {
                out.push(Outcome::Refused { column, message });
            } else {
                self.update(kind, &after)?;
                out.push(Outcome::Updated { before });
            }
        }
        Ok(out)
    }

    fn begin_bulk(&mut self, kind: Kind, bulk: bool) -> Result<bool, StoreError> {
        // Filling an empty table from a large file: drop its secondary indexes and build them
        // once at the end (a sort), instead of one random B-tree insert per row. Inside the
        // transaction, so a refused import puts them back.
        let empty = !self.exists_any(kind)?;
        if !bulk || !empty {
            return Ok(empty);
        }
        // The triggers counting the table's rows per site (`list_counts`) and the reports'
        // machines (`site_machine_counts`) go too (upserts per row), and what they count is
        // counted once at the end, after the indexes (`lists::recount`, `reports::recount`).
        let mut stmt = self.tx.prepare(
            "SELECT type, name, sql FROM sqlite_master
             WHERE tbl_name = ?1 AND sql IS NOT NULL
               AND (type = 'index' OR (type = 'trigger' AND (sql LIKE '%list_counts%'
                                                          OR sql LIKE '%site_machine_counts%')))
             ORDER BY type",
        )?;
        let dropped: Vec<(String, String, String)> = stmt
            .query_map([kind.name()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        for (what, name, _) in &dropped {
            self.tx.execute_batch(&format!("DROP {what} \"{name}\""))?;
        }
        let counted = |table: &str| {
            dropped
                .iter()
                .any(|(what, _, sql)| what == "trigger" && sql.contains(table))
        };
        let (lists, machines) = (counted("list_counts"), counted("site_machine_counts"));
        self.dropped = dropped.into_iter().map(|(_, _, sql)| sql).collect();
        self.dropped
            .extend(crate::lists::recount(kind).filter(|_| lists));
        self.dropped
            .extend(crate::reports::recount(kind).filter(|_| machines));
        Ok(true)
    }

    fn end_bulk(&mut self) -> Result<(), StoreError> {
        if self.dropped.is_empty() {
            return Ok(());
        }
        // An index is built by sorting its entries in runs of the page cache's size and merging
        // them. Small runs sort faster than large ones, and a helper thread sorts one while the
        // next is filled: the certificates' expiry index (2 M entries) took 2.1 s with the bulk
        // load's 64 MB cache and no helper, 1.0 s with 8 MB and one (measured with sqlite3).
        self.tx
            .execute_batch("PRAGMA cache_size = -8192; PRAGMA threads = 1;")?;
        let built = (|| {
            for sql in std::mem::take(&mut self.dropped) {
                let started = std::time::Instant::now();
                self.tx.execute_batch(&sql)?;
                tracing::debug!(took = ?started.elapsed(), sql, "rebuilt after a bulk load");
            }
            Ok(())
        })();
        self.tx.execute_batch(&format!(
            "PRAGMA cache_size = {BULK_CACHE}; PRAGMA threads = 0;"
        ))?;
        built
    }

    fn exists(&mut self, kind: Kind, key: &str) -> Result<bool, StoreError> {
        Ok(self.tx.prepare_cached(&exists_sql(kind))?.exists([key])?)
    }

    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<Vec<Value>>, StoreError> {
        Ok(self
            .tx
            .prepare_cached(&select_sql(kind))?
            .query_row([key], |r| read_values(kind, r))
            .optional()?)
    }

    fn update(&mut self, kind: Kind, values: &[Value]) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(&sql::update(kind, Dialect::Sqlite))?
            .execute(rusqlite::params_from_iter(binds(values)))?;
        Ok(())
    }

    fn audit_head(&mut self) -> Result<(i64, String), StoreError> {
        // BEGIN IMMEDIATE already holds the database's write lock, so the head cannot move.
        Ok(self
            .tx
            .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?)
    }

    fn insert_audit(&mut self, records: &[StoredAudit]) -> Result<(), StoreError> {
        let mut stmt = self
            .tx
            .prepare_cached(&sql::insert_audit(Dialect::Sqlite))?;
        for s in records {
            let r = &s.record;
            stmt.execute(params![
                r.seq,
                r.at.unix(),
                r.actor,
                r.action,
                r.entity_kind,
                r.entity_key,
                r.note,
                r.before,
                r.after,
                s.prev_hash,
                s.hash
            ])?;
        }
        Ok(())
    }

    fn set_audit_head(&mut self, seq: i64, hash: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1",
            params![seq, hash],
        )?;
        Ok(())
    }

    fn finding_note(&mut self, id: &str) -> Result<Option<FindingNote>, StoreError> {
        let mut stmt = self.tx.prepare_cached(&format!(
            "SELECT {} FROM finding_notes WHERE finding_id = ?1",
            tx::NOTE_COLUMNS
        ))?;
        let row = stmt.query_row([id], note_columns).optional()?;
        row.map(note).transpose()
    }

    fn put_finding_note(&mut self, id: &str, note: Option<&FindingNote>) -> Result<(), StoreError> {
        match note {
            None => self
                .tx
                .execute("DELETE FROM finding_notes WHERE finding_id = ?1", [id])?,
            Some(n) => self.tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO finding_notes ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    tx::NOTE_COLUMNS
                ),
                params![
                    id,
                    n.state.as_str(),
                    n.reason,
                    n.actor,
                    n.noted_at.unix(),
                    n.until.to_string()
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
        // Every card: each site asked whether one of its people holds a card, its people read
        // from the people list's index until one does — with the demo's cards the first person
        // asked, so a national estate's 8,400 sites take a few probes each, where asking every
        // one of a million people took 1.1 s at load 7 (and a list of every card looked up one
        // by one 3.7 s). Every person's site is one of the sites (the import checks each
        // reference), so the sites are the same.
        match cards {
            Some(list) => self.tx.execute(
                "INSERT INTO site_refreshes (site_ods, refreshed_at)
                 SELECT DISTINCT p.site_ods, ?2 FROM cards c JOIN people p ON p.uuid = c.holder_uuid
                 WHERE c.card_serial IN (SELECT value FROM json_each(?1))
                 ON CONFLICT (site_ods) DO UPDATE
                 SET refreshed_at = max(refreshed_at, excluded.refreshed_at)",
                params![list, at.unix()],
            )?,
            None => self.tx.execute(
                "INSERT INTO site_refreshes (site_ods, refreshed_at)
                 SELECT s.site_ods, ?1 FROM sites s
                 WHERE EXISTS (SELECT 1 FROM people p WHERE p.site_ods = s.site_ods
                     AND EXISTS (SELECT 1 FROM cards c WHERE c.holder_uuid = p.uuid))
                 ON CONFLICT (site_ods) DO UPDATE
                 SET refreshed_at = max(refreshed_at, excluded.refreshed_at)",
                params![at.unix()],
            )?,
        };
        // `WHERE true` tells SQLite's parser the ON CONFLICT is the upsert's, not a join's.
        self.tx.execute(
            "INSERT INTO site_refreshes (site_ods, refreshed_at)
             SELECT value, ?2 FROM json_each(?1) WHERE true ON CONFLICT (site_ods) DO NOTHING",
            params![new_sites, at.unix()],
        )?;
        Ok(())
    }

    fn created_sites(&mut self, kind: Kind, keys: &str) -> Result<Vec<String>, StoreError> {
        let Some(sql) = tx::created_sites_sql(kind, "SELECT value FROM json_each(?1)") else {
            return Ok(Vec::new());
        };
        let mut stmt = self.tx.prepare(&sql)?;
        let sites = stmt.query_map([keys], |r| r.get(0))?;
        Ok(sites.collect::<Result<_, _>>()?)
    }
}

type NoteColumns = (String, String, String, String, i64, String);

fn note_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<NoteColumns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn note(c: NoteColumns) -> Result<FindingNote, StoreError> {
    tx::note_from_columns(c.0, &c.1, c.2, c.3, c.4, &c.5)
}

fn read_audit(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredAudit> {
    Ok(StoredAudit {
        record: AuditRecord {
            seq: r.get(0)?,
            at: Timestamp::from_unix(r.get(1)?),
            actor: r.get(2)?,
            action: r.get(3)?,
            entity_kind: r.get(4)?,
            entity_key: r.get(5)?,
            note: r.get(6)?,
            before: r.get(7)?,
            after: r.get(8)?,
        },
        prev_hash: r.get(9)?,
        hash: r.get(10)?,
    })
}

impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn describe(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    fn backup_to(&self, to: &Path) -> Result<crate::backup::Backup, StoreError> {
        crate::backup::backup(&format!("sqlite://{}", self.path.display()), to)
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.pool.get()?.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    fn import(
        &self,
        inputs: &[ImportInput],
        options: &ImportOptions,
        change: &Change,
    ) -> Result<ImportReport, StoreError> {
        self.write(true, !options.check_only, |tx| {
            import::run(tx, inputs, options, change)
        })
    }

    fn scan(
        &self,
        kind: Kind,
        columns: &[usize],
        // Tables are kept in key order (WITHOUT ROWID): ordering is free.
        _ordered: bool,
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        let conn = self.pool.get()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM {} ORDER BY {}",
            sql::some_columns(kind, columns),
            kind.name(),
            sql::key_order(kind)
        ))?;
        let n = stream_cells(kind, columns, stmt.query([])?, each)?;
        Ok(n)
    }

    fn scan_keyed(
        &self,
        kind: Kind,
        columns: &[usize],
        keys: &[&str],
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        // The keys go as one JSON array: SQLite walks it and looks each key up in the table,
        // which is ordered by its key.
        let conn = self.pool.get()?;
        let keys = serde_json::to_string(keys).map_err(|e| StoreError::Database(e.to_string()))?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM {} WHERE {} IN (SELECT value FROM json_each(?1)) ORDER BY {}",
            sql::some_columns(kind, columns),
            kind.name(),
            sql::ident(kind.columns()[0].name),
            sql::key_order(kind)
        ))?;
        let n = stream_cells(kind, columns, stmt.query([keys])?, each)?;
        Ok(n)
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
        let conn = self.pool.get()?;
        let keys = serde_json::to_string(keys).map_err(|e| StoreError::Database(e.to_string()))?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {} FROM {} WHERE {} IN (SELECT value FROM json_each(?1))",
            sql::some_columns(kind, columns),
            kind.name(),
            sql::ident(by),
        ))?;
        let n = stream_cells(kind, columns, stmt.query([keys])?, each)?;
        Ok(n)
    }

    fn cards_with_certificates_due(&self, by: Date) -> Result<Vec<DueCard>, StoreError> {
        let conn = self.pool.get()?;
        // Two searches, each on its own index (both hold the table's key, so the card serial and
        // the purpose too; migration 0014's partial index the SHA-1 condition): with OR, SQLite
        // would read every certificate. UNION ALL, since `from_pairs` sorts and merges repeats
        // anyway: a UNION would build and search a temporary b-tree of every row first.
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT card_serial, purpose = 'signing' FROM certificates WHERE not_after <= ?1
             UNION ALL
             SELECT card_serial, 1 FROM certificates WHERE {}",
            sql::SHA1_SIGNING
        ))?;
        let rows = stmt.query_map([by.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(DueCard::from_pairs(rows.collect::<Result<_, _>>()?))
    }

    fn set_card_status(
        &self,
        card: &CardSerial,
        to: CardStatus,
        reason: &str,
        change: &Change,
    ) -> Result<CardStatus, StoreError> {
        self.write(false, true, |tx| {
            tx::set_card_status(tx, card.as_ref(), to, reason, change)
        })
    }

    fn finding_notes(&self) -> Result<Vec<FindingNote>, StoreError> {
        let conn = self.pool.get()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {} FROM finding_notes ORDER BY finding_id",
            tx::NOTE_COLUMNS
        ))?;
        let rows = stmt.query_map([], note_columns)?;
        rows.map(|r| note(r?)).collect()
    }

    fn note_finding(&self, n: &FindingNote, change: &Change) -> Result<(), StoreError> {
        self.write(false, true, |tx| {
            tx::note_finding(tx, &n.finding_id, Some(n), &n.reason, change).map(|_| ())
        })
    }

    fn reopen_finding(
        &self,
        finding_id: &str,
        reason: &str,
        change: &Change,
    ) -> Result<bool, StoreError> {
        self.write(false, true, |tx| {
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
        let list = sql::column_list(kind, |c, _| c.to_owned());
        let query = sql::select_where(kind, &list, column, Dialect::Sqlite)?;
        let conn = self.pool.get()?;
        let mut stmt = conn.prepare_cached(&query)?;
        let rows = stmt.query_map(params![value, limit as i64], |r| read_values(kind, r))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn list_page(&self, q: &crate::lists::ListQuery) -> Result<crate::lists::ListPage, StoreError> {
        let list = sql::column_list(q.kind, |c, _| c.to_owned());
        let conn = self.pool.get()?;
        crate::lists::run(
            q,
            Dialect::Sqlite,
            &list,
            &mut |sql, args| {
                let mut stmt = conn.prepare_cached(sql)?;
                let rows =
                    stmt.query_map(rusqlite::params_from_iter(args), |r| read_values(q.kind, r))?;
                Ok(rows.collect::<Result<_, _>>()?)
            },
            &mut |sql, args| {
                let mut stmt = conn.prepare_cached(sql)?;
                Ok(stmt.query_row(rusqlite::params_from_iter(args), |r| r.get(0))?)
            },
        )
    }

    fn add_user(&self, u: &NewUser, change: &Change) -> Result<(), StoreError> {
        self.write(false, true, |tx| crate::users::add(tx, u, change))
    }

    fn user(&self, name: &Username) -> Result<Option<User>, StoreError> {
        users::one(&*self.pool.get()?, name)
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        users::all(&*self.pool.get()?)
    }

    fn set_user_password(
        &self,
        name: &Username,
        hash: &str,
        change: &Change,
    ) -> Result<(), StoreError> {
        self.write(false, true, |tx| {
            crate::users::set_password(tx, name, hash, change)
        })
    }

    fn set_user_disabled(
        &self,
        name: &Username,
        disabled: bool,
        change: &Change,
    ) -> Result<(), StoreError> {
        self.write(false, true, |tx| {
            crate::users::set_disabled(tx, name, disabled, change)
        })
    }

    fn record_sign_in(&self, name: &Username, ok: bool, at: Timestamp) -> Result<(), StoreError> {
        users::sign_in(&*self.pool.get()?, name, ok, at)
    }

    fn create_session(
        &self,
        token_hash: &str,
        name: &Username,
        csrf: &str,
        at: Timestamp,
        expires: Timestamp,
    ) -> Result<(), StoreError> {
        users::create_session(&*self.pool.get()?, token_hash, name, csrf, at, expires)
    }

    fn session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(User, String)>, StoreError> {
        users::session(&*self.pool.get()?, token_hash, now)
    }

    fn end_session(&self, token_hash: &str) -> Result<(), StoreError> {
        users::end_session(&*self.pool.get()?, token_hash)
    }

    fn add_token(&self, t: &Token, hash: &str, change: &Change) -> Result<(), StoreError> {
        self.write(false, true, |tx| {
            crate::users::add_token(tx, t, hash, change)
        })
    }

    fn tokens(&self, owner: Option<&Username>) -> Result<Vec<Token>, StoreError> {
        users::tokens(&*self.pool.get()?, owner)
    }

    fn revoke_token(&self, id: &str, change: &Change) -> Result<(), StoreError> {
        self.write(false, true, |tx| crate::users::revoke_token(tx, id, change))
    }

    fn live_token(&self, hash: &str) -> Result<Option<(Token, User)>, StoreError> {
        users::live_token(&*self.pool.get()?, hash)
    }

    fn open_incident(&self, n: &NewIncident, change: &Change) -> Result<i64, StoreError> {
        self.write(false, true, |tx| crate::incidents::open(tx, n, change))
    }

    fn record_incident_step(
        &self,
        id: i64,
        step: &IncidentStep,
        change: &Change,
    ) -> Result<(), StoreError> {
        self.write(false, true, |tx| {
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
        self.write(false, true, |tx| {
            crate::incidents::close(tx, id, status, cause, change)
        })
    }

    fn record_incidents(
        &self,
        list: &[crate::incidents::RecordedIncident],
    ) -> Result<Vec<i64>, StoreError> {
        self.write(false, true, |tx| crate::incidents::record_all(tx, list))
    }

    fn incident(&self, id: i64) -> Result<Option<Incident>, StoreError> {
        incidents::one(&*self.pool.get()?, id)
    }

    fn incidents(&self, limit: usize) -> Result<Vec<Incident>, StoreError> {
        incidents::newest(&*self.pool.get()?, limit)
    }

    fn incident_cause_counts(&self) -> Result<Vec<CauseCount>, StoreError> {
        incidents::cause_counts(&*self.pool.get()?)
    }

    fn recent_reports(
        &self,
        site: &str,
        symptom: &str,
        since: Timestamp,
        except: Option<i64>,
    ) -> Result<u32, StoreError> {
        incidents::recent(&*self.pool.get()?, site, symptom, since, except)
    }

    fn transaction(
        &self,
        f: &mut dyn FnMut(&mut dyn Exec) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.write(false, true, |tx| f(tx))
    }

    fn read_transaction(
        &self,
        f: &mut dyn FnMut(&mut dyn Exec) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let mut stx = SqliteTx {
            tx: &tx,
            known: Default::default(),
            dropped: Vec::new(),
        };
        f(&mut stx)?;
        tx.commit()?;
        Ok(())
    }

    fn audit_records(&self, after_seq: i64, limit: usize) -> Result<Vec<StoredAudit>, StoreError> {
        let conn = self.pool.get()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            sql::AUDIT_COLUMNS
        ))?;
        let rows = stmt.query_map(params![after_seq, limit as i64], read_audit)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn audit_search(&self, q: &AuditQuery) -> Result<Vec<StoredAudit>, StoreError> {
        let conn = self.pool.get()?;
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {} FROM audit_log WHERE (?1 IS NULL OR entity_kind = ?1) \
             AND (?2 IS NULL OR entity_key = ?2) AND (?3 IS NULL OR actor = ?3) \
             AND (?4 IS NULL OR seq < ?4) ORDER BY seq DESC LIMIT ?5",
            sql::AUDIT_COLUMNS
        ))?;
        let rows = stmt.query_map(
            params![
                q.entity_kind,
                q.entity_key,
                q.actor,
                q.before_seq,
                q.limit as i64
            ],
            read_audit,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn audit_length(&self) -> Result<i64, StoreError> {
        let conn = self.pool.get()?;
        Ok(conn.query_row("SELECT seq FROM audit_head WHERE id = 1", [], |r| r.get(0))?)
    }

    fn verify_audit(&self) -> Result<AuditVerdict, StoreError> {
        let mut conn = self.pool.get()?;
        // One read transaction: the head and the records are seen at the same moment.
        let tx = conn.transaction()?;
        let head: (i64, String) =
            tx.query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let mut stmt = tx.prepare(&format!(
            "SELECT {} FROM audit_log ORDER BY seq",
            sql::AUDIT_COLUMNS
        ))?;
        let mut failed = None;
        let rows = stmt
            .query_map([], read_audit)?
            .map_while(|r| r.map_err(|e| failed = Some(e)).ok());
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
        let conn = self.pool.get()?;
        let mut stmt = conn.prepare_cached(
            "SELECT c.card_serial, c.purpose, c.not_after, p.uuid, p.name, p.site_ods
             FROM certificates c
             JOIN cards k ON k.card_serial = c.card_serial
             JOIN people p ON p.uuid = k.holder_uuid
             WHERE k.status = 'active'
             ORDER BY c.not_after, c.card_serial, c.purpose
             LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            let not_after: String = r.get(2)?;
            Ok(ExpiringCertificate {
                card_serial: r.get(0)?,
                purpose: r.get(1)?,
                not_after: Date::parse(&not_after).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        2,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?,
                holder_uuid: r.get(3)?,
                holder_name: r.get(4)?,
                site_ods: r.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn counts(&self) -> Result<Vec<(Kind, i64)>, StoreError> {
        let conn = self.pool.get()?;
        Kind::ALL
            .into_iter()
            .map(|k| {
                let n = conn.query_row(&format!("SELECT count(*) FROM {}", k.name()), [], |r| {
                    r.get(0)
                })?;
                Ok((k, n))
            })
            .collect()
    }
}

impl ToSql for P<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match *self {
            P::I(n) => ToSqlOutput::Borrowed(ValueRef::Integer(n)),
            P::T(t) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            P::Null => ToSqlOutput::Borrowed(ValueRef::Null),
        })
    }
}

impl Exec for SqliteTx<'_> {
    fn exec(&mut self, sql: &str, params: &[P<'_>]) -> Result<u64, StoreError> {
        let mut stmt = self.tx.prepare_cached(&sqlite_placeholders(sql))?;
        Ok(stmt.execute(rusqlite::params_from_iter(params))? as u64)
    }

    fn rows(&mut self, sql: &str, params: &[P<'_>]) -> Result<Vec<Vec<V>>, StoreError> {
        let mut stmt = self.tx.prepare_cached(&sqlite_placeholders(sql))?;
        let n = stmt.column_count();
        let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Integer(v) => V::I(v),
                        ValueRef::Text(t) => V::T(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Null => V::Null,
                        ValueRef::Real(f) => V::R(f),
                        ValueRef::Blob(b) => V::T(String::from_utf8_lossy(b).into_owned()),
                    })
                })
                .collect()
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn audit(&mut self, change: &Change, entry: &Entry<'_>) -> Result<(), StoreError> {
        crate::exec::audit(self, change, entry)
    }
}
