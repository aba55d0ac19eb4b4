//! The overview's open incidents tile keeps its count between requests: asked again after
//! incidents were opened and closed by another process, it counts what the incidents list the
//! tile opens counts, for an administrator and for a practice manager — who sees the incidents
//! at their practice and those they recorded themselves elsewhere, and no others.

mod common;

use cardwatch_core::date::Timestamp;
use cardwatch_core::triage::{IncidentStatus, NewIncident};
use cardwatch_store::Change;
use common::*;

const PM: &str = "pm@nhs.net";
const PW: &str = "correct horse battery staple";

/// The open incidents tile's number, checked against the incidents list it opens.
fn open(addr: &str, cookie: &str) -> u64 {
    let (status, overview) = get_as(addr, "/api/v1/overview", cookie);
    assert_eq!(status, 200, "{overview}");
    let overview = body_json(&overview);
    let tile = overview["open_incidents"].as_u64().expect("open incidents");
    let list = overview["lists"]["open_incidents"]
        .as_str()
        .expect("the tile's list");
    let (path, query) = list.split_once('?').expect("a filtered list");
    assert_eq!(path, "/incidents");
    let (status, listed) = get_as(addr, &format!("/api/v1/incidents?{query}"), cookie);
    assert_eq!(status, 200, "{listed}");
    assert_eq!(
        body_json(&listed)["total"].as_u64(),
        Some(tile),
        "the tile counts its list"
    );
    tile
}

#[test]
fn the_open_incidents_tile_follows_every_incident_opened_and_closed() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    let pm = practice_manager(&db, &addr, PM, "A10000", PW);
    let (admin_before, pm_before) = (open(&addr, &admin), open(&addr, &pm));
    // Asked again with nothing changed: the kept counts.
    assert_eq!(
        (open(&addr, &admin), open(&addr, &pm)),
        (admin_before, pm_before)
    );

    let store = cardwatch_store::open(&db).expect("open");
    let change = Change {
        actor: "test".into(),
        at: Timestamp::parse("2026-11-20T10:00:00Z").expect("time"),
    };
    let incident = |reporter: &str, site: &str| {
        store
            .open_incident(
                &NewIncident {
                    reporter: reporter.into(),
                    site: Some(site.into()),
                    symptom: "cannot-sign".into(),
                    ..NewIncident::default()
                },
                &change,
            )
            .expect("open an incident")
    };
    // At the practice: both see it.
    let here = incident("reception", "A10000");
    assert_eq!(
        (open(&addr, &admin), open(&addr, &pm)),
        (admin_before + 1, pm_before + 1)
    );
    // At another practice: the administrator only.
    incident("reception", "A10001");
    assert_eq!(
        (open(&addr, &admin), open(&addr, &pm)),
        (admin_before + 2, pm_before + 1)
    );
    // At another practice, recorded by the practice manager (as the web's wizard names them):
    // theirs too.
    incident(&format!("web:{PM}"), "A10001");
    assert_eq!(
        (open(&addr, &admin), open(&addr, &pm)),
        (admin_before + 3, pm_before + 2)
    );
    // Closed: open no longer.
    let closed = Change {
        actor: "test".into(),
        at: Timestamp::parse("2026-11-20T10:18:00Z").expect("time"),
    };
    store
        .close_incident(here, IncidentStatus::Resolved, None, &closed)
        .expect("close");
    assert_eq!(
        (open(&addr, &admin), open(&addr, &pm)),
        (admin_before + 2, pm_before + 1)
    );
    stop(child);
}
