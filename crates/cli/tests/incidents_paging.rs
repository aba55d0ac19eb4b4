//! The incidents list a page at a time (issue 26): `GET /api/v1/incidents` answers `limit`
//! incidents with cursors either side, read by keyset, in every sort the list offers, and still
//! takes `offset`; `/incidents` shows Previous and Next links that keep the filters and the
//! sort. A practice manager's pages hold only their practice's incidents and those they
//! recorded. A cursor the list did not give is refused: 400 naming it (API), the first page with
//! why (page). Against a real `cardwatch serve` on the store CARDWATCH_TEST_STORE names.

mod common;

use cardwatch_core::date::Timestamp;
use cardwatch_core::triage::{IncidentStatus, NewIncident};
use cardwatch_store::Change;
use common::*;

const PM: &str = "pm@nhs.net";
const PW: &str = "correct horse battery staple";

const SORTS: [&str; 6] = ["opened", "site", "symptom", "status", "minutes", "cause"];

/// Incidents beside the demo's: several opened in one second, some without a site, some at the
/// practice manager's practice and some they recorded elsewhere, a few closed after the same
/// time (ties in the minutes) with a cause or none.
fn add_incidents(db: &str) {
    let store = cardwatch_store::open(db).expect("open");
    let opened = Timestamp::parse("2026-11-20T10:00:00Z").expect("time");
    for i in 0..12_i64 {
        let change = Change {
            actor: "test".into(),
            at: opened,
        };
        let (reporter, site) = match i % 4 {
            0 => ("reception".to_owned(), None),
            1 => ("reception".to_owned(), Some("A10000".to_owned())),
            2 => (format!("web:{PM}"), Some("A10001".to_owned())),
            _ => ("reception".to_owned(), Some("A10001".to_owned())),
        };
        let id = store
            .open_incident(
                &NewIncident {
                    reporter,
                    site,
                    symptom: "cannot-sign".into(),
                    ..NewIncident::default()
                },
                &change,
            )
            .expect("open an incident");
        if i % 3 != 0 {
            let closed = Change {
                actor: "test".into(),
                at: Timestamp::from_unix(opened.unix() + 1100),
            };
            let cause = (i % 2 == 0).then_some("middleware-outdated");
            store
                .close_incident(id, IncidentStatus::Resolved, cause, &closed)
                .expect("close");
        }
    }
}

/// An incident's site and who recorded it.
type Seen = (Option<String>, String);

/// One API page: its incidents' (number, site, reporter), total, previous and next cursors.
struct Page {
    ids: Vec<i64>,
    seen: Vec<Seen>,
    total: u64,
    previous: Option<String>,
    next: Option<String>,
}

fn api_page(addr: &str, cookie: &str, query: &str) -> Page {
    let (status, r) = get_as(addr, &format!("/api/v1/incidents?{query}"), cookie);
    assert_eq!(status, 200, "{query}: {r}");
    let v = body_json(&r);
    let cursor = |k: &str| v[k].as_str().map(str::to_owned);
    let list = v["incidents"].as_array().expect("incidents");
    Page {
        ids: list.iter().map(|i| i["id"].as_i64().expect("id")).collect(),
        seen: list
            .iter()
            .map(|i| {
                (
                    i["site"].as_str().map(str::to_owned),
                    i["reporter"].as_str().expect("reporter").to_owned(),
                )
            })
            .collect(),
        total: v["total"].as_u64().expect("total"),
        previous: cursor("previous_cursor"),
        next: cursor("next_cursor"),
    }
}

/// The whole list, as its CSV download (every match, unpaged) orders it.
fn whole(addr: &str, cookie: &str, query: &str) -> Vec<i64> {
    let (status, r) = get_as(
        addr,
        &format!("/api/v1/incidents?{query}&format=csv"),
        cookie,
    );
    assert_eq!(status, 200, "{query}: {r}");
    let body = r.split("\r\n\r\n").nth(1).expect("body");
    body.lines()
        .skip(1)
        .map(|l| {
            l.split(',')
                .next()
                .and_then(|n| n.parse().ok())
                .expect("a number")
        })
        .collect()
}

/// Forward from the first page to the last, then back to the first, `limit` at a time: (forward,
/// back, every incident's site and reporter).
fn walk(addr: &str, cookie: &str, query: &str, limit: usize) -> (Vec<i64>, Vec<i64>, Vec<Seen>) {
    let mut page = api_page(addr, cookie, &format!("{query}&limit={limit}"));
    let total = page.total;
    assert!(page.previous.is_none(), "nothing before the first page");
    let (mut forward, mut seen) = (Vec::new(), Vec::new());
    loop {
        assert_eq!(page.total, total, "{query}");
        assert!(page.ids.len() <= limit);
        forward.extend(page.ids.clone());
        seen.extend(page.seen.clone());
        let Some(next) = page.next.clone() else { break };
        page = api_page(
            addr,
            cookie,
            &format!("{query}&limit={limit}&cursor={next}"),
        );
        assert!(page.previous.is_some(), "{query}: a page after the first");
    }
    let mut back = page.ids.clone();
    while let Some(previous) = page.previous.clone() {
        page = api_page(
            addr,
            cookie,
            &format!("{query}&limit={limit}&cursor={previous}"),
        );
        assert!(page.next.is_some(), "{query}: a page before the last");
        let mut ids = page.ids.clone();
        ids.extend(back);
        back = ids;
    }
    (forward, back, seen)
}

#[test]
fn the_incidents_api_pages_by_cursor_in_every_sort_and_still_takes_offset() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    let pm = practice_manager(&db, &addr, PM, "A10000", PW);
    add_incidents(&db);

    for (who, cookie) in [("administrator", &admin), ("practice manager", &pm)] {
        for sort in SORTS {
            for order in ["asc", "desc"] {
                let query = format!("sort={sort}&order={order}");
                let want = whole(&addr, cookie, &query);
                assert!(want.len() > 5, "{who} {query}: {want:?}");
                let (forward, back, seen) = walk(&addr, cookie, &query, 4);
                assert_eq!(forward, want, "{who} {query}: forward");
                assert_eq!(back, want, "{who} {query}: back");
                assert_eq!(
                    api_page(&addr, cookie, &query).total,
                    want.len() as u64,
                    "{who} {query}: total"
                );
                if cookie == &pm {
                    for (site, reporter) in &seen {
                        assert!(
                            site.as_deref() == Some("A10000") || reporter == &format!("web:{PM}"),
                            "{query}: the practice manager sees {site:?} by {reporter}"
                        );
                    }
                    assert!(seen.iter().any(|(s, _)| s.as_deref() == Some("A10001")));
                } else {
                    assert!(seen.iter().any(|(s, _)| s.is_none()), "site-less ones");
                }
            }
        }
    }

    // Filtered: the cursors keep to the filter's matches.
    let query = "status=resolved&site=A10001&sort=minutes&order=desc";
    let want = whole(&addr, &admin, query);
    let (forward, back, _) = walk(&addr, &admin, query, 2);
    assert_eq!((&forward, &back), (&want, &want));

    // offset, as before: skipped, with the total, and cursors to go on from there.
    let want = whole(&addr, &admin, "sort=opened&order=desc");
    let page = api_page(&addr, &admin, "offset=3&limit=5");
    assert_eq!(page.ids, want[3..8]);
    assert_eq!(page.total, want.len() as u64);
    let next = api_page(
        &addr,
        &admin,
        &format!("limit=5&cursor={}", page.next.expect("a next cursor")),
    );
    assert_eq!(next.ids, want[8..13]);
    let previous = api_page(
        &addr,
        &admin,
        &format!(
            "limit=5&cursor={}",
            page.previous.expect("a previous cursor")
        ),
    );
    assert_eq!(previous.ids, want[..3]);
    let (_, r) = get_as(&addr, "/api/v1/incidents?offset=3&limit=5", &admin);
    assert_eq!(body_json(&r)["offset"], 3);

    // A position of the pattern whose value is no time: past the end, an empty page.
    let past = api_page(&addr, &admin, "sort=opened&order=asc&cursor=a.bm90.MQ");
    assert!(past.ids.is_empty() && past.next.is_none() && past.previous.is_none());

    // Refused, each naming the cursor.
    for cursor in ["nonsense", "a.YWJj.eA", "a.MQ.MQ.MQ", "a.MR", "c.MQ"] {
        let (status, r) = get_as(&addr, &format!("/api/v1/incidents?cursor={cursor}"), &admin);
        assert_eq!(status, 400, "{cursor}: {r}");
        let e = &body_json(&r)["error"];
        assert_eq!(e["field"], "cursor", "{cursor}: {r}");
        assert!(
            e["message"]
                .as_str()
                .is_some_and(|m| m.contains("not a cursor this list gave")),
            "{cursor}: {r}"
        );
    }
    stop(child);
}

/// The incidents a page shows, in its order.
fn shown(page: &str) -> Vec<i64> {
    page.split("<a href=\"/incidents/")
        .skip(1)
        .filter_map(|s| s.split('/').next().and_then(|n| n.parse().ok()))
        .collect()
}

#[test]
fn the_incidents_page_links_either_side_keeping_filters_and_sort() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    add_incidents(&db);
    let query = "status=resolved&sort=minutes&order=asc";
    let want = whole(&addr, &admin, query);
    assert!(want.len() > 8, "{want:?}");

    let (status, first) = get_as(&addr, &format!("/incidents?{query}&limit=4"), &admin);
    assert_eq!(status, 200, "{first}");
    assert_eq!(shown(&first), want[..4]);
    assert!(
        first.contains(&format!("{} incidents.", want.len())),
        "{first}"
    );
    let (previous, Some(second_href)) = pagination_links(&first) else {
        panic!("a next link: {first}")
    };
    assert!(previous.is_none(), "nothing before the first page");
    assert!(first.contains("Up to 4 more incidents"));
    // The chart's weeks in words ("7 Sep 2026"), as the plan's chart writes them.
    assert!(
        (2020..2040).all(|y| !first.contains(&format!(">{y}-"))),
        "an ISO date shown: {first}"
    );
    for kept in [
        "status=resolved",
        "sort=minutes",
        "order=asc",
        "limit=4",
        "cursor=",
    ] {
        assert!(second_href.contains(kept), "{kept} in {second_href}");
    }

    let (status, second) = get_as(&addr, &second_href, &admin);
    assert_eq!(status, 200, "{second}");
    assert_eq!(shown(&second), want[4..8], "{second_href}");
    let (Some(back_href), Some(_)) = pagination_links(&second) else {
        panic!("links either side: {second}")
    };
    assert!(second.contains("The 4 incidents before these"));
    let (_, back) = get_as(&addr, &back_href, &admin);
    assert_eq!(
        shown(&back),
        want[..4],
        "previous from the second is the first"
    );

    // A link that is not a cursor this list gave: the first page of the same list, with why.
    let (status, page) = get_as(
        &addr,
        &format!("/incidents?{query}&limit=4&cursor=nonsense"),
        &admin,
    );
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("That link is not to a page of this list"),
        "{page}"
    );
    assert_eq!(shown(&page), want[..4]);
    stop(child);
}
