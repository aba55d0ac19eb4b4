//! Incidents recorded in one batch (`Store::record_incidents`, the demo's past) come out exactly
//! as the same incidents recorded one change at a time: the same rows, and the same audit
//! records in the same order — so the same chain, hash for hash — on both backends. A bad
//! incident refuses the whole batch; batches larger than one insert keep their order.

mod common;

use cardwatch_core::date::Timestamp;
use cardwatch_core::triage::{IncidentStatus, IncidentStep, NewIncident};
use cardwatch_store::{AuditVerdict, Change, RecordedIncident, Store};
use common::TestDb;

fn by(time: &str) -> Change {
    Change {
        actor: "reception".into(),
        at: Timestamp::parse(time).expect("time"),
    }
}

fn opened(site: &str, doing: &str) -> NewIncident {
    NewIncident {
        reporter: "reception".into(),
        site: Some(site.into()),
        card_serial: Some("CS000001".into()),
        hostname: None,
        application: Some("emis-web".into()),
        doing: Some(doing.into()),
        symptom: "cannot-sign".into(),
        error_text: Some("  0x53494705 No X.509 Signing certificate found ".into()),
    }
}

fn step(time: &str, id: &str, result: &str) -> (IncidentStep, Change) {
    let s = IncidentStep {
        at: Timestamp::parse(time).expect("time"),
        id: id.into(),
        result: result.into(),
    };
    (s, by(time))
}

/// Resolved after two steps, escalated with none, and one still open after a step.
fn three() -> Vec<RecordedIncident> {
    vec![
        RecordedIncident {
            opened: opened("A81001", "signing a prescription"),
            opened_by: by("2026-11-20T09:00:00Z"),
            steps: vec![
                step("2026-11-20T09:03:00Z", "middleware-version", "outdated"),
                step("2026-11-20T09:18:00Z", "update-middleware", "fixed"),
            ],
            closed: Some((
                IncidentStatus::Resolved,
                Some(" middleware-outdated ".into()),
                by("2026-11-20T09:18:30Z"),
            )),
        },
        RecordedIncident {
            opened: opened("B82002", "logging in"),
            opened_by: by("2026-11-21T10:00:00Z"),
            steps: Vec::new(),
            closed: Some((IncidentStatus::Escalated, None, by("2026-11-21T10:21:00Z"))),
        },
        RecordedIncident {
            opened: opened("A81001", "opening the spine portal"),
            opened_by: by("2026-11-22T08:00:00Z"),
            steps: vec![step("2026-11-22T08:05:00Z", "reader-light", "off")],
            closed: None,
        },
    ]
}

/// The same incidents through the single-change operations, in the same order.
fn one_at_a_time(store: &dyn Store, list: &[RecordedIncident]) {
    for r in list {
        let id = store.open_incident(&r.opened, &r.opened_by).expect("open");
        for (s, c) in &r.steps {
            store.record_incident_step(id, s, c).expect("step");
        }
        if let Some((status, cause, c)) = &r.closed {
            store
                .close_incident(id, *status, cause.as_deref(), c)
                .expect("close");
        }
    }
}

/// Another empty store on the same backend as `db`.
fn twin(db: &TestDb) -> TestDb {
    if db.url.starts_with("postgres") {
        TestDb::postgres()
    } else {
        TestDb::sqlite()
    }
}

fn a_batch_records_what_one_at_a_time_records(db: &TestDb) {
    let singly = twin(db);
    let list = three();
    one_at_a_time(&*singly.store, &list);
    let ids = db.store.record_incidents(&list).expect("batch");
    assert_eq!(ids.len(), 3);

    let mut batch = db.store.incidents(10).expect("read");
    let mut single = singly.store.incidents(10).expect("read");
    batch.sort_by_key(|i| i.id);
    single.sort_by_key(|i| i.id);
    assert_eq!(batch, single, "the same rows");
    assert_eq!(batch.iter().map(|i| i.id).collect::<Vec<_>>(), ids);
    assert_eq!(batch[0].minutes_to_fix, Some(18.5));
    assert_eq!(batch[2].status, IncidentStatus::Open);

    // The same records, in the same order, sealed the same: the chains are identical.
    let batch_audit = db.store.audit_records(0, 100).expect("audit");
    let single_audit = singly.store.audit_records(0, 100).expect("audit");
    assert_eq!(
        batch_audit.len(),
        3 + 3 + 2,
        "an opening, a step and a closing each"
    );
    assert_eq!(batch_audit, single_audit);
    assert!(matches!(
        db.store.verify_audit().expect("verify"),
        AuditVerdict::Intact(_)
    ));

    // The open one goes on through the ordinary operations.
    db.store
        .close_incident(
            ids[2],
            IncidentStatus::Escalated,
            None,
            &by("2026-11-22T08:30:00Z"),
        )
        .expect("close the open one");
}

fn a_bad_incident_refuses_the_batch(db: &TestDb) {
    let before = db.audit_len();
    let mut list = three();
    list[1].opened.reporter = " ".into();
    let e = db.store.record_incidents(&list).unwrap_err();
    assert!(e.to_string().contains("reporter is empty"), "{e}");
    let mut list = three();
    list[2].closed = Some((IncidentStatus::Open, None, by("2026-11-22T09:00:00Z")));
    let e = db.store.record_incidents(&list).unwrap_err();
    assert!(
        e.to_string().contains("closed as resolved or escalated"),
        "{e}"
    );
    assert_eq!(db.audit_len(), before, "nothing audited");
    assert!(
        db.store.incidents(10).expect("read").is_empty(),
        "nothing kept"
    );
}

fn batches_larger_than_an_insert_keep_their_order(db: &TestDb) {
    let list: Vec<RecordedIncident> = (0..1203)
        .map(|n| RecordedIncident {
            opened: opened("A81001", &format!("call {n}")),
            opened_by: by("2026-11-20T09:00:00Z"),
            steps: Vec::new(),
            closed: None,
        })
        .collect();
    let ids = db.store.record_incidents(&list).expect("batch");
    assert_eq!(ids.len(), list.len());
    for (n, id) in ids
        .iter()
        .enumerate()
        .step_by(97)
        .chain([(1202, &ids[1202])])
    {
        let i = db.store.incident(*id).expect("read").expect("there");
        assert_eq!(i.opened.doing.as_deref(), Some(&*format!("call {n}")));
    }
    let audit = db.store.audit_records(0, 2000).expect("audit");
    assert_eq!(audit.len(), list.len());
    for (r, id) in audit.iter().zip(&ids) {
        assert_eq!(r.record.entity_key, id.to_string());
    }
    assert!(matches!(
        db.store.verify_audit().expect("verify"),
        AuditVerdict::Intact(_)
    ));
}

on_both_backends!(
    a_batch_records_what_one_at_a_time_records,
    a_bad_incident_refuses_the_batch,
    batches_larger_than_an_insert_keep_their_order,
);
