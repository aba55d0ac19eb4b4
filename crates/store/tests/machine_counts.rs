//! The reports' machine counts the store keeps (`site_machine_counts`, migration 0027) against
//! the grouping of the estate they replace (`reports::site_machines_recounted`): equal after a
//! bulk import into an empty store, after a site's refresh import, after software is added,
//! removed and changed, after workstations move site, ring and build or go, and after readers
//! come and go — a workstation with two readers of one model and firmware counting once — and
//! after the migration fills the counts from a store that already holds an estate, on SQLite and
//! on PostgreSQL.

mod common;

use cardwatch_core::records::{Kind, Value};
use cardwatch_core::reports::SiteMachines;
use cardwatch_store::reports::{site_machines, site_machines_recounted};
use cardwatch_store::{ImportInput, ImportOptions};
use common::{change, demo_inputs, import, TestDb};

/// Rows as (site, component, version, ring, machines), sorted.
fn sorted(rows: Vec<SiteMachines>) -> Vec<(String, String, String, String, u64)> {
    let mut out: Vec<_> = rows
        .into_iter()
        .map(|r| {
            (
                r.site,
                r.component,
                r.version,
                r.ring.to_string(),
                r.machines,
            )
        })
        .collect();
    out.sort();
    out
}

/// The counts that the store keeps for each site, read as the reports read them.
fn kept(db: &TestDb) -> Vec<(String, String, String, String, u64)> {
    sorted(site_machines(&*db.store).expect("kept counts"))
}

/// How many counts the store holds at zero or below (none should be kept).
fn not_positive(db: &TestDb) -> i64 {
    let sql = "SELECT COUNT(*) FROM site_machine_counts WHERE machines <= 0";
    if db.store.backend() == cardwatch_store::Backend::Postgres {
        let mut c = ::postgres::Client::connect(&db.url, ::postgres::NoTls).expect("connect");
        c.query_one(sql, &[]).expect("count").get(0)
    } else {
        let path = db.url.trim_start_matches("sqlite://");
        let c = rusqlite::Connection::open(path).expect("open");
        c.query_row(sql, [], |r| r.get(0)).expect("count")
    }
}

/// Asserts the kept counts equal a grouping of the estate; returns them.
fn agree(db: &TestDb, when: &str) -> Vec<(String, String, String, String, u64)> {
    let kept = kept(db);
    let recounted = sorted(site_machines_recounted(&*db.store).expect("recount"));
    assert_eq!(
        kept, recounted,
        "{when}: the kept counts differ from a recount"
    );
    assert_eq!(not_positive(db), 0, "{when}: a count is kept at zero");
    kept
}

/// The machines counted on one site, component, version and ring (0 when none).
fn machines_on(
    counts: &[(String, String, String, String, u64)],
    site: &str,
    component: &str,
    version: &str,
    ring: &str,
) -> u64 {
    counts
        .iter()
        .filter(|c| c.0 == site && c.1 == component && c.2 == version && c.3 == ring)
        .map(|c| c.4)
        .sum()
}

fn column(kind: Kind, name: &str) -> usize {
    kind.columns()
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("{kind} has no column {name}"))
}

/// Every record of a kind, as text by column name.
fn records(db: &TestDb, kind: Kind) -> Vec<Vec<String>> {
    let all: Vec<usize> = (0..kind.columns().len()).collect();
    let mut out = Vec::new();
    db.store
        .scan(kind, &all, true, &mut |c| {
            out.push(
                cardwatch_core::records::to_values(c)
                    .iter()
                    .map(|v| match v {
                        Value::Null => String::new(),
                        v => v.to_csv(),
                    })
                    .collect(),
            );
            Ok(())
        })
        .expect("scan");
    out
}

/// SQL text quoted.
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Every file of an import loads in bulk (the bulk path is otherwise for files of 1 MB up).
fn bulk() -> ImportOptions {
    ImportOptions {
        bulk_from_bytes: Some(0),
        ..ImportOptions::default()
    }
}

fn counts_follow_every_change(db: &TestDb) {
    assert!(kept(db).is_empty(), "an empty store counts nothing");
    db.store
        .import(&demo_inputs(4, 7), &bulk(), &change())
        .unwrap_or_else(|e| panic!("bulk import: {e:?}"));
    let counts = agree(db, "after a bulk import into an empty store");
    for component in ["windows", "reader "] {
        assert!(
            counts.iter().any(|c| c.1.starts_with(component)),
            "the demo's counts hold {component}: {counts:#?}"
        );
    }

    let (host, site, ring) = (
        column(Kind::Workstations, "hostname"),
        column(Kind::Workstations, "site_ods"),
        column(Kind::Workstations, "update_ring"),
    );
    let workstations = records(db, Kind::Workstations);
    let mut sites: Vec<String> = workstations.iter().map(|w| w[site].clone()).collect();
    sites.sort();
    sites.dedup();
    assert!(
        sites.len() >= 2,
        "the demo has workstations at several sites"
    );
    let practice = sites[0].clone();
    let at = |s: &str| -> Vec<Vec<String>> {
        workstations
            .iter()
            .filter(|w| w[site] == s)
            .cloned()
            .collect()
    };

    // A site's refresh: its workstations on a new build and the canary ring, every one on a new
    // version of one component and a new component, its readers on new firmware.
    let mut files = Vec::new();
    let mut csv = "hostname,site_ods,os_build,update_ring\n".to_owned();
    for w in at(&practice) {
        csv += &format!("{},{practice},26200,canary\n", w[host]);
    }
    files.push(ImportInput::bytes("workstations.csv", csv));
    let mut csv = "hostname,component,version\n".to_owned();
    for w in at(&practice) {
        csv += &format!("{},oberthur-middleware,9.9.9.9\n", w[host]);
        csv += &format!("{},refresh-tool,1.0\n", w[host]);
    }
    files.push(ImportInput::bytes("software.csv", csv));
    let reader_cols = Kind::Readers.columns();
    let header: Vec<&str> = reader_cols.iter().map(|c| c.name).collect();
    let mut csv = header.join(",") + "\n";
    for r in records(db, Kind::Readers)
        .iter()
        .filter(|r| r[column(Kind::Readers, "site_ods")] == practice)
    {
        let mut r = r.clone();
        r[column(Kind::Readers, "firmware")] = "7.7".into();
        csv += &(r.join(",") + "\n");
    }
    files.push(ImportInput::bytes("readers.csv", csv));
    let report = import(db, &files);
    assert!(
        report.files.iter().all(|f| f.updated + f.created > 0),
        "{report:?}"
    );
    let counts = agree(db, "after a site's refresh import");
    assert_eq!(
        machines_on(&counts, &practice, "windows", "26200", "canary"),
        at(&practice).len() as u64
    );

    // Software added, removed and its version changed (one machine, then every machine with a
    // component at once).
    let other = &at(&sites[1])[0];
    let h = &other[host];
    db.raw(&format!(
        "INSERT INTO software (hostname, component, version) VALUES ({}, 'added-tool', '2.0')",
        q(h)
    ));
    agree(db, "after software is added");
    db.raw(&format!(
        "UPDATE software SET version = '2.1' WHERE hostname = {} AND component = 'added-tool'",
        q(h)
    ));
    agree(db, "after a component's version changes");
    db.raw("UPDATE software SET version = '9.9.9.10' WHERE component = 'oberthur-middleware'");
    agree(
        db,
        "after every machine's version of a component changes at once",
    );
    db.raw(&format!("DELETE FROM software WHERE hostname = {}", q(h)));
    agree(db, "after a machine's software is removed");
    db.raw("DELETE FROM software WHERE component = 'refresh-tool'");
    let counts = agree(db, "after a component is removed everywhere");
    assert!(!counts.iter().any(|c| c.1 == "refresh-tool"), "{counts:#?}");

    // Workstations moved to another site, another ring, another build; several at once.
    let moved = &at(&sites[1])[0];
    let h = q(&moved[host]);
    db.raw(&format!(
        "UPDATE workstations SET site_ods = {} WHERE hostname = {h}",
        q(&practice)
    ));
    agree(db, "after a workstation moves site");
    let ring_to = if moved[ring] == "pilot" {
        "broad"
    } else {
        "pilot"
    };
    db.raw(&format!(
        "UPDATE workstations SET update_ring = '{ring_to}' WHERE hostname = {h}"
    ));
    agree(db, "after a workstation moves ring");
    db.raw(&format!(
        "UPDATE workstations SET os_build = '26100' WHERE hostname = {h}"
    ));
    agree(db, "after a workstation's build changes");
    db.raw(&format!(
        "UPDATE workstations SET os_build = NULL WHERE hostname = {h}"
    ));
    agree(db, "after a workstation's build is no longer known");
    db.raw(&format!(
        "UPDATE workstations SET update_ring = 'pilot' WHERE site_ods = {}",
        q(&practice)
    ));
    agree(db, "after a site's workstations move ring at once");
    db.raw(&format!(
        "UPDATE workstations SET last_seen = NULL WHERE site_ods = {}",
        q(&practice)
    ));
    agree(db, "after an update that changes nothing counted");

    // Readers: a second of one model and firmware on a machine counts it once; the machine
    // leaves the count only with the last of them.
    let readers = records(db, Kind::Readers);
    let (serial, vendor, model, firmware, on, rsite) = (
        column(Kind::Readers, "reader_serial"),
        column(Kind::Readers, "vendor"),
        column(Kind::Readers, "model"),
        column(Kind::Readers, "firmware"),
        column(Kind::Readers, "hostname"),
        column(Kind::Readers, "site_ods"),
    );
    let reader = readers
        .iter()
        .find(|r| !r[on].is_empty() && !r[firmware].is_empty())
        .expect("a reader on a workstation with its firmware")
        .clone();
    let machine = workstations
        .iter()
        .find(|w| w[host] == reader[on])
        .expect("the reader's workstation");
    let now = records(db, Kind::Workstations);
    let machine = now
        .iter()
        .find(|w| w[host] == machine[host])
        .expect("the reader's workstation");
    let component = format!("reader {} {}", reader[vendor], reader[model]);
    let count = |db: &TestDb, version: &str| {
        machines_on(
            &kept(db),
            &machine[site],
            &component,
            version,
            &machine[ring],
        )
    };
    let before = count(db, &reader[firmware]);
    assert!(before >= 1);
    let add = |serial: &str, fw: &str| {
        format!(
            "INSERT INTO readers (reader_serial, vendor, model, firmware, hostname, site_ods, status) \
             VALUES ({}, {}, {}, {}, {}, {}, 'in_service')",
            q(serial),
            q(&reader[vendor]),
            q(&reader[model]),
            q(fw),
            q(&reader[on]),
            q(&reader[rsite])
        )
    };
    db.raw(&add("TWIN-1", &reader[firmware]));
    agree(db, "after a second reader of one model on a machine");
    assert_eq!(
        count(db, &reader[firmware]),
        before,
        "two readers, one machine"
    );
    db.raw(&format!(
        "{}; {}",
        add("TWIN-2", &reader[firmware]),
        add("TWIN-3", &reader[firmware])
    ));
    agree(db, "after two more at once");
    assert_eq!(count(db, &reader[firmware]), before);
    db.raw("UPDATE readers SET firmware = '8.8' WHERE reader_serial = 'TWIN-1'");
    agree(db, "after one of them changes firmware");
    assert_eq!(count(db, &reader[firmware]), before);
    assert_eq!(count(db, "8.8"), 1);
    db.raw("DELETE FROM readers WHERE reader_serial IN ('TWIN-1', 'TWIN-2')");
    agree(db, "after readers are removed");
    assert_eq!(count(db, &reader[firmware]), before);
    db.raw(&format!(
        "UPDATE readers SET firmware = '8.9' WHERE hostname = {}",
        q(&reader[on])
    ));
    agree(
        db,
        "after every reader of a machine changes firmware at once",
    );
    assert_eq!(count(db, &reader[firmware]), before - 1);
    assert_eq!(count(db, "8.9"), 1);
    db.raw(&format!(
        "UPDATE readers SET hostname = NULL, status = 'spare' WHERE reader_serial = {}",
        q(&reader[serial])
    ));
    agree(db, "after a reader is taken off its machine");
    assert_eq!(count(db, "8.9"), 1, "the machine still has TWIN-3");
    db.raw("DELETE FROM readers WHERE reader_serial = 'TWIN-3'");
    agree(db, "after the machine's last reader of the model goes");
    assert_eq!(count(db, "8.9"), 0);
    db.raw(&format!(
        "UPDATE readers SET hostname = {}, firmware = NULL WHERE reader_serial = {}",
        q(&reader[on]),
        q(&reader[serial])
    ));
    agree(db, "after a reader with no firmware known comes back");
    db.raw(&format!(
        "UPDATE readers SET firmware = '8.9' WHERE reader_serial = {}",
        q(&reader[serial])
    ));
    agree(db, "after its firmware is known");
    assert_eq!(count(db, "8.9"), 1);

    // A workstation deleted with its software and readers (the schema does not cascade: they go
    // in the same transaction, in either order), and one added after its software.
    let gone = &now.iter().find(|w| w[host] == reader[on]).expect("machine")[host];
    db.raw(&format!(
        "BEGIN; DELETE FROM workstations WHERE hostname = {g}; \
         DELETE FROM software WHERE hostname = {g}; \
         UPDATE readers SET hostname = NULL WHERE hostname = {g}; COMMIT",
        g = q(gone)
    ));
    agree(db, "after a workstation is deleted before its software");
    let gone = q(&at(&sites[1])[1][host]);
    db.raw(&format!(
        "BEGIN; DELETE FROM software WHERE hostname = {gone}; \
         DELETE FROM readers WHERE hostname = {gone}; \
         DELETE FROM workstations WHERE hostname = {gone}; COMMIT"
    ));
    agree(db, "after a workstation is deleted after its software");
    db.raw(&format!(
        "BEGIN; INSERT INTO software (hostname, component, version) VALUES ('NEW-WS', 'late', '1'); \
         INSERT INTO readers (reader_serial, vendor, model, firmware, hostname, site_ods, status) \
         VALUES ('NEW-R', 'Acme', 'One', '1.0', 'NEW-WS', {s}, 'in_service'); \
         INSERT INTO workstations (hostname, site_ods, os_build, update_ring) \
         VALUES ('NEW-WS', {s}, '26100', 'canary'); COMMIT",
        s = q(&practice)
    ));
    let counts = agree(
        db,
        "after a workstation is added after its software and reader",
    );
    assert_eq!(
        machines_on(&counts, &practice, "reader Acme One", "1.0", "canary"),
        1
    );
}

/// The migration counts an estate the store already holds.
fn migration_counts_what_is_there(db: &TestDb) {
    import(db, &demo_inputs(3, 5));
    let before = agree(db, "after an import");
    assert!(!before.is_empty());
    // The counts and their triggers gone, and the migration not yet run.
    if db.store.backend() == cardwatch_store::Backend::Postgres {
        db.raw(
            "DROP FUNCTION workstations_machines, workstations_machines_moved, software_machines, \
             software_machines_moved, readers_machines, readers_machines_moved CASCADE;
             DROP FUNCTION site_machine_counts_add;
             DROP TABLE site_machine_counts, machine_readers;
             DELETE FROM schema_migrations WHERE version = 27;",
        );
    } else {
        let mut drop = String::new();
        for table in ["workstations", "software", "readers"] {
            for what in ["counted", "uncounted", "recounted"] {
                drop += &format!("DROP TRIGGER {table}_machines_{what};");
            }
        }
        db.raw(&format!(
            "{drop} DROP TABLE site_machine_counts; DROP TABLE machine_readers;
             DELETE FROM schema_migrations WHERE version = 27;"
        ));
    }
    let reopened = cardwatch_store::open(&db.url).expect("reopen");
    let after = sorted(site_machines(&*reopened).expect("kept counts"));
    let recounted = sorted(site_machines_recounted(&*reopened).expect("recount"));
    assert_eq!(
        after, recounted,
        "the migration's counts differ from a recount"
    );
    assert_eq!(after, before);
    assert_eq!(not_positive(db), 0);
}

on_both_backends!(counts_follow_every_change, migration_counts_what_is_there);
