//! The agents' list by keyset (issue 26, migration 0024): newest enrolment first, then by id,
//! read a page at a time forward to the end and back to the start, every agent once and in
//! order, agents enrolled in the same second included; the total counts every agent; both
//! directions read the list's own index without sorting. On SQLite and on PostgreSQL.

mod common;

use cardwatch_core::date::Timestamp;
use cardwatch_store::agents::{self, AgentsFrom};
use cardwatch_store::Change;
use common::{query_plan, TestDb};

/// Agents enrolled over a few seconds, several in each, their ids not in enrolment order.
fn enrol_agents(db: &TestDb, n: usize) -> Vec<(i64, String)> {
    let start = Timestamp::parse("2026-11-22T09:00:00Z")
        .expect("time")
        .unix();
    let mut enrolled = Vec::new();
    for i in 0..n {
        let at = start + (i % 5) as i64;
        let change = Change {
            actor: "test".into(),
            at: Timestamp::from_unix(at),
        };
        // Ids that sort apart from the order they were made in.
        let id = format!("ag_{:03}", (i * 37) % 101);
        let hash = format!("token-{i}");
        let expires = Timestamp::from_unix(at + 3600);
        agents::add_enrolment_token(
            &*db.store,
            &hash,
            &format!("et_{i}"),
            expires,
            None,
            &change,
        )
        .expect("token");
        agents::enrol(
            &*db.store,
            &hash,
            &id,
            &format!("ws{i:03}"),
            "0.1.0",
            &format!("credential-{i}"),
            &change,
        )
        .expect("enrol");
        enrolled.push((at, id));
    }
    enrolled
}

fn from(a: &agents::Agent, before: bool) -> AgentsFrom {
    AgentsFrom {
        before,
        enrolled_at: a.enrolled_at.unix(),
        id: a.id.clone(),
    }
}

fn agents_are_paged_by_keyset_newest_first_then_by_id(db: &TestDb) {
    let empty = agents::agents_page(&*db.store, None, 10).expect("page");
    assert!(empty.agents.is_empty() && !empty.more && empty.total == 0);

    let mut want = enrol_agents(db, 43);
    want.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let key = |a: &agents::Agent| (a.enrolled_at.unix(), a.id.clone());

    // Forward, 7 at a time: 6 full pages and one of 1.
    let (mut forward, mut at, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = agents::agents_page(&*db.store, at.as_ref(), 7).expect("page");
        assert_eq!(page.total, 43);
        assert!(page.agents.len() <= 7);
        pages += 1;
        forward.extend(page.agents.iter().map(key));
        match page.agents.last() {
            Some(last) if page.more => at = Some(from(last, false)),
            _ => break,
        }
    }
    assert_eq!(pages, 7);
    assert_eq!(forward, want, "forward, every agent once in order");
    assert_eq!(
        agents::agents(&*db.store)
            .expect("all")
            .iter()
            .map(key)
            .collect::<Vec<_>>(),
        want,
        "the page's order is the whole list's"
    );

    // Back from the last agent, each page in the list's order.
    let last = want.last().expect("an agent").clone();
    let mut back = vec![last.clone()];
    let mut at = Some(AgentsFrom {
        before: true,
        enrolled_at: last.0,
        id: last.1,
    });
    loop {
        let page = agents::agents_page(&*db.store, at.as_ref(), 7).expect("page");
        assert_eq!(page.total, 43);
        let mut rows: Vec<_> = page.agents.iter().map(key).collect();
        rows.extend(back);
        back = rows;
        match page.agents.first() {
            Some(first) if page.more => at = Some(from(first, true)),
            _ => break,
        }
    }
    assert_eq!(back, want, "back, every agent once in order");

    // A position between agents of one second: those after it in id, then the older ones.
    let (second, _) = want[10].clone();
    let page = agents::agents_page(
        &*db.store,
        Some(&AgentsFrom {
            before: false,
            enrolled_at: second,
            id: "ag_05".into(),
        }),
        100,
    )
    .expect("page");
    let expected: Vec<_> = want
        .iter()
        .filter(|(at, id)| *at < second || (*at == second && id.as_str() > "ag_05"))
        .cloned()
        .collect();
    assert_eq!(page.agents.iter().map(key).collect::<Vec<_>>(), expected);
    assert!(!page.more);

    // Both directions read the index in order: no sort of every agent.
    for sql in [
        "SELECT id FROM agents ORDER BY enrolled_at DESC, id LIMIT 51",
        "SELECT id FROM agents WHERE enrolled_at <= 1795000000 AND (enrolled_at < 1795000000 \
         OR id > 'ag_050') ORDER BY enrolled_at DESC, id LIMIT 51",
        "SELECT id FROM agents WHERE enrolled_at >= 1795000000 AND (enrolled_at > 1795000000 \
         OR id < 'ag_050') ORDER BY enrolled_at, id DESC LIMIT 51",
    ] {
        let plan = query_plan(db, sql);
        assert!(plan.contains("agents_enrolled_list"), "{sql}: {plan}");
        assert!(
            !plan.contains("TEMP B-TREE") && !plan.contains("Sort"),
            "{sql}: {plan}"
        );
    }
}

on_both_backends!(agents_are_paged_by_keyset_newest_first_then_by_id);
