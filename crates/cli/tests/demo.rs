//! `serve --demo` gives every page something true to show: ninety days of incidents before its
//! day (resolved with causes, escalated, with minutes lost), a recent run of locked cards at one
//! site, access reviews due at some sites, a release whose rollout the reports propose holding,
//! priors learnt from the resolved incidents — all written through the store's audited
//! operations, so the audit chain verifies; and the same day gives the same demo.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Child;

use cardwatch_core::date::{Date, Timestamp};
use common::*;

/// Practices in the test's demo: enough for two practices on the pilot release.
const PRACTICES: &str = "6";

/// `serve --demo` with its clock started on [`DAY`], signed in as the demo's operator: the
/// process, its address and the session cookie.
fn serve_demo_on_day(db: &str) -> (Child, String, String) {
    serve_demo_signed_in_on(db, PRACTICES, Some(DAY))
}

fn incidents(addr: &str, cookie: &str) -> Vec<serde_json::Value> {
    let (status, body) = get_as(addr, "/api/v1/incidents?limit=5000", cookie);
    assert_eq!(status, 200, "{body}");
    body_json(&body)["incidents"]
        .as_array()
        .expect("incidents")
        .clone()
}

fn text<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

#[test]
fn a_fresh_demo_has_a_past_every_page_can_show() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_on_day(&db);
    let list = incidents(&addr, &cookie);
    let due = get_as(&addr, "/api/v1/reviews?limit=5000", &cookie);
    let all = get_as(&addr, "/api/v1/reviews?show=all&limit=5000", &cookie);
    let reviews_page = get_as(&addr, "/reviews", &cookie);
    let reports = get_as(&addr, "/api/v1/reports", &cookie);
    let reports_page = get_as(&addr, "/reports", &cookie);
    let incidents_page = get_as(&addr, "/incidents", &cookie);
    // The packet of an incident still being worked says so, and of one passed on, when it was.
    let packet_of = |status: &str| {
        let id = list
            .iter()
            .find(|i| i["status"] == status)
            .and_then(|i| i["id"].as_i64())
            .unwrap_or_else(|| panic!("a {status} incident"));
        get_as(&addr, &format!("/incidents/{id}/packet"), &cookie)
    };
    let (open_packet, passed_packet) = (packet_of("open"), packet_of("escalated"));
    let open_list = get_as(&addr, "/incidents?status=open", &cookie);
    stop(child);
    // Incidents still open have found no cause: no empty charts, a sentence instead.
    assert_eq!(open_list.0, 200, "{}", open_list.1);
    assert!(
        open_list
            .1
            .contains("None of these incidents has been fixed yet, so no cause has been found.")
            && !open_list.1.contains("<figure>"),
        "{}",
        open_list.1
    );
    assert!(
        incidents_page.1.contains("<figure>"),
        "the fixed ones are charted"
    );
    assert_eq!(open_packet.0, 200, "{}", open_packet.1);
    assert!(
        open_packet.1.contains("Written: ")
            && open_packet
                .1
                .contains("; the incident is still open at the desk")
            && !open_packet.1.contains("Passed to support")
            && open_packet
                .1
                .contains("<a href=\"/incidents\">Back to the incidents</a>"),
        "{}",
        open_packet.1
    );
    assert!(
        passed_packet.1.contains("Passed to support: "),
        "{}",
        passed_packet.1
    );

    // Incidents over the ninety days before the day, none after it.
    let day = Timestamp::start_of(Date::parse(DAY).expect("day"));
    let first = Timestamp::start_of(Date::parse(DAY).expect("day").add_days(-90));
    assert!(list.len() >= 30, "{} incidents", list.len());
    let opened: Vec<Timestamp> = list
        .iter()
        .map(|i| Timestamp::parse(text(i, "opened_at")).expect("opened_at"))
        .collect();
    assert!(opened.iter().all(|&t| t >= first && t < day), "{opened:?}");
    let span = opened.iter().max().expect("one").unix() - opened.iter().min().expect("one").unix();
    assert!(span > 75 * 86_400, "spread over the ninety days: {span} s");
    let with = |status: &'static str| list.iter().filter(move |i| text(i, "status") == status);
    let resolved: Vec<_> = with("resolved").collect();
    assert!(resolved.len() >= 15, "{} resolved", resolved.len());
    assert!(
        resolved
            .iter()
            .all(|i| !text(i, "confirmed_cause").is_empty()
                && i["minutes_to_fix"].as_f64() > Some(0.0)),
        "a resolved incident has its cause and its minutes"
    );
    assert!(with("escalated").count() >= 5, "some are handed over");
    assert!(
        list.iter()
            .all(|i| !i["steps"].as_array().expect("steps").is_empty()),
        "every incident has the steps the desk took"
    );

    // One site's run of locked cards within the last week.
    let week = Timestamp::start_of(Date::parse(DAY).expect("day").add_days(-7));
    let mut locked: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, &at) in list.iter().zip(&opened) {
        if at >= week && ["card-locked", "pin-rejected"].contains(&text(i, "symptom")) {
            *locked.entry(text(i, "site")).or_default() += 1;
        }
    }
    let mut runs: Vec<usize> = locked.values().copied().collect();
    runs.sort_unstable();
    assert!(
        runs.last() >= Some(&5) && runs.iter().rev().nth(1).is_none_or(|&n| n <= 2),
        "one site stands out: {locked:?}"
    );

    // Reviews due at some sites, not at every one.
    let sites = |r: &(u16, String)| -> BTreeSet<String> {
        assert_eq!(r.0, 200, "{}", r.1);
        body_json(&r.1)["positions"]
            .as_array()
            .expect("positions")
            .iter()
            .map(|p| text(p, "site_ods").to_owned())
            .collect()
    };
    let (due_sites, all_sites) = (sites(&due), sites(&all));
    assert!(!due_sites.is_empty(), "reviews are due somewhere");
    assert!(
        due_sites.len() < all_sites.len(),
        "and not everywhere: {due_sites:?} of {all_sites:?}"
    );
    assert!(
        body_json(&all.1)["positions"]
            .as_array()
            .expect("positions")
            .iter()
            .any(|p| p["last"]["decision"] == "keep"),
        "positions reviewed within the year"
    );
    assert_eq!(reviews_page.0, 200);

    // The reports: time lost, and the release whose rollout to hold.
    let v = body_json(&reports.1);
    assert!(
        v["staff_time_lost"]["incidents"].as_u64() >= Some(30),
        "{v}"
    );
    assert!(
        v["staff_time_lost"]["holder_minutes"].as_f64() > Some(100.0),
        "{v}"
    );
    // Those passed on to support are counted apart: the holder could not work after either.
    let passed = &v["staff_time_lost"]["passed_on"];
    assert!(passed["incidents"].as_u64() > Some(0), "{v}");
    assert!(
        passed["incidents"].as_u64() < v["staff_time_lost"]["incidents"].as_u64(),
        "{v}"
    );
    assert!(
        reports_page.1.contains("passed on to support, after")
            && reports_page.1.contains("the time lost is more than this"),
        "{}",
        reports_page.1
    );
    let suspects: Vec<_> = v["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter(|r| r["suspect"] == true)
        .collect();
    assert_eq!(suspects.len(), 1, "{v}");
    assert_eq!(
        (text(suspects[0], "component"), text(suspects[0], "version")),
        ("smartcard-connect", "4.2")
    );
    assert_eq!(
        suspects[0]["rollout"],
        serde_json::json!({"action": "hold", "reached": "pilot"})
    );
    assert!(
        reports_page.1.contains("Failures follow a version")
            && reports_page.1.contains(
                "NHS Smartcard Connect (with NHS Credential Management 4.1), version 4.2"
            )
            && reports_page.1.contains("Hold its rollout"),
        "{}",
        reports_page.1
    );
    assert_eq!(incidents_page.0, 200);
    assert!(incidents_page.1.contains("card-locked") || incidents_page.1.contains("locked"));

    // Triage learns from the resolved incidents.
    let store = cardwatch_store::open(&db).expect("open");
    let counts = store.incident_cause_counts().expect("counts");
    let learnt: u64 = counts.iter().map(|c| c.n).sum();
    assert_eq!(learnt as usize, resolved.len());
    drop(store);

    // Every one of those writes is on the audit chain, whole.
    ok(&cardwatch_on(DAY, &db, &["audit", "verify"]));
}

#[test]
fn the_same_day_gives_the_same_demo() {
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (_tmp, db) = scratch_db();
        let (child, addr, cookie) = serve_demo_on_day(&db);
        seen.push(incidents(&addr, &cookie));
        stop(child);
    }
    assert!(!seen[0].is_empty());
    assert_eq!(seen[0], seen[1]);
}

/// `cardwatch demo --out` writes the GP practices as NHS England's ODS practices extract —
/// 27 quoted fields, no header, CRLF, prescribing setting 4 — not in organisations.csv, and the
/// estate imports through it: the practices stand under their ICB with their surgeries, and
/// importing the same files again changes nothing.
#[test]
fn the_demos_files_hold_an_ods_practices_extract_the_import_reads() {
    let (tmp, db) = scratch_db();
    let dir = tmp.path().join("csv");
    let files = demo_files(&dir);
    let extract = std::fs::read_to_string(dir.join("epraccur.csv")).expect("epraccur.csv");
    assert!(extract.ends_with("\r\n"), "CRLF: {extract:?}");
    let lines: Vec<Vec<&str>> = extract
        .split_terminator("\r\n")
        .map(|l| {
            assert!(l.starts_with('"') && l.ends_with('"'), "quoted: {l}");
            l[1..l.len() - 1].split("\",\"").collect()
        })
        .collect();
    assert_eq!(lines.len(), 3, "the three practices: {extract}");
    for l in &lines {
        assert_eq!(l.len(), 27, "{l:?}");
        assert!(l[0].starts_with('A'), "no header, an ODS code first: {l:?}");
        assert_eq!((l[12], l[25]), ("A", "4"), "active GP practices: {l:?}");
    }
    let orgs = std::fs::read_to_string(dir.join("organisations.csv")).expect("organisations");
    assert!(!orgs.contains(",gp_practice,"), "{orgs}");
    let first = ok(&import_all(&db, &files));
    assert!(
        first
            .lines()
            .any(|l| l.starts_with("organisations") && l.contains("epraccur.csv")),
        "{first}"
    );
    let exported = ok(&cardwatch(&db, &["export", "organisations"]));
    for l in &lines {
        let row = format!("{},{},gp_practice,{},active,", l[0], l[1], l[3]);
        assert!(exported.lines().any(|e| e == row), "{row} in {exported}");
    }
    let sites = ok(&cardwatch(&db, &["export", "sites"]));
    assert!(
        sites.contains(&format!("{0},{0},{1},Mon-Fri", lines[0][0], lines[0][1])),
        "the surgery keeps sites.csv's core hours: {sites}"
    );
    let again = ok(&import_all(&db, &files));
    assert!(
        again
            .lines()
            .filter(|l| l.contains(" rows: "))
            .all(|l| l.contains(" 0 new, 0 changed")),
        "{again}"
    );
}

/// Files of one kind may name each other in any order: the demo's branch surgeries, in
/// organisations.csv, name practices that only the ODS extract given after it holds — the order
/// `serve --demo` imports them in.
#[test]
fn a_branch_may_name_its_practice_in_a_file_given_after_it() {
    let (tmp, db) = scratch_db();
    let dir = tmp.path().join("csv");
    let dir_arg = dir.display().to_string();
    ok(&cardwatch_on(
        DAY,
        &db,
        &[
            "demo",
            "--practices",
            "25",
            "--seed",
            "9",
            "--today",
            DAY,
            "--out",
            &dir_arg,
        ],
    ));
    let orgs = dir.join("organisations.csv").display().to_string();
    let branches = std::fs::read_to_string(&orgs).expect("organisations.csv");
    let branch = branches
        .lines()
        .find(|l| l.contains(",branch,"))
        .expect("25 practices have a branch surgery")
        .to_owned();
    let mut files = vec![orgs.clone()];
    for entry in std::fs::read_dir(&dir).expect("dir") {
        let path = entry.expect("entry").path().display().to_string();
        if path != orgs {
            files.push(path);
        }
    }
    assert!(files
        .last()
        .is_some_and(|f| !f.ends_with("organisations.csv")));
    ok(&import_all(&db, &files));
    let exported = ok(&cardwatch(&db, &["export", "organisations"]));
    let code = branch.split(',').next().expect("code");
    assert!(
        exported
            .lines()
            .any(|l| l.starts_with(code) && l.contains(",branch,")),
        "{code} in {exported}"
    );
    // A branch naming a practice no file gives is still refused, naming file and line.
    let lone = tmp.path().join("lone.csv");
    std::fs::write(
        &lone,
        "ods_code,name,type,parent_ods,status,closed_on\nZ99999001,Lone Branch,branch,Z99999,active,\n",
    )
    .expect("write");
    let refused = cardwatch(&db, &["import", &lone.display().to_string()]);
    assert!(!refused.status.success());
    let said = common::text(&refused.stderr);
    assert!(
        said.contains("lone.csv") && said.contains("Z99999"),
        "{said}"
    );
}

/// An ICB of small practices: `--holders` spread over the `--practices` asked for, where
/// `--holders` alone takes the national average staff count.
#[test]
fn holders_spread_over_the_practices_asked_for() {
    let (tmp, db) = scratch_db();
    let lines = |dir: &std::path::Path, file: &str| {
        std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .lines()
            .count()
    };
    for (practices, expected) in [(None, 5), (Some("20"), 20)] {
        let dir = tmp.path().join(format!("csv-{expected}"));
        let dir_arg = dir.display().to_string();
        let mut args = vec![
            "demo",
            "--holders",
            "700",
            "--today",
            DAY,
            "--out",
            &dir_arg,
        ];
        args.extend(practices.iter().flat_map(|p| ["--practices", p]));
        ok(&cardwatch_on(DAY, &db, &args));
        assert_eq!(lines(&dir, "epraccur.csv"), expected, "practices");
        assert_eq!(lines(&dir, "people.csv"), 701, "holders and a header");
    }
}

/// What a tag-free reading of some markup says.
fn words(markup: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in markup.chars() {
        match c {
            '<' => inside = true,
            '>' => inside = false,
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out.trim().to_owned()
}

/// The cells of every table on a page under the column headed `label`, in words.
fn column(page: &str, label: &str) -> Vec<String> {
    let mut out = Vec::new();
    for table in page.split("<table").skip(1) {
        let table = table.split("</table>").next().unwrap_or_default();
        let Some((head, body)) = table.split_once("<tbody") else {
            continue;
        };
        // The column headings: `th` cells, not the `thead` around them.
        let head = head.replace("<thead", "<head");
        let headers: Vec<String> = head
            .split("<th")
            .skip(1)
            .map(|h| words(&format!("<th{h}")))
            .collect();
        let Some(at) = headers.iter().position(|h| h == label) else {
            continue;
        };
        for row in body.split("<tr").skip(1) {
            // A row's heading cell (`th`) is a cell like the others.
            let row = row.replace("<th", "<td").replace("</th>", "</td>");
            if let Some(cell) = row.split("<td").nth(at + 1) {
                let cell = cell.split("</td>").next().unwrap_or_default();
                // A phone's heading inside the cell is not what the cell says.
                let said = match cell.split_once("<span class=\"nhsuk-table-responsive__heading\"")
                {
                    Some((before, after)) => {
                        format!(
                            "{before}{}",
                            after.split_once("</span>").map_or("", |x| x.1)
                        )
                    }
                    None => cell.to_owned(),
                };
                out.push(words(&format!("<td{said}")));
            }
        }
    }
    out
}

#[test]
fn pages_that_list_by_site_name_the_site_beside_its_code() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_on_day(&db);
    let sites = get_as(&addr, "/api/v1/estate/sites?limit=1000", &cookie);
    let findings = get_as(&addr, "/findings", &cookie);
    let incidents = get_as(&addr, "/incidents", &cookie);
    let home = get_as(&addr, "/", &cookie);
    let migration = get_as(&addr, "/plan/migration", &cookie);
    stop(child);
    let names: std::collections::HashMap<String, String> = body_json(&sites.1)["items"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| (text(s, "site_ods").to_owned(), text(s, "name").to_owned()))
        .collect();
    assert!(!names.is_empty());
    // Each shown site reads "Name (CODE)", its name the estate's for that code.
    let named = |shown: &str| {
        let (name, code) = shown
            .trim()
            .strip_suffix(')')
            .and_then(|s| s.rsplit_once(" ("))
            .unwrap_or_else(|| panic!("{shown:?} is not a name and a code"));
        let known = names
            .get(code)
            .unwrap_or_else(|| panic!("{code} is no site"));
        // The page escapes what it shows (an apostrophe in "St Mary's").
        let escaped = known
            .replace('&', "&#38;")
            .replace('\'', "&#39;")
            .replace('<', "&#60;")
            .replace('>', "&#62;");
        assert_eq!(name, escaped, "{shown:?}");
    };
    for (page, shown) in [
        (&findings.1, column(&findings.1, "Site")),
        (&incidents.1, column(&incidents.1, "Site")),
        (&home.1, column(&home.1, "Site")),
        (
            &migration.1,
            migration
                .1
                .split("<span class=\"nhsuk-details__summary-text\">")
                .skip(1)
                .filter_map(|s| s.split_once(':').map(|x| x.0.to_owned()))
                .collect(),
        ),
    ] {
        assert!(!shown.is_empty(), "no sites shown in {page}");
        shown.iter().for_each(|s| named(s));
    }
}
