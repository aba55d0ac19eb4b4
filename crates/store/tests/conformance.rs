//! Every store operation, run the same way on SQLite and on PostgreSQL.

mod common;

use cardwatch_core::access::{NewUser, Role, Token, TokenKind, Username};
use cardwatch_core::audit::ChainBreak;
use cardwatch_core::calendar::Calendar;
use cardwatch_core::card_status::CardStatus;
use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::demo::DemoConfig;
use cardwatch_core::health::{
    certificate_reach, check, check_only, Context, Estate, Family, FindingNote, NoteState,
    Thresholds,
};
use cardwatch_core::ids::{CardSerial, Hostname, OdsCode};
use cardwatch_core::records::{Cell, Kind};
use cardwatch_core::triage::{CauseCount, IncidentStatus, IncidentStep, NewIncident};
use cardwatch_store::{
    current_findings, triage_context, AuditQuery, AuditVerdict, Change, DueCard, Format,
    ImportInput, ImportOptions, ImportProblem, Location, StoreError,
};
use common::{change, demo_inputs, import, today, TestDb};

const ORGS: &str = "ods_code,name,type,parent_ods
A81001,Riverside Surgery,gp_practice,Q0001
Q0001,NHS Test ICB,icb,
";
const SITES: &str = "site_ods,organisation_ods,name,core_hours
A81001,A81001,Riverside Surgery,Mon-Fri 08:00-18:30
";
const PEOPLE: &str = "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles
555123456789,Dr Asha Patel,asha.patel@nhs.net,GP,A81001,,yes,sponsor
555123456790,Sam Jones,,Receptionist,A81001,,no,
";
const CARDS: &str = "card_serial,holder_uuid,series,status,issued_on,last_used_on
CS000001,555123456789,9,active,2024-01-10,2026-11-20
CS000002,555123456790,10,lost,2023-05-01,
";
const CERTS: &str = "card_serial,purpose,serial_number,issuer,not_before,not_after,hash_algorithm
CS000001,authentication,0A1B,NHS Level 1B,2024-01-10,2027-01-09,sha256
CS000001,signing,0A1C,NHS Level 1B,2024-01-10,2027-01-09,SHA-256
";

fn base() -> Vec<ImportInput> {
    vec![
        ImportInput::bytes("organisations.csv", ORGS),
        ImportInput::bytes("sites.csv", SITES),
        ImportInput::bytes("people.csv", PEOPLE),
        ImportInput::bytes("cards.csv", CARDS),
        ImportInput::bytes("certificates.csv", CERTS),
    ]
}

fn seeded(db: &TestDb) {
    import(db, &base());
}

/// Imports one bad file over the base estate and returns the problems, checking that the store
/// did not change at all.
fn rejected(db: &TestDb, name: &str, text: &str) -> Vec<ImportProblem> {
    seeded(db);
    refused(
        db,
        &[ImportInput::bytes(name, text)],
        &ImportOptions::default(),
    )
}

/// The problems an import is refused for, having checked that it changed nothing.
fn refused(db: &TestDb, inputs: &[ImportInput], options: &ImportOptions) -> Vec<ImportProblem> {
    let before = (db.snapshot(), db.audit_len());
    let err = db
        .store
        .import(inputs, options, &change())
        .expect_err("the import should be refused");
    assert_eq!(
        (db.snapshot(), db.audit_len()),
        before,
        "a refused import changed the store"
    );
    match err {
        StoreError::Rejected(p) => p,
        other => panic!("expected a rejection, got {other}"),
    }
}

fn one(problems: &[ImportProblem]) -> &ImportProblem {
    assert_eq!(problems.len(), 1, "{problems:#?}");
    &problems[0]
}

fn assert_at(p: &ImportProblem, line: u64, column: &str, says: &str) {
    assert_eq!(p.at, Location::Line(line), "{p}");
    assert_eq!(p.column.as_deref(), Some(column), "{p}");
    assert!(p.message.contains(says), "{p} should say {says:?}");
}

// ---- the good paths ----

fn demo_import_counts(db: &TestDb) {
    let report = import(db, &demo_inputs(3, 7));
    let counts = db.store.counts().expect("counts");
    for f in &report.files {
        let n = counts.iter().find(|(k, _)| *k == f.kind).map(|c| c.1);
        assert_eq!(n, Some(f.created as i64), "{}", f.file);
        assert_eq!(f.rows, f.created);
    }
    assert!(counts.iter().all(|(_, n)| *n > 0), "{counts:?}");
    assert_eq!(
        db.store.verify_audit().expect("verify"),
        AuditVerdict::Intact(Kind::ALL.len() as i64)
    );
}

fn reimport_changes_nothing(db: &TestDb) {
    let inputs = demo_inputs(2, 1);
    import(db, &inputs);
    let before = (db.snapshot(), db.audit_len());
    let again = import(db, &inputs);
    assert!(again
        .files
        .iter()
        .all(|f| f.created == 0 && f.updated == 0 && f.unchanged == f.rows));
    assert_eq!((db.snapshot(), db.audit_len()), before);
}

fn update_is_audited(db: &TestDb) {
    seeded(db);
    let n = db.audit_len();
    let edited = PEOPLE.replace("Sam Jones", "Samuel Jones");
    let report = import(db, &[ImportInput::bytes("people.csv", edited)]);
    assert_eq!((report.files[0].updated, report.files[0].unchanged), (1, 1));
    let records = db.store.audit_records(n as i64, 10).expect("audit");
    assert_eq!(records.len(), 2, "one update and the file's summary");
    let update = &records[0].record;
    assert_eq!(
        (update.action.as_str(), update.entity_key.as_str()),
        ("update", "555123456790")
    );
    assert!(update
        .before
        .as_deref()
        .unwrap_or("")
        .contains("\"Sam Jones\""));
    assert!(update
        .after
        .as_deref()
        .unwrap_or("")
        .contains("\"Samuel Jones\""));
    assert_eq!(update.actor, "test");
    assert_eq!(records[1].record.action, "import");
    assert!(matches!(
        db.store.verify_audit().expect("verify"),
        AuditVerdict::Intact(_)
    ));
}

fn round_trip(db: &TestDb, format: Format, ext: &str) {
    import(db, &demo_inputs(2, 42));
    let first = db.snapshot();
    let files: Vec<ImportInput> = Kind::ALL
        .iter()
        .map(|k| {
            let mut out = Vec::new();
            cardwatch_store::export(&*db.store, *k, format, &mut out).expect("export");
            ImportInput::bytes(format!("{}.{ext}", k.name()), out)
        })
        .collect();
    let fresh = if db.store.backend() == cardwatch_store::Backend::Sqlite {
        TestDb::sqlite()
    } else {
        TestDb::postgres()
    };
    import(&fresh, &files);
    assert_eq!(fresh.snapshot(), first);
}

fn round_trip_csv(db: &TestDb) {
    round_trip(db, Format::Csv, "csv");
}

fn round_trip_json(db: &TestDb) {
    round_trip(db, Format::Json, "json");
}

fn check_only_writes_nothing(db: &TestDb) {
    let report = db
        .store
        .import(
            &base(),
            &ImportOptions {
                check_only: true,
                ..ImportOptions::default()
            },
            &change(),
        )
        .expect("valid files pass the check");
    assert!(report.checked_only);
    assert_eq!(report.files.iter().map(|f| f.created).sum::<u64>(), 9);
    assert!(db.store.counts().expect("counts").iter().all(|c| c.1 == 0));
    assert_eq!(db.audit_len(), 0);
}

fn bom_crlf_uk_dates_and_any_order(db: &TestDb) {
    // Files given children first, columns shuffled, Windows line ends, a BOM, UK dates.
    let cards = "\u{feff}status,card_serial,holder_uuid,series,issued_on,last_used_on\r\n\
                 active,CS000001,555123456789,9,10/01/2024,20/11/2026\r\n";
    let report = import(
        db,
        &[
            ImportInput::bytes("cards.csv", cards),
            ImportInput::bytes("people.csv", PEOPLE),
            ImportInput::bytes("sites.csv", SITES),
            ImportInput::bytes("organisations.csv", ORGS),
        ],
    );
    let kinds: Vec<Kind> = report.files.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [Kind::Organisations, Kind::Sites, Kind::People, Kind::Cards]
    );
    let mut out = Vec::new();
    cardwatch_store::export(&*db.store, Kind::Cards, Format::Csv, &mut out).expect("export");
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        "card_serial,holder_uuid,series,status,issued_on,last_used_on\n\
         CS000001,555123456789,9,active,2024-01-10,2026-11-20\n"
    );
}

fn card_status_changes(db: &TestDb) {
    seeded(db);
    let lost = CardSerial::parse("CS000002").expect("serial");
    let n = db.audit_len();
    let err = db
        .store
        .set_card_status(&lost, CardStatus::Active, "found it", &change())
        .expect_err("lost → active is refused");
    assert!(err.to_string().contains("lost"), "{err}");
    assert_eq!(db.audit_len(), n);
    let to = db
        .store
        .set_card_status(
            &lost,
            CardStatus::Cancelled,
            "reported lost, cancelled by RA",
            &change(),
        )
        .expect("lost → cancelled");
    assert_eq!(to, CardStatus::Cancelled);
    let rec = db.store.audit_records(n as i64, 5).expect("audit");
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].record.action, "status");
    assert_eq!(rec[0].record.note, "reported lost, cancelled by RA");
    let missing = CardSerial::parse("CS999999").expect("serial");
    let err = db
        .store
        .set_card_status(&missing, CardStatus::Locked, "x", &change())
        .expect_err("no such card");
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    assert!(matches!(
        db.store.verify_audit().expect("verify"),
        AuditVerdict::Intact(6)
    ));
}

fn locking_a_card_records_a_lockout(db: &TestDb) {
    seeded(db);
    let card = CardSerial::parse("CS000001").expect("serial");
    db.store
        .set_card_status(&card, CardStatus::Locked, "three wrong PINs", &change())
        .expect("active → locked");
    let mut out = Vec::new();
    cardwatch_store::export(&*db.store, Kind::Lockouts, Format::Csv, &mut out).expect("export");
    assert_eq!(
        String::from_utf8(out).expect("utf-8"),
        "card_serial,locked_at,unlocked_at\nCS000001,2026-11-22T09:00:00Z,\n"
    );
}

fn estate_loads_for_the_health_checks(db: &TestDb) {
    let report = import(db, &demo_inputs(3, 7));
    let mut estate = cardwatch_store::load_estate(&*db.store).expect("estate");
    let rows = |k: Kind| {
        report
            .files
            .iter()
            .find(|f| f.kind == k)
            .map_or(0, |f| f.rows)
    };
    assert_eq!(estate.people.len() as u64, rows(Kind::People));
    assert_eq!(estate.certificates.len() as u64, rows(Kind::Certificates));
    assert_eq!(estate.lockouts.len() as u64, rows(Kind::Lockouts));
    assert_eq!(estate.software.len() as u64, rows(Kind::Software));
    // The same estate from either backend gives the same findings.
    let mut direct = Estate::default();
    let cfg = DemoConfig {
        practices: 3,
        holders: None,
        seed: 7,
        today: today(),
    };
    cardwatch_core::demo::generate(&cfg, |r| direct.push(r));
    let cx = Context {
        today: today(),
        catalogue: &Catalogue::shipped(),
        thresholds: &Thresholds::default(),
        calendar: &Calendar::england_and_wales(),
    };
    let found = check(&mut estate, &cx);
    assert!(!found.is_empty());
    assert_eq!(found, check(&mut direct, &cx));
}

/// Beside the demo estate: a prescriber whose SHA-1 signing certificate is years from expiry,
/// a card whose certificate inside the window was renewed already, a card with nothing due, and
/// a prescriber with only an authentication certificate due (their positions need not be read).
const REACH_PEOPLE: &str = "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles
555123456791,Dr Ola Lee,,GP,A81001,,no,
555123456792,Kim Ray,,Nurse,A81001,,no,
555123456793,Dr Sam Orr,,GP,A81001,,no,
";
const REACH_CARDS: &str = "card_serial,holder_uuid,series,status,issued_on,last_used_on
CS000003,555123456791,8,active,2024-01-10,2026-11-20
CS000004,555123456792,9,active,2023-12-01,2026-11-20
CS000005,555123456792,9,active,2025-01-01,2026-11-20
CS000006,555123456793,9,active,2024-01-01,2026-11-20
";
const REACH_CERTS: &str =
    "card_serial,purpose,serial_number,issuer,not_before,not_after,hash_algorithm
CS000003,authentication,0B01,NHS Level 1B,2025-05-01,2028-05-01,sha256
CS000003,signing,0B02,NHS Level 1B,2025-05-01,2028-05-01,sha1
CS000004,authentication,0C01,NHS Level 1B,2023-12-01,2026-12-01,sha256
CS000004,authentication,0C02,NHS Level 1B,2026-11-01,2029-11-01,sha256
CS000004,signing,0C03,NHS Level 1B,2026-11-01,2029-11-01,sha256
CS000005,authentication,0D01,NHS Level 1B,2025-01-01,2028-01-01,sha256
CS000006,authentication,0E01,NHS Level 1B,2024-01-01,2026-12-20,sha256
CS000006,signing,0E02,NHS Level 1B,2025-06-01,2028-06-01,sha256
";
const REACH_POSITIONS: &str =
    "holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on
555123456791,A81001,R8000,Clinical Practitioner Access Role,B0420 B0264,active,2024-01-02,2024-01-10
555123456793,A81001,R8000,Clinical Practitioner Access Role,B0420,active,2024-01-02,2024-01-10
";

fn certificate_rules_read_only_the_cards_they_can_judge(db: &TestDb) {
    import(db, &demo_inputs(2, 5));
    import(db, &base());
    import(
        db,
        &[
            ImportInput::bytes("people.csv", REACH_PEOPLE),
            ImportInput::bytes("cards.csv", REACH_CARDS),
            ImportInput::bytes("certificates.csv", REACH_CERTS),
            ImportInput::bytes("positions.csv", REACH_POSITIONS),
        ],
    );
    let cx = Context {
        today: today(),
        catalogue: &Catalogue::shipped(),
        thresholds: &Thresholds::default(),
        calendar: &Calendar::england_and_wales(),
    };
    let reach = certificate_reach(&cx);

    // The cards found are exactly those with a certificate due by the reach or signing with
    // SHA-1, as the whole table says, each marked signing when a signing certificate is among
    // those.
    let due = db.store.cards_with_certificates_due(reach).expect("due");
    let mut expected: Vec<DueCard> = Vec::new();
    db.store
        .scan(Kind::Certificates, &[0, 1, 5, 6], false, &mut |c| {
            let (Cell::Text(serial), Cell::Text(purpose), Cell::Date(not_after), Cell::Text(hash)) =
                (c[0], c[1], c[2], c[3])
            else {
                panic!("certificate cells {c:?}")
            };
            if not_after <= reach || (purpose == "signing" && hash == "sha1") {
                let signing = purpose == "signing";
                match expected.iter_mut().find(|d| d.serial == serial) {
                    Some(d) => d.signing |= signing,
                    None => expected.push(DueCard {
                        serial: serial.to_owned(),
                        signing,
                    }),
                }
            }
            Ok(())
        })
        .expect("scan");
    expected.sort();
    assert_eq!(due, expected);
    assert!(due.iter().any(|d| d.signing) && due.iter().any(|d| !d.signing));
    for (serial, found) in [
        ("CS000001", Some(true)),
        ("CS000003", Some(true)),
        ("CS000004", Some(false)),
        ("CS000005", None),
        ("CS000006", Some(false)),
    ] {
        let got = due.iter().find(|d| d.serial == serial).map(|d| d.signing);
        assert_eq!(got, found, "{serial}");
    }

    // A keyed read gives those keys' records and no others; unknown keys and none are no error.
    let mut rows = Vec::new();
    let n = db
        .store
        .scan_keyed(
            Kind::Certificates,
            &[0, 2],
            &["CS000005", "CS000004", "CS999999"],
            &mut |c| {
                rows.push(format!("{:?}", (c[0], c[1])));
                Ok(())
            },
        )
        .expect("keyed");
    rows.sort();
    assert_eq!(n, 4);
    assert_eq!(
        rows,
        [
            "(Text(\"CS000004\"), Text(\"0C01\"))",
            "(Text(\"CS000004\"), Text(\"0C02\"))",
            "(Text(\"CS000004\"), Text(\"0C03\"))",
            "(Text(\"CS000005\"), Text(\"0D01\"))"
        ]
    );
    // The certificates of the due cards, read in one go (on one connection on PostgreSQL),
    // are those cards' keyed read: every certificate of theirs, due or not, and no others.
    let serials: Vec<&str> = due.iter().map(|d| d.serial.as_str()).collect();
    let mut keyed = Vec::new();
    db.store
        .scan_keyed(Kind::Certificates, &[0, 2, 5], &serials, &mut |c| {
            keyed.push(format!("{c:?}"));
            Ok(())
        })
        .expect("keyed due");
    let mut of_due = Vec::new();
    let n = db
        .store
        .scan_of_cards_due(Kind::Certificates, &[0, 2, 5], reach, &mut |c| {
            of_due.push(format!("{c:?}"));
            Ok(())
        })
        .expect("of the due cards");
    keyed.sort();
    of_due.sort();
    assert_eq!(usize::try_from(n).expect("count"), of_due.len());
    assert_eq!(of_due, keyed);
    assert!(of_due.iter().any(|r| r.contains("0C03")), "{of_due:?}");
    assert!(!of_due.iter().any(|r| r.contains("CS000005")), "{of_due:?}");
    let none = db
        .store
        .scan_keyed(Kind::People, &[0], &[], &mut |_| panic!("no keys, no rows"))
        .expect("no keys");
    assert_eq!(none, 0);
    let odd = db
        .store
        .scan_keyed(
            Kind::Cards,
            &[0],
            &[r#"O'Neil"\{x,}"#, "CS000001"],
            &mut |_| Ok(()),
        )
        .expect("a key with quotes, a backslash, braces and a comma is only a key");
    assert_eq!(odd, 1);

    // The certificate rules over those cards alone find what they find over the whole estate.
    let narrowed: Vec<_> = current_findings(&*db.store, &cx, &[Family::Certificates])
        .expect("narrowed")
        .into_iter()
        .map(|n| n.finding)
        .collect();
    let mut whole = cardwatch_store::load_estate(&*db.store).expect("estate");
    assert_eq!(
        narrowed,
        check_only(&mut whole, &cx, &[Family::Certificates])
    );
    let on = |serial: &str| -> Vec<&str> {
        narrowed
            .iter()
            .filter(|f| f.subject == serial)
            .map(|f| f.rule)
            .collect()
    };
    assert_eq!(on("CS000003"), ["sha1-signing-prescriber"]);
    assert!(
        on("CS000004").is_empty(),
        "renewed already: {:?}",
        on("CS000004")
    );
    assert_eq!(
        on("CS000001"),
        ["cert-authentication-90d", "cert-signing-90d"]
    );
    assert_eq!(on("CS000006"), ["cert-authentication-30d"]);

    // The full check reads only those cards' certificates too, and finds what every rule finds
    // over the whole estate.
    let full: Vec<_> = current_findings(&*db.store, &cx, Family::ALL)
        .expect("full")
        .into_iter()
        .map(|n| n.finding)
        .collect();
    let mut whole = cardwatch_store::load_estate(&*db.store).expect("estate");
    assert_eq!(full, check_only(&mut whole, &cx, Family::ALL));
    assert!(full.iter().any(|f| f.rule == "cert-signing-90d"));
}

fn finding_notes_are_kept_and_audited(db: &TestDb) {
    seeded(db);
    let n = db.audit_len();
    let now = change().at;
    let id = "cert-signing-30d/CS000001";
    let note = FindingNote::new(
        id,
        NoteState::Snoozed,
        "renewal booked",
        today().add_days(7),
        "test",
        now,
    )
    .expect("note");
    db.store.note_finding(&note, &change()).expect("snooze");
    assert_eq!(db.store.finding_notes().expect("notes"), vec![note.clone()]);
    // A second note replaces the first.
    let ack = FindingNote {
        state: NoteState::Acknowledged,
        reason: "RA told".into(),
        ..note
    };
    db.store.note_finding(&ack, &change()).expect("acknowledge");
    assert_eq!(db.store.finding_notes().expect("notes"), vec![ack]);
    assert!(db
        .store
        .reopen_finding(id, "booking cancelled", &change())
        .expect("reopen"));
    assert!(db.store.finding_notes().expect("notes").is_empty());
    assert!(!db
        .store
        .reopen_finding(id, "again", &change())
        .expect("reopen nothing"));
    let records = db.store.audit_records(n as i64, 10).expect("audit");
    let actions: Vec<&str> = records.iter().map(|r| r.record.action.as_str()).collect();
    assert_eq!(actions, ["snoozed", "acknowledged", "reopen"]);
    assert_eq!(records[1].record.entity_key, id);
    assert!(records[1]
        .record
        .before
        .as_deref()
        .unwrap_or("")
        .contains("renewal booked"));
    assert_eq!(records[2].record.note, "booking cancelled");
    assert!(matches!(
        db.store.verify_audit().expect("verify"),
        AuditVerdict::Intact(_)
    ));
}

fn at(time: &str) -> Change {
    Change {
        actor: "reception".into(),
        at: Timestamp::parse(time).expect("time"),
    }
}

fn incidents_are_kept_counted_and_audited(db: &TestDb) {
    let n = db.audit_len();
    let opened = NewIncident {
        reporter: "reception".into(),
        site: Some("A81001".into()),
        card_serial: Some("CS000001".into()),
        hostname: Some("GP-A81001-01".into()),
        application: Some("emis-web".into()),
        doing: Some("signing a prescription".into()),
        symptom: "cannot-sign".into(),
        error_text: Some("0x53494705 No X.509 Signing certificate found".into()),
    };
    let id = db
        .store
        .open_incident(&opened, &at("2026-11-22T09:00:00Z"))
        .expect("open");
    let step = |t: &str, id: &str, r: &str| IncidentStep {
        at: Timestamp::parse(t).expect("time"),
        id: id.into(),
        result: r.into(),
    };
    let steps = [
        step("2026-11-22T09:03:00Z", "middleware-version", "outdated"),
        step("2026-11-22T09:18:00Z", "update-middleware", "fixed"),
    ];
    for s in &steps {
        db.store
            .record_incident_step(id, s, &at("2026-11-22T09:18:00Z"))
            .expect("step");
    }
    let closed = db
        .store
        .close_incident(
            id,
            IncidentStatus::Resolved,
            Some("middleware-outdated"),
            &at("2026-11-22T09:18:00Z"),
        )
        .expect("close");
    assert_eq!(closed.minutes_to_fix, Some(18.0));
    let stored = db.store.incident(id).expect("read").expect("there");
    assert_eq!(stored, closed);
    assert_eq!(stored.opened, opened);
    assert_eq!(stored.steps, steps);
    assert_eq!(stored.status, IncidentStatus::Resolved);
    assert!(stored.fixed());

    // A closed incident takes no more steps; an unknown one none at all.
    let e = db
        .store
        .record_incident_step(id, &steps[0], &change())
        .unwrap_err();
    assert!(e.to_string().contains("already resolved"), "{e}");
    let e = db
        .store
        .record_incident_step(id + 100, &steps[0], &change())
        .unwrap_err();
    assert!(e.to_string().contains("no incident"), "{e}");
    let e = db
        .store
        .open_incident(
            &NewIncident {
                reporter: " ".into(),
                ..opened.clone()
            },
            &change(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("reporter is empty"), "{e}");

    // A second at the site within the hour, an escalated one elsewhere.
    let second = db
        .store
        .open_incident(&opened, &at("2026-11-22T09:40:00Z"))
        .expect("open");
    let elsewhere = db
        .store
        .open_incident(
            &NewIncident {
                site: Some("B82002".into()),
                ..opened.clone()
            },
            &at("2026-11-22T09:41:00Z"),
        )
        .expect("open");
    db.store
        .close_incident(
            elsewhere,
            IncidentStatus::Escalated,
            None,
            &at("2026-11-22T10:01:00Z"),
        )
        .expect("escalate");
    let since = Timestamp::parse("2026-11-22T08:45:00Z").expect("time");
    assert_eq!(
        db.store
            .recent_reports("A81001", "cannot-sign", since, Some(second))
            .expect("recent"),
        1
    );
    assert_eq!(
        db.store
            .recent_reports("A81001", "cannot-sign", since, None)
            .expect("recent"),
        2
    );
    assert_eq!(
        db.store
            .recent_reports("A81001", "err1002", since, None)
            .expect("recent"),
        0
    );

    // Only resolved incidents with a confirmed cause teach.
    assert_eq!(
        db.store.incident_cause_counts().expect("counts"),
        vec![CauseCount {
            site: Some("A81001".into()),
            symptom: "cannot-sign".into(),
            cause: "middleware-outdated".into(),
            n: 1,
        }]
    );
    let newest: Vec<i64> = db
        .store
        .incidents(2)
        .expect("list")
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(newest, vec![elsewhere, second]);

    // The list in the database: scoped, filtered, sorted, paged; the tally over every match.
    use cardwatch_store::{incident_page, incident_tally, IncidentQuery, IncidentSort};
    let mine = IncidentQuery {
        sites: Some(vec!["A81001".into()]),
        siteless: false,
        reporter: "web:someone".into(),
        status: None,
        site: None,
        card_serial: None,
        sort: IncidentSort::Opened,
        descending: true,
        offset: 0,
        limit: Some(1),
    };
    let (total, page) = incident_page(&*db.store, &mine).expect("page");
    assert_eq!((total, page.len()), (2, 1), "B82002's is not theirs");
    assert_eq!(page[0].id, second);
    let next = incident_page(
        &*db.store,
        &IncidentQuery {
            offset: 1,
            ..mine.clone()
        },
    )
    .expect("page")
    .1;
    assert_eq!(
        next[0], closed,
        "a page holds whole incidents, steps and minutes too"
    );
    let by_minutes = IncidentQuery {
        sites: None,
        sort: IncidentSort::Minutes,
        descending: false,
        limit: None,
        ..mine.clone()
    };
    let all: Vec<i64> = incident_page(&*db.store, &by_minutes)
        .expect("page")
        .1
        .iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(all[0], id, "the fixed one first, the unfixed after");
    let escalated = IncidentQuery {
        sites: None,
        status: Some(IncidentStatus::Escalated),
        ..mine.clone()
    };
    assert_eq!(incident_page(&*db.store, &escalated).expect("page").0, 1);
    let nobody = IncidentQuery {
        sites: Some(vec![]),
        ..mine.clone()
    };
    assert_eq!(incident_page(&*db.store, &nobody).expect("page").0, 0);
    let reporter = IncidentQuery {
        reporter: "reception".into(),
        ..nobody.clone()
    };
    assert_eq!(
        incident_page(&*db.store, &reporter).expect("page").0,
        3,
        "whoever recorded them sees them all"
    );
    let card = IncidentQuery {
        card_serial: Some("CS000001".into()),
        ..by_minutes.clone()
    };
    assert_eq!(incident_page(&*db.store, &card).expect("page").0, 3);
    let other_card = IncidentQuery {
        card_serial: Some("CS999999".into()),
        ..by_minutes.clone()
    };
    assert_eq!(incident_page(&*db.store, &other_card).expect("page").0, 0);
    assert_eq!(
        cardwatch_store::open_incidents_by_site(&*db.store).expect("open"),
        vec![(Some("A81001".to_owned()), 1)]
    );
    let t = incident_tally(&*db.store, &by_minutes).expect("tally");
    assert_eq!(t.causes, vec![("middleware-outdated".to_owned(), 1)]);
    // Both closed ones (resolved in 18 minutes, escalated after 20) in the week that began on
    // Monday 2026-11-16, day 20,773 since 1970: week (20,773 − 4) / 7.
    assert_eq!(t.weeks, vec![((20773 - 4) / 7, 38.0, 2)]);

    let records = db.store.audit_records(n as i64, 20).expect("audit");
    let actions: Vec<&str> = records.iter().map(|r| r.record.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "open",
            "step",
            "step",
            "resolved",
            "open",
            "open",
            "escalated"
        ]
    );
    assert!(records.iter().all(|r| r.record.entity_kind == "incident"));
    assert!(matches!(
        db.store.verify_audit().expect("verify"),
        AuditVerdict::Intact(_)
    ));
}

fn triage_context_reads_one_card_and_workstation(db: &TestDb) {
    seeded(db);
    import(
        db,
        &[
            ImportInput::bytes(
                "positions.csv",
                "holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on\n555123456789,A81001,R8000,Clinical Practitioner,B0420,active,,2024-01-02\n",
            ),
            ImportInput::bytes(
                "workstations.csv",
                "hostname,site_ods,os,os_build,update_ring,last_seen,update_window\nGP-A81001-01,A81001,Windows 11,22631,pilot,,\n",
            ),
            ImportInput::bytes(
                "software.csv",
                "hostname,component,version\ngp-a81001-01,oberthur-middleware,6.2.0.4\n",
            ),
            ImportInput::bytes(
                "readers.csv",
                "reader_serial,vendor,model,firmware,hostname,site_ods,status\nRD1,HID Omnikey,3121,1.0,gp-a81001-01,A81001,in_service\nRD2,HID Omnikey,3121,1.0,,A81001,spare\n",
            ),
        ],
    );
    let serial = CardSerial::parse("cs000001").expect("serial");
    let host = Hostname::parse("GP-A81001-01").expect("host");
    let cx = triage_context(&*db.store, None, Some(&serial), Some(&host)).expect("context");
    assert_eq!(
        cx.card.as_ref().map(|c| c.card_serial.as_str()),
        Some("CS000001")
    );
    assert_eq!(cx.certificates.len(), 2);
    assert_eq!(cx.positions.len(), 1);
    assert_eq!(cx.software.len(), 1);
    assert_eq!(cx.readers.len(), 1, "the spare is not on the workstation");
    assert_eq!(cx.site.as_deref(), Some("A81001"), "the workstation's site");
    assert_eq!(cx.last_signing, None, "no agent has reported a signing");
    // The workstation's agent saw a signing self-test pass, then one refused; another
    // workstation's passed later. The packet's last successful signing is this one's pass.
    {
        use cardwatch_store::agents::{record_events, AgentEvent};
        let at = |s: &str| Timestamp::parse(s).expect("time");
        // Hostnames as the server keeps them: normalised.
        enrolled(db, "ag1", "gp-a81001-01", at("2026-11-20T09:00:00Z"));
        enrolled(db, "ag2", "gp-a81001-02", at("2026-11-20T09:00:00Z"));
        let test = |id: &str, when: &str, data: serde_json::Value| AgentEvent {
            id: id.into(),
            at: at(when),
            kind: "signing_test".into(),
            data,
        };
        let passed = serde_json::json!({"passed": true, "token": "CS000001"});
        let refused = serde_json::json!({"passed": false, "stage": "signing", "why": "x"});
        record_events(
            &*db.store,
            "ag1",
            &[
                test("e1", "2026-11-20T09:30:00Z", passed.clone()),
                test("e2", "2026-11-20T09:40:00Z", refused),
            ],
            at("2026-11-20T09:41:00Z"),
        )
        .expect("events");
        record_events(
            &*db.store,
            "ag2",
            &[test("e3", "2026-11-20T09:50:00Z", passed)],
            at("2026-11-20T09:51:00Z"),
        )
        .expect("events");
    }
    let cx = triage_context(&*db.store, None, Some(&serial), Some(&host)).expect("context");
    assert_eq!(
        cx.last_signing,
        Some((
            Timestamp::parse("2026-11-20T09:30:00Z").expect("time"),
            "CS000001".to_owned()
        ))
    );
    // Unknown card and workstation: nothing, not an error.
    let other = CardSerial::parse("CS999999").expect("serial");
    let cx = triage_context(&*db.store, None, Some(&other), None).expect("context");
    assert!(cx.card.is_none() && cx.certificates.is_empty() && cx.hostname.is_none());
    // A column the kind does not have is refused by name.
    let e = db
        .store
        .records_where(Kind::Cards, "colour", "red", 5)
        .unwrap_err();
    assert!(
        e.to_string().contains("cards has no column \"colour\""),
        "{e}"
    );
    // And by a scan of some sites' records, before anything is read.
    let e = db
        .store
        .scan_by(Kind::Workstations, &[0], "colour", &["A81001"], &mut |_| {
            panic!("no row is read for a column the kind does not have")
        })
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("workstations has no column \"colour\""),
        "{e}"
    );
}

fn operators_and_sessions(db: &TestDb) {
    let n = db.audit_len();
    let name = Username::parse("Asha.Patel@nhs.net").expect("name");
    let new = NewUser {
        username: name.clone(),
        display_name: "Asha Patel".into(),
        role: Role::PracticeManager,
        organisations: vec![OdsCode::parse("A81001").expect("ods")],
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    };
    db.store.add_user(&new, &change()).expect("add");
    let e = db.store.add_user(&new, &change()).unwrap_err();
    assert!(e.to_string().contains("already an operator"), "{e}");
    let u = db.store.user(&name).expect("read").expect("there");
    assert_eq!(u.user, new);
    assert!(!u.disabled && u.failures == 0);
    assert_eq!(db.store.users().expect("all").len(), 1);

    let at = change().at;
    let later = |s: i64| Timestamp::from_unix(at.unix() + s);
    db.store
        .record_sign_in(&name, false, later(1))
        .expect("fail");
    db.store
        .record_sign_in(&name, false, later(2))
        .expect("fail");
    let u = db.store.user(&name).expect("read").expect("there");
    assert_eq!((u.failures, u.last_failure), (2, Some(later(2))));
    db.store.record_sign_in(&name, true, later(3)).expect("ok");
    assert_eq!(
        db.store.user(&name).expect("read").expect("there").failures,
        0
    );

    db.store
        .create_session("hash-1", &name, "csrf-1", later(3), later(3600))
        .expect("session");
    let (who, csrf) = db
        .store
        .session("hash-1", later(10))
        .expect("read")
        .expect("live");
    assert_eq!(
        (who.user.username.as_str(), csrf.as_str()),
        ("asha.patel@nhs.net", "csrf-1")
    );
    assert!(
        db.store
            .session("hash-1", later(3600))
            .expect("read")
            .is_none(),
        "expired"
    );
    assert!(db
        .store
        .session("other", later(10))
        .expect("read")
        .is_none());
    // A new password ends the sessions; so does disabling.
    db.store
        .set_user_password(&name, "$argon2id$new", &change())
        .expect("reset");
    assert!(db
        .store
        .session("hash-1", later(10))
        .expect("read")
        .is_none());
    db.store
        .create_session("hash-2", &name, "csrf-2", later(20), later(3600))
        .expect("session");
    db.store
        .set_user_disabled(&name, true, &change())
        .expect("disable");
    assert!(db
        .store
        .session("hash-2", later(30))
        .expect("read")
        .is_none());
    assert!(db.store.user(&name).expect("read").expect("there").disabled);
    db.store
        .set_user_disabled(&name, false, &change())
        .expect("enable");
    db.store
        .create_session("hash-3", &name, "csrf-3", later(40), later(3600))
        .expect("session");
    db.store.end_session("hash-3").expect("end");
    assert!(db
        .store
        .session("hash-3", later(50))
        .expect("read")
        .is_none());
    let nobody = Username::parse("nobody").expect("name");
    let e = db
        .store
        .set_user_disabled(&nobody, true, &change())
        .unwrap_err();
    assert!(e.to_string().contains("no operator nobody"), "{e}");

    let records = db.store.audit_records(n as i64, 20).expect("audit");
    let actions: Vec<&str> = records.iter().map(|r| r.record.action.as_str()).collect();
    assert_eq!(actions, ["add", "reset-password", "disable", "enable"]);
    assert!(
        records
            .iter()
            .all(|r| !r.record.after.as_deref().unwrap_or("").contains("argon2")),
        "no password hash in the audit log"
    );
}

fn tokens_are_kept_by_hash_and_revoked(db: &TestDb) {
    let name = Username::parse("robot").expect("name");
    db.store
        .add_user(
            &NewUser {
                username: name.clone(),
                display_name: "Monitoring".into(),
                role: Role::Support,
                organisations: vec![OdsCode::parse("QOP").expect("ods")],
                password_hash: "$argon2id$x".into(),
            },
            &change(),
        )
        .expect("add");
    let n = db.audit_len();
    let token = |id: &str, kind: TokenKind, site: Option<&str>| Token {
        id: id.into(),
        username: name.clone(),
        name: format!("{id} for tests"),
        kind,
        site: site.map(|s| OdsCode::parse(s).expect("ods")),
        created_at: change().at,
        revoked_at: None,
    };
    let api = token("t1", TokenKind::Api, None);
    let cal = token("t2", TokenKind::Calendar, Some("A81001"));
    db.store.add_token(&api, "hash-1", &change()).expect("add");
    db.store.add_token(&cal, "hash-2", &change()).expect("add");
    let (t, u) = db.store.live_token("hash-1").expect("read").expect("live");
    assert_eq!((t, u.user.username), (api.clone(), name.clone()));
    assert_eq!(
        db.store.tokens(Some(&name)).expect("list"),
        vec![api.clone(), cal.clone()]
    );
    assert_eq!(db.store.tokens(None).expect("list").len(), 2);
    assert!(db.store.live_token("nope").expect("read").is_none());
    db.store.revoke_token("t1", &change()).expect("revoke");
    db.store
        .revoke_token("t1", &change())
        .expect("revoking twice is fine");
    assert!(db.store.live_token("hash-1").expect("read").is_none());
    assert!(db.store.tokens(None).expect("list")[0].revoked_at.is_some());
    // A disabled owner's tokens stop working.
    db.store
        .set_user_disabled(&name, true, &change())
        .expect("disable");
    assert!(db.store.live_token("hash-2").expect("read").is_none());
    let e = db
        .store
        .add_token(&token("t3", TokenKind::Api, None), "hash-3", &change())
        .unwrap_err();
    assert!(e.to_string().contains("disabled"), "{e}");
    let e = db.store.revoke_token("t9", &change()).unwrap_err();
    assert!(e.to_string().contains("no token t9"), "{e}");
    let records = db.store.audit_records(n as i64, 20).expect("audit");
    let actions: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.record.action.as_str(), r.record.entity_kind.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("add", "token"),
            ("add", "token"),
            ("revoke", "token"),
            ("disable", "user")
        ]
    );
    assert!(records
        .iter()
        .all(|r| !format!("{:?}", r.record).contains("hash-")));
}

fn audit_search_filters_and_pages_newest_first(db: &TestDb) {
    seeded(db);
    let card = CardSerial::parse("CS000001").expect("serial");
    let someone = Change {
        actor: "ra-agent".into(),
        at: change().at,
    };
    db.store
        .set_card_status(&card, CardStatus::Locked, "three wrong passcodes", &someone)
        .expect("lock");
    db.store
        .set_card_status(&card, CardStatus::Active, "unlocked by sponsor", &someone)
        .expect("unlock");
    let all = db
        .store
        .audit_search(&AuditQuery {
            limit: 100,
            ..AuditQuery::default()
        })
        .expect("search");
    assert_eq!(all.len(), db.audit_len());
    assert!(
        all.windows(2).all(|w| w[0].record.seq > w[1].record.seq),
        "newest first"
    );
    let by_actor = db
        .store
        .audit_search(&AuditQuery {
            actor: Some("ra-agent".into()),
            limit: 100,
            ..AuditQuery::default()
        })
        .expect("search");
    assert_eq!(by_actor.len(), 2);
    assert_eq!(by_actor[0].record.note, "unlocked by sponsor");
    let by_key = db
        .store
        .audit_search(&AuditQuery {
            entity_kind: Some(by_actor[0].record.entity_kind.clone()),
            entity_key: Some("CS000001".into()),
            limit: 1,
            ..AuditQuery::default()
        })
        .expect("search");
    assert_eq!(by_key.len(), 1, "the limit holds");
    let older = db
        .store
        .audit_search(&AuditQuery {
            actor: Some("ra-agent".into()),
            before_seq: Some(by_actor[0].record.seq),
            limit: 100,
            ..AuditQuery::default()
        })
        .expect("search");
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].record.note, "three wrong passcodes");
    assert!(db
        .store
        .audit_search(&AuditQuery {
            actor: Some("nobody".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .expect("search")
        .is_empty());
}

fn text_with_backslashes_and_quotes_round_trips(db: &TestDb) {
    let orgs = "ods_code,name,type,parent_ods,status,closed_on\nQ0001,\"Back\\slash \\N and \\t, \"\"quoted\"\"\",icb,,closed,1999-12-31\n";
    import(db, &[ImportInput::bytes("organisations.csv", orgs)]);
    let mut out = Vec::new();
    cardwatch_store::export(&*db.store, Kind::Organisations, Format::Csv, &mut out)
        .expect("export");
    assert_eq!(String::from_utf8(out).expect("utf-8"), orgs);
}

/// Dates and times either side of 2000-01-01 (PostgreSQL's binary epoch), both booleans, whole
/// numbers and empty optional fields come back from the store as they went in.
fn every_value_type_round_trips(db: &TestDb) {
    let people = "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles
555123456791,Old Hand,,,A81001,1999-12-31,yes,
555123456792,New Hand,new@nhs.net,Nurse,A81001,2000-01-01,no,sponsor
";
    let cards = "card_serial,holder_uuid,series,status,issued_on,last_used_on
CS000003,555123456791,4,retired,1998-03-01,1999-12-31
CS000004,555123456792,10,active,2000-01-02,
";
    let workstations =
        "hostname,site_ods,os,os_build,update_ring,last_seen,update_window,applications
gp-a81001-01,A81001,Windows 10,19045,canary,1999-12-31T23:59:59Z,,e-rs emis-web eps
gp-a81001-02,A81001,Windows 11,22631,broad,2000-01-01T00:00:01Z,,
";
    seeded(db);
    import(
        db,
        &[
            ImportInput::bytes("people.csv", people),
            ImportInput::bytes("cards.csv", cards),
            ImportInput::bytes("workstations.csv", workstations),
        ],
    );
    let exported = |kind: Kind| {
        let mut out = Vec::new();
        cardwatch_store::export(&*db.store, kind, Format::Csv, &mut out).expect("export");
        String::from_utf8(out).expect("utf-8")
    };
    let people_out = exported(Kind::People);
    for line in people.lines().skip(1) {
        assert!(people_out.contains(line), "{line} in\n{people_out}");
    }
    let cards_out = exported(Kind::Cards);
    for line in cards.lines().skip(1) {
        assert!(cards_out.contains(line), "{line} in\n{cards_out}");
    }
    assert_eq!(exported(Kind::Workstations), workstations);
}

fn reopening_migrates_once(db: &TestDb) {
    seeded(db);
    let again = cardwatch_store::open(&db.url).expect("reopen");
    assert_eq!(
        again.counts().expect("counts"),
        db.store.counts().expect("counts")
    );
}

fn expiring_soonest_first(db: &TestDb) {
    import(db, &demo_inputs(2, 3));
    let list = db.store.expiring_certificates(20).expect("expiring");
    assert_eq!(list.len(), 20);
    assert!(list.windows(2).all(|w| w[0].not_after <= w[1].not_after));
}

fn bulk() -> ImportOptions {
    ImportOptions {
        bulk_from_bytes: Some(0),
        ..ImportOptions::default()
    }
}

fn bulk_load_matches_row_by_row(db: &TestDb) {
    let schema = db.schema_objects();
    let inputs = demo_inputs(3, 11);
    db.store
        .import(&inputs, &bulk(), &change())
        .unwrap_or_else(|e| panic!("bulk import: {e:?}"));
    assert_eq!(db.schema_objects(), schema, "indexes and keys are back");
    let row_by_row = if db.store.backend() == cardwatch_store::Backend::Sqlite {
        TestDb::sqlite()
    } else {
        TestDb::postgres()
    };
    import(&row_by_row, &inputs);
    assert_eq!(db.snapshot(), row_by_row.snapshot());
    // The keys are in force over the rows loaded and for what comes after.
    assert_eq!(db.unvalidated_keys(), Vec::<String>::new());
    let orphan = "INSERT INTO cards (card_serial, holder_uuid, series, status, issued_on)
                  VALUES ('CSORPHAN', '999999999999', 9, 'active', '2024-01-10')";
    let refused = db.try_raw(orphan).expect_err("a card with no holder");
    assert!(refused.to_lowercase().contains("foreign key"), "{refused}");
    // Loaded in bulk, then changed row by row: the usual rules hold.
    let again = db.store.import(&inputs, &bulk(), &change()).expect("again");
    assert!(again.files.iter().all(|f| f.unchanged == f.rows));
}

/// The UUID of the `i`th person of [`many_people_and_cards`].
fn many_uuid(i: usize) -> usize {
    600_000_000_000 + i
}

/// A people file of `n` people at one site and a cards file whose rows are `card(0..n)`.
fn many_people_and_cards(n: usize, card: impl Fn(usize) -> String) -> (String, String) {
    use std::fmt::Write as _;
    let mut people = String::from(PEOPLE.lines().next().expect("header"));
    let mut cards = String::from(CARDS.lines().next().expect("header"));
    for i in 0..n {
        write!(people, "\n{},Person {i},,GP,A81001,,no,", many_uuid(i)).expect("people");
        write!(cards, "\n{}", card(i)).expect("cards");
    }
    people.push('\n');
    cards.push('\n');
    (people, cards)
}

/// Files of several batches (the reader hands the writer `BATCH` rows at a time), into empty
/// tables: problems in later batches are named at their lines, a key repeated across batches is
/// caught, references to another file of the same import are found across batches, and a good
/// import writes every row once — in a bulk load and row by row.
fn imports_larger_than_a_batch(db: &TestDb) {
    import(
        db,
        &[
            ImportInput::bytes("organisations.csv", ORGS),
            ImportInput::bytes("sites.csv", SITES),
        ],
    );
    // Three batches, the last one partial.
    let n = 2 * cardwatch_store::import::BATCH + 5_000;
    let card = |i: usize| format!("CS{i:08},{},9,active,2024-01-10,2026-11-20", many_uuid(i));
    let (people, cards) = many_people_and_cards(n, card);
    // Line numbers: the header is line 1, row i is line i + 2.
    let wrong_status = cardwatch_store::import::BATCH + 10;
    let mut bad = cards.replacen(
        &card(wrong_status),
        &card(wrong_status).replace(",active,", ",misplaced,"),
        1,
    );
    bad.push_str(&format!("{}\n", card(0)));
    bad.push_str("CSX0000001,699999999999,9,active,2024-01-10,2026-11-20\n");
    let inputs = |cards: &str| {
        [
            ImportInput::bytes("people.csv", people.clone()),
            ImportInput::bytes("cards.csv", cards.to_owned()),
        ]
    };
    for options in [bulk(), ImportOptions::default()] {
        let p = refused(db, &inputs(&bad), &options);
        assert_eq!(p.len(), 3, "{p:#?}");
        assert_at(&p[0], wrong_status as u64 + 2, "status", "not one of");
        assert_at(&p[1], n as u64 + 2, "card_serial", "line 2");
        assert_at(&p[2], n as u64 + 3, "holder_uuid", "no such person");
    }
    let report = db
        .store
        .import(&inputs(&cards), &bulk(), &change())
        .expect("good");
    let counts = db.store.counts().expect("counts");
    for kind in [Kind::People, Kind::Cards] {
        let count = counts.iter().find(|(k, _)| *k == kind).map(|c| c.1);
        assert_eq!(count, Some(n as i64), "{kind}");
    }
    assert!(report
        .files
        .iter()
        .all(|f| f.rows == n as u64 && f.created == n as u64));
    // Again, row by row against what is there: nothing changes, nothing is audited.
    let audit = db.audit_len();
    let again = db
        .store
        .import(&inputs(&cards), &ImportOptions::default(), &change())
        .expect("again");
    assert!(again
        .files
        .iter()
        .all(|f| f.unchanged == n as u64 && f.created == 0));
    assert_eq!(db.audit_len(), audit);
}

/// A file into an empty table whose later batches name a key that only the store holds (no file
/// of the import does): the rows around such a lookup, before and after it, are each written
/// once (PostgreSQL streams the batches into one `COPY` and ends it there), and one that names
/// nothing is reported at its line — in a bulk load and row by row.
fn empty_table_batches_around_a_lookup(db: &TestDb) {
    let stored = "699999999998";
    import(
        db,
        &[
            ImportInput::bytes("organisations.csv", ORGS),
            ImportInput::bytes("sites.csv", SITES),
            ImportInput::bytes(
                "people.csv",
                format!(
                    "{}\n{stored},Kept,,GP,A81001,,no,\n",
                    PEOPLE.lines().next().expect("header")
                ),
            ),
        ],
    );
    let batch = cardwatch_store::import::BATCH;
    let n = 3 * batch + 7;
    // The second and fourth batches each hold one card of the stored person.
    let of_stored = [batch + 3, 3 * batch + 1];
    let card = |i: usize| {
        let holder = if of_stored.contains(&i) {
            stored.to_owned()
        } else {
            many_uuid(i).to_string()
        };
        format!("CS{i:08},{holder},9,active,2024-01-10,")
    };
    let (people, cards) = many_people_and_cards(n, card);
    let inputs = |cards: &str| {
        [
            ImportInput::bytes("people.csv", people.clone()),
            ImportInput::bytes("cards.csv", cards.to_owned()),
        ]
    };
    // A holder no one has, in the third batch: named at its line (row i is line i + 2).
    let nobody = 2 * batch + 5;
    let bad = cards.replacen(
        &format!("CS{nobody:08},{}", many_uuid(nobody)),
        &format!("CS{nobody:08},699999999997"),
        1,
    );
    for options in [bulk(), ImportOptions::default()] {
        let p = refused(db, &inputs(&bad), &options);
        assert_at(one(&p), nobody as u64 + 2, "holder_uuid", "no such person");
    }
    let report = db
        .store
        .import(&inputs(&cards), &bulk(), &change())
        .expect("good");
    let cards_file = &report.files[1];
    assert_eq!((cards_file.rows, cards_file.created), (n as u64, n as u64));
    let counts = db.store.counts().expect("counts");
    assert_eq!(
        counts.iter().find(|(k, _)| *k == Kind::Cards).map(|c| c.1),
        Some(n as i64)
    );
    let mut exported = Vec::new();
    cardwatch_store::export(
        &*db.store,
        Kind::Cards,
        cardwatch_store::Format::Csv,
        &mut exported,
    )
    .expect("export");
    let exported = String::from_utf8(exported).expect("utf-8");
    for i in [
        0,
        batch - 1,
        batch,
        batch + 3,
        batch + 4,
        3 * batch + 1,
        n - 1,
    ] {
        let line = card(i);
        assert_eq!(exported.matches(&line).count(), 1, "{line}");
    }
}

fn bulk_load_refused_restores_everything(db: &TestDb) {
    seeded(db);
    let schema = db.schema_objects();
    let positions =
        "holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on
555123456789,A81001,R8000,Clinical Practitioner,B0420,active,,2024-01-10
555123456790,A99999,R8001,Nurse,,active,,2024-01-10
";
    let p = refused(
        db,
        &[ImportInput::bytes("positions.csv", positions)],
        &bulk(),
    );
    assert_at(one(&p), 3, "ods_code", "no such organisation");
    assert_eq!(db.schema_objects(), schema);
}

/// A later file's references to an earlier file's keys are recognised without asking the
/// database only when they are certainly the same key: one that differs by a leading zero (a
/// 13-digit UUID beside a 12-digit one of the same number) or by case-folded text that could be
/// hashed alike is still looked up, and named when it is missing — in a bulk load and row by row.
fn references_to_an_earlier_file_are_matched_exactly(db: &TestDb) {
    for options in [bulk(), ImportOptions::default()] {
        let orgs_sites = &base()[..2];
        let cards = "card_serial,holder_uuid,series,status,issued_on,last_used_on
CS000001,555123456789,9,active,2024-01-10,
CS000002,0555123456789,9,active,2024-01-10,
CS000003,555123456790,9,active,2024-01-10,
";
        let refused = |files: &[(&str, &str)]| {
            let mut inputs = orgs_sites.to_vec();
            inputs.push(ImportInput::bytes("people.csv", PEOPLE));
            inputs.extend(
                files
                    .iter()
                    .map(|&(name, text)| ImportInput::bytes(name, text)),
            );
            let err = db
                .store
                .import(&inputs, &options, &change())
                .expect_err("a reference to nothing");
            assert_eq!(db.store.counts().expect("counts")[3], (Kind::Cards, 0));
            match err {
                StoreError::Rejected(p) => p,
                other => panic!("expected a rejection: {other}"),
            }
        };
        let p = refused(&[("cards.csv", cards)]);
        assert_at(one(&p), 3, "holder_uuid", "no such person");
        // The certificates file names its cards by serial; a long or lower-case serial's code is
        // a hash, and a hash is never trusted on its own.
        let cards = "card_serial,holder_uuid,series,status,issued_on,last_used_on
CS0000000000000000001,555123456789,9,active,2024-01-10,
";
        let certs = "card_serial,purpose,serial_number,issuer,not_before,not_after,hash_algorithm
CS0000000000000000001,authentication,0A1B,NHS Level 1B,2024-01-10,2027-01-09,sha256
CS0000000000000000002,authentication,0A1C,NHS Level 1B,2024-01-10,2027-01-09,sha256
";
        let p = refused(&[("cards.csv", cards), ("certificates.csv", certs)]);
        assert_at(one(&p), 3, "card_serial", "no such card");
    }
}

// ---- bad input: one test per kind of error, each naming line and column ----

fn damaged_uuid(db: &TestDb) {
    let text = PEOPLE.replace("555123456790", "5.5512E+11");
    let p = rejected(db, "people.csv", &text);
    assert_at(one(&p), 3, "uuid", "spreadsheet");
    assert_eq!(p[0].value.as_deref(), Some("5.5512E+11"));
    assert!(
        p[0].to_string()
            .starts_with("people.csv:3: uuid: 5.5512E+11: "),
        "{}",
        p[0]
    );
}

fn crlf_files_name_the_right_line(db: &TestDb) {
    // As a spreadsheet on Windows saves it: every line ends in CRLF.
    let text = PEOPLE
        .replace("555123456790", "5.5512E+11")
        .replace('\n', "\r\n");
    let p = rejected(db, "people.csv", &text);
    assert_at(one(&p), 3, "uuid", "spreadsheet");
    let text = format!("{PEOPLE}55512345678,Jo Bloggs,,GP,A81001,,no,\n").replace('\n', "\r\n");
    assert_at(
        one(&rejected(db, "people.csv", &text)),
        4,
        "uuid",
        "11 digits",
    );
}

fn positions_are_reviewed_and_moved_on(db: &TestDb) {
    use cardwatch_core::vocab::PositionStatus;
    use cardwatch_store::positions::set_position_status;
    use cardwatch_store::reviews::{decide, to_review, Decision, ReviewQuery};
    seeded(db);
    import(
        db,
        &[ImportInput::bytes(
            "positions.csv",
            "holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on\n\
             555123456789,A81001,R8000,Clinical Practitioner,B0570,active,2024-01-02,2024-01-05\n\
             555123456790,A81001,R8001,Receptionist,,requested,2026-11-20,\n",
        )],
    );
    let store = &*db.store;
    let t = |s: i64| Timestamp::from_unix(1_800_000_000 + s);
    let at = |s: i64| Change {
        actor: "web:ra".into(),
        at: t(s),
    };
    let all = ReviewQuery {
        sites: Some(vec!["A81001".into()]),
        not_since: None,
        offset: 0,
        limit: 10,
    };
    let (n, list) = to_review(store, &all).unwrap();
    assert_eq!(n, 1, "only positions in force are reviewed");
    assert_eq!(
        (
            list[0].role_code.as_str(),
            list[0].approved_on.as_deref(),
            &list[0].last
        ),
        ("R8000", Some("2024-01-05"), &None)
    );
    let audit = db.audit_len();
    decide(
        store,
        "555123456789",
        "A81001",
        "R8000",
        Decision::Keep,
        "still a GP here",
        &at(0),
    )
    .unwrap();
    decide(
        store,
        "555123456789",
        "A81001",
        "R8000",
        Decision::Keep,
        "checked again",
        &at(10),
    )
    .unwrap();
    assert_eq!(db.audit_len(), audit + 2);
    let last = to_review(store, &all).unwrap().1[0]
        .last
        .clone()
        .expect("reviewed");
    assert_eq!(
        (last.at, last.reason.as_str()),
        (t(10), "checked again"),
        "the newest decision"
    );
    let due = ReviewQuery {
        not_since: Some(t(5)),
        ..all.clone()
    };
    assert_eq!(to_review(store, &due).unwrap().0, 0, "reviewed since");
    let elsewhere = ReviewQuery {
        sites: Some(vec!["B99999".into()]),
        ..all.clone()
    };
    assert_eq!(to_review(store, &elsewhere).unwrap().0, 0);

    // The request is approved (dated), then brought into force; a step back is refused.
    let today = cardwatch_core::date::Date::parse("2026-11-27").unwrap();
    let ra = at(20);
    let from = set_position_status(
        store,
        "555123456790",
        "A81001",
        "R8001",
        PositionStatus::Approved,
        today,
        &ra,
    )
    .unwrap();
    assert_eq!(from, PositionStatus::Requested);
    let e = set_position_status(
        store,
        "555123456790",
        "A81001",
        "R8001",
        PositionStatus::Requested,
        today,
        &ra,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("can become active or removed"),
        "{e}"
    );
    set_position_status(
        store,
        "555123456790",
        "A81001",
        "R8001",
        PositionStatus::Active,
        today,
        &ra,
    )
    .unwrap();
    let (n, list) = to_review(store, &all).unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        list.iter()
            .find(|r| r.role_code == "R8001")
            .and_then(|r| r.approved_on.clone())
            .as_deref(),
        Some("2026-11-27")
    );
    let e = set_position_status(
        store,
        "555123456790",
        "A81001",
        "R9999",
        PositionStatus::Active,
        today,
        &ra,
    )
    .unwrap_err();
    assert!(e.to_string().contains("holds no position"), "{e}");
}

/// An agent enrolled on `hostname` at `at` with a token of its own (the token's and the
/// credential's hashes named after the agent).
fn enrolled(db: &TestDb, agent: &str, hostname: &str, at: Timestamp) {
    use cardwatch_store::agents::{add_enrolment_token, enrol};
    let change = Change {
        actor: "cli:root".into(),
        at,
    };
    let token = format!("h-{agent}");
    let expires = Timestamp::from_unix(at.unix() + 3600);
    add_enrolment_token(
        &*db.store,
        &token,
        &format!("et-{agent}"),
        expires,
        None,
        &change,
    )
    .expect("enrolment token");
    enrol(
        &*db.store,
        &token,
        agent,
        hostname,
        "0.1.0",
        &format!("c-{agent}"),
        &change,
    )
    .expect("enrol");
}

fn agents_clocks_reach_the_health_check(db: &TestDb) {
    use cardwatch_store::agents::{note_clock, revoke_agent};
    let store = &*db.store;
    let t = |s: i64| Timestamp::from_unix(1_800_000_000 + s);
    let at = |s: i64| Change {
        actor: "cli:root".into(),
        at: t(s),
    };
    for agent in ["ag1", "ag2"] {
        enrolled(db, agent, "a81001-ws001", t(1));
    }
    note_clock(store, "ag1", 400, t(10)).unwrap();
    note_clock(store, "ag2", -3, t(20)).unwrap();
    let clocks = cardwatch_store::load_estate(store).unwrap().clocks;
    assert_eq!(clocks.len(), 1, "one workstation, its newest report");
    assert_eq!(
        (
            clocks[0].hostname.as_str(),
            clocks[0].offset_seconds,
            clocks[0].at
        ),
        ("a81001-ws001", -3, t(20))
    );
    revoke_agent(store, "ag2", &at(30)).unwrap();
    let clocks = cardwatch_store::load_estate(store).unwrap().clocks;
    assert_eq!(
        clocks[0].offset_seconds, 400,
        "a revoked agent's reports no longer count"
    );
}

/// What a scrape reads for `cardwatch_sites_agents_silent`: per site with core hours, its live
/// agents (through their workstations) and their newest contact, in one grouped query.
fn site_agents_are_read_for_the_silence_metrics(db: &TestDb) {
    use cardwatch_store::agents::{agent_seen, revoke_agent};
    use cardwatch_store::observe::{site_agents, SiteAgents};
    seeded(db);
    let store = &*db.store;
    let t = |s: i64| Timestamp::from_unix(1_800_000_000 + s);
    import(
        db,
        &[
            ImportInput::bytes(
                "sites.csv",
                "site_ods,organisation_ods,name,core_hours\nB82002,A81001,Hill Branch,Sat 09:00-12:00\nC83003,A81001,Annexe,\n",
            ),
            ImportInput::bytes(
                "workstations.csv",
                "hostname,site_ods,os,os_build,update_ring,last_seen,update_window\n\
                 ws-a1,A81001,,,pilot,,\nws-a2,A81001,,,pilot,,\nws-a3,A81001,,,pilot,,\n\
                 ws-b1,B82002,,,pilot,,\nws-c1,C83003,,,pilot,,\n",
            ),
        ],
    );
    enrolled(db, "ag1", "ws-a1", t(0));
    enrolled(db, "ag2", "ws-a2", t(0));
    enrolled(db, "ag3", "ws-b1", t(0));
    enrolled(db, "ag4", "ws-c1", t(0));
    enrolled(db, "ag5", "not-a-workstation", t(0));
    // ag1 was heard last but is revoked: its contact must not hide ag2's silence.
    agent_seen(store, "c-ag2", "0.1.0", t(500)).unwrap();
    agent_seen(store, "c-ag1", "0.1.0", t(900)).unwrap();
    revoke_agent(
        store,
        "ag1",
        &Change {
            actor: "cli:root".into(),
            at: t(950),
        },
    )
    .unwrap();
    assert_eq!(
        site_agents(store).unwrap(),
        vec![
            SiteAgents {
                core_hours: "Mon-Fri 08:00-18:30".into(),
                agents: 1,
                last_seen: Some(t(500).unix()),
            },
            SiteAgents {
                core_hours: "Sat 09:00-12:00".into(),
                agents: 1,
                last_seen: Some(t(0).unix()),
            },
        ],
        "the annexe has no hours; ag5's host is no workstation"
    );
}

/// Each site's last refresh of its card data (migration 0017): set by an import naming its cards,
/// changed or not, and by an agent's report, never moved back, and not by a check-only run.
fn site_refreshes_follow_imports_and_agents(db: &TestDb) {
    use cardwatch_store::refreshes::{note_site_refreshed, site_refreshes};
    let store = &*db.store;
    let t = |s: i64| Timestamp::from_unix(1_800_000_000 + s);
    let run = |inputs: &[ImportInput], at: i64, check_only: bool| {
        let options = ImportOptions {
            check_only,
            ..ImportOptions::default()
        };
        let change = Change {
            actor: "cli:root".into(),
            at: t(at),
        };
        store.import(inputs, &options, &change).expect("import");
    };
    let refreshed = || -> Vec<(String, String, Option<Timestamp>)> {
        site_refreshes(store)
            .unwrap()
            .into_iter()
            .map(|r| (r.site_ods, r.name, r.refreshed_at))
            .collect()
    };
    let other = "site_ods,organisation_ods,name,core_hours\nB82002,A81001,Hill Branch,\n";
    let mut first = base();
    first.push(ImportInput::bytes("more-sites.csv", other));
    run(&first, 0, false);
    let riverside = |at| {
        (
            "A81001".to_owned(),
            "Riverside Surgery".to_owned(),
            Some(t(at)),
        )
    };
    let hill = ("B82002".to_owned(), "Hill Branch".to_owned(), Some(t(0)));
    assert_eq!(refreshed(), vec![riverside(0), hill.clone()]);
    // The certificates again, unchanged: no audit record, but Riverside's data is fresh.
    let audit = db.audit_len();
    run(&[ImportInput::bytes("certificates.csv", CERTS)], 100, false);
    assert_eq!(db.audit_len(), audit);
    assert_eq!(refreshed(), vec![riverside(100), hill.clone()]);
    run(&[ImportInput::bytes("cards.csv", CARDS)], 150, true);
    assert_eq!(
        refreshed()[0],
        riverside(100),
        "a check-only import refreshes nothing"
    );
    note_site_refreshed(store, "A81001", t(50)).unwrap();
    assert_eq!(
        refreshed()[0],
        riverside(100),
        "an older report does not move it back"
    );
    note_site_refreshed(store, "B82002", t(200)).unwrap();
    assert_eq!(
        refreshed(),
        vec![riverside(100), (hill.0, hill.1, Some(t(200)))]
    );
}

const INTEGRATIONS: &str = "integration,service,site_ods,clinical_system,required_roles,required_activity_codes,emis_cdb,service_emis_cdb,systmone_profile,service_systmone_profile
ht1-a81001,Healthtech-1 Digital Assistant,A81001,emis,R8008,,01234,01243,,
";
const INTEGRATION_CARDS: &str = "integration,card_serial,emis_username
ht1-a81001,CS000001,a81001.assist1
";

fn integration_profiles_reach_the_health_check(db: &TestDb) {
    seeded(db);
    let positions =
        "holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on
555123456789,A81001,R8008,Admin,B0825,active,,2024-01-10
";
    import(
        db,
        &[
            ImportInput::bytes("positions.csv", positions),
            ImportInput::bytes("integrations.csv", INTEGRATIONS),
            ImportInput::bytes("integration_cards.csv", INTEGRATION_CARDS),
        ],
    );
    let mut estate = cardwatch_store::load_estate(&*db.store).unwrap();
    let cx = Context {
        today: today(),
        catalogue: &Catalogue::shipped(),
        thresholds: &Thresholds::default(),
        calendar: &Calendar::england_and_wales(),
    };
    let found: Vec<(String, String)> = check_only(&mut estate, &cx, &[Family::Integrations])
        .into_iter()
        .map(|f| (f.rule.to_owned(), f.subject))
        .collect();
    assert_eq!(
        found,
        [("integration-emis-cdb".to_owned(), "ht1-a81001".to_owned())],
        "the CDB the service holds differs (leading zero kept); the card is ready"
    );
    // A triage of the card knows the service it acts with.
    let card = CardSerial::parse("CS000001").unwrap();
    let cx = triage_context(&*db.store, None, Some(&card), None).unwrap();
    let [(i, link)] = &cx.integrations[..] else {
        panic!("one integration: {:?}", cx.integrations)
    };
    assert_eq!(
        (i.integration.as_str(), link.emis_username.as_deref()),
        ("ht1-a81001", Some("a81001.assist1"))
    );
}

fn integration_files_refused_with_every_problem(db: &TestDb) {
    seeded(db);
    let integrations = format!(
        "{INTEGRATIONS}s1-a81001,Healthtech-1,A81001,systmone,,,55555,,Digital Assistant,Digital Assistant\n"
    );
    let cards = format!("{INTEGRATION_CARDS}ht1-b99999,CS000002,\nht1-a81001,CS999999,\n");
    let p = refused(
        db,
        &[
            ImportInput::bytes("integrations.csv", integrations),
            ImportInput::bytes("integration_cards.csv", cards),
        ],
        &ImportOptions::default(),
    );
    assert_eq!(p.len(), 3, "{p:#?}");
    assert_at(&p[0], 3, "emis_cdb", "only for emis practices");
    assert_at(&p[1], 3, "integration", "no such integration");
    assert_at(&p[2], 4, "card_serial", "no such card");
}

fn reports_count_time_lost_and_incidents_by_software_version(db: &TestDb) {
    use cardwatch_store::reports::{time_lost, version_counts};
    use cardwatch_store::IncidentQuery;
    seeded(db);
    let workstations = "hostname,site_ods,os,os_build,update_ring,last_seen,update_window
ws1,A81001,Windows 11,22631,canary,,
ws2,A81001,Windows 11,22631,,,
ws3,A81001,Windows 11,26100,,,
";
    let readers = "reader_serial,vendor,model,firmware,hostname,site_ods,status
RD1,HID Omnikey,3121,6.00,ws1,A81001,in_service
RD2,HID Omnikey,3121,,ws2,A81001,in_service
";
    let software = "hostname,component,version
ws1,oberthur-middleware,6.1.0.3
ws2,oberthur-middleware,6.1.0.3
ws3,oberthur-middleware,6.2.0.4
ws3,identity-agent,2.4.10.0
";
    import(
        db,
        &[
            ImportInput::bytes("workstations.csv", workstations),
            ImportInput::bytes("software.csv", software),
            ImportInput::bytes("readers.csv", readers),
        ],
    );
    // Two incidents on ws1 (one fixed in 18 minutes), one on ws3 long ago, and one passed on to
    // support after 25 minutes on no workstation (no version's failure).
    let fixed = IncidentStatus::Resolved;
    for (host, opened, closed) in [
        (
            Some("ws1"),
            "2026-11-20T09:00:00Z",
            Some(("2026-11-20T09:18:00Z", fixed)),
        ),
        (Some("ws1"), "2026-11-21T09:00:00Z", None),
        (
            Some("ws3"),
            "2026-01-01T09:00:00Z",
            Some(("2026-01-01T10:00:00Z", fixed)),
        ),
        (
            None,
            "2026-11-22T09:00:00Z",
            Some(("2026-11-22T09:25:00Z", IncidentStatus::Escalated)),
        ),
    ] {
        let id = db
            .store
            .open_incident(
                &NewIncident {
                    reporter: "reception".into(),
                    site: Some("A81001".into()),
                    card_serial: None,
                    hostname: host.map(Into::into),
                    application: None,
                    doing: None,
                    symptom: "cannot-sign".into(),
                    error_text: None,
                },
                &at(opened),
            )
            .unwrap();
        if let Some((closed, status)) = closed {
            db.store
                .close_incident(id, status, None, &at(closed))
                .unwrap();
        }
    }
    // ws3's agent: a signing self-test the card refused while signing (counted, once however
    // often it is sent) and one with a wrong PIN (the holder's, not counted).
    {
        use cardwatch_store::agents::{record_events, AgentEvent};
        let when = Timestamp::parse("2026-11-21T10:00:00Z").unwrap();
        enrolled(db, "ag3", "ws3", when);
        let test = |id: &str, stage: &str| AgentEvent {
            id: id.into(),
            at: when,
            kind: "signing_test".into(),
            data: serde_json::json!({"passed": false, "stage": stage, "why": "x"}),
        };
        let sent = [
            test("e1", "signing"),
            test("e1", "signing"),
            test("e2", "pin"),
        ];
        record_events(&*db.store, "ag3", &sent, when).unwrap();
    }
    let since = Timestamp::parse("2026-11-01T00:00:00Z").unwrap();
    let all = IncidentQuery::everything();
    assert_eq!(
        time_lost(&*db.store, &all, since).unwrap(),
        cardwatch_store::reports::TimeLost {
            incidents: 2,
            minutes: 43.0,
            passed_on: 1,
            passed_on_minutes: 25.0,
        }
    );
    let counts = version_counts(&*db.store, None, since).unwrap();
    // component version: machines/failed/failures [machines that failed]
    let got: Vec<String> = counts
        .iter()
        .map(|c| {
            format!(
                "{} {}: {}/{}/{} {:?}",
                c.component, c.version, c.machines, c.affected, c.failures, c.affected_hosts
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "identity-agent 2.4.10.0: 1/1/1 [\"ws3\"]",
            "oberthur-middleware 6.1.0.3: 2/1/2 [\"ws1\"]",
            "oberthur-middleware 6.2.0.4: 1/1/1 [\"ws3\"]",
            "reader HID Omnikey 3121 6.00: 1/1/2 [\"ws1\"]",
            "windows 22631: 2/1/2 [\"ws1\"]",
            "windows 26100: 1/1/1 [\"ws3\"]",
        ]
    );
    // By ring: ws1 (canary) failed, ws2 (broad) did not.
    let rings: Vec<String> = counts[1]
        .rings
        .iter()
        .map(|r| format!("{} {}/{}", r.ring, r.machines, r.affected))
        .collect();
    assert_eq!(rings, ["broad 1/0", "canary 1/1"]);
    let elsewhere = ["B82002".to_owned()];
    assert!(version_counts(&*db.store, Some(&elsewhere), since)
        .unwrap()
        .is_empty());
    assert!(version_counts(&*db.store, Some(&[]), since)
        .unwrap()
        .is_empty());
}

fn leavers_personal_data_is_erased_after_retention(db: &TestDb) {
    use cardwatch_store::retention::{due, erase, ERASED};
    seeded(db);
    // Both left in January 2019; Asha's card is still active, Sam's was lost.
    let left = PEOPLE
        .replace("A81001,,yes,sponsor", "A81001,2019-01-31,yes,sponsor")
        .replace(
            "Receptionist,A81001,,no,",
            "Receptionist,A81001,2019-01-31,no,",
        );
    import(db, &[ImportInput::bytes("people.csv", left)]);
    let cutoff = Date::parse("2020-11-22").unwrap();
    let uuids = |list: Vec<cardwatch_store::retention::Due>| -> Vec<String> {
        list.into_iter().map(|d| d.uuid).collect()
    };
    let sam = vec!["555123456790".to_owned()];
    assert_eq!(uuids(due(&*db.store, cutoff, None).unwrap()), sam);
    assert!(
        due(&*db.store, Date::parse("2019-01-31").unwrap(), None)
            .unwrap()
            .is_empty(),
        "not before the period has passed"
    );
    let elsewhere = ["B82002".to_owned()];
    assert!(erase(&*db.store, cutoff, Some(&elsewhere), &change())
        .unwrap()
        .is_empty());
    let n = db.audit_len();
    assert_eq!(
        uuids(erase(&*db.store, cutoff, None, &change()).unwrap()),
        sam
    );
    let mut out = Vec::new();
    cardwatch_store::export(&*db.store, Kind::People, Format::Csv, &mut out).unwrap();
    let people = String::from_utf8(out).unwrap();
    assert!(
        people.contains(&format!("555123456790,{ERASED},,,A81001,2019-01-31,no,")),
        "{people}"
    );
    assert!(
        people.contains("Dr Asha Patel"),
        "a card in use keeps its holder"
    );
    let records = db.store.audit_records(n as i64, 10).unwrap();
    assert_eq!(records.len(), 1);
    let r = &records[0].record;
    assert_eq!(
        (r.action.as_str(), r.entity_key.as_str()),
        ("erase", "555123456790")
    );
    let logged = format!("{:?}{:?}", r.before, r.after);
    assert!(
        !logged.contains("Sam") && !logged.contains("Receptionist"),
        "{logged}"
    );
    assert!(matches!(
        db.store.verify_audit().unwrap(),
        AuditVerdict::Intact(_)
    ));
    assert!(
        erase(&*db.store, cutoff, None, &change())
            .unwrap()
            .is_empty(),
        "once"
    );
}

fn uuid_lost_leading_zero(db: &TestDb) {
    // 055512345678 after a spreadsheet treated it as a number.
    let text = format!("{PEOPLE}55512345678,Jo Bloggs,,GP,A81001,,no,\n");
    let p = rejected(db, "people.csv", &text);
    assert_at(one(&p), 4, "uuid", "11 digits");
}

fn unknown_reference(db: &TestDb) {
    let text = CARDS.replace("CS000002,555123456790", "CS000002,555000000001");
    let p = rejected(db, "cards.csv", &text);
    assert_at(one(&p), 3, "holder_uuid", "no such person");
}

fn duplicate_key(db: &TestDb) {
    // One with rows after it, one the file's last row, each named once with the line it repeats;
    // the second repeats a key that came in order, the first one that did not.
    let again = "555123456790,9,active,2024-02-01,";
    let text = format!("{CARDS}CS000001,{again}\nCS000009,{again}\nCS000009,{again}\n");
    let p = rejected(db, "cards.csv", &text);
    assert_eq!(p.len(), 2, "{p:#?}");
    assert_at(&p[0], 4, "card_serial", "line 2");
    assert_at(&p[1], 6, "card_serial", "line 5");
}

fn wrong_enum_value(db: &TestDb) {
    let text = CARDS.replace(",lost,", ",misplaced,");
    let p = rejected(db, "cards.csv", &text);
    assert_at(one(&p), 3, "status", "not one of: active, locked");
}

fn impossible_date(db: &TestDb) {
    let text = CARDS.replace("2023-05-01", "2023-02-30");
    let p = rejected(db, "cards.csv", &text);
    assert_at(one(&p), 3, "issued_on", "no such day");
}

fn not_after_before_not_before(db: &TestDb) {
    let text = CERTS.replace("2024-01-10,2027-01-09,SHA", "2024-01-10,2023-01-09,SHA");
    let p = rejected(db, "certificates.csv", &text);
    assert_at(one(&p), 3, "not_after", "before not_before");
}

fn illegal_status_change(db: &TestDb) {
    let text = CARDS.replace(",lost,", ",active,");
    let p = rejected(db, "cards.csv", &text);
    assert_at(one(&p), 3, "status", "lost");
}

fn extra_column(db: &TestDb) {
    let text = CARDS
        .replace("last_used_on\n", "last_used_on,notes\n")
        .replace("2026-11-20\n", "2026-11-20,x\n")
        .replace("2023-05-01,\n", "2023-05-01,,\n");
    let p = rejected(db, "cards.csv", &text);
    let p = one(&p);
    assert_eq!(p.at, Location::File);
    assert!(p.message.contains("\"notes\" is not part of cards"), "{p}");
}

fn missing_column(db: &TestDb) {
    // issued_on is required: without it the file is refused, naming the column and the fix.
    let text =
        "card_serial,holder_uuid,series,status,last_used_on\nCS000003,555123456789,9,active,\n";
    let p = rejected(db, "cards.csv", text);
    let p = one(&p);
    assert_eq!(p.at, Location::File);
    assert!(p.message.contains("column issued_on is missing"), "{p}");
    assert!(
        p.message.contains("add it to the header"),
        "says what to do: {p}"
    );
}

// ---- Care Identity Management report exports ----

/// CIM exports as Excel saves them (byte-order mark, CRLF), with columns Cardwatch has no
/// place for.
const CIM_USERS: &str = include_str!("data/cim/users.csv");
const CIM_SMARTCARDS: &str = include_str!("data/cim/smartcards.csv");
const CIM_POSITIONS: &str = include_str!("data/cim/positions.csv");

fn cim_exports() -> Vec<ImportInput> {
    // Named as a download might be: the header, not the name, says what each holds.
    vec![
        ImportInput::bytes("CIM report 3.csv", CIM_POSITIONS),
        ImportInput::bytes("CIM report 2.csv", CIM_SMARTCARDS),
        ImportInput::bytes("CIM report 1.csv", CIM_USERS),
    ]
}

/// A CIM Users, Smartcards and Positions export import by header name through the shipped
/// mapping: names joined, values translated, unknown columns named as ignored; a person already
/// in the store keeps what the export has no column for; importing them again changes nothing.
fn cim_exports_import_by_header_name(db: &TestDb) {
    seeded(db);
    let report = import(db, &cim_exports());
    let read: Vec<_> = report
        .files
        .iter()
        .map(|f| {
            let ignored = f.ignored.iter().map(String::as_str).collect();
            (
                f.kind,
                f.cim_report.as_deref(),
                ignored,
                f.created,
                f.updated,
            )
        })
        .collect();
    assert_eq!(
        read,
        [
            (
                Kind::People,
                Some("Users"),
                vec!["User status", "Workgroups"],
                2,
                1
            ),
            (
                Kind::Cards,
                Some("Smartcards"),
                vec!["Date of expiry", "Type", "Organisation"],
                2,
                0
            ),
            (
                Kind::Positions,
                Some("Positions"),
                vec!["Name", "Start date", "End date"],
                2,
                0
            ),
        ]
    );
    let people = exported(db, Kind::People);
    for line in [
        // Renamed by the export; role, admin training and RA roles kept as stored.
        "555123456789,Asha Patel,asha.patel@nhs.net,GP,A81001,,yes,sponsor",
        "555123456791,Priya Shah,priya.shah@nhs.net,,A81001,,no,",
        "555123456792,Tom Reed,,,A81001,,no,",
    ] {
        assert!(people.contains(line), "{line} in\n{people}");
    }
    let cards = exported(db, Kind::Cards);
    for line in [
        "0912345601,555123456791,9,active,2024-12-05,",
        // Expired certificates: the card is still the holder's.
        "1012345602,555123456792,10,active,2023-03-14,",
    ] {
        assert!(cards.contains(line), "{line} in\n{cards}");
    }
    let positions = exported(db, Kind::Positions);
    for line in [
        "555123456791,A81001,R8000,GP Clinical,B0068 B0420,active,,",
        "555123456792,A81001,R8008,Receptionist,,active,,",
    ] {
        assert!(positions.contains(line), "{line} in\n{positions}");
    }
    let before = (db.snapshot(), db.audit_len());
    let again = import(db, &cim_exports());
    assert!(
        again
            .files
            .iter()
            .all(|f| f.created + f.updated == 0 && f.unchanged == f.rows),
        "{again:?}"
    );
    assert_eq!((db.snapshot(), db.audit_len()), before);
}

/// An export without a column its kind requires is refused before any row is read, naming
/// the column and the headers looked for; nothing is written.
fn cim_missing_required_column_is_refused(db: &TestDb) {
    let text = CIM_SMARTCARDS
        .replace(",Date of issue", "")
        .replace(",05/12/2024", "")
        .replace(",14/03/2023", "");
    let p = rejected(db, "smartcards-report.csv", &text);
    let p = one(&p);
    assert_eq!(p.at, Location::File, "{p}");
    for says in [
        "Smartcards report",
        "column issued_on is missing",
        "\"Date of issue\"",
        "--mapping",
    ] {
        assert!(p.message.contains(says), "{p} should say {says:?}");
    }
}

/// A bad value in an export is named by its line (CRLF counted right) and by both the
/// Cardwatch column and the export's header.
fn cim_bad_value_names_its_header(db: &TestDb) {
    seeded(db);
    let text = CIM_SMARTCARDS.replace("14/03/2023", "31/02/2023");
    let inputs = [
        ImportInput::bytes("users-report.csv", CIM_USERS),
        ImportInput::bytes("smartcards-report.csv", text),
    ];
    let p = refused(db, &inputs, &ImportOptions::default());
    assert_eq!(one(&p).file, "smartcards-report.csv");
    assert_at(one(&p), 3, "issued_on (Date of issue)", "no such day");
}

/// An operator's mapping names their export's header where the shipped one does not know it.
fn cim_operator_mapping_overrides_a_default(db: &TestDb) {
    seeded(db);
    let people = ImportInput::bytes("users.csv", CIM_USERS);
    import(db, &[people]);
    let text = CIM_SMARTCARDS.replace("Smartcard serial number", "Card No");
    let file = || vec![ImportInput::bytes("smartcards.csv", text.as_str())];
    // Unknown to the shipped mapping, the file is not recognised.
    refused(db, &file(), &ImportOptions::default());
    let mapping = cardwatch_core::cim::CimMapping::shipped()
        .with_file(
            "mine.toml",
            "[[report]]\nname = \"Smartcards\"\n[report.columns]\ncard_serial = [\"Card No\"]\n",
        )
        .expect("valid mapping");
    let options = ImportOptions {
        mapping: Some(std::sync::Arc::new(mapping)),
        ..ImportOptions::default()
    };
    let report = db
        .store
        .import(&file(), &options, &change())
        .expect("imported");
    assert_eq!(report.files[0].created, 2, "{report:?}");
    assert!(exported(db, Kind::Cards).contains("0912345601,555123456791,9,active,2024-12-05,"));
}

/// The CSV text of one kind as the store holds it.
fn exported(db: &TestDb, kind: Kind) -> String {
    let mut out = Vec::new();
    cardwatch_store::export(&*db.store, kind, Format::Csv, &mut out).expect("export");
    String::from_utf8(out).expect("utf-8")
}

/// Files written to the original contract — without the optional columns added since, or
/// without any optional column at all — import; a missing required column is still refused.
fn optional_columns_may_be_left_out(db: &TestDb) {
    let files = [
        ("organisations.csv", "ods_code,name,type\nQ0001,NHS Test ICB,icb\n"),
        ("sites.csv", "site_ods,organisation_ods,name\nA81001,Q0001,Riverside Surgery\n"),
        ("people.csv", "uuid,name,site_ods,local_admin\n555123456789,Dr Asha Patel,A81001,yes\n"),
        ("cards.csv", "card_serial,holder_uuid,series,status,issued_on\nCS000001,555123456789,9,active,2024-01-10\n"),
        ("positions.csv", "holder_uuid,ods_code,role_code,role_name,activity_codes,status,approved_on\n555123456789,Q0001,R8000,Clinical Practitioner Access Role,B0420,active,2024-01-10\n"),
        ("workstations.csv", "hostname,site_ods,os,os_build,update_ring,last_seen\nws1,A81001,Windows 11,22631,broad,\n"),
        ("readers.csv", "reader_serial,vendor,model,site_ods,status\nR1,HID,Omnikey 3021,A81001,spare\n"),
        ("lockouts.csv", "card_serial,locked_at\nCS000001,2026-11-20T10:00\n"),
        ("integrations.csv", "integration,service,site_ods,clinical_system\nht1,Healthtech-1,A81001,emis\n"),
        ("integration_cards.csv", "integration,card_serial\nht1,CS000001\n"),
    ];
    let inputs: Vec<ImportInput> = files
        .iter()
        .map(|(name, text)| ImportInput::bytes(*name, *text))
        .collect();
    let report = import(db, &inputs);
    assert!(report.files.iter().all(|f| f.created == 1), "{report:?}");
    // A new record takes empty (or the default) for what the file leaves out.
    let ws = exported(db, Kind::Workstations);
    assert!(
        ws.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("ws1,A81001,Windows 11,22631,broad,,")),
        "{ws}"
    );
    // Still refused: a missing required column, named, with what to do.
    let p = refused(
        db,
        &[ImportInput::bytes(
            "positions.csv",
            "holder_uuid,ods_code,role_code,role_name\n555123456789,Q0001,R8001,Nurse\n",
        )],
        &ImportOptions::default(),
    );
    let p = one(&p);
    assert!(
        p.message
            .contains("column status is missing — it is required"),
        "{p}"
    );
    // And an unknown or repeated column, as before.
    let p = refused(
        db,
        &[ImportInput::bytes("readers.csv", "reader_serial,vendor,model,site_ods,status,colour\nR1,HID,Omnikey 3021,A81001,spare,red\n")],
        &ImportOptions::default(),
    );
    assert!(
        one(&p)
            .message
            .contains("\"colour\" is not part of readers"),
        "{}",
        p[0]
    );
}

/// A column left out of a file says nothing about the records: re-importing a file without it
/// keeps what the store holds there, while an empty cell in a column that is there clears it.
fn absent_columns_keep_stored_values(db: &TestDb) {
    seeded(db);
    let positions =
        "holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on
555123456789,A81001,R8000,Clinical Practitioner Access Role,B0420,active,2024-01-02,2024-01-10
";
    import(db, &[ImportInput::bytes("positions.csv", positions)]);
    let stored = exported(db, Kind::Positions);
    // The same positions without requested_on: nothing changes, nothing is audited.
    let n = db.audit_len();
    let older = "holder_uuid,ods_code,role_code,role_name,activity_codes,status,approved_on
555123456789,A81001,R8000,Clinical Practitioner Access Role,B0420,active,2024-01-10
";
    let report = import(db, &[ImportInput::bytes("positions.csv", older)]);
    assert_eq!((report.files[0].unchanged, report.files[0].updated), (1, 0));
    assert_eq!(
        (exported(db, Kind::Positions), db.audit_len()),
        (stored.clone(), n)
    );
    // A change in a column that is there updates it and keeps requested_on.
    let report = import(
        db,
        &[ImportInput::bytes(
            "positions.csv",
            older.replace("B0420", "B0420 B0068"),
        )],
    );
    assert_eq!(report.files[0].updated, 1);
    let now = exported(db, Kind::Positions);
    assert!(
        now.contains(",B0068 B0420,active,2024-01-02,2024-01-10"),
        "{now}"
    );
    let update = &db.store.audit_records(n as i64, 10).expect("audit")[0].record;
    assert!(
        update
            .after
            .as_deref()
            .is_some_and(|a| a.contains("\"requested_on\":\"2024-01-02\"")),
        "{update:?}"
    );
    // An empty cell in a column that is there clears it.
    import(
        db,
        &[ImportInput::bytes(
            "positions.csv",
            positions.replace("2024-01-02", ""),
        )],
    );
    assert!(exported(db, Kind::Positions).contains(",active,,2024-01-10"));
    // Workstations without update_ring keep their ring; new ones are broad.
    let ws = "hostname,site_ods,os,os_build,update_ring,last_seen,update_window
ws1,A81001,Windows 11,22631,canary,,Tue 19:00-22:00
";
    import(db, &[ImportInput::bytes("workstations.csv", ws)]);
    let bare = "hostname,site_ods,os\nws1,A81001,Windows 11\nws2,A81001,Windows 10\n";
    let report = import(db, &[ImportInput::bytes("workstations.csv", bare)]);
    assert_eq!((report.files[0].created, report.files[0].unchanged), (1, 1));
    let now = exported(db, Kind::Workstations);
    assert!(
        now.contains("ws1,A81001,Windows 11,22631,canary,,Tue 19:00-22:00"),
        "{now}"
    );
    assert!(now.contains("ws2,A81001,Windows 10,,broad,,"), "{now}");
}

/// An ODS extract line as NHS England publishes it: 27 fields, every one quoted, CRLF.
fn ods_line(fields: &[(usize, &str)]) -> String {
    let mut f = vec![String::new(); 27];
    for &(n, v) in fields {
        f[n - 1] = v.to_owned();
    }
    let quoted: Vec<String> = f.iter().map(|v| format!("\"{v}\"")).collect();
    format!("{}\r\n", quoted.join(","))
}

fn practice(code: &str, name: &str, close: &str, status: &str, setting: &str) -> String {
    ods_line(&[
        (1, code),
        (2, name),
        (3, "Y63"),
        (4, "QHM"),
        (5, "THE HEALTH CENTRE"),
        (6, "LAWSON STREET"),
        (7, "STOCKTON-ON-TEES"),
        (8, "CLEVELAND"),
        (10, "TS18 1HU"),
        (11, "19740401"),
        (12, close),
        (13, status),
        (14, "B"),
        (15, "16C"),
        (16, "20130401"),
        (18, "01642 672351"),
        (22, "0"),
        (24, "16C"),
        (26, setting),
    ])
}

fn branch(code: &str, name: &str, parent: &str) -> String {
    ods_line(&[
        (1, code),
        (2, name),
        (3, "Y63"),
        (4, "QHM"),
        (5, "CHAPEL ROAD"),
        (7, "BILLINGHAM"),
        (10, "TS23 1AB"),
        (11, "19900101"),
        (13, "A"),
        (15, parent),
    ])
}

/// A few practices as `epraccur.csv` holds them: one open, one closed (kept, with its close
/// date), one spelled out as newer files do, and a walk-in centre (setting 1) that is not a
/// practice.
fn epraccur() -> String {
    [
        practice("A81001", "THE DENSHAM SURGERY", "", "A", "4"),
        practice("A81002", "QUEENS PARK MEDICAL CENTRE", "20250331", "C", "4"),
        practice("A81004", "ACKLAM MEDICAL CENTRE", "", "ACTIVE", "4"),
        practice("Y02625", "STOCKTON WALK-IN CENTRE", "", "A", "1"),
    ]
    .concat()
}

fn ebranchs() -> String {
    [
        branch("A81001001", "DENSHAM BRANCH SURGERY", "A81001"),
        branch("A81004001", "ACKLAM BRANCH", "A81004"),
        // Run by the walk-in centre: not a practice's branch, left out with it.
        branch("Y02625001", "WALK-IN CENTRE SATELLITE", "Y02625"),
    ]
    .concat()
}

/// `cardwatch import epraccur.csv ebranchs.csv`: practices under their ICB (and sub-ICB
/// location), branch surgeries as sites of their practice, closed practices marked closed,
/// other settings left out; names and hours the store already has are kept, and importing
/// the same extracts again changes nothing.
fn ods_extracts_become_practices_and_sites(db: &TestDb) {
    // The ICB already known by its name, and the practice's site with its hours.
    seeded(db);
    import(
        db,
        &[ImportInput::bytes(
            "organisations.csv",
            "ods_code,name,type\nQHM,NHS North East and North Cumbria ICB,icb\n",
        )],
    );
    // Branches first: they apply after the practices they name whatever the order given.
    let inputs = [
        ImportInput::bytes("ebranchs.csv", ebranchs()),
        ImportInput::bytes("epraccur.csv", epraccur()),
    ];
    let report = import(db, &inputs);
    // A81001 was Riverside Surgery under Q0001: the extract renames it and moves it to QHM.
    let files: Vec<(&str, Kind, u64, u64)> = report
        .files
        .iter()
        .map(|f| (f.file.as_str(), f.kind, f.created, f.updated))
        .collect();
    assert_eq!(
        files,
        [
            ("epraccur.csv", Kind::Organisations, 3, 1),
            ("ebranchs.csv", Kind::Organisations, 2, 0),
            ("epraccur.csv", Kind::Sites, 2, 1),
            ("ebranchs.csv", Kind::Sites, 2, 0),
        ],
        "{report:?}"
    );
    let orgs = exported(db, Kind::Organisations);
    for line in [
        "QHM,NHS North East and North Cumbria ICB,icb,,active,",
        "16C,Sub-ICB location 16C,sub_icb,QHM,active,",
        "A81001,THE DENSHAM SURGERY,gp_practice,QHM,active,",
        "A81002,QUEENS PARK MEDICAL CENTRE,gp_practice,QHM,closed,2025-03-31",
        "A81004,ACKLAM MEDICAL CENTRE,gp_practice,QHM,active,",
        "A81001001,DENSHAM BRANCH SURGERY,branch,A81001,active,",
    ] {
        assert!(orgs.lines().any(|l| l == line), "{line} in\n{orgs}");
    }
    assert!(
        !orgs.contains("Y02625"),
        "a walk-in centre is not a practice:\n{orgs}"
    );
    let sites = exported(db, Kind::Sites);
    assert!(!sites.contains("Y02625001"), "nor its branch:\n{sites}");
    for line in [
        "A81001,A81001,THE DENSHAM SURGERY,Mon-Fri 08:00-18:30",
        "A81001001,A81001,DENSHAM BRANCH SURGERY,",
        "A81002,A81002,QUEENS PARK MEDICAL CENTRE,",
        "A81004001,A81004,ACKLAM BRANCH,",
    ] {
        assert!(sites.lines().any(|l| l == line), "{line} in\n{sites}");
    }
    let before = (db.snapshot(), db.audit_len());
    let again = import(db, &inputs);
    assert!(
        again.files.iter().all(|f| f.created + f.updated == 0),
        "{again:?}"
    );
    assert_eq!((db.snapshot(), db.audit_len()), before);
    // A later extract closes a practice: an update, audited like any other.
    let closing = epraccur().replace(
        "\"19740401\",\"\",\"A\",\"B\"",
        "\"19740401\",\"20261130\",\"C\",\"B\"",
    );
    let n = db.audit_len();
    let report = import(db, &[ImportInput::bytes("epraccur.csv", closing)]);
    let updated: Vec<u64> = report.files.iter().map(|f| f.updated).collect();
    assert_eq!(updated, [1, 0], "{report:?}");
    let update = &db.store.audit_records(n as i64, 10).expect("audit")[0].record;
    assert_eq!(update.entity_key, "A81001");
    assert!(exported(db, Kind::Organisations)
        .contains("A81001,THE DENSHAM SURGERY,gp_practice,QHM,closed,2026-11-30"));
}

/// A damaged line is refused with its line number and what is wrong, and nothing is written.
fn ods_damaged_line_is_refused(db: &TestDb) {
    seeded(db);
    let damaged = [
        practice("A81001", "THE DENSHAM SURGERY", "", "A", "4"),
        practice("A81002", "QUEENS PARK MEDICAL CENTRE", "2025033", "X", "4"),
        practice("A81004", "ACKLAM MEDICAL CENTRE", "", "A", "4").replacen("\",\"", "\"\"", 1),
    ]
    .concat();
    let p = refused(
        db,
        &[
            ImportInput::bytes("epraccur.csv", damaged),
            ImportInput::bytes("ebranchs.csv", ebranchs()),
        ],
        &ImportOptions::default(),
    );
    let shown: Vec<String> = p.iter().map(ToString::to_string).collect();
    assert_at(
        &p[0],
        2,
        "column 12 (close date)",
        "is not a date as YYYYMMDD",
    );
    assert_at(&p[1], 2, "column 13 (status)", "A (active), C (closed)");
    assert_eq!(p[2].at, Location::Line(3), "{shown:#?}");
    assert!(p[2].message.contains("has 26 fields"), "{shown:#?}");
    assert!(
        p[2].to_string().starts_with("epraccur.csv:3: "),
        "{shown:#?}"
    );
    // A file named like an extract that is not one is refused before any row is read.
    let p = refused(
        db,
        &[ImportInput::bytes("epraccur.csv", ORGS)],
        &ImportOptions::default(),
    );
    assert!(
        one(&p)
            .message
            .contains("named like an ODS practices extract"),
        "{}",
        p[0]
    );
}

/// The ORD API's record of one practice: the practice, its sub-ICB location and its site;
/// without an ICB in the record the practice keeps the parent the store has.
fn ord_record_of_a_practice(db: &TestDb) {
    seeded(db);
    let ord = r#"{"Organisation": {
        "Name": "RIVERSIDE SURGERY", "Status": "Inactive",
        "Date": [{"Type": "Operational", "Start": "1974-04-01", "End": "2025-03-31"}],
        "OrgId": {"root": "2.16.840.1.113883.2.1.3.2.4.18.48", "assigningAuthorityName": "HSCIC", "extension": "A81001"},
        "Roles": {"Role": [{"id": "RO177", "primaryRole": true, "Status": "Active"}, {"id": "RO76", "primaryRole": false, "Status": "Active"}]},
        "Rels": {"Rel": [{"id": "RE4", "Status": "Active", "Target": {"OrgId": {"extension": "16C"}, "PrimaryRoleId": {"id": "RO98"}}}]}
    }}"#;
    let report = import(db, &[ImportInput::bytes("A81001.json", ord)]);
    assert_eq!(report.files.len(), 2, "{report:?}");
    let orgs = exported(db, Kind::Organisations);
    assert!(
        orgs.contains("A81001,RIVERSIDE SURGERY,gp_practice,Q0001,closed,2025-03-31"),
        "{orgs}"
    );
    assert!(
        orgs.contains("16C,Sub-ICB location 16C,sub_icb,,active,"),
        "{orgs}"
    );
    let again = import(db, &[ImportInput::bytes("A81001.json", ord)]);
    assert!(
        again.files.iter().all(|f| f.created + f.updated == 0),
        "{again:?}"
    );
    let p = refused(
        db,
        &[ImportInput::bytes(
            "trust.json",
            ord.replace("RO76", "RO197"),
        )],
        &ImportOptions::default(),
    );
    assert!(one(&p).message.contains("not a GP practice"), "{}", p[0]);
}

/// JSON alike: an item without an optional key imports (empty when new, the stored value kept
/// when not); `null` clears; a missing required key is refused with its item.
fn json_optional_fields_may_be_left_out(db: &TestDb) {
    seeded(db);
    let people = r#"[
        {"uuid": "555123456789", "name": "Dr Asha Patel", "site_ods": "A81001", "local_admin": true},
        {"uuid": "555123456791", "name": "Kim Ray", "site_ods": "A81001", "local_admin": false, "email": null},
        {"uuid": "555123456790", "name": "Sam Jones", "site_ods": "A81001", "local_admin": false, "staff_role": null}
    ]"#;
    let report = import(db, &[ImportInput::bytes("people.json", people)]);
    assert_eq!(
        (
            report.files[0].created,
            report.files[0].unchanged,
            report.files[0].updated
        ),
        (1, 1, 1),
        "{report:?}"
    );
    let now = exported(db, Kind::People);
    assert!(
        now.contains("555123456789,Dr Asha Patel,asha.patel@nhs.net,GP,A81001,,yes,sponsor"),
        "kept: {now}"
    );
    assert!(
        now.contains("555123456790,Sam Jones,,,A81001,,no,"),
        "cleared by null: {now}"
    );
    assert!(
        now.contains("555123456791,Kim Ray,,,A81001,,no,"),
        "new: {now}"
    );
    let p = refused(
        db,
        &[ImportInput::bytes(
            "people.json",
            r#"[{"uuid": "555123456789", "name": "Dr Asha Patel", "site_ods": "A81001", "local_admin": true}, {"uuid": "555123456792", "name": "Ola", "local_admin": true}]"#,
        )],
        &ImportOptions::default(),
    );
    let p = one(&p);
    assert_eq!(
        (p.at, p.column.as_deref()),
        (Location::Item(2), Some("site_ods")),
        "{p}"
    );
}

fn wrong_field_count(db: &TestDb) {
    let text = format!("{CARDS}CS000003,555123456789,9,active\n");
    let p = rejected(db, "cards.csv", &text);
    let p = one(&p);
    assert_eq!(p.at, Location::Line(4));
    assert!(p.message.contains("4 fields but the header has 6"), "{p}");
}

/// A file saved in a spreadsheet's legacy encoding (Windows-1252 here: "é" is one byte) is
/// refused at the line it breaks on, with what to do, and nothing is written.
fn text_not_utf8_is_refused_with_its_line(db: &TestDb) {
    seeded(db);
    let mut text = b"uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles\n\
555123456791,Ren Smith,,GP,A81001,,no,\n\
555123456792,Ren"
        .to_vec();
    text.extend_from_slice(b"\xe9e Dubois,,Nurse,A81001,,no,\n");
    let p = refused(
        db,
        &[ImportInput::bytes("people.csv", text)],
        &ImportOptions::default(),
    );
    let p = one(&p);
    assert_eq!(p.at, Location::Line(3), "{p}");
    assert!(p.message.contains("not UTF-8"), "{p}");
    assert!(p.message.contains("CSV UTF-8"), "says what to do: {p}");
}

/// Rows of bare commas (a spreadsheet's leftovers) and blank lines are passed over, not refused.
fn empty_rows_are_skipped(db: &TestDb) {
    seeded(db);
    let text = "card_serial,holder_uuid,series,status,issued_on,last_used_on\n\
                ,,,,,\n\
                CS000003,555123456789,9,active,2024-01-10,\n\
                \n\
                , , ,,,\n";
    let report = db
        .store
        .import(
            &[ImportInput::bytes("cards.csv", text)],
            &ImportOptions::default(),
            &change(),
        )
        .expect("empty rows are passed over");
    assert_eq!(report.files[0].rows, 1);
    assert_eq!(report.files[0].created, 1);
}

/// A column named twice in the header is refused before any row is read: which of the two
/// values was meant cannot be guessed.
fn a_repeated_column_is_refused(db: &TestDb) {
    let text = "card_serial,holder_uuid,series,status,issued_on,last_used_on,series\n\
                CS000003,555123456789,9,active,2024-01-10,,10\n";
    let p = rejected(db, "cards.csv", text);
    let p = one(&p);
    assert_eq!(p.at, Location::File);
    assert!(p.message.contains("column series appears twice"), "{p}");
}

/// Writers racing on their own cards at once: every change is kept and the audit chain is
/// whole. Each writer's transaction holds the chain's head until it commits; without that, two
/// would link to the same record.
fn concurrent_writers_keep_the_audit_chain_whole(db: &TestDb) {
    const WRITERS: usize = 8;
    const CHANGES: usize = 10;
    seeded(db);
    let mut cards = String::from("card_serial,holder_uuid,series,status,issued_on,last_used_on\n");
    for w in 0..WRITERS {
        cards.push_str(&format!("CS1000{w:02},555123456789,9,active,2024-01-10,\n"));
    }
    import(db, &[ImportInput::bytes("cards.csv", cards)]);
    let before = db.audit_len();
    let store = &*db.store;
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            scope.spawn(move || {
                let card = CardSerial::parse(&format!("CS1000{w:02}")).expect("serial");
                for i in 0..CHANGES {
                    let to = if i % 2 == 0 {
                        CardStatus::Locked
                    } else {
                        CardStatus::Active
                    };
                    store
                        .set_card_status(&card, to, "race", &change())
                        .unwrap_or_else(|e| panic!("writer {w}, change {i}: {e}"));
                }
            });
        }
    });
    let after = before + WRITERS * CHANGES;
    assert_eq!(db.audit_len(), after, "every change audited once");
    assert_eq!(
        db.store.verify_audit().expect("verify"),
        AuditVerdict::Intact(after as i64)
    );
}

fn json_bad_items_named_by_item(db: &TestDb) {
    let text = r#"[
  {"card_serial":"CS000003","holder_uuid":"555123456789","series":9,"status":"active","issued_on":"2024-01-10","last_used_on":null},
  {"card_serial":"CS000004","holder_uuid":"555123456789","series":9,"status":"active","issued_on":"2024-01-10","last_used_on":null,"colour":"green"},
  {"card_serial":"CS000005","holder_uuid":"555123456789","series":3,"status":"active","issued_on":"2024-01-10","last_used_on":null}
]"#;
    let p = rejected(db, "cards.json", text);
    let at: Vec<(Location, &str)> = p
        .iter()
        .map(|p| (p.at, p.column.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        at,
        [(Location::Item(2), "colour"), (Location::Item(3), "series")]
    );
    assert!(
        p[0].to_string().starts_with("cards.json: item 2: colour: "),
        "{}",
        p[0]
    );
}

fn json_not_an_array(db: &TestDb) {
    let p = rejected(db, "cards.json", "{\"card_serial\": \"CS000003\"}");
    let p = one(&p);
    assert_eq!(p.at, Location::File);
    assert!(p.message.contains("not a JSON array of objects"), "{p}");
}

fn every_bad_row_listed(db: &TestDb) {
    let text = "card_serial,holder_uuid,series,status,issued_on,last_used_on
CS000010,555123456789,11,active,2024-01-10,
CS000011,555123456789,9,gone,2024-01-10,
CS000012,1.23457E+11,9,active,31/02/2024,
";
    let p = rejected(db, "cards.csv", text);
    let at: Vec<(u64, &str)> = p
        .iter()
        .map(|p| (p.line().unwrap_or(0), p.column.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(
        at,
        [
            (2, "series"),
            (3, "status"),
            (4, "holder_uuid"),
            (4, "issued_on")
        ]
    );
}

// ---- the audit chain ----

fn audited(db: &TestDb) {
    seeded(db); // five files, five summary records
    assert_eq!(
        db.store.verify_audit().expect("verify"),
        AuditVerdict::Intact(5)
    );
}

fn tamper_edit(db: &TestDb) {
    audited(db);
    db.raw("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
    assert_eq!(
        db.store.verify_audit().expect("verify"),
        AuditVerdict::Broken(ChainBreak::Edited { seq: 3 })
    );
}

fn tamper_delete(db: &TestDb) {
    audited(db);
    db.raw("DELETE FROM audit_log WHERE seq = 2");
    assert_eq!(
        db.store.verify_audit().expect("verify"),
        AuditVerdict::Broken(ChainBreak::Sequence {
            expected: 2,
            found: 3
        })
    );
}

fn tamper_delete_newest(db: &TestDb) {
    audited(db);
    db.raw("DELETE FROM audit_log WHERE seq = 5");
    assert_eq!(
        db.store.verify_audit().expect("verify"),
        AuditVerdict::Broken(ChainBreak::Truncated { last: 4, head: 5 })
    );
}

fn tamper_reorder(db: &TestDb) {
    audited(db);
    db.raw(
        "UPDATE audit_log SET seq = -1 WHERE seq = 2;
         UPDATE audit_log SET seq = 2 WHERE seq = 3;
         UPDATE audit_log SET seq = 3 WHERE seq = -1;",
    );
    match db.store.verify_audit().expect("verify") {
        AuditVerdict::Broken(b) => assert!(b.to_string().contains("record 2"), "{b}"),
        v => panic!("reordering went unnoticed: {v:?}"),
    }
}

fn scheduled_runs_happen_once_and_are_taken_over_after_their_lease(db: &TestDb) {
    use cardwatch_store::notify::{
        abandoned_runs, claim_run, finish_run, job_runs, renew_run, Claim,
    };
    let t = |s: i64| Timestamp::from_unix(1_800_000_000 + s);
    let store = &*db.store;
    assert_eq!(
        claim_run(store, "digest", t(0), "a", t(0), 30).unwrap(),
        Claim::Run { attempt: 1 }
    );
    assert_eq!(
        claim_run(store, "digest", t(0), "b", t(1), 30).unwrap(),
        Claim::Taken
    );
    // Another slot or another job is a run of its own.
    assert_eq!(
        claim_run(store, "digest", t(60), "b", t(60), 30).unwrap(),
        Claim::Run { attempt: 1 }
    );
    assert_eq!(
        claim_run(store, "purge", t(0), "b", t(1), 30).unwrap(),
        Claim::Run { attempt: 1 }
    );
    // A renewed lease keeps the run; an expired one is taken over, once.
    assert!(renew_run(store, "digest", t(0), "a", t(40)).unwrap());
    assert!(
        !renew_run(store, "digest", t(0), "b", t(40)).unwrap(),
        "not b's"
    );
    let abandoned = |at: i64| -> Vec<Timestamp> {
        abandoned_runs(store, t(at))
            .unwrap()
            .into_iter()
            .filter(|(job, _)| job == "digest")
            .map(|(_, slot)| slot)
            .collect()
    };
    assert!(abandoned(35).is_empty());
    assert_eq!(
        claim_run(store, "digest", t(0), "b", t(35), 30).unwrap(),
        Claim::Taken
    );
    assert_eq!(abandoned(41), vec![t(0)]);
    assert_eq!(
        claim_run(store, "digest", t(0), "b", t(41), 30).unwrap(),
        Claim::Run { attempt: 2 }
    );
    assert_eq!(
        claim_run(store, "digest", t(0), "c", t(42), 30).unwrap(),
        Claim::Taken
    );
    // The old owner can no longer finish or renew it.
    assert!(!renew_run(store, "digest", t(0), "a", t(90)).unwrap());
    finish_run(store, "digest", t(0), "a", t(43), Ok("late")).unwrap();
    finish_run(store, "digest", t(0), "b", t(44), Ok("3 messages")).unwrap();
    finish_run(store, "purge", t(0), "b", t(44), Err("disk full")).unwrap();
    assert_eq!(
        claim_run(store, "digest", t(0), "c", t(500), 30).unwrap(),
        Claim::Taken,
        "done"
    );
    let runs = job_runs(store, Some("digest"), 10).unwrap();
    assert_eq!(runs.len(), 2);
    let first = &runs[1];
    assert_eq!(
        (first.state.as_str(), first.owner.as_str(), first.attempts),
        ("done", "b", 2)
    );
    assert_eq!(first.detail.as_deref(), Some("3 messages"));
    let purge = job_runs(store, Some("purge"), 10).unwrap();
    assert_eq!(
        (purge[0].state.as_str(), purge[0].detail.as_deref()),
        ("failed", Some("disk full"))
    );
    assert_eq!(job_runs(store, None, 10).unwrap().len(), 3);
}

fn messages_are_recorded_once_and_claimed_once(db: &TestDb) {
    use cardwatch_core::notify::{Channel, Message};
    use cardwatch_store::notify::{
        claim_due, enqueue, mark_failed, mark_sent, outbox, outbox_counts,
    };
    let t = |s: i64| Timestamp::from_unix(1_800_000_000 + s);
    let store = &*db.store;
    let msg = |key: &str, at: i64| Message {
        key: key.into(),
        channel: Channel::Email,
        recipient: "pm@example.nhs.uk".into(),
        subject: "Digest \\ 'quoted'".into(),
        text: "text".into(),
        html: "<p>html</p>".into(),
        not_before: t(at),
    };
    assert_eq!(
        enqueue(store, &[msg("k1", 0), msg("k2", 0), msg("k3", 100)], t(0)).unwrap(),
        3
    );
    assert_eq!(
        enqueue(store, &[msg("k1", 0), msg("k2", 0)], t(1)).unwrap(),
        0,
        "keys recorded once"
    );
    assert!(
        claim_due(store, "z", t(10), 30, 10, false)
            .unwrap()
            .is_empty(),
        "no relay: emails stay pending"
    );
    let a = claim_due(store, "a", t(10), 30, 1, true).unwrap();
    let b = claim_due(store, "b", t(10), 30, 10, true).unwrap();
    assert_eq!(
        (a.len(), b.len()),
        (1, 1),
        "k3 not due yet; each claimed once"
    );
    assert_ne!(a[0].key, b[0].key);
    assert_eq!(a[0].subject, "Digest \\ 'quoted'");
    assert!(
        claim_due(store, "c", t(20), 30, 10, true)
            .unwrap()
            .is_empty(),
        "leased"
    );
    mark_sent(store, a[0].id, "a", t(21)).unwrap();
    mark_failed(store, b[0].id, "b", "relay refused", Some(t(50))).unwrap();
    assert!(claim_due(store, "c", t(45), 30, 10, true)
        .unwrap()
        .is_empty());
    let again = claim_due(store, "c", t(100), 30, 10, true).unwrap();
    assert_eq!(again.len(), 2, "the retry and k3");
    assert_eq!(
        again.iter().find(|o| o.key == b[0].key).unwrap().attempts,
        2
    );
    // c dies holding them: after the lease another replica takes them.
    let d = claim_due(store, "d", t(131), 30, 10, true).unwrap();
    assert_eq!(d.len(), 2);
    mark_sent(store, d[0].id, "c", t(132)).unwrap();
    assert_eq!(
        outbox(store, Some("sent"), 10).unwrap().len(),
        1,
        "c no longer owns it"
    );
    mark_sent(store, d[0].id, "d", t(132)).unwrap();
    mark_failed(store, d[1].id, "d", "gave up", None).unwrap();
    assert_eq!(
        outbox_counts(store).unwrap(),
        vec![("failed".to_owned(), 1), ("sent".to_owned(), 2)]
    );
    let failed = outbox(store, Some("failed"), 10).unwrap();
    assert_eq!(failed[0].last_error.as_deref(), Some("gave up"));
    // Retention: sent messages older than the cut go; failed ones stay to be seen.
    use cardwatch_store::notify::purge;
    assert_eq!(
        purge(store, t(132)).unwrap().0,
        1,
        "sent before the cut; the one at it stays"
    );
    assert_eq!(purge(store, t(133)).unwrap().0, 1);
    assert_eq!(
        outbox_counts(store).unwrap(),
        vec![("failed".to_owned(), 1)]
    );
}

fn concurrent_senders_claim_every_message_once(db: &TestDb) {
    use cardwatch_core::notify::{Channel, Message};
    use cardwatch_store::notify::{claim_due, enqueue, mark_sent};
    let t = Timestamp::from_unix(1_800_000_000);
    let store = &*db.store;
    let messages: Vec<Message> = (0..120)
        .map(|i| Message {
            key: format!("k{i}"),
            channel: Channel::Email,
            recipient: "a@example.nhs.uk".into(),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            not_before: t,
        })
        .collect();
    assert_eq!(enqueue(store, &messages, t).unwrap(), 120);
    let claimed: Vec<i64> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                s.spawn(move || {
                    let owner = format!("w{w}");
                    let mut mine = Vec::new();
                    while let Some(m) = claim_due(store, &owner, t, 60, 1, true).unwrap().pop() {
                        mark_sent(store, m.id, &owner, t).unwrap();
                        mine.push(m.id);
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let unique: std::collections::HashSet<i64> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), 120, "every message claimed, none twice");
    assert_eq!(unique.len(), 120);
}

fn site_contacts_are_kept_and_audited(db: &TestDb) {
    use cardwatch_core::triage::Contact;
    use cardwatch_store::contacts::{add_site_contact, remove_site_contact, site_contacts};
    let store = &*db.store;
    let n = db.audit_len();
    let it = Contact {
        role: "IT service desk".into(),
        name: "Riverside IT".into(),
        phone: Some("0161 000 0000".into()),
        email: None,
        serves: vec![],
    };
    add_site_contact(store, "A81001", &it, &change()).unwrap();
    let again = add_site_contact(store, "A81001", &it, &change()).unwrap_err();
    assert!(
        again.to_string().contains("already has Riverside IT"),
        "{again}"
    );
    let got = site_contacts(store, "A81001").unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].phone.as_deref(), got[0].serves.clone()),
        (Some("0161 000 0000"), vec!["A81001".to_owned()])
    );
    assert!(site_contacts(store, "A81002").unwrap().is_empty());
    assert!(remove_site_contact(store, "A81001", "IT service desk", "Nobody", &change()).is_err());
    remove_site_contact(
        store,
        "A81001",
        "IT service desk",
        "Riverside IT",
        &change(),
    )
    .unwrap();
    assert!(site_contacts(store, "A81001").unwrap().is_empty());
    assert_eq!(db.audit_len(), n + 2, "added and removed");
}

fn agents_enrol_once_per_token_and_can_be_revoked(db: &TestDb) {
    use cardwatch_store::agents::{add_enrolment_token, agent_seen, agents, enrol, revoke_agent};
    let store = &*db.store;
    let t = |s: i64| Timestamp::from_unix(1_800_000_000 + s);
    let at = |s: i64| Change {
        actor: "cli:root".into(),
        at: t(s),
    };
    let n = db.audit_len();
    add_enrolment_token(store, "h1", "et1", t(3600), None, &at(0)).unwrap();
    add_enrolment_token(store, "h2", "et2", t(10), None, &at(0)).unwrap();
    enrol(store, "h1", "ag1", "a10000-ws001", "0.1.0", "c1", &at(5)).unwrap();
    let again = enrol(store, "h1", "ag2", "a10000-ws002", "0.1.0", "c2", &at(6)).unwrap_err();
    assert!(again.to_string().contains("used already"), "{again}");
    let late = enrol(store, "h2", "ag3", "a10000-ws003", "0.1.0", "c3", &at(20)).unwrap_err();
    assert!(late.to_string().contains("expired"), "{late}");
    let unknown = enrol(store, "nope", "ag4", "h", "0.1.0", "c4", &at(20)).unwrap_err();
    assert!(
        unknown.to_string().contains("not one this server made"),
        "{unknown}"
    );
    let seen = agent_seen(store, "c1", "0.2.0", t(30))
        .unwrap()
        .expect("live");
    assert_eq!(
        (seen.id.as_str(), seen.version.as_str(), seen.last_seen),
        ("ag1", "0.2.0", Some(t(30))),
        "a new version is written at once"
    );
    // Seen again within the minute: not written; after it, written.
    let again = agent_seen(store, "c1", "0.2.0", t(60))
        .unwrap()
        .expect("live");
    assert_eq!(again.last_seen, Some(t(30)));
    let later = agent_seen(store, "c1", "0.2.0", t(95))
        .unwrap()
        .expect("live");
    assert_eq!(later.last_seen, Some(t(95)));
    assert_eq!(agents(store).unwrap()[0].last_seen, Some(t(95)));
    assert!(agent_seen(store, "c2", "0.1.0", t(30)).unwrap().is_none());
    revoke_agent(store, "ag1", &at(40)).unwrap();
    assert!(
        agent_seen(store, "c1", "0.2.0", t(50)).unwrap().is_none(),
        "revoked"
    );
    assert!(revoke_agent(store, "ag1", &at(41)).is_err());
    let all = agents(store).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].revoked_at, Some(t(40)));
    assert_eq!(
        db.audit_len(),
        n + 4,
        "two tokens, one enrolment, one revocation"
    );
    // Events: more than one INSERT's worth, each recorded once — a repeat inside the batch and
    // a whole batch sent again add nothing.
    use cardwatch_store::agents::{agent_events, record_events, AgentEvent};
    let ev = |i: usize| AgentEvent {
        id: format!("e{i}"),
        at: t(100 + i as i64),
        kind: "card_inserted".into(),
        data: serde_json::json!({"reader": format!("R{i}")}),
    };
    let mut batch: Vec<AgentEvent> = (0..600).map(ev).collect();
    batch.push(ev(7));
    assert_eq!(
        record_events(store, "ag1", &batch, t(900)).unwrap(),
        (600, 1)
    );
    assert_eq!(
        record_events(store, "ag1", &batch, t(901)).unwrap(),
        (0, 601)
    );
    let newest = agent_events(store, "ag1", 2).unwrap();
    assert_eq!(newest, vec![ev(599), ev(598)]);
    let records = db.store.audit_records(n as i64, 10).unwrap();
    assert!(
        records
            .iter()
            .all(|r| !format!("{:?}", r.record).contains("\"h1\"")
                && !format!("{:?}", r.record).contains("c1")),
        "no secret's hash in the audit"
    );
}

fn notification_preferences_and_webhooks_are_audited(db: &TestDb) {
    use cardwatch_core::health::Severity;
    use cardwatch_core::notify::{Frequency, HookFormat, Quiet};
    use cardwatch_store::notify::{
        put_webhook, remove_webhook, set_last_digests, set_prefs, subscribers, unsubscribe,
        webhooks, Prefs, Webhook,
    };
    let store = &*db.store;
    let mut prefs = Prefs {
        username: "pm.one".into(),
        email: "pm@example.nhs.uk".into(),
        frequency: Frequency::Daily,
        min_severity: Severity::Urgent,
        quiet: Some(Quiet::parse("20:00-07:00").unwrap()),
    };
    let e = set_prefs(store, &prefs, "secret", &change()).unwrap_err();
    assert!(e.to_string().contains("no operator pm.one"), "{e}");
    db.store
        .add_user(
            &NewUser {
                username: Username::parse("pm.one").unwrap(),
                display_name: "PM".into(),
                role: Role::PracticeManager,
                organisations: vec![OdsCode::parse("A81001").unwrap()],
                password_hash: "x".into(),
            },
            &change(),
        )
        .unwrap();
    let n = db.audit_len();
    set_prefs(store, &prefs, "secret", &change()).unwrap();
    prefs.frequency = Frequency::Weekly;
    set_prefs(store, &prefs, "other", &change()).unwrap();
    let subs = subscribers(store).unwrap();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].prefs, prefs);
    assert_eq!(subs[0].unsubscribe, "secret", "the link's secret is kept");
    set_last_digests(
        store,
        &[("pm.one".into(), vec!["a/1".into(), "b/2".into()])],
    )
    .unwrap();
    assert_eq!(
        subscribers(store).unwrap()[0].last_digest,
        vec!["a/1", "b/2"]
    );
    assert_eq!(unsubscribe(store, "nope", &change()).unwrap(), None);
    assert_eq!(
        unsubscribe(store, "secret", &change()).unwrap().as_deref(),
        Some("pm.one")
    );
    assert_eq!(
        subscribers(store).unwrap()[0].prefs.frequency,
        Frequency::Off
    );
    let hook = Webhook {
        name: "teams-it".into(),
        url: "http://127.0.0.1:9/hook".into(),
        format: HookFormat::Teams,
        secret: "s3cret".into(),
        min_severity: Severity::Critical,
    };
    put_webhook(store, &hook, &change()).unwrap();
    assert_eq!(webhooks(store).unwrap(), vec![hook.clone()]);
    remove_webhook(store, "teams-it", &change()).unwrap();
    assert!(webhooks(store).unwrap().is_empty());
    assert!(remove_webhook(store, "teams-it", &change()).is_err());
    assert_eq!(
        db.audit_len(),
        n + 5,
        "two prefs, unsubscribe, add and remove a webhook"
    );
    let records = db.store.audit_records(n as i64, 10).unwrap();
    assert!(
        records.iter().all(
            |r| !r.record.after.as_deref().unwrap_or("").contains("s3cret")
                && !r.record.before.as_deref().unwrap_or("").contains("s3cret")
        ),
        "no secret in the audit"
    );
    assert!(matches!(
        db.store.verify_audit().unwrap(),
        AuditVerdict::Intact(_)
    ));
}

/// A hosted PostgreSQL gives the application a role that may not switch off the server's key
/// checks for a bulk load: the import then drops the keys and has the server check them as it
/// adds them back. Same rows, same keys, same refusals.
#[test]
fn postgres_bulk_loads_by_an_ordinary_role() {
    bulk_load_matches_row_by_row(&TestDb::postgres_ordinary_role());
    bulk_load_refused_restores_everything(&TestDb::postgres_ordinary_role());
    references_to_an_earlier_file_are_matched_exactly(&TestDb::postgres_ordinary_role());
}

/// A hosted PostgreSQL often gives the application's role a `statement_timeout` for everyday
/// queries. An import's statements are long by nature (a file is one `COPY`, a key one sort), so
/// the import lifts the timeout for its own transaction: here its first statement waits behind a
/// lock for five times the role's timeout, and the import still completes.
#[test]
fn postgres_import_outlasts_the_roles_statement_timeout() {
    let db = TestDb::postgres_ordinary_role();
    let report = behind_a_lock_past_the_roles_timeout(&db, |store| {
        store.import(&base(), &ImportOptions::default(), &change())
    })
    .unwrap_or_else(|e| panic!("the import was cut short: {e}"));
    assert!(report
        .files
        .iter()
        .all(|f| f.created == f.rows && f.rows > 0));
    // The role's everyday queries keep their timeout.
    let mut plain = ::postgres::Client::connect(&db.url, ::postgres::NoTls).expect("connect");
    let timeout: String = plain
        .query_one("SHOW statement_timeout", &[])
        .expect("show")
        .get(0);
    assert_eq!(timeout, "100ms");
}

/// The same for large reads: an export (one `COPY … TO` per kind, seconds at national size)
/// waits behind a lock for five times the role's timeout and still hands over every record.
#[test]
fn postgres_export_outlasts_the_roles_statement_timeout() {
    let db = TestDb::postgres_ordinary_role();
    db.store
        .import(&base(), &ImportOptions::default(), &change())
        .expect("import");
    let mut exported = 0;
    let rows = behind_a_lock_past_the_roles_timeout(&db, |store| {
        store.export(Kind::Organisations, &mut |_| {
            exported += 1;
            Ok(())
        })
    })
    .unwrap_or_else(|e| panic!("the export was cut short: {e}"));
    assert!(rows > 0);
    assert_eq!(exported, rows);
}

/// Runs `op` on a store opened after its role was given a 100 ms `statement_timeout`, while a
/// second connection holds a lock on the organisations: once `op` is seen waiting for it, for
/// 500 ms more, five times that timeout.
fn behind_a_lock_past_the_roles_timeout<T: Send>(
    db: &TestDb,
    op: impl FnOnce(&dyn cardwatch_store::Store) -> T + Send,
) -> T {
    db.raw("ALTER ROLE CURRENT_USER SET statement_timeout = '100ms'");
    // Opened after the change, so that its connections carry the timeout.
    let store = cardwatch_store::open(&db.url).expect("open");
    let mut other = ::postgres::Client::connect(&db.url, ::postgres::NoTls).expect("connect");
    let mut holding = other.transaction().expect("begin");
    holding
        .batch_execute("SET LOCAL statement_timeout = 0; LOCK TABLE organisations")
        .expect("lock");
    let mut watch = ::postgres::Client::connect(&db.url, ::postgres::NoTls).expect("connect");
    std::thread::scope(|scope| {
        let running = scope.spawn(|| op(&*store));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while watch
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .expect("pg_stat_activity")
            .get::<_, i64>(0)
            == 0
        {
            assert!(
                std::time::Instant::now() < deadline && !running.is_finished(),
                "the operation never waited for the lock"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
        holding.commit().expect("release");
        running.join().expect("operation thread")
    })
}

on_both_backends!(
    demo_import_counts,
    reimport_changes_nothing,
    update_is_audited,
    round_trip_csv,
    round_trip_json,
    check_only_writes_nothing,
    bom_crlf_uk_dates_and_any_order,
    card_status_changes,
    locking_a_card_records_a_lockout,
    estate_loads_for_the_health_checks,
    certificate_rules_read_only_the_cards_they_can_judge,
    finding_notes_are_kept_and_audited,
    incidents_are_kept_counted_and_audited,
    triage_context_reads_one_card_and_workstation,
    operators_and_sessions,
    tokens_are_kept_by_hash_and_revoked,
    audit_search_filters_and_pages_newest_first,
    text_with_backslashes_and_quotes_round_trips,
    every_value_type_round_trips,
    reopening_migrates_once,
    expiring_soonest_first,
    bulk_load_matches_row_by_row,
    bulk_load_refused_restores_everything,
    imports_larger_than_a_batch,
    empty_table_batches_around_a_lookup,
    references_to_an_earlier_file_are_matched_exactly,
    damaged_uuid,
    crlf_files_name_the_right_line,
    positions_are_reviewed_and_moved_on,
    agents_clocks_reach_the_health_check,
    site_agents_are_read_for_the_silence_metrics,
    site_refreshes_follow_imports_and_agents,
    uuid_lost_leading_zero,
    integration_profiles_reach_the_health_check,
    integration_files_refused_with_every_problem,
    reports_count_time_lost_and_incidents_by_software_version,
    leavers_personal_data_is_erased_after_retention,
    unknown_reference,
    duplicate_key,
    wrong_enum_value,
    impossible_date,
    not_after_before_not_before,
    illegal_status_change,
    extra_column,
    missing_column,
    optional_columns_may_be_left_out,
    absent_columns_keep_stored_values,
    json_optional_fields_may_be_left_out,
    ods_extracts_become_practices_and_sites,
    cim_exports_import_by_header_name,
    cim_missing_required_column_is_refused,
    cim_bad_value_names_its_header,
    cim_operator_mapping_overrides_a_default,
    ods_damaged_line_is_refused,
    ord_record_of_a_practice,
    wrong_field_count,
    every_bad_row_listed,
    json_bad_items_named_by_item,
    json_not_an_array,
    text_not_utf8_is_refused_with_its_line,
    empty_rows_are_skipped,
    a_repeated_column_is_refused,
    concurrent_writers_keep_the_audit_chain_whole,
    audited,
    tamper_edit,
    tamper_delete,
    tamper_delete_newest,
    tamper_reorder,
    scheduled_runs_happen_once_and_are_taken_over_after_their_lease,
    messages_are_recorded_once_and_claimed_once,
    concurrent_senders_claim_every_message_once,
    site_contacts_are_kept_and_audited,
    agents_enrol_once_per_token_and_can_be_revoked,
    notification_preferences_and_webhooks_are_audited,
);
