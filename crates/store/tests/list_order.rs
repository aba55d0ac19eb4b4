//! The people list's name order (issue 26, migration 0020): names sort by their lower case, A–Z
//! folded and nothing else — "de Souza" among the Ds, not after every capital; an apostrophe or a
//! space before any letter, as in byte order; "É" and other letters beyond ASCII after "z", as
//! stored — then by UUID; paged by keyset forward and back, with the filter and the practice's
//! own list in the same order, through one index for the order and the filter. The UUID filter
//! reads the key's own index (a UUID is digits). On SQLite and on PostgreSQL.

mod common;

use cardwatch_core::records::{Kind, Value};
use cardwatch_store::lists::ListQuery;
use cardwatch_store::ImportInput;
use common::{demo_inputs, import, query_plan, TestDb};

/// Names whose order by lower case differs from their order byte by byte, or that sit at its
/// edges: a lower-case particle, the same name in other cases, an apostrophe, a space, letters
/// beyond ASCII.
const NAMES: &[&str] = &[
    "de Souza",
    "De Souza",
    "DE SOUZA",
    "Dean Smith",
    "O'Brien",
    "Oakes",
    "O Connor",
    "Élodie Martin",
    "élodie Martin",
    "Elodie Martin",
    "zara Patel",
    "Zara Patel",
    "Ånja Berg",
];

/// Where the column `name` is in a person's row.
fn at(name: &str) -> usize {
    Kind::People
        .columns()
        .iter()
        .position(|c| c.name == name)
        .expect("a column")
}

/// People as a list shows them: (name, uuid) in its order.
type Shown = Vec<(String, String)>;

/// Every page of the list, read forward from the start and then back from its end.
fn walk(db: &TestDb, q: &ListQuery) -> (Shown, Shown) {
    let pair = |r: &Vec<Value>| (r[at("name")].to_csv(), r[at("uuid")].to_csv());
    let mut q = q.clone();
    let (mut forward, mut last) = (Vec::new(), None);
    loop {
        let page = db.store.list_page(&q).expect("page");
        forward.extend(page.rows.iter().map(pair));
        match page.rows.last() {
            Some(r) if page.more => q.from = Some(q.position_of(r, false)),
            _ => {
                last = last.or(page.rows.last().cloned());
                break;
            }
        }
    }
    // Back from the last row, a page at a time, each page's rows in the list's order.
    let mut back: Shown = Vec::new();
    let last = last.expect("a row");
    back.push(pair(&last));
    q.from = Some(q.position_of(&last, true));
    loop {
        let page = db.store.list_page(&q).expect("page");
        let mut rows: Vec<(String, String)> = page.rows.iter().map(pair).collect();
        rows.extend(back);
        back = rows;
        match page.rows.first() {
            Some(r) if page.more => q.from = Some(q.position_of(r, true)),
            _ => break,
        }
    }
    (forward, back)
}

fn query(sites: Option<Vec<String>>, prefix: Option<&str>, descending: bool) -> ListQuery {
    ListQuery {
        kind: Kind::People,
        sites,
        prefix: prefix.map(str::to_owned),
        meaning: Vec::new(),
        sort: "name",
        descending,
        from: None,
        limit: 4,
    }
}

fn people_sort_by_name_in_lower_case_then_uuid(db: &TestDb) {
    import(db, &demo_inputs(2, 3));
    let mut everyone: Vec<Vec<String>> = Vec::new();
    db.store
        .scan(
            Kind::People,
            &(0..Kind::People.columns().len()).collect::<Vec<_>>(),
            true,
            &mut |c| {
                everyone.push(c.iter().map(|v| v.to_csv()).collect());
                Ok(())
            },
        )
        .expect("people");
    let practice = everyone[0][at("site_ods")].clone();
    // The names above at the first practice, with UUIDs out of name order.
    let header: Vec<&str> = Kind::People.columns().iter().map(|c| c.name).collect();
    let mut csv = header.join(",") + "\n";
    for (i, name) in NAMES.iter().enumerate() {
        let row: Vec<String> = header
            .iter()
            .map(|&c| match c {
                "uuid" => format!("5999999999{:02}", NAMES.len() - i),
                "name" => name.to_string(),
                "staff_role" => "GP".into(),
                "site_ods" => practice.clone(),
                "local_admin" => "no".into(),
                _ => String::new(),
            })
            .collect();
        csv += &(row.join(",") + "\n");
    }
    import(db, &[ImportInput::bytes("people.csv", csv)]);
    let mut people: Vec<(String, String, String)> = everyone
        .iter()
        .map(|r| {
            (
                r[at("name")].clone(),
                r[at("uuid")].clone(),
                r[at("site_ods")].clone(),
            )
        })
        .collect();
    people.extend(NAMES.iter().enumerate().map(|(i, n)| {
        (
            n.to_string(),
            format!("5999999999{:02}", NAMES.len() - i),
            practice.clone(),
        )
    }));

    // The order expected: the name with A–Z in lower case, then the UUID.
    let expected = |keep: &dyn Fn(&(String, String, String)) -> bool, descending: bool| {
        let mut e: Vec<(String, String)> = people
            .iter()
            .filter(|p| keep(p))
            .map(|(n, u, _)| (n.clone(), u.clone()))
            .collect();
        e.sort_by(|a, b| (a.0.to_ascii_lowercase(), &a.1).cmp(&(b.0.to_ascii_lowercase(), &b.1)));
        if descending {
            e.reverse();
        }
        e
    };
    // The start of the practice's code as someone types it, in lower case.
    let code = practice[..3].to_ascii_lowercase();
    for descending in [false, true] {
        for (label, sites, prefix) in [
            ("everyone", None, None),
            ("the practice", Some(vec![practice.clone()]), None),
            ("filtered by \"de s\"", None, Some("de s")),
            ("filtered by \"É\"", None, Some("É")),
            ("filtered by the site's code", None, Some(code.as_str())),
        ] {
            let want = expected(
                &|(n, u, s): &(String, String, String)| {
                    sites.as_ref().is_none_or(|v: &Vec<String>| v.contains(s))
                        && prefix.is_none_or(|p| {
                            let p = p.to_ascii_lowercase();
                            let last = n.rsplit(' ').next().unwrap_or(n);
                            [n.as_str(), u.as_str(), last, s.as_str()]
                                .iter()
                                .any(|t| t.to_ascii_lowercase().starts_with(&p))
                        })
                },
                descending,
            );
            assert!(!want.is_empty(), "{label}: someone to list");
            let (forward, back) = walk(db, &query(sites.clone(), prefix, descending));
            assert_eq!(forward, want, "{label}, descending {descending}: forward");
            assert_eq!(back, want, "{label}, descending {descending}: back");
        }
    }

    // Where the order differs from byte order, as a reader sees it.
    let (names, _) = walk(db, &query(Some(vec![practice.clone()]), Some("d"), false));
    let names: Vec<&str> = names.iter().map(|(n, _)| n.as_str()).collect();
    let souza = names
        .iter()
        .position(|n| *n == "de Souza")
        .expect("de Souza");
    let dean = names
        .iter()
        .position(|n| *n == "Dean Smith")
        .expect("Dean Smith");
    assert!(
        souza < dean,
        "\"de Souza\" before \"Dean Smith\": {names:?}"
    );

    // One index serves the order and the filter; the UUID's start is found by the key.
    let order = query_plan(
        db,
        "SELECT uuid FROM people ORDER BY lower(name), uuid LIMIT 5",
    );
    assert!(
        order.contains("people_name_list"),
        "the order's index: {order}"
    );
    let filter = query_plan(
        db,
        "SELECT uuid FROM people WHERE lower(name) >= 'smi' AND lower(name) < 'smj'",
    );
    assert!(
        filter.contains("people_name_list"),
        "the filter's index: {filter}"
    );
    let key = query_plan(
        db,
        "SELECT name FROM people WHERE uuid >= '5999' AND uuid < '599:'",
    );
    let site = query_plan(
        db,
        "SELECT name FROM people WHERE site_ods >= 'A8' AND site_ods < 'A9'",
    );
    assert!(
        !site.contains("SCAN people") && !site.contains("Seq Scan"),
        "the site's code by the site's sort index: {site}"
    );
    assert!(
        !key.contains("SCAN people") && !key.contains("Seq Scan"),
        "the UUID's start by the key: {key}"
    );
}

/// A folded column is never a key column (its lower case need not be unique, and a keyset needs
/// a total order), and is one the list sorts by; a caseless column is one the filter matches.
#[test]
fn folded_and_caseless_columns_are_sorted_and_matched_columns() {
    for l in cardwatch_store::lists::LISTED {
        let key: Vec<&str> = l.kind.columns()[..l.kind.key_len()]
            .iter()
            .map(|c| c.name)
            .collect();
        for c in l.folded {
            assert!(!key.contains(c), "{}: {c} is a key column", l.kind);
            assert!(l.sortable.contains(c), "{}: {c} is not sorted by", l.kind);
        }
        for c in l.caseless {
            assert!(l.matched.contains(c), "{}: {c} is not matched", l.kind);
        }
        // A code column is matched through its sort's index, so it is sorted by and not folded.
        for c in l.coded {
            assert!(l.sortable.contains(c), "{}: {c} is not sorted by", l.kind);
            assert!(!l.folded.contains(c), "{}: {c} is folded", l.kind);
        }
    }
}

on_both_backends!(people_sort_by_name_in_lower_case_then_uuid);
