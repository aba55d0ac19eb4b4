//! Test databases: each test gets its own SQLite file or its own PostgreSQL database, dropped
//! afterwards, so tests run in parallel without seeing each other's data.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::sync::atomic::{AtomicU32, Ordering};

use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::demo::DemoConfig;
use cardwatch_core::records::Kind;
use cardwatch_store::{Change, ImportInput, ImportOptions, Store};

/// The PostgreSQL server tests use (scripts/test sets it; this is the local default).
pub fn pg_admin_url() -> String {
    std::env::var("CARDWATCH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A store on a database of its own, with a side door for raw SQL (to tamper, as an attacker
/// with database access would).
pub struct TestDb {
    pub store: Box<dyn Store>,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg_name: Option<String>,
    /// A role made for this database alone, dropped with it.
    pg_role: Option<String>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("cw.sqlite").display());
        TestDb {
            store: cardwatch_store::open(&url).expect("open sqlite store"),
            url,
            _dir: Some(dir),
            pg_name: None,
            pg_role: None,
        }
    }

    pub fn postgres() -> TestDb {
        TestDb::postgres_owned_by(false)
    }

    /// A PostgreSQL database owned by a role of its own that is not a superuser, as a hosted
    /// PostgreSQL gives an application.
    pub fn postgres_ordinary_role() -> TestDb {
        TestDb::postgres_owned_by(true)
    }

    fn postgres_owned_by(own_role: bool) -> TestDb {
        let admin = pg_admin_url();
        let name = format!(
            "cw_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin} (CARDWATCH_TEST_PG): {e}"));
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let (url, role) = match own_role {
            false => {
                client
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create test database");
                (format!("{base}/{name}"), None)
            }
            true => {
                client
                    .batch_execute(&format!("CREATE ROLE {name} LOGIN NOSUPERUSER"))
                    .expect("create test role");
                client
                    .batch_execute(&format!("CREATE DATABASE {name} OWNER {name}"))
                    .expect("create test database");
                // The same server, signed in as the new role (trust authentication).
                let host = base
                    .rsplit_once('@')
                    .map_or_else(|| base.trim_start_matches("postgres://"), |(_, h)| h);
                (
                    format!("postgres://{name}@{host}/{name}"),
                    Some(name.clone()),
                )
            }
        };
        TestDb {
            store: cardwatch_store::open(&url).expect("open postgres store"),
            url,
            _dir: None,
            pg_name: Some(name),
            pg_role: role,
        }
    }

    /// Runs SQL directly against the database, behind the store's back.
    pub fn raw(&self, sql: &str) {
        self.try_raw(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Runs SQL directly against the database (SQLite with its foreign keys on, as the store
    /// runs it); the database's refusal, if it refuses.
    pub fn try_raw(&self, sql: &str) -> Result<(), String> {
        if self.pg_name.is_some() {
            let mut c = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
            c.batch_execute(sql).map_err(|e| {
                e.as_db_error()
                    .map_or(e.to_string(), |d| d.message().to_owned())
            })
        } else {
            let path = self.url.trim_start_matches("sqlite://");
            let c = rusqlite::Connection::open(path).expect("open");
            c.execute_batch("PRAGMA foreign_keys = ON")
                .expect("foreign keys on");
            c.execute_batch(sql).map_err(|e| e.to_string())
        }
    }

    /// The foreign keys PostgreSQL has not checked over the rows it holds (none on SQLite, which
    /// has no such state).
    pub fn unvalidated_keys(&self) -> Vec<String> {
        if self.pg_name.is_none() {
            return Vec::new();
        }
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
        c.query(
            "SELECT conname FROM pg_constraint WHERE contype = 'f' AND NOT convalidated",
            &[],
        )
        .expect("constraints")
        .iter()
        .map(|r| r.get(0))
        .collect()
    }

    /// Every kind exported as CSV, concatenated: a fingerprint of the whole estate.
    pub fn snapshot(&self) -> String {
        let mut out = Vec::new();
        for kind in Kind::ALL {
            cardwatch_store::export(&*self.store, kind, cardwatch_store::Format::Csv, &mut out)
                .expect("export");
        }
        String::from_utf8(out).expect("utf-8")
    }

    /// The schema's indexes and foreign keys, as sorted names: to show a bulk load put them back.
    pub fn schema_objects(&self) -> Vec<String> {
        let mut names: Vec<String> = if self.pg_name.is_some() {
            let mut c = postgres::Client::connect(&self.url, postgres::NoTls).expect("connect");
            c.query(
                "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'
                 UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid)
                 FROM pg_constraint WHERE contype = 'f'",
                &[],
            )
            .expect("schema")
            .iter()
            .map(|r| r.get(0))
            .collect()
        } else {
            let path = self.url.trim_start_matches("sqlite://");
            let c = rusqlite::Connection::open(path).expect("open");
            let mut stmt = c
                .prepare("SELECT name || ' ' || coalesce(sql, '') FROM sqlite_master WHERE type = 'index'")
                .expect("schema");
            let rows = stmt.query_map([], |r| r.get(0)).expect("schema");
            rows.collect::<Result<_, _>>().expect("schema")
        };
        names.sort();
        names
    }

    pub fn audit_len(&self) -> usize {
        self.store.audit_records(0, 1_000_000).expect("audit").len()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name {
            // Close the store's pooled connections first by replacing it is not possible; FORCE
            // ends them instead.
            if let Ok(mut c) = postgres::Client::connect(&pg_admin_url(), postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                if let Some(role) = &self.pg_role {
                    let _ = c.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
                }
            }
        }
    }
}

pub fn change() -> Change {
    Change {
        actor: "test".into(),
        at: Timestamp::parse("2026-11-22T09:00:00Z").expect("time"),
    }
}

pub fn today() -> Date {
    Date::from_ymd(2026, 11, 22).expect("date")
}

/// A small demo estate as in-memory CSV files, one per kind.
pub fn demo_inputs(practices: u32, seed: u64) -> Vec<ImportInput> {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = DemoConfig {
        practices,
        holders: None,
        seed,
        today: today(),
    };
    let paths = cardwatch_store::write_demo(&cfg, dir.path()).expect("demo");
    paths
        .iter()
        .map(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).expect("name");
            ImportInput::bytes(name, std::fs::read(p).expect("read demo"))
        })
        .collect()
}

pub fn import(db: &TestDb, inputs: &[ImportInput]) -> cardwatch_store::ImportReport {
    db.store
        .import(inputs, &ImportOptions::default(), &change())
        .unwrap_or_else(|e| match e {
            cardwatch_store::StoreError::Rejected(ps) => panic!(
                "import rejected:\n{}",
                ps.iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
            e => panic!("import failed: {e}"),
        })
}

/// Declares each listed test once per backend: `mod sqlite { fn name() }`, `mod postgres { … }`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&$crate::common::TestDb::sqlite()) } )+
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(&$crate::common::TestDb::postgres()) } )+
        }
    };
}

/// The plan the database makes for `sql`, with reading a whole table or sorting it priced out (as
/// at national size, where the demo's few rows would otherwise be read whole).
pub fn query_plan(db: &TestDb, sql: &str) -> String {
    if db.store.backend() == cardwatch_store::Backend::Postgres {
        let mut c = ::postgres::Client::connect(&db.url, ::postgres::NoTls).expect("connect");
        c.batch_execute("SET enable_seqscan = off; SET enable_sort = off")
            .expect("set");
        c.query(&format!("EXPLAIN {sql}"), &[])
            .expect("explain")
            .iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("\n")
    } else {
        let c = rusqlite::Connection::open(db.url.trim_start_matches("sqlite://")).expect("open");
        let mut stmt = c
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("explain");
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).expect("plan");
        rows.collect::<Result<Vec<_>, _>>()
            .expect("plan")
            .join("\n")
    }
}
