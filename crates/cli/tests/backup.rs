//! `cardwatch backup` and `cardwatch restore` on the test's store (SQLite, or PostgreSQL in
//! scripts/test's second run): a restored store has the same records and an intact audit
//! chain, and every refusal leaves what it refused untouched.

mod common;

use cardwatch_core::records::Kind;
use common::*;

/// Every kind's records in key order, as `cardwatch export` writes them.
fn exports(db: &str) -> Vec<String> {
    Kind::ALL
        .iter()
        .map(|kind| ok(&cardwatch_on(DAY, db, &["export", kind.name()])))
        .collect()
}

/// A store of the same kind as the test's, not yet created.
fn another_store(dir: &std::path::Path) -> (Option<PgDatabase>, String) {
    let sub = dir.join("restored");
    std::fs::create_dir(&sub).expect("dir");
    store_in(&sub)
}

#[test]
fn a_backup_restores_into_a_new_store_with_its_records_and_audit_chain_whole() {
    let (tmp, db) = scratch_db();
    ok(&cardwatch_on(
        DAY,
        &db,
        &["demo", "--practices", "5", "--seed", "3", "--today", DAY],
    ));
    // A change after the import, so the chain holds more than the import's records.
    ok(&cardwatch_on(
        DAY,
        &db,
        &[
            "card",
            "set-status",
            "CS0000000001",
            "locked",
            "--reason",
            "three wrong passcodes",
        ],
    ));
    let before = exports(&db);
    // Five practices hold a record of every kind (integrations begin at five).
    for (kind, csv) in Kind::ALL.iter().zip(&before) {
        assert!(csv.lines().count() > 1, "the demo holds no {kind}");
    }
    let chain = ok(&cardwatch_on(DAY, &db, &["audit", "verify"]));

    let file = tmp.path().join("nightly.backup");
    let made = ok(&cardwatch_on(DAY, &db, &["backup", file.to_str().unwrap()]));
    assert!(made.contains("backed up the"), "{made}");
    assert!(file.is_file());
    assert!(!tmp.path().join("nightly.backup.partial").exists());

    // A backup never overwrites, and the file it refused to replace is untouched.
    let size = std::fs::metadata(&file).unwrap().len();
    let again = cardwatch_on(DAY, &db, &["backup", file.to_str().unwrap()]);
    assert!(!again.status.success(), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(std::fs::metadata(&file).unwrap().len(), size);

    // Into a new store: the same records, the chain verified whole.
    let (_pg, restored) = another_store(tmp.path());
    let out = ok(&cardwatch_on(
        DAY,
        &restored,
        &["restore", file.to_str().unwrap()],
    ));
    assert!(out.contains("audit chain intact"), "{out}");
    assert_eq!(
        ok(&cardwatch_on(DAY, &restored, &["audit", "verify"])),
        chain
    );
    assert_eq!(exports(&restored), before);

    // Never over a store that holds anything: the source stays as it was.
    let over = cardwatch_on(DAY, &db, &["restore", file.to_str().unwrap()]);
    assert_ne!(over.status.code(), Some(0));
    assert!(
        text(&over.stderr).contains("already"),
        "{}",
        text(&over.stderr)
    );
    assert_eq!(exports(&db), before);
    assert_eq!(ok(&cardwatch_on(DAY, &db, &["audit", "verify"])), chain);
}

#[test]
fn a_backup_from_a_newer_cardwatch_or_of_another_kind_is_refused_before_anything_is_written() {
    let (tmp, db) = scratch_db();
    ok(&cardwatch_on(
        DAY,
        &db,
        &["demo", "--practices", "1", "--seed", "3", "--today", DAY],
    ));
    let file = tmp.path().join("cw.backup");
    ok(&cardwatch_on(DAY, &db, &["backup", file.to_str().unwrap()]));

    // The same backup, as if a newer Cardwatch had made it (schema 999).
    let newer = tmp.path().join("newer.backup");
    if db.starts_with("postgres") {
        let dump = std::fs::read_to_string(&file).unwrap();
        let (first, rest) = dump.split_once('\n').unwrap();
        assert!(
            first.starts_with("-- cardwatch backup: postgresql schema "),
            "{first}"
        );
        std::fs::write(
            &newer,
            format!("-- cardwatch backup: postgresql schema 999\n{rest}"),
        )
        .unwrap();
    } else {
        std::fs::copy(&file, &newer).unwrap();
        rusqlite::Connection::open(&newer)
            .unwrap()
            .execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', '2030-01-01T00:00:00Z')",
                [],
            )
            .unwrap();
    }
    let (_pg, target) = another_store(tmp.path());
    let out = cardwatch_on(DAY, &target, &["restore", newer.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("newer Cardwatch (schema 999"),
        "{}",
        text(&out.stderr)
    );
    if !target.starts_with("postgres") {
        assert!(!std::path::Path::new(&target).exists(), "nothing written");
    }

    // Not a backup at all, and a backup of the other kind of database.
    let junk = tmp.path().join("junk.backup");
    std::fs::write(&junk, "hello\n").unwrap();
    let out = cardwatch_on(DAY, &target, &["restore", junk.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    assert!(
        err.contains("is not a Cardwatch backup") || err.contains("is not an SQLite backup"),
        "{err}"
    );
    let missing = cardwatch_on(DAY, &target, &["restore", "/nonexistent/cw.backup"]);
    assert_ne!(missing.status.code(), Some(0));
    assert!(
        text(&missing.stderr).contains("/nonexistent/cw.backup"),
        "{}",
        text(&missing.stderr)
    );
    // Once the refusals are done, the good backup still restores into that target.
    ok(&cardwatch_on(
        DAY,
        &target,
        &["restore", file.to_str().unwrap()],
    ));
}

#[test]
fn the_nightly_job_backs_up_into_its_folder_and_keeps_the_newest() {
    let (tmp, db) = scratch_db();
    ok(&cardwatch_on(
        DAY,
        &db,
        &["demo", "--practices", "1", "--seed", "3", "--today", DAY],
    ));
    let dir = tmp.path().join("backups");
    std::fs::create_dir(&dir).unwrap();
    // Files the job did not make are never touched.
    std::fs::write(dir.join("notes.txt"), "keep me").unwrap();
    std::fs::write(dir.join("other.backup"), "keep me too").unwrap();
    let cfg = tmp.path().join("cardwatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[backup]\ndir = {:?}\nkeep = 2\n",
            dir.display().to_string()
        ),
    )
    .unwrap();
    let cfg = cfg.display().to_string();
    for day in ["2026-11-22", "2026-11-23", "2026-11-24"] {
        let out = ok(&cardwatch_on(
            day,
            &db,
            &["--config", &cfg, "jobs", "run", "backup"],
        ));
        assert!(out.contains("backed up the"), "{out}");
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 4, "{names:?}");
    assert!(names[0].starts_with("cardwatch-20261123"), "{names:?}");
    assert!(names[1].starts_with("cardwatch-20261124"), "{names:?}");
    assert_eq!(&names[2..], ["notes.txt", "other.backup"]);
    // The newest restores.
    let (_pg, restored) = another_store(tmp.path());
    ok(&cardwatch_on(
        DAY,
        &restored,
        &["restore", dir.join(&names[1]).to_str().unwrap()],
    ));

    // A folder that does not exist, or nothing kept, is refused when the configuration is read.
    for (bad, says) in [
        (
            "[backup]\ndir = \"/nonexistent/backups\"\n",
            "is not a folder",
        ),
        (
            &*format!(
                "[backup]\ndir = {:?}\nkeep = 0\n",
                dir.display().to_string()
            ),
            "must be at least 1",
        ),
        ("[backup]\nkeep = 3\n", "no backup.dir"),
    ] {
        let file = tmp.path().join("bad.toml");
        std::fs::write(&file, bad).unwrap();
        let out = cardwatch_on(
            DAY,
            &db,
            &["--config", file.to_str().unwrap(), "jobs", "run", "backup"],
        );
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    }
}
