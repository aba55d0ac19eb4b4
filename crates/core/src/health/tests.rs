//! Every rule with a case that fires and a near miss that does not.

use super::*;
use crate::calendar::Calendar;
use crate::records::{Kind, Record};

const TODAY: &str = "2026-11-18"; // a Wednesday

fn today() -> Date {
    Date::parse(TODAY).unwrap()
}

fn day(offset: i32) -> String {
    today().add_days(offset).to_string()
}

fn add(e: &mut Estate, kind: Kind, line: &str) {
    let fields: Vec<&str> = line.split(',').collect();
    e.push(Record::parse(kind, &fields).unwrap_or_else(|err| panic!("{line}: {err:?}")));
}

const HOLDER: &str = "555000000001";
const CARD: &str = "CS0000000001";

/// One healthy site: nothing to find.
fn healthy() -> Estate {
    let mut e = Estate::default();
    add(
        &mut e,
        Kind::Sites,
        "A81001,A81001,Riverside,Mon-Fri 08:00-18:30",
    );
    add(
        &mut e,
        Kind::People,
        &format!("{HOLDER},Ann Lee,ann@nhs.net,GP,A81001,,yes,"),
    );
    add(
        &mut e,
        Kind::People,
        "555000000002,Bob Roe,,Receptionist,A81001,,yes,",
    );
    add(
        &mut e,
        Kind::Cards,
        &format!("{CARD},{HOLDER},9,active,2024-01-01,{}", day(-1)),
    );
    add(
        &mut e,
        Kind::Cards,
        &format!("CS0000000002,555000000002,8,active,2024-01-01,{}", day(0)),
    );
    for (card, purpose) in [
        (CARD, "authentication"),
        (CARD, "signing"),
        ("CS0000000002", "authentication"),
        ("CS0000000002", "signing"),
    ] {
        add(
            &mut e,
            Kind::Certificates,
            &format!("{card},{purpose},01,NHS G2,2024-01-01,{},sha256", day(400)),
        );
    }
    add(
        &mut e,
        Kind::Positions,
        &format!("{HOLDER},A81001,R8000,,B0825,active,,2024-01-01"),
    );
    add(
        &mut e,
        Kind::Workstations,
        "a81001-ws001,A81001,Windows 11,26100,canary,,Tue 19:00-22:00,",
    );
    add(
        &mut e,
        Kind::Workstations,
        "a81001-ws002,A81001,Windows 11,26100,broad,,Tue 19:00-22:00,",
    );
    // Both on NHS Smartcard Connect, the client that stays after CIS1 retires.
    for ws in ["a81001-ws001", "a81001-ws002"] {
        add(
            &mut e,
            Kind::Software,
            &format!("{ws},smartcard-connect,4.1"),
        );
        add(
            &mut e,
            Kind::Software,
            &format!("{ws},oberthur-middleware,6.2.0.4"),
        );
    }
    add(
        &mut e,
        Kind::Readers,
        "RD1,HID Omnikey,3121,6.00,a81001-ws001,A81001,in_service",
    );
    add(
        &mut e,
        Kind::Readers,
        "RD2,HID Omnikey,3121,6.00,,A81001,spare",
    );
    add(
        &mut e,
        Kind::Readers,
        "RD3,HID Omnikey,3021,6.00,,A81001,spare",
    );
    add(&mut e, Kind::Stock, "A81001,card,5,5");
    e.refreshes.push(SiteRefreshFacts {
        site_ods: "A81001".into(),
        name: "Riverside".into(),
        refreshed_at: Some(Timestamp::start_of(today().add_days(-1))),
    });
    e
}

/// `ws` still on NHS Identity Agent (CIS1) with Credential Management 1.x instead of Smartcard
/// Connect; the software stays in key order, as the store gives it.
fn on_identity_agent(e: &mut Estate, ws: &str, ia: &str) {
    e.software
        .retain(|s| !(&*s.hostname == ws && &*s.component == "smartcard-connect"));
    add(
        e,
        Kind::Software,
        &format!("{ws},credential-management,1.6.1.12"),
    );
    add(e, Kind::Software, &format!("{ws},identity-agent,{ia}"));
    e.software
        .sort_by(|a, b| (&a.hostname, &a.component).cmp(&(&b.hostname, &b.component)));
}

/// The findings of one rule.
fn of_rule(e: &Estate, rule: &str) -> Vec<Finding> {
    run(e).into_iter().filter(|f| f.rule == rule).collect()
}

fn run_with(e: &Estate, t: &Thresholds, cat: &Catalogue) -> Vec<Finding> {
    check(
        &mut e.clone(),
        &Context {
            today: today(),
            catalogue: cat,
            thresholds: t,
            calendar: &Calendar::england_and_wales(),
        },
    )
}

fn run(e: &Estate) -> Vec<Finding> {
    run_with(e, &Thresholds::default(), &Catalogue::shipped())
}

fn rules(e: &Estate) -> Vec<&'static str> {
    run(e).iter().map(|f| f.rule).collect()
}

fn one(e: &Estate, rule: &str) -> Finding {
    let found: Vec<Finding> = run(e).into_iter().filter(|f| f.rule == rule).collect();
    assert_eq!(found.len(), 1, "{rule}: {found:#?}");
    found.into_iter().next().unwrap()
}

fn set_cert(e: &mut Estate, purpose: Purpose, days: i32) {
    for c in &mut e.certificates {
        if &*c.card_serial == CARD && c.purpose == purpose {
            c.not_after = today().add_days(days);
        }
    }
}

fn make_prescriber(e: &mut Estate) {
    e.positions[0].activity_codes = "B0420".into();
}

#[test]
fn a_healthy_site_has_no_findings() {
    assert_eq!(run(&healthy()), vec![]);
}

#[test]
fn certificate_bands_and_their_edges() {
    for (days, rule, severity, owner) in [
        (91, None, None, None),
        (
            90,
            Some("cert-authentication-90d"),
            Some(Severity::Info),
            Some(Owner::Holder),
        ),
        (
            31,
            Some("cert-authentication-90d"),
            Some(Severity::Info),
            Some(Owner::Holder),
        ),
        (
            30,
            Some("cert-authentication-30d"),
            Some(Severity::Warning),
            Some(Owner::Holder),
        ),
        (
            8,
            Some("cert-authentication-30d"),
            Some(Severity::Warning),
            Some(Owner::Holder),
        ),
        (
            7,
            Some("cert-authentication-7d"),
            Some(Severity::Urgent),
            Some(Owner::Holder),
        ),
        (
            0,
            Some("cert-authentication-7d"),
            Some(Severity::Urgent),
            Some(Owner::Holder),
        ),
        (
            -1,
            Some("cert-authentication-expired"),
            Some(Severity::Critical),
            Some(Owner::Ra),
        ),
    ] {
        let mut e = healthy();
        set_cert(&mut e, Purpose::Authentication, days);
        let found = run(&e);
        match rule {
            None => assert_eq!(found, vec![], "{days} days"),
            Some(rule) => {
                assert_eq!(found.len(), 1, "{days} days: {found:#?}");
                let f = &found[0];
                assert_eq!(
                    (f.rule, Some(f.severity), Some(f.owner)),
                    (rule, severity, owner),
                    "{days} days"
                );
                assert_eq!(f.id(), format!("{rule}/{CARD}"));
                assert_eq!(f.site, "A81001");
            }
        }
    }
    let mut e = healthy();
    set_cert(&mut e, Purpose::Authentication, -1);
    assert!(one(&e, "cert-authentication-expired")
        .fix
        .contains("in person"));
    set_cert(&mut e, Purpose::Authentication, 60);
    assert!(one(&e, "cert-authentication-90d")
        .fix
        .contains("self-renew"));
}

#[test]
fn signing_is_judged_separately_and_raised_for_prescribers() {
    let mut e = healthy();
    set_cert(&mut e, Purpose::Signing, 20);
    let f = one(&e, "cert-signing-30d");
    assert_eq!(f.severity, Severity::Warning);
    assert!(!rules(&e)
        .iter()
        .any(|r| r.starts_with("cert-authentication")));
    make_prescriber(&mut e);
    let f = one(&e, "cert-signing-30d");
    assert_eq!(f.severity, Severity::Urgent);
    assert!(f.why.contains("prescriber"));
    // A prescriber's authentication certificate is not raised.
    set_cert(&mut e, Purpose::Authentication, 20);
    assert_eq!(
        one(&e, "cert-authentication-30d").severity,
        Severity::Warning
    );
}

#[test]
fn the_newest_certificate_of_a_purpose_is_judged() {
    let mut e = healthy();
    add(
        &mut e,
        Kind::Certificates,
        &format!("{CARD},signing,00,NHS G2,2022-01-01,{},sha256", day(-300)),
    );
    assert_eq!(run(&e), vec![]);
}

#[test]
fn cards_out_of_use_are_not_judged() {
    let mut e = healthy();
    set_cert(&mut e, Purpose::Authentication, -5);
    e.cards[0].status = CardStatus::Lost;
    assert_eq!(run(&e), vec![]);
}

#[test]
fn retired_and_retiring_series() {
    let mut e = healthy();
    e.cards[0].series = 5;
    let f = one(&e, "series-retired");
    assert_eq!((f.severity, f.owner), (Severity::Critical, Owner::Ra));
    e.cards[0].series = 8;
    assert_eq!(run(&e), vec![]);
    // A series announced to stop in the future: urgent inside 90 days, a warning before.
    let over = |date: String| {
        Catalogue::shipped().overlay(Catalogue::parse("o.toml", &format!(
            "[[series]]\nseries = 8\nmaker = \"Oberthur\"\nauthenticate = true\nsign = true\nsha256 = true\nstops_working = {date}\nsource = \"test\"\nas_of = 2026-01-01\n"
        )).unwrap())
    };
    let t = Thresholds::default();
    let f: Vec<_> = run_with(&e, &t, &over(day(90)))
        .into_iter()
        .filter(|f| f.rule == "series-retiring")
        .collect();
    assert_eq!(f[0].severity, Severity::Urgent);
    let f: Vec<_> = run_with(&e, &t, &over(day(91)))
        .into_iter()
        .filter(|f| f.rule == "series-retiring")
        .collect();
    assert_eq!(f[0].severity, Severity::Warning);
}

#[test]
fn series_10_for_someone_who_must_sign() {
    let mut e = healthy();
    e.cards[0].series = 10;
    assert_eq!(
        run(&e),
        vec![],
        "series 10 is fine for someone who does not sign"
    );
    make_prescriber(&mut e);
    assert_eq!(one(&e, "series-cannot-sign").owner, Owner::Ra);
}

#[test]
fn sha1_signing_for_a_prescriber() {
    let mut e = healthy();
    for c in &mut e.certificates {
        c.hash_algorithm = HashAlgorithm::Sha1;
    }
    assert_eq!(run(&e), vec![], "SHA-1 matters only to prescribers");
    make_prescriber(&mut e);
    let f = one(&e, "sha1-signing-prescriber");
    assert_eq!(f.subject, CARD);
}

#[test]
fn middleware_versions_against_the_catalogue() {
    let mut e = healthy();
    on_identity_agent(&mut e, "a81001-ws001", "2.4.9.2");
    let f = one(&e, "software-below-mandatory");
    assert_eq!((f.severity, f.owner), (Severity::Urgent, Owner::It));
    assert_eq!(f.subject, "a81001-ws001/identity-agent");
    // Before the mandatory date the same version is a warning due on that date.
    let early = Date::parse("2025-09-01").unwrap();
    let mut e2 = e.clone();
    for c in &mut e2.certificates {
        c.not_after = early.add_days(400);
    }
    let t = Thresholds::default();
    let cat = Catalogue::shipped();
    let f: Vec<_> = check(
        &mut e2,
        &Context {
            today: early,
            catalogue: &cat,
            thresholds: &t,
            calendar: &Calendar::england_and_wales(),
        },
    )
    .into_iter()
    .filter(|f| f.rule == "software-below-mandatory")
    .collect();
    assert_eq!(f[0].severity, Severity::Warning);
    assert_eq!(f[0].due, Date::parse("2025-10-12").unwrap());
    // Older than current but not below a minimum: information.
    let mut e = healthy();
    let oberthur = |e: &mut Estate| {
        e.software
            .iter_mut()
            .find(|s| &*s.component == "oberthur-middleware")
            .unwrap()
            .version = "6.1.0.3".into();
    };
    oberthur(&mut e);
    assert_eq!(one(&e, "software-outdated").severity, Severity::Info);
    let e = healthy();
    assert_eq!(run(&e), vec![]);
    // Identity Agent and Credential Management are judged only where that client is in use: a
    // workstation on Smartcard Connect needs neither.
    let mut e = healthy();
    on_identity_agent(&mut e, "a81001-ws001", "2.4.10.0");
    assert!(of_rule(&e, "software-missing").is_empty());
    assert!(of_rule(&e, "software-below-mandatory").is_empty());
}

#[test]
fn gemalto_present_and_oberthur_missing() {
    let mut e = healthy();
    add(
        &mut e,
        Kind::Software,
        "a81001-ws002,gemalto-middleware,7.3.0.1",
    );
    assert_eq!(
        one(&e, "software-to-remove").subject,
        "a81001-ws002/gemalto-middleware"
    );
    let mut e = healthy();
    e.software
        .retain(|s| !(&*s.hostname == "a81001-ws002" && &*s.component == "oberthur-middleware"));
    let f = one(&e, "software-missing");
    assert_eq!(f.subject, "a81001-ws002/oberthur-middleware");
}

#[test]
fn reader_firmware_below_current() {
    let mut e = healthy();
    e.readers[0].firmware = Some("5.10".into());
    assert_eq!(one(&e, "reader-firmware-old").subject, "RD1");
    e.readers[0].status = ReaderStatus::Faulty;
    assert_eq!(run(&e), vec![], "a faulty reader is not judged on firmware");
    let mut e = healthy();
    e.readers[0].firmware = None;
    assert_eq!(run(&e), vec![], "unknown firmware is not a finding");
}

#[test]
fn spare_readers_stock_and_local_admins() {
    let mut e = healthy();
    e.readers.pop();
    assert_eq!(one(&e, "spare-readers-low").subject, "A81001");
    // The same shortage in the stock count of readers is not raised a second time; a stock
    // count of readers short where the readers list is not still is.
    let readers_short = |e: &Estate| {
        of_rule(e, "stock-below-minimum")
            .iter()
            .any(|f| f.subject.ends_with("/reader"))
    };
    add(&mut e, Kind::Stock, "A81001,reader,0,2");
    assert!(!readers_short(&e), "told once");
    let mut e = healthy();
    add(&mut e, Kind::Stock, "A81001,reader,0,2");
    assert!(of_rule(&e, "spare-readers-low").is_empty());
    assert!(readers_short(&e), "the stock count alone");
    let mut e = healthy();
    e.stock[0].quantity = 4;
    let f = one(&e, "stock-below-minimum");
    assert!(f.why.contains("spare cards"), "{f:?}");
    let mut e = healthy();
    e.people[1].local_admin = false;
    assert_eq!(one(&e, "local-admins-low").owner, Owner::PracticeManager);
    let mut e = healthy();
    e.people[1].employment_end = Some(today().add_days(-1));
    e.cards[1].status = CardStatus::Cancelled;
    assert_eq!(
        rules(&e),
        vec!["local-admins-low"],
        "a leaver is no longer an admin"
    );
}

#[test]
fn stale_site_data_is_raised_past_its_limit() {
    let refreshed = |days_ago: i32, hour: i64| {
        Some(Timestamp::from_unix(
            Timestamp::start_of(today().add_days(-days_ago)).unix() + hour * 3600,
        ))
    };
    let mut e = healthy();
    e.refreshes[0].refreshed_at = refreshed(35, 23);
    assert_eq!(run(&e), vec![], "35 days is within the default limit");
    e.refreshes[0].refreshed_at = refreshed(36, 0);
    let f = one(&e, "site-data-stale");
    assert_eq!(
        (
            f.severity,
            f.owner,
            f.subject.as_str(),
            f.site.as_str(),
            f.due
        ),
        (
            Severity::Urgent,
            Owner::PracticeManager,
            "A81001",
            "A81001",
            today()
        )
    );
    assert!(
        f.why.starts_with(
            "Cardwatch has not had new card data for Riverside (A81001) since 13 October 2026"
        ),
        "{}",
        f.why
    );
    assert!(
        f.fix.contains("import") && f.fix.contains("agent"),
        "{}",
        f.fix
    );
    let patient = Thresholds {
        stale_data_days: 36,
        ..Thresholds::default()
    };
    assert_eq!(run_with(&e, &patient, &Catalogue::shipped()), vec![]);
    e.refreshes[0].refreshed_at = None;
    assert_eq!(
        run(&e),
        vec![],
        "a site with no time has nothing to be stale against"
    );
    assert!(Thresholds {
        stale_data_days: 0,
        ..Thresholds::default()
    }
    .validate()
    .unwrap_err()
    .contains("stale_data_days"));
}

#[test]
fn leavers_with_cards_or_positions() {
    let mut e = healthy();
    e.people[0].employment_end = Some(today());
    assert_eq!(run(&e), vec![], "still employed on their last day");
    e.people[0].employment_end = Some(today().add_days(-1));
    let r = rules(&e);
    assert!(
        r.contains(&"leaver-card") && r.contains(&"leaver-position"),
        "{r:?}"
    );
    e.cards[0].status = CardStatus::Cancelled;
    e.positions[0].status = PositionStatus::Removed;
    assert_eq!(
        rules(&e),
        vec!["local-admins-low"],
        "only that the leaver was an admin"
    );
}

#[test]
fn role_requests_waiting_for_the_ra() {
    // 2026-11-18 is a Wednesday: 11 working days back is Monday 2 November.
    let mut e = healthy();
    e.positions[0].status = PositionStatus::Requested;
    e.positions[0].requested_on = Some(Date::parse("2026-11-03").unwrap()); // 11 working days
    assert!(one(&e, "request-awaiting-ra")
        .why
        .contains("11 working days"));
    e.positions[0].requested_on = Some(Date::parse("2026-11-04").unwrap()); // 10
    assert_eq!(run(&e), vec![]);
}

#[test]
fn repeated_lockouts_in_the_window() {
    let mut e = healthy();
    for d in [-29, -10, -1] {
        add(&mut e, Kind::Lockouts, &format!("{CARD},{}T09:00,", day(d)));
    }
    assert!(one(&e, "repeated-lockouts").why.contains("3 times"));
    e.lockouts[0].locked_at = Timestamp::parse(&format!("{}T09:00", day(-30))).unwrap();
    assert_eq!(run(&e), vec![], "the third lockout is outside the 30 days");
}

#[test]
fn dormant_cards() {
    let mut e = healthy();
    e.cards[0].last_used_on = Some(today().add_days(-89));
    assert_eq!(run(&e), vec![]);
    e.cards[0].last_used_on = Some(today().add_days(-90));
    assert_eq!(one(&e, "card-dormant").severity, Severity::Info);
}

#[test]
fn a_workstation_clock_off_the_servers_is_found_while_the_report_is_recent() {
    let mut e = healthy();
    let host = e.workstations[0].hostname.clone();
    let at =
        |days: i32| crate::date::Timestamp::parse(&format!("{}T09:00:00Z", day(days))).unwrap();
    let clock = |offset: i64, days: i32| ClockFacts {
        hostname: host.clone(),
        offset_seconds: offset,
        at: at(days),
    };
    e.clocks = vec![clock(90, 0)];
    assert_eq!(run(&e), vec![], "within the two minutes allowed");
    e.clocks = vec![clock(-400, -1)];
    let f = one(&e, "workstation-clock-skew");
    assert_eq!((f.subject.as_str(), f.owner), (host.as_str(), Owner::It));
    assert!(f.why.contains("400 s behind the server's"), "{}", f.why);
    e.clocks = vec![clock(400, -8)];
    assert_eq!(
        run(&e),
        vec![],
        "a report over a week old says nothing of now"
    );
    e.clocks = vec![ClockFacts {
        hostname: "not-in-the-estate".into(),
        ..clock(900, 0)
    }];
    assert_eq!(run(&e), vec![], "only the estate's workstations are judged");
    let strict = Thresholds {
        clock_skew_seconds: 60,
        ..Thresholds::default()
    };
    e.clocks = vec![clock(90, 0)];
    assert_eq!(
        run_with(&e, &strict, &Catalogue::shipped())[0].rule,
        "workstation-clock-skew"
    );
    assert!(Thresholds {
        clock_skew_seconds: 0,
        ..Thresholds::default()
    }
    .validate()
    .is_err());
}

#[test]
fn updates_inside_clinic_hours_or_not_tried_first() {
    let mut e = healthy();
    e.workstations[1].update_window =
        Some(CoreHours::parse("Sat 09:00-12:00; Wed 12:00-14:00").unwrap());
    assert!(one(&e, "updates-in-clinic-hours").why.contains("Wed 12:00"));
    e.workstations[1].update_window = Some(CoreHours::parse("Mon-Fri 18:30-20:00").unwrap());
    assert_eq!(run(&e), vec![], "starting at closing time is outside");
    e.workstations[0].update_ring = UpdateRing::Pilot;
    assert_eq!(one(&e, "no-canary-workstation").subject, "A81001");
    e.workstations.pop();
    assert_eq!(run(&e), vec![], "one workstation is its own first machine");
}

#[test]
fn thresholds_are_configurable_and_checked() {
    let mut e = healthy();
    e.cards[0].last_used_on = Some(today().add_days(-45));
    let t: Thresholds = toml::from_str("dormant_days = 30").unwrap();
    assert_eq!(t.soon_days, 30, "others keep their defaults");
    let found = run_with(&e, &t, &Catalogue::shipped());
    assert_eq!(found[0].rule, "card-dormant");
    let bad = Thresholds {
        soon_days: 100,
        ..Thresholds::default()
    };
    assert!(bad.validate().unwrap_err().contains("soon_days"));
    let bad = Thresholds {
        prescribing_activities: vec!["X1".into()],
        ..Thresholds::default()
    };
    assert!(bad.validate().unwrap_err().contains("X1"));
    let bad = Thresholds {
        leaver_retention_days: 7,
        ..Thresholds::default()
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .contains("leaver_retention_days = 7"));
    assert!(Thresholds::default().validate().is_ok());
}

#[test]
fn findings_are_ordered_by_site_then_severity() {
    let mut e = healthy();
    set_cert(&mut e, Purpose::Authentication, 60);
    set_cert(&mut e, Purpose::Signing, -1);
    e.readers.pop();
    let sev: Vec<Severity> = run(&e).iter().map(|f| f.severity).collect();
    let mut sorted = sev.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(sev, sorted);
}

#[test]
fn findings_sort_as_a_plain_sort_by_site_severity_rule_and_subject_would() {
    // Subjects that share their first 16 bytes, are prefixes of each other, or are empty: the
    // sort's integer keys must break no tie the strings would not.
    let subjects = [
        "CS0000000000000002",
        "CS0000000000000001",
        "CS000000000000000",
        "CS0000000000000000",
        "CS00000000000000",
        "555123456789",
        "",
        "a",
        "A81001",
    ];
    let sites = ["B1", "A10", "A1", ""];
    let rules = [
        "series-retired",
        "cert-signing-30d",
        "cert-authentication-7d",
    ];
    let severities = [Severity::Info, Severity::Critical, Severity::Warning];
    let mut findings = Vec::new();
    // A fixed shuffle: every combination, in an order unrelated to the sorted one.
    for i in 0..subjects.len() * sites.len() * rules.len() * severities.len() {
        let n = (i * 7919) % (subjects.len() * sites.len() * rules.len() * severities.len());
        findings.push(Finding {
            rule: rules[n % rules.len()],
            severity: severities[(n / 3) % severities.len()],
            subject_kind: SubjectKind::Card,
            subject: subjects[(n / 9) % subjects.len()].into(),
            site: sites[(n / 81) % sites.len()].into(),
            owner: Owner::Ra,
            due: today(),
            why: String::new(),
            fix: "".into(),
        });
    }
    let mut plain = findings.clone();
    plain.sort_by(|a, b| {
        (
            a.site.as_str(),
            std::cmp::Reverse(a.severity),
            a.rule,
            a.subject.as_str(),
        )
            .cmp(&(
                b.site.as_str(),
                std::cmp::Reverse(b.severity),
                b.rule,
                b.subject.as_str(),
            ))
    });
    let mut noted: Vec<Noted> = findings.into_iter().map(Noted::open).collect();
    sort_findings(&mut noted);
    let sorted: Vec<Finding> = noted.into_iter().map(|n| n.finding).collect();
    assert_eq!(sorted, plain);
}

/// A demo estate of 40 practices.
fn demo_estate(seed: u64) -> Estate {
    let mut e = Estate::default();
    let cfg = crate::demo::DemoConfig {
        practices: 40,
        holders: None,
        seed,
        today: today(),
    };
    crate::demo::generate(&cfg, |r| e.push(r));
    e
}

/// What a check runs with by default: the thresholds, the shipped catalogue and the calendar.
struct Defaults {
    thresholds: Thresholds,
    catalogue: Catalogue,
    calendar: Calendar,
}

impl Defaults {
    fn new() -> Defaults {
        Defaults {
            thresholds: Thresholds::default(),
            catalogue: Catalogue::shipped(),
            calendar: Calendar::england_and_wales(),
        }
    }

    /// Today's context over these.
    fn context(&self) -> Context<'_> {
        Context {
            today: today(),
            catalogue: &self.catalogue,
            thresholds: &self.thresholds,
            calendar: &self.calendar,
        }
    }
}

#[test]
fn the_cards_judged_in_two_halves_give_what_one_pass_gives() {
    let mut e = demo_estate(5);
    e.sort();
    let d = Defaults::new();
    let cx = d.context();
    let holders = Holders::new(&e, &d.thresholds);
    let judged = |halves: bool| {
        let mut out = Out {
            today: cx.today,
            findings: Vec::new(),
        };
        if halves {
            cards(&e, &cx, &holders, true, true, &mut out);
        } else {
            cards_in(&e, 0..e.cards.len(), &cx, &holders, true, true, &mut out);
        }
        out.findings
    };
    let one_pass = judged(false);
    assert!(one_pass.len() > 100, "the demo estate has card findings");
    assert_eq!(judged(true), one_pass);
}

#[test]
fn the_demo_estate_exercises_every_rule() {
    let e = demo_estate(3);
    let found: std::collections::HashSet<&str> = run(&e).iter().map(|f| f.rule).collect();
    let mut missing: Vec<&str> = [
        "cert-authentication-90d",
        "cert-authentication-30d",
        "cert-authentication-7d",
        "cert-authentication-expired",
        "cert-signing-90d",
        "cert-signing-30d",
        "cert-signing-7d",
        "cert-signing-expired",
        "series-retired",
        "series-cannot-sign",
        "sha1-signing-prescriber",
        "software-below-mandatory",
        "software-outdated",
        "software-to-remove",
        "software-missing",
        "auth-client-retiring",
        "auth-client-move-blocked",
        "auth-clients-both",
        "reader-firmware-old",
        "spare-readers-low",
        "stock-below-minimum",
        "local-admins-low",
        "leaver-card",
        "leaver-position",
        "request-awaiting-ra",
        "repeated-lockouts",
        "card-dormant",
        "updates-in-clinic-hours",
    ]
    .into_iter()
    .filter(|r| !found.contains(r))
    .collect();
    missing.sort();
    assert_eq!(missing, Vec::<&str>::new());
}

#[test]
fn notes_apply_until_their_day_and_need_a_reason() {
    let mut e = healthy();
    set_cert(&mut e, Purpose::Authentication, 20);
    let now = Timestamp::start_of(today());
    let id = format!("cert-authentication-30d/{CARD}");
    assert!(
        FindingNote::new(&id, NoteState::Snoozed, " ", today(), "ann", now)
            .unwrap_err()
            .contains("reason")
    );
    assert!(FindingNote::new(
        &id,
        NoteState::Snoozed,
        "x",
        today().add_days(-1),
        "ann",
        now
    )
    .unwrap_err()
    .contains("past"));
    assert!(FindingNote::new(
        &id,
        NoteState::Snoozed,
        "x",
        today().add_days(181),
        "ann",
        now
    )
    .unwrap_err()
    .contains("180"));
    let note = FindingNote::new(
        &id,
        NoteState::Snoozed,
        "renewal booked",
        today().add_days(3),
        "ann",
        now,
    )
    .unwrap();
    let noted = with_notes(run(&e), std::slice::from_ref(&note), today());
    assert_eq!(noted[0].state, "snoozed");
    assert!(!noted[0].is_open());
    let later = today().add_days(4);
    let noted = with_notes(run(&e), std::slice::from_ref(&note), later);
    assert_eq!(noted[0].state, "open", "the snooze has run out");
    // Escalation is a new finding: the snooze of the 30-day warning does not hide the 7-day one.
    set_cert(&mut e, Purpose::Authentication, 5);
    let noted = with_notes(run(&e), &[note], today());
    assert_eq!(
        (noted[0].finding.rule, noted[0].state),
        ("cert-authentication-7d", "open")
    );
}

#[test]
fn notes_set_in_place_on_the_rules_findings_are_the_notes_joined_afterwards() {
    let mut e = demo_estate(7);
    let d = Defaults::new();
    let cx = d.context();
    let found = check_only(&mut e, &cx, Family::ALL);
    assert!(found.len() > 100, "the demo estate has findings");
    let now = Timestamp::start_of(today());
    let note = |i: usize, state: NoteState, until: Date| {
        FindingNote::new(&found[i].id(), state, "on it", until, "ann", now).unwrap()
    };
    let mut notes = vec![
        note(0, NoteState::Acknowledged, today()),
        note(found.len() / 2, NoteState::Snoozed, today().add_days(30)),
        // Ended yesterday: no effect.
        note(found.len() - 1, NoteState::Snoozed, today()),
    ];
    notes[2].until = today().add_days(-1);
    // A finding that is gone: no effect.
    notes.push(
        FindingNote::new(
            "cert-signing-7d/NO-SUCH-CARD",
            NoteState::Snoozed,
            "x",
            today(),
            "ann",
            now,
        )
        .unwrap(),
    );
    let joined = with_notes(found.clone(), &notes, today());
    let noted = check_noted(&mut e, &cx, Family::ALL, &notes);
    assert_eq!(noted, joined);
    let states: Vec<&str> = noted
        .iter()
        .filter(|n| !n.is_open())
        .map(|n| n.state)
        .collect();
    assert_eq!(states, ["acknowledged", "snoozed"]);
    assert_eq!(noted[found.len() / 2].note.as_deref(), Some(&notes[1]));
    assert_eq!(
        check_noted(&mut e, &cx, Family::ALL, &[]),
        with_notes(found, &[], today())
    );
}

/// The healthy site with a digital assistant acting with both its cards: Bob's admin role is in
/// force, each card has its own EMIS account, and the service holds the practice's CDB.
fn with_integration() -> Estate {
    let mut e = healthy();
    add(
        &mut e,
        Kind::Positions,
        "555000000002,A81001,R8008,,B0825,active,,2024-01-01",
    );
    // Ann's card acts for the service too: her GP role includes the admin role's code here.
    e.positions[0].role_code = "R8008".into();
    add(
        &mut e,
        Kind::Integrations,
        "ht1-a81001,Healthtech-1 Digital Assistant,A81001,EMIS Web,R8008,B0825,12345,12345,,",
    );
    add(
        &mut e,
        Kind::IntegrationCards,
        &format!("ht1-a81001,{CARD},a81001.assist1"),
    );
    add(
        &mut e,
        Kind::IntegrationCards,
        "ht1-a81001,CS0000000002,a81001.assist2",
    );
    e
}

fn integration_rules(e: &Estate) -> Vec<(&'static str, String)> {
    run(e)
        .into_iter()
        .filter(|f| f.rule.starts_with("integration-"))
        .map(|f| (f.rule, f.subject))
        .collect()
}

#[test]
fn a_ready_integration_has_no_findings() {
    assert_eq!(run(&with_integration()), vec![]);
}

#[test]
fn emis_cdb_compared_with_the_one_the_service_holds() {
    let mut e = with_integration();
    e.integrations[0].service_emis_cdb = Some("13245".into());
    let f = one(&e, "integration-emis-cdb");
    assert_eq!(
        (f.severity, f.subject_kind, f.subject.as_str(), f.owner),
        (
            Severity::Urgent,
            SubjectKind::Integration,
            "ht1-a81001",
            Owner::PracticeManager
        )
    );
    assert!(
        f.why.contains("\"13245\"") && f.why.contains("\"12345\""),
        "{}",
        f.why
    );
    assert!(f.fix.contains("Your practice"));
    e.integrations[0].service_emis_cdb = None;
    assert_eq!(one(&e, "integration-emis-cdb").severity, Severity::Warning);
    e.integrations[0].service_emis_cdb = Some("12345".into());
    e.integrations[0].emis_cdb = None;
    assert_eq!(one(&e, "integration-emis-cdb").severity, Severity::Info);
}

#[test]
fn systmone_profile_compared_and_emis_accounts_not_asked_for() {
    let mut e = with_integration();
    let i = &mut e.integrations[0];
    i.clinical_system = crate::vocab::ClinicalSystem::Systmone;
    i.emis_cdb = None;
    i.service_emis_cdb = None;
    i.systmone_profile = Some("Digital Assistant".into());
    i.service_systmone_profile = Some("Digital Assistant".into());
    for c in &mut e.integration_cards {
        c.emis_username = None;
    }
    assert_eq!(integration_rules(&e), vec![]);
    e.integrations[0].service_systmone_profile = Some("Digital Asistant".into());
    let f = one(&e, "integration-systmone-profile");
    assert!(f.fix.contains("SystmOne"), "{}", f.fix);
}

#[test]
fn the_practice_ods_code_must_be_on_each_card() {
    let mut e = with_integration();
    // Bob's role is at another practice: this practice's code is not on his card.
    e.positions[1].ods_code = "B82002".into();
    let f = one(&e, "integration-ods-missing");
    assert_eq!(f.subject, "ht1-a81001/CS0000000002");
    assert!(f.why.contains("no role at A81001"), "{}", f.why);
    assert!(f.fix.contains("admin staff role"), "{}", f.fix);
    // A role asked for but not yet approved is named as such.
    e.positions[1].ods_code = "A81001".into();
    e.positions[1].status = PositionStatus::Requested;
    let f = one(&e, "integration-ods-missing");
    assert!(
        f.why.contains("is requested, not yet in force"),
        "{}",
        f.why
    );
    assert!(f.fix.contains("RA to approve"), "{}", f.fix);
}

#[test]
fn a_role_too_low_for_the_service_is_found() {
    let mut e = with_integration();
    e.positions[0].role_code = "R8000".into();
    let f = one(&e, "integration-role-insufficient");
    assert_eq!(
        (f.subject.as_str(), f.owner),
        ("ht1-a81001/CS0000000001", Owner::Ra)
    );
    assert!(
        f.why.contains("(R8000)") && f.why.contains("role R8008 with activities B0825"),
        "{}",
        f.why
    );
    // The right role without an activity the service needs is too low as well.
    e.positions[0].role_code = "R8008".into();
    e.positions[0].activity_codes = "B1300".into();
    one(&e, "integration-role-insufficient");
    // With nothing required, any role in force at the practice will do.
    e.integrations[0].required_roles = "".into();
    e.integrations[0].required_activity_codes = "".into();
    assert_eq!(integration_rules(&e), vec![]);
}

#[test]
fn each_card_needs_its_own_emis_account() {
    let mut e = with_integration();
    e.integration_cards[1].emis_username = None;
    let f = one(&e, "integration-emis-account");
    assert_eq!(f.subject, "ht1-a81001/CS0000000002");
    e.integration_cards[1].emis_username = Some("a81001.assist1".into());
    let shared = integration_rules(&e);
    assert_eq!(
        shared,
        vec![
            (
                "integration-emis-account",
                "ht1-a81001/CS0000000001".to_owned()
            ),
            (
                "integration-emis-account",
                "ht1-a81001/CS0000000002".to_owned()
            ),
        ]
    );
    let f = run(&e)
        .into_iter()
        .find(|f| f.rule == "integration-emis-account")
        .unwrap();
    assert!(
        f.why
            .contains("shares the EMIS Web account \"a81001.assist1\" with CS0000000002"),
        "{}",
        f.why
    );
}

#[test]
fn a_card_the_service_cannot_use_is_found() {
    let mut e = with_integration();
    e.cards[1].status = CardStatus::Locked;
    let f = one(&e, "integration-card-unusable");
    assert!(f.why.contains("is locked"), "{}", f.why);
}

/// Findings of one rule on another day, with the shipped catalogue or another.
fn of_rule_on(e: &Estate, rule: &str, day: &str, cat: &Catalogue) -> Vec<Finding> {
    let mut e = e.clone();
    let day = Date::parse(day).unwrap();
    check(
        &mut e,
        &Context {
            today: day,
            catalogue: cat,
            thresholds: &Thresholds::default(),
            calendar: &Calendar::england_and_wales(),
        },
    )
    .into_iter()
    .filter(|f| f.rule == rule)
    .collect()
}

#[test]
fn identity_agent_workstations_are_told_the_cis1_deadline_as_it_nears() {
    let cat = Catalogue::shipped();
    // Near miss: on Smartcard Connect, nothing to move.
    assert!(of_rule(&healthy(), "auth-client-retiring").is_empty());
    let mut e = healthy();
    on_identity_agent(&mut e, "a81001-ws001", "2.4.10.0");
    let f = one(&e, "auth-client-retiring");
    assert_eq!(f.subject, "a81001-ws001");
    assert!(
        f.why.contains("NHS Identity Agent") && f.why.contains("2027-02-28"),
        "{}",
        f.why
    );
    assert!(
        f.fix.contains("NHS Smartcard Connect") && f.fix.contains("one machine first"),
        "{}",
        f.fix
    );
    assert_eq!(
        f.due,
        Date::parse("2027-02-14").unwrap(),
        "two weeks' margin"
    );
    assert_eq!(f.severity, Severity::Info, "102 days left");
    // The severity rises as the day nears, and after it the client no longer works.
    for (day, severity) in [
        ("2027-01-15", Severity::Warning),
        ("2027-02-10", Severity::Urgent),
        ("2027-02-28", Severity::Urgent),
        ("2027-03-01", Severity::Critical),
    ] {
        let f = of_rule_on(&e, "auth-client-retiring", day, &cat);
        assert_eq!(f[0].severity, severity, "{day}");
    }
    let after = of_rule_on(&e, "auth-client-retiring", "2027-03-01", &cat);
    assert!(
        after[0].why.contains("stopped working on 2027-02-28"),
        "{}",
        after[0].why
    );
    // The date is the catalogue's, not the code's: moved there, it moves here.
    let moved = cat
        .clone()
        .with_file(
            "over.toml",
            "[[clients]]\nid = \"cis1\"\nname = \"NHS Identity Agent (CIS1 authentication)\"\ncomponent = \"identity-agent\"\nworks_until = 2027-06-30\nsuccessor = \"cis2\"\nsource = \"a later notice\"\nas_of = 2026-12-01\n",
        )
        .unwrap();
    // A successor the result does not hold is refused with the file's line.
    let err = cat
        .clone()
        .with_file(
            "over.toml",
            "[[clients]]\nid = \"cis1\"\nname = \"IA\"\ncomponent = \"identity-agent\"\nsuccessor = \"cis3\"\nsource = \"s\"\nas_of = 2026-12-01\n",
        )
        .unwrap_err();
    assert_eq!(err.line, 5, "{err}");
    assert!(
        err.message.contains("\"cis3\" is not a listed client"),
        "{err}"
    );
    let f = of_rule_on(&e, "auth-client-retiring", TODAY, &moved);
    assert!(f[0].why.contains("2027-06-30"), "{}", f[0].why);
}

#[test]
fn a_move_to_smartcard_connect_waits_for_every_application_used() {
    let mut e = healthy();
    on_identity_agent(&mut e, "a81001-ws001", "2.4.10.0");
    // Near miss: only applications that support CIS2.
    e.workstations[0].applications = Some("eps scr e-rs".into());
    assert!(of_rule(&e, "auth-client-move-blocked").is_empty());
    // One whose support is not confirmed, listed on the record, and one installed as software.
    e.workstations[0].applications = Some("emis-web eps".into());
    add(&mut e, Kind::Software, "a81001-ws001,systmone,1.0");
    e.software
        .sort_by(|a, b| (&a.hostname, &a.component).cmp(&(&b.hostname, &b.component)));
    let f = one(&e, "auth-client-move-blocked");
    assert_eq!(f.subject, "a81001-ws001");
    assert!(
        f.why.contains("EMIS Web (readiness unconfirmed)")
            && f.why.contains("SystmOne (readiness unconfirmed)")
            && !f.why.contains("Electronic Prescription"),
        "{}",
        f.why
    );
    // A workstation already on Smartcard Connect is not held up by anything.
    let mut e = healthy();
    e.workstations[1].applications = Some("emis-web".into());
    assert!(of_rule(&e, "auth-client-move-blocked").is_empty());
}

#[test]
fn two_clients_or_none_are_found() {
    let mut e = healthy();
    add(
        &mut e,
        Kind::Software,
        "a81001-ws002,identity-agent,2.4.10.0",
    );
    e.software
        .sort_by(|a, b| (&a.hostname, &a.component).cmp(&(&b.hostname, &b.component)));
    let f = one(&e, "auth-clients-both");
    assert_eq!(
        (f.subject.as_str(), f.severity),
        ("a81001-ws002", Severity::Urgent)
    );
    assert!(
        f.why.contains("NHS Identity Agent") && f.why.contains("NHS Smartcard Connect"),
        "{}",
        f.why
    );
    // With the retiring client still on it, the machine is still one to move, as the migration
    // plan counts it: the overview's figure and the plan's agree.
    let moving: Vec<String> = of_rule(&e, "auth-client-retiring")
        .into_iter()
        .map(|f| f.subject.clone())
        .collect();
    assert!(moving.contains(&"a81001-ws002".to_owned()), "{moving:?}");
    let mut e = healthy();
    e.software
        .retain(|s| !(&*s.hostname == "a81001-ws002" && &*s.component == "smartcard-connect"));
    let f = one(&e, "auth-client-missing");
    assert!(f.fix.contains("NHS Smartcard Connect"), "{}", f.fix);
    assert!(of_rule(&healthy(), "auth-client-missing").is_empty());
}

#[test]
fn numbers_are_written_as_format_writes_them() {
    for n in [0, 1, 7, 10, 89, 90, 123, 4_096, -1, -30, i32::MAX, i32::MIN] {
        let mut s = String::from("x");
        push_number(&mut s, n);
        assert_eq!(s, format!("x{n}"));
    }
}

/// The workstation rules judge the machines in two halves on two threads: the findings are
/// those of one pass over every machine, in the same order, wherever the halves split (the
/// software of the machine each half starts at found from the middle of the sorted list), and
/// with one machine or none.
#[test]
fn workstations_judged_in_halves_find_what_one_pass_finds() {
    let d = Defaults::new();
    let cx = d.context();
    let one_pass = |e: &Estate| {
        let mut out = Out {
            today: cx.today,
            findings: Vec::new(),
        };
        workstations_in(e, 0..e.workstations.len(), &cx, &mut out);
        workstations_together(e, &cx, &mut out);
        out.findings
    };
    let halves = |e: &Estate| {
        let mut out = Out {
            today: cx.today,
            findings: Vec::new(),
        };
        workstations(e, &cx, &mut out);
        out.findings
    };
    let mut e = demo_estate(4);
    e.sort();
    let whole = one_pass(&e);
    assert!(
        whole
            .iter()
            .filter(|n| n.finding.rule.starts_with("software-"))
            .count()
            > 10,
        "the demo estate has software findings to compare"
    );
    assert!(halves(&e) == whole);
    // Fewer machines: every split point of a short list, down to one machine and none.
    for n in [0, 1, 2, 3, 7] {
        let mut few = e.clone();
        few.workstations.truncate(n);
        let whole = one_pass(&few);
        assert!(halves(&few) == whole, "{n} machines");
        if n == 0 {
            assert!(whole
                .iter()
                .all(|f| !f.finding.rule.starts_with("software-")));
        }
    }
}
