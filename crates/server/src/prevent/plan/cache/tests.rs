//! The kept renewals against a real store, a SQLite file holding a demo estate: a request that
//! read its version before a newer update keeps the newer renewals, and a client that goes away
//! mid-update leaves them updated for the next request.

use std::path::PathBuf;
use std::sync::Arc;

use cardwatch_core::calendar::Calendar;
use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::date::Timestamp;
use cardwatch_core::demo::DemoConfig;
use cardwatch_core::health::Thresholds;
use cardwatch_core::planner::Renewal;
use cardwatch_core::triage::KnowledgeBase;
use cardwatch_store::{renewals_due, Change, ImportInput, ImportOptions, Store};

use crate::{AppState, Checks};

fn now() -> Timestamp {
    Timestamp::parse("2026-11-22T09:00:00Z").expect("a time")
}

fn change() -> Change {
    Change {
        actor: "cli:test".into(),
        at: now(),
    }
}

/// The kept renewals at `version` or later, without their jobs.
async fn list(state: &AppState, version: i64) -> Result<Arc<Vec<Renewal>>, crate::web::Failure> {
    Ok(super::renewals(state, version).await?.0)
}

/// A server's state over a demo estate of three practices in a SQLite file.
struct Estate {
    state: AppState,
    store: Arc<dyn Store>,
    /// The demo's files.
    files: PathBuf,
    _dir: tempfile::TempDir,
}

fn estate() -> Estate {
    let dir = tempfile::tempdir().expect("a folder");
    let files = dir.path().join("csv");
    let cfg = DemoConfig {
        practices: 3,
        holders: None,
        seed: 1,
        today: now().date(),
    };
    let written = cardwatch_store::write_demo(&cfg, &files).expect("the demo's files");
    let url = dir.path().join("cw.sqlite").display().to_string();
    let store: Arc<dyn Store> = cardwatch_store::open(&url).expect("a store").into();
    let inputs: Vec<ImportInput> = written.iter().map(ImportInput::file).collect();
    store
        .import(&inputs, &ImportOptions::default(), &change())
        .expect("the demo imported");
    let checks = Checks {
        catalogue: Catalogue::shipped(),
        thresholds: Thresholds::default(),
        calendar: Calendar::england_and_wales(),
        teams: Vec::new(),
        triage: KnowledgeBase::shipped(),
        contacts: Vec::new(),
        notify: Default::default(),
        sign_in: Default::default(),
        sso: None,
        import_mapping: None,
        report_wait: std::time::Duration::from_secs(1),
    };
    Estate {
        state: AppState::new(store.clone(), now, checks),
        store,
        files,
        _dir: dir,
    }
}

impl Estate {
    fn length(&self) -> i64 {
        self.store.audit_length().expect("the chain's length")
    }

    /// Every renewal as a read in full finds them.
    fn read_in_full(&self) -> Vec<Renewal> {
        renewals_due(&*self.store, &Thresholds::default()).expect("the renewals")
    }

    /// Another process renews a planned certificate: its newest certificate of that purpose
    /// expires in 2029.
    fn renew_a_certificate(&self) {
        let first = self.read_in_full().into_iter().next().expect("a renewal");
        let text = std::fs::read_to_string(self.files.join("certificates.csv")).expect("read");
        let mut lines = text.lines();
        let header = lines.next().expect("a header");
        let after = header
            .split(',')
            .position(|c| c == "not_after")
            .expect("not_after");
        let row = lines
            .filter(|l| l.starts_with(&format!("{},{},", first.card_serial, first.purpose)))
            .max_by_key(|l| l.split(',').nth(after).map(str::to_owned))
            .expect("the renewal's certificate");
        let mut cells: Vec<&str> = row.split(',').collect();
        cells[after] = "2029-10-01";
        let csv = format!("{header}\n{}\n", cells.join(","));
        self.store
            .import(
                &[ImportInput::bytes("certificates.csv", csv)],
                &ImportOptions::default(),
                &change(),
            )
            .expect("the change imported");
    }
}

async fn kept(state: &AppState) -> Option<(i64, Arc<Vec<Renewal>>)> {
    let kept = state.renewals.lock().await.clone()?;
    Some((kept.at, kept.all))
}

/// A request that read the estate's version before another request brought the kept renewals
/// up to a newer one answers from those: they are the estate as it is, and are neither thrown
/// away nor read again in full.
#[tokio::test]
async fn a_request_with_an_older_version_keeps_the_newer_renewals() {
    let e = estate();
    let before = e.length();
    let first = list(&e.state, before).await.map_err(|f| f.0).expect("read");
    assert_eq!(*first, e.read_in_full());
    e.renew_a_certificate();
    let after = e.length();
    assert!(after > before);
    let newer = list(&e.state, after)
        .await
        .map_err(|f| f.0)
        .expect("updated");
    assert_ne!(
        *newer, *first,
        "the renewed certificate is planned at its new expiry"
    );
    assert_eq!(*newer, e.read_in_full());

    let late = list(&e.state, before).await.map_err(|f| f.0).expect("kept");
    assert!(
        Arc::ptr_eq(&late, &newer),
        "the kept renewals answer, not a read of the older version's own"
    );
    let (at, list) = kept(&e.state).await.expect("renewals kept");
    assert_eq!(at, after, "the kept renewals stay at the newer version");
    assert!(Arc::ptr_eq(&list, &newer));
    // The update numbered the sites, and keeps their numbers beside the renewals for the next.
    let cache = e.state.renewals.lock().await;
    let kept = cache.as_ref().expect("renewals kept");
    let numbers = kept
        .sites
        .as_ref()
        .expect("the sites numbered by the update");
    assert!(numbers.matches(&kept.all));
    assert!(
        kept.jobs.matches(&kept.all),
        "the jobs kept are those of the renewals kept"
    );
}

/// A client that goes away while the kept renewals are being brought up to date (its request
/// dropped mid-update) leaves them updated and kept, rather than taken out and lost.
#[tokio::test]
async fn a_client_leaving_mid_update_leaves_the_renewals_kept() {
    let e = estate();
    let before = e.length();
    list(&e.state, before).await.map_err(|f| f.0).expect("read");
    e.renew_a_certificate();
    let after = e.length();

    // Boxed, so that dropping it drops the request's future itself.
    let mut update = Box::pin(list(&e.state, after));
    // Polled until the update holds the kept renewals, then dropped: the client went away.
    loop {
        tokio::select! {
            biased;
            _ = &mut update => panic!("the update finished before the client could leave"),
            _ = tokio::task::yield_now() => {}
        }
        if e.state.renewals.try_lock().is_err() {
            break;
        }
    }
    drop(update);

    let (at, list) = kept(&e.state).await.expect("the renewals are still kept");
    assert_eq!(at, after, "kept at the version the update was for");
    assert_eq!(
        *list,
        e.read_in_full(),
        "updated as a read in full finds them"
    );
}

/// The snapshot's write holds the kept renewals only while it encodes them, not while it waits
/// for the store or for another write: an update meanwhile then changes them in place instead
/// of copying two million.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_snapshot_write_lets_the_renewals_go_before_it_waits() {
    let e = estate();
    let all = Arc::new(e.read_in_full());
    let later = Arc::new(e.read_in_full());
    // Another connection holds SQLite's one writer, as an import would.
    let other = rusqlite::Connection::open(e._dir.path().join("cw.sqlite")).expect("open");
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("the writer held");

    // The first waits for the store, the second for the first.
    let first = super::snapshot::refresh(&e.state, e.length(), &all, true);
    let second = super::snapshot::refresh(&e.state, e.length(), &later, true);
    // Well inside the store's 10 s wait for its writer, after which a write gives up and
    // would let them go anyway.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(4);
    while Arc::strong_count(&all) > 1 || Arc::strong_count(&later) > 1 {
        assert!(
            std::time::Instant::now() < until,
            "a write holds the renewals while it waits"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    other.execute_batch("COMMIT").expect("the writer let go");
    first.await.expect("the first write's task");
    second.await.expect("the second write's task");
    let stamp = cardwatch_store::plan_snapshot::stamp(&*e.store).expect("read");
    assert_eq!(
        stamp.map(|s| s.version),
        Some(e.length()),
        "the snapshot written"
    );
}

/// An update waits for a share of the kept renewals that ends soon (a plan being written out,
/// the snapshot being encoded) and changes them in place, rather than copying two million.
#[test]
fn an_update_waits_for_a_short_share_instead_of_copying() {
    let e = estate();
    let all = Arc::new(e.read_in_full());
    let at = all.as_ptr();
    let other = all.clone();
    let holder = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(100));
        drop(other);
    });
    let owned = super::owned(all);
    holder.join().expect("the holder");
    assert_eq!(owned.as_ptr(), at, "the same list, not a copy");
}

/// A write owed after a read in full, whose renewals an update replaced before it could encode
/// them, is made by the next refresh even where the stamp looks current.
#[tokio::test]
async fn a_write_owed_after_a_read_in_full_is_made_by_the_next() {
    let e = estate();
    let all = e.read_in_full();
    let t = Thresholds::default();
    let version = e.length();
    cardwatch_store::plan_snapshot::write(&*e.store, &t, version, &all[..10]).expect("written");

    // This runtime runs one task at a time: the renewals are gone before the refresh runs.
    let gone = super::snapshot::refresh(&e.state, version, &Arc::new(all.clone()), true);
    gone.await.expect("the refresh's task");
    let kept = Arc::new(all);
    let next = super::snapshot::refresh(&e.state, version, &kept, false);
    next.await.expect("the next refresh's task");

    let loaded = cardwatch_store::plan_snapshot::load(&*e.store, &t).expect("read");
    assert_eq!(
        loaded.map(|(_, l)| l.len()).ok(),
        Some(kept.len()),
        "written in full"
    );
}
