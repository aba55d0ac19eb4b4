//! The access reviews list's counts follow the estate without counting it again (issue 26):
//! after changes that cannot move them (an incident recorded, a card locked, a finding
//! acknowledged, an operator added) they are served as kept, and after "keep" decisions they are
//! moved by the positions kept — in both cases `cardwatch_review_counts_total` does not move and
//! the counts equal a fresh count. A removal or an import of people is counted again, exactly.
//! Against a real `cardwatch serve` on the store CARDWATCH_TEST_STORE names.

mod common;

use cardwatch_core::date::Timestamp;
use cardwatch_store::reviews::{decide, review_counts, Decision};
use cardwatch_store::Change;
use common::*;

const YEAR: i64 = 365 * 86_400;

/// Whole-scope recounts so far, from `/metrics`.
fn recounts(addr: &str) -> u64 {
    let (status, page) = get(addr, "/metrics");
    assert_eq!(status, 200, "{page}");
    page.lines()
        .find_map(|l| l.strip_prefix("cardwatch_review_counts_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no cardwatch_review_counts_total in\n{page}"))
}

fn api(addr: &str, cookie: &str, query: &str) -> serde_json::Value {
    let (status, body) = get_as(addr, &format!("/api/v1/reviews?{query}"), cookie);
    assert_eq!(status, 200, "{query}: {body}");
    body_json(&body)
}

/// Every position the list shows (`all` or `due`).
fn listed(addr: &str, cookie: &str, show: &str) -> Vec<serde_json::Value> {
    let v = api(addr, cookie, &format!("show={show}&limit=5000"));
    assert!(v["next_cursor"].is_null(), "the whole list in one page");
    v["positions"].as_array().expect("positions").clone()
}

/// The list's totals (in force, due) as answered, checked against the positions it lists and,
/// for the scope `sites` of `cookie`'s viewer, a fresh count of the store.
fn exact(
    addr: &str,
    cookie: &str,
    store: &dyn cardwatch_store::Store,
    sites: Option<&[String]>,
    what: &str,
) -> (u64, u64) {
    let total = |show: &str| {
        api(addr, cookie, &format!("show={show}&limit=1"))["total"]
            .as_u64()
            .expect("total")
    };
    let answered = (total("all"), total("due"));
    let counted = (
        listed(addr, cookie, "all").len() as u64,
        listed(addr, cookie, "due").len() as u64,
    );
    assert_eq!(
        answered, counted,
        "{what}: the totals and the positions listed"
    );
    let fresh =
        review_counts(store, sites, Timestamp::from_unix(unix_now() - YEAR)).expect("counts");
    assert_eq!(
        answered,
        (fresh.in_force, fresh.due),
        "{what}: a fresh count"
    );
    answered
}

/// A position as the decision form names it: (holder, where, role).
fn position(r: &serde_json::Value) -> (String, String, String) {
    let s = |k: &str| r[k].as_str().expect(k).to_owned();
    (s("holder_uuid"), s("ods_code"), s("role_code"))
}

fn decide_on_page(
    addr: &str,
    cookie: &str,
    csrf: &str,
    (holder, ods, role): &(String, String, String),
    decision: &str,
) -> String {
    let (status, page) = request(
        addr,
        "POST",
        "/reviews",
        Some(cookie),
        Some(&form(&[
            ("csrf", csrf),
            ("holder_uuid", holder),
            ("ods_code", ods),
            ("role_code", role),
            ("decision", decision),
            ("reason", "reviewed with the practice"),
        ])),
    );
    assert_eq!(status, 200, "{page}");
    page
}

#[test]
fn review_counts_follow_changes_without_a_recount_and_recount_exactly() {
    let (tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "3");
    let store = cardwatch_store::open(&db).expect("open");
    let pm = practice_manager(
        &db,
        &addr,
        "pm@nhs.net",
        "A10000",
        "riverside surgery reception",
    );
    let practice = ["A10000".to_owned()];
    let scope = Some(&practice[..]);

    let (in_force, due) = exact(&addr, &admin, &*store, None, "first");
    let (pm_in_force, _) = exact(&addr, &pm, &*store, scope, "first, a practice");
    assert!(due >= 6 && in_force > due, "{in_force} in force, {due} due");
    assert!(pm_in_force > 0 && pm_in_force < in_force);
    let counted = recounts(&addr);
    assert!(counted >= 2, "each scope counted: {counted}");

    // Changes that cannot move the counts.
    let length = store.audit_length().expect("length");
    let now = Change {
        actor: "test".into(),
        at: Timestamp::from_unix(unix_now()),
    };
    open_incident_at(&*store, "A10000", now.at.unix());
    let card = active_card(&db);
    ok(&cardwatch(
        &db,
        &[
            "card",
            "set-status",
            &card,
            "locked",
            "--reason",
            "left on the desk",
        ],
    ));
    let findings = ok(&cardwatch(&db, &["check", "--format", "csv"]));
    let finding = findings
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .expect("a finding")
        .to_owned();
    ok(&cardwatch(
        &db,
        &["finding", "ack", &finding, "--reason", "being dealt with"],
    ));
    assert!(store.audit_length().expect("length") >= length + 3);
    assert_eq!(
        exact(&addr, &admin, &*store, None, "after unrelated changes"),
        (in_force, due)
    );
    exact(
        &addr,
        &pm,
        &*store,
        scope,
        "after unrelated changes, a practice",
    );
    assert_eq!(
        recounts(&addr),
        counted,
        "no recount after unrelated changes"
    );

    // Keeps: three due positions and one reviewed lately on the page, one due position kept
    // twice at the same moment (the second replaces the first's row).
    let csrf = csrf_of(&get_as(&addr, "/reviews", &admin).1);
    let due_now = listed(&addr, &admin, "due");
    let reviewed_lately = listed(&addr, &admin, "all")
        .into_iter()
        .find(|r| !r["last"].is_null() && !due_now.contains(r))
        .expect("a position reviewed within the year");
    let mut kept = due_now.iter().take(3).map(position).collect::<Vec<_>>();
    kept.push(position(&reviewed_lately));
    for p in &kept {
        let page = decide_on_page(&addr, &admin, &csrf, p, "keep");
        assert!(page.contains("Kept: "), "{page}");
    }
    let (holder, ods, role) = position(&due_now[3]);
    for _ in 0..2 {
        decide(
            &*store,
            &holder,
            &ods,
            &role,
            Decision::Keep,
            "still here",
            &now,
        )
        .expect("kept");
    }
    assert_eq!(
        exact(&addr, &admin, &*store, None, "after keeps"),
        (in_force, due - 4)
    );
    exact(&addr, &pm, &*store, scope, "after keeps, a practice");
    assert_eq!(recounts(&addr), counted, "no recount after keeps");

    // A removal is counted again.
    let page = decide_on_page(&addr, &admin, &csrf, &position(&due_now[4]), "remove");
    assert!(page.contains("Removed: "), "{page}");
    assert_eq!(
        exact(&addr, &admin, &*store, None, "after a removal"),
        (in_force - 1, due - 5)
    );
    exact(&addr, &pm, &*store, scope, "after a removal, a practice");
    let after_removal = recounts(&addr);
    assert!(after_removal > counted, "a removal is counted again");

    // So is an import of people: a holder of the practice's moves to another.
    let mover = listed(&addr, &pm, "all")[0]["holder_uuid"]
        .as_str()
        .expect("a holder")
        .to_owned();
    let people = exported_records(&db, "people");
    let site_at = column_of(&people[0], "site_ods");
    let mut row = people[1..]
        .iter()
        .find(|r| r[0] == mover)
        .expect("the holder's record")
        .clone();
    row[site_at] = "A10001".into();
    import_rows(&db, tmp.path(), "people.csv", &people[0], &[row]);
    let (pm_after, _) = exact(&addr, &pm, &*store, scope, "after an import, a practice");
    assert!(
        pm_after < pm_in_force,
        "the holder's positions left the practice"
    );
    exact(&addr, &admin, &*store, None, "after an import");
    assert!(
        recounts(&addr) > after_removal,
        "an import is counted again"
    );
    stop(child);
}

/// The server counts the whole estate's list as it starts, so the first administrator to open
/// `/reviews` finds the counts made: counted once before anyone asks, and not again by the first
/// request.
#[test]
fn the_whole_list_is_counted_as_the_server_starts() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while recounts(&addr) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "not counted as the server started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(recounts(&addr), 1);
    let store = cardwatch_store::open(&db).expect("open");
    exact(&addr, &admin, &*store, None, "the first request");
    assert_eq!(recounts(&addr), 1, "the first request counted again");
    stop(child);
}
