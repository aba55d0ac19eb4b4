//! `cardwatch backup` and `cardwatch restore` on the test's store (SQLite, or PostgreSQL in
//! scripts/test's second run): a restored store has the same records and an intact audit
//! chain, every refusal leaves what it refused untouched, and a backup taken while the store is
//! written holds exactly the changes committed before one moment.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use cardwatch_core::card_status::CardStatus;
use cardwatch_core::date::Timestamp;
use cardwatch_core::ids::CardSerial;
use cardwatch_core::records::Kind;
use cardwatch_store::Change;
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

/// How far the writer has gone: the changes it has begun and those committed (each counted from
/// 1), and whether it is to stop.
struct Progress {
    begun: AtomicUsize,
    committed: AtomicUsize,
    stop: AtomicBool,
}

/// A backup taken while the writer ran.
#[derive(Debug)]
struct During {
    file: std::path::PathBuf,
    /// Changes committed when it began: it must hold them all.
    committed: usize,
    /// Changes begun when it ended: it can hold no later one.
    begun_after: usize,
    /// Whether a whole change was made while it ran.
    spanned: bool,
}

/// Change k (from 1) locks or unlocks one of `cards` in turn: the first round locks each, the
/// next unlocks each, and so on, with the reason `change k`, each in its own transaction through
/// the store, until told to stop. The audit chain's length before the first change and after
/// each.
fn lock_and_unlock(db: &str, cards: &[String], progress: &Progress) -> Vec<i64> {
    let store = cardwatch_store::open(db).expect("open the store");
    let start = Timestamp::parse("2026-11-22T09:00:00Z")
        .expect("time")
        .unix();
    let mut lengths = vec![store.audit_length().expect("audit length")];
    for k in 1.. {
        if progress.stop.load(SeqCst) {
            break;
        }
        let (round, serial) = ((k - 1) / cards.len(), &cards[(k - 1) % cards.len()]);
        let to = if round % 2 == 0 {
            CardStatus::Locked
        } else {
            CardStatus::Active
        };
        // Each change at its own second, so each lock is a lockout of its own.
        let change = Change {
            actor: "test:writer".into(),
            at: Timestamp::from_unix(start + k as i64),
        };
        progress.begun.store(k, SeqCst);
        let got = store
            .set_card_status(
                &CardSerial::parse(serial).expect("serial"),
                to,
                &format!("change {k}"),
                &change,
            )
            .expect("a status change");
        assert_eq!(got, to);
        progress.committed.store(k, SeqCst);
        lengths.push(store.audit_length().expect("audit length"));
        // A short pause, so the backup shares the machine with a writer, not a busy loop.
        std::thread::sleep(std::time::Duration::from_millis(4));
    }
    lengths
}

/// The lines of an export with its header first and its records sorted.
fn sorted(csv: &str) -> Vec<String> {
    let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    lines[1..].sort();
    lines
}

/// The first field of a CSV line (every key the writer touches is a plain card serial).
fn key(line: &str) -> &str {
    line.split(',').next().unwrap_or("")
}

/// Every kind's export (sorted) as the source held it after the writer's change `m`, from the
/// exports before its first change and after its last. Card `i` of `cards` was changed by
/// changes i+1, i+1+N, i+1+2N… (N cards), locked by the first, unlocked by the second, and so
/// on; each lock added a lockout, later ones at later times.
fn exports_at(m: usize, cards: &[String], before: &[String], after: &[String]) -> Vec<Vec<String>> {
    let changes_of = |serial: &str| match cards.iter().position(|c| c == serial) {
        Some(i) if m > i => (m - 1 - i) / cards.len() + 1,
        _ => 0,
    };
    Kind::ALL
        .iter()
        .zip(before.iter().zip(after))
        .map(|(kind, (was, is))| match kind {
            Kind::Cards => {
                let header: Vec<&str> = was.lines().next().unwrap_or("").split(',').collect();
                let status = header.iter().position(|c| *c == "status").expect("status");
                let lines: Vec<String> = was
                    .lines()
                    .enumerate()
                    .map(|(n, l)| {
                        if n == 0 || changes_of(key(l)) % 2 == 0 {
                            return l.to_owned();
                        }
                        let mut fields: Vec<&str> = l.split(',').collect();
                        fields[status] = "locked";
                        fields.join(",")
                    })
                    .collect();
                sorted(&lines.join("\n"))
            }
            Kind::Lockouts => {
                let old: std::collections::HashSet<&str> = was.lines().collect();
                let mut new: Vec<&str> = is.lines().filter(|l| !old.contains(l)).collect();
                new.sort();
                let mut lines: Vec<String> = was.lines().map(str::to_owned).collect();
                for serial in cards {
                    let locks = changes_of(serial).div_ceil(2);
                    let mine = new.iter().filter(|l| key(l) == serial);
                    lines.extend(mine.take(locks).map(|l| l.to_string()));
                }
                sorted(&lines.join("\n"))
            }
            _ => sorted(was),
        })
        .collect()
}

#[test]
fn a_backup_taken_while_the_store_is_written_holds_exactly_the_changes_committed_before_one_moment()
{
    let (tmp, db) = scratch_db();
    ok(&cardwatch_on(
        DAY,
        &db,
        &["demo", "--practices", "5", "--seed", "3", "--today", DAY],
    ));
    let before = exports(&db);
    let cards: Vec<String> = {
        let cards = exported_records(&db, "cards");
        let status = column_of(&cards[0], "status");
        cards[1..]
            .iter()
            .filter(|r| r[status] == "active")
            .map(|r| r[0].clone())
            .collect()
    };
    assert!(cards.len() >= 10, "only {} active cards", cards.len());

    let progress = Arc::new(Progress {
        begun: AtomicUsize::new(0),
        committed: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    });
    let writer = {
        let (db, cards, progress) = (db.clone(), cards.clone(), progress.clone());
        std::thread::spawn(move || lock_and_unlock(&db, &cards, &progress))
    };
    while progress.committed.load(SeqCst) < 2 {
        assert!(!writer.is_finished(), "the writer stopped before it began");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }

    // Backups while the writer runs, each with the changes committed when it began and those
    // begun when it ended. At least one must span a whole change (begun after the backup began,
    // committed before it ended): up to ten are taken until one does, and at least two.
    let mut backups = Vec::new();
    for n in 0..10 {
        let file = tmp.path().join(format!("during-{n}.backup"));
        let (committed, begun) = (progress.committed.load(SeqCst), progress.begun.load(SeqCst));
        ok(&cardwatch_on(DAY, &db, &["backup", file.to_str().unwrap()]));
        let (committed_after, begun_after) =
            (progress.committed.load(SeqCst), progress.begun.load(SeqCst));
        assert!(!writer.is_finished(), "the writer failed during backup {n}");
        backups.push(During {
            file,
            committed,
            begun_after,
            spanned: committed_after > begun,
        });
        if backups.iter().any(|b| b.spanned) && backups.len() >= 2 {
            break;
        }
    }
    progress.stop.store(true, SeqCst);
    let lengths = writer.join().expect("the writer");
    assert!(
        backups.iter().any(|b| b.spanned),
        "no backup spanned a whole change: {backups:?}"
    );
    let written = lengths.len() - 1;
    let after = exports(&db);
    let source_audit: Vec<String> = ok(&cardwatch_on(
        DAY,
        &db,
        &["audit", "show", "--limit", "1000000"],
    ))
    .lines()
    .map(str::to_owned)
    .collect();
    assert_eq!(source_audit.len() as i64, lengths[written]);

    // The writer touched the cards it changed and their lockouts, nothing else, as
    // `exports_at` reckons.
    assert_eq!(
        exports_at(written, &cards, &before, &after),
        after.iter().map(|csv| sorted(csv)).collect::<Vec<_>>()
    );

    for (n, b) in backups.iter().enumerate() {
        let sub = tmp.path().join(format!("restored-{n}"));
        std::fs::create_dir(&sub).expect("dir");
        let (_pg, restored) = store_in(&sub);
        let out = ok(&cardwatch_on(
            DAY,
            &restored,
            &["restore", b.file.to_str().unwrap()],
        ));
        assert!(out.contains("audit chain intact"), "{out}");
        let verified = ok(&cardwatch_on(DAY, &restored, &["audit", "verify"]));
        let length: i64 = verified
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("audit chain intact: "))
            .and_then(|l| l.strip_suffix(" records"))
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("backup {n}: {verified}"));

        // The writer's changes it holds, in chain order: exactly 1..m.
        let audit: Vec<String> = ok(&cardwatch_on(
            DAY,
            &restored,
            &["audit", "show", "--limit", "1000000"],
        ))
        .lines()
        .map(str::to_owned)
        .collect();
        let changes: Vec<usize> = audit
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
            .filter(|r| r["actor"] == "test:writer")
            .map(|r| {
                r["note"]
                    .as_str()
                    .and_then(|n| n.strip_prefix("change "))
                    .and_then(|k| k.parse().ok())
                    .unwrap_or_else(|| panic!("backup {n}: a writer's record {r}"))
            })
            .collect();
        let m = changes.len();
        assert_eq!(
            changes,
            (1..=m).collect::<Vec<_>>(),
            "backup {n}: not a prefix of the changes"
        );
        // Every change committed before the backup began, none begun after it ended.
        assert!(
            b.committed <= m && m <= b.begun_after,
            "backup {n} holds changes 1..{m}; {} were committed before it began, {} begun before it ended",
            b.committed,
            b.begun_after
        );
        // Its chain is the source's as it stood at change m: the same length, the same records.
        assert_eq!(
            length, lengths[m],
            "backup {n}: the chain's length at change {m}"
        );
        assert_eq!(
            audit,
            source_audit[..lengths[m] as usize],
            "backup {n}: the chain at change {m}"
        );

        // Every kind as the source held it after change m.
        for ((kind, got), expected) in Kind::ALL
            .iter()
            .zip(exports(&restored))
            .zip(exports_at(m, &cards, &before, &after))
        {
            assert_eq!(
                sorted(&got),
                expected,
                "backup {n}: {kind} after change {m}"
            );
        }
    }
}
