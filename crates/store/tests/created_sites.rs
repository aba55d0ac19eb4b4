//! An import's summary record names the sites of the records it created (`created_sites`), so
//! that a health re-check can place them: people, workstations, readers and stock by their own
//! site, software by its workstation's, positions by their holder's and lockouts by their card's
//! holder's, found in the import's own transaction (a holder created by the same import too).
//! Past `IMPORT_SITES_MAX` sites it names none, and an import that only changed records names
//! none either. On SQLite and on PostgreSQL.

mod common;

use cardwatch_core::health::IMPORT_SITES_MAX;
use cardwatch_store::ImportInput;
use common::{import, TestDb};

const ORGS: &str = "ods_code,name,type,parent_ods
A81001,Riverside Surgery,gp_practice,Q0001
Q0001,NHS Test ICB,icb,
";

fn site(i: usize) -> String {
    format!("Y{i:05}")
}

fn csv(header: &str, rows: impl IntoIterator<Item = String>) -> String {
    let mut text = header.to_owned();
    for r in rows {
        text.push('\n');
        text.push_str(&r);
    }
    text.push('\n');
    text
}

/// The `created_sites` of the newest import record of `kind` (`None` when it names none).
fn named(db: &TestDb, kind: &str) -> Option<Vec<String>> {
    let records = db
        .store
        .audit_records(0, db.audit_len() + 1)
        .expect("audit records");
    let summary = records
        .iter()
        .rev()
        .map(|r| &r.record)
        .find(|r| r.action == "import" && r.entity_kind == kind)
        .and_then(|r| r.after.as_deref())
        .expect("an import record");
    let v: serde_json::Value = serde_json::from_str(summary).expect("JSON");
    v.get("created_sites").map(|s| {
        s.as_array()
            .expect("a list")
            .iter()
            .map(|x| x.as_str().expect("a site").to_owned())
            .collect()
    })
}

fn sites_of_created_records(db: &TestDb) {
    let all = IMPORT_SITES_MAX + 1;
    let sites = csv(
        "site_ods,organisation_ods,name,core_hours",
        (0..all).map(|i| format!("{},A81001,Site {i},", site(i))),
    );
    import(
        db,
        &[
            ImportInput::bytes("organisations.csv", ORGS),
            ImportInput::bytes("sites.csv", sites),
        ],
    );
    // People and their positions in one import: the positions' holders are found although the
    // import created them. A site written in lower case is named as stored.
    let people = "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles
555000000001,Asha Patel,,GP,y00001,,no,
555000000002,Sam Jones,,Receptionist,Y00002,,yes,
555000000003,Lee Hill,,Receptionist,Y00002,,no,
";
    let positions =
        "holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on
555000000001,A81001,R8000,,,active,,
555000000001,A81001,R8001,,,active,,
555000000003,A81001,R8008,,,active,,
";
    import(
        db,
        &[
            ImportInput::bytes("people.csv", people),
            ImportInput::bytes("positions.csv", positions),
        ],
    );
    let two = Some(vec![site(1), site(2)]);
    assert_eq!(named(db, "people"), two);
    assert_eq!(named(db, "positions"), two);
    // Lockouts of a card held at Y00002 only.
    import(
        db,
        &[ImportInput::bytes(
            "cards.csv",
            "card_serial,holder_uuid,series,status,issued_on,last_used_on
CS000001,555000000001,10,active,2023-05-01,
CS000002,555000000003,10,active,2023-05-01,
",
        )],
    );
    import(
        db,
        &[ImportInput::bytes(
            "lockouts.csv",
            "card_serial,locked_at,unlocked_at
CS000002,2026-11-01T09:00:00Z,
CS000002,2026-11-02T09:00:00Z,
",
        )],
    );
    assert_eq!(named(db, "lockouts"), Some(vec![site(2)]));
    // A changed record has its own audit record: a file that only changed one names no sites.
    import(
        db,
        &[ImportInput::bytes(
            "lockouts.csv",
            "card_serial,locked_at,unlocked_at
CS000002,2026-11-01T09:00:00Z,2026-11-01T10:00:00Z
",
        )],
    );
    assert_eq!(named(db, "lockouts"), None);

    // A workstation at every site: past the bound, none named.
    let workstations = csv(
        "hostname,site_ods,os,os_build,update_ring,last_seen,update_window,applications",
        (0..all).map(|i| format!("ws{i:05},{},,,,,,", site(i))),
    );
    import(db, &[ImportInput::bytes("workstations.csv", workstations)]);
    assert_eq!(named(db, "workstations"), None);
    // Software on every workstation: its workstations' sites are past the bound too; on all
    // but one, at the bound, every one is named.
    let software = |component: &str, rows: std::ops::Range<usize>| {
        let text = csv(
            "hostname,component,version",
            rows.map(|i| format!("ws{i:05},{component},2.4.10.0")),
        );
        import(db, &[ImportInput::bytes("software.csv", text)]);
    };
    software("identity-agent", 0..all);
    assert_eq!(named(db, "software"), None, "past the bound");
    software("credential-management", 1..all);
    let every: Vec<String> = (1..all).map(site).collect();
    assert_eq!(every.len(), IMPORT_SITES_MAX);
    assert_eq!(named(db, "software"), Some(every), "at the bound");
    let readers = "reader_serial,vendor,model,firmware,hostname,site_ods,status
RD-1,HID Omnikey,3121,5.10,ws00007,Y00007,in_service
RD-2,HID Omnikey,3121,5.10,,Y00009,spare
";
    import(db, &[ImportInput::bytes("readers.csv", readers)]);
    assert_eq!(named(db, "readers"), Some(vec![site(7), site(9)]));

    // Stock: as many sites as the bound are named; one more, none.
    let stock = |item: &str, n: usize| {
        let text = csv(
            "site_ods,item,quantity,minimum",
            (0..n).map(|i| format!("{},{item},1,2", site(i))),
        );
        import(db, &[ImportInput::bytes("stock.csv", text)]);
    };
    stock("card", IMPORT_SITES_MAX);
    assert_eq!(
        named(db, "stock"),
        Some((0..IMPORT_SITES_MAX).map(site).collect())
    );
    stock("reader", all);
    assert_eq!(named(db, "stock"), None, "past the bound");
}

on_both_backends!(sites_of_created_records);
