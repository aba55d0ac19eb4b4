//! The estate as the health rules read it: for each kind, only the facts some rule uses. A full
//! check reads millions of rows, so names, emails and issuers are never loaded for it.

use std::sync::Arc;

use crate::card_status::CardStatus;
use crate::date::{Date, Timestamp};
use crate::estate::CoreHours;
use crate::fasthash::{FastMap, FastSet};
use crate::records::{Cell, Kind, Record};
use crate::vocab::{
    ClinicalSystem, HashAlgorithm, OrgStatus, PositionStatus, Purpose, ReaderStatus, UpdateRing,
};

/// A site: its clinic hours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteFacts {
    /// ODS code.
    pub site_ods: String,
    /// The organisation running it.
    pub organisation_ods: Arc<str>,
    /// Core clinic hours.
    pub core_hours: Option<CoreHours>,
}

/// An organisation: where it sits in the hierarchy (a practice's ICB), for RA teams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganisationFacts {
    /// ODS code.
    pub ods_code: String,
    /// Parent organisation.
    pub parent_ods: Option<Arc<str>>,
    /// Open or closed (a closed practice must have nothing left pointing at it).
    pub status: OrgStatus,
    /// When it closed.
    pub closed_on: Option<Date>,
}

/// A person: where they work, whether they have left, whether they are a trained local admin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonFacts {
    /// UUID.
    pub uuid: String,
    /// Site.
    pub site_ods: Arc<str>,
    /// Last day of employment.
    pub employment_end: Option<Date>,
    /// Trained local smartcard admin.
    pub local_admin: bool,
}

/// A card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardFacts {
    /// Serial.
    pub card_serial: String,
    /// Holder's UUID.
    pub holder_uuid: String,
    /// Series number.
    pub series: u8,
    /// Status.
    pub status: CardStatus,
    /// Issued on.
    pub issued_on: Date,
    /// Last used on.
    pub last_used_on: Option<Date>,
}

/// A certificate: what it is for, when it ends, how it signs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateFacts {
    /// The card.
    pub card_serial: Arc<str>,
    /// Authentication or signing.
    pub purpose: Purpose,
    /// Last valid day.
    pub not_after: Date,
    /// Hash algorithm.
    pub hash_algorithm: HashAlgorithm,
}

/// A position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PositionFacts {
    /// Holder.
    pub holder_uuid: String,
    /// Organisation.
    pub ods_code: Arc<str>,
    /// Role code.
    pub role_code: Arc<str>,
    /// Activity codes, space-separated as stored.
    pub activity_codes: Arc<str>,
    /// Status.
    pub status: PositionStatus,
    /// When requested.
    pub requested_on: Option<Date>,
}

/// A workstation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkstationFacts {
    /// Host name.
    pub hostname: String,
    /// Site.
    pub site_ods: Arc<str>,
    /// Update ring.
    pub update_ring: UpdateRing,
    /// When updates are installed.
    pub update_window: Option<CoreHours>,
    /// The applications used there, space-separated catalogue ids.
    pub applications: Option<Arc<str>>,
}

/// Software installed on a workstation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoftwareFacts {
    /// Host name.
    pub hostname: Arc<str>,
    /// Component id.
    pub component: Arc<str>,
    /// Version.
    pub version: Arc<str>,
}

/// A reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReaderFacts {
    /// Serial.
    pub reader_serial: String,
    /// Vendor.
    pub vendor: Arc<str>,
    /// Model.
    pub model: Arc<str>,
    /// Firmware.
    pub firmware: Option<Arc<str>>,
    /// Site.
    pub site_ods: Arc<str>,
    /// Status.
    pub status: ReaderStatus,
}

/// A stock line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockFacts {
    /// Site.
    pub site_ods: Arc<str>,
    /// Item.
    pub item: Arc<str>,
    /// In stock.
    pub quantity: u32,
    /// Minimum.
    pub minimum: u32,
}

/// A lockout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockoutFacts {
    /// The card.
    pub card_serial: Arc<str>,
    /// When it locked.
    pub locked_at: Timestamp,
}

/// A service acting with practice cards: what its cards need, and both sides of each identifier
/// the service checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrationFacts {
    /// Id.
    pub integration: String,
    /// The service's name.
    pub service: String,
    /// The practice site.
    pub site_ods: Arc<str>,
    /// The practice's clinical system.
    pub clinical_system: ClinicalSystem,
    /// Role codes, space-separated as stored (empty: any role).
    pub required_roles: Arc<str>,
    /// Activity codes, space-separated as stored.
    pub required_activity_codes: Arc<str>,
    /// The practice's EMIS CDB.
    pub emis_cdb: Option<Arc<str>>,
    /// The EMIS CDB the service holds.
    pub service_emis_cdb: Option<Arc<str>>,
    /// The SystmOne profile name.
    pub systmone_profile: Option<Arc<str>>,
    /// The SystmOne profile name the service holds.
    pub service_systmone_profile: Option<Arc<str>>,
}

/// A card an integration acts with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntegrationCardFacts {
    /// The integration.
    pub integration: Arc<str>,
    /// The card.
    pub card_serial: String,
    /// The EMIS user name for this card.
    pub emis_username: Option<Arc<str>>,
}

/// A workstation's clock against the server's, as its agent last reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClockFacts {
    /// Host name.
    pub hostname: String,
    /// The workstation's clock minus the server's, in seconds.
    pub offset_seconds: i64,
    /// When the agent reported it.
    pub at: Timestamp,
}

/// When a site's card data was last refreshed (by an import naming one of its cards or an agent
/// report from one of its workstations), with its name for the finding's words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteRefreshFacts {
    /// ODS code.
    pub site_ods: String,
    /// The site's name.
    pub name: String,
    /// The last refresh; `None` if the store has none for the site.
    pub refreshed_at: Option<Timestamp>,
}

/// The whole estate as the rules read it.
#[derive(Clone, Debug, Default)]
pub struct Estate {
    /// Organisations.
    pub organisations: Vec<OrganisationFacts>,
    /// Sites.
    pub sites: Vec<SiteFacts>,
    /// People.
    pub people: Vec<PersonFacts>,
    /// Cards.
    pub cards: Vec<CardFacts>,
    /// Certificates.
    pub certificates: Vec<CertificateFacts>,
    /// Positions.
    pub positions: Vec<PositionFacts>,
    /// Workstations.
    pub workstations: Vec<WorkstationFacts>,
    /// Installed software.
    pub software: Vec<SoftwareFacts>,
    /// Readers.
    pub readers: Vec<ReaderFacts>,
    /// Stock.
    pub stock: Vec<StockFacts>,
    /// Lockouts.
    pub lockouts: Vec<LockoutFacts>,
    /// Integrations.
    pub integrations: Vec<IntegrationFacts>,
    /// Cards of integrations.
    pub integration_cards: Vec<IntegrationCardFacts>,
    /// Workstations' clocks, from their agents (not a record kind: the store reads them apart).
    pub clocks: Vec<ClockFacts>,
    /// Each site's last refresh of its card data (not a record kind: the store reads it apart).
    pub refreshes: Vec<SiteRefreshFacts>,
    /// Text shared between facts while they are read.
    strings: Strings,
}

/// Shares text between facts: a value seen before (a site code, a software version) is one
/// allocation however many rows hold it, and a key repeated on consecutive rows (the card of a
/// card's two certificates) is shared without a lookup.
#[derive(Clone, Debug, Default)]
struct Strings {
    seen: FastSet<Arc<str>>,
    last: [Option<Arc<str>>; 12],
    /// Per column, the last value [`Strings::common_in`] gave.
    last_common: [Option<Arc<str>>; 12],
    /// Clinic hours and update windows already parsed: a few distinct texts on a national
    /// estate's workstations, each costly to parse.
    hours: FastMap<Box<str>, CoreHours>,
}

impl Strings {
    /// For low-cardinality text: one copy per distinct value. The value the same column held
    /// on the row before (a site's people and workstations are read together) is checked
    /// first, without hashing.
    fn common_in(&mut self, column: usize, s: &str) -> Arc<str> {
        if let Some(a) = &self.last_common[column] {
            if &**a == s {
                return a.clone();
            }
        }
        let a = self.common(s);
        self.last_common[column] = Some(a.clone());
        a
    }

    /// For low-cardinality text: one copy per distinct value.
    fn common(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.seen.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.seen.insert(a.clone());
        a
    }

    /// For keys that repeat on consecutive rows: shared with the row before when equal.
    fn repeated(&mut self, column: usize, s: &str) -> Arc<str> {
        match &self.last[column] {
            Some(a) if &**a == s => a.clone(),
            _ => {
                let a: Arc<str> = Arc::from(s);
                self.last[column] = Some(a.clone());
                a
            }
        }
    }
}

/// A position's holder, activity codes and status: all the certificate and card rules need of
/// a million positions (which of them prescribe). The organisation, role and request date are
/// read only for the position rules.
pub const LEAN_POSITION_COLUMNS: &[usize] = &[0, 4, 5];

/// The columns (indexes into [`Kind::columns`]) each kind's facts are read from, in the order
/// [`Estate::push_values`] expects them. Positions may also be read with
/// [`LEAN_POSITION_COLUMNS`].
pub fn fact_columns(kind: Kind) -> &'static [usize] {
    match kind {
        Kind::Organisations => &[0, 3, 4, 5],
        Kind::Sites => &[0, 1, 3],
        Kind::People => &[0, 4, 5, 6],
        Kind::Cards => &[0, 1, 2, 3, 4, 5],
        Kind::Certificates => &[0, 1, 5, 6],
        Kind::Positions => &[0, 1, 2, 4, 5, 6],
        Kind::Workstations => &[0, 1, 4, 6, 7],
        Kind::Software => &[0, 1, 2],
        Kind::Readers => &[0, 1, 2, 3, 5, 6],
        Kind::Stock => &[0, 1, 2, 3],
        Kind::Lockouts => &[0, 1],
        Kind::Integrations => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        Kind::IntegrationCards => &[0, 1, 2],
    }
}

/// Takes stored values apart, saying which column held what, when a value is not as stored.
struct Take<'a, 'b> {
    kind: Kind,
    cells: &'a [Cell<'b>],
    at: usize,
    strings: &'a mut Strings,
}

impl<'b> Take<'_, 'b> {
    fn bad<T>(&self, what: &str) -> Result<T, String> {
        let columns =
            if self.kind == Kind::Positions && self.cells.len() == LEAN_POSITION_COLUMNS.len() {
                LEAN_POSITION_COLUMNS
            } else {
                fact_columns(self.kind)
            };
        let col = self.kind.columns()[columns[self.at - 1]].name;
        Err(format!(
            "stored {} has a bad {col} ({what}) — correct it with an import",
            self.kind
        ))
    }

    fn next(&mut self) -> Cell<'b> {
        self.at += 1;
        self.cells[self.at - 1]
    }

    fn str(&mut self) -> Result<&'b str, String> {
        match self.next() {
            Cell::Text(s) => Ok(s),
            _ => self.bad("missing"),
        }
    }

    fn text(&mut self) -> Result<String, String> {
        self.str().map(str::to_owned)
    }

    fn common(&mut self) -> Result<Arc<str>, String> {
        let s = self.str()?;
        Ok(self.strings.common_in(self.at - 1, s))
    }

    fn opt_common(&mut self) -> Option<Arc<str>> {
        match self.next() {
            Cell::Text(s) => Some(self.strings.common_in(self.at - 1, s)),
            _ => None,
        }
    }

    fn repeated(&mut self) -> Result<Arc<str>, String> {
        let s = self.str()?;
        Ok(self.strings.repeated(self.at - 1, s))
    }

    fn date(&mut self) -> Result<Date, String> {
        match self.next() {
            Cell::Date(d) => Ok(d),
            _ => self.bad("not a date"),
        }
    }

    fn opt_date(&mut self) -> Option<Date> {
        match self.next() {
            Cell::Date(d) => Some(d),
            _ => None,
        }
    }

    fn int(&mut self) -> Result<i64, String> {
        match self.next() {
            Cell::Int(n) => Ok(n),
            _ => self.bad("not a number"),
        }
    }

    fn word<T, E: std::fmt::Display>(
        &mut self,
        parse: impl Fn(&str) -> Result<T, E>,
    ) -> Result<T, String> {
        let s = self.str()?;
        parse(s).or_else(|e| self.bad(&format!("{s:?}: {e}")))
    }

    fn hours(&mut self) -> Result<Option<CoreHours>, String> {
        match self.next() {
            Cell::Text(s) => {
                if let Some(h) = self.strings.hours.get(s) {
                    return Ok(Some(h.clone()));
                }
                let h = CoreHours::parse(s).or_else(|e| self.bad(&e.to_string()))?;
                self.strings.hours.insert(s.into(), h.clone());
                Ok(Some(h))
            }
            _ => Ok(None),
        }
    }
}

impl Estate {
    /// Adds one record's facts from stored values: the columns [`fact_columns`] names, in that
    /// order. A value that cannot be as stored (edited behind the store's back) is an error.
    pub fn push_values(&mut self, kind: Kind, cells: &[Cell<'_>]) -> Result<(), String> {
        let mut t = Take {
            kind,
            cells,
            at: 0,
            strings: &mut self.strings,
        };
        match kind {
            Kind::Organisations => self.organisations.push(OrganisationFacts {
                ods_code: t.text()?,
                parent_ods: t.opt_common(),
                status: t.word(OrgStatus::parse)?,
                closed_on: t.opt_date(),
            }),
            Kind::Sites => self.sites.push(SiteFacts {
                site_ods: t.text()?,
                organisation_ods: t.common()?,
                core_hours: t.hours()?,
            }),
            Kind::People => self.people.push(PersonFacts {
                uuid: t.text()?,
                site_ods: t.common()?,
                employment_end: t.opt_date(),
                local_admin: matches!(t.next(), Cell::Bool(true)),
            }),
            Kind::Cards => self.cards.push(CardFacts {
                card_serial: t.text()?,
                holder_uuid: t.text()?,
                series: u8::try_from(t.int()?).or_else(|_| t.bad("not a series"))?,
                status: t.word(CardStatus::parse)?,
                issued_on: t.date()?,
                last_used_on: t.opt_date(),
            }),
            Kind::Certificates => self.certificates.push(CertificateFacts {
                card_serial: t.repeated()?,
                purpose: t.word(Purpose::parse)?,
                not_after: t.date()?,
                hash_algorithm: t.word(HashAlgorithm::parse)?,
            }),
            Kind::Positions if cells.len() == LEAN_POSITION_COLUMNS.len() => {
                let none = t.strings.common("");
                self.positions.push(PositionFacts {
                    holder_uuid: t.text()?,
                    ods_code: none.clone(),
                    role_code: none.clone(),
                    activity_codes: t.opt_common().unwrap_or(none),
                    status: t.word(PositionStatus::parse)?,
                    requested_on: None,
                })
            }
            Kind::Positions => self.positions.push(PositionFacts {
                holder_uuid: t.text()?,
                ods_code: t.common()?,
                role_code: t.common()?,
                activity_codes: t.opt_common().unwrap_or_else(|| Arc::from("")),
                status: t.word(PositionStatus::parse)?,
                requested_on: t.opt_date(),
            }),
            Kind::Workstations => self.workstations.push(WorkstationFacts {
                hostname: t.text()?,
                site_ods: t.common()?,
                update_ring: t.word(UpdateRing::parse)?,
                update_window: t.hours()?,
                applications: t.opt_common(),
            }),
            Kind::Software => self.software.push(SoftwareFacts {
                hostname: t.repeated()?,
                component: t.common()?,
                version: t.common()?,
            }),
            Kind::Readers => self.readers.push(ReaderFacts {
                reader_serial: t.text()?,
                vendor: t.common()?,
                model: t.common()?,
                firmware: t.opt_common(),
                site_ods: t.common()?,
                status: t.word(ReaderStatus::parse)?,
            }),
            Kind::Stock => self.stock.push(StockFacts {
                site_ods: t.common()?,
                item: t.common()?,
                quantity: u32::try_from(t.int()?).or_else(|_| t.bad("negative"))?,
                minimum: u32::try_from(t.int()?).or_else(|_| t.bad("negative"))?,
            }),
            Kind::Lockouts => self.lockouts.push(LockoutFacts {
                card_serial: t.repeated()?,
                locked_at: match t.next() {
                    Cell::Timestamp(at) => at,
                    _ => return t.bad("not a moment"),
                },
            }),
            Kind::Integrations => self.integrations.push(IntegrationFacts {
                integration: t.text()?,
                service: t.text()?,
                site_ods: t.common()?,
                clinical_system: t.word(ClinicalSystem::parse)?,
                required_roles: t.opt_common().unwrap_or_else(|| Arc::from("")),
                required_activity_codes: t.opt_common().unwrap_or_else(|| Arc::from("")),
                emis_cdb: t.opt_common(),
                service_emis_cdb: t.opt_common(),
                systmone_profile: t.opt_common(),
                service_systmone_profile: t.opt_common(),
            }),
            Kind::IntegrationCards => self.integration_cards.push(IntegrationCardFacts {
                integration: t.repeated()?,
                card_serial: t.text()?,
                emis_username: t.opt_common(),
            }),
        }
        Ok(())
    }

    /// Puts the lists the rules merge in key order (stably). A freshly loaded store reads them in
    /// that order already, which one pass checks.
    pub fn sort(&mut self) {
        fn by<T>(items: &mut [T], key: fn(&T) -> &str) {
            // Checked first: a sort would allocate scratch space even for sorted input.
            if !items.is_sorted_by(|a, b| key(a) <= key(b)) {
                items.sort_by(|a, b| key(a).cmp(key(b)));
            }
        }
        // A database's tables drift from key order as rows are updated: the largest lists are
        // then sorted on the second core meanwhile.
        let (certificates, positions) = (&mut self.certificates, &mut self.positions);
        std::thread::scope(|s| {
            s.spawn(|| {
                by(certificates, |c| &c.card_serial);
                by(positions, |p| &p.holder_uuid);
            });
            by(&mut self.people, |p| &p.uuid);
            by(&mut self.cards, |c| &c.card_serial);
            by(&mut self.lockouts, |l| &l.card_serial);
            by(&mut self.workstations, |w| &w.hostname);
            by(&mut self.software, |s| &s.hostname);
            by(&mut self.integrations, |i| &i.integration);
            // Cards of an integration follow their integration; within it, order does not matter.
            by(&mut self.integration_cards, |c| &c.integration);
        });
    }

    /// Adds a whole record's facts.
    pub fn push(&mut self, record: Record) {
        let kind = record.kind();
        record.with_cells(|all| {
            let cells: Vec<Cell<'_>> = fact_columns(kind).iter().map(|&i| all[i]).collect();
            // A validated record's values are exactly as the store keeps them.
            self.push_values(kind, &cells)
                .unwrap_or_else(|e| unreachable!("a validated record: {e}"));
        });
    }
}
