//! The entities of the estate: organisations, sites, people, cards, certificates, positions,
//! workstations, installed software, readers, stock and integration profiles.

use std::fmt;

use serde::Serialize;

use crate::card_status::CardStatus;
use crate::date::{Date, Timestamp};
use crate::ids::{
    ActivityCode, CardSerial, Email, Hostname, IntegrationId, OdsCode, RoleCode, Uuid,
};
use crate::vocab::{
    ClinicalSystem, HashAlgorithm, OrgStatus, OrgType, PositionStatus, Purpose, RaRole,
    ReaderStatus, UpdateRing,
};

/// An organisation known by its ODS code (practice, branch, PCN, ICB, trust…).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Organisation {
    /// ODS code.
    pub ods_code: OdsCode,
    /// Name as the ODS publishes it.
    pub name: String,
    /// What kind of organisation.
    pub org_type: OrgType,
    /// The parent organisation (e.g. the ICB of a practice).
    pub parent_ods: Option<OdsCode>,
    /// Open, closed, dormant or proposed.
    pub status: OrgStatus,
    /// The day it closed, as ODS publishes it.
    pub closed_on: Option<Date>,
}

/// A place where people work with cards: it has its own ODS code, stock and clinic hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Site {
    /// The site's ODS code (a practice's own code, or a branch's).
    pub site_ods: OdsCode,
    /// The organisation running the site.
    pub organisation_ods: OdsCode,
    /// Name.
    pub name: String,
    /// Core clinic hours, when updates must not happen.
    pub core_hours: Option<CoreHours>,
}

/// A card holder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Person {
    /// The holder's UUID.
    pub uuid: Uuid,
    /// Full name.
    pub name: String,
    /// Email (needed for self-service unlock and reminders).
    pub email: Option<Email>,
    /// Staff role at the practice, free text (GP, Practice Nurse, Receptionist…).
    pub staff_role: String,
    /// Where they mostly work.
    pub site_ods: OdsCode,
    /// Last day of employment, for leavers.
    pub employment_end: Option<Date>,
    /// Trained as a local (non-IT) smartcard admin for the site.
    pub local_admin: bool,
    /// Registration Authority roles held.
    pub ra_roles: Vec<RaRole>,
}

/// Card series 4 to 10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Series(u8);

impl Series {
    /// Parses a series number, 4 to 10.
    pub fn new(n: i64) -> Option<Series> {
        (4..=10).contains(&n).then_some(Series(n as u8))
    }

    /// The series number.
    pub const fn number(self) -> u8 {
        self.0
    }

    /// The series a card number gives: its first two digits (`08…`, `10…`), as printed at the
    /// bottom right of the card's back; none when it does not begin with a series.
    pub fn of_serial(serial: &str) -> Option<Series> {
        let b = serial.as_bytes();
        match b {
            [a @ b'0'..=b'9', c @ b'0'..=b'9', ..] => {
                Series::new(i64::from((a - b'0') * 10 + (c - b'0')))
            }
            _ => None,
        }
    }
}

/// One physical smartcard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Card {
    /// The card's own serial number.
    pub card_serial: CardSerial,
    /// Who holds it (a replacement card keeps the holder's UUID).
    pub holder_uuid: Uuid,
    /// Card series.
    pub series: Series,
    /// Status.
    pub status: CardStatus,
    /// When it was issued.
    pub issued_on: Date,
    /// When it was last used to authenticate, if known.
    pub last_used_on: Option<Date>,
}

/// A certificate on a card (each card carries one for authentication and one for signing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Certificate {
    /// The card it is on.
    pub card_serial: CardSerial,
    /// Authentication or signing.
    pub purpose: Purpose,
    /// Certificate serial number (hex or decimal, as issued).
    pub serial_number: String,
    /// Issuing CA (e.g. NHS Authentication G2).
    pub issuer: String,
    /// Valid from.
    pub not_before: Date,
    /// Valid until (inclusive).
    pub not_after: Date,
    /// Signature hash algorithm.
    pub hash_algorithm: HashAlgorithm,
}

/// A role held at an organisation, with its activity codes and approval state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Position {
    /// The holder.
    pub holder_uuid: Uuid,
    /// Where the role is held.
    pub ods_code: OdsCode,
    /// RBAC role code.
    pub role_code: RoleCode,
    /// Role name as shown in the Care Identity Service.
    pub role_name: String,
    /// Activity codes the position carries.
    pub activity_codes: Vec<ActivityCode>,
    /// Approval state.
    pub status: PositionStatus,
    /// When a sponsor asked for it.
    pub requested_on: Option<Date>,
    /// When the RA approved it.
    pub approved_on: Option<Date>,
}

/// A clinical workstation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Workstation {
    /// Host name.
    pub hostname: Hostname,
    /// Site it stands in.
    pub site_ods: OdsCode,
    /// Operating system, e.g. "Windows 11 Enterprise".
    pub os: String,
    /// OS build, e.g. "22631.4460".
    pub os_build: String,
    /// Update ring.
    pub update_ring: UpdateRing,
    /// Last time an agent or import saw it.
    pub last_seen: Option<Timestamp>,
    /// When updates may be installed (same form as core hours), if scheduled.
    pub update_window: Option<CoreHours>,
    /// The Spine-connected applications used there (the catalogue's application ids).
    pub applications: Vec<String>,
}

/// A smartcard software component installed on a workstation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Software {
    /// The workstation.
    pub hostname: Hostname,
    /// Catalogue id (`identity-agent`, `credential-management`, `oberthur-middleware`,
    /// `gemalto-middleware`) or another component's name.
    pub component: String,
    /// Installed version.
    pub version: String,
}

/// A smartcard reader, on a workstation or in spare stock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reader {
    /// The reader's serial number.
    pub reader_serial: String,
    /// Vendor (HID Omnikey, Thales/Gemalto, Reiner SCT…).
    pub vendor: String,
    /// Model (e.g. 3121).
    pub model: String,
    /// Firmware version, when the reader reports it.
    pub firmware: Option<String>,
    /// The workstation it is plugged into; none for a spare.
    pub hostname: Option<Hostname>,
    /// The site holding it.
    pub site_ods: OdsCode,
    /// Status.
    pub status: ReaderStatus,
}

/// Spare stock of one item at a site, with the level below which more must be ordered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stock {
    /// The site.
    pub site_ods: OdsCode,
    /// `reader`, `card` or another item.
    pub item: String,
    /// How many are in stock.
    pub quantity: u32,
    /// Minimum to keep.
    pub minimum: u32,
}

/// One time a card was locked (three wrong PINs), and when it was unlocked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lockout {
    /// The card.
    pub card_serial: CardSerial,
    /// When it locked.
    pub locked_at: Timestamp,
    /// When it was unlocked, if it has been.
    pub unlocked_at: Option<Timestamp>,
}

/// A third-party service that acts with a practice's smartcards (a digital assistant that
/// registers patients, a document workflow tool…), with what it needs of them. Both sides of each
/// identifier are kept — the practice's own and the one the service was given at set-up — because
/// the service's synchronisation fails on any difference, and finding it first is the point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Integration {
    /// Short id chosen by the operator (`ht1-a81001`).
    pub integration: IntegrationId,
    /// The service's name.
    pub service: String,
    /// The practice site the service acts for.
    pub site_ods: OdsCode,
    /// The practice's clinical system.
    pub clinical_system: ClinicalSystem,
    /// Role codes one of which each card's position must have (empty: any role).
    pub required_roles: Vec<RoleCode>,
    /// Activity codes each card's position must carry, all of them.
    pub required_activity_codes: Vec<ActivityCode>,
    /// The practice's EMIS CDB number, as EMIS Web shows it.
    pub emis_cdb: Option<String>,
    /// The EMIS CDB number the service was given at set-up.
    pub service_emis_cdb: Option<String>,
    /// The SystmOne profile set up for the service's cards, as SystmOne names it.
    pub systmone_profile: Option<String>,
    /// The SystmOne profile name the service was given at set-up.
    pub service_systmone_profile: Option<String>,
}

/// One card a service acts with, and the clinical-system account it signs in as.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IntegrationCard {
    /// The integration.
    pub integration: IntegrationId,
    /// The card.
    pub card_serial: CardSerial,
    /// The EMIS Web user name created for this card (EMIS practices need one per card).
    pub emis_username: Option<String>,
}

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Core clinic hours: one or more spans of days with opening and closing times, e.g.
/// `Mon-Fri 08:00-18:30; Sat 09:00-12:00`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreHours(Vec<HoursSpan>);

/// Days of the week (bit 0 = Monday) open from `opens` to `closes`, in minutes after midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoursSpan {
    /// Bit set of weekdays, bit 0 = Monday.
    pub days: u8,
    /// Opening time, minutes after midnight.
    pub opens: u16,
    /// Closing time, minutes after midnight.
    pub closes: u16,
}

/// Core hours that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} — write hours like `Mon-Fri 08:00-18:30; Sat 09:00-12:00`")]
pub struct HoursError(String);

fn parse_day(s: &str) -> Option<u32> {
    // The first three bytes, when they are whole characters: a day's name is ASCII, and a
    // letter of more than one byte must not be cut in half.
    let head = s.get(..3)?;
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(head))
        .map(|i| i as u32)
}

fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 1440 && m.to_string().len() <= 2).then_some(h * 60 + m)
}

impl CoreHours {
    /// Parses spans separated by `;`; days as names or ranges joined by `,`.
    pub fn parse(s: &str) -> Result<CoreHours, HoursError> {
        let mut spans = Vec::new();
        for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (days_txt, times) = part
                .split_once(' ')
                .ok_or_else(|| HoursError(format!("{part:?} has no times")))?;
            let mut days = 0u8;
            for d in days_txt.split(',') {
                let (a, b) = d.split_once('-').unwrap_or((d, d));
                match (parse_day(a), parse_day(b)) {
                    (Some(a), Some(b)) if a <= b => (a..=b).for_each(|i| days |= 1 << i),
                    _ => return Err(HoursError(format!("{d:?} is not a day or range of days"))),
                }
            }
            let (o, c) = times
                .trim()
                .split_once('-')
                .ok_or_else(|| HoursError(format!("{times:?} is not a time range")))?;
            match (parse_hhmm(o.trim()), parse_hhmm(c.trim())) {
                (Some(opens), Some(closes)) if opens < closes => spans.push(HoursSpan {
                    days,
                    opens,
                    closes,
                }),
                _ => {
                    return Err(HoursError(format!(
                        "{times:?} is not an opening-closing time"
                    )))
                }
            }
        }
        if spans.is_empty() {
            return Err(HoursError("no hours given".into()));
        }
        Ok(CoreHours(spans))
    }

    /// The spans.
    pub fn spans(&self) -> &[HoursSpan] {
        &self.0
    }

    /// Whether `minute` (after midnight) of weekday `day` (0 = Monday) is inside core hours.
    pub fn contains(&self, day: u32, minute: u16) -> bool {
        self.0
            .iter()
            .any(|s| s.days & (1 << day) != 0 && (s.opens..s.closes).contains(&minute))
    }
}

impl fmt::Display for CoreHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, span) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str("; ")?;
            }
            // Contiguous runs of days print as ranges (Mon-Fri), others as lists (Mon,Wed).
            let mut first = true;
            let mut d = 0;
            while d < 7 {
                if span.days & (1 << d) == 0 {
                    d += 1;
                    continue;
                }
                let start = d;
                while d + 1 < 7 && span.days & (1 << (d + 1)) != 0 {
                    d += 1;
                }
                if !first {
                    f.write_str(",")?;
                }
                first = false;
                if start == d {
                    f.write_str(DAY_NAMES[start])?;
                } else {
                    write!(f, "{}-{}", DAY_NAMES[start], DAY_NAMES[d])?;
                }
                d += 1;
            }
            let t = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
            write!(f, " {}-{}", t(span.opens), t(span.closes))?;
        }
        Ok(())
    }
}

impl Serialize for CoreHours {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_hours_parse_and_print() {
        let h = CoreHours::parse("mon-fri 08:00-18:30;Sat 09:00-12:00").unwrap();
        assert_eq!(h.to_string(), "Mon-Fri 08:00-18:30; Sat 09:00-12:00");
        assert!(h.contains(0, 8 * 60));
        assert!(!h.contains(0, 18 * 60 + 30));
        assert!(!h.contains(6, 10 * 60));
        let odd = CoreHours::parse("Mon,Wed,Fri-Sat 09:00-17:00").unwrap();
        assert_eq!(odd.to_string(), "Mon,Wed,Fri-Sat 09:00-17:00");
    }

    #[test]
    fn bad_core_hours() {
        assert!(CoreHours::parse("Mon-Fri").is_err());
        assert!(CoreHours::parse("Fri-Mon 08:00-18:00").is_err());
        assert!(CoreHours::parse("Mon 18:00-08:00").is_err());
        assert!(CoreHours::parse("Mon 25:00-26:00").is_err());
        assert!(CoreHours::parse("").is_err());
        // A letter of several bytes where a day's name starts is refused, not cut in half.
        let e = CoreHours::parse("M\u{e9}n-Fri 08:00-18:00").unwrap_err();
        assert!(e.to_string().contains("not a day"), "{e}");
        assert!(CoreHours::parse("\u{1bc80} 0").is_err());
    }

    #[test]
    fn series_range() {
        assert!(Series::new(3).is_none());
        assert_eq!(Series::new(10).map(Series::number), Some(10));
        assert!(Series::new(11).is_none());
    }
}
