//! The configuration file and the catalogue override: read once at start, refused with the file,
//! line and reason when malformed.
//!
//! ```toml
//! catalogue = "/etc/cardwatch/catalogue-local.toml"   # laid over the shipped catalogue
//!
//! [health]
//! dormant_days = 60
//!
//! [[contacts]]                                          # on the sites' cheat sheets
//! role = "IT service desk"
//! name = "Riverside IT"
//! phone = "0161 000 0000"
//! serves = ["A81001"]                                   # none: every site
//! ```

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use cardwatch_core::calendar::Calendar;
use cardwatch_core::catalogue::{Catalogue, CatalogueError};
use cardwatch_core::date::Date;
use cardwatch_core::health::Thresholds;
use cardwatch_core::ids::OdsCode;
use cardwatch_core::planner::Team;
use cardwatch_core::triage::Contact;
use serde::Deserialize;

/// The configuration file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// An operator's catalogue, laid over the shipped one.
    catalogue: Option<PathBuf>,
    /// Health-check limits.
    #[serde(default)]
    health: Thresholds,
    /// Renewal planning.
    #[serde(default)]
    planner: Planner,
    /// Local contacts for the cheat sheets.
    #[serde(default)]
    contacts: Vec<Contact>,
}

/// The `[planner]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Planner {
    /// Days the RA teams do not work besides weekends and bank holidays (ISO dates).
    #[serde(default)]
    closed: Vec<toml::value::Datetime>,
    /// RA teams, each with its capacity and the ODS codes it serves.
    #[serde(default)]
    teams: Vec<TeamEntry>,
}

/// One `[[planner.teams]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamEntry {
    name: String,
    capacity: u32,
    serves: Vec<String>,
}

/// What the commands need from configuration.
#[derive(Debug)]
pub struct Settings {
    /// The catalogue in force.
    pub catalogue: Catalogue,
    /// Why an operator's catalogue was refused, when it was (the shipped one is then in force).
    pub catalogue_refused: Option<CatalogueError>,
    /// Health-check limits.
    pub thresholds: Thresholds,
    /// The RA teams' working days.
    pub calendar: Calendar,
    /// RA teams.
    pub teams: Vec<Team>,
    /// Local contacts for the cheat sheets.
    pub contacts: Vec<Contact>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Reads the configuration file (if any) and the catalogue override (`--catalogue`, else the
/// file's `catalogue`). A bad configuration file is an error; a bad catalogue override is
/// reported in [`Settings::catalogue_refused`] and the shipped catalogue stays in force.
pub fn load(config: Option<&Path>, catalogue: Option<&Path>) -> Result<Settings> {
    let file = match config {
        None => File::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow!("cannot read the configuration {}: {e}", path.display()))?;
            let file: File = toml::from_str(&text).map_err(|e| {
                anyhow!(
                    "{}:{}: {} — fix the configuration file",
                    path.display(),
                    line_of(&text, e.span().map_or(0, |s| s.start)),
                    e.message().trim()
                )
            })?;
            file.health
                .validate()
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            file
        }
    };
    let shipped = Catalogue::shipped();
    let over = catalogue.map(Path::to_path_buf).or(file.catalogue);
    let (catalogue, catalogue_refused) = match over {
        None => (shipped, None),
        Some(path) => match read_catalogue(&path) {
            Ok(over) => (shipped.overlay(over), None),
            Err(e) => (shipped, Some(e)),
        },
    };
    let mut closed = Vec::new();
    for d in &file.planner.closed {
        closed.push(Date::parse(&d.to_string()).map_err(|e| {
            anyhow!("configuration planner.closed: {d}: {e} — write dates as 2026-12-24")
        })?);
    }
    let where_ = config.map_or_else(String::new, |p| format!("{}: ", p.display()));
    let mut teams: Vec<Team> = Vec::new();
    for t in file.planner.teams {
        let name = t.name.trim().to_owned();
        let problem = if name.is_empty() {
            Some("a team needs a name".to_owned())
        } else if teams.iter().any(|o| o.name == name) {
            Some(format!("team {name:?} is listed twice"))
        } else if t.capacity == 0 {
            Some(format!(
                "team {name:?}: capacity must be at least 1 renewal a working day"
            ))
        } else if t.serves.is_empty() {
            Some(format!(
                "team {name:?}: serves names no site, organisation or ICB"
            ))
        } else {
            t.serves
                .iter()
                .find(|c| OdsCode::parse(c).is_err())
                .map(|c| format!("team {name:?}: {c:?} is not an ODS code"))
        };
        if let Some(p) = problem {
            return Err(anyhow!(
                "{where_}planner.teams: {p} — fix the configuration"
            ));
        }
        teams.push(Team {
            name,
            capacity: t.capacity,
            serves: t.serves,
        });
    }
    for c in &file.contacts {
        let problem = if c.role.trim().is_empty() || c.name.trim().is_empty() {
            Some("a contact needs a role and a name".to_owned())
        } else if c.phone.is_none() && c.email.is_none() {
            Some(format!("contact {:?} needs a phone or an email", c.name))
        } else {
            c.serves
                .iter()
                .find(|s| OdsCode::parse(s).is_err())
                .map(|s| format!("contact {:?}: {s:?} is not an ODS code", c.name))
        };
        if let Some(p) = problem {
            return Err(anyhow!("{where_}contacts: {p} — fix the configuration"));
        }
    }
    let contacts = file
        .contacts
        .into_iter()
        .map(|mut c| {
            c.serves = c
                .serves
                .iter()
                .map(|s| s.trim().to_ascii_uppercase())
                .collect();
            c
        })
        .collect();
    Ok(Settings {
        contacts,
        catalogue,
        catalogue_refused,
        thresholds: file.health,
        calendar: Calendar::england_and_wales().with_closed(closed),
        teams,
    })
}

fn read_catalogue(path: &Path) -> Result<Catalogue, CatalogueError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| CatalogueError {
        file: name.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read it: {e}"),
    })?;
    Catalogue::parse(&name, &text)
}
