//! A report too slow to wait for (issue 26): where reading a report's figures took longer than
//! `[server] report_wait_ms` (seconds at national size; 0 here, so every reading counts as
//! slow), a request after a change is answered at once from the last reading, saying when it
//! was read, while the report is read again in the background; the next request after that
//! reading has the change. Against a real `cardwatch serve` on the store CARDWATCH_TEST_STORE
//! names.

mod common;

use std::time::{Duration, Instant};

use cardwatch_core::date::Timestamp;
use cardwatch_core::triage::IncidentStatus;
use cardwatch_store::Change;
use common::*;

/// Opens an incident at a demo practice an hour ago and closes it 20 minutes later, from
/// another process's connection to the store: a change the server did not make.
fn add_incident(db: &str) {
    let store = cardwatch_store::open(db).expect("open");
    let opened = unix_now() - 3600;
    let id = open_incident_at(&*store, "A10000", opened);
    store
        .close_incident(
            id,
            IncidentStatus::Resolved,
            Some("middleware-outdated"),
            &Change {
                actor: "test".into(),
                at: Timestamp::from_unix(opened + 1200),
            },
        )
        .expect("close");
}

fn report(addr: &str, cookie: &str) -> serde_json::Value {
    let (status, response) = get_as(addr, "/api/v1/reports", cookie);
    assert_eq!(status, 200, "{response}");
    body_json(&response)
}

fn ended(r: &serde_json::Value) -> u64 {
    r["staff_time_lost"]["incidents"]
        .as_u64()
        .expect("incidents")
}

#[test]
fn a_slow_report_answers_from_its_last_reading_while_it_is_read_again() {
    let (tmp, db) = scratch_db();
    let mut serve = serve_configured(&db, tmp.path(), "[server]\nreport_wait_ms = 0\n");
    serve.args(["--demo", "--practices", "2"]);
    let (child, addr, banner) = spawn_serving(serve);
    let admin = sign_in_demo(&addr, &banner);

    // The first reading is waited for, the server reading it as it started.
    let first = report(&addr, &admin);
    assert_eq!(first["being_read_again"], false, "{first}");

    add_incident(&db);
    // Asked after the change: the last reading, at once, saying so.
    let kept = report(&addr, &admin);
    assert_eq!(kept["being_read_again"], true, "{kept}");
    assert!(first.get("read_at").is_none(), "{first}");
    let read_at = kept["read_at"].as_str().expect("read_at");
    assert!(
        Timestamp::parse(read_at).unwrap().unix() <= unix_now(),
        "{kept}"
    );
    assert_eq!(ended(&kept), ended(&first), "{kept}");

    // Read again in the background: a later request has the incident.
    let deadline = Instant::now() + Duration::from_secs(60);
    let fresh = loop {
        let r = report(&addr, &admin);
        if r["being_read_again"] == false {
            break r;
        }
        assert!(Instant::now() < deadline, "still being read: {r}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(ended(&fresh), ended(&first) + 1, "{fresh}");

    // The page says when the figures it shows were read, in words.
    add_incident(&db);
    let (status, page) = get_as(&addr, "/reports", &admin);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("These figures were read on ")
            && page.contains("Newer ones are being read now"),
        "{page}"
    );
    stop(child);
}

#[test]
fn a_report_wait_out_of_range_is_refused() {
    for (value, want) in [
        (
            "-1",
            "server.report_wait_ms: -1 must be from 0 to 600000 milliseconds",
        ),
        ("\"1s\"", ":2: invalid type: string \"1s\""),
    ] {
        let err = serve_refused(&format!("[server]\nreport_wait_ms = {value}\n"));
        assert!(err.contains(want), "{value}: {err}");
    }
}

/// The server reads the administrators' report of the default period as it starts: logged as a
/// background reading before anyone asks, and the first administrator's request waits for no
/// second one.
#[test]
fn the_administrators_report_is_read_as_the_server_starts() {
    let (tmp, db) = scratch_db();
    let log = tmp.path().join("serve.log");
    let mut serve = command(&db, None);
    serve.env("RUST_LOG", "info").args([
        "serve",
        "--demo",
        "--practices",
        "2",
        "--bind",
        "127.0.0.1:0",
    ]);
    let (child, addr, banner) = spawn_serving_to(
        serve,
        std::process::Stdio::from(std::fs::File::create(&log).expect("log")),
    );
    let read = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("a report's period read"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while read().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no reading as the server started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(read()[0].contains("background=true"), "{:?}", read());
    let admin = sign_in_demo(&addr, &banner);
    assert_eq!(report(&addr, &admin)["being_read_again"], false);
    assert_eq!(
        read().len(),
        1,
        "the first request read again: {:?}",
        read()
    );
    stop(child);
}
