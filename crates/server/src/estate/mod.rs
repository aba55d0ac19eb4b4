//! Know the estate: the lists of each kind, and the pages of one card, person, workstation and
//! integration, each with its JSON twin.

pub mod cards;
pub mod integrations;
pub mod lists;
pub mod people;
pub mod workstations;
