//! The access reviews list a page at a time (issue 26): `GET /api/v1/reviews` answers `limit`
//! positions with cursors either side, read by keyset, and `/reviews` links to the pages
//! either side keeping what is shown; walking forward and back gives the whole list in order;
//! an offset still reads it; a practice manager's pages hold their practice's holders only; a
//! cursor no list gave is refused. Against a real `cardwatch serve` on the store
//! CARDWATCH_TEST_STORE names.

mod common;

use common::{
    body_json, get_as, pagination_links, practice_manager, scratch_db, serve_demo_signed_in, stop,
};

/// A position's place in the list: (holder's site, holder, where, role).
type Key = (String, String, String, String);

fn keys(v: &serde_json::Value) -> Vec<Key> {
    v["positions"]
        .as_array()
        .expect("positions")
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (
                s("site_ods"),
                s("holder_uuid"),
                s("ods_code"),
                s("role_code"),
            )
        })
        .collect()
}

fn api(addr: &str, cookie: &str, query: &str) -> serde_json::Value {
    let (status, body) = get_as(addr, &format!("/api/v1/reviews?{query}"), cookie);
    assert_eq!(status, 200, "{query}: {body}");
    body_json(&body)
}

/// The list read `limit` at a time forward from the start, then back from the last page:
/// (forward, back, the totals answered).
fn walk(addr: &str, cookie: &str, show: &str, limit: usize) -> (Vec<Key>, Vec<Key>, Vec<u64>) {
    let (mut forward, mut totals) = (Vec::new(), Vec::new());
    let mut page = api(addr, cookie, &format!("show={show}&limit={limit}"));
    assert!(page["previous_cursor"].is_null(), "the first page");
    loop {
        totals.push(page["total"].as_u64().expect("total"));
        forward.extend(keys(&page));
        match page["next_cursor"].as_str() {
            Some(c) => {
                page = api(
                    addr,
                    cookie,
                    &format!("show={show}&limit={limit}&cursor={c}"),
                );
            }
            None => break,
        }
    }
    let mut back = keys(&page);
    while let Some(c) = page["previous_cursor"].as_str() {
        page = api(
            addr,
            cookie,
            &format!("show={show}&limit={limit}&cursor={c}"),
        );
        assert!(!page["next_cursor"].is_null(), "a page before another");
        let mut rows = keys(&page);
        rows.extend(back);
        back = rows;
    }
    (forward, back, totals)
}

#[test]
fn reviews_are_paged_by_cursor_both_ways() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "3");

    for show in ["all", "due"] {
        let whole = api(&addr, &admin, &format!("show={show}&limit=5000"));
        let want = keys(&whole);
        assert!(want.len() >= 14, "{show}: {} positions", want.len());
        assert_eq!(whole["total"].as_u64(), Some(want.len() as u64));
        assert!(whole["next_cursor"].is_null() && whole["previous_cursor"].is_null());
        let (forward, back, totals) = walk(&addr, &admin, show, 7);
        assert_eq!(forward, want, "{show}: forward");
        assert_eq!(back, want, "{show}: back");
        assert!(totals.iter().all(|&t| t == want.len() as u64), "{totals:?}");
        // The offset, as documented, reads the same order.
        let skipped = api(&addr, &admin, &format!("show={show}&offset=7&limit=7"));
        assert_eq!(keys(&skipped), want[7..14].to_vec(), "{show}: by offset");
        assert_eq!(skipped["offset"], 7);
        assert!(skipped["previous_cursor"].is_string());
        assert_eq!(skipped["next_cursor"].is_string(), want.len() > 14);
    }

    // Refused: a cursor no list gave.
    for bad in [
        "nope",
        "a.QQ",
        "a.QQ.QQ",
        "c.QQ.QQ.QQ.QQ.QQ",
        "a.QQ.QQ.QQ.QQ.QQ.QQ",
    ] {
        let (status, body) = get_as(&addr, &format!("/api/v1/reviews?cursor={bad}"), &admin);
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body_json(&body)["error"]["field"], "cursor", "{bad}");
    }
    let first = api(&addr, &admin, "show=all&limit=3");
    let next = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    // A cursor says where the page starts: an offset beside it is not used.
    let with_offset = api(
        &addr,
        &admin,
        &format!("show=all&limit=3&offset=3&cursor={next}"),
    );
    let without = api(&addr, &admin, &format!("show=all&limit=3&cursor={next}"));
    assert_eq!(keys(&with_offset), keys(&without));

    // The page links to the pages either side, keeping what is shown; a refused cursor shows
    // the first page with why.
    let (status, page) = get_as(&addr, "/reviews?show=all&limit=7", &admin);
    assert_eq!(status, 200);
    let (previous, next) = pagination_links(&page);
    assert!(previous.is_none(), "the first page");
    let href = next.expect("a link to the next page");
    assert!(href.starts_with("/reviews?show=all&cursor=a."), "{href}");
    assert!(href.ends_with("&limit=7"), "{href}");
    assert!(page.contains("Up to 7 more roles"), "{page}");
    let (status, second) = get_as(&addr, &href, &admin);
    assert_eq!(status, 200, "{second}");
    assert!(second.contains("The 7 roles before these"), "{second}");
    let (previous, _) = pagination_links(&second);
    let previous = previous.expect("a link to the first page");
    assert!(
        previous.starts_with("/reviews?show=all&cursor=b."),
        "{previous}"
    );
    assert_eq!(
        pagination_links(&get_as(&addr, &previous, &admin).1)
            .1
            .as_deref(),
        Some(href.as_str()),
        "back at the first page"
    );
    let (status, refused) = get_as(&addr, "/reviews?show=all&cursor=nope", &admin);
    assert_eq!(status, 400);
    assert!(refused.contains("nhsuk-error-summary"), "{refused}");
    assert!(
        refused.contains("That link is not to a page of this list"),
        "{refused}"
    );
    assert!(refused.contains("href=\"#show\""), "{refused}");

    // A practice manager's pages hold their practice's holders only, even from a cursor at
    // another practice's position.
    let pm = practice_manager(
        &db,
        &addr,
        "pm@nhs.net",
        "A10000",
        "riverside surgery reception",
    );
    let (forward, back, _) = walk(&addr, &pm, "all", 5);
    assert!(!forward.is_empty());
    assert_eq!(forward, back);
    assert!(forward.iter().all(|k| k.0 == "A10000"), "{forward:?}");
    let everyone = api(&addr, &admin, "show=all&limit=5000");
    // A position of another practice, not the first (so there is a page before it too).
    let others = everyone["positions"]
        .as_array()
        .expect("positions")
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, r)| r["site_ods"] != "A10000")
        .map(|(i, _)| i)
        .expect("another practice's position");
    let from = api(&addr, &admin, &format!("show=all&offset={others}&limit=1"));
    for c in [&from["next_cursor"], &from["previous_cursor"]] {
        let c = c.as_str().expect("a cursor");
        let page = api(&addr, &pm, &format!("show=all&cursor={c}"));
        assert!(keys(&page).iter().all(|k| k.0 == "A10000"), "{c}: {page}");
    }
    stop(child);
}
