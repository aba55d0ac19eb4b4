//! The renewals a server keeps for the plan, written to the store as a snapshot: a server
//! starting on a store with one takes it (brought up to date after changes made since) instead
//! of reading the estate in full, and plans exactly as a server that reads in full. A snapshot
//! decided with other thresholds, one whose parts were altered and one stamped with a record
//! the audit chain does not hold are not used. The snapshot holds nothing the estate does not,
//! and goes with the store through a backup and its restore. Both stores
//! (`CARDWATCH_TEST_STORE=postgres`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use cardwatch_store::exec::{with_exec, with_read};
use common::*;

const PASSPHRASE: &str = "snapshot test administrator passphrase";

/// What a server plans: every renewal with its target day and team (CSV), and the teams'
/// outcomes (JSON), at two capacities.
fn planned(addr: &str, cookie: &str) -> Vec<String> {
    answers(
        addr,
        cookie,
        &[
            "/api/v1/plan?capacity=3&format=csv",
            "/api/v1/plan?capacity=40",
        ],
    )
}

/// A server on `db` (with `config`, if given) logging at info to `log`, signed in as `user`.
fn serve(db: &str, user: &str, config: Option<&Path>, log: &Path) -> (Child, String, String) {
    add_administrator(db, user, PASSPHRASE);
    let mut serve = command(db, Some(DAY));
    serve.env("RUST_LOG", "info");
    if let Some(c) = config {
        serve.arg("--config").arg(c);
    }
    serve.args(["serve", "--bind", "127.0.0.1:0"]);
    let (child, addr, _) =
        spawn_serving_to(serve, Stdio::from(std::fs::File::create(log).expect("log")));
    let cookie = sign_in(&addr, user, PASSPHRASE);
    (child, addr, cookie)
}

fn log_of(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Waits until `log` holds `what`.
fn wait_for(log: &Path, what: &str) {
    let started = Instant::now();
    while !log_of(log).contains(what) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "{what:?} not logged:\n{}",
            log_of(log)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One server started on the store: its plans and its log.
struct Started {
    plans: Vec<String>,
    log: String,
}

/// Starts a server on `db`, asks for its plans (the first as it starts) and stops it, once it
/// has written its snapshot when `writes`.
fn started(db: &str, dir: &Path, name: &str, config: Option<&Path>, writes: bool) -> Started {
    let log: PathBuf = dir.join(format!("{name}.log"));
    let (child, addr, cookie) = serve(db, name, config, &log);
    let plans = planned(&addr, &cookie);
    if writes {
        wait_for(&log, "the renewals' snapshot written");
    }
    stop(child);
    Started {
        plans,
        log: log_of(&log),
    }
}

fn open(db: &str) -> Box<dyn cardwatch_store::Store> {
    cardwatch_store::open(db).expect("the store")
}

/// Runs SQL on the store (an outside hand altering the snapshot).
fn alter(db: &str, sql: &str) {
    with_exec(&*open(db), |x| x.exec(sql, &[]).map(drop)).expect(sql);
}

/// The snapshot's chain length and renewals, as the store keeps them.
fn stamp(db: &str) -> Option<cardwatch_store::plan_snapshot::Stamp> {
    cardwatch_store::plan_snapshot::stamp(&*open(db)).expect("the stamp")
}

/// The estate's plans read in full: the snapshot removed first, then a server started (which
/// writes one again).
fn read_in_full(db: &str, dir: &Path, name: &str, config: Option<&Path>) -> Vec<String> {
    cardwatch_store::plan_snapshot::clear(&*open(db)).expect("cleared");
    let s = started(db, dir, name, config, true);
    assert!(s.log.contains("in_full=true"), "{}", s.log);
    s.plans
}

/// The demo estate with a server that read it in full and wrote the snapshot, stopped.
fn with_a_snapshot() -> Changed {
    let run = Changed::start("writer");
    wait_for(&run.log, "the renewals' snapshot written");
    assert!(log_of(&run.log).contains("in_full=true"));
    run
}

fn same(what: &str, ours: &[String], theirs: &[String]) {
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let first = a.lines().zip(b.lines()).position(|(x, y)| x != y);
        assert!(
            a == b,
            "{what}: plan {i} differs at line {first:?}:\n ours   {:?}\n theirs {:?}",
            first.and_then(|f| a.lines().nth(f)),
            first.and_then(|f| b.lines().nth(f))
        );
    }
    assert!(ours[0].lines().count() > 100, "renewals planned");
}

#[test]
fn a_server_started_on_a_snapshot_plans_as_a_full_read() {
    let run = with_a_snapshot();
    let (db, dir) = (run.db.clone(), run.dir().to_owned());
    let kept = stamp(&db).expect("a snapshot");
    let snap = started(&db, &dir, "from-snapshot", None, false);
    assert!(
        snap.log
            .contains("renewals taken from the store's snapshot"),
        "{}",
        snap.log
    );
    assert!(!snap.log.contains("in_full=true"), "{}", snap.log);
    assert!(
        !snap.log.contains("snapshot written"),
        "a snapshot at the estate's version is not written again"
    );
    assert_eq!(stamp(&db).as_ref(), Some(&kept));
    let full = read_in_full(&db, &dir, "in-full", None);
    same("a server started on the snapshot", &snap.plans, &full);
    // The planned CSV holds one line per renewal; the snapshot held each.
    assert_eq!(kept.renewals as usize, full[0].lines().count() - 1);
    run.stop();
}

#[test]
fn a_stale_snapshot_is_brought_up_to_date() {
    let run = with_a_snapshot();
    let (db, dir) = (run.db.clone(), run.dir().to_owned());
    let kept = stamp(&db).expect("a snapshot");

    // A certificate renewed and a card cancelled, with no plan asked of the first server.
    let certificates = exported_records(&db, "certificates");
    let cards = exported_records(&db, "cards");
    let after = column_of(&certificates[0], "not_after");
    let status = column_of(&cards[0], "status");
    let active = |serial: &str| {
        cards[1..]
            .iter()
            .any(|c| c[0] == serial && c[status] == "active")
    };
    let mut cert = certificates[1..]
        .iter()
        .find(|c| active(&c[0]) && c[after].as_str() < "2027-03-01")
        .expect("a certificate due soon on an active card")
        .clone();
    cert[after] = "2029-10-01".into();
    import_rows(
        &db,
        &dir,
        "certificates.csv",
        &certificates[0],
        &[cert.clone()],
    );
    let mut cancelled = cards[1..]
        .iter()
        .find(|c| c[status] == "active" && c[0] != cert[0])
        .expect("an active card")
        .clone();
    cancelled[status] = "cancelled".into();
    import_rows(&db, &dir, "cards.csv", &cards[0], &[cancelled.clone()]);

    let snap = started(&db, &dir, "stale", None, false);
    assert!(
        snap.log
            .contains("renewals taken from the store's snapshot"),
        "{}",
        snap.log
    );
    assert!(snap.log.contains("in_full=false"), "updated: {}", snap.log);
    assert!(!snap.log.contains("in_full=true"), "{}", snap.log);
    assert_eq!(
        stamp(&db).as_ref(),
        Some(&kept),
        "a few changes behind: kept"
    );
    assert!(!snap.plans[0].contains(&cancelled[0]), "the cancelled card");
    assert!(snap.plans[0]
        .lines()
        .any(|l| l.contains(&cert[0]) && l.contains("2029-10-01")));
    let full = read_in_full(&db, &dir, "in-full", None);
    same("a stale snapshot brought up to date", &snap.plans, &full);
}

/// A snapshot that cannot be used is not: the server reads in full, plans as one that reads in
/// full, and writes a snapshot in its place.
#[test]
fn snapshots_that_cannot_be_used_are_not() {
    let run = with_a_snapshot();
    let (db, dir) = (run.db.clone(), run.dir().to_owned());
    let full = read_in_full(&db, &dir, "in-full", None);

    let refused = |name: &str, config: Option<&Path>, why: &str| {
        let s = started(&db, &dir, name, config, true);
        assert!(
            s.log
                .contains("the store's snapshot of the renewals is not used"),
            "{name}: {}",
            s.log
        );
        assert!(s.log.contains(why), "{name}: {why:?} in {}", s.log);
        assert!(s.log.contains("in_full=true"), "{name}: {}", s.log);
        assert!(!s.log.contains("taken from the store's snapshot"), "{name}");
        s.plans
    };

    // Decided with other thresholds: a wider renewal window plans other days.
    let config = dir.join("other.toml");
    std::fs::write(&config, "[health]\nrenewal_window_days = 120\n").expect("config");
    let other = refused(
        "other-thresholds",
        Some(&config),
        "decided with other thresholds",
    );
    let other_full = read_in_full(&db, &dir, "other-full", Some(&config));
    same("other thresholds", &other, &other_full);
    assert_ne!(other, full, "the thresholds change the plan");
    // The default thresholds' server refuses the other one's snapshot, and writes its own.
    refused("default-thresholds", None, "decided with other thresholds");

    // A part altered (every expiry in it moved): its checksum no longer matches.
    alter(
        &db,
        "UPDATE plan_snapshot_parts SET body = replace(body, '-0', '-1') WHERE part = 0",
    );
    let s = refused("corrupt", None, "does not match its checksum");
    same("a corrupt snapshot", &s, &full);

    // The places (sites and their organisations) altered.
    alter(&db, "UPDATE plan_snapshot SET places = places || 'X,-,-'");
    refused("corrupt-places", None, "places do not match their checksum");

    // A newer format than this program writes.
    alter(&db, "UPDATE plan_snapshot SET format = format + 1");
    refused("newer-format", None, "a snapshot of format");

    // Stamped with a record the chain does not hold there (a chain cut and written again).
    alter(&db, "UPDATE plan_snapshot SET chain_hash = 'ab'");
    let s = refused("other-chain", None, "no longer holds the snapshot's record");
    same("a snapshot of another chain", &s, &full);
    alter(&db, "UPDATE plan_snapshot SET version = version + 1000000");
    refused("cut-chain", None, "no longer holds the snapshot's record");

    // Its renewals missing.
    alter(&db, "DELETE FROM plan_snapshot_parts");
    refused("missing-part", None, "renewals, not");

    // And the one written last is used.
    let s = started(&db, &dir, "last", None, false);
    assert!(
        s.log.contains("taken from the store's snapshot"),
        "{}",
        s.log
    );
    same("the snapshot written last", &s.plans, &full);
    run.stop();
}

/// The snapshot holds card serials, holder UUIDs, sites, organisation codes and expiry days of
/// the estate's renewals: no name, email or staff role (which retention erases), and no card or
/// person the estate does not hold. A backup carries it with the audit chain it is stamped
/// against, and a server on the restored store takes it.
#[test]
fn the_snapshot_holds_no_more_than_the_estate_and_is_restored_with_it() {
    let run = with_a_snapshot();
    let (db, dir) = (run.db.clone(), run.dir().to_owned());
    let (places, bodies) = with_read(&*open(&db), |x| {
        let places = x.rows("SELECT places FROM plan_snapshot", &[])?[0][0]
            .text()
            .to_owned();
        let bodies: Vec<String> = x
            .rows("SELECT body FROM plan_snapshot_parts ORDER BY part", &[])?
            .into_iter()
            .map(|r| r[0].text().to_owned())
            .collect();
        Ok((places, bodies))
    })
    .expect("the snapshot");
    let text = format!("{places}\n{}", bodies.concat());
    let people = exported_records(&db, "people");
    let cards = exported_records(&db, "cards");
    for column in ["name", "email", "staff_role"] {
        let at = column_of(&people[0], column);
        for p in &people[1..] {
            let value = p[at].trim();
            if value.len() > 3 {
                assert!(
                    !text.contains(value),
                    "the snapshot holds a {column}: {value}"
                );
            }
        }
    }
    for line in bodies.concat().lines() {
        let cells: Vec<&str> = line.split(',').collect();
        assert!(
            cards[1..].iter().any(|c| c[0] == cells[0]),
            "{line}: a card the estate holds"
        );
        assert!(
            people[1..].iter().any(|p| p[0] == cells[2]),
            "{line}: a holder the estate holds"
        );
    }
    let before = started(&db, &dir, "source", None, false).plans;

    let backup = dir.join("store.backup");
    ok(&cardwatch_on(
        DAY,
        &db,
        &["backup", &backup.display().to_string()],
    ));
    let restored_dir = tempfile::tempdir().expect("a folder");
    let (_pg, restored) = store_in(restored_dir.path());
    ok(&cardwatch_on(
        DAY,
        &restored,
        &["restore", &backup.display().to_string()],
    ));
    assert_eq!(stamp(&restored), stamp(&db), "the snapshot restored");
    let after = started(&restored, &dir, "restored", None, false);
    assert!(
        after
            .log
            .contains("renewals taken from the store's snapshot"),
        "{}",
        after.log
    );
    same("a restored store", &after.plans, &before);
}
