//! Govern: the audit log, access reviews, retention of personal data, and reports.

pub mod audit;
pub mod reports;
pub mod retention;
pub mod reviews;
