//! Cardwatch's storage: one [`Store`] trait, two backends (embedded SQLite, PostgreSQL), per-
//! dialect migrations, and the audit chain written in the same transaction as each change.
//!
//! The trait is synchronous: SQLite is an in-process library, and bulk import to PostgreSQL is a
//! `COPY` stream, both of which are simplest and fastest driven from one thread. The server calls
//! the store from `spawn_blocking`.

use std::fmt;
use std::path::PathBuf;

use cardwatch_core::access::{NewUser, Token, User, Username};
use cardwatch_core::audit::{ChainBreak, StoredAudit};
use cardwatch_core::card_status::CardStatus;
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::health::FindingNote;
use cardwatch_core::ids::CardSerial;
use cardwatch_core::records::{Cell, Kind, Value};
use cardwatch_core::triage::{CauseCount, Incident, IncidentStatus, IncidentStep, NewIncident};

pub mod agents;
pub mod backup;
mod batch;
pub mod contacts;
pub mod csv_out;
mod estate;
pub mod exec;
mod files;
pub mod import;
mod incidents;
pub mod inventory;
pub mod lists;
mod migrations;
pub mod notify;
pub mod observe;
pub mod plan_snapshot;
mod pool;
pub mod positions;
mod postgres;
pub mod recheck;
pub mod refreshes;
pub mod reports;
pub mod retention;
pub mod reviews;
mod sql;
mod sqlite;
pub mod subject;
mod triage;
mod tx;
mod url;
mod users;

pub use estate::{
    current_findings, current_findings_keeping_facts, holds_cards, integration_findings,
    load_estate, load_workstations, renewals_due, renewals_of_sites, site_findings, DueCard,
};
pub use files::{export, write_demo, Format, RecordWriter};
pub use import::{
    FileReport, ImportInput, ImportOptions, ImportProblem, ImportReport, InputData, Location,
    Progress, BULK_FROM_BYTES,
};
pub use incidents::{
    open_by_site as open_incidents_by_site, page as incident_page, tally as incident_tally,
    IncidentQuery, IncidentSort, IncidentTally, RecordedIncident,
};
pub use triage::{records_of, triage_context};
pub use url::DatabaseUrl;

/// Who makes a change, and when: recorded in the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The actor (operator name, `cli:<user>`, agent id…).
    pub actor: String,
    /// When the change is made.
    pub at: Timestamp,
}

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL could not be used.
    #[error("{0}")]
    Url(String),
    /// The database refused or failed an operation.
    #[error("database error: {0}")]
    Database(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What happened.
        source: std::io::Error,
    },
    /// An import found bad rows; nothing was written.
    #[error("{} problem(s) found; nothing was imported", .0.len())]
    Rejected(Vec<ImportProblem>),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A request that breaks a rule (an illegal card status change, a missing reason).
    #[error("{0}")]
    Invalid(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        // The Display of a postgres error omits the server's message; include it.
        match e.as_db_error() {
            Some(db) => StoreError::Database(format!("{}: {}", db.code().code(), db.message())),
            None => StoreError::Database(e.to_string()),
        }
    }
}

/// The result of checking the audit chain.
#[derive(Debug, PartialEq, Eq)]
pub enum AuditVerdict {
    /// Every record is intact; this many were checked.
    Intact(i64),
    /// The first break found.
    Broken(ChainBreak),
}

/// A certificate with its holder, for "expiring soonest" lists.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ExpiringCertificate {
    /// The card.
    pub card_serial: String,
    /// authentication or signing.
    pub purpose: String,
    /// Last valid day.
    pub not_after: Date,
    /// Holder's UUID.
    pub holder_uuid: String,
    /// Holder's name.
    pub holder_name: String,
    /// Holder's site.
    pub site_ods: String,
}

/// What to look for in the audit log; every filter optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this kind of entity (`cards`, `user`, `incident`, …).
    pub entity_kind: Option<String>,
    /// Only this entity's key.
    pub entity_key: Option<String>,
    /// Only this actor.
    pub actor: Option<String>,
    /// Only records older than this sequence number (the next page).
    pub before_seq: Option<i64>,
    /// At most this many.
    pub limit: usize,
}

/// Which backend a store is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A store's database connections at one moment, for monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Connections {
    /// Lent out to a caller now.
    pub in_use: usize,
    /// Open and waiting to be lent.
    pub idle: usize,
    /// The most that may be open at once.
    pub max: usize,
}

/// Everything Cardwatch keeps, behind one interface with a backend per database.
pub trait Store: Send + Sync {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Where the data is, for logs (never includes a password).
    fn describe(&self) -> String;

    /// A backup of this store into the new file `to` (see [`backup`]).
    fn backup_to(&self, to: &std::path::Path) -> Result<backup::Backup, StoreError>;

    /// Checks the database answers.
    fn ping(&self) -> Result<(), StoreError>;

    /// The connections to a database server, for a store whose pool is capped (PostgreSQL);
    /// `None` for an embedded database. Read without touching the database.
    fn connections(&self) -> Option<Connections> {
        None
    }

    /// Imports files in one transaction: all of them, or (on any bad row) none.
    fn import(
        &self,
        inputs: &[ImportInput],
        options: &ImportOptions,
        change: &Change,
    ) -> Result<ImportReport, StoreError>;

    /// Streams every record of a kind, in natural-key order, as cells in column order (lent for
    /// the call, as by [`Store::scan`]).
    fn export(
        &self,
        kind: Kind,
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        let all: Vec<usize> = (0..kind.columns().len()).collect();
        self.scan(kind, &all, true, each)
    }

    /// Streams some columns (indexes into the kind's columns) of every record of a kind: what a
    /// reader needs, and no more. In natural-key order when `ordered`; otherwise in whatever
    /// order is cheapest (usually still key order, as records are loaded in it). The cells are
    /// lent for the call; copy what you keep.
    fn scan(
        &self,
        kind: Kind,
        columns: &[usize],
        ordered: bool,
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError>;

    /// [`Store::scan`] unordered, of a kind with one record per organisation or site (tens of
    /// thousands at most), read beside a few sites' records: a store may serve it as it serves
    /// everyday queries, rather than queue it behind large reads.
    fn scan_reference(
        &self,
        kind: Kind,
        columns: &[usize],
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        self.scan(kind, columns, false, each)
    }

    /// Streams some columns of the records of a kind whose first key column (a card's serial
    /// for cards and certificates, a person's UUID for people and positions) is one of `keys`,
    /// in no particular order: some cards' or people's rows without the rest of the table.
    fn scan_keyed(
        &self,
        kind: Kind,
        columns: &[usize],
        keys: &[&str],
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError>;

    /// Streams some columns of the records of a kind whose column `by` (one of the kind's
    /// columns, e.g. a person's or workstation's `site_ods`) is one of `keys`, in no particular
    /// order: a few sites' records without the rest of the table.
    fn scan_by(
        &self,
        kind: Kind,
        columns: &[usize],
        by: &str,
        keys: &[&str],
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError>;

    /// The cards holding a certificate that expires on or before `by`, or a SHA-1 signing
    /// certificate: the only cards the certificate rules can find anything on
    /// ([`cardwatch_core::health::certificate_reach`]). In serial order, each once.
    fn cards_with_certificates_due(&self, by: Date) -> Result<Vec<DueCard>, StoreError>;

    /// How many large reads ([`Store::scan`] and the like) the store serves at once: a reader
    /// of many kinds starts no more than this, so that they start in the order it chooses.
    fn large_reads_at_once(&self) -> usize {
        usize::MAX
    }

    /// Streams some columns of the records of a kind keyed by card (certificates, lockouts) of
    /// the cards [`Store::cards_with_certificates_due`] finds, in no particular order. A store
    /// may answer both on one connection, so that a health check's longest read does not wait
    /// for a connection between its two halves.
    fn scan_of_cards_due(
        &self,
        kind: Kind,
        columns: &[usize],
        by: Date,
        each: &mut dyn FnMut(&[Cell<'_>]) -> std::io::Result<()>,
    ) -> Result<u64, StoreError> {
        let due = self.cards_with_certificates_due(by)?;
        let serials: Vec<&str> = due.iter().map(|d| d.serial.as_str()).collect();
        self.scan_keyed(kind, columns, &serials, each)
    }

    /// Changes a card's status through the state machine, audited.
    fn set_card_status(
        &self,
        card: &CardSerial,
        to: CardStatus,
        reason: &str,
        change: &Change,
    ) -> Result<CardStatus, StoreError>;

    /// Audit records after `after_seq`, oldest first, at most `limit`.
    fn audit_records(&self, after_seq: i64, limit: usize) -> Result<Vec<StoredAudit>, StoreError>;

    /// Audit records matching a query, newest first.
    fn audit_search(&self, q: &AuditQuery) -> Result<Vec<StoredAudit>, StoreError>;

    /// How many records the audit chain holds (its head's sequence number).
    fn audit_length(&self) -> Result<i64, StoreError>;

    /// Walks the whole audit chain and reports the first break, if any.
    fn verify_audit(&self) -> Result<AuditVerdict, StoreError>;

    /// The certificates of active cards that expire soonest (expired ones first).
    fn expiring_certificates(&self, limit: usize) -> Result<Vec<ExpiringCertificate>, StoreError>;

    /// How many records of each kind there are.
    fn counts(&self) -> Result<Vec<(Kind, i64)>, StoreError>;

    /// Every acknowledgement and snooze of a finding (expired ones too; they no longer apply).
    fn finding_notes(&self) -> Result<Vec<FindingNote>, StoreError>;

    /// Acknowledges or snoozes a finding (replacing an earlier note on it), audited.
    fn note_finding(&self, note: &FindingNote, change: &Change) -> Result<(), StoreError>;

    /// Removes a finding's note so that it is open again, audited; false when it had none.
    fn reopen_finding(
        &self,
        finding_id: &str,
        reason: &str,
        change: &Change,
    ) -> Result<bool, StoreError>;

    /// One page of an estate list, read by keyset and counted from the counts the store keeps
    /// (see [`lists`]).
    fn list_page(&self, q: &lists::ListQuery) -> Result<lists::ListPage, StoreError>;

    /// Records of a kind whose (text) column equals a value — a card's certificates, a holder's
    /// positions, a workstation's software — in key order, at most `limit`.
    fn records_where(
        &self,
        kind: Kind,
        column: &str,
        value: &str,
        limit: usize,
    ) -> Result<Vec<Vec<Value>>, StoreError>;

    /// Adds an operator, audited (never with the password hash).
    fn add_user(&self, u: &NewUser, change: &Change) -> Result<(), StoreError>;

    /// An operator.
    fn user(&self, name: &Username) -> Result<Option<User>, StoreError>;

    /// Every operator, by user name.
    fn users(&self) -> Result<Vec<User>, StoreError>;

    /// Sets an operator's password hash, clears their failures and ends their sessions, audited.
    fn set_user_password(
        &self,
        name: &Username,
        hash: &str,
        change: &Change,
    ) -> Result<(), StoreError>;

    /// Disables (ending their sessions) or re-enables an operator, audited.
    fn set_user_disabled(
        &self,
        name: &Username,
        disabled: bool,
        change: &Change,
    ) -> Result<(), StoreError>;

    /// Counts a failed sign-in, or clears the count after a good one.
    fn record_sign_in(&self, name: &Username, ok: bool, at: Timestamp) -> Result<(), StoreError>;

    /// Starts a session, known by the SHA-256 of its token.
    fn create_session(
        &self,
        token_hash: &str,
        name: &Username,
        csrf: &str,
        at: Timestamp,
        expires: Timestamp,
    ) -> Result<(), StoreError>;

    /// The operator and CSRF token of a live session (not expired, operator not disabled).
    fn session(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(User, String)>, StoreError>;

    /// A live session (as [`Store::session`]) and the audit chain's length, read together: what
    /// every signed-in request asks first. PostgreSQL answers both in one round trip.
    fn session_with_length(
        &self,
        token_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(User, String, i64)>, StoreError> {
        self.session(token_hash, now)?
            .map(|(user, csrf)| Ok((user, csrf, self.audit_length()?)))
            .transpose()
    }

    /// Ends a session.
    fn end_session(&self, token_hash: &str) -> Result<(), StoreError>;

    /// Stores a new token (API or calendar) under the SHA-256 of its secret, audited.
    fn add_token(&self, t: &Token, hash: &str, change: &Change) -> Result<(), StoreError>;

    /// Tokens, of one operator or all, oldest first (revoked ones included).
    fn tokens(&self, owner: Option<&Username>) -> Result<Vec<Token>, StoreError>;

    /// Revokes a token by its public id, audited.
    fn revoke_token(&self, id: &str, change: &Change) -> Result<(), StoreError>;

    /// The live token with this hash and its operator (not revoked, operator not disabled).
    fn live_token(&self, hash: &str) -> Result<Option<(Token, User)>, StoreError>;

    /// Opens a triage incident, audited; returns its number.
    fn open_incident(&self, n: &NewIncident, change: &Change) -> Result<i64, StoreError>;

    /// Appends a step to an open incident, audited; a closed or unknown one is refused.
    fn record_incident_step(
        &self,
        id: i64,
        step: &IncidentStep,
        change: &Change,
    ) -> Result<(), StoreError>;

    /// Closes an open incident as resolved (with the confirmed cause) or escalated, audited;
    /// minutes to fix are counted from its opening to `change.at`.
    fn close_incident(
        &self,
        id: i64,
        status: IncidentStatus,
        cause: Option<&str>,
        change: &Change,
    ) -> Result<Incident, StoreError>;

    /// Records many incidents' whole runs (opened, stepped, closed) in one transaction, the
    /// incidents in multi-row inserts, each change audited as [`Store::open_incident`],
    /// [`Store::record_incident_step`] and [`Store::close_incident`] audit it; any bad incident
    /// refuses the lot. Returns their numbers, in order.
    fn record_incidents(&self, list: &[RecordedIncident]) -> Result<Vec<i64>, StoreError>;

    /// One incident.
    fn incident(&self, id: i64) -> Result<Option<Incident>, StoreError>;

    /// The newest incidents, at most `limit`.
    fn incidents(&self, limit: usize) -> Result<Vec<Incident>, StoreError>;

    /// Resolved incidents counted by site, symptom and confirmed cause: what triage learns from.
    fn incident_cause_counts(&self) -> Result<Vec<CauseCount>, StoreError>;

    /// Runs `f` in one transaction, with SQL written once for both backends; committed when
    /// `f` returns `Ok`. The scheduler and the notifier work through this (see [`exec`]).
    fn transaction(
        &self,
        f: &mut dyn FnMut(&mut dyn exec::Exec) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// Runs `f`, which only reads, in one transaction (one consistent view); by default the
    /// same as [`Store::transaction`]. SQLite's takes no write lock.
    fn read_transaction(
        &self,
        f: &mut dyn FnMut(&mut dyn exec::Exec) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.transaction(f)
    }

    /// Incidents of a symptom at a site opened since a moment, other than `except`.
    fn recent_reports(
        &self,
        site: &str,
        symptom: &str,
        since: Timestamp,
        except: Option<i64>,
    ) -> Result<u32, StoreError>;
}

/// Opens (creating and migrating as needed) the store a URL names.
pub fn open(url: &str) -> Result<Box<dyn Store>, StoreError> {
    match DatabaseUrl::parse(url)? {
        DatabaseUrl::Sqlite(path) => Ok(Box::new(sqlite::SqliteStore::open(&path)?)),
        DatabaseUrl::Postgres(url) => Ok(Box::new(postgres::PgStore::open(&url)?)),
    }
}
