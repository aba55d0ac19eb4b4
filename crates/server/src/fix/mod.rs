//! Fix fast: triage's next step (API and cheat sheet), the web wizard, and incidents with their
//! escalation packets.

pub mod incidents;
pub mod triage;
pub mod wizard;
