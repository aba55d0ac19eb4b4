//! The reports' machine counts, read once per change to the estate by site and added up per
//! request over a caller's sites, against a recount of the store in one pass: equal after an
//! import, after edits, and after a second import that changes one practice, on SQLite and on
//! PostgreSQL. Every change the counts follow adds to the audit chain, which is what the server
//! keys its copy on. The failures are grouped by the store, a machine with two readers alike
//! counted once, and the agents' signing self-tests are read from their own index.

mod common;

use cardwatch_core::card_status::CardStatus;
use cardwatch_core::date::Timestamp;
use cardwatch_core::ids::CardSerial;
use cardwatch_core::records::Kind;
use cardwatch_core::reports::{Machines, VersionCount};
use cardwatch_core::triage::NewIncident;
use cardwatch_store::reports::{failed_counts, failed_machines, site_machines, version_counts};
use cardwatch_store::{Change, ImportInput};
use common::{change, demo_inputs, import, query_plan, TestDb};

/// (hostname, site, os build, update ring) of every workstation, by hostname.
fn workstations(db: &TestDb) -> Vec<[String; 4]> {
    let mut out = Vec::new();
    db.store
        .scan(Kind::Workstations, &[0, 1, 3, 4], true, &mut |c| {
            out.push([c[0].to_csv(), c[1].to_csv(), c[2].to_csv(), c[3].to_csv()]);
            Ok(())
        })
        .expect("workstations");
    out
}

/// The counts the reports show for a scope: the per-site counts added up, with the failures by
/// version and ring, every version's failed machines named (the reports name the suspects').
fn added_up(db: &TestDb, sites: Option<&[String]>, since: Timestamp) -> Vec<VersionCount> {
    let machines = Machines::new(&site_machines(&*db.store).expect("site machines"));
    let failed = failed_counts(&*db.store, sites, since).expect("failed counts");
    let versions: Vec<(String, String)> = failed
        .iter()
        .map(|f| (f.component.clone(), f.version.clone()))
        .collect();
    let named = failed_machines(&*db.store, sites, since, &versions).expect("failed machines");
    machines.counts(sites, &failed, &named)
}

/// Asserts the added-up counts equal the recount for the whole estate, each site, two sites
/// together and a site with no machines; returns the whole estate's.
fn equal_to_a_recount(db: &TestDb, since: Timestamp) -> Vec<VersionCount> {
    let mut sites: Vec<String> = workstations(db).into_iter().map(|w| w[1].clone()).collect();
    sites.sort();
    sites.dedup();
    assert!(
        sites.len() >= 2,
        "the demo has workstations at several sites"
    );
    let mut scopes: Vec<Option<Vec<String>>> = vec![None];
    scopes.extend(sites.iter().map(|s| Some(vec![s.clone()])));
    scopes.push(Some(sites[..2].to_vec()));
    scopes.push(Some(vec!["Z99999".to_owned()]));
    scopes.push(Some(Vec::new()));
    for scope in &scopes {
        let recount = version_counts(&*db.store, scope.as_deref(), since).expect("recount");
        assert_eq!(
            added_up(db, scope.as_deref(), since),
            recount,
            "the counts for {scope:?} differ from a recount"
        );
    }
    let all = added_up(db, None, since);
    assert!(
        all.iter().any(|c| c.affected > 0) && all.iter().any(|c| c.rings.len() > 1),
        "the comparison covers failures and several rings: {all:#?}"
    );
    all
}

fn incident_on(db: &TestDb, host: &str, site: &str, at: &str) {
    db.store
        .open_incident(
            &NewIncident {
                reporter: "reception".into(),
                site: Some(site.into()),
                card_serial: None,
                hostname: Some(host.into()),
                application: None,
                doing: None,
                symptom: "cannot-sign".into(),
                error_text: None,
            },
            &Change {
                actor: "web:reception".into(),
                at: Timestamp::parse(at).expect("time"),
            },
        )
        .expect("incident");
}

fn counts_by_site_add_up_to_a_recount(db: &TestDb) {
    import(db, &demo_inputs(4, 11));
    let hosts = workstations(db);
    // Failures on a few machines at two sites, one long before the window.
    let (first, other) = (
        &hosts[0],
        hosts.iter().find(|w| w[1] != hosts[0][1]).unwrap(),
    );
    for (w, at) in [
        (first, "2026-11-20T09:00:00Z"),
        (first, "2026-11-21T09:00:00Z"),
        (other, "2026-11-21T10:00:00Z"),
        (&hosts[1], "2026-01-01T09:00:00Z"),
    ] {
        incident_on(db, &w[0], &w[1], at);
    }
    // An agent's signing self-test the card refused at sign-in on another machine (counted once
    // however often it is sent), and one refused for a wrong PIN (the holder's, not counted).
    {
        use cardwatch_store::agents::{add_enrolment_token, enrol, record_events, AgentEvent};
        let when = Timestamp::parse("2026-11-21T10:00:00Z").unwrap();
        let by = Change {
            actor: "cli:root".into(),
            at: when,
        };
        let expires = Timestamp::from_unix(when.unix() + 3600);
        add_enrolment_token(&*db.store, "h-ag", "et-ag", expires, None, &by).expect("token");
        enrol(&*db.store, "h-ag", "ag", &hosts[2][0], "0.1.0", "c-ag", &by).expect("enrol");
        let test = |id: &str, stage: &str| AgentEvent {
            id: id.into(),
            at: when,
            kind: "signing_test".into(),
            data: serde_json::json!({"passed": false, "stage": stage, "why": "x"}),
        };
        let sent = [test("e1", "login"), test("e1", "login"), test("e2", "pin")];
        record_events(&*db.store, "ag", &sent, when).expect("events");
    }
    // Some machines in the canary and pilot rings, so versions span rings.
    let header = "hostname,site_ods,os_build,update_ring\n";
    let rings: String = hosts
        .iter()
        .take(6)
        .enumerate()
        .map(|(i, w)| {
            let ring = ["canary", "pilot"][i % 2];
            format!("{},{},{},{ring}\n", w[0], w[1], w[2])
        })
        .collect();
    import(
        db,
        &[ImportInput::bytes(
            "workstations.csv",
            format!("{header}{rings}"),
        )],
    );
    // A second reader of the same model and firmware on the machine that failed twice: still
    // one machine on that firmware, with two failures.
    let mut readers =
        String::from("reader_serial,vendor,model,firmware,hostname,site_ods,status\n");
    let mut twin = None;
    db.store
        .scan(Kind::Readers, &[0, 1, 2, 3, 4, 5, 6], true, &mut |c| {
            let row: Vec<String> = c.iter().map(|v| v.to_csv()).collect();
            if row[4] == first[0] && !row[3].is_empty() {
                twin = Some(format!("RD-TWIN,{}\n", row[1..].join(",")));
            }
            readers.push_str(&format!("{}\n", row.join(",")));
            Ok(())
        })
        .expect("readers");
    readers.push_str(&twin.expect("the first machine has a reader with firmware"));
    import(db, &[ImportInput::bytes("readers.csv", readers)]);
    let since = Timestamp::parse("2026-11-01T00:00:00Z").unwrap();
    let before = equal_to_a_recount(db, since);
    assert!(
        before
            .iter()
            .any(|c| c.component.starts_with("reader ") && c.affected_hosts.contains(&first[0])),
        "the twin readers' firmware is among the failures: {before:#?}"
    );
    assert!(
        before
            .iter()
            .any(|c| c.affected_hosts.contains(&hosts[2][0])),
        "the agent's refused self-test is a failure of its machine: {before:#?}"
    );

    // Edits: a card's status, and one workstation moved to another build and ring. The chain
    // grows with each, so the server counts again.
    let length = db.audit_len();
    let mut serial = String::new();
    db.store
        .scan(Kind::Cards, &[0, 3], true, &mut |c| {
            if serial.is_empty() && c[1].to_csv() == "active" {
                serial = c[0].to_csv();
            }
            Ok(())
        })
        .expect("cards");
    db.store
        .set_card_status(
            &CardSerial::parse(&serial).unwrap(),
            CardStatus::Lost,
            "reported lost at reception",
            &change(),
        )
        .expect("card suspended");
    import(
        db,
        &[ImportInput::bytes(
            "workstations.csv",
            format!("{header}{},{},99999,pilot\n", first[0], first[1]),
        )],
    );
    assert!(db.audit_len() > length, "the edits are in the audit chain");
    let edited = equal_to_a_recount(db, since);
    assert!(
        edited
            .iter()
            .any(|c| c.component == "windows" && c.version == "99999" && c.affected == 1),
        "the moved machine is counted on its new build: {edited:#?}"
    );
    assert_ne!(before, edited);

    // A second import that changes one practice: every machine of the other site on a new
    // version of one component.
    let length = db.audit_len();
    let software: String = hosts
        .iter()
        .filter(|w| w[1] == other[1])
        .map(|w| format!("{},oberthur-middleware,9.9.9.9\n", w[0]))
        .collect();
    import(
        db,
        &[ImportInput::bytes(
            "software.csv",
            format!("hostname,component,version\n{software}"),
        )],
    );
    assert!(db.audit_len() > length, "the import is in the audit chain");
    let changed = equal_to_a_recount(db, since);
    let on_new = changed
        .iter()
        .find(|c| c.version == "9.9.9.9")
        .expect("the new version is counted");
    assert_eq!(
        on_new.machines,
        hosts.iter().filter(|w| w[1] == other[1]).count() as u64
    );
    assert_eq!(on_new.affected_hosts, [other[0].clone()]);
}

/// The reports read a period's signing self-tests among every agent's events by kind and time,
/// a range of their own index, not a pass over the events (inventories and diagnoses from every
/// agent, growing with the days).
fn signing_tests_are_read_from_their_index(db: &TestDb) {
    let plan = query_plan(
        db,
        "SELECT agent_id, event_id FROM agent_events \
         WHERE kind = 'signing_test' AND at >= 1700000000",
    );
    assert!(plan.contains("agent_events_signing_tests"), "{plan}");
}

on_both_backends!(
    counts_by_site_add_up_to_a_recount,
    signing_tests_are_read_from_their_index
);
