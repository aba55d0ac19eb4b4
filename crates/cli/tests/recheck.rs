//! The health check after a change re-checks only the sites the change touched: a running
//! server's findings, updated that way after each kind of change (a practice's import with an
//! expired certificate, a downgraded middleware and a person moved to another site; an agent's
//! report; edits on the web; a note on a finding), are exactly a fresh server's full check of
//! the same store — the same findings in the same order, the same counts, and a finding's page
//! found by its id, carried from the last check. An import creating
//! records of each kind is re-checked too, by the sites its summary record names. A change the
//! audit chain cannot place (an organisation renamed) falls back to a full check.

mod common;

use common::*;

/// What a server shows of its check: every finding (snoozed too) in the queue's order as CSV,
/// and the overview's counts.
fn shown(addr: &str, cookie: &str) -> (String, serde_json::Value) {
    let (status, findings) = get_as(addr, "/api/v1/findings?format=csv&all=true", cookie);
    assert_eq!(status, 200, "{findings}");
    let (status, overview) = get_as(addr, "/api/v1/overview", cookie);
    assert_eq!(status, 200, "{overview}");
    let mut counts = body_json(&overview);
    // When it was computed is not a count.
    if let Some(o) = counts.as_object_mut() {
        o.retain(|k, _| k != "generated_at" && k != "as_of");
    }
    (body_of(&findings), counts)
}

/// Checks the running server's findings against a fresh server's full check of the same store,
/// and that the running one re-checked (`full` false) or ran in full (`full` true) for it.
struct Compare {
    run: Changed,
    rechecks: usize,
    fulls: usize,
}

impl Compare {
    fn same_as_a_full_check(&mut self, step: &str, full: bool) -> String {
        let ours = shown(&self.run.addr, &self.run.cookie);
        let (rechecks, fulls) = (
            self.run.logged("health re-check"),
            self.run.logged("a full health check instead of a re-check"),
        );
        // A page fetched for its form's token may have re-checked already: at least once.
        if full {
            assert_eq!(
                fulls,
                self.fulls + 1,
                "{step}: a full check, not a re-check"
            );
        } else {
            assert!(rechecks > self.rechecks, "{step}: re-checked");
            assert_eq!(fulls, self.fulls, "{step}: not in full");
        }
        (self.rechecks, self.fulls) = (rechecks, fulls);
        let theirs = self.run.on_a_fresh_server(shown);
        // A fresh server's sign-in is an audit record: the running one sees it as a change that
        // touches no fact, and keeps its findings.
        assert_eq!(ours.1, theirs.1, "{step}: the overview's counts");
        let (a, b): (Vec<&str>, Vec<&str>) = (ours.0.lines().collect(), theirs.0.lines().collect());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert_eq!(x, y, "{step}: finding {i} of {}", b.len());
        }
        assert_eq!(a.len(), b.len(), "{step}: the number of findings");
        // A finding's own page looks it up by id, so this check's findings by id are built and
        // the next step's re-check carries them past its sites (checked against the ids built
        // afresh in these tests' builds).
        let (status, listed) = get_as(
            &self.run.addr,
            "/api/v1/findings?all=true&limit=1",
            &self.run.cookie,
        );
        assert_eq!(status, 200, "{listed}");
        let listed = body_json(&listed);
        let id = listed["findings"][0]["id"]
            .as_str()
            .expect("a finding's id");
        let (status, page) = get_as(&self.run.addr, &format!("/findings/{id}"), &self.run.cookie);
        assert_eq!(status, 200, "{step}: the page of {id}: {page}");
        ours.0
    }
}

#[test]
fn findings_re_checked_after_each_change_equal_a_full_check() {
    let mut c = Compare {
        run: Changed::start("running"),
        rechecks: 0,
        fulls: 0,
    };
    let (db, dir) = (c.run.db.clone(), c.run.dir().to_owned());
    let (db, dir) = (db.as_str(), dir.as_path());
    // Warm: the day's full check.
    let first = shown(&c.run.addr, &c.run.cookie).0;
    assert!(first.lines().count() > 50, "{first}");

    let people = exported_records(db, "people");
    let cards = exported_records(db, "cards");
    let certificates = exported_records(db, "certificates");
    let software = exported_records(db, "software");
    let workstations = exported_records(db, "workstations");
    let site_of = |uuid: &str| {
        let at = column_of(&people[0], "site_ods");
        people[1..]
            .iter()
            .find(|p| p[0] == uuid)
            .map(|p| p[at].clone())
            .expect("the holder")
    };
    let holder_of = |serial: &str| {
        let at = column_of(&cards[0], "holder_uuid");
        cards[1..]
            .iter()
            .find(|c| c[0] == serial)
            .map(|c| c[at].clone())
            .expect("the card")
    };
    let sites: std::collections::BTreeSet<String> = people[1..]
        .iter()
        .map(|p| p[column_of(&people[0], "site_ods")].clone())
        .collect();
    assert!(sites.len() >= 3, "{sites:?}");

    // One practice's import: a card's authentication certificate has expired, …
    let (before, after) = (
        column_of(&certificates[0], "not_before"),
        column_of(&certificates[0], "not_after"),
    );
    let mut cert = certificates[1..]
        .iter()
        .find(|c| {
            c[1] == "authentication"
                && c[before].as_str() < "2026-01-01"
                && c[after].as_str() > "2027-06-01"
        })
        .expect("a certificate valid well past the day")
        .clone();
    let practice = site_of(&holder_of(&cert[0]));
    cert[after] = "2026-11-01".into();
    import_rows(
        db,
        dir,
        "certificates.csv",
        &certificates[0],
        &[cert.clone()],
    );
    let out = c.same_as_a_full_check("a certificate expired", false);
    assert!(
        out.lines()
            .any(|l| l.contains("cert-authentication-expired") && l.contains(&cert[0])),
        "the expiry is found"
    );

    // … a workstation's middleware downgraded, …
    let host_site = column_of(&workstations[0], "site_ods");
    let hosts: Vec<&String> = workstations[1..]
        .iter()
        .filter(|w| w[host_site] == practice)
        .map(|w| &w[0])
        .collect();
    let mut old = software[1..]
        .iter()
        .find(|s| hosts.contains(&&s[0]))
        .expect("software at the practice")
        .clone();
    let version = column_of(&software[0], "version");
    old[version] = "1.0.0.0".into();
    import_rows(db, dir, "software.csv", &software[0], &[old.clone()]);
    let out = c.same_as_a_full_check("a middleware downgraded", false);
    assert!(
        out.lines()
            .any(|l| l.contains(&old[0]) && l.contains("1.0.0.0")),
        "the downgrade is found"
    );

    // … and a person moved to another site (their cards' findings go with them).
    let mover_card = certificates[1..]
        .iter()
        .find(|c| site_of(&holder_of(&c[0])) == practice && c[after].as_str() < "2027-01-01")
        .map(|c| c[0].clone())
        .unwrap_or_else(|| cert[0].clone());
    let mover = holder_of(&mover_card);
    let elsewhere = sites
        .iter()
        .find(|s| **s != practice)
        .expect("another site")
        .clone();
    let mut person = people[1..]
        .iter()
        .find(|p| p[0] == mover)
        .expect("the mover")
        .clone();
    person[column_of(&people[0], "site_ods")] = elsewhere.clone();
    import_rows(db, dir, "people.csv", &people[0], &[person]);
    let out = c.same_as_a_full_check("a person moved", false);
    assert!(
        out.lines()
            .any(|l| l.contains(&mover_card) && l.contains(&elsewhere)),
        "the card's findings moved with its holder"
    );

    // An agent's report from one of the practice's workstations: its middleware as it is.
    let token = ok(&cardwatch_on(
        DAY,
        db,
        &["agent", "token", "--site", &practice],
    ))
    .lines()
    .last()
    .expect("token")
    .trim()
    .to_owned();
    let host = hosts[0].clone();
    let server = c.run.addr.clone();
    let agent = |path: &str, headers: &[(&str, &str)], body: &str| {
        send_with(
            &server,
            "POST",
            path,
            headers,
            Some(("application/json", body)),
        )
    };
    let enrolled = agent(
        "/api/v1/agents/enrol",
        &[],
        &format!(r#"{{"token":"{token}","hostname":"{host}","version":"0.1.0"}}"#),
    );
    assert_eq!(enrolled.0, 201, "{}", enrolled.1);
    let credential = body_json(&enrolled.1)["credential"]
        .as_str()
        .expect("credential")
        .to_owned();
    c.same_as_a_full_check("an agent enrolled", false);
    let report = serde_json::json!({"events": [{
        "id": "inventory-1",
        "at": format!("{DAY}T09:00:00Z"),
        "kind": "inventory",
        "data": {
            "hostname": host,
            "agent_version": "0.1.0",
            "os": null,
            "readers": null,
            "certificates": null,
            "software": [{"component": old[1], "version": "0.9.0.0", "source": "registry"}],
            "probed": [old[1]],
        },
    }]});
    let sent = agent(
        "/api/v1/agents/events",
        &[
            ("Authorization", &format!("Agent {credential}")),
            ("X-Cardwatch-Agent-Version", "0.1.0"),
        ],
        &report.to_string(),
    );
    assert_eq!(sent.0, 200, "{}", sent.1);
    let out = c.same_as_a_full_check("an agent's report", false);
    assert!(out.contains("0.9.0.0"), "the agent's version is judged");

    // A web edit: a card at another site locked.
    let locked = cards[1..]
        .iter()
        .find(|k| {
            k[column_of(&cards[0], "status")] == "active"
                && site_of(&k[column_of(&cards[0], "holder_uuid")]) != practice
        })
        .expect("an active card elsewhere")[0]
        .clone();
    let (_, page) = get_as(&c.run.addr, &format!("/cards/{locked}"), &c.run.cookie);
    let (status, response) = request(
        &c.run.addr,
        "POST",
        &format!("/cards/{locked}/status"),
        Some(&c.run.cookie),
        Some(&form(&[
            ("csrf", &csrf_of(&page)),
            ("status", "locked"),
            ("reason", "forgot PIN"),
        ])),
    );
    assert!(status == 303 || status == 200, "{response}");
    c.same_as_a_full_check("a card locked on the web", false);

    // A note on a finding: no fact changed, and the finding shows its note.
    let id = out
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .expect("a finding's id")
        .to_owned();
    let (_, page) = get_as(&c.run.addr, "/findings", &c.run.cookie);
    let (status, response) = request(
        &c.run.addr,
        "POST",
        "/findings/note",
        Some(&c.run.cookie),
        Some(&form(&[
            ("csrf", &csrf_of(&page)),
            ("id", &id),
            ("action", "acknowledged"),
            ("reason", "booked for Monday"),
        ])),
    );
    assert!(status == 303 || status == 200, "{response}");
    let out = c.same_as_a_full_check("a note on a finding", false);
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{id},")) && l.contains("acknowledged")),
        "the note shows: {id}"
    );

    // Imports that create records: each one's summary record names the sites of what it
    // created, so each is re-checked, not checked in full, and each changes the findings.
    // First a person at a practice short of local administrators, who is one.
    let short = out
        .lines()
        .find(|l| l.contains("local-admins-low"))
        .and_then(|l| sites.iter().find(|s| l.contains(&format!(",{s},"))))
        .expect("a site short of local administrators")
        .clone();
    let mut out = out;
    let mut created = |c: &mut Compare, what: &str, kind: &str, rows: &[Vec<String>]| {
        let records = exported_records(db, kind);
        import_rows(db, dir, &format!("{kind}.csv"), &records[0], rows);
        let now = c.same_as_a_full_check(what, false);
        assert_ne!(now, out, "{what}: the findings changed");
        out = now;
    };
    let mut newcomer = people[1].clone();
    newcomer[0] = "555999999999".into();
    newcomer[column_of(&people[0], "site_ods")] = short.clone();
    newcomer[column_of(&people[0], "local_admin")] = "yes".into();
    created(&mut c, "a person created", "people", &[newcomer]);
    // A workstation, with no software yet; then its software, a version behind.
    let mut ws = workstations[1..]
        .iter()
        .find(|w| w[host_site] == elsewhere)
        .expect("a workstation elsewhere")
        .clone();
    let new_host = "zz-new-ws001".to_owned();
    let from_host = std::mem::replace(&mut ws[0], new_host.clone());
    created(&mut c, "a workstation created", "workstations", &[ws]);
    let mut installed: Vec<Vec<String>> = software[1..]
        .iter()
        .filter(|s| s[0] == from_host)
        .cloned()
        .collect();
    assert!(!installed.is_empty(), "software on {from_host}");
    for s in &mut installed {
        s[0] = new_host.clone();
    }
    installed[0][version] = "1.0.0.0".into();
    created(&mut c, "software created", "software", &installed);
    // A reader on old firmware.
    let readers = exported_records(db, "readers");
    let mut reader = readers[1..]
        .iter()
        .find(|r| r[column_of(&readers[0], "status")] == "in_service")
        .expect("a reader in service")
        .clone();
    reader[0] = "RD-99999-0001".into();
    reader[column_of(&readers[0], "firmware")] = "0.1".into();
    created(&mut c, "a reader created", "readers", &[reader]);
    // Stock of a new item, short, at two sites.
    let short_stock: Vec<Vec<String>> = [&practice, &elsewhere]
        .map(|site| vec![site.clone(), "lanyard".into(), "0".into(), "3".into()])
        .into();
    created(&mut c, "stock created", "stock", &short_stock);
    // A position requested long ago and not approved.
    let positions = exported_records(db, "positions");
    let mut position = positions[1].clone();
    position[column_of(&positions[0], "role_code")] = "R8001".into();
    position[column_of(&positions[0], "status")] = "requested".into();
    position[column_of(&positions[0], "requested_on")] = "2026-09-01".into();
    position[column_of(&positions[0], "approved_on")] = String::new();
    created(&mut c, "a position created", "positions", &[position]);
    // Two more lockouts of a card locked once: locked repeatedly.
    let lockouts = exported_records(db, "lockouts");
    let once = lockouts[1..]
        .iter()
        .map(|l| &l[0])
        .find(|serial| lockouts[1..].iter().filter(|l| &l[0] == *serial).count() == 1)
        .expect("a card locked once")
        .clone();
    let locks: Vec<Vec<String>> = ["2026-11-10T08:00:00Z", "2026-11-12T08:00:00Z"]
        .map(|at| vec![once.clone(), at.into(), String::new()])
        .into();
    created(&mut c, "lockouts created", "lockouts", &locks);

    // The near miss: a change to an organisation cannot be bounded by sites (it can close many
    // at once): a full check.
    let organisations = exported_records(db, "organisations");
    let mut organisation = organisations[1].clone();
    organisation[1] = format!("{} (renamed)", organisation[1]);
    import_rows(
        db,
        dir,
        "organisations.csv",
        &organisations[0],
        &[organisation],
    );
    c.same_as_a_full_check("an organisation renamed", true);
    c.run.stop();
}

/// Failed sign-ins add to the audit chain but change no fact of the estate: the reports' machines
/// and the plan's renewals stay as they were counted and read, so a stranger's sign-ins cannot
/// make the server count the estate again; an import that changes a fact has them counted and
/// read again.
#[test]
fn failed_sign_ins_leave_the_reports_and_the_plan_as_counted() {
    let run = Changed::start("keeper");
    let (db, dir, addr, cookie) = (run.db.as_str(), run.dir(), &run.addr, &run.cookie);
    let logged = |what: &str| run.logged(what);
    let counted = || {
        for path in ["/api/v1/reports", "/api/v1/plan?capacity=50"] {
            let (status, body) = get_as(addr, path, cookie);
            assert_eq!(status, 200, "{path}: {body}");
        }
        (
            logged("machines counted for the reports"),
            logged("renewals read for the plan"),
        )
    };
    assert_eq!(counted(), (1, 1), "counted and read once");
    let chain = || ok(&cardwatch_on(DAY, db, &["audit", "verify"]));
    let before = chain();
    for _ in 0..3 {
        let (status, response) = request(
            addr,
            "POST",
            "/login",
            None,
            Some(&form(&[
                ("username", "keeper"),
                ("password", "not the passphrase"),
            ])),
        );
        assert_ne!(status, 303, "{response}");
    }
    assert_ne!(chain(), before, "the failed sign-ins are audited");
    assert_eq!(counted(), (1, 1), "nothing counted again for sign-ins");

    let software = exported_records(db, "software");
    let mut changed = software[1].clone();
    changed[column_of(&software[0], "version")] = "1.0.0.0".into();
    import_rows(db, dir, "software.csv", &software[0], &[changed]);
    assert_eq!(counted(), (2, 2), "counted and read again after an import");
}
