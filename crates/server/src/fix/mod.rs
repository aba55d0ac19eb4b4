//! Fix fast: triage's next step (API and cheat sheet), the web wizard, incidents with their
//! escalation packets, and the pages printed from them.

pub mod incidents;
pub mod print;
pub mod triage;
pub mod wizard;
