//! What a signed-in practice manager's page costs in round trips to PostgreSQL once the server's
//! caches hold the check: the session and the estate's version (the audit chain's length) come
//! back in one, and a connection that has asked before parses nothing. Counted by a relay between
//! the server and PostgreSQL (`crates/store/tests/common/wire.rs`). PostgreSQL only
//! (`CARDWATCH_TEST_STORE=postgres`): SQLite has no round trips.

mod common;
#[path = "../../store/tests/common/wire.rs"]
mod wire;

use common::*;

const PM: &str = "pm@nhs.net";
const PW: &str = "correct horse battery staple";

/// The fewest round trips and parses one request to `path` took over a few tries: the server's
/// background work (the plan's start-up read, the findings' orders) may send statements beside
/// a request, never fewer.
fn fewest(addr: &str, path: &str, cookie: &str, counts: &wire::Counts) -> wire::Seen {
    (0..6)
        .map(|_| {
            let before = counts.now();
            let (status, body) = get_as(addr, path, cookie);
            assert_eq!(status, 200, "{path}: {body}");
            counts.since(before)
        })
        .min_by_key(|s| (s.round_trips, s.parses))
        .expect("tries")
}

#[test]
fn a_practice_managers_pages_read_the_session_and_version_in_one_round_trip() {
    if std::env::var("CARDWATCH_TEST_STORE").as_deref() != Ok("postgres") {
        eprintln!("PostgreSQL only: set CARDWATCH_TEST_STORE=postgres");
        return;
    }
    let (scratch, db) = scratch_db();
    ok(&import_all(&db, &demo_files(scratch.path())));
    let (user, rest) = db.split_once('@').expect("user@host");
    let (host, name) = rest.split_once('/').expect("host/db");
    let (relay, counts) = wire::relay(host);
    let through = format!("{user}@{relay}/{name}?sslmode=disable");
    // No scheduler: its jobs would send statements of their own at any moment.
    let config = scratch.path().join("quiet.toml");
    std::fs::write(&config, "[notify]\nscheduler = false\n").expect("config");
    let mut serve = command(&through, Some(DAY));
    serve
        .arg("--config")
        .arg(&config)
        .args(["serve", "--bind", "127.0.0.1:0"]);
    let (child, addr, _) = spawn_serving(serve);
    let cookie = practice_manager(&through, &addr, PM, "A10000", PW);
    for path in ["/findings", "/api/v1/findings", "/"] {
        // The first asking runs the check and prepares the statements.
        get_as(&addr, path, &cookie);
        let seen = fewest(&addr, path, &cookie, &counts);
        assert_eq!(
            seen,
            wire::Seen {
                round_trips: 1,
                parses: 0
            },
            "{path}"
        );
    }
    stop(child);
}
