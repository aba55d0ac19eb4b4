//! Backups a store can be restored from, with the schema they were made at.
//!
//! SQLite: `VACUUM INTO` — a consistent copy taken inside one read transaction, so the server
//! can keep writing while it runs — giving a database file. PostgreSQL: `pg_dump`'s plain SQL,
//! behind one comment line that records the schema (`-- cardwatch backup: postgresql schema N`),
//! so a restore can refuse a backup from a newer Cardwatch before it touches anything.
//!
//! Nothing is half-written: a backup is made beside its file and renamed into place when whole,
//! never over an existing file; a restore goes only into a store that holds nothing yet (a new
//! SQLite file, a PostgreSQL database with no tables) and, for PostgreSQL, in one transaction.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::postgres::connect::Target;
use crate::url::DatabaseUrl;
use crate::{migrations, StoreError};

/// The first line of a PostgreSQL backup, before its schema version.
const PG_HEADER: &str = "-- cardwatch backup: postgresql schema ";
/// How an SQLite database file begins.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// The newest schema this build knows.
pub fn latest_schema() -> i64 {
    migrations::SQLITE.last().map_or(0, |m| m.0)
}

/// What a backup holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// `sqlite` or `postgresql`.
    pub kind: &'static str,
    /// The schema version it was made at.
    pub schema: i64,
    /// Its size in bytes.
    pub bytes: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The file a backup is written to until it is whole.
fn partial(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Backs up the store `url` names into the new file `to`.
pub fn backup(url: &str, to: &Path) -> Result<Backup, StoreError> {
    if to.exists() {
        return Err(StoreError::Invalid(format!(
            "{} already exists — give a new file name; a backup never overwrites a file",
            to.display()
        )));
    }
    let temp = partial(to);
    let _ = std::fs::remove_file(&temp);
    let made = match DatabaseUrl::parse(url)? {
        DatabaseUrl::Sqlite(path) => sqlite_backup(&path, &temp),
        DatabaseUrl::Postgres(url) => pg_backup(&url, &temp),
    };
    match made {
        Ok((kind, schema)) => {
            std::fs::rename(&temp, to).map_err(io(to))?;
            let bytes = std::fs::metadata(to).map_err(io(to))?.len();
            Ok(Backup {
                kind,
                schema,
                bytes,
            })
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

fn sqlite_backup(path: &Path, to: &Path) -> Result<(&'static str, i64), StoreError> {
    if !path.is_file() {
        return Err(StoreError::NotFound(format!(
            "{} is not a Cardwatch database — give the --database-url of the store to back up",
            path.display()
        )));
    }
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let schema = sqlite_schema(&conn)?;
    conn.execute("VACUUM INTO ?1", [to.to_string_lossy()])?;
    Ok(("sqlite", schema))
}

fn sqlite_schema(conn: &rusqlite::Connection) -> Result<i64, StoreError> {
    conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )
    .map_err(|_| {
        StoreError::Invalid(
            "this SQLite file holds no Cardwatch schema — it is not a Cardwatch store or backup"
                .into(),
        )
    })
}

fn pg_schema(client: &mut postgres::Client) -> Result<i64, StoreError> {
    let row = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
            &[],
        )
        .map_err(|e| StoreError::Database(e.to_string()))?;
    Ok(row.get(0))
}

/// Runs one of PostgreSQL's client programs, saying what to install when it is missing.
fn pg_tool(name: &str) -> Command {
    let mut c = Command::new(name);
    c.stdin(Stdio::null());
    c
}

fn tool_failed(name: &str, e: std::io::Error) -> StoreError {
    if e.kind() == std::io::ErrorKind::NotFound {
        StoreError::Invalid(format!(
            "{name} is not installed — install PostgreSQL's client programs (Debian: apt-get install postgresql-client)"
        ))
    } else {
        StoreError::Database(format!("{name}: {e}"))
    }
}

fn pg_backup(url: &str, to: &Path) -> Result<(&'static str, i64), StoreError> {
    // The store's own reading of the URL (TLS as its sslmode asks); pg_dump reads the same
    // sslmode and sslrootcert itself, and is given the URL less Cardwatch's pool settings.
    let target = Target::parse(url)?;
    let mut client = target.client()?;
    let schema = pg_schema(&mut client)?;
    drop(client);
    let mut out = std::fs::File::create(to).map_err(io(to))?;
    writeln!(out, "{PG_HEADER}{schema}").map_err(io(to))?;
    let dumped = pg_tool("pg_dump")
        .args([
            "--format=plain",
            "--no-owner",
            "--no-privileges",
            "--quote-all-identifiers",
            "--dbname",
            &target.libpq,
        ])
        .stdout(out)
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| tool_failed("pg_dump", e))?;
    if !dumped.status.success() {
        return Err(StoreError::Database(format!(
            "pg_dump failed: {}",
            String::from_utf8_lossy(&dumped.stderr).trim()
        )));
    }
    Ok(("postgresql", schema))
}

/// What was restored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    /// `sqlite` or `postgresql`.
    pub kind: &'static str,
    /// The schema version the backup was made at (the store is then migrated to the latest).
    pub schema: i64,
}

/// Restores the backup `from` into the empty store `url` names. A backup from a newer schema, a
/// backup of the other kind of database, and a store that already holds anything are refused
/// before anything is written.
pub fn restore(from: &Path, url: &str) -> Result<Restored, StoreError> {
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(from).map_err(io(from))?;
    let n = file.read(&mut head).map_err(io(from))?;
    let is_sqlite = head[..n] == *SQLITE_MAGIC;
    let target = DatabaseUrl::parse(url)?;
    let newer = |schema: i64| {
        StoreError::Invalid(format!(
            "{} was made by a newer Cardwatch (schema {schema}; this one knows {}) — restore it with that version or later",
            from.display(),
            latest_schema()
        ))
    };
    match target {
        DatabaseUrl::Sqlite(path) => {
            if !is_sqlite {
                return Err(StoreError::Invalid(format!(
                    "{} is not an SQLite backup — a PostgreSQL backup restores into a postgres:// database",
                    from.display()
                )));
            }
            if path.exists() {
                return Err(StoreError::Invalid(format!(
                    "{} already exists — restore into a new file, so nothing is overwritten",
                    path.display()
                )));
            }
            let backup = rusqlite::Connection::open_with_flags(
                from,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )?;
            let schema = sqlite_schema(&backup)?;
            if schema > latest_schema() {
                return Err(newer(schema));
            }
            let temp = partial(&path);
            let _ = std::fs::remove_file(&temp);
            let copied = backup
                .execute("VACUUM INTO ?1", [temp.to_string_lossy()])
                .map_err(StoreError::from)
                .and_then(|_| std::fs::rename(&temp, &path).map_err(io(&path)));
            if let Err(e) = copied {
                let _ = std::fs::remove_file(&temp);
                return Err(e);
            }
            Ok(Restored {
                kind: "sqlite",
                schema,
            })
        }
        DatabaseUrl::Postgres(url) => {
            if is_sqlite {
                return Err(StoreError::Invalid(format!(
                    "{} is an SQLite backup — it restores into an SQLite file",
                    from.display()
                )));
            }
            let mut first = String::new();
            BufReader::new(std::fs::File::open(from).map_err(io(from))?)
                .read_line(&mut first)
                .map_err(io(from))?;
            let schema: i64 = first
                .trim_end()
                .strip_prefix(PG_HEADER)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "{} is not a Cardwatch backup (its first line should be \"{PG_HEADER}N\")",
                        from.display()
                    ))
                })?;
            if schema > latest_schema() {
                return Err(newer(schema));
            }
            let target = Target::parse(&url)?;
            let mut client = target.client()?;
            let tables: i64 = client
                .query_one(
                    "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
                    &[],
                )
                .map_err(|e| StoreError::Database(e.to_string()))?
                .get(0);
            if tables > 0 {
                return Err(StoreError::Invalid(
                    "the database already holds tables — restore into a new, empty database (createdb), so nothing is overwritten".into(),
                ));
            }
            drop(client);
            let ran = pg_tool("psql")
                .args([
                    "--no-psqlrc",
                    "--quiet",
                    "--single-transaction",
                    "--set",
                    "ON_ERROR_STOP=1",
                    "--dbname",
                    &target.libpq,
                    "--file",
                ])
                .arg(from)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output()
                .map_err(|e| tool_failed("psql", e))?;
            if !ran.status.success() {
                return Err(StoreError::Database(format!(
                    "the restore was rolled back: {}",
                    String::from_utf8_lossy(&ran.stderr).trim()
                )));
            }
            Ok(Restored {
                kind: "postgresql",
                schema,
            })
        }
    }
}
