//! Workstation agents: the endpoints they report to, and the administrators' page of them.

pub mod api;
pub mod page;
