//! The sites' and organisations' lists find a name by any of its words, not only its first:
//! "riverside" finds "The Riverside Surgery", "smith" finds "Dr Smith and Partners". The typed
//! text's own `%` and `_` are taken as written. On SQLite and on PostgreSQL.

mod common;

use std::collections::BTreeSet;

use cardwatch_core::records::Kind;
use cardwatch_store::lists::ListQuery;
use cardwatch_store::ImportInput;
use common::{demo_inputs, import, TestDb};

/// The codes of the sites the list shows for `typed`, read page by page.
fn listed(db: &TestDb, kind: Kind, sort: &'static str, typed: &str) -> BTreeSet<String> {
    let mut q = ListQuery {
        kind,
        sites: None,
        prefix: Some(typed.to_owned()),
        meaning: Vec::new(),
        sort,
        descending: false,
        from: None,
        limit: 3,
    };
    let mut codes = BTreeSet::new();
    loop {
        let page = db.store.list_page(&q).expect("page");
        codes.extend(page.rows.iter().map(|r| r[0].to_csv()));
        let Some(last) = page.rows.last().filter(|_| page.more) else {
            return codes;
        };
        q.from = Some(q.position_of(last, false));
    }
}

fn names_are_found_by_any_of_their_words(db: &TestDb) {
    import(db, &demo_inputs(2, 7));
    let mut organisation = String::new();
    db.store
        .scan(Kind::Organisations, &[0], true, &mut |c| {
            if organisation.is_empty() {
                organisation = c[0].to_csv();
            }
            Ok(())
        })
        .expect("organisations");
    let sites = [
        ("Y90001", "The Riverside Surgery"),
        ("Y90002", "Dr Smith and Partners"),
        ("Y90003", "Riversmeet Health Centre"),
        ("Y90004", "Oak Care Home"),
        ("Y90005", "Elm Care_Home"),
        ("Y90006", "Ash 100% Clinic"),
    ];
    let mut csv = "site_ods,organisation_ods,name,core_hours\n".to_owned();
    for (code, name) in sites {
        csv += &format!("{code},{organisation},{name},\n");
    }
    import(db, &[ImportInput::bytes("sites.csv", csv)]);
    let ours = |typed: &str| -> BTreeSet<String> {
        listed(db, Kind::Sites, "site_ods", typed)
            .into_iter()
            .filter(|c| c.starts_with("Y9"))
            .collect()
    };
    let set = |codes: &[&str]| {
        codes
            .iter()
            .map(|c| (*c).to_owned())
            .collect::<BTreeSet<_>>()
    };
    // A word inside the name, in capitals or not; the first word as before.
    assert_eq!(ours("riverside"), set(&["Y90001"]));
    assert_eq!(ours("RIVERS"), set(&["Y90001", "Y90003"]));
    assert_eq!(ours("smith"), set(&["Y90002"]));
    assert_eq!(ours("dr s"), set(&["Y90002"]));
    // Not the middle of a word.
    assert_eq!(ours("side"), set(&[]));
    // The typed `_` and `%` are characters, not wildcards.
    assert_eq!(ours("care_"), set(&["Y90005"]));
    assert_eq!(ours("care "), set(&["Y90004"]));
    assert_eq!(ours("100%"), set(&["Y90006"]));
    assert_eq!(ours("1%"), set(&[]));
    // The sites' codes still match by their start.
    assert_eq!(
        ours("y9000"),
        set(&["Y90001", "Y90002", "Y90003", "Y90004", "Y90005", "Y90006"])
    );

    // Organisations alike: the demo's organisations, found by a word after their first.
    let mut names: Vec<(String, String)> = Vec::new();
    db.store
        .scan(Kind::Organisations, &[0, 1], true, &mut |c| {
            names.push((c[0].to_csv(), c[1].to_csv()));
            Ok(())
        })
        .expect("organisations");
    let (code, name) = names
        .iter()
        .find(|(_, n)| n.split(' ').nth(1).is_some_and(|w| w.len() >= 3))
        .expect("an organisation with a second word")
        .clone();
    let second = name
        .split(' ')
        .nth(1)
        .expect("a second word")
        .to_lowercase();
    let found = listed(db, Kind::Organisations, "ods_code", &second);
    assert!(found.contains(&code), "{name} by {second:?}: {found:?}");
    let expected: BTreeSet<String> = names
        .iter()
        .filter(|(c, n)| {
            let n = n.to_lowercase();
            c.to_lowercase().starts_with(&second)
                || n.starts_with(&second)
                || n.contains(&format!(" {second}"))
        })
        .map(|(c, _)| c.clone())
        .collect();
    assert_eq!(found, expected);
}

on_both_backends!(names_are_found_by_any_of_their_words);
