//! What the reads every signed-in request makes cost: the session and the audit chain's length
//! read together, and on PostgreSQL in one round trip with nothing parsed once the connection has
//! prepared them (counted by a relay between the store and the server, `common::wire`).

mod common;
#[path = "common/wire.rs"]
mod wire;

use cardwatch_core::access::{NewUser, Role, Username};
use cardwatch_core::date::Timestamp;
use cardwatch_core::ids::OdsCode;
use common::{change, TestDb};

/// An operator with a live session `hash-1`; the moment to ask at.
fn signed_in(db: &TestDb) -> Timestamp {
    let name = Username::parse("pm@nhs.net").expect("name");
    let new = NewUser {
        username: name.clone(),
        display_name: "Practice manager".into(),
        role: Role::PracticeManager,
        organisations: vec![OdsCode::parse("A81001").expect("ods")],
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    };
    db.store.add_user(&new, &change()).expect("add");
    let at = change().at;
    db.store
        .create_session(
            "hash-1",
            &name,
            "csrf-1",
            at,
            Timestamp::from_unix(at.unix() + 3600),
        )
        .expect("session");
    Timestamp::from_unix(at.unix() + 10)
}

fn session_with_length_agrees_with_its_parts(db: &TestDb) {
    let now = signed_in(db);
    let (user, csrf, length) = db
        .store
        .session_with_length("hash-1", now)
        .expect("read")
        .expect("live");
    let (alone, alone_csrf) = db
        .store
        .session("hash-1", now)
        .expect("read")
        .expect("live");
    assert_eq!((user, csrf), (alone, alone_csrf));
    assert_eq!(length, db.store.audit_length().expect("length"));
    assert!(length > 0, "adding the operator is audited");
    assert!(db
        .store
        .session_with_length("hash-2", now)
        .expect("read")
        .is_none());
    let expired = Timestamp::from_unix(now.unix() + 7200);
    assert!(db
        .store
        .session_with_length("hash-1", expired)
        .expect("read")
        .is_none());
}

on_both_backends!(session_with_length_agrees_with_its_parts);

/// The test's database reached through a counting relay (TLS off, so the relay reads the
/// messages).
fn through_relay(
    db: &TestDb,
) -> (
    Box<dyn cardwatch_store::Store>,
    std::sync::Arc<wire::Counts>,
) {
    let rest = db.url.split_once('@').expect("user@host").1;
    let (host, name) = rest.split_once('/').expect("host/db");
    let (addr, counts) = wire::relay(host);
    let url = format!(
        "{}@{addr}/{name}?sslmode=disable",
        db.url.split_once('@').expect("user@host").0
    );
    (
        cardwatch_store::open(&url).expect("open through the relay"),
        counts,
    )
}

#[test]
fn a_requests_session_and_length_are_one_round_trip_parsed_once_per_connection() {
    let db = TestDb::postgres();
    let now = signed_in(&db);
    let (store, counts) = through_relay(&db);
    // The first asking prepares the statement on the connection: one round trip more.
    let before = counts.now();
    store
        .session_with_length("hash-1", now)
        .expect("read")
        .expect("live");
    let first = counts.since(before);
    assert_eq!(first.parses, 1, "{first:?}");
    for _ in 0..3 {
        let before = counts.now();
        let (_, _, length) = store
            .session_with_length("hash-1", now)
            .expect("read")
            .expect("live");
        assert_eq!(length, db.store.audit_length().expect("length"));
        let seen = counts.since(before);
        assert_eq!(
            seen,
            wire::Seen {
                round_trips: 1,
                parses: 0
            }
        );
    }
}

#[test]
fn the_chains_length_is_parsed_once_per_connection() {
    let db = TestDb::postgres();
    let (store, counts) = through_relay(&db);
    store.audit_length().expect("length");
    for _ in 0..3 {
        let before = counts.now();
        store.audit_length().expect("length");
        let seen = counts.since(before);
        assert_eq!(
            seen,
            wire::Seen {
                round_trips: 1,
                parses: 0
            }
        );
    }
}
