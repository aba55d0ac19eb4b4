//! Administration: operators, sites (core hours, stock, contacts), and imports from the browser.

pub mod import;
pub mod sites;
pub mod users;
