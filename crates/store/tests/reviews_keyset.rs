//! The access reviews list by keyset (issue 26, migration 0026): by the holder's site, name (in
//! lower case), UUID, then where and which role, read a page at a time forward to the end and
//! back to the start, every position once and in order, holders of one name included; due
//! positions are those not decided within the year; a practice's list holds its holders only,
//! wherever a place says to start; an offset reads the same order; the counts agree with the
//! list and say when the next position falls due; a page walks the people's index and stops.
//! On SQLite and on PostgreSQL.

mod common;

use cardwatch_core::date::Timestamp;
use cardwatch_store::reviews::{
    decide, review_counts, reviews_page, Decision, ReviewPlace, ReviewsFrom, ReviewsQuery, ToReview,
};
use cardwatch_store::{Change, ImportInput};
use common::{import, query_plan, TestDb};

const ORGS: &str = "ods_code,name,type,parent_ods
Q0001,NHS Test ICB,icb,
A81001,Riverside Surgery,gp_practice,Q0001
A81002,Hillside Surgery,gp_practice,Q0001
B82001,Valley Practice,gp_practice,Q0001
";
const SITES: &str = "site_ods,organisation_ods,name,core_hours
A81001,A81001,Riverside Surgery,
A81002,A81002,Hillside Surgery,
B82001,B82001,Valley Practice,
";

/// The moment the tests decide at; a year before it is the due line.
const NOW: i64 = 1_800_000_000;
const YEAR: i64 = 365 * 86_400;

/// An estate of three practices whose holders share names (in capitals or not), each holder
/// with one to three roles, some of them not in force.
fn estate(db: &TestDb) {
    let names = [
        "Sam Jones",
        "sam jones",
        "SAM JONES",
        "Ann Lee",
        "ann lee",
        "Zoe Ng",
        "Bo Li",
        "Sam Jones",
    ];
    let sites = ["A81001", "A81002", "B82001"];
    let mut people =
        String::from("uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles\n");
    let mut positions = String::from(
        "holder_uuid,ods_code,role_code,role_name,activity_codes,status,requested_on,approved_on\n",
    );
    for i in 0..30u64 {
        // UUIDs not in the order of names or sites.
        let uuid = format!("5551{:08}", (i * 7_919) % 100_003);
        let site = sites[(i % 3) as usize];
        let name = names[(i % names.len() as u64) as usize];
        people.push_str(&format!("{uuid},{name},,GP,{site},,no,\n"));
        for r in 0..=(i % 3) {
            let ods = sites[((i + r) % 3) as usize];
            let status = if (i + r) % 5 == 4 {
                "removed"
            } else {
                "active"
            };
            positions.push_str(&format!(
                "{uuid},{ods},R800{r},Role {r},B0570,{status},2024-01-02,2024-01-05\n"
            ));
        }
    }
    import(
        db,
        &[
            ImportInput::bytes("organisations.csv", ORGS),
            ImportInput::bytes("sites.csv", SITES),
            ImportInput::bytes("people.csv", people),
            ImportInput::bytes("positions.csv", positions),
        ],
    );
}

type Key = (String, String, String, String, String);

fn key(r: &ToReview) -> Key {
    (
        r.site_ods.clone(),
        r.name.to_ascii_lowercase(),
        r.holder_uuid.clone(),
        r.ods_code.clone(),
        r.role_code.clone(),
    )
}

fn query(sites: Option<&[&str]>, due: bool, from: ReviewsFrom, limit: usize) -> ReviewsQuery {
    ReviewsQuery {
        sites: sites.map(|s| s.iter().map(|s| s.to_string()).collect()),
        not_since: due.then_some(Timestamp::from_unix(NOW - YEAR)),
        from,
        limit,
    }
}

/// The whole list read a page of `limit` at a time, forward from the start, then back from
/// its last position: both in the list's order.
fn walk(db: &TestDb, sites: Option<&[&str]>, due: bool, limit: usize) -> (Vec<Key>, Vec<Key>) {
    let store = &*db.store;
    let (mut forward, mut from) = (Vec::new(), ReviewsFrom::Offset(0));
    let mut last = None;
    loop {
        let page = reviews_page(store, &query(sites, due, from, limit)).expect("page");
        assert!(page.positions.len() <= limit);
        forward.extend(page.positions.iter().map(key));
        if let Some(l) = page.positions.last() {
            last = Some(l.clone());
        }
        match page.positions.last() {
            Some(l) if page.more => from = ReviewsFrom::After(l.place()),
            _ => break,
        }
    }
    let Some(last) = last else {
        return (forward, Vec::new());
    };
    let mut back = vec![key(&last)];
    let mut from = ReviewsFrom::Before(last.place());
    loop {
        let page = reviews_page(store, &query(sites, due, from, limit)).expect("page");
        assert!(page.positions.len() <= limit);
        let mut rows: Vec<Key> = page.positions.iter().map(key).collect();
        rows.extend(back);
        back = rows;
        match page.positions.first() {
            Some(f) if page.more => from = ReviewsFrom::Before(f.place()),
            _ => break,
        }
    }
    (forward, back)
}

/// The list read whole by offset pages of `limit`.
fn by_offset(db: &TestDb, sites: Option<&[&str]>, due: bool, limit: usize) -> Vec<Key> {
    let mut all = Vec::new();
    loop {
        let page = reviews_page(
            &*db.store,
            &query(sites, due, ReviewsFrom::Offset(all.len()), limit),
        )
        .expect("page");
        all.extend(page.positions.iter().map(key));
        if !page.more {
            return all;
        }
    }
}

fn at(s: i64) -> Change {
    Change {
        actor: "web:ra".into(),
        at: Timestamp::from_unix(s),
    }
}

fn reviews_are_paged_by_keyset_in_order(db: &TestDb) {
    estate(db);
    let store = &*db.store;
    let every = reviews_page(store, &query(None, false, ReviewsFrom::Offset(0), 1000))
        .expect("all")
        .positions;
    let mut want: Vec<Key> = every.iter().map(key).collect();
    assert!(want.len() > 30, "{} positions", want.len());
    let mut sorted = want.clone();
    sorted.sort();
    assert_eq!(want, sorted, "the list's order");
    want.dedup();
    assert_eq!(want.len(), every.len(), "each position once");
    // Holders of one name (in capitals or not) at one site, ordered by UUID.
    assert!(
        want.windows(2)
            .any(|w| w[0].0 == w[1].0 && w[0].1 == w[1].1 && w[0].2 != w[1].2),
        "ties in name"
    );

    // Two reviews of one position: the newer, within the year, takes it off the due list; a
    // position last decided before the year is due.
    let kept = every
        .iter()
        .find(|r| r.site_ods == "A81001")
        .expect("a position at A81001")
        .clone();
    let old = every
        .iter()
        .rfind(|r| r.site_ods == "B82001")
        .expect("a position at B82001")
        .clone();
    let keep = |r: &ToReview, when: i64, why: &str| {
        decide(
            store,
            &r.holder_uuid,
            &r.ods_code,
            &r.role_code,
            Decision::Keep,
            why,
            &at(when),
        )
        .expect("keep");
    };
    keep(&kept, NOW - 2 * YEAR, "long ago");
    keep(&kept, NOW - 10 * 86_400, "checked");
    keep(&old, NOW - YEAR - 86_400, "over a year ago");

    for sites in [None, Some(&["A81001"][..]), Some(&["A81002", "B82001"][..])] {
        for due in [false, true] {
            let listed: Vec<Key> =
                reviews_page(store, &query(sites, due, ReviewsFrom::Offset(0), 1000))
                    .expect("list")
                    .positions
                    .iter()
                    .map(key)
                    .collect();
            let expected: Vec<Key> = want
                .iter()
                .filter(|k| sites.is_none_or(|s| s.contains(&k.0.as_str())))
                .filter(|k| !due || **k != key(&kept))
                .cloned()
                .collect();
            assert_eq!(listed, expected, "{sites:?} due {due}");
            for limit in [1, 4, 7] {
                let (forward, back) = walk(db, sites, due, limit);
                assert_eq!(forward, expected, "{sites:?} due {due} by {limit}, forward");
                assert_eq!(back, expected, "{sites:?} due {due} by {limit}, back");
                assert_eq!(
                    by_offset(db, sites, due, limit),
                    expected,
                    "{sites:?} due {due} by {limit}, by offset"
                );
            }
            let scope: Option<Vec<String>> =
                sites.map(|s| s.iter().map(|s| s.to_string()).collect());
            let counts = review_counts(store, scope.as_deref(), Timestamp::from_unix(NOW - YEAR))
                .expect("counts");
            let n = want
                .iter()
                .filter(|k| sites.is_none_or(|s| s.contains(&k.0.as_str())))
                .count() as u64;
            let (in_force, due_n) = if due {
                (n, expected.len() as u64)
            } else {
                (
                    expected.len() as u64,
                    n - u64::from(sites.is_none_or(|s| s.contains(&"A81001"))),
                )
            };
            assert_eq!(
                (counts.in_force, counts.due),
                (in_force, due_n),
                "{sites:?}"
            );
        }
    }

    // The due list, with its last decisions.
    let due = reviews_page(store, &query(None, true, ReviewsFrom::Offset(0), 1000))
        .expect("due")
        .positions;
    assert!(
        !due.iter().any(|r| key(r) == key(&kept)),
        "decided within the year"
    );
    let decided = due
        .iter()
        .find(|r| key(r) == key(&old))
        .expect("decided before the year");
    assert_eq!(
        decided.last.as_ref().map(|d| d.reason.as_str()),
        Some("over a year ago")
    );
    let listed = reviews_page(store, &query(None, false, ReviewsFrom::Offset(0), 1000))
        .expect("all")
        .positions;
    let newest = listed.iter().find(|r| key(r) == key(&kept)).expect("kept");
    assert_eq!(
        newest.last.as_ref().map(|d| d.reason.as_str()),
        Some("checked"),
        "the newest decision"
    );

    // The counts say when the kept position falls due, and hold until then.
    let line = Timestamp::from_unix(NOW - YEAR);
    let counts = review_counts(store, None, line).expect("counts");
    assert_eq!(
        counts.next_due,
        Some(Timestamp::from_unix(NOW - 10 * 86_400))
    );
    assert!(counts.hold_for(line, Timestamp::from_unix(NOW - 10 * 86_400)));
    assert!(!counts.hold_for(line, Timestamp::from_unix(NOW - 10 * 86_400 + 1)));
    assert!(!counts.hold_for(line, Timestamp::from_unix(NOW - YEAR - 1)));
    let later =
        review_counts(store, None, Timestamp::from_unix(NOW - 10 * 86_400 + 1)).expect("counts");
    assert_eq!(later.due, counts.due + 1, "fallen due");

    // A practice's list holds its own holders only, wherever a place says to start.
    for place in [
        ("B82001", "zzz", "999999999999"),
        ("A81001", "", ""),
        ("", "", ""),
        ("A81002", "sam jones", "0"),
    ] {
        let p = ReviewPlace {
            site_ods: place.0.into(),
            name: place.1.into(),
            holder_uuid: place.2.into(),
            ods_code: String::new(),
            role_code: String::new(),
        };
        for from in [
            ReviewsFrom::After(p.clone()),
            ReviewsFrom::Before(p.clone()),
        ] {
            let page =
                reviews_page(store, &query(Some(&["A81002"]), false, from, 1000)).expect("page");
            assert!(
                page.positions.iter().all(|r| r.site_ods == "A81002"),
                "{place:?}"
            );
        }
    }
    let none = reviews_page(store, &query(Some(&[]), false, ReviewsFrom::Offset(0), 10))
        .expect("no sites");
    assert!(none.positions.is_empty() && !none.more);
}

/// A page's read walks the people's index in the list's order and stops at the page: no sort
/// of the whole list, and each position's newest decision found by its key (on PostgreSQL, only
/// once migration 0026 makes the decisions' text compare as the positions' does). The
/// statements are those `reviews_page` builds, with the values written in.
fn a_page_walks_the_index_and_stops(db: &TestDb) {
    estate(db);
    let columns = "p.holder_uuid, pe.name, r.decided_at";
    let from = "people pe CROSS JOIN positions p LEFT JOIN access_reviews r \
         ON r.holder_uuid = p.holder_uuid AND r.ods_code = p.ods_code \
         AND r.role_code = p.role_code AND r.decided_at = (SELECT MAX(r2.decided_at) \
         FROM access_reviews r2 WHERE r2.holder_uuid = p.holder_uuid \
         AND r2.ods_code = p.ods_code AND r2.role_code = p.role_code)";
    let in_force = "p.holder_uuid = pe.uuid AND p.status = 'active'";
    let due = " AND (r.decided_at IS NULL OR r.decided_at < 1768464000)";
    let after = " AND pe.site_ods >= 'A81002' \
         AND (pe.site_ods, lower(pe.name), pe.uuid) >= ('A81002', 'sam jones', '555100000001') \
         AND (pe.site_ods, lower(pe.name), pe.uuid, p.ods_code, p.role_code) \
         > ('A81002', 'sam jones', '555100000001', 'A81002', 'R8000')";
    let before = after.replace(">=", "<=").replace(") >", ") <");
    let order = "pe.site_ods, lower(pe.name), pe.uuid, p.ods_code, p.role_code";
    let back = "pe.site_ods DESC, lower(pe.name) DESC, pe.uuid DESC, p.ods_code DESC, \
         p.role_code DESC";
    for show in ["", due] {
        for (scope, way) in [
            ("", ""),
            (after, ""),
            (before.as_str(), "back"),
            (" AND pe.site_ods IN ('A81001', 'B82001')", ""),
        ] {
            let order = if way == "back" { back } else { order };
            let sql = format!(
                "SELECT {columns} FROM {from} WHERE {in_force}{show}{scope} ORDER BY {order} \
                 LIMIT 201 OFFSET 0"
            );
            let plan = query_plan(db, &sql);
            assert!(plan.contains("people_site_name_list"), "{sql}\n{plan}");
            assert!(
                !plan.contains("Seq Scan")
                    && !plan.lines().any(|l| l.trim_end().ends_with("SCAN p")),
                "{sql}\n{plan}"
            );
            assert!(
                !plan.contains("USE TEMP B-TREE FOR ORDER BY")
                    && !plan.lines().any(|l| {
                        let l = l.trim_start().trim_start_matches("->  ");
                        l.starts_with("Sort  (")
                    }),
                "{sql}\n{plan}"
            );
            // Each position's decisions found by their key, not by reading every decision.
            assert!(
                plan.contains("Index Cond: ((holder_uuid = p.holder_uuid) AND (ods_code = p.ods_code) AND (role_code = p.role_code)")
                    || plan.contains("sqlite_autoindex_access_reviews_1 (holder_uuid=? AND ods_code=? AND role_code=?"),
                "{sql}\n{plan}"
            );
        }
    }
}

on_both_backends!(
    reviews_are_paged_by_keyset_in_order,
    a_page_walks_the_index_and_stops
);
