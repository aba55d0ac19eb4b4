//! The workstation agents' list a page at a time (issue 26): with an agent on every
//! workstation it is national, so `/admin/agents` shows 50 agents with previous and next links
//! and `GET /api/v1/agents` answers `limit` agents with cursors either side, read by keyset.
//! Against a real `cardwatch serve` on the store CARDWATCH_TEST_STORE names.

mod common;

use cardwatch_core::date::Timestamp;
use cardwatch_store::agents;
use cardwatch_store::Change;
use common::{
    assert_accessible_and_fits, axe_in_chromium, body_json, get_as, pagination_links, scratch_db,
    serve_demo_signed_in, stop,
};

const AGENTS: usize = 120;

/// Enrols `AGENTS` agents straight into the store, three in each second and their ids not in
/// enrolment order: (hostname, id) in the list's order, newest enrolment first, then by id.
fn enrol(db: &str) -> Vec<(String, String)> {
    let store = cardwatch_store::open(db).expect("open");
    let start = Timestamp::parse("2026-11-22T09:00:00Z")
        .expect("time")
        .unix();
    let mut all = Vec::new();
    for i in 0..AGENTS {
        let at = start + (i / 3) as i64;
        let change = Change {
            actor: "test".into(),
            at: Timestamp::from_unix(at),
        };
        let hash = format!("token-{i}");
        let expires = Timestamp::from_unix(at + 3600);
        agents::add_enrolment_token(&*store, &hash, &format!("et_{i}"), expires, None, &change)
            .expect("token");
        let id = format!("ag_{:04}", (i * 53) % 127);
        let host = format!("a10000-ws{i:03}");
        agents::enrol(
            &*store,
            &hash,
            &id,
            &host,
            "0.1.0",
            &format!("credential-{i}"),
            &change,
        )
        .expect("enrol");
        all.push((at, id, host));
    }
    all.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    all.into_iter().map(|(_, id, host)| (host, id)).collect()
}

/// One API page: its (hostname, id)s, total, previous and next cursors.
struct Page {
    agents: Vec<(String, String)>,
    total: u64,
    previous: Option<String>,
    next: Option<String>,
}

fn api_page(addr: &str, admin: &str, query: &str) -> Page {
    let (status, r) = get_as(addr, &format!("/api/v1/agents{query}"), admin);
    assert_eq!(status, 200, "{query}: {r}");
    let v = body_json(&r);
    let cursor = |k: &str| v[k].as_str().map(str::to_owned);
    Page {
        agents: v["agents"]
            .as_array()
            .expect("agents")
            .iter()
            .map(|a| {
                // Each agent as it was before paging: every field still there.
                for k in [
                    "version",
                    "enrolled_at",
                    "last_seen",
                    "revoked_at",
                    "site_ods",
                ] {
                    assert!(a.get(k).is_some(), "{k} in {a}");
                }
                (
                    a["hostname"].as_str().expect("hostname").to_owned(),
                    a["id"].as_str().expect("id").to_owned(),
                )
            })
            .collect(),
        total: v["total"].as_u64().expect("total"),
        previous: cursor("previous_cursor"),
        next: cursor("next_cursor"),
    }
}

#[test]
fn the_agents_api_is_paged_by_cursor_forward_to_the_end_and_back() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "1");
    let want = enrol(&db);

    // Without a limit, 100; the first page has nothing before it.
    let first = api_page(&addr, &admin, "");
    assert_eq!(first.agents, want[..100]);
    assert_eq!(first.total, AGENTS as u64);
    assert!(first.previous.is_none() && first.next.is_some());

    // Forward 25 at a time to the end.
    let (mut forward, mut page) = (Vec::new(), api_page(&addr, &admin, "?limit=25"));
    let mut pages = 1;
    assert!(page.previous.is_none());
    loop {
        assert_eq!(page.total, AGENTS as u64);
        forward.extend(page.agents.clone());
        let Some(next) = page.next.clone() else { break };
        page = api_page(&addr, &admin, &format!("?limit=25&cursor={next}"));
        pages += 1;
        assert!(
            page.previous.is_some(),
            "a page after the first has one before it"
        );
    }
    assert_eq!(pages, 5);
    assert_eq!(page.agents.len(), 20);
    assert_eq!(forward, want, "forward: every agent once, in order");

    // Back from the last page to the first, 25 at a time.
    let mut back = page.agents.clone();
    while let Some(previous) = page.previous.clone() {
        page = api_page(&addr, &admin, &format!("?limit=25&cursor={previous}"));
        assert_eq!(page.total, AGENTS as u64);
        assert!(
            page.next.is_some(),
            "a page before the last has one after it"
        );
        let mut rows = page.agents.clone();
        rows.extend(back);
        back = rows;
    }
    assert_eq!(back, want, "back: every agent once, in order");
    assert_eq!(page.agents, want[..25], "back at the first page");

    // Refused, each with the parameter and why.
    let lists_cursor = "a.YWJj.eA"; // the estate lists' codec, but "abc" is not an enrolment
    for (query, field, words) in [
        ("?cursor=nonsense", "cursor", "not a cursor this list gave"),
        (
            &format!("?cursor={lists_cursor}"),
            "cursor",
            "not a cursor this list gave",
        ),
        (
            "?cursor=a.MTIz.eA.eA",
            "cursor",
            "not a cursor this list gave",
        ),
        ("?limit=0", "limit", "not a whole number from 1 to 5000"),
        ("?limit=5001", "limit", "not a whole number from 1 to 5000"),
        ("?limit=ten", "limit", "not a whole number from 1 to 5000"),
        ("?offset=50", "offset", "paged by cursor"),
        ("?page=2", "page", "unknown parameter"),
    ] {
        let (status, r) = get_as(&addr, &format!("/api/v1/agents{query}"), &admin);
        assert_eq!(status, 400, "{query}: {r}");
        let e = &body_json(&r)["error"];
        assert_eq!(e["field"], field, "{query}: {r}");
        assert!(
            e["message"].as_str().is_some_and(|m| m.contains(words)),
            "{query}: {r}"
        );
    }
    stop(child);
}

/// The workstations of the agents a page shows, in its order.
fn hosts(page: &str) -> Vec<String> {
    page.split("<td class=\"nhsuk-table__cell\">")
        .skip(1)
        .step_by(7)
        .map(|c| c.split('<').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn the_agents_page_shows_fifty_with_links_either_side_and_passes_axe() {
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "1");
    let want: Vec<String> = enrol(&db).into_iter().map(|(h, _)| h).collect();

    let (status, first) = get_as(&addr, "/admin/agents", &admin);
    assert_eq!(status, 200, "{first}");
    assert!(first.contains("120 agents enrolled."), "{first}");
    assert!(
        first.contains("Make an enrolment token"),
        "the token form stays"
    );
    assert_eq!(first.matches("action=\"/admin/agents/revoke\"").count(), 50);
    assert_eq!(hosts(&first), want[..50]);
    let (previous, Some(second_href)) = pagination_links(&first) else {
        panic!("a next link: {first}")
    };
    assert!(previous.is_none(), "nothing before the first page");
    assert!(first.contains("Up to 50 more agents"));

    let (status, second) = get_as(&addr, &second_href, &admin);
    assert_eq!(status, 200, "{second}");
    assert!(second.contains("120 agents enrolled."));
    assert_eq!(hosts(&second), want[50..100]);
    let (Some(back_href), Some(third_href)) = pagination_links(&second) else {
        panic!("links either side: {second}")
    };
    assert!(second.contains("The 50 agents before these"));

    let (_, third) = get_as(&addr, &third_href, &admin);
    assert_eq!(hosts(&third), want[100..]);
    assert_eq!(
        pagination_links(&third).1,
        None,
        "nothing after the last page"
    );
    let (_, back) = get_as(&addr, &back_href, &admin);
    assert_eq!(
        hosts(&back),
        want[..50],
        "previous from the second is the first"
    );

    // A link that is not a cursor this list gave: the first page, with why, and 400.
    let refused = "/admin/agents?cursor=a.bm90LWEtbnVtYmVy.eA";
    let (status, page) = get_as(&addr, refused, &admin);
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains("That link is not to a page of this list"),
        "{page}"
    );
    assert_eq!(hosts(&page), want[..50]);

    let pages = [
        "/admin/agents".to_owned(),
        second_href.clone(),
        third_href.clone(),
        refused.to_owned(),
    ];
    let reports = axe_in_chromium(&addr, &admin, &pages);
    stop(child);
    for (width, report) in &reports {
        for p in &pages {
            let r = &report[p];
            let status = if p == refused { 400 } else { 200 };
            assert_eq!(r["status"], status, "{p} at {width} px: {r}");
            assert_accessible_and_fits(p, *width, r);
        }
    }
}
