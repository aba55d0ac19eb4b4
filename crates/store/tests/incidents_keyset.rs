//! The incidents' list by keyset (issue 26, migration 0025): in every sort the list offers, up
//! and down, a page at a time forward to the end and back to the start gives every incident once
//! and in the order the whole list is sorted in — ties in the sort column (ordered by number),
//! NULLs (first going up, last going down), minutes that are no whole number and the unfixed
//! ones (as taking forever) included; a caller limited to a site reads only its incidents and
//! those they recorded; a position's value that is no number in a sort by one stands past every
//! value; each page reads a range of the list's index, never a sort of every match. On SQLite
//! and on PostgreSQL.

mod common;

use cardwatch_core::date::Timestamp;
use cardwatch_core::triage::{Incident, IncidentStatus, IncidentStep, NewIncident};
use cardwatch_store::lists::Position;
use cardwatch_store::{incident_page, Change, IncidentQuery, IncidentSort, RecordedIncident};
use common::{query_plan, TestDb};

const SORTS: [IncidentSort; 6] = [
    IncidentSort::Opened,
    IncidentSort::Site,
    IncidentSort::Symptom,
    IncidentSort::Status,
    IncidentSort::Minutes,
    IncidentSort::Cause,
];

fn at(unix: i64) -> Change {
    Change {
        actor: "reception".into(),
        at: Timestamp::from_unix(unix),
    }
}

/// 61 incidents: opened a few to a second, at three sites or none, four symptoms, open, fixed
/// (in a few lengths of time, some a third of a minute) or escalated, with a cause or none.
fn record(db: &TestDb) {
    let start = Timestamp::parse("2026-11-02T09:00:00Z")
        .expect("time")
        .unix();
    let sites = [Some("A81001"), Some("B82002"), None, Some("C83003")];
    let symptoms = ["cannot-sign", "card-not-read", "locked-out", "slow-login"];
    let causes = [None, Some("middleware-outdated"), Some("reader-driver")];
    let list: Vec<RecordedIncident> = (0..61_i64)
        .map(|i| {
            let opened = start + (i / 3) * 600;
            let site = sites[(i % 4) as usize];
            let reporter = if i % 7 == 0 { "web:op" } else { "reception" };
            let closed = match i % 5 {
                0 | 1 => None,
                2 => Some((IncidentStatus::Resolved, opened + 20 + 60 * (i % 3))),
                3 => Some((IncidentStatus::Resolved, opened + 1080)),
                _ => Some((IncidentStatus::Escalated, opened + 1200)),
            };
            RecordedIncident {
                opened: NewIncident {
                    reporter: reporter.into(),
                    site: site.map(str::to_owned),
                    card_serial: Some(format!("CS{:06}", i % 6)),
                    hostname: None,
                    application: None,
                    doing: None,
                    symptom: symptoms[(i % 4 + i / 16) as usize % 4].into(),
                    error_text: None,
                },
                opened_by: at(opened),
                steps: vec![(
                    IncidentStep {
                        at: Timestamp::from_unix(opened + 10),
                        id: "middleware-version".into(),
                        result: "outdated".into(),
                    },
                    at(opened + 10),
                )],
                closed: closed.map(|(status, when)| {
                    (
                        status,
                        causes[(i % 3) as usize].map(str::to_owned),
                        at(when),
                    )
                }),
            }
        })
        .collect();
    db.store.record_incidents(&list).expect("recorded");
}

fn everyone() -> IncidentQuery {
    IncidentQuery {
        reporter: "web:admin".into(),
        ..IncidentQuery::everything()
    }
}

/// A practice operator: A81001's incidents and those they recorded.
fn practice() -> IncidentQuery {
    IncidentQuery {
        sites: Some(vec!["A81001".into()]),
        siteless: false,
        reporter: "web:op".into(),
        ..IncidentQuery::everything()
    }
}

/// The whole list in the query's order, as the counted list reads it.
fn whole(db: &TestDb, q: &IncidentQuery) -> Vec<i64> {
    let all = IncidentQuery {
        offset: 0,
        limit: None,
        ..q.clone()
    };
    let (total, list) = incident_page(&*db.store, &all).expect("whole");
    assert_eq!(total as usize, list.len());
    list.iter().map(|i| i.id).collect()
}

/// Every page forward from the start, then every page back from the last incident: both the
/// whole list.
fn walk(db: &TestDb, q: &IncidentQuery, limit: usize) -> (Vec<i64>, Vec<i64>, Vec<Incident>) {
    let q = IncidentQuery {
        limit: Some(limit),
        ..q.clone()
    };
    let (mut forward, mut seen, mut from): (Vec<i64>, Vec<Incident>, Option<Position>) =
        (Vec::new(), Vec::new(), None);
    loop {
        let (page, more) = q.keyset_page(&*db.store, from.as_ref()).expect("page");
        assert!(page.len() <= limit);
        assert!(more || from.is_none() || !page.is_empty() || forward.is_empty());
        forward.extend(page.iter().map(|i| i.id));
        seen.extend(page.iter().cloned());
        match page.last() {
            Some(last) if more => from = Some(q.position_of(last, false)),
            _ => break,
        }
    }
    let mut back: Vec<i64> = Vec::new();
    if let Some(last) = seen.last() {
        back.push(last.id);
        let mut from = q.position_of(last, true);
        loop {
            let (page, more) = q.keyset_page(&*db.store, Some(&from)).expect("page");
            assert!(page.len() <= limit);
            let mut ids: Vec<i64> = page.iter().map(|i| i.id).collect();
            ids.extend(back);
            back = ids;
            match page.first() {
                Some(first) if more => from = q.position_of(first, true),
                _ => break,
            }
        }
    }
    (forward, back, seen)
}

fn every_sort_pages_forward_and_back_as_the_whole_list(db: &TestDb) {
    record(db);
    for base in [everyone(), practice()] {
        for sort in SORTS {
            for descending in [false, true] {
                let q = IncidentQuery {
                    sort,
                    descending,
                    ..base.clone()
                };
                let want = whole(db, &q);
                let what = format!("{sort:?} descending {descending}, sites {:?}", q.sites);
                let (forward, back, seen) = walk(db, &q, 7);
                assert_eq!(forward, want, "forward: {what}");
                assert_eq!(back, want, "back: {what}");
                if q.sites.is_some() {
                    assert!(
                        seen.iter()
                            .all(|i| i.opened.site.as_deref() == Some("A81001")
                                || i.opened.reporter == "web:op"),
                        "only A81001's and the operator's own: {what}"
                    );
                    assert!(seen.len() < 61 && seen.iter().any(|i| i.opened.site.is_none()));
                } else {
                    assert_eq!(seen.len(), 61, "{what}");
                }
                // A page as long as the list, and one longer: all of it, nothing more.
                let (one, more) = IncidentQuery {
                    limit: Some(want.len()),
                    ..q.clone()
                }
                .keyset_page(&*db.store, None)
                .expect("page");
                assert!(!more, "{what}");
                assert_eq!(one.iter().map(|i| i.id).collect::<Vec<_>>(), want);
            }
        }
    }
    // Ties and NULLs are there to be paged through.
    let by_site = whole(
        db,
        &IncidentQuery {
            sort: IncidentSort::Site,
            ..everyone()
        },
    );
    assert_eq!(by_site.len(), 61);
    let (_, list) = incident_page(&*db.store, &everyone()).expect("list");
    assert!(list.iter().filter(|i| i.opened.site.is_none()).count() > 7);
    assert!(list.iter().filter(|i| i.confirmed_cause.is_none()).count() > 7);
    let thirds = list
        .iter()
        .filter(|i| i.minutes_to_fix == Some(20.0 / 60.0))
        .count();
    assert!(thirds > 1, "minutes tied at a third of a minute: {thirds}");

    // Filtered by status and site: the same walk over the matches only.
    for sort in SORTS {
        let q = IncidentQuery {
            sort,
            descending: true,
            status: Some(IncidentStatus::Open),
            site: Some("B82002".into()),
            ..everyone()
        };
        let want = whole(db, &q);
        assert!(!want.is_empty());
        let (forward, back, _) = walk(db, &q, 2);
        assert_eq!((&forward, &back), (&want, &want), "{sort:?} open at B82002");
    }

    // A position's value that is no number, where the sort is by one, stands past every value:
    // nothing after it going up, the whole list before it.
    for sort in [IncidentSort::Opened, IncidentSort::Minutes] {
        let q = IncidentQuery {
            sort,
            limit: Some(100),
            ..everyone()
        };
        let past = |before| Position {
            before,
            values: vec!["not a number".into(), "1".into()],
        };
        let (after, more) = q.keyset_page(&*db.store, Some(&past(false))).expect("page");
        assert!(after.is_empty() && !more, "{sort:?}");
        let (before, _) = q.keyset_page(&*db.store, Some(&past(true))).expect("page");
        assert_eq!(
            before.iter().map(|i| i.id).collect::<Vec<_>>(),
            whole(db, &q),
            "{sort:?}"
        );
    }
    // A position without a sort value is at NULL: going up, every incident with a value comes
    // after it, and those without one after its number.
    let q = IncidentQuery {
        sort: IncidentSort::Cause,
        limit: Some(100),
        ..everyone()
    };
    let want = whole(db, &q);
    let (page, _) = q
        .keyset_page(
            &*db.store,
            Some(&Position {
                before: false,
                values: vec![want[2].to_string()],
            }),
        )
        .expect("page");
    assert_eq!(
        page.iter().map(|i| i.id).collect::<Vec<_>>(),
        want[3..].to_vec()
    );
}

/// Each sort's page, first and from a position, both ways, reads a range of its index in order:
/// never a sort of every match (on PostgreSQL with sorting priced out, as at national size).
fn a_page_reads_its_index_without_sorting(db: &TestDb) {
    record(db);
    let columns = "id, opened_at, site";
    for (x, index, value, nullable) in [
        ("opened_at", "incidents_list_opened", "1795000000", false),
        ("site", "incidents_list_site", "'B82002'", true),
        ("symptom", "incidents_list_symptom", "'locked-out'", false),
        ("status", "incidents_list_status", "'open'", false),
        (
            "COALESCE(minutes_to_fix, 1e18)",
            "incidents_list_minutes",
            "CAST('1.8e1' AS DOUBLE PRECISION)",
            false,
        ),
        (
            "confirmed_cause",
            "incidents_list_cause",
            "'reader-driver'",
            true,
        ),
    ] {
        let not_null = if nullable {
            format!(" AND {x} IS NOT NULL")
        } else {
            String::new()
        };
        let mut statements = Vec::new();
        for (dir, past, past_or_at) in [("ASC", ">", ">="), ("DESC", "<", "<=")] {
            statements.push(format!(
                "SELECT {columns} FROM incidents WHERE 1 = 1{not_null} \
                 ORDER BY {x} {dir}, id {dir} LIMIT 8"
            ));
            statements.push(format!(
                "SELECT {columns} FROM incidents WHERE 1 = 1{not_null} AND {x} {past_or_at} \
                 {value} AND ({x} {past} {value} OR id {past} 30) ORDER BY {x} {dir}, id {dir} \
                 LIMIT 8"
            ));
            if nullable {
                statements.push(format!(
                    "SELECT {columns} FROM incidents WHERE 1 = 1 AND {x} IS NULL AND id {past} \
                     30 ORDER BY id {dir} LIMIT 8"
                ));
            }
        }
        for sql in statements {
            let plan = query_plan(db, &sql);
            // The NULLs' range is in number order in the list's index and in the key's: a
            // planner without statistics may take either.
            let nulls = sql.contains("IS NULL AND id");
            assert!(
                plan.contains(index) || (nulls && plan.contains("incidents_pkey")),
                "{sql}: {plan}"
            );
            assert!(
                !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
                "{sql}: {plan}"
            );
        }
    }
    // The open incidents newest first (the overview's link), and one site's: their own indexes.
    for (sql, index) in [
        (
            "SELECT id FROM incidents WHERE status = 'open' ORDER BY opened_at DESC, id DESC \
             LIMIT 8",
            "incidents_list_status_opened",
        ),
        (
            "SELECT id FROM incidents WHERE site = 'A81001' AND opened_at <= 1795000000 AND \
             (opened_at < 1795000000 OR id < 30) ORDER BY opened_at DESC, id DESC LIMIT 8",
            "incidents_list_site_opened",
        ),
    ] {
        let plan = query_plan(db, sql);
        assert!(plan.contains(index), "{sql}: {plan}");
        assert!(
            !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
            "{sql}: {plan}"
        );
    }
}

on_both_backends!(
    every_sort_pages_forward_and_back_as_the_whole_list,
    a_page_reads_its_index_without_sorting
);
