//! Fix fast: the triage knowledge base, the decision-theoretic engine that picks the next step,
//! matching what a user sees to a symptom, learning from resolved incidents, and the simulation
//! that measures the engine against the documents' fixed order and an oracle.

mod cheatsheet;
mod engine;
mod exact;
mod facts;
mod incident;
mod kb;
mod learning;
pub mod matching;
mod packet;
pub mod plain;
mod report;
mod simulate;

pub use cheatsheet::*;
pub use engine::*;
pub use exact::{expected, Answered, Expected};
pub use facts::{agent_facts, estate_facts, Context as TriageContext};
pub use incident::*;
pub use kb::*;
pub use learning::*;
pub use packet::*;
pub use report::*;
pub use simulate::*;

#[cfg(test)]
mod tests;
