//! The people list's filter (issue 26): what is typed matches the start of a person's UUID, of
//! their name, or of their surname — "smith" finds Jane Smith — in capitals or not, and the
//! surname is found through its index (migration 0019), as the other filtered columns are, so
//! the filter stays fast at a million people. On SQLite and on PostgreSQL.

mod common;

use std::collections::BTreeSet;

use cardwatch_core::records::Kind;
use cardwatch_store::lists::{surname, ListQuery, Total};
use common::{demo_inputs, import, query_plan, TestDb};

/// The UUIDs of the people the list shows for `typed`, read page by page.
fn listed(db: &TestDb, typed: &str) -> (BTreeSet<String>, Total) {
    let mut q = ListQuery {
        kind: Kind::People,
        sites: None,
        prefix: Some(typed.to_owned()),
        meaning: Vec::new(),
        sort: "name",
        descending: false,
        from: None,
        limit: 7,
    };
    let (mut uuids, mut total) = (BTreeSet::new(), None);
    loop {
        let page = db.store.list_page(&q).expect("page");
        total.get_or_insert(page.total);
        for r in &page.rows {
            assert!(uuids.insert(r[0].to_csv()), "{typed:?}: a row twice");
        }
        let Some(last) = page.rows.last().filter(|_| page.more) else {
            return (uuids, total.expect("a page"));
        };
        q.from = Some(q.position_of(last, false));
    }
}

/// The first `n` characters of `s`.
fn start(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

/// Whether the filter should show the person: the start of their UUID, name, last word or
/// site's code.
fn matches((uuid, name, site): &(String, String, String), typed: &str) -> bool {
    let typed = typed.to_lowercase();
    let last = name.rsplit(' ').next().unwrap_or(name);
    [uuid, name, last, site]
        .iter()
        .any(|t| t.to_lowercase().starts_with(&typed))
}

/// The plan the database makes for a filter on the surname alone.
fn plan(db: &TestDb) -> String {
    let e = surname("name", db.store.backend());
    query_plan(
        db,
        &format!("SELECT uuid FROM people WHERE {e} >= 'smi' AND {e} < 'smj'"),
    )
}

fn people_are_found_by_the_start_of_their_surname(db: &TestDb) {
    import(db, &demo_inputs(2, 7));
    let name_at = Kind::People
        .columns()
        .iter()
        .position(|c| c.name == "name")
        .expect("a name column");
    let site_at = Kind::People
        .columns()
        .iter()
        .position(|c| c.name == "site_ods")
        .expect("a site column");
    let mut people: Vec<(String, String, String)> = Vec::new();
    db.store
        .scan(Kind::People, &[0, name_at, site_at], true, &mut |c| {
            people.push((c[0].to_csv(), c[1].to_csv(), c[2].to_csv()));
            Ok(())
        })
        .expect("people");
    // Someone whose surname's start is not their first name's: only the surname finds them.
    let (uuid, name, _) = people
        .iter()
        .find(|(_, n, _)| {
            let last = n.rsplit(' ').next().unwrap_or(n);
            let first3 = start(last, 3).to_lowercase();
            n.contains(' ') && first3.chars().count() == 3 && !n.to_lowercase().starts_with(&first3)
        })
        .expect("a person with a first name and a surname")
        .clone();
    let last = name.rsplit(' ').next().expect("a surname");
    let typed = [
        start(last, 3).to_uppercase(),
        last.to_lowercase(),
        start(last, 1),
        start(&name, 2),
        start(&uuid, 4),
        "zzzz".to_owned(),
    ];
    for typed in &typed {
        let (shown, total) = listed(db, typed);
        let expected: BTreeSet<String> = people
            .iter()
            .filter(|p| matches(p, typed))
            .map(|(u, _, _)| u.clone())
            .collect();
        assert_eq!(shown, expected, "{typed:?}");
        assert_eq!(total, Total::Exact(expected.len() as u64), "{typed:?}");
    }
    let (shown, _) = listed(db, &start(last, 3).to_uppercase());
    assert!(
        shown.contains(&uuid),
        "{name} by the start of their surname"
    );
    let plan = plan(db);
    assert!(
        plan.contains("people_surname_lower"),
        "the surname's index serves the filter: {plan}"
    );
}

on_both_backends!(people_are_found_by_the_start_of_their_surname);
