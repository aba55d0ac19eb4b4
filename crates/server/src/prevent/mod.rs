//! Prevent: the health check's findings, the overview counted from them, and the renewal plan.

pub mod check;
pub(crate) mod columns;
pub mod finding;
pub(crate) mod finding_ids;
pub mod findings;
pub mod migration;
pub mod overview;
pub mod plan;
pub(crate) mod queue_index;
pub(crate) mod risk;
