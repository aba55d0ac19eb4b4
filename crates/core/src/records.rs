//! The import/export contract: the record kinds, their columns, natural keys and references, and
//! the parsing of one row into a validated entity. Storage and file handling live elsewhere; this
//! module only turns text fields into values (and back) and says what is wrong with them.

use std::fmt;

use crate::card_status::CardStatus;
use crate::date::{Date, Timestamp};
use crate::estate::*;
use crate::ids::{
    ActivityCode, CardSerial, Email, Hostname, IntegrationId, OdsCode, RoleCode, Uuid,
};
use crate::vocab::{
    parse_bool, ClinicalSystem, HashAlgorithm, OrgStatus, OrgType, PositionStatus, Purpose, RaRole,
    ReaderStatus, UpdateRing,
};

/// The type of a column, which decides how it is stored and printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColType {
    /// Text.
    Text,
    /// A whole number.
    Int,
    /// yes/no.
    Bool,
    /// A calendar date.
    Date,
    /// A UTC moment.
    Timestamp,
}

/// One column of a record kind.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Header name, also the database column name.
    pub name: &'static str,
    /// Type.
    pub ty: ColType,
    /// Whether an empty value is refused.
    pub required: bool,
}

const fn col(name: &'static str, ty: ColType, required: bool) -> Column {
    Column { name, ty, required }
}
use ColType::{Bool as B, Date as D, Int as I, Text as T, Timestamp as Ts};

/// The kinds of record that can be imported and exported, in dependency order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `organisations.csv`
    Organisations,
    /// `sites.csv`
    Sites,
    /// `people.csv`
    People,
    /// `cards.csv`
    Cards,
    /// `certificates.csv`
    Certificates,
    /// `positions.csv`
    Positions,
    /// `workstations.csv`
    Workstations,
    /// `software.csv`
    Software,
    /// `readers.csv`
    Readers,
    /// `stock.csv`
    Stock,
    /// `lockouts.csv`
    Lockouts,
    /// `integrations.csv`
    Integrations,
    /// `integration_cards.csv`
    IntegrationCards,
}

/// A reference from one record to another by natural key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The column holding the reference.
    pub column: &'static str,
    /// The kind referred to.
    pub target: Kind,
    /// The key referred to.
    pub key: String,
}

/// An application's id as the catalogue names it (`emis-web`): lower-case letters, digits and
/// hyphens, so that a list of them reads back as written.
pub fn application_id(s: &str) -> Result<String, String> {
    let id = s.trim().to_ascii_lowercase();
    if id.is_empty()
        || id.len() > 40
        || !id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "{s:?} is not an application id — use the catalogue's, e.g. emis-web, systmone, eps"
        ));
    }
    Ok(id)
}

impl Kind {
    /// Every kind, in the order an import applies them (referenced kinds first).
    pub const ALL: [Kind; 13] = [
        Kind::Organisations,
        Kind::Sites,
        Kind::People,
        Kind::Cards,
        Kind::Certificates,
        Kind::Positions,
        Kind::Workstations,
        Kind::Software,
        Kind::Readers,
        Kind::Stock,
        Kind::Lockouts,
        Kind::Integrations,
        Kind::IntegrationCards,
    ];

    /// The plural name, used for files (`people.csv`) and database tables.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Organisations => "organisations",
            Kind::Sites => "sites",
            Kind::People => "people",
            Kind::Cards => "cards",
            Kind::Certificates => "certificates",
            Kind::Positions => "positions",
            Kind::Workstations => "workstations",
            Kind::Software => "software",
            Kind::Readers => "readers",
            Kind::Stock => "stock",
            Kind::Lockouts => "lockouts",
            Kind::Integrations => "integrations",
            Kind::IntegrationCards => "integration_cards",
        }
    }

    /// Parses a kind's name.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The columns, in canonical (export) order.
    pub const fn columns(self) -> &'static [Column] {
        match self {
            Kind::Organisations => {
                const C: &[Column] = &[
                    col("ods_code", T, true),
                    col("name", T, true),
                    col("type", T, true),
                    col("parent_ods", T, false),
                    // Empty means active.
                    col("status", T, false),
                    col("closed_on", D, false),
                ];
                C
            }
            Kind::Sites => {
                const C: &[Column] = &[
                    col("site_ods", T, true),
                    col("organisation_ods", T, true),
                    col("name", T, true),
                    col("core_hours", T, false),
                ];
                C
            }
            Kind::People => {
                const C: &[Column] = &[
                    col("uuid", T, true),
                    col("name", T, true),
                    col("email", T, false),
                    col("staff_role", T, false),
                    col("site_ods", T, true),
                    col("employment_end", D, false),
                    col("local_admin", B, true),
                    col("ra_roles", T, false),
                ];
                C
            }
            Kind::Cards => {
                const C: &[Column] = &[
                    col("card_serial", T, true),
                    col("holder_uuid", T, true),
                    col("series", I, false),
                    col("status", T, true),
                    col("issued_on", D, true),
                    col("last_used_on", D, false),
                ];
                C
            }
            Kind::Certificates => {
                const C: &[Column] = &[
                    col("card_serial", T, true),
                    col("purpose", T, true),
                    col("serial_number", T, true),
                    col("issuer", T, true),
                    col("not_before", D, true),
                    col("not_after", D, true),
                    col("hash_algorithm", T, true),
                ];
                C
            }
            Kind::Positions => {
                const C: &[Column] = &[
                    col("holder_uuid", T, true),
                    col("ods_code", T, true),
                    col("role_code", T, true),
                    col("role_name", T, false),
                    col("activity_codes", T, false),
                    col("status", T, true),
                    col("requested_on", D, false),
                    col("approved_on", D, false),
                ];
                C
            }
            Kind::Workstations => {
                const C: &[Column] = &[
                    col("hostname", T, true),
                    col("site_ods", T, true),
                    col("os", T, false),
                    col("os_build", T, false),
                    // Empty means broad, so it may be left out.
                    col("update_ring", T, false),
                    col("last_seen", Ts, false),
                    col("update_window", T, false),
                    col("applications", T, false),
                ];
                C
            }
            Kind::Software => {
                const C: &[Column] = &[
                    col("hostname", T, true),
                    col("component", T, true),
                    col("version", T, true),
                ];
                C
            }
            Kind::Readers => {
                const C: &[Column] = &[
                    col("reader_serial", T, true),
                    col("vendor", T, true),
                    col("model", T, true),
                    col("firmware", T, false),
                    col("hostname", T, false),
                    col("site_ods", T, true),
                    col("status", T, true),
                ];
                C
            }
            Kind::Stock => {
                const C: &[Column] = &[
                    col("site_ods", T, true),
                    col("item", T, true),
                    col("quantity", I, true),
                    col("minimum", I, true),
                ];
                C
            }
            Kind::Lockouts => {
                const C: &[Column] = &[
                    col("card_serial", T, true),
                    col("locked_at", Ts, true),
                    col("unlocked_at", Ts, false),
                ];
                C
            }
            Kind::Integrations => {
                const C: &[Column] = &[
                    col("integration", T, true),
                    col("service", T, true),
                    col("site_ods", T, true),
                    col("clinical_system", T, true),
                    col("required_roles", T, false),
                    col("required_activity_codes", T, false),
                    col("emis_cdb", T, false),
                    col("service_emis_cdb", T, false),
                    col("systmone_profile", T, false),
                    col("service_systmone_profile", T, false),
                ];
                C
            }
            Kind::IntegrationCards => {
                const C: &[Column] = &[
                    col("integration", T, true),
                    col("card_serial", T, true),
                    col("emis_username", T, false),
                ];
                C
            }
        }
    }

    /// The columns (by index) that name a record of another kind (or, for an organisation's
    /// parent, of the same kind).
    pub const fn reference_columns(self) -> &'static [(usize, Kind)] {
        match self {
            Kind::Organisations => &[(3, Kind::Organisations)],
            Kind::Sites => &[(1, Kind::Organisations)],
            Kind::People => &[(4, Kind::Sites)],
            Kind::Workstations => &[(1, Kind::Sites)],
            Kind::Cards => &[(1, Kind::People)],
            Kind::Certificates => &[(0, Kind::Cards)],
            Kind::Positions => &[(0, Kind::People), (1, Kind::Organisations)],
            Kind::Software => &[(0, Kind::Workstations)],
            Kind::Readers => &[(5, Kind::Sites), (4, Kind::Workstations)],
            Kind::Stock => &[(0, Kind::Sites)],
            Kind::Lockouts => &[(0, Kind::Cards)],
            Kind::Integrations => &[(2, Kind::Sites)],
            Kind::IntegrationCards => &[(0, Kind::Integrations), (1, Kind::Cards)],
        }
    }

    /// How many leading columns form the natural key.
    pub const fn key_len(self) -> usize {
        match self {
            Kind::Certificates | Kind::Positions => 3,
            Kind::Software | Kind::Stock | Kind::Lockouts | Kind::IntegrationCards => 2,
            _ => 1,
        }
    }

    /// The kind whose header this is (any order, any case): exactly its columns, or else the one
    /// kind whose columns hold every name given and whose required columns are all there. A
    /// file written before a kind gained an optional column (positions before `requested_on`)
    /// is still known.
    pub fn from_header<S: AsRef<str>>(header: &[S]) -> Option<Kind> {
        let has = |c: &Column| {
            header
                .iter()
                .any(|h| h.as_ref().trim().eq_ignore_ascii_case(c.name))
        };
        let exact = Kind::ALL
            .into_iter()
            .find(|&k| k.columns().len() == header.len() && k.columns().iter().all(has));
        if exact.is_some() {
            return exact;
        }
        let mut fits = Kind::ALL.into_iter().filter(|&k| {
            let cols = k.columns();
            header.iter().all(|h| {
                cols.iter()
                    .any(|c| h.as_ref().trim().eq_ignore_ascii_case(c.name))
            }) && cols.iter().filter(|c| !c.may_be_absent()).all(has)
        });
        match (fits.next(), fits.next()) {
            (Some(k), None) => Some(k),
            _ => None,
        }
    }
}

impl Column {
    /// Whether a file may leave this column out of its header: any column whose value may be
    /// empty. An absent column says nothing about the records (see the import).
    pub const fn may_be_absent(&self) -> bool {
        !self.required
    }
}

/// The most columns any kind has, for readers that keep a row's fields on the stack (at most
/// 32, so that a set of columns fits in a `u32`).
pub const MAX_COLUMNS: usize = {
    let mut max = 0;
    let mut i = 0;
    while i < Kind::ALL.len() {
        let n = Kind::ALL[i].columns().len();
        if n > max {
            max = n;
        }
        i += 1;
    }
    assert!(max <= 32);
    max
};

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A stored value of one column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Absent (an empty optional field).
    Null,
    /// Text.
    Text(String),
    /// Whole number.
    Int(i64),
    /// yes/no.
    Bool(bool),
    /// Date.
    Date(Date),
    /// UTC moment.
    Timestamp(Timestamp),
}

impl Value {
    /// The CSV text of the value (absent is empty; booleans are yes/no).
    pub fn to_csv(&self) -> String {
        self.as_cell().to_csv()
    }

    /// The value lent as a cell.
    pub fn as_cell(&self) -> Cell<'_> {
        match self {
            Value::Null => Cell::Null,
            Value::Text(s) => Cell::Text(s),
            Value::Int(n) => Cell::Int(*n),
            Value::Bool(b) => Cell::Bool(*b),
            Value::Date(d) => Cell::Date(*d),
            Value::Timestamp(t) => Cell::Timestamp(*t),
        }
    }

    /// The JSON form of the value.
    pub fn to_json(&self) -> serde_json::Value {
        self.as_cell().to_json()
    }
}

/// A stored value lent while a row is read: text borrowed from the database's buffer, so that
/// a reader copies only what it keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell<'a> {
    /// Absent.
    Null,
    /// Text.
    Text(&'a str),
    /// Whole number.
    Int(i64),
    /// yes/no.
    Bool(bool),
    /// Date.
    Date(Date),
    /// UTC moment.
    Timestamp(Timestamp),
}

impl Cell<'_> {
    /// The CSV text of the value (absent is empty; booleans are yes/no).
    pub fn to_csv(&self) -> String {
        match *self {
            Cell::Null => String::new(),
            Cell::Text(s) => s.to_owned(),
            Cell::Int(n) => n.to_string(),
            Cell::Bool(b) => if b { "yes" } else { "no" }.to_owned(),
            Cell::Date(d) => d.to_string(),
            Cell::Timestamp(t) => t.to_string(),
        }
    }

    /// The JSON form of the value.
    pub fn to_json(&self) -> serde_json::Value {
        match *self {
            Cell::Null => serde_json::Value::Null,
            Cell::Int(n) => n.into(),
            Cell::Bool(b) => b.into(),
            other => other.to_csv().into(),
        }
    }

    /// An owned value.
    pub fn to_value(self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Text(s) => Value::Text(s.to_owned()),
            Cell::Int(n) => Value::Int(n),
            Cell::Bool(b) => Value::Bool(b),
            Cell::Date(d) => Value::Date(d),
            Cell::Timestamp(t) => Value::Timestamp(t),
        }
    }
}

/// One thing wrong with one field of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The column.
    pub column: &'static str,
    /// The value as written in the file.
    pub value: String,
    /// What is wrong and what to do, joined by " — ".
    pub message: String,
}

/// A validated record of any kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// An organisation.
    Organisation(Organisation),
    /// A site.
    Site(Site),
    /// A person.
    Person(Person),
    /// A card.
    Card(Card),
    /// A certificate.
    Certificate(Certificate),
    /// A position.
    Position(Position),
    /// A workstation.
    Workstation(Workstation),
    /// Installed software.
    Software(Software),
    /// A reader.
    Reader(Reader),
    /// Stock.
    Stock(Stock),
    /// A lockout of a card.
    Lockout(Lockout),
    /// A service acting with practice cards.
    Integration(Integration),
    /// A card such a service acts with.
    IntegrationCard(IntegrationCard),
}

/// An EMIS CDB number: the practice's database number, digits only.
fn parse_cdb(s: &str) -> Result<String, &'static str> {
    if s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(s.to_owned())
    } else {
        Err("an EMIS CDB is a number of up to 10 digits — copy it from EMIS Web (the practice's CDB number)")
    }
}

/// Collects field errors while a row is parsed, so that every bad field is reported at once.
struct RowParser<'a> {
    kind: Kind,
    fields: &'a [&'a str],
    errors: Vec<FieldError>,
}

const MAX_TEXT: usize = 200;

impl<'a> RowParser<'a> {
    fn fail(&mut self, i: usize, message: String) {
        self.errors.push(FieldError {
            column: self.kind.columns()[i].name,
            value: self.fields[i].to_owned(),
            message,
        });
    }

    /// A field, parsed when present; `None` inside when empty and optional.
    fn field<T, E: fmt::Display>(
        &mut self,
        i: usize,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        let raw = self.fields[i].trim();
        if raw.is_empty() {
            if self.kind.columns()[i].required {
                let name = self.kind.columns()[i].name;
                self.fail(i, format!("{name} is required — fill it in"));
                return None;
            }
            return Some(None);
        }
        match parse(raw) {
            Ok(v) => Some(Some(v)),
            Err(e) => {
                self.fail(i, e.to_string());
                None
            }
        }
    }

    fn req<T, E: fmt::Display>(
        &mut self,
        i: usize,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        self.field(i, parse).flatten()
    }

    fn text(&mut self, i: usize) -> Option<String> {
        self.field(i, |s| {
            if s.len() > MAX_TEXT {
                Err(format!("longer than {MAX_TEXT} characters — shorten it"))
            } else if s.chars().any(char::is_control) {
                Err("contains a control character (tab or line break) — remove it".into())
            } else {
                Ok(s.to_owned())
            }
        })
        .map(Option::unwrap_or_default)
    }

    fn opt_text(&mut self, i: usize) -> Option<Option<String>> {
        self.text(i).map(|s| (!s.is_empty()).then_some(s))
    }

    fn date(&mut self, i: usize) -> Option<Option<Date>> {
        self.field(i, Date::parse)
    }

    fn count(&mut self, i: usize) -> Option<u32> {
        self.req(i, |s| {
            s.parse::<u32>()
                .map_err(|_| "not a whole number of 0 or more — write digits only".to_owned())
        })
    }

    fn list<T, E: fmt::Display>(
        &mut self,
        i: usize,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Option<Vec<T>>
    where
        T: Ord,
    {
        self.field(i, |s| {
            let mut items = s
                .split([' ', ',', ';'])
                .filter(|w| !w.is_empty())
                .map(|w| parse(w).map_err(|e| format!("{w:?}: {e}")))
                .collect::<Result<Vec<T>, String>>()?;
            items.sort();
            items.dedup();
            Ok::<_, String>(items)
        })
        .map(Option::unwrap_or_default)
    }

    fn vocab<T, E: fmt::Display>(
        &mut self,
        i: usize,
        parse: fn(&str) -> Result<T, E>,
    ) -> Option<T> {
        self.req(i, |s| {
            parse(s).map_err(|e| format!("{e} — use one of the listed words"))
        })
    }
}

macro_rules! all_some {
    ($p:ident, $($v:ident),+ => $build:expr) => {
        match ($($v,)+) {
            ($(Some($v),)+) if $p.errors.is_empty() => Ok($build),
            _ => Err($p.errors),
        }
    };
}

impl Record {
    /// Parses one row whose fields are in the kind's canonical column order.
    pub fn parse(kind: Kind, fields: &[&str]) -> Result<Record, Vec<FieldError>> {
        debug_assert_eq!(fields.len(), kind.columns().len());
        let mut p = RowParser {
            kind,
            fields,
            errors: Vec::new(),
        };
        match kind {
            Kind::Organisations => {
                let ods_code = p.req(0, OdsCode::parse);
                let name = p.text(1);
                let org_type = p.vocab(2, OrgType::parse);
                let parent_ods = p.field(3, OdsCode::parse);
                // An empty status means open: files written before organisations had one.
                let status = if p.fields[4].trim().is_empty() {
                    Some(OrgStatus::Active)
                } else {
                    p.vocab(4, OrgStatus::parse)
                };
                let closed_on = p.date(5);
                all_some!(p, ods_code, name, org_type, parent_ods, status, closed_on =>
                    Record::Organisation(Organisation { ods_code, name, org_type, parent_ods, status, closed_on }))
            }
            Kind::Sites => {
                let site_ods = p.req(0, OdsCode::parse);
                let organisation_ods = p.req(1, OdsCode::parse);
                let name = p.text(2);
                let core_hours = p.field(3, CoreHours::parse);
                all_some!(p, site_ods, organisation_ods, name, core_hours =>
                    Record::Site(Site { site_ods, organisation_ods, name, core_hours }))
            }
            Kind::People => {
                let uuid = p.req(0, Uuid::parse);
                let name = p.text(1);
                let email = p.field(2, Email::parse);
                let staff_role = p.text(3);
                let site_ods = p.req(4, OdsCode::parse);
                let employment_end = p.date(5);
                let local_admin = p.req(6, |s| {
                    parse_bool(s).map_err(|e| format!("{e} — write yes or no"))
                });
                let ra_roles = p.list(7, RaRole::parse);
                all_some!(p, uuid, name, email, staff_role, site_ods, employment_end, local_admin, ra_roles =>
                    Record::Person(Person { uuid, name, email, staff_role, site_ods, employment_end, local_admin, ra_roles }))
            }
            Kind::Cards => {
                let card_serial = p.req(0, CardSerial::parse);
                let holder_uuid = p.req(1, Uuid::parse);
                let from_serial = card_serial
                    .as_ref()
                    .and_then(|c| Series::of_serial(c.as_str()));
                let series = match p.field(2, |s| {
                    s.parse::<i64>().ok().and_then(Series::new).ok_or(
                        "card series is a number from 4 to 10 — read it from the back of the card",
                    )
                }) {
                    // Left empty: the card number's first two digits say it.
                    Some(None) => match from_serial {
                        Some(s) => Some(s),
                        None => {
                            p.fail(2, "no series, and the card serial does not begin with one — write the series, 4 to 10 (the first two digits of the number at the bottom right of the card's back)".into());
                            None
                        }
                    },
                    Some(Some(s)) => match from_serial {
                        Some(f) if f != s => {
                            p.fail(2, format!("series {} but the card serial begins {:02} — the first two digits of the card's number are its series: check both", s.number(), f.number()));
                            None
                        }
                        _ => Some(s),
                    },
                    None => None,
                };
                let status = p.vocab(3, CardStatus::parse);
                let issued_on = p.req(4, Date::parse);
                let last_used_on = p.date(5);
                if let (Some(i), Some(Some(u))) = (issued_on, last_used_on) {
                    if u < i {
                        p.fail(
                            5,
                            format!("last used before it was issued ({i}) — check both dates"),
                        );
                    }
                }
                all_some!(p, card_serial, holder_uuid, series, status, issued_on, last_used_on =>
                    Record::Card(Card { card_serial, holder_uuid, series, status, issued_on, last_used_on }))
            }
            Kind::Certificates => {
                let card_serial = p.req(0, CardSerial::parse);
                let purpose = p.vocab(1, Purpose::parse);
                let serial_number = p.req(2, |s| {
                    let ok = s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b':');
                    ok.then(|| s.to_ascii_uppercase())
                        .ok_or("a certificate serial is up to 64 hex digits — copy it from the certificate")
                });
                let issuer = p.text(3);
                let not_before = p.req(4, Date::parse);
                let not_after = p.req(5, Date::parse);
                if let (Some(b), Some(a)) = (not_before, not_after) {
                    if a < b {
                        p.fail(
                            5,
                            format!(
                                "not_after is before not_before ({b}) — check the validity dates"
                            ),
                        );
                    }
                }
                let hash_algorithm = p.vocab(6, HashAlgorithm::parse);
                all_some!(p, card_serial, purpose, serial_number, issuer, not_before, not_after, hash_algorithm =>
                    Record::Certificate(Certificate { card_serial, purpose, serial_number, issuer, not_before, not_after, hash_algorithm }))
            }
            Kind::Positions => {
                let holder_uuid = p.req(0, Uuid::parse);
                let ods_code = p.req(1, OdsCode::parse);
                let role_code = p.req(2, RoleCode::parse);
                let role_name = p.text(3);
                let activity_codes = p.list(4, ActivityCode::parse);
                let status = p.vocab(5, PositionStatus::parse);
                let requested_on = p.date(6);
                let approved_on = p.date(7);
                if let (Some(Some(r)), Some(Some(a))) = (requested_on, approved_on) {
                    if a < r {
                        p.fail(
                            7,
                            format!("approved before it was requested ({r}) — check both dates"),
                        );
                    }
                }
                all_some!(p, holder_uuid, ods_code, role_code, role_name, activity_codes, status, requested_on, approved_on =>
                    Record::Position(Position { holder_uuid, ods_code, role_code, role_name, activity_codes, status, requested_on, approved_on }))
            }
            Kind::Workstations => {
                let hostname = p.req(0, Hostname::parse);
                let site_ods = p.req(1, OdsCode::parse);
                let os = p.text(2);
                let os_build = p.text(3);
                // An empty ring means the default, broad.
                let update_ring = if p.fields[4].trim().is_empty() {
                    Some(UpdateRing::Broad)
                } else {
                    p.vocab(4, UpdateRing::parse)
                };
                let last_seen = p.field(5, Timestamp::parse);
                // The same form as a site's core hours: the times updates may be installed.
                let update_window = p.field(6, CoreHours::parse);
                let applications = p.list(7, application_id);
                all_some!(p, hostname, site_ods, os, os_build, update_ring, last_seen, update_window, applications =>
                    Record::Workstation(Workstation { hostname, site_ods, os, os_build, update_ring, last_seen, update_window, applications }))
            }
            Kind::Software => {
                let hostname = p.req(0, Hostname::parse);
                let component = p.text(1).map(|c| c.to_ascii_lowercase());
                let version = p.text(2);
                all_some!(p, hostname, component, version =>
                    Record::Software(Software { hostname, component, version }))
            }
            Kind::Readers => {
                let reader_serial = p.text(0);
                let vendor = p.text(1);
                let model = p.text(2);
                let firmware = p.opt_text(3);
                let hostname = p.field(4, Hostname::parse);
                let site_ods = p.req(5, OdsCode::parse);
                let status = p.vocab(6, ReaderStatus::parse);
                all_some!(p, reader_serial, vendor, model, firmware, hostname, site_ods, status =>
                    Record::Reader(Reader { reader_serial, vendor, model, firmware, hostname, site_ods, status }))
            }
            Kind::Stock => {
                let site_ods = p.req(0, OdsCode::parse);
                let item = p.text(1).map(|c| c.to_ascii_lowercase());
                let quantity = p.count(2);
                let minimum = p.count(3);
                all_some!(p, site_ods, item, quantity, minimum =>
                    Record::Stock(Stock { site_ods, item, quantity, minimum }))
            }
            Kind::Lockouts => {
                let card_serial = p.req(0, CardSerial::parse);
                let locked_at = p.req(1, Timestamp::parse);
                let unlocked_at = p.field(2, Timestamp::parse);
                if let (Some(l), Some(Some(u))) = (locked_at, unlocked_at) {
                    if u < l {
                        p.fail(
                            2,
                            format!("unlocked before it was locked ({l}) — check both times"),
                        );
                    }
                }
                all_some!(p, card_serial, locked_at, unlocked_at =>
                    Record::Lockout(Lockout { card_serial, locked_at, unlocked_at }))
            }
            Kind::Integrations => {
                let integration = p.req(0, IntegrationId::parse);
                let service = p.text(1);
                let site_ods = p.req(2, OdsCode::parse);
                let clinical_system = p.vocab(3, ClinicalSystem::parse);
                let required_roles = p.list(4, RoleCode::parse);
                let required_activity_codes = p.list(5, ActivityCode::parse);
                let emis_cdb = p.field(6, parse_cdb);
                let service_emis_cdb = p.field(7, parse_cdb);
                let systmone_profile = p.opt_text(8);
                let service_systmone_profile = p.opt_text(9);
                // Each system's identifiers belong to that system only: an EMIS CDB on a
                // SystmOne practice is a mistake somewhere, and the readiness check would
                // otherwise judge the wrong thing.
                if let Some(system) = clinical_system {
                    for (i, only) in [
                        (6, ClinicalSystem::Emis),
                        (7, ClinicalSystem::Emis),
                        (8, ClinicalSystem::Systmone),
                        (9, ClinicalSystem::Systmone),
                    ] {
                        if system != only && !p.fields[i].trim().is_empty() {
                            p.fail(i, format!("only for {only} practices, but clinical_system is {system} — clear it or correct clinical_system"));
                        }
                    }
                }
                all_some!(p, integration, service, site_ods, clinical_system, required_roles, required_activity_codes, emis_cdb, service_emis_cdb, systmone_profile, service_systmone_profile =>
                    Record::Integration(Integration { integration, service, site_ods, clinical_system, required_roles, required_activity_codes, emis_cdb, service_emis_cdb, systmone_profile, service_systmone_profile }))
            }
            Kind::IntegrationCards => {
                let integration = p.req(0, IntegrationId::parse);
                let card_serial = p.req(1, CardSerial::parse);
                let emis_username = p.field(2, |s| {
                    if s.len() > 64 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                        Err("an EMIS user name is up to 64 characters without spaces — copy it from EMIS Web's user list")
                    } else {
                        Ok(s.to_owned())
                    }
                });
                all_some!(p, integration, card_serial, emis_username =>
                    Record::IntegrationCard(IntegrationCard { integration, card_serial, emis_username }))
            }
        }
    }

    /// The record's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Record::Organisation(_) => Kind::Organisations,
            Record::Site(_) => Kind::Sites,
            Record::Person(_) => Kind::People,
            Record::Card(_) => Kind::Cards,
            Record::Certificate(_) => Kind::Certificates,
            Record::Position(_) => Kind::Positions,
            Record::Workstation(_) => Kind::Workstations,
            Record::Software(_) => Kind::Software,
            Record::Reader(_) => Kind::Readers,
            Record::Stock(_) => Kind::Stock,
            Record::Lockout(_) => Kind::Lockouts,
            Record::Integration(_) => Kind::Integrations,
            Record::IntegrationCard(_) => Kind::IntegrationCards,
        }
    }

    /// The values in canonical column order, as stored.
    pub fn values(&self) -> Vec<Value> {
        self.with_cells(to_values)
    }

    /// Lends the values in canonical column order, as stored, to `f`, with text borrowed from
    /// the record: an import keeps millions of rows' values, and copies them once, into its own
    /// buffer, instead of allocating a string per field.
    pub fn with_cells<R>(&self, f: impl FnOnce(&[Cell<'_>]) -> R) -> R {
        fn t(s: &(impl AsRef<str> + ?Sized)) -> Cell<'_> {
            Cell::Text(s.as_ref())
        }
        fn ot<S: AsRef<str>>(s: &Option<S>) -> Cell<'_> {
            s.as_ref().map_or(Cell::Null, |s| Cell::Text(s.as_ref()))
        }
        /// Optional text kept as an empty string in the record.
        fn et(s: &str) -> Cell<'_> {
            if s.is_empty() {
                Cell::Null
            } else {
                Cell::Text(s)
            }
        }
        fn od(d: Option<Date>) -> Cell<'static> {
            d.map_or(Cell::Null, Cell::Date)
        }
        fn words<S: fmt::Display>(items: &[S]) -> String {
            let mut out = String::new();
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(' ');
                }
                // Writing into a String cannot fail.
                let _ = fmt::Write::write_fmt(&mut out, format_args!("{item}"));
            }
            out
        }
        fn hours(h: &Option<CoreHours>) -> String {
            h.as_ref().map(ToString::to_string).unwrap_or_default()
        }
        // Text the record does not hold as stored (word lists, hours) is written out first; no
        // kind has more than two such columns.
        let [a, b] = match self {
            Record::Site(s) => [hours(&s.core_hours), String::new()],
            Record::Person(p) => [words(&p.ra_roles), String::new()],
            Record::Position(p) => [words(&p.activity_codes), String::new()],
            Record::Workstation(w) => [hours(&w.update_window), words(&w.applications)],
            Record::Integration(i) => [words(&i.required_roles), words(&i.required_activity_codes)],
            _ => Default::default(),
        };
        let (a, b) = (et(&a), et(&b));
        match self {
            Record::Organisation(o) => f(&[
                t(&o.ods_code),
                t(&o.name),
                t(o.org_type.as_str()),
                ot(&o.parent_ods),
                t(o.status.as_str()),
                od(o.closed_on),
            ]),
            Record::Site(s) => f(&[t(&s.site_ods), t(&s.organisation_ods), t(&s.name), a]),
            Record::Person(p) => f(&[
                t(&p.uuid),
                t(&p.name),
                ot(&p.email),
                et(&p.staff_role),
                t(&p.site_ods),
                od(p.employment_end),
                Cell::Bool(p.local_admin),
                a,
            ]),
            Record::Card(c) => f(&[
                t(&c.card_serial),
                t(&c.holder_uuid),
                Cell::Int(i64::from(c.series.number())),
                t(c.status.as_str()),
                Cell::Date(c.issued_on),
                od(c.last_used_on),
            ]),
            Record::Certificate(c) => f(&[
                t(&c.card_serial),
                t(c.purpose.as_str()),
                t(&c.serial_number),
                t(&c.issuer),
                Cell::Date(c.not_before),
                Cell::Date(c.not_after),
                t(c.hash_algorithm.as_str()),
            ]),
            Record::Position(p) => f(&[
                t(&p.holder_uuid),
                t(&p.ods_code),
                t(&p.role_code),
                et(&p.role_name),
                a,
                t(p.status.as_str()),
                od(p.requested_on),
                od(p.approved_on),
            ]),
            Record::Workstation(w) => f(&[
                t(&w.hostname),
                t(&w.site_ods),
                et(&w.os),
                et(&w.os_build),
                t(w.update_ring.as_str()),
                w.last_seen.map_or(Cell::Null, Cell::Timestamp),
                a,
                b,
            ]),
            Record::Software(s) => f(&[t(&s.hostname), t(&s.component), t(&s.version)]),
            Record::Reader(r) => f(&[
                t(&r.reader_serial),
                t(&r.vendor),
                t(&r.model),
                ot(&r.firmware),
                ot(&r.hostname),
                t(&r.site_ods),
                t(r.status.as_str()),
            ]),
            Record::Stock(s) => f(&[
                t(&s.site_ods),
                t(&s.item),
                Cell::Int(i64::from(s.quantity)),
                Cell::Int(i64::from(s.minimum)),
            ]),
            Record::Lockout(l) => f(&[
                t(&l.card_serial),
                Cell::Timestamp(l.locked_at),
                l.unlocked_at.map_or(Cell::Null, Cell::Timestamp),
            ]),
            Record::Integration(i) => f(&[
                t(&i.integration),
                t(&i.service),
                t(&i.site_ods),
                t(i.clinical_system.as_str()),
                a,
                b,
                ot(&i.emis_cdb),
                ot(&i.service_emis_cdb),
                ot(&i.systmone_profile),
                ot(&i.service_systmone_profile),
            ]),
            Record::IntegrationCard(c) => {
                f(&[t(&c.integration), t(&c.card_serial), ot(&c.emis_username)])
            }
        }
    }

    /// The other records this one refers to.
    pub fn references(&self) -> Vec<Reference> {
        references_of(self.kind(), &self.values())
    }
}

/// Lent cells as owned values, for what keeps them beyond the loan.
pub fn to_values(cells: &[Cell<'_>]) -> Vec<Value> {
    cells.iter().map(|c| c.to_value()).collect()
}

/// The references held by a row of values of `kind` (absent optional ones left out).
pub fn references_of(kind: Kind, values: &[Value]) -> Vec<Reference> {
    kind.reference_columns()
        .iter()
        .filter_map(|&(i, target)| match &values[i] {
            Value::Text(key) => Some(Reference {
                column: kind.columns()[i].name,
                target,
                key: key.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// A row of values of `kind` as a JSON object keyed by column name (the audit log's before and
/// after, the API's records).
pub fn row_json(kind: Kind, values: &[Value]) -> serde_json::Map<String, serde_json::Value> {
    kind.columns()
        .iter()
        .zip(values)
        .map(|(c, v)| (c.name.to_owned(), v.to_json()))
        .collect()
}

/// The natural key of a row of values, as one string (parts joined by a unit separator).
pub fn key_of(kind: Kind, values: &[Value]) -> String {
    let mut key = String::new();
    for (n, v) in values[..kind.key_len()].iter().enumerate() {
        if n > 0 {
            key.push('\u{1f}');
        }
        key.push_str(&v.to_csv());
    }
    key
}

/// A natural key made readable for messages (`A1/signing/01AB`).
pub fn display_key(key: &str) -> String {
    key.replace('\u{1f}', "/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(kind: Kind, line: &str) -> Result<Record, Vec<FieldError>> {
        let fields: Vec<&str> = line.split(',').collect();
        Record::parse(kind, &fields)
    }

    #[test]
    fn reference_columns_name_key_columns_of_their_targets() {
        for kind in Kind::ALL {
            for &(i, target) in kind.reference_columns() {
                let col = kind.columns()[i];
                assert_eq!(col.ty, ColType::Text, "{kind}.{}", col.name);
                assert_eq!(target.key_len(), 1, "{kind}.{} → {target}", col.name);
            }
        }
    }

    #[test]
    fn header_detects_kind_in_any_order() {
        let h = [
            "holder_uuid",
            "card_serial",
            "SERIES",
            "status",
            "issued_on",
            "last_used_on",
        ];
        assert_eq!(Kind::from_header(&h), Some(Kind::Cards));
        assert_eq!(Kind::from_header(&["uuid", "name"]), None);
        // Optional columns may be left out; required ones may not.
        assert_eq!(
            Kind::from_header(&[
                "holder_uuid",
                "card_serial",
                "series",
                "status",
                "issued_on"
            ]),
            Some(Kind::Cards)
        );
        assert_eq!(
            Kind::from_header(&["holder_uuid", "card_serial", "series", "status"]),
            None
        );
    }

    /// A header of only a kind's required columns is never taken for another kind: the kind of
    /// a file without its optional columns is never a guess.
    #[test]
    fn required_columns_alone_name_one_kind() {
        for kind in Kind::ALL {
            let required: Vec<&str> = kind
                .columns()
                .iter()
                .filter(|c| !c.may_be_absent())
                .map(|c| c.name)
                .collect();
            assert_eq!(Kind::from_header(&required), Some(kind), "{required:?}");
            for c in &kind.columns()[..kind.key_len()] {
                assert!(
                    !c.may_be_absent(),
                    "{kind}.{}: a key is never absent",
                    c.name
                );
            }
        }
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errs = parse(Kind::Cards, "CS1,1.23457E+11,3,misplaced,31/02/2026,").unwrap_err();
        let cols: Vec<_> = errs.iter().map(|e| e.column).collect();
        assert_eq!(
            cols,
            [
                "card_serial",
                "holder_uuid",
                "series",
                "status",
                "issued_on"
            ]
        );
        assert!(errs[1].message.contains("scientific notation"));
    }

    #[test]
    fn certificate_dates_in_order() {
        let e = parse(
            Kind::Certificates,
            "CS0001,signing,01AB,NHS Signing G2,2026-01-01,2025-12-31,sha256",
        )
        .unwrap_err();
        assert_eq!(e[0].column, "not_after");
        let ok = parse(
            Kind::Certificates,
            "cs0001,SIGN,01ab,NHS Signing G2,01/01/2026,2028-01-01,SHA-256",
        )
        .unwrap();
        let v = ok.values();
        assert_eq!(
            key_of(Kind::Certificates, &v),
            "CS0001\u{1f}signing\u{1f}01AB"
        );
        assert_eq!(v[6], Value::Text("sha256".into()));
    }

    #[test]
    fn a_cards_series_comes_from_its_number_when_left_out_and_must_agree_with_it() {
        let series = |line: &str| match parse(Kind::Cards, line) {
            Ok(Record::Card(c)) => Ok(c.series.number()),
            Ok(_) => unreachable!(),
            Err(e) => Err(e[0].message.clone()),
        };
        assert_eq!(series("0812345678,555123456789,,active,2024-01-10,"), Ok(8));
        assert_eq!(
            series("1012345678,555123456789,10,active,2024-01-10,"),
            Ok(10)
        );
        // A number that does not begin with a series says nothing either way.
        assert_eq!(series("CS000001,555123456789,9,active,2024-01-10,"), Ok(9));
        let e = series("0812345678,555123456789,9,active,2024-01-10,").unwrap_err();
        assert!(e.contains("series 9 but the card serial begins 08"), "{e}");
        let e = series("CS000001,555123456789,,active,2024-01-10,").unwrap_err();
        assert!(e.contains("no series") && e.contains("bottom right"), "{e}");
        assert_eq!(Series::of_serial("0412"), Series::new(4));
        assert_eq!(Series::of_serial("1112"), None);
        assert_eq!(Series::of_serial("7"), None);
    }

    #[test]
    fn lists_are_sorted_and_deduplicated() {
        let r = parse(
            Kind::People,
            "012345678901,Ann Lee,,GP,A81001,,Y,sponsor ra_agent sponsor",
        )
        .unwrap();
        assert_eq!(r.values()[7], Value::Text("ra_agent sponsor".into()));
        assert_eq!(r.values()[6], Value::Bool(true));
        assert_eq!(r.references()[0].key, "A81001");
    }

    #[test]
    fn times_in_order() {
        let e = parse(Kind::Lockouts, "CS0001,2026-11-20T10:00,2026-11-20T09:00").unwrap_err();
        assert_eq!(e[0].column, "unlocked_at");
        assert!(e[0].message.contains("unlocked before it was locked"));
        let e = parse(
            Kind::Positions,
            "012345678901,A81001,R8000,,,approved,2026-03-02,2026-03-01",
        )
        .unwrap_err();
        assert_eq!(e[0].column, "approved_on");
        let ok = parse(Kind::Lockouts, "cs0001,2026-11-20T10:00,").unwrap();
        assert_eq!(
            key_of(Kind::Lockouts, &ok.values()),
            "CS0001\u{1f}2026-11-20T10:00:00Z"
        );
    }

    #[test]
    fn integrations_keep_each_system_to_its_own_identifiers() {
        let r = parse(
            Kind::Integrations,
            "HT1-A81001,Healthtech-1,a81001,EMIS Web,R8008 R8008,B0825,01234,01234,,",
        )
        .unwrap();
        let v = r.values();
        assert_eq!(v[0], Value::Text("ht1-a81001".into()));
        assert_eq!(v[3], Value::Text("emis".into()));
        assert_eq!(v[4], Value::Text("R8008".into()));
        assert_eq!(v[6], Value::Text("01234".into()), "leading zeros kept");
        assert_eq!(r.references()[0].key, "A81001");
        let e = parse(
            Kind::Integrations,
            "ht1,Healthtech-1,A81001,tpp,,,12345,,Digital Assistant,",
        )
        .unwrap_err();
        assert_eq!((e.len(), e[0].column), (1, "emis_cdb"));
        assert!(
            e[0].message.contains("only for emis practices"),
            "{}",
            e[0].message
        );
        let e = parse(Kind::Integrations, "x,Healthtech-1,A81001,emis,,,12 345,,,").unwrap_err();
        let cols: Vec<_> = e.iter().map(|e| e.column).collect();
        assert_eq!(cols, ["integration", "emis_cdb"]);
        let e = parse(Kind::IntegrationCards, "ht1,CS0001,ann lee").unwrap_err();
        assert_eq!(e[0].column, "emis_username");
        let ok = parse(Kind::IntegrationCards, "HT1,cs0001,").unwrap();
        assert_eq!(
            key_of(Kind::IntegrationCards, &ok.values()),
            "ht1\u{1f}CS0001"
        );
    }

    #[test]
    fn empty_ring_means_broad() {
        let r = parse(Kind::Workstations, "WS1,A81001,Windows 11,22631,,,,").unwrap();
        assert_eq!(r.values()[4], Value::Text("broad".into()));
    }
}
