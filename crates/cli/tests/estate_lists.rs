//! The estate's lists at national scale (issue 26): every list and its API twin paged by cursor
//! — forward and back, each record exactly once, in every order it sorts by — filtered by the
//! start of its key or name, counted from the counts the store keeps (right after an import and
//! an edit), and a practice's operator never shown another site's rows, a borrowed cursor
//! included. On SQLite, and on PostgreSQL with CARDWATCH_TEST_STORE=postgres.

mod common;

use std::collections::BTreeSet;

use common::{
    body_json, cardwatch, get_as, ok, practice_manager, scratch_db, serve_demo_signed_in, stop,
};

const PW: &str = "riverside surgery reception";

/// A JSON answer that must be 200.
fn json_ok(r: &(u16, String), what: &str) -> serde_json::Value {
    assert_eq!(r.0, 200, "{what}: {}", r.1);
    body_json(&r.1)
}

/// The rows of a CSV download, as (header, rows).
fn csv_rows(r: &(u16, String)) -> (Vec<String>, Vec<Vec<String>>) {
    assert_eq!(r.0, 200, "{}", r.1);
    let body = r.1.split("\r\n\r\n").nth(1).expect("a body");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.expect("csv").iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The list's key columns and the columns it sorts by, as the API document says.
fn sortable(addr: &str, cookie: &str, kind: &str) -> Vec<String> {
    let doc = json_ok(&get_as(addr, "/api/v1/openapi.json", cookie), "openapi");
    let params = doc["paths"][format!("/api/v1/estate/{kind}")]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .clone();
    let sort = params
        .iter()
        .find(|p| p["name"] == "sort")
        .expect("a sort parameter");
    sort["schema"]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .map(|v| v.as_str().expect("text").to_owned())
        .collect()
}

/// A row's cells as the CSV writes them, from a JSON item.
fn cell_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Every row of a list, by following next_cursor from the first page, then back again by
/// previous_cursor from the last: each way's rows (each as `key` joined), and the first total.
fn walk(addr: &str, cookie: &str, base: &str, key: &[&str]) -> (Vec<String>, Vec<String>, u64) {
    let id = |item: &serde_json::Value| {
        key.iter()
            .map(|k| cell_text(&item[*k]))
            .collect::<Vec<_>>()
            .join("|")
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let first = json_ok(&get_as(addr, base, cookie), base);
    let total = first["total"].as_u64().expect("total");
    assert!(first["previous_cursor"].is_null(), "{base}: {first}");
    let mut forward: Vec<String> = Vec::new();
    let mut page = first;
    let mut pages = 0;
    loop {
        pages += 1;
        assert!(pages < 1000, "{base}: no end");
        forward.extend(page["items"].as_array().expect("items").iter().map(id));
        let Some(next) = page["next_cursor"].as_str() else {
            break;
        };
        let path = format!("{base}{sep}cursor={next}");
        page = json_ok(&get_as(addr, &path, cookie), &path);
    }
    let mut backward: Vec<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .rev()
        .map(id)
        .collect();
    while let Some(previous) = page["previous_cursor"].as_str() {
        let path = format!("{base}{sep}cursor={previous}");
        page = json_ok(&get_as(addr, &path, cookie), &path);
        backward.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .rev()
                .map(id),
        );
    }
    backward.reverse();
    (forward, backward, total)
}

#[test]
fn estate_lists_page_by_cursor_in_every_order_filter_count_and_stay_in_scope() {
    let (tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    let pm = practice_manager(&db, &addr, "pm@nhs.net", "A10000", PW);
    let kinds: [(&str, &[&str], usize); 7] = [
        ("organisations", &["ods_code"], 0),
        ("sites", &["site_ods"], 0),
        ("people", &["uuid"], 4),
        ("workstations", &["hostname"], 1),
        ("readers", &["reader_serial"], 5),
        ("stock", &["site_ods", "item"], 0),
        ("integrations", &["integration"], 2),
    ];
    for (kind, key, site_col) in kinds {
        let columns = sortable(&addr, &admin, kind);
        assert_eq!(columns[0], key[0], "{kind} sorts by its key first");
        for (who, cookie) in [("admin", &admin), ("practice", &pm)] {
            let (header, rows) = csv_rows(&get_as(
                &addr,
                &format!("/api/v1/estate/{kind}?format=csv"),
                cookie,
            ));
            if who == "practice" && kind != "organisations" {
                assert!(
                    rows.iter().all(|r| r[site_col] == "A10000"),
                    "{kind}: the practice's CSV holds only its site"
                );
            }
            let at = |name: &str| header.iter().position(|h| h == name).expect("column");
            for column in &columns {
                for order in ["asc", "desc"] {
                    // The expected order: the sort column, then the key, byte by byte — a
                    // person's name by its lower case (A–Z folded, store::lists' `folded`).
                    let folded = kind == "people" && column == "name";
                    let mut expected: Vec<(String, Vec<String>)> = rows
                        .iter()
                        .map(|r| {
                            let k = key.iter().map(|c| r[at(c)].clone()).collect();
                            let v = r[at(column)].clone();
                            (if folded { v.to_ascii_lowercase() } else { v }, k)
                        })
                        .collect();
                    expected.sort();
                    if order == "desc" {
                        expected.reverse();
                    }
                    let expected: Vec<String> =
                        expected.into_iter().map(|(_, k)| k.join("|")).collect();
                    let base = format!("/api/v1/estate/{kind}?sort={column}&order={order}&limit=7");
                    let (forward, backward, total) = walk(&addr, cookie, &base, key);
                    assert_eq!(forward, expected, "{who} {base}: forward");
                    assert_eq!(backward, expected, "{who} {base}: back");
                    assert_eq!(total as usize, rows.len(), "{who} {base}: total");
                    let unique: BTreeSet<&String> = forward.iter().collect();
                    assert_eq!(unique.len(), forward.len(), "{who} {base}: each once");
                }
            }
        }
    }

    // The filter: the start of a name or a UUID, in any case, the count exact.
    let (header, everyone) = csv_rows(&get_as(&addr, "/api/v1/estate/people?format=csv", &admin));
    let (uuid, name) = (
        header.iter().position(|h| h == "uuid").expect("uuid"),
        header.iter().position(|h| h == "name").expect("name"),
    );
    let start: String = everyone[0][name].chars().take(3).collect();
    let wanted: BTreeSet<String> = everyone
        .iter()
        .filter(|r| {
            let s = start.to_lowercase();
            r[name].to_lowercase().starts_with(&s) || r[uuid].to_lowercase().starts_with(&s)
        })
        .map(|r| r[uuid].clone())
        .collect();
    let q = start.to_uppercase().replace(' ', "+");
    let (found, _, total) = walk(
        &addr,
        &admin,
        &format!("/api/v1/estate/people?q={q}&limit=2"),
        &["uuid"],
    );
    assert_eq!(
        found.iter().cloned().collect::<BTreeSet<_>>(),
        wanted,
        "q={q}"
    );
    assert_eq!(total as usize, wanted.len());
    let by_uuid = &everyone[0][uuid][..6];
    let (found, _, _) = walk(
        &addr,
        &admin,
        &format!("/api/v1/estate/people?q={by_uuid}"),
        &["uuid"],
    );
    assert!(found.iter().all(|u| u.starts_with(by_uuid)) && !found.is_empty());
    // A site's code, as typed in lower case, finds everyone at the sites it starts.
    let site = header
        .iter()
        .position(|h| h == "site_ods")
        .expect("site_ods");
    let by_site = everyone[0][site][..4].to_ascii_lowercase();
    let (found, _, _) = walk(
        &addr,
        &admin,
        &format!("/api/v1/estate/people?q={by_site}"),
        &["uuid"],
    );
    let at_sites: BTreeSet<String> = everyone
        .iter()
        .filter(|r| {
            let surname = r[name].rsplit(' ').next().unwrap_or_default();
            [&r[site], &r[name], &r[uuid], surname]
                .iter()
                .any(|t| t.to_ascii_lowercase().starts_with(&by_site))
        })
        .map(|r| r[uuid].clone())
        .collect();
    assert!(!at_sites.is_empty());
    assert_eq!(
        found.into_iter().collect::<BTreeSet<_>>(),
        at_sites,
        "q={by_site}"
    );
    let page = get_as(&addr, &format!("/estate/people?q={q}"), &admin);
    assert!(
        page.1.contains(
            "Finds people whose user ID (UUID), name or site code starts with what you type"
        ),
        "the page says what the filter matches: {}",
        page.1
    );

    // Scope: a cursor from the whole estate's list, in a practice manager's hands, still shows
    // only their site's rows.
    let admin_first = json_ok(
        &get_as(
            &addr,
            "/api/v1/estate/people?sort=site_ods&order=desc&limit=1",
            &admin,
        ),
        "admin",
    );
    let borrowed = admin_first["next_cursor"].as_str().expect("cursor");
    let theirs = json_ok(
        &get_as(
            &addr,
            &format!("/api/v1/estate/people?sort=site_ods&order=desc&cursor={borrowed}"),
            &pm,
        ),
        "borrowed",
    );
    let items = theirs["items"].as_array().expect("items");
    assert!(
        !items.is_empty() && items.iter().all(|p| p["site_ods"] == "A10000"),
        "{theirs}"
    );

    // Bad cursors and the old offset: a clear 400 naming the parameter.
    for (path, field, says) in [
        (
            "/api/v1/estate/people?cursor=not-a-cursor",
            "cursor",
            "leave cursor out",
        ),
        (
            "/api/v1/estate/people?cursor=c.QUEx",
            "cursor",
            "leave cursor out",
        ),
        (
            "/api/v1/estate/people?cursor=a.QUEx.QUEx.QUEx",
            "cursor",
            "next_cursor",
        ),
        ("/api/v1/estate/people?offset=100", "offset", "cursor"),
        (
            "/api/v1/estate/people?sort=email",
            "sort",
            "sort by one of: uuid, name, site_ods",
        ),
    ] {
        let r = get_as(&addr, path, &admin);
        assert_eq!(r.0, 400, "{path}: {}", r.1);
        let error = &body_json(&r.1)["error"];
        assert_eq!(error["field"], field, "{path}");
        assert!(
            error["message"].as_str().expect("message").contains(says),
            "{path}: {error}"
        );
    }

    // The page's pager: next and previous carry the cursor and keep the filter and sort.
    let first = get_as(&addr, "/estate/people?sort=name&order=desc&limit=3", &pm);
    let href = |page: &str, rel: &str| -> String {
        let at = page.find(&format!("\" rel=\"{rel}\"")).expect(rel);
        let start = page[..at].rfind("href=\"").expect("href") + 6;
        page[start..at].replace("&#38;", "&")
    };
    let next = href(&first.1, "next");
    assert!(
        next.contains("sort=name&order=desc&cursor=") && next.contains("limit=3"),
        "{next}"
    );
    let second = get_as(&addr, &next, &pm);
    assert_eq!(second.0, 200, "{}", second.1);
    let back = get_as(&addr, &href(&second.1, "prev"), &pm);
    let table = |page: &str| page.split("<tbody").nth(1).unwrap_or("").to_owned();
    assert_eq!(
        table(&back.1),
        table(&first.1),
        "previous leads back to the first page"
    );
    assert_ne!(table(&second.1), table(&first.1));

    // Counts kept by the store: right after an import adds people and after an edit moves one.
    let count = |cookie: &str| {
        json_ok(
            &get_as(&addr, "/api/v1/estate/people?limit=1", cookie),
            "count",
        )["total"]
            .as_u64()
            .expect("total")
    };
    let (all_before, mine_before) = (count(&admin), count(&pm));
    let people = tmp.path().join("people.csv");
    let header = "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles\n";
    std::fs::write(
        &people,
        format!("{header}009990000101,Ada New,,,A10000,,no,\n009990000102,Bea New,,,A10000,,no,\n009990000103,Cy New,,,A10001,,no,\n"),
    )
    .expect("write");
    ok(&cardwatch(&db, &["import", people.to_str().expect("path")]));
    assert_eq!(
        (count(&admin), count(&pm)),
        (all_before + 3, mine_before + 2)
    );
    std::fs::write(
        &people,
        format!("{header}009990000101,Ada New,,,A10001,,no,\n"),
    )
    .expect("write");
    ok(&cardwatch(&db, &["import", people.to_str().expect("path")]));
    assert_eq!(
        (count(&admin), count(&pm)),
        (all_before + 3, mine_before + 1)
    );
    let page = get_as(&addr, "/estate/people", &pm);
    assert!(
        page.1.contains(&format!("{} people.", mine_before + 1)),
        "{}",
        page.1
    );
    stop(child);
}
