//! The renewal plan after a change: a running server reads the estate's renewals as it starts
//! (the first plan uses that read), keeps them and, after each
//! change it can place on sites (a certificate renewed, a person moved, a position that now
//! prescribes, a card cancelled, a new card with its certificates, a site moved to another
//! organisation), reads again only the renewals of the sites the change touched. Its plans, every
//! renewal with its target day, are exactly those of a fresh server planning from the whole store;
//! a change it cannot place (an organisation's parent) has the renewals read in full.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// What a server plans: every renewal with its target day and team (CSV), and the teams'
/// outcomes with the first page of renewals (JSON), at two capacities.
fn planned(addr: &str, cookie: &str) -> Vec<String> {
    answers(
        addr,
        cookie,
        &[
            "/api/v1/plan?capacity=3&format=csv",
            "/api/v1/plan?capacity=3&limit=10000",
            "/api/v1/plan?capacity=40",
        ],
    )
}

/// The running server's plans after `step`, checked against a fresh server's of the same
/// store, having updated its renewals (`in_full` false) or read them in full (true).
fn same_as_a_fresh_plan(run: &mut Changed, step: &str, in_full: bool) -> Vec<String> {
    let (updates, reads) = (run.logged("in_full=false"), run.logged("in_full=true"));
    let ours = planned(&run.addr, &run.cookie);
    let (u, r) = (run.logged("in_full=false"), run.logged("in_full=true"));
    if in_full {
        assert_eq!((u, r), (updates, reads + 1), "{step}: read in full");
    } else {
        assert_eq!(
            (u, r),
            (updates + 1, reads),
            "{step}: updated, not read in full"
        );
    }
    let theirs = run.on_a_fresh_server(planned);
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        if a != b {
            let first = a
                .lines()
                .zip(b.lines())
                .position(|(x, y)| x != y)
                .unwrap_or(0);
            panic!(
                "{step}: plan {i} differs from a fresh server's at line {first}:\n ours   {:?}\n theirs {:?}",
                a.lines().nth(first),
                b.lines().nth(first)
            );
        }
    }
    ours
}

#[test]
fn the_plan_after_each_change_equals_a_fresh_servers() {
    let mut run = Changed::start("running");
    // The server reads every renewal as it starts, before any plan is asked for, and the first
    // plan uses that read.
    let started = Instant::now();
    while run.logged("in_full=true") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the renewals are read as the server starts"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let first = planned(&run.addr, &run.cookie);
    assert_eq!(run.logged("in_full=true"), 1, "read in full once");
    assert_eq!(run.logged("in_full=false"), 0, "and not updated");
    let renewals = first[0].lines().count() - 1;
    assert!(renewals > 100, "{}", first[0]);

    let (db, dir) = (run.db.clone(), run.dir().to_owned());
    let (db, dir) = (db.as_str(), dir.as_path());
    let people = exported_records(db, "people");
    let cards = exported_records(db, "cards");
    let certificates = exported_records(db, "certificates");
    let positions = exported_records(db, "positions");
    let sites = exported_records(db, "sites");
    let site_at = column_of(&people[0], "site_ods");
    let holder_at = column_of(&cards[0], "holder_uuid");
    let site_of = |uuid: &str| {
        people[1..]
            .iter()
            .find(|p| p[0] == uuid)
            .map(|p| p[site_at].clone())
            .expect("the holder")
    };
    let holder_of = |serial: &str| {
        cards[1..]
            .iter()
            .find(|c| c[0] == serial)
            .map(|c| c[holder_at].clone())
            .expect("the card")
    };
    let status_at = column_of(&cards[0], "status");
    let active = |serial: &str| {
        cards[1..]
            .iter()
            .any(|c| c[0] == serial && c[status_at] == "active")
    };

    // A certificate renewed early: its card's renewal moves later in the plan.
    let after = column_of(&certificates[0], "not_after");
    let mut cert = certificates[1..]
        .iter()
        .find(|c| c[1] == "signing" && active(&c[0]) && c[after].as_str() < "2027-03-01")
        .expect("a signing certificate due soon on an active card")
        .clone();
    let practice = site_of(&holder_of(&cert[0]));
    cert[after] = "2029-10-01".into();
    import_rows(
        db,
        dir,
        "certificates.csv",
        &certificates[0],
        &[cert.clone()],
    );
    let out = same_as_a_fresh_plan(&mut run, "a certificate renewed", false);
    assert!(
        out[0]
            .lines()
            .any(|l| l.contains(&cert[0]) && l.contains("2029-10-01")),
        "the renewed certificate is planned at its new expiry"
    );

    // A person moved to another site: their renewals go with them.
    let elsewhere = people[1..]
        .iter()
        .map(|p| p[site_at].clone())
        .find(|s| *s != practice)
        .expect("another site");
    let mover = holder_of(&cert[0]);
    let mut person = people[1..]
        .iter()
        .find(|p| p[0] == mover)
        .expect("the mover")
        .clone();
    person[site_at] = elsewhere.clone();
    import_rows(db, dir, "people.csv", &people[0], &[person]);
    let out = same_as_a_fresh_plan(&mut run, "a person moved", false);
    assert!(
        out[0]
            .lines()
            .any(|l| l.contains(&cert[0]) && l.contains(&elsewhere)),
        "the card's renewals moved with its holder"
    );

    // A position that now prescribes: its holder's signing renewal is favoured.
    let codes = column_of(&positions[0], "activity_codes");
    let status = column_of(&positions[0], "status");
    let mut position = positions[1..]
        .iter()
        .find(|p| {
            !p[codes].contains("B0420")
                && matches!(p[status].as_str(), "active" | "approved")
                && cards[1..]
                    .iter()
                    .any(|c| c[holder_at] == p[0] && c[status_at] == "active")
        })
        .expect("a position that does not prescribe, of a holder with an active card")
        .clone();
    position[codes] = "B0420".into();
    import_rows(db, dir, "positions.csv", &positions[0], &[position]);
    same_as_a_fresh_plan(&mut run, "a position that prescribes", false);

    // A card cancelled: its renewals leave the plan.
    let mut cancelled = cards[1..]
        .iter()
        .find(|c| c[status_at] == "active" && site_of(&c[holder_at]) != practice)
        .expect("an active card")
        .clone();
    cancelled[status_at] = "cancelled".into();
    import_rows(db, dir, "cards.csv", &cards[0], &[cancelled.clone()]);
    let out = same_as_a_fresh_plan(&mut run, "a card cancelled", false);
    assert!(
        !out[0].contains(&cancelled[0]),
        "the cancelled card is not planned"
    );
    let listed = out[0].lines().count();

    // A new card for someone at the practice, with its two certificates.
    let holder = people[1..]
        .iter()
        .find(|p| p[site_at] == practice)
        .expect("someone at the practice")[0]
        .clone();
    let mut card = cards[1].clone();
    card[0] = "CSPLAN000001".into();
    card[holder_at] = holder;
    card[status_at] = "active".into();
    import_rows(db, dir, "cards.csv", &cards[0], &[card]);
    let mut new_certs = Vec::new();
    for (purpose, serial) in [("authentication", "0FA1"), ("signing", "0FA2")] {
        let mut c = certificates[1].clone();
        c[0] = "CSPLAN000001".into();
        c[1] = purpose.into();
        c[2] = serial.into();
        c[after] = "2027-02-01".into();
        new_certs.push(c);
    }
    import_rows(db, dir, "certificates.csv", &certificates[0], &new_certs);
    let out = same_as_a_fresh_plan(&mut run, "a new card", false);
    assert_eq!(
        out[0]
            .lines()
            .filter(|l| l.contains("CSPLAN000001"))
            .count(),
        2,
        "the new card's two renewals are planned"
    );
    assert_eq!(out[0].lines().count(), listed + 2);

    // A site moved to another organisation: its renewals name the new one (which RA teams
    // match on).
    let org = column_of(&sites[0], "organisation_ods");
    let mut site = sites[1..]
        .iter()
        .find(|s| s[0] == practice)
        .expect("the practice's site")
        .clone();
    let other = sites[1..]
        .iter()
        .map(|s| s[org].clone())
        .find(|o| *o != site[org])
        .expect("another organisation");
    site[org] = other;
    import_rows(db, dir, "sites.csv", &sites[0], &[site]);
    same_as_a_fresh_plan(&mut run, "a site moved to another organisation", false);

    // An organisation changed: not placed on sites, so every renewal is read again.
    let organisations = exported_records(db, "organisations");
    let mut changed = organisations[1].clone();
    let name = column_of(&organisations[0], "name");
    changed[name] = format!("{} renamed", changed[name]);
    import_rows(db, dir, "organisations.csv", &organisations[0], &[changed]);
    same_as_a_fresh_plan(&mut run, "an organisation changed", true);
    run.stop();
}
