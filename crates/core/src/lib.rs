//! Cardwatch's domain: validated identifiers, the estate's entities, the card state machine,
//! the import/export record contract, the audit chain's rules and the demo estate.
//!
//! Pure by design: no I/O, no clocks, no async. Callers pass "today" and "now" in.

pub mod access;
pub mod audit;
pub mod calendar;
pub mod card_status;
pub mod catalogue;
pub mod chart;
pub mod cim;
pub mod date;
pub mod demo;
pub mod estate;
pub mod fasthash;
pub mod health;
pub mod ics;
pub mod ids;
pub mod inventory;
pub mod migration;
pub mod notify;
pub mod ods;
pub mod planner;
pub mod reader;
pub mod records;
pub mod renewal;
pub mod reports;
pub mod reviews;
pub mod schedule;
pub mod silence;
pub mod triage;
pub mod vocab;
pub mod x509;
