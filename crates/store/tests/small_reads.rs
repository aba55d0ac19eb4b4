//! A request's few sites are read while every connection for large reads is busy: the renewals
//! of one practice (its organisations, site, people, cards and certificates, as a plan's update
//! after a change reads them) do not queue behind a health check's large reads, which on
//! PostgreSQL hold the few connections kept for them for seconds each.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use cardwatch_core::health::Thresholds;
use cardwatch_core::records::Kind;
use cardwatch_store::exec::with_read;
use common::{demo_inputs, import, TestDb};

/// Long enough for a practice's reads on a busy machine; far shorter than a large read's wait
/// for a connection (five minutes), which is what the practice would wait for without its own
/// way through.
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

fn a_practice_is_read_while_every_large_read_is_held(db: &TestDb) {
    import(db, &demo_inputs(2, 7));
    let store = &*db.store;
    let site = with_read(store, |x| {
        x.rows("SELECT site_ods FROM sites ORDER BY site_ods LIMIT 1", &[])
    })
    .expect("a site")[0][0]
        .text()
        .to_owned();
    // As a read of every renewal places them.
    let mut alone =
        cardwatch_store::renewals_due(store, &Thresholds::default()).expect("every renewal");
    alone.retain(|r| r.site == site);
    assert!(!alone.is_empty(), "the demo's practice has renewals");

    // Every connection for large reads held by a whole-table read stopped at its first row.
    let held = store.large_reads_at_once().min(8);
    let (started_tx, started) = mpsc::channel::<()>();
    let (release_tx, release) = mpsc::channel::<()>();
    let release = std::sync::Mutex::new(release);
    std::thread::scope(|s| {
        for _ in 0..held {
            let (started_tx, release) = (started_tx.clone(), &release);
            s.spawn(move || {
                let mut first = true;
                store
                    .scan(Kind::Certificates, &[0], false, &mut |_| {
                        if std::mem::take(&mut first) {
                            started_tx.send(()).expect("the test waits");
                            // Each holder takes one release; the lock only hands them out.
                            let _ = release.lock().expect("lock").recv();
                        }
                        Ok(())
                    })
                    .expect("the large read")
            });
        }
        for _ in 0..held {
            started.recv().expect("a large read started");
        }
        let (answer_tx, answer) = mpsc::channel();
        s.spawn(move || {
            let read = cardwatch_store::renewals_of_sites(store, &Thresholds::default(), &[&site]);
            answer_tx.send(read).expect("the test waits");
        });
        let got = answer.recv_timeout(ANSWER_WITHIN);
        // The large reads end either way, so that a failure is reported rather than hung.
        for _ in 0..held {
            release_tx.send(()).expect("a holder waits");
        }
        let got = got.unwrap_or_else(|_| {
            panic!(
                "the practice's renewals took over {ANSWER_WITHIN:?} while {held} large reads \
                 held their connections"
            )
        });
        assert_eq!(got.expect("read"), alone);
    });
}

on_both_backends!(a_practice_is_read_while_every_large_read_is_held);
