//! An import whose cards are every card the store holds (its cards file began on an empty
//! table) marks as refreshed the sites where someone holds one of them, read from the tables
//! rather than from a list of the cards: not a site whose people hold no card, and not a site
//! with no people. On SQLite and on PostgreSQL.

mod common;

use cardwatch_core::date::Timestamp;
use cardwatch_store::refreshes::site_refreshes;
use cardwatch_store::{Change, ImportInput, ImportOptions};
use common::TestDb;

const ORGS: &str = "ods_code,name,type,parent_ods
A81001,Riverside Surgery,gp_practice,Q0001
Q0001,NHS Test ICB,icb,
";
const SITES: &str = "site_ods,organisation_ods,name,core_hours
A81001,A81001,Riverside Surgery,
B82002,A81001,Hill Branch,
C83003,A81001,Vale Branch,
";
/// Someone at each of Riverside and Hill; nobody at Vale.
const PEOPLE: &str = "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles
555123456789,Dr Asha Patel,,GP,A81001,,no,
555123456790,Sam Jones,,Receptionist,A81001,,no,
555123456791,Lee Hill,,Receptionist,B82002,,no,
";
/// Only Sam Jones, at Riverside, holds a card.
const CARDS: &str = "card_serial,holder_uuid,series,status,issued_on,last_used_on
CS000002,555123456790,10,active,2023-05-01,
";

fn sites_refreshed_by_holders(db: &TestDb) {
    let store = &*db.store;
    let t = |s: i64| Timestamp::from_unix(1_800_000_000 + s);
    let run = |inputs: &[ImportInput], at: i64| {
        let change = Change {
            actor: "cli:root".into(),
            at: t(at),
        };
        store
            .import(inputs, &ImportOptions::default(), &change)
            .expect("import");
    };
    // The sites first, on their own: each new site gets the import's time once.
    run(
        &[
            ImportInput::bytes("organisations.csv", ORGS),
            ImportInput::bytes("sites.csv", SITES),
        ],
        0,
    );
    // Then people and the store's first cards: only the site of a card's holder moves on.
    run(
        &[
            ImportInput::bytes("people.csv", PEOPLE),
            ImportInput::bytes("cards.csv", CARDS),
        ],
        100,
    );
    let refreshed: Vec<(String, Option<Timestamp>)> = site_refreshes(store)
        .expect("site refreshes")
        .into_iter()
        .map(|r| (r.site_ods, r.refreshed_at))
        .collect();
    assert_eq!(
        refreshed,
        vec![
            ("A81001".to_owned(), Some(t(100))),
            ("B82002".to_owned(), Some(t(0))),
            ("C83003".to_owned(), Some(t(0))),
        ]
    );
}

on_both_backends!(sites_refreshed_by_holders);
