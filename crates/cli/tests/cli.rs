//! The `cardwatch` command as users run it: exit statuses, messages, files, and the server.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

#[test]
fn import_export_and_reimport() {
    let (tmp, db) = scratch_db();
    let files = demo_files(&tmp.path().join("demo"));
    let first = ok(&import_all(&db, &files));
    assert!(first.contains("imported"), "{first}");
    let again = ok(&import_all(&db, &files));
    assert!(
        !again.contains(" 1 new") && again.contains("0 new, 0 changed"),
        "{again}"
    );

    let csv = ok(&cardwatch(&db, &["export", "cards"]));
    assert!(csv.starts_with("card_serial,holder_uuid,series,status,issued_on,last_used_on\n"));
    let json = ok(&cardwatch(&db, &["export", "sites", "--format", "json"]));
    let parsed: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert!(parsed.as_array().is_some_and(|a| !a.is_empty()));

    assert!(
        ok(&cardwatch(&db, &["audit", "verify"])).contains("intact: 14 records"),
        "one import record per file and kind that changed: the ODS extract's practices, not its \
         surgeries, which sites.csv gave first"
    );
}

#[test]
fn bad_rows_exit_2_and_name_line_and_column() {
    let (tmp, db) = scratch_db();
    let bad = tmp.path().join("people.csv");
    std::fs::write(
        &bad,
        "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles\n\
         1.23457E+11,Jo,,GP,A81001,,maybe,\n",
    )
    .expect("write");
    let out = cardwatch(&db, &["import", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    let file = bad.display().to_string();
    assert!(
        err.contains(&format!("{file}:2: uuid: 1.23457E+11: ")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{file}:2: local_admin: maybe: ")),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    // --check with the same file: the same refusal, and still nothing written.
    let out = cardwatch(&db, &["import", "--check", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(ok(&cardwatch(&db, &["export", "people"])).lines().count() == 1);
}

/// `cardwatch import epraccur.csv ebranchs.csv` with the files as NHS England publishes them:
/// the practices, their branch surgeries and sites, and the walk-in centre left out; a damaged
/// line exits 2 naming its line and column, and nothing is written.
#[test]
fn ods_extracts_import_from_the_command_line() {
    let (tmp, db) = scratch_db();
    let line = |fields: &[(usize, &str)]| {
        let mut f = vec![String::new(); 27];
        for &(n, v) in fields {
            f[n - 1] = v.to_owned();
        }
        let quoted: Vec<String> = f.iter().map(|v| format!("\"{v}\"")).collect();
        format!("{}\r\n", quoted.join(","))
    };
    let practice = |code: &str, status: &str, close: &str, setting: &str| {
        line(&[
            (1, code),
            (2, "THE SURGERY"),
            (3, "Y63"),
            (4, "QHM"),
            (10, "TS18 1HU"),
            (11, "19740401"),
            (12, close),
            (13, status),
            (15, "16C"),
            (26, setting),
        ])
    };
    let epraccur = tmp.path().join("epraccur.csv");
    let ebranchs = tmp.path().join("ebranchs.csv");
    let good = [
        practice("A81001", "A", "", "4"),
        practice("A81002", "C", "20250331", "4"),
        practice("Y02625", "A", "", "1"),
    ]
    .concat();
    std::fs::write(&epraccur, &good).expect("write");
    std::fs::write(
        &ebranchs,
        line(&[(1, "A81001001"), (2, "BRANCH"), (13, "A"), (15, "A81001")]),
    )
    .expect("write");
    let files = [
        epraccur.display().to_string(),
        ebranchs.display().to_string(),
    ];
    let out = ok(&cardwatch(&db, &["import", &files[1], &files[0]]));
    assert!(
        out.contains("sites                  2 rows: 2 new"),
        "{out}"
    );
    let orgs = ok(&cardwatch(&db, &["export", "organisations"]));
    assert!(
        orgs.contains("A81002,THE SURGERY,gp_practice,QHM,closed,2025-03-31"),
        "{orgs}"
    );
    assert!(!orgs.contains("Y02625"), "{orgs}");
    let sites = ok(&cardwatch(&db, &["export", "sites"]));
    assert!(sites.contains("A81001001,A81001,BRANCH,"), "{sites}");
    let again = ok(&cardwatch(&db, &["import", &files[0], &files[1]]));
    assert!(
        !again.contains(" 1 new") && !again.contains("1 changed"),
        "{again}"
    );

    std::fs::write(&epraccur, good.replace("\"C\"", "\"Z\"")).expect("write");
    let before = ok(&cardwatch(&db, &["export", "organisations"]));
    let out = cardwatch(&db, &["import", &files[0], &files[1]]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{}:2: column 13 (status): Z: ", files[0])),
        "{err}"
    );
    assert_eq!(ok(&cardwatch(&db, &["export", "organisations"])), before);
}

#[test]
fn tampered_audit_exits_3_naming_the_record() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = tmp.path().join("cw.sqlite");
    let url = db.display().to_string();
    let files = demo_files(&tmp.path().join("demo"));
    ok(&import_all(&url, &files));
    assert!(edit_audit_with_sqlite3(&db), "edited the audit log");
    let out = cardwatch(&url, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("audit record 4 was edited"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_chain_rewritten_with_its_hashes_is_found_by_an_anchor_kept_outside() {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = tmp.path().join("cw.sqlite");
    let url = db.display().to_string();
    let files = demo_files(&tmp.path().join("demo"));
    ok(&import_all(&url, &files));
    let printed = ok(&cardwatch(&url, &["audit", "verify"]));
    let anchor = printed
        .lines()
        .find_map(|l| l.strip_prefix("anchor ")?.split_whitespace().next())
        .unwrap_or_else(|| panic!("no anchor printed: {printed}"))
        .to_owned();
    let n = anchor.split(':').next().unwrap_or_default().to_owned();
    assert!(
        printed.contains(&format!("audit chain intact: {n} records")),
        "the anchor is the newest record's: {printed}"
    );
    let same = ok(&cardwatch(&url, &["audit", "verify", "--anchor", &anchor]));
    assert!(same.contains(&format!("anchor {anchor} matches")), "{same}");

    // Someone with write access edits record 4, reseals every later record and moves the head.
    rewrite_audit_from(&db, 4);
    let alone = ok(&cardwatch(&url, &["audit", "verify"]));
    assert!(
        alone.contains(&format!("intact: {n} records")),
        "the forgery fools the chain alone: {alone}"
    );
    let out = cardwatch(&url, &["audit", "verify", "--anchor", &anchor]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("audit record {n} has hash"))
            && err.contains(&format!("rewritten at or before record {n}")),
        "{err}"
    );
    let bad = cardwatch(&url, &["audit", "verify", "--anchor", &n]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("record number, a colon"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn catalogue_facts_past_their_age_are_warned_of_until_checked() {
    let tmp = tempfile::tempdir().expect("tmp");
    let url = tmp.path().join("cw.sqlite").display().to_string();
    let limit = tmp.path().join("limit.toml");
    std::fs::write(&limit, "[health]\ncatalogue_max_age_days = 3650\n").expect("config");
    let warned = |out: &std::process::Output| text(&out.stderr).contains("catalogue fact");

    // Far ahead, every shipped fact is older than the default six months.
    let late = cardwatch(&url, &["--now", "2040-01-01", "catalogue", "show"]);
    ok(&late);
    let err = text(&late.stderr);
    assert!(
        err.contains("catalogue facts last checked more than 183 days ago")
            && err.contains("update the catalogue file"),
        "{err}"
    );
    let check = cardwatch(&url, &["--now", "2040-01-01", "check"]);
    assert!(warned(&check), "{}", text(&check.stderr));

    // The shipped facts were checked in December 2026: none is ten years old then, nor is any
    // fact older than the default on the day the catalogue was last read.
    let limit = limit.display().to_string();
    let fresh = cardwatch(
        &url,
        &[
            "--config",
            &limit,
            "--now",
            "2026-12-06",
            "catalogue",
            "show",
        ],
    );
    ok(&fresh);
    assert!(!warned(&fresh), "{}", text(&fresh.stderr));
    let day = cardwatch(&url, &["--now", "2026-12-06", "catalogue", "show"]);
    assert!(!warned(&day), "{}", text(&day.stderr));
}

/// Edits record `from` and recomputes every hash after it and the head, as someone able to write
/// to the database and who knows the hashing (it is unkeyed) could.
fn rewrite_audit_from(db: &Path, from: i64) {
    use cardwatch_core::audit::{AuditRecord, GENESIS};
    use cardwatch_core::date::Timestamp;
    let conn = rusqlite::Connection::open(db).expect("open");
    let rows: Vec<AuditRecord> = conn
        .prepare("SELECT seq, at, actor, action, entity_kind, entity_key, note, before, after FROM audit_log ORDER BY seq")
        .expect("prepare")
        .query_map([], |r| {
            Ok(AuditRecord {
                seq: r.get(0)?,
                at: Timestamp::from_unix(r.get(1)?),
                actor: r.get(2)?,
                action: r.get(3)?,
                entity_kind: r.get(4)?,
                entity_key: r.get(5)?,
                note: r.get(6)?,
                before: r.get(7)?,
                after: r.get(8)?,
            })
        })
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    let mut prev = GENESIS.to_owned();
    for mut record in rows {
        if record.seq == from {
            record.note = "rewritten".into();
        }
        let sealed = record.seal(prev);
        conn.execute(
            "UPDATE audit_log SET note = ?1, prev_hash = ?2, hash = ?3 WHERE seq = ?4",
            rusqlite::params![
                sealed.record.note,
                sealed.prev_hash,
                sealed.hash,
                sealed.record.seq
            ],
        )
        .expect("update");
        prev = sealed.hash;
    }
    conn.execute("UPDATE audit_head SET hash = ?1", [&prev])
        .expect("head");
}

/// Edits record 4 with the sqlite3 command, as someone with file access could.
fn edit_audit_with_sqlite3(db: &Path) -> bool {
    Command::new("sqlite3")
        .arg(db)
        .arg(
            "UPDATE audit_log SET after = replace(after, '\"created\"', '\"made\"') WHERE seq = 4;",
        )
        .status()
        .expect("sqlite3 (scripts/test installs it)")
        .success()
}

#[test]
fn card_status_rules_and_unknown_scheme() {
    let (tmp, db) = scratch_db();
    let files = demo_files(&tmp.path().join("demo"));
    ok(&import_all(&db, &files));
    let s = ok(&cardwatch(
        &db,
        &[
            "card",
            "set-status",
            "CS0000000001",
            "lost",
            "--reason",
            "left in a taxi",
        ],
    ));
    assert!(s.contains("now lost"), "{s}");
    let out = cardwatch(
        &db,
        &[
            "card",
            "set-status",
            "CS0000000001",
            "active",
            "--reason",
            "found",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("lost"), "{}", text(&out.stderr));

    let out = cardwatch("mysql://root@localhost/cw", &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unknown database scheme \"mysql\""));
}

#[test]
fn serve_demo_answers_health_metrics_and_page() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "2");
    let health = get(&addr, "/healthz");
    let metrics = get(&addr, "/metrics");
    let page = get_as(&addr, "/", &cookie);
    let anonymous = get(&addr, "/");
    let missing = get(&addr, "/nothing-here");
    let css = get(&addr, "/assets/nhsuk-frontend.min.css");
    let icon = get(&addr, "/assets/images/favicon.svg");
    let no_icon = get(&addr, "/assets/images/nope.svg");
    let incidents = body_json(&get_as(&addr, "/api/v1/incidents?limit=5000", &cookie).1);
    let reviews = body_json(&get_as(&addr, "/api/v1/reviews?show=all&limit=5000", &cookie).1);
    stop(child);
    assert_eq!(health.0, 200);
    assert!(health.1.contains("\"status\":\"ok\""), "{}", health.1);
    assert_eq!(metrics.0, 200);
    assert!(
        metrics.1.contains("cardwatch_records{kind=\"cards\"}"),
        "{}",
        metrics.1
    );
    // Twelve import records (one per demo file and kind that changed; the ODS extract's
    // surgeries change nothing after sites.csv), the demo's past written — each incident
    // opened, each step recorded, each incident closed (but today's still open), each
    // position's review decided — and the demo operator added.
    let past: usize = incidents["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .map(|i| {
            let closed = usize::from(i["status"] != "open");
            1 + closed + i["steps"].as_array().expect("steps").len()
        })
        .sum::<usize>()
        + reviews["positions"]
            .as_array()
            .expect("positions")
            .iter()
            .filter(|p| !p["last"].is_null())
            .count();
    assert!(past > 0, "the demo has a past");
    assert!(
        metrics
            .1
            .contains(&format!("cardwatch_audit_records {}", 12 + past + 1)),
        "{}",
        metrics.1
    );
    assert_eq!(anonymous.0, 303, "the estate is for signed-in operators");
    assert!(anonymous.1.contains("location: /login"), "{}", anonymous.1);
    assert_eq!(page.0, 200);
    assert!(
        page.1
            .contains("<td class=\"nhsuk-table__cell\"><a href=\"/cards/CS"),
        "{}",
        page.1
    );
    assert!(
        page.1.contains("/assets/nhsuk-frontend.min.css"),
        "the NHS.UK look"
    );
    assert_eq!(missing.0, 404);
    assert_eq!(css.0, 200);
    assert!(
        css.1.contains("text/css") && css.1.contains(".nhsuk-header"),
        "the vendored stylesheet"
    );
    assert_eq!(icon.0, 200);
    assert!(icon.1.contains("image/svg+xml"));
    assert_eq!(no_icon.0, 404);

    // Started again on the same file with a bigger demo: the estate there is served, not
    // topped up.
    let (child, addr, _) = serve_demo_signed_in(&db, "4");
    let again = get(&addr, "/metrics");
    stop(child);
    // Only the demo operator's fresh password is new.
    assert!(
        again
            .1
            .contains(&format!("cardwatch_audit_records {}\n", 12 + past + 2)),
        "{}",
        again.1
    );
    let cards = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("cardwatch_records{kind=\"cards\"}"))
            .map(str::to_owned)
    };
    assert_eq!(cards(&again.1), cards(&metrics.1));
}

#[test]
fn retention_lists_then_erases_leavers_past_the_period() {
    let (tmp, db) = scratch_db();
    let files = demo_files(&tmp.path().join("demo"));
    ok(&import_all(&db, &files));
    let people = tmp.path().join("people.csv");
    std::fs::write(
        &people,
        "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles\n\
         555999999999,Olive Leaver,,Receptionist,A10000,31/01/2010,no,\n",
    )
    .expect("write");
    ok(&cardwatch(&db, &["import", &people.display().to_string()]));
    let listed = ok(&cardwatch(&db, &["retention"]));
    assert!(
        listed.contains("555999999999  A10000  left 2010-01-31"),
        "{listed}"
    );
    assert!(
        listed.contains("1 leaver(s)") && listed.contains("run with --apply"),
        "{listed}"
    );
    assert!(
        ok(&cardwatch(&db, &["export", "people"])).contains("Olive Leaver"),
        "listing erases nothing"
    );
    let applied = ok(&cardwatch(&db, &["retention", "--apply", "--json"]));
    let v: serde_json::Value = serde_json::from_str(&applied).expect("json");
    assert_eq!(
        (v["erased"].as_bool(), v["people"][0]["uuid"].as_str()),
        (Some(true), Some("555999999999"))
    );
    assert!(!ok(&cardwatch(&db, &["export", "people"])).contains("Olive"));
    assert!(ok(&cardwatch(&db, &["retention"])).starts_with("0 leaver(s)"));
    assert!(ok(&cardwatch(&db, &["audit", "verify"])).contains("intact"));
}
