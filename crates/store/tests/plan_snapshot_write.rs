//! The plan snapshot written a part at a time under a generation of its own: a write cut short
//! leaves the kept snapshot as a reader takes it, and the next write removes what it left; a
//! write replaces the kept one whole and leaves no part of the old; clearing leaves nothing.

mod common;

use std::sync::Arc;

use cardwatch_core::date::Date;
use cardwatch_core::health::Thresholds;
use cardwatch_core::planner::Renewal;
use cardwatch_core::vocab::Purpose;
use cardwatch_store::exec::with_read;
use cardwatch_store::plan_snapshot;
use common::TestDb;

/// More renewals than two parts hold, each on one of a few sites, expiring on `day`.
fn renewals(day: &str) -> Vec<Renewal> {
    let expiry = Date::parse(day).expect("a day");
    let icb: Arc<str> = Arc::from("QE1");
    (0..250_001)
        .map(|i| Renewal {
            card_serial: format!("C{i}"),
            purpose: if i % 3 == 0 {
                Purpose::Authentication
            } else {
                Purpose::Signing
            },
            holder_uuid: format!("holder-{i}"),
            site: format!("S{}", i % 40),
            expiry,
            prescriber_signing: i % 7 == 0,
            organisations: [Some(Arc::from(format!("O{}", i % 5))), Some(icb.clone())],
        })
        .collect()
}

/// The parts the store holds, by generation.
fn parts(db: &TestDb) -> Vec<(i64, i64)> {
    with_read(&*db.store, |x| {
        x.rows(
            "SELECT generation, part FROM plan_snapshot_parts ORDER BY generation, part",
            &[],
        )
    })
    .expect("the parts")
    .iter()
    .map(|r| (r[0].int(), r[1].int()))
    .collect()
}

fn loaded(db: &TestDb) -> Result<(i64, Vec<Renewal>), String> {
    plan_snapshot::load(&*db.store, &Thresholds::default()).expect("read")
}

fn a_write_cut_short_leaves_the_kept_snapshot(db: &TestDb) {
    let t = Thresholds::default();
    let first = renewals("2027-02-28");
    assert!(plan_snapshot::write(&*db.store, &t, 0, &first).expect("written"));
    assert_eq!(loaded(db), Ok((0, first.clone())));
    let kept = parts(db);
    assert_eq!(kept.len(), 3, "{kept:?}");

    // Two of the three parts of another snapshot written, and the stamp never moved to them.
    let second = renewals("2027-03-31");
    plan_snapshot::write_unfinished(&*db.store, &second, 2).expect("parts written");
    assert_eq!(parts(db).len(), 5);
    assert_eq!(loaded(db), Ok((0, first.clone())), "the kept snapshot");
    let stamp = plan_snapshot::stamp(&*db.store).expect("the stamp");
    assert_eq!(stamp.map(|s| s.renewals), Some(first.len() as i64));

    // The next write keeps its own parts only: neither the cut write's nor the old snapshot's.
    assert!(plan_snapshot::write(&*db.store, &t, 0, &second).expect("written"));
    assert_eq!(loaded(db), Ok((0, second.clone())));
    let now = parts(db);
    assert_eq!(now.len(), 3, "{now:?}");
    assert!(
        now.iter().all(|p| p.0 == now[0].0),
        "one generation: {now:?}"
    );
    assert!(
        !kept.iter().any(|k| k.0 == now[0].0),
        "a generation of its own"
    );

    // A write cut short, then the snapshot cleared: nothing is left of either.
    plan_snapshot::write_unfinished(&*db.store, &first, 1).expect("a part written");
    plan_snapshot::clear(&*db.store).expect("cleared");
    assert_eq!(parts(db), Vec::new());
    assert_eq!(plan_snapshot::stamp(&*db.store).expect("the stamp"), None);
    assert_eq!(loaded(db), Err("no snapshot kept".to_owned()));
}

on_both_backends!(a_write_cut_short_leaves_the_kept_snapshot);
