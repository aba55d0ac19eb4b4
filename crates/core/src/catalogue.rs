//! The catalogue: what is current, mandatory and retired among smartcard software, card series
//! and reader firmware. These facts change with NHS England's announcements, so they are data
//! (`knowledge/catalogue.toml`, shipped, overridable by the operator), each with its source and
//! date, and the health rules only ever read them from here.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::date::Date;

mod age;
pub use age::{age_warning, AgedFact};

/// The catalogue shipped with Cardwatch.
pub const SHIPPED: &str = include_str!("../../../knowledge/catalogue.toml");

/// A dotted version (`2.4.10.0`, firmware `6.00`), compared part by part: numbers as numbers,
/// anything else as text, so `2.4.10.0` is newer than `2.4.9.2`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version(String);

impl Version {
    /// A version from its text; empty text is refused.
    pub fn parse(s: &str) -> Result<Version, String> {
        let s = s.trim();
        if s.is_empty() || s.len() > 40 || s.chars().any(char::is_whitespace) {
            return Err(format!(
                "{s:?} is not a version — write it as dotted numbers, e.g. 2.4.10.0"
            ));
        }
        Ok(Version(s.to_owned()))
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        compare(&self.0, &other.0)
    }
}

/// Compares two version texts part by part (see [`Version`]), without building either.
pub fn compare(a: &str, b: &str) -> Ordering {
    let mut a = a.split(['.', '-', '_']);
    let mut b = b.split(['.', '-', '_']);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return Ordering::Equal,
            // 6.0 and 6.0.0 are the same version.
            (Some(x), None) => {
                return if zero(x) && a.all(zero) {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (None, Some(y)) => {
                return if zero(y) && b.all(zero) {
                    Ordering::Equal
                } else {
                    Ordering::Less
                }
            }
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    _ => x.cmp(y),
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

fn zero(part: &str) -> bool {
    part.bytes().all(|b| b == b'0')
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Version::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A date written in TOML either bare (`2025-10-12`) or quoted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TomlDate(Date);

impl<'de> Deserialize<'de> for TomlDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Toml(toml::value::Datetime),
            Text(String),
        }
        let text = match Either::deserialize(d)? {
            Either::Toml(dt) if dt.time.is_none() && dt.offset.is_none() => dt.to_string(),
            Either::Toml(dt) => {
                return Err(serde::de::Error::custom(format!(
                    "{dt} has a time of day — write the date alone, e.g. 2025-10-12"
                )))
            }
            Either::Text(s) => s,
        };
        Date::parse(&text)
            .map(TomlDate)
            .map_err(|e| serde::de::Error::custom(format!("{text:?}: {e}")))
    }
}

fn date_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
    Ok(Option::<TomlDate>::deserialize(d)?.map(|t| t.0))
}

fn date_req<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
    Ok(TomlDate::deserialize(d)?.0)
}

/// Where a fact comes from and when it was last checked.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// A public page or announcement, or `unconfirmed: …` with what the value rests on.
    pub source: String,
    /// When the fact was read from it.
    #[serde(deserialize_with = "date_req")]
    pub as_of: Date,
}

impl Source {
    /// Whether no public source confirms the fact (its source begins `unconfirmed`): shown as
    /// such, and listed last.
    pub fn unconfirmed(&self) -> bool {
        self.source
            .trim_start()
            .get(..11)
            .is_some_and(|w| w.eq_ignore_ascii_case("unconfirmed"))
    }
}

/// Whether a component must be on every workstation, must be removed, or may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    /// Every clinical workstation needs it.
    Required,
    /// Being withdrawn: it should be uninstalled.
    Remove,
    /// Installed where needed.
    Optional,
}

/// A version that was withdrawn, and when.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retired {
    /// The version (an installed version equal to it is retired).
    pub version: Version,
    /// From when.
    #[serde(deserialize_with = "date_req")]
    pub on: Date,
}

/// A smartcard software component (Identity Agent, Credential Management, middleware).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareEntry {
    /// The component id used in `software.csv` (`identity-agent`…).
    pub id: String,
    /// Its name as users see it.
    pub name: String,
    /// Required, to be removed, or optional.
    pub presence: Presence,
    /// The newest released version.
    pub current: Option<Version>,
    /// Versions below this are not supported once `mandatory_from` has passed.
    pub mandatory_minimum: Option<Version>,
    /// When the minimum became (or becomes) mandatory.
    #[serde(default, deserialize_with = "date_opt")]
    pub mandatory_from: Option<Date>,
    /// Versions withdrawn individually.
    #[serde(default)]
    pub retired: Vec<Retired>,
    /// The authentication client (`[[clients]]` id) whose workstations need it; none: every
    /// workstation.
    pub client: Option<String>,
    /// Where this comes from.
    #[serde(flatten)]
    pub source: Source,
}

/// What cards of one series can do with an authentication client, and until when.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSeries {
    /// The card series.
    pub series: u8,
    /// Signs (prescriptions, other signed actions) as well as authenticating.
    pub sign: bool,
    /// The last day cards of this series work with this client, if it ends.
    #[serde(default, deserialize_with = "date_opt")]
    pub until: Option<Date>,
}

/// A workstation's authentication client: NHS Identity Agent (CIS1) or NHS Smartcard Connect
/// (CIS2). Which one a workstation has is read from its installed software.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEntry {
    /// Its id (`cis1`, `cis2`).
    pub id: String,
    /// Its name as users see it.
    pub name: String,
    /// The software component (`software.csv`) whose presence means a workstation has it.
    pub component: String,
    /// The last day it works at all, if it is being retired.
    #[serde(default, deserialize_with = "date_opt")]
    pub works_until: Option<Date>,
    /// The client to move to before then.
    pub successor: Option<String>,
    /// Install it only where every application in use supports it (CIS2 authentication).
    #[serde(default)]
    pub needs_ready_applications: bool,
    /// The card series it works with.
    #[serde(default)]
    pub series: Vec<ClientSeries>,
    /// Where this comes from.
    #[serde(flatten)]
    pub source: Source,
}

impl ClientEntry {
    /// What cards of a series can do with this client on `day`: `None` when they do not work
    /// with it (or no longer do), else whether they sign.
    pub fn series_on(&self, series: u8, day: Date) -> Option<bool> {
        let s = self.series.iter().find(|s| s.series == series)?;
        let until = match (s.until, self.works_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        (until.is_none_or(|u| day <= u)).then_some(s.sign)
    }
}

/// Whether an application supports CIS2 authentication (Smartcard Connect).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Readiness {
    /// It does.
    Ready,
    /// It does not yet.
    NotReady,
    /// No public source says either way: check with its supplier before moving a workstation.
    Unconfirmed,
}

/// A Spine-connected application used at workstations, and whether it supports CIS2.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationEntry {
    /// Its id, as in `workstations.csv`'s `applications` and as a software component when
    /// installed (`emis-web`).
    pub id: String,
    /// Its name as users see it.
    pub name: String,
    /// Whether it supports CIS2 authentication.
    pub cis2: Readiness,
    /// Texts the name of its installed program contains (case ignored), as an agent reports
    /// the programs installed on a workstation (Windows' uninstall entries): how an agent's
    /// report puts it in the workstation's applications. None for an application used in a
    /// browser, which installs nothing to see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub installed_as: Vec<String>,
    /// Where those names come from, or `unconfirmed: …`; required with `installed_as`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_as_source: Option<String>,
    /// Where this comes from.
    #[serde(flatten)]
    pub source: Source,
}

impl ApplicationEntry {
    /// Whether an installed program's name is this application's.
    pub fn is_installed_as(&self, program: &str) -> bool {
        let program = program.to_lowercase();
        self.installed_as
            .iter()
            .any(|p| program.contains(&p.to_lowercase()))
    }
}

/// A card series and what it can do.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesEntry {
    /// Series number, 4–10.
    pub series: u8,
    /// Chip maker or platform.
    pub maker: String,
    /// Can log in.
    pub authenticate: bool,
    /// Can sign (prescriptions, other signed actions).
    pub sign: bool,
    /// Signs with SHA-256 (needed for electronic prescriptions).
    pub sha256: bool,
    /// From when cards of this series no longer work (retired and blocked).
    #[serde(default, deserialize_with = "date_opt")]
    pub stops_working: Option<Date>,
    /// Where this comes from.
    #[serde(flatten)]
    pub source: Source,
}

/// A reader model and its current firmware.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderEntry {
    /// Vendor as in `readers.csv`.
    pub vendor: String,
    /// Model as in `readers.csv`.
    pub model: String,
    /// The vendor's current firmware.
    pub current_firmware: Version,
    /// Where this comes from.
    #[serde(flatten)]
    pub source: Source,
}

/// The whole catalogue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    /// Software components, by id.
    #[serde(default)]
    pub software: Vec<SoftwareEntry>,
    /// Card series.
    #[serde(default)]
    pub series: Vec<SeriesEntry>,
    /// Reader models.
    #[serde(default)]
    pub readers: Vec<ReaderEntry>,
    /// Authentication clients.
    #[serde(default)]
    pub clients: Vec<ClientEntry>,
    /// Spine-connected applications.
    #[serde(default)]
    pub applications: Vec<ApplicationEntry>,
}

/// A catalogue file that cannot be used, with the place and the reason.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct CatalogueError {
    /// The file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and what to do.
    pub message: String,
}

impl Catalogue {
    /// The shipped catalogue.
    pub fn shipped() -> Catalogue {
        // The shipped file is tested; a failure here is a build that was never tested.
        Catalogue::parse("knowledge/catalogue.toml", SHIPPED)
            .and_then(|c| c.checked("knowledge/catalogue.toml", SHIPPED))
            .unwrap_or_else(|e| panic!("the shipped catalogue is invalid: {e}"))
    }

    /// This catalogue with an operator's file laid over it (see [`Catalogue::overlay`]), refused
    /// with the file's line when the file is malformed or names what the result does not hold.
    pub fn with_file(self, file: &str, text: &str) -> Result<Catalogue, CatalogueError> {
        self.overlay(Catalogue::parse(file, text)?)
            .checked(file, text)
    }

    /// Checks what entries name across the catalogue — a client's successor, a software entry's
    /// client — once every file is laid over the others; `text` is the file to point into.
    fn checked(self, file: &str, text: &str) -> Result<Catalogue, CatalogueError> {
        let at = |needle: &str, message: String| {
            let before = &text[..text.find(needle).unwrap_or(0)];
            CatalogueError {
                file: file.to_owned(),
                line: before.matches('\n').count() + 1,
                column: 1,
                message,
            }
        };
        for c in &self.clients {
            if let Some(next) = c.successor.as_deref().filter(|n| self.client(n).is_none()) {
                return Err(at(
                    &format!("\"{next}\""),
                    format!(
                        "client {:?}: successor {next:?} is not a listed client",
                        c.id
                    ),
                ));
            }
        }
        for s in &self.software {
            if let Some(c) = s.client.as_deref().filter(|c| self.client(c).is_none()) {
                return Err(at(
                    &format!("\"{}\"", s.id),
                    format!("software {:?}: client {c:?} is not a listed client — add it under [[clients]] or remove the line", s.id),
                ));
            }
        }
        Ok(self)
    }

    /// Parses and checks a catalogue file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Catalogue, CatalogueError> {
        let at = |offset: usize, message: String| {
            let before = &text[..offset.min(text.len())];
            CatalogueError {
                file: file.to_owned(),
                line: before.matches('\n').count() + 1,
                column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
                message,
            }
        };
        let cat: Catalogue = toml::from_str(text).map_err(|e| {
            at(
                e.span().map_or(0, |s| s.start),
                e.message().trim().to_owned(),
            )
        })?;
        // Entries are checked after parsing; their place is found again by their key's text.
        let find = |needle: &str| text.find(needle).unwrap_or(0);
        let mut ids = BTreeMap::new();
        for s in &cat.software {
            if ids.insert(s.id.as_str(), ()).is_some() {
                return Err(at(
                    find(&format!("\"{}\"", s.id)),
                    format!("software {:?} is listed twice — keep one entry", s.id),
                ));
            }
            if s.mandatory_minimum.is_some() != s.mandatory_from.is_some() {
                return Err(at(
                    find(&format!("\"{}\"", s.id)),
                    format!(
                        "software {:?}: mandatory_minimum and mandatory_from go together — give both or neither",
                        s.id
                    ),
                ));
            }
            if let (Some(cur), Some(min)) = (&s.current, &s.mandatory_minimum) {
                if cur < min {
                    return Err(at(
                        find(&format!("\"{}\"", s.id)),
                        format!("software {:?}: current {cur} is older than mandatory_minimum {min} — check both", s.id),
                    ));
                }
            }
        }
        let mut series = BTreeMap::new();
        for s in &cat.series {
            if !(4..=10).contains(&s.series) {
                return Err(at(
                    find(&format!("series = {}", s.series)),
                    format!("series {} is not a card series — use 4 to 10", s.series),
                ));
            }
            if series.insert(s.series, ()).is_some() {
                return Err(at(
                    find(&format!("series = {}", s.series)),
                    format!("series {} is listed twice — keep one entry", s.series),
                ));
            }
        }
        let mut clients = BTreeMap::new();
        for c in &cat.clients {
            let here = find(&format!("\"{}\"", c.id));
            if clients.insert(c.id.as_str(), ()).is_some() {
                return Err(at(
                    here,
                    format!("client {:?} is listed twice — keep one entry", c.id),
                ));
            }
            if let Some(s) = c.series.iter().find(|s| !(4..=10).contains(&s.series)) {
                return Err(at(
                    here,
                    format!(
                        "client {:?}: series {} is not a card series — use 4 to 10",
                        c.id, s.series
                    ),
                ));
            }
        }
        let mut apps = BTreeMap::new();
        for a in &cat.applications {
            if apps.insert(a.id.as_str(), ()).is_some() {
                return Err(at(
                    find(&format!("\"{}\"", a.id)),
                    format!("application {:?} is listed twice — keep one entry", a.id),
                ));
            }
            // An empty text is in every name: it would put the application on every machine.
            if a.installed_as.iter().any(|p| p.trim().is_empty()) {
                return Err(at(
                    find(&format!("\"{}\"", a.id)),
                    format!(
                        "application {:?}: installed_as holds an empty name — give the text its program's name contains",
                        a.id
                    ),
                ));
            }
            if !a.installed_as.is_empty()
                && a.installed_as_source
                    .as_deref()
                    .is_none_or(|s| s.trim().is_empty())
            {
                return Err(at(
                    find(&format!("\"{}\"", a.id)),
                    format!(
                        "application {:?}: installed_as needs installed_as_source — a public source for the names, or \"unconfirmed: …\"",
                        a.id
                    ),
                ));
            }
        }
        Ok(cat)
    }

    /// This catalogue with an operator's entries laid over it: an entry with the same id (software),
    /// series, or vendor and model (readers) replaces the shipped one; new ones are added.
    pub fn overlay(mut self, over: Catalogue) -> Catalogue {
        for s in over.software {
            match self.software.iter_mut().find(|x| x.id == s.id) {
                Some(x) => *x = s,
                None => self.software.push(s),
            }
        }
        for s in over.series {
            match self.series.iter_mut().find(|x| x.series == s.series) {
                Some(x) => *x = s,
                None => self.series.push(s),
            }
        }
        for r in over.readers {
            match self
                .readers
                .iter_mut()
                .find(|x| x.vendor == r.vendor && x.model == r.model)
            {
                Some(x) => *x = r,
                None => self.readers.push(r),
            }
        }
        for c in over.clients {
            match self.clients.iter_mut().find(|x| x.id == c.id) {
                Some(x) => *x = c,
                None => self.clients.push(c),
            }
        }
        for a in over.applications {
            match self.applications.iter_mut().find(|x| x.id == a.id) {
                Some(x) => *x = a,
                None => self.applications.push(a),
            }
        }
        self.series.sort_by_key(|s| s.series);
        self
    }

    /// An authentication client by id.
    pub fn client(&self, id: &str) -> Option<&ClientEntry> {
        self.clients.iter().find(|c| c.id == id)
    }

    /// The first client that stops working on a date and has a successor, that successor, and
    /// the client's last working day: the move the deadline rules and the plan are about.
    pub fn retiring(&self) -> Option<(&ClientEntry, &ClientEntry, Date)> {
        self.clients.iter().find_map(|c| {
            let end = c.works_until?;
            Some((c, self.client(c.successor.as_deref()?)?, end))
        })
    }

    /// Of the applications listed on a workstation (space-separated ids) and the software
    /// installed on it, those the catalogue knows as applications, without repeats.
    pub fn applications_used<'a>(
        &self,
        listed: Option<&'a str>,
        installed: impl IntoIterator<Item = &'a str>,
    ) -> Vec<&'a str> {
        let mut apps: Vec<&str> = listed
            .unwrap_or("")
            .split(' ')
            .filter(|a| !a.is_empty())
            .chain(
                installed
                    .into_iter()
                    .filter(|c| self.application(c).is_some()),
            )
            .collect();
        apps.sort_unstable();
        apps.dedup();
        apps
    }

    /// An application by id.
    pub fn application(&self, id: &str) -> Option<&ApplicationEntry> {
        self.applications.iter().find(|a| a.id == id)
    }

    /// Of the applications `ids`, those not known to support CIS2 authentication, each as
    /// "name (why)": what holds up a move to a client that needs ready applications.
    pub fn not_ready<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        ids.into_iter()
            .filter_map(|id| match self.application(id) {
                Some(a) if a.cis2 == Readiness::Ready => None,
                Some(a) if a.cis2 == Readiness::NotReady => Some(format!("{} (not ready)", a.name)),
                Some(a) => Some(format!("{} (readiness unconfirmed)", a.name)),
                None => Some(format!("{id} (not in the catalogue)")),
            })
            .collect()
    }

    /// A software component by id.
    pub fn software(&self, id: &str) -> Option<&SoftwareEntry> {
        self.software.iter().find(|s| s.id == id)
    }

    /// A card series.
    pub fn series(&self, n: u8) -> Option<&SeriesEntry> {
        self.series.iter().find(|s| s.series == n)
    }

    /// A reader model (vendor and model compared without regard to case).
    pub fn reader(&self, vendor: &str, model: &str) -> Option<&ReaderEntry> {
        self.readers
            .iter()
            .find(|r| r.vendor.eq_ignore_ascii_case(vendor) && r.model.eq_ignore_ascii_case(model))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn versions_compare_by_number() {
        assert!(v("2.4.10.0") > v("2.4.9.2"));
        assert!(v("6.00") > v("5.10"));
        assert_eq!(v("6.0").cmp(&v("6.0.0")), Ordering::Equal);
        assert!(v("1.0.9") < v("1.0.10"));
        assert!(v("2.0.3") > v("2.0"));
        assert!(Version::parse(" ").is_err());
    }

    #[test]
    fn shipped_catalogue_loads_and_knows_the_facts() {
        let c = Catalogue::shipped();
        let ia = c.software("identity-agent").unwrap();
        assert_eq!(ia.mandatory_minimum, Some(v("2.4.10.0")));
        assert_eq!(ia.mandatory_from, Some(Date::parse("2025-10-12").unwrap()));
        assert_eq!(
            c.software("gemalto-middleware").unwrap().presence,
            Presence::Remove
        );
        assert_eq!(
            c.software("oberthur-middleware").unwrap().presence,
            Presence::Required
        );
        assert!(!c.series(10).unwrap().sign);
        assert!(c.series(4).unwrap().stops_working.is_some());
        assert!(c.series(8).unwrap().sha256);
        assert!(c.reader("hid omnikey", "3121").is_some());
    }

    #[test]
    fn bad_files_are_refused_with_line_and_reason() {
        let e = Catalogue::parse("over.toml", "[[software]]\nid = \"x\"\nname = 3\n").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("over.toml", 3), "{e}");
        let text = "\n[[series]]\nseries = 11\nmaker = \"X\"\nauthenticate = true\nsign = true\nsha256 = true\nsource = \"s\"\nas_of = 2026-01-01\n";
        let e = Catalogue::parse("over.toml", text).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("use 4 to 10"), "{e}");
        let e = Catalogue::parse("over.toml", "[[readers]]\nvendor = \"A\"\nmodel = \"B\"\ncurrent_firmware = \"1\"\nsource = \"s\"\nas_of = 2026-13-01\n").unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        let e = Catalogue::parse("over.toml", "[[software]]\nid = \"a\"\nname = \"A\"\npresence = \"sometimes\"\nsource = \"s\"\nas_of = 2026-01-01\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        let e = Catalogue::parse("over.toml", "colour = \"red\"\n").unwrap_err();
        assert!(e.message.contains("colour"), "{e}");
    }

    #[test]
    fn overlay_replaces_by_key_and_adds() {
        let over = Catalogue::parse(
            "over.toml",
            "[[readers]]\nvendor = \"HID Omnikey\"\nmodel = \"3121\"\ncurrent_firmware = \"7.0\"\nsource = \"vendor notice\"\nas_of = 2026-11-01\n\n[[readers]]\nvendor = \"Acme\"\nmodel = \"K1\"\ncurrent_firmware = \"1.0\"\nsource = \"vendor\"\nas_of = 2026-11-01\n",
        )
        .unwrap();
        let shipped = Catalogue::shipped();
        let n = shipped.readers.len();
        let c = shipped.overlay(over);
        assert_eq!(c.readers.len(), n + 1);
        assert_eq!(
            c.reader("HID Omnikey", "3121").unwrap().current_firmware,
            v("7.0")
        );
    }
}
