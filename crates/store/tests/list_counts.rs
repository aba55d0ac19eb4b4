//! The estate lists' totals (the per-site counts the store keeps in `list_counts`) and pages
//! after imports: a bulk load into empty tables — its indexes and counting triggers dropped, the
//! sites counted once at its end — and then a small import of one practice's people into the big
//! estate, counted as it goes by the triggers, leave every list's total equal to a recount of the
//! records, for the whole estate and for each site, and every list's pages reading each record
//! once in each order, on SQLite and on PostgreSQL.

mod common;

use std::collections::{BTreeMap, HashSet};

use cardwatch_core::records::{Kind, Value};
use cardwatch_store::lists::{ListQuery, Listed, Total, LISTED};
use cardwatch_store::{ImportInput, ImportOptions};
use common::{change, demo_inputs, import, TestDb};

/// Every file of the import loads in bulk (the bulk path is otherwise for files of 8 MB up).
fn bulk() -> ImportOptions {
    ImportOptions {
        bulk_from_bytes: Some(0),
        ..ImportOptions::default()
    }
}

/// The triggers on the estate's tables with how each is enabled (PostgreSQL), as sorted names:
/// to show a bulk load put them back as they were.
fn triggers(db: &TestDb) -> Vec<String> {
    let mut names: Vec<String> = if db.store.backend() == cardwatch_store::Backend::Postgres {
        let mut c = ::postgres::Client::connect(&db.url, ::postgres::NoTls).expect("connect");
        c.query(
            "SELECT tgrelid::regclass::text || ' ' || tgname || ' ' || tgenabled::text
             FROM pg_trigger WHERE NOT tgisinternal",
            &[],
        )
        .expect("triggers")
        .iter()
        .map(|r| r.get(0))
        .collect()
    } else {
        let path = db.url.trim_start_matches("sqlite://");
        let c = rusqlite::Connection::open(path).expect("open");
        let mut stmt = c
            .prepare("SELECT tbl_name || ' ' || name || ' ' || sql FROM sqlite_master WHERE type = 'trigger'")
            .expect("triggers");
        let rows = stmt.query_map([], |r| r.get(0)).expect("triggers");
        rows.collect::<Result<_, _>>().expect("triggers")
    };
    names.sort();
    names
}

fn column(kind: Kind, name: &str) -> usize {
    kind.columns()
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("{kind} has no column {name}"))
}

/// A listed kind's records per site, counted from the records themselves.
fn recount(db: &TestDb, l: &Listed) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    db.store
        .scan(l.kind, &[column(l.kind, l.site)], false, &mut |c| {
            *out.entry(c[0].to_csv()).or_default() += 1;
            Ok(())
        })
        .expect("scan");
    out
}

fn query(l: &Listed, sites: Option<Vec<String>>, sort: &'static str, limit: usize) -> ListQuery {
    ListQuery {
        kind: l.kind,
        sites,
        prefix: None,
        meaning: Vec::new(),
        sort,
        descending: false,
        from: None,
        limit,
    }
}

/// The total a list shows over these sites (`None`: every site).
fn total(db: &TestDb, l: &Listed, sites: Option<Vec<String>>) -> u64 {
    let page = db
        .store
        .list_page(&query(l, sites, l.sortable[0], 1))
        .expect("page");
    match page.total {
        Total::Exact(n) => n,
        other => panic!(
            "{}: an unfiltered list counts exactly, not {other:?}",
            l.kind
        ),
    }
}

/// The keys of a list read page by page from the first, by `sort`.
fn walk(db: &TestDb, l: &Listed, sort: &'static str, most: u64) -> Vec<String> {
    let key_len = l.kind.key_len();
    let key = |row: &[Value]| {
        row[..key_len]
            .iter()
            .map(Value::to_csv)
            .collect::<Vec<_>>()
            .join("|")
    };
    let mut q = query(l, None, sort, 37);
    let mut keys = Vec::new();
    loop {
        let page = db.store.list_page(&q).expect("page");
        keys.extend(page.rows.iter().map(|r| key(r)));
        assert!(
            keys.len() as u64 <= most,
            "{} by {sort}: pages repeat rows",
            l.kind
        );
        let Some(last) = page.rows.last().filter(|_| page.more) else {
            return keys;
        };
        q.from = Some(q.position_of(last, false));
    }
}

/// Every list's totals equal a recount (whole estate, each site, two sites, a site with none),
/// and its pages in each order read every record once.
fn lists_agree(db: &TestDb, when: &str) {
    for l in LISTED {
        let by_site = recount(db, l);
        let all: u64 = by_site.values().sum();
        assert!(all > 0, "{when}: the demo has {}", l.kind);
        assert_eq!(total(db, l, None), all, "{when}: {} total", l.kind);
        for (site, n) in &by_site {
            let at = total(db, l, Some(vec![site.clone()]));
            assert_eq!(at, *n, "{when}: {} at {site}", l.kind);
        }
        let two: Vec<String> = by_site.keys().take(2).cloned().collect();
        let expected: u64 = two.iter().map(|s| by_site[s]).sum();
        assert_eq!(total(db, l, Some(two)), expected, "{when}: {}", l.kind);
        assert_eq!(total(db, l, Some(vec!["Z99999".into()])), 0, "{when}");
        for &sort in l.sortable {
            let keys = walk(db, l, sort, all);
            let once: HashSet<&String> = keys.iter().collect();
            assert_eq!(keys.len() as u64, all, "{when}: {} by {sort}", l.kind);
            assert_eq!(once.len(), keys.len(), "{when}: {} by {sort}", l.kind);
        }
    }
}

/// A CSV field as written.
fn field(v: &Value) -> String {
    let s = v.to_csv();
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn bulk_then_small_import(db: &TestDb) {
    let (schema, before) = (db.schema_objects(), triggers(db));
    assert!(
        before.iter().any(|t| t.contains("people_counted")),
        "the counting triggers: {before:#?}"
    );
    db.store
        .import(&demo_inputs(4, 7), &bulk(), &change())
        .unwrap_or_else(|e| panic!("bulk import: {e:?}"));
    assert_eq!(db.schema_objects(), schema, "indexes and keys are back");
    assert_eq!(
        triggers(db),
        before,
        "the counting triggers are back, as they were"
    );
    lists_agree(db, "after the bulk import");

    // One practice's people into the big estate: three new, one moved from another site.
    let people = LISTED
        .iter()
        .find(|l| l.kind == Kind::People)
        .expect("people listed");
    let sites: Vec<String> = recount(db, people).into_keys().collect();
    assert!(sites.len() >= 2, "the demo has people at several sites");
    let practice = &sites[0];
    let mut moved = None;
    db.store
        .scan(
            Kind::People,
            &(0..Kind::People.columns().len()).collect::<Vec<_>>(),
            true,
            &mut |c| {
                if moved.is_none() && c[column(Kind::People, "site_ods")].to_csv() != *practice {
                    moved = Some(cardwatch_core::records::to_values(c));
                }
                Ok(())
            },
        )
        .expect("people");
    let mut moved = moved.expect("a person at another site");
    let from = moved[column(Kind::People, "site_ods")].to_csv();
    moved[column(Kind::People, "site_ods")] = Value::Text(practice.clone());
    let header: Vec<&str> = Kind::People.columns().iter().map(|c| c.name).collect();
    let mut csv = header.join(",") + "\n";
    for i in 0..3 {
        let row: Vec<String> = header
            .iter()
            .map(|&c| match c {
                "uuid" => format!("69999999990{i}"),
                "name" => format!("New Person {i}"),
                "staff_role" => "GP".into(),
                "site_ods" => practice.clone(),
                "local_admin" => "no".into(),
                _ => String::new(),
            })
            .collect();
        csv += &(row.join(",") + "\n");
    }
    csv += &(moved.iter().map(field).collect::<Vec<_>>().join(",") + "\n");
    let report = import(db, &[ImportInput::bytes("people.csv", csv)]);
    assert_eq!(
        (report.files[0].created, report.files[0].updated),
        (3, 1),
        "{report:?}"
    );
    let left = recount(db, people).get(&from).copied().unwrap_or(0);
    assert_eq!(
        total(db, people, Some(vec![from])),
        left,
        "the site moved from"
    );
    lists_agree(db, "after a small import into the estate");
}

on_both_backends!(bulk_then_small_import);
