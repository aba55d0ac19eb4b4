//! A deterministic synthetic estate, from one practice to national size.
//!
//! The same seed, size and "today" always give the same records. Each practice draws from its
//! own random stream (seeded from the seed and its index), so the estate does not depend on the
//! order things are generated in. The mix is chosen to exercise every health check: retired and
//! series-10 cards, certificates expired or inside their 90-day window, old middleware, Gemalto
//! middleware left behind, old reader firmware, too few spares, leavers, locked cards, pending
//! role requests — and a new Smartcard Connect release ([`PILOT_RELEASE`]) on the canary and pilot
//! machines of some practices. [`history`] gives the same estate a past: incidents, access
//! reviews and one site's run of lockouts.

pub mod history;

use crate::card_status::CardStatus;
use crate::date::{Date, Timestamp};
use crate::estate::*;
use crate::ids::{
    ActivityCode, CardSerial, Email, Hostname, IntegrationId, OdsCode, RoleCode, Uuid,
};
use crate::records::Record;
use crate::vocab::{
    ClinicalSystem, HashAlgorithm, OrgStatus, OrgType, PositionStatus, Purpose, RaRole,
    ReaderStatus, UpdateRing,
};

/// How big an estate to make, and from which seed.
#[derive(Clone, Copy, Debug)]
pub struct DemoConfig {
    /// Number of GP practices.
    pub practices: u32,
    /// Total card holders; when absent each practice gets 10–60 staff.
    pub holders: Option<u64>,
    /// Random seed.
    pub seed: u64,
    /// The day the estate is seen from (certificate expiries are spread around it).
    pub today: Date,
}

/// Average staff per practice at national scale (≈1M holders over ≈7,000 practices).
pub const NATIONAL_STAFF_PER_PRACTICE: u64 = 143;

impl DemoConfig {
    /// A config sized by holders: practices follow from the national average staff count.
    pub fn national(holders: u64, seed: u64, today: Date) -> DemoConfig {
        DemoConfig {
            practices: holders.div_ceil(NATIONAL_STAFF_PER_PRACTICE).max(1) as u32,
            holders: Some(holders),
            seed,
            today,
        }
    }
}

/// SplitMix64: tiny, fast, and good enough for synthetic data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A stream from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..hi` (hi exclusive).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo).max(1) as u64) as i64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// One item of a slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as i64) as usize]
    }

    /// An index chosen with the given weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.range(0, i64::from(total)) as u32;
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

const FIRST: &[&str] = &[
    "Aisha", "Ben", "Chloe", "David", "Emma", "Farhan", "Grace", "Harry", "Isla", "Jack", "Kavya",
    "Liam", "Maya", "Noah", "Olivia", "Priya", "Quentin", "Rosie", "Sam", "Tariq", "Una", "Victor",
    "Wendy", "Yusuf", "Zara", "Owen", "Nia", "Rhys", "Sian", "Tom",
];
const LAST: &[&str] = &[
    "Patel", "Smith", "Jones", "Williams", "Brown", "Taylor", "Davies", "Evans", "Khan", "Wilson",
    "Thomas", "Roberts", "Johnson", "Lewis", "Walker", "Robinson", "Wood", "Thompson", "Hughes",
    "Edwards", "Green", "Hall", "Ahmed", "Clarke", "Okafor", "Nowak", "Murphy", "Singh",
];
const PLACES: &[&str] = &[
    "Riverside",
    "Oakwood",
    "Castle Street",
    "Market Square",
    "Hillview",
    "Park Lane",
    "Station Road",
    "Meadowbank",
    "Northgate",
    "Church View",
    "Elm Tree",
    "Harbour",
    "Abbey",
    "Willow",
    "Kingsway",
];

struct StaffRole {
    title: &'static str,
    weight: u32,
    role_code: &'static str,
    role_name: &'static str,
    activities: &'static [&'static str],
}

const ROLES: &[StaffRole] = &[
    StaffRole {
        title: "GP",
        weight: 15,
        role_code: "R8000",
        role_name: "Clinical Practitioner Access Role",
        activities: &["B0420", "B0068", "B0825"],
    },
    StaffRole {
        title: "Practice Nurse",
        weight: 12,
        role_code: "R8001",
        role_name: "Nurse Access Role",
        activities: &["B0825"],
    },
    StaffRole {
        title: "Nurse Prescriber",
        weight: 3,
        role_code: "R8001",
        role_name: "Nurse Access Role",
        activities: &["B0420", "B0825"],
    },
    StaffRole {
        title: "Pharmacist",
        weight: 5,
        role_code: "R8003",
        role_name: "Health Professional Access Role",
        activities: &["B0068", "B0420"],
    },
    StaffRole {
        title: "Healthcare Assistant",
        weight: 8,
        role_code: "R8003",
        role_name: "Health Professional Access Role",
        activities: &["B0825"],
    },
    StaffRole {
        title: "Receptionist",
        weight: 32,
        role_code: "R8008",
        role_name: "Admin/Clinical Support Access Role",
        activities: &["B0825"],
    },
    StaffRole {
        title: "Administrator",
        weight: 20,
        role_code: "R8008",
        role_name: "Admin/Clinical Support Access Role",
        activities: &["B0825"],
    },
];

const SERIES_WEIGHTS: [(u8, u32); 7] = [(4, 1), (5, 1), (6, 2), (7, 4), (8, 36), (9, 44), (10, 12)];

struct ReaderModel {
    vendor: &'static str,
    model: &'static str,
    firmware: &'static [&'static str],
}

const READERS: &[ReaderModel] = &[
    ReaderModel {
        vendor: "HID Omnikey",
        model: "3121",
        firmware: &["6.00", "5.10", "5.00"],
    },
    ReaderModel {
        vendor: "HID Omnikey",
        model: "3021",
        firmware: &["6.00", "5.10"],
    },
    ReaderModel {
        vendor: "Thales IDBridge",
        model: "CT30",
        firmware: &["2.0.3", "1.3.1"],
    },
    ReaderModel {
        vendor: "Thales IDBridge",
        model: "CT40",
        firmware: &["1.0.9"],
    },
    ReaderModel {
        vendor: "Reiner SCT",
        model: "cyberJack RFID basis",
        firmware: &["1.3.0", "1.2.4"],
    },
];

const OS_BUILDS: &[(&str, &str, u32)] = &[
    ("Windows 11 Enterprise", "26100.2314", 40),
    ("Windows 11 Enterprise", "22631.4460", 40),
    ("Windows 10 Enterprise", "19045.5131", 20),
];

fn practice_ods(i: u32) -> OdsCode {
    // Letter + five digits, as real practice codes (A81001); the letter walks the regions.
    let letters = b"ABCDEFGHJKLMNPY";
    let code = format!(
        "{}{:05}",
        letters[(i / 90_000) as usize % letters.len()] as char,
        10_000 + i % 90_000
    );
    // The shape is always valid: one letter and five digits.
    OdsCode::parse(&code).unwrap_or_else(|_| unreachable!("generated ODS code"))
}

/// The Smartcard Connect release the practices that moved their pilot ring took, while the rest
/// stay on 4.1: still in its first rings, so that failures following it call for holding its
/// rollout (see [`history`]).
pub const PILOT_RELEASE: (&str, &str) = ("smartcard-connect", "4.2");

/// Which demo workstations have moved to Smartcard Connect, in the update policy's order: the
/// canary machine first, then the pilot ring, in some practices; decided from the practice's and
/// the machine's number rather than the random stream, so the rest of the estate stays as it was.
fn moved_to_smartcard_connect(p: u32, w: u64) -> bool {
    match p % 3 {
        1 => w == 0,
        2 => w <= 2,
        _ => false,
    }
}

/// The Spine-connected applications a demo workstation uses: the national services and, on
/// clinical machines, the practice's clinical system and NHSmail on some; every fourth machine
/// is an administration desk (registration, referrals) without the clinical system.
fn applications(p: u32, w: u64) -> Vec<String> {
    let mut apps = vec!["e-rs", "eps", "scr"];
    if w % 4 == 2 {
        apps.push("care-identity");
    } else {
        apps.push(if p.is_multiple_of(2) {
            "emis-web"
        } else {
            "systmone"
        });
        if w.is_multiple_of(3) {
            apps.push("nhsmail");
        }
    }
    apps.sort_unstable();
    apps.into_iter().map(str::to_owned).collect()
}

fn must<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    // Generated values are built in valid shapes; a failure here is a bug in this module.
    r.unwrap_or_else(|e| unreachable!("demo generated an invalid value: {e:?}"))
}

/// Calls `emit` with every record of the estate, kinds interleaved practice by practice (each
/// kind's records in key order).
pub fn generate(cfg: &DemoConfig, mut emit: impl FnMut(Record)) {
    let practices = cfg.practices.max(1);
    let icbs = practices.div_ceil(150).max(1);
    for icb in 0..icbs {
        emit(Record::Organisation(Organisation {
            ods_code: must(OdsCode::parse(&format!("Q{icb:04}"))),
            name: format!(
                "NHS {} Integrated Care Board",
                PLACES[icb as usize % PLACES.len()]
            ),
            org_type: OrgType::Icb,
            parent_ods: None,
            status: OrgStatus::Active,
            closed_on: None,
        }));
    }
    let mut next_uuid: u64 = 5_550_000_000; // 12 digits with leading zeros: "005550000000"
    let mut next_card: u64 = 1;
    for p in 0..practices {
        let mut rng = Rng::new(cfg.seed ^ (u64::from(p) + 1).wrapping_mul(0xA24B_AED4_963E_E407));
        let staff = match cfg.holders {
            Some(total) => {
                let base = total / u64::from(practices);
                base + u64::from(u64::from(p) < total % u64::from(practices))
            }
            None => rng.range(10, 61) as u64,
        };
        practice(
            cfg,
            p,
            icbs,
            staff,
            &mut rng,
            &mut next_uuid,
            &mut next_card,
            &mut emit,
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn practice(
    cfg: &DemoConfig,
    p: u32,
    icbs: u32,
    staff: u64,
    rng: &mut Rng,
    next_uuid: &mut u64,
    next_card: &mut u64,
    emit: &mut impl FnMut(Record),
) {
    let today = cfg.today;
    let ods = practice_ods(p);
    let place = PLACES[p as usize % PLACES.len()];
    let name = format!("{place} Medical Practice {}", p + 1);
    emit(Record::Organisation(Organisation {
        ods_code: ods.clone(),
        name: name.clone(),
        org_type: OrgType::GpPractice,
        parent_ods: Some(must(OdsCode::parse(&format!("Q{:04}", p % icbs)))),
        status: OrgStatus::Active,
        closed_on: None,
    }));
    let hours = must(CoreHours::parse("Mon-Fri 08:00-18:30"));
    let mut sites = vec![ods.clone()];
    // About one practice in five has a branch surgery with its own ODS code.
    if rng.chance(0.2) {
        let branch = must(OdsCode::parse(&format!("{ods}001")));
        emit(Record::Organisation(Organisation {
            ods_code: branch.clone(),
            name: format!("{place} Branch Surgery {}", p + 1),
            org_type: OrgType::Branch,
            parent_ods: Some(ods.clone()),
            status: OrgStatus::Active,
            closed_on: None,
        }));
        sites.push(branch);
    }
    for (i, site) in sites.iter().enumerate() {
        emit(Record::Site(Site {
            site_ods: site.clone(),
            organisation_ods: ods.clone(),
            name: if i == 0 {
                name.clone()
            } else {
                format!("{place} Branch Surgery {}", p + 1)
            },
            core_hours: Some(if i == 0 {
                hours.clone()
            } else {
                must(CoreHours::parse("Mon-Fri 08:30-13:00"))
            }),
        }));
    }

    // Each holder's card, role and position status, for the practice's integration.
    let mut held: Vec<(CardSerial, &'static str, PositionStatus)> = Vec::new();
    let mut admins = 0;
    let admin_target = rng.weighted(&[10, 25, 65]); // some sites have 0 or 1 trained admins
    for s in 0..staff {
        *next_uuid += rng.range(1, 8) as u64;
        let uuid = must(Uuid::parse(&format!("{:012}", *next_uuid)));
        let manager = s == 0;
        let role = if manager {
            &StaffRole {
                title: "Practice Manager",
                weight: 0,
                role_code: "R8008",
                role_name: "Admin/Clinical Support Access Role",
                activities: &["B0825", "B1300"],
            }
        } else {
            &ROLES[rng.weighted(&ROLES.iter().map(|r| r.weight).collect::<Vec<_>>())]
        };
        let first = rng.pick(FIRST);
        let last = rng.pick(LAST);
        let email = rng.chance(0.9).then(|| {
            must(Email::parse(&format!(
                "{}.{}{}@nhs.net",
                first.to_lowercase(),
                last.to_lowercase(),
                s
            )))
        });
        let leaver = !manager && rng.chance(0.03);
        let employment_end = if leaver {
            Some(today.add_days(-rng.range(1, 120) as i32))
        } else if rng.chance(0.01) {
            Some(today.add_days(rng.range(1, 60) as i32))
        } else {
            None
        };
        let local_admin =
            manager && admin_target > 0 || (!manager && admins < admin_target && rng.chance(0.2));
        if local_admin {
            admins += 1;
        }
        let ra_roles = if manager {
            vec![RaRole::Sponsor, RaRole::LocalSmartcardAdministrator]
        } else if rng.chance(0.02) {
            vec![RaRole::Sponsor]
        } else {
            vec![]
        };
        let site = if sites.len() > 1 && rng.chance(0.25) {
            &sites[1]
        } else {
            &sites[0]
        };
        emit(Record::Person(Person {
            uuid: uuid.clone(),
            name: format!("{first} {last}"),
            email,
            staff_role: role.title.to_owned(),
            site_ods: site.clone(),
            employment_end,
            local_admin,
            ra_roles,
        }));

        // The card currently held.
        let series = SERIES_WEIGHTS[rng.weighted(&SERIES_WEIGHTS.map(|(_, w)| w))].0;
        let status = match rng.weighted(&[930, 30, 8, 6, 2, 4, 20]) {
            0 => CardStatus::Active,
            1 => CardStatus::Locked,
            2 => CardStatus::Blocked,
            3 => CardStatus::Lost,
            4 => CardStatus::Stolen,
            5 => CardStatus::Damaged,
            _ if series <= 6 => CardStatus::Retired,
            _ => CardStatus::Active,
        };
        let card_serial = must(CardSerial::parse(&format!("CS{:010}", *next_card)));
        *next_card += 1;
        let issued_on = today.add_days(-rng.range(30, 3000) as i32);
        let dormant = rng.chance(0.03);
        let last_used_on = (status == CardStatus::Active).then(|| {
            let ago = if dormant {
                rng.range(91, 400)
            } else {
                rng.range(0, 10)
            };
            today.add_days(-(ago as i32)).max(issued_on)
        });
        // Emitted after its certificates: a card cannot have been used to sign in after its
        // authentication certificate expired.
        let mut card = Card {
            card_serial: card_serial.clone(),
            holder_uuid: uuid.clone(),
            series: Series::new(i64::from(series)).unwrap_or_else(|| unreachable!()),
            status,
            issued_on,
            last_used_on,
        };
        // Lockouts in the last 30 days: a locked card has one or more (some, repeatedly); a few
        // others locked once and were unlocked.
        let lockouts = if status == CardStatus::Locked {
            rng.weighted(&[0, 50, 20, 20, 10])
        } else {
            usize::from(rng.chance(0.02))
        };
        let mut at = Timestamp::start_of(today).unix() - 30 * 86_400;
        for n in 0..lockouts {
            at += rng.range(3_600, 7 * 86_400);
            let locked_at = Timestamp::from_unix(at.min(Timestamp::start_of(today).unix()));
            let still_locked = status == CardStatus::Locked && n + 1 == lockouts;
            emit(Record::Lockout(Lockout {
                card_serial: card_serial.clone(),
                locked_at,
                unlocked_at: (!still_locked)
                    .then(|| Timestamp::from_unix(locked_at.unix() + rng.range(600, 86_400))),
            }));
        }
        for purpose in [Purpose::Authentication, Purpose::Signing] {
            // Expiries spread over three years, with a tail already expired and a slice inside
            // the 90-day window.
            let not_after = match rng.weighted(&[3, 8, 89]) {
                0 => today.add_days(-rng.range(1, 60) as i32),
                1 => today.add_days(rng.range(0, 91) as i32),
                _ => today.add_days(rng.range(91, 1095) as i32),
            };
            let validity = rng.range(730, 1096) as i32;
            let old = rng.chance(0.01);
            let (issuer, hash) = match (purpose, old) {
                (Purpose::Authentication, false) => {
                    ("NHS Authentication G2", HashAlgorithm::Sha256)
                }
                (Purpose::Signing, false) => ("NHS Signing G2", HashAlgorithm::Sha256),
                (_, true) => ("NHS Level 1C", HashAlgorithm::Sha1),
            };
            emit(Record::Certificate(Certificate {
                card_serial: card_serial.clone(),
                purpose,
                serial_number: format!("{:016X}", rng.next_u64()),
                issuer: issuer.to_owned(),
                not_before: not_after.add_days(-validity),
                not_after,
                hash_algorithm: hash,
            }));
            if purpose == Purpose::Authentication {
                card.last_used_on = card
                    .last_used_on
                    .map(|d| d.min(not_after).max(card.issued_on));
            }
        }
        emit(Record::Card(card));

        let pending = rng.chance(0.02);
        let removed = leaver && rng.chance(0.5);
        let requested_on = if pending {
            today.add_days(-rng.range(0, 30) as i32)
        } else {
            issued_on.add_days(-rng.range(0, 10) as i32)
        };
        let position_status = if pending {
            PositionStatus::Requested
        } else if removed {
            PositionStatus::Removed
        } else {
            PositionStatus::Active
        };
        held.push((card_serial, role.role_code, position_status));
        emit(Record::Position(Position {
            holder_uuid: uuid,
            ods_code: ods.clone(),
            role_code: must(RoleCode::parse(role.role_code)),
            role_name: role.role_name.to_owned(),
            activity_codes: {
                let mut codes: Vec<_> = role
                    .activities
                    .iter()
                    .map(|a| must(ActivityCode::parse(a)))
                    .collect();
                codes.sort();
                codes
            },
            status: position_status,
            requested_on: Some(requested_on),
            approved_on: (!pending).then(|| issued_on.add_days(rng.range(0, 20) as i32).min(today)),
        }));
    }

    // Workstations: about one for every three staff, one canary and two pilots per site.
    let workstations = (staff / 3).max(1);
    let old_ia = rng.chance(0.15);
    // Most practices update out of hours; some have broad-ring machines updating at lunchtime,
    // inside core hours.
    let window = must(CoreHours::parse(if rng.chance(0.1) {
        "Wed 12:00-14:00"
    } else {
        "Tue 19:00-22:00"
    }));
    for w in 0..workstations {
        let hostname = must(Hostname::parse(&format!(
            "{}-ws{:03}",
            ods.as_str().to_lowercase(),
            w + 1
        )));
        let site = if sites.len() > 1 && w % 4 == 3 {
            &sites[1]
        } else {
            &sites[0]
        };
        let (os, build, _) =
            OS_BUILDS[rng.weighted(&OS_BUILDS.iter().map(|o| o.2).collect::<Vec<_>>())];
        let seen_ago = if rng.chance(0.05) {
            rng.range(8 * 86_400, 60 * 86_400)
        } else {
            rng.range(0, 3 * 86_400)
        };
        emit(Record::Workstation(Workstation {
            hostname: hostname.clone(),
            site_ods: site.clone(),
            os: os.to_owned(),
            os_build: build.to_owned(),
            update_ring: match w {
                0 => UpdateRing::Canary,
                1 | 2 => UpdateRing::Pilot,
                _ => UpdateRing::Broad,
            },
            last_seen: Some(Timestamp::from_unix(
                Timestamp::start_of(today).unix() + 12 * 3600 - seen_ago,
            )),
            update_window: Some(window.clone()),
            applications: applications(p, w),
        }));
        let ia = if old_ia && rng.chance(0.6) {
            "2.4.9.2"
        } else {
            "2.4.10.0"
        };
        let cm = if rng.chance(0.1) {
            "1.6.0.45"
        } else {
            "1.6.1.12"
        };
        let mut software = if moved_to_smartcard_connect(p, w) {
            // Practices whose pilot ring moved took the release then current; the canary-only
            // ones moved earlier, on 4.1.
            vec![if p % 3 == 2 {
                PILOT_RELEASE
            } else {
                ("smartcard-connect", "4.1")
            }]
        } else {
            vec![("credential-management", cm), ("identity-agent", ia)]
        };
        if p % 3 == 2 && w == 3 {
            // A move half done: the new client installed before the old one was taken off.
            software.push(("smartcard-connect", "4.1"));
        }
        if rng.chance(0.92) {
            software.push((
                "oberthur-middleware",
                if rng.chance(0.15) {
                    "6.1.0.3"
                } else {
                    "6.2.0.4"
                },
            ));
        }
        if rng.chance(0.2) {
            software.push(("gemalto-middleware", "7.3.0.1"));
        }
        software.sort();
        for (component, version) in software {
            emit(Record::Software(Software {
                hostname: hostname.clone(),
                component: component.to_owned(),
                version: version.to_owned(),
            }));
        }
        let model = rng.pick(READERS);
        emit(Record::Reader(Reader {
            reader_serial: format!("RD-{p:05}-{w:04}"),
            vendor: model.vendor.to_owned(),
            model: model.model.to_owned(),
            firmware: rng
                .chance(0.95)
                .then(|| rng.pick(model.firmware).to_string()),
            hostname: Some(hostname),
            site_ods: site.clone(),
            status: if rng.chance(0.02) {
                ReaderStatus::Faulty
            } else {
                ReaderStatus::InService
            },
        }));
    }
    for (i, site) in sites.iter().enumerate() {
        let spares = rng.weighted(&[15, 25, 40, 20]) as u32;
        for s in 0..spares {
            let model = rng.pick(READERS);
            emit(Record::Reader(Reader {
                reader_serial: format!("RD-{p:05}-S{i}{s:02}"),
                vendor: model.vendor.to_owned(),
                model: model.model.to_owned(),
                firmware: Some(model.firmware[0].to_owned()),
                hostname: None,
                site_ods: site.clone(),
                status: ReaderStatus::Spare,
            }));
        }
        emit(Record::Stock(Stock {
            site_ods: site.clone(),
            item: "card".into(),
            quantity: rng.range(0, 12) as u32,
            minimum: 5,
        }));
        emit(Record::Stock(Stock {
            site_ods: site.clone(),
            item: "reader".into(),
            quantity: spares,
            minimum: 2,
        }));
    }
    integration(cfg, p, &ods, &held, emit);
}

/// About three practices in ten have a digital assistant that acts with two or three of their
/// cards, set up with the mistakes seed 004 lists now and then: a card without the admin role,
/// an EMIS account missing or shared, an EMIS CDB or SystmOne profile name mistyped. Drawn from
/// a stream of its own, so the rest of the estate is the same with or without it.
fn integration(
    cfg: &DemoConfig,
    p: u32,
    ods: &OdsCode,
    held: &[(CardSerial, &'static str, PositionStatus)],
    emit: &mut impl FnMut(Record),
) {
    let mut rng = Rng::new(cfg.seed ^ (u64::from(p) + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93));
    if !rng.chance(0.3) {
        return;
    }
    let admin: Vec<usize> = (0..held.len()).filter(|&i| held[i].1 == "R8008").collect();
    let other: Vec<usize> = (0..held.len()).filter(|&i| held[i].1 != "R8008").collect();
    let mut chosen: Vec<usize> = Vec::new();
    for _ in 0..rng.range(2, 4) {
        let pool = if other.is_empty() || rng.chance(0.9) {
            &admin
        } else {
            &other
        };
        if !pool.is_empty() {
            chosen.push(*rng.pick(pool));
        }
    }
    chosen.sort_unstable();
    chosen.dedup();
    let code = ods.as_str().to_ascii_lowercase();
    let integration = must(IntegrationId::parse(&format!("ht1-{code}")));
    let emis = rng.chance(0.55);
    let (emis_cdb, service_emis_cdb, systmone_profile, service_systmone_profile) = if emis {
        let cdb = rng.range(10_000, 100_000).to_string();
        let given = if rng.chance(0.1) {
            // Two digits swapped as they were typed in.
            let mut d: Vec<char> = cdb.chars().collect();
            d.swap(1, 2);
            d.into_iter().collect()
        } else {
            cdb.clone()
        };
        (rng.chance(0.95).then_some(cdb), Some(given), None, None)
    } else {
        let name = "Digital Assistant".to_owned();
        let given = if rng.chance(0.1) {
            "Digital Asistant".to_owned()
        } else {
            name.clone()
        };
        (None, None, rng.chance(0.95).then_some(name), Some(given))
    };
    emit(Record::Integration(Integration {
        integration: integration.clone(),
        service: "Healthtech-1 Digital Assistant".into(),
        site_ods: ods.clone(),
        clinical_system: if emis {
            ClinicalSystem::Emis
        } else {
            ClinicalSystem::Systmone
        },
        required_roles: vec![must(RoleCode::parse("R8008"))],
        required_activity_codes: vec![],
        emis_cdb,
        service_emis_cdb,
        systmone_profile,
        service_systmone_profile,
    }));
    let mut last_user: Option<String> = None;
    for (n, &i) in chosen.iter().enumerate() {
        let emis_username = emis
            .then(|| {
                if rng.chance(0.05) {
                    last_user.clone()
                } else if rng.chance(0.08) {
                    None
                } else {
                    Some(format!("{code}.assist{}", n + 1))
                }
            })
            .flatten();
        last_user = emis_username.clone().or(last_user);
        emit(Record::IntegrationCard(IntegrationCard {
            integration: integration.clone(),
            card_serial: held[i].0.clone(),
            emis_username,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Kind;
    use std::collections::HashMap;

    fn count(cfg: &DemoConfig) -> HashMap<Kind, usize> {
        let mut n = HashMap::new();
        generate(cfg, |r| *n.entry(r.kind()).or_default() += 1);
        n
    }

    #[test]
    fn deterministic_and_sized() {
        let today = Date::parse("2026-11-21").unwrap();
        let cfg = DemoConfig::national(1_000, 7, today);
        let mut a = Vec::new();
        generate(&cfg, |r| a.push(r));
        let mut b = Vec::new();
        generate(&cfg, |r| b.push(r));
        assert_eq!(a, b);
        let n = count(&cfg);
        assert_eq!(n[&Kind::People], 1_000);
        assert_eq!(n[&Kind::Cards], 1_000);
        assert_eq!(n[&Kind::Certificates], 2_000);
    }

    #[test]
    fn no_card_was_used_after_its_authentication_certificate_expired() {
        let today = Date::parse("2026-11-21").unwrap();
        let cfg = DemoConfig::national(3_000, 7, today);
        let (mut expiry, mut used) = (HashMap::new(), Vec::new());
        generate(&cfg, |r| match r {
            Record::Certificate(c) if c.purpose == Purpose::Authentication => {
                expiry.insert(c.card_serial, c.not_after);
            }
            Record::Card(c) => used.extend(c.last_used_on.map(|d| (c.card_serial, d))),
            _ => {}
        });
        assert!(
            used.iter().any(|(card, _)| expiry[card] < today),
            "some expired"
        );
        for (card, day) in used {
            assert!(
                day <= expiry[&card],
                "{card:?} used {day} after {}",
                expiry[&card]
            );
        }
    }

    #[test]
    fn records_survive_their_own_validation() {
        let today = Date::parse("2026-11-21").unwrap();
        let cfg = DemoConfig {
            practices: 3,
            holders: None,
            seed: 1,
            today,
        };
        generate(&cfg, |r| {
            let csv: Vec<String> = r.values().iter().map(|v| v.to_csv()).collect();
            let fields: Vec<&str> = csv.iter().map(String::as_str).collect();
            assert_eq!(Record::parse(r.kind(), &fields).as_ref(), Ok(&r));
        });
    }
}
