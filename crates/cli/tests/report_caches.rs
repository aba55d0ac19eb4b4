//! The reports, the overview and the renewal plan keep what they count between requests (the
//! machines by site and version, the overview's findings counts, the renewals): a server that
//! has answered, asked again after the estate changed under it (an import by another process),
//! answers what a server started fresh on the changed store answers, for an administrator and for
//! a practice manager, who sees their own practice's numbers only.

mod common;

use std::collections::BTreeSet;

use common::*;

const PM: &str = "pm@nhs.net";
const PW: &str = "correct horse battery staple";

const ASKED: [&str; 5] = [
    "/api/v1/reports",
    "/api/v1/reports?days=30",
    "/api/v1/overview",
    "/api/v1/plan?capacity=50&limit=10000",
    "/api/v1/plan?capacity=50&limit=10000&site=A10000",
];

/// The JSON answers to [`ASKED`] as the operator of `cookie`.
fn asked(addr: &str, cookie: &str) -> Vec<serde_json::Value> {
    answers(addr, cookie, &ASKED)
        .iter()
        .map(|body| serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")))
        .collect()
}

/// Machines on `version` of the oberthur middleware in a reports answer.
fn on(report: &serde_json::Value, version: &str) -> u64 {
    report["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter(|v| v["component"] == "oberthur-middleware" && v["version"] == version)
        .map(|v| v["machines"].as_u64().unwrap_or(0))
        .sum()
}

#[test]
fn kept_counts_follow_the_estate_and_the_callers_sites() {
    let (tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "2");
    let pm = practice_manager(&db, &addr, PM, "A10000", PW);
    let admin_before = asked(&addr, &admin);
    let pm_before = asked(&addr, &pm);
    // Asked twice: the kept answers.
    assert_eq!(asked(&addr, &admin), admin_before);

    // Another process changes the estate: two workstations at the practice on a new release,
    // and a new holder there with a card and its two certificates.
    let files = [
        (
            "workstations.csv",
            "hostname,site_ods\nnew-ws-1,A10000\nnew-ws-2,A10000\n",
        ),
        (
            "software.csv",
            "hostname,component,version\nnew-ws-1,oberthur-middleware,9.9.9.9\nnew-ws-2,oberthur-middleware,9.9.9.9\n",
        ),
        (
            "people.csv",
            "uuid,name,email,staff_role,site_ods,employment_end,local_admin,ra_roles\n999990000001,Rhiannon Test,,Receptionist,A10000,,no,\n",
        ),
        (
            "cards.csv",
            "card_serial,holder_uuid,series,status,issued_on,last_used_on\nCSNEW0000001,999990000001,10,active,2026-01-05,\n",
        ),
        (
            "certificates.csv",
            "card_serial,purpose,serial_number,issuer,not_before,not_after,hash_algorithm\nCSNEW0000001,authentication,0F01,NHS Authentication G2,2026-01-05,2027-01-20,sha256\nCSNEW0000001,signing,0F02,NHS Signing G2,2026-01-05,2027-01-20,sha256\n",
        ),
    ];
    let mut paths = Vec::new();
    for (name, text) in files {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).expect("write");
        paths.push(path.display().to_string());
    }
    ok(&command(&db, None)
        .arg("import")
        .args(&paths)
        .output()
        .expect("import"));

    let admin_after = asked(&addr, &admin);
    let pm_after = asked(&addr, &pm);
    stop(child);
    let (fresh, fresh_addr, _) = spawn_serving({
        let mut c = command(&db, None);
        c.args(["serve", "--bind", "127.0.0.1:0"]);
        c
    });
    let admin_fresh = asked(&fresh_addr, &admin);
    let pm_fresh = asked(&fresh_addr, &pm);
    stop(fresh);

    for (i, path) in ASKED.iter().enumerate() {
        assert_eq!(
            admin_after[i], admin_fresh[i],
            "{path}: the administrator's kept answer differs from a fresh server's"
        );
        assert_eq!(
            pm_after[i], pm_fresh[i],
            "{path}: the practice manager's kept answer differs from a fresh server's"
        );
    }
    // The change shows, to both callers.
    assert_eq!(on(&admin_before[0], "9.9.9.9"), 0);
    assert_eq!(on(&admin_after[0], "9.9.9.9"), 2, "{}", admin_after[0]);
    assert_eq!(on(&pm_after[0], "9.9.9.9"), 2, "{}", pm_after[0]);
    let total = |v: &serde_json::Value| v["total"].as_u64().expect("total");
    assert_eq!(total(&admin_after[3]), total(&admin_before[3]) + 2);
    assert_eq!(total(&pm_after[3]), total(&pm_before[3]) + 2);
    // The practice manager sees their practice's numbers only.
    let machines = |v: &serde_json::Value| -> u64 {
        v["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .map(|v| v["machines"].as_u64().unwrap_or(0))
            .sum()
    };
    assert!(machines(&pm_after[0]) > 0);
    assert!(machines(&pm_after[0]) < machines(&admin_after[0]));
    assert!(total(&pm_after[3]) < total(&admin_after[3]));
    let sites = |v: &serde_json::Value| -> BTreeSet<String> {
        v["renewals"]
            .as_array()
            .expect("renewals")
            .iter()
            .map(|r| r["site"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert!(
        sites(&pm_after[3]).contains("A10000")
            && sites(&pm_after[3]).is_subset(&sites(&admin_after[3]))
            && sites(&pm_after[3]).len() < sites(&admin_after[3]).len(),
        "a practice manager's plan lists their own sites' renewals: {:?}",
        sites(&pm_after[3])
    );
    assert_eq!(sites(&pm_after[4]), BTreeSet::from(["A10000".to_owned()]));
}
