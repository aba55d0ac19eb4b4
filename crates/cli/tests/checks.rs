//! `cardwatch check`, `finding`, `catalogue` and the findings API, as users run them.

mod common;

use common::*;

/// A store with the small demo estate for `DAY`; the tests on it run on that day's clock.
fn demo_store(tmp: &tempfile::TempDir) -> (Option<PgDatabase>, String) {
    let (store, db) = store_in(tmp.path());
    let dir = tmp.path().join("csv");
    let files = demo_files(&dir);
    ok(&import_all(&db, &files));
    (store, db)
}

#[test]
fn check_prints_groups_and_formats_and_fails_on_severity() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_store, db) = demo_store(&tmp);
    let table = ok(&cardwatch_on(DAY, &db, &["check", "--today", DAY]));
    assert!(table.contains("== site "), "{table}");
    assert!(
        table.contains("CRITICAL") && table.contains("fix: "),
        "{table}"
    );
    assert!(table.contains("finding(s) on 2026-11-22"), "{table}");

    let json = ok(&cardwatch_on(
        DAY,
        &db,
        &["check", "--today", DAY, "--format", "json"],
    ));
    let all: serde_json::Value = serde_json::from_str(&json).expect("json");
    let all = all.as_array().expect("array");
    assert!(all.len() > 10);
    let site = all[0]["site"].as_str().expect("site").to_owned();
    let csv = ok(&cardwatch_on(
        DAY,
        &db,
        &["check", "--today", DAY, "--format", "csv", "--site", &site],
    ));
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .expect("header")
        .starts_with("id,rule,severity,state,"));
    assert!(lines.all(|l| l.contains(&format!(",{site},"))), "{csv}");

    // One family of rules on its own, and a group of rules by how their ids start.
    let csv_with = |flag: &str, value: &str| {
        ok(&cardwatch_on(
            DAY,
            &db,
            &["check", "--today", DAY, "--format", "csv", flag, value],
        ))
    };
    let certs = csv_with("--only", "certificates");
    assert!(certs.lines().count() > 1);
    assert!(
        certs
            .lines()
            .skip(1)
            .all(|l| l.starts_with("cert-") || l.starts_with("sha1-")),
        "{certs}"
    );
    let signing = csv_with("--rule", "cert-signing-");
    assert!(signing.lines().count() > 1);
    assert!(
        signing
            .lines()
            .skip(1)
            .all(|l| l.starts_with("cert-signing-")),
        "{signing}"
    );
    let out = cardwatch_on(DAY, &db, &["check", "--only", "printers"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("certificates, cards, positions, workstations, sites"));

    // Monitoring: exit 4 when an open finding at or above the level exists, 0 when none.
    let out = cardwatch_on(
        DAY,
        &db,
        &[
            "check",
            "--today",
            DAY,
            "--format",
            "csv",
            "--fail-on",
            "critical",
        ],
    );
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("at or above critical"));
    let out = cardwatch_on(
        DAY,
        &db,
        &[
            "check",
            "--today",
            DAY,
            "--site",
            "NOSUCH",
            "--fail-on",
            "info",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let out = cardwatch_on(DAY, &db, &["check", "--fail-on", "severe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("info, warning, urgent, critical"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn snooze_hides_ack_keeps_and_both_are_audited() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_store, db) = demo_store(&tmp);
    let today = ok(&cardwatch_on(DAY, &db, &["catalogue", "show"])); // settings load with no config
    assert!(today.contains("identity-agent"));
    let csv = ok(&cardwatch_on(DAY, &db, &["check", "--format", "csv"]));
    let id = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().expect("id").to_owned())
        .find(|id| id.starts_with("spare-readers-low/") || id.starts_with("stock-below-minimum/"))
        .expect("a site finding");
    let audit_before = ok(&cardwatch_on(DAY, &db, &["audit", "verify"]));
    ok(&cardwatch_on(
        DAY,
        &db,
        &["finding", "snooze", &id, "--reason", "readers ordered"],
    ));
    let hidden = ok(&cardwatch_on(DAY, &db, &["check", "--format", "csv"]));
    assert!(
        !hidden.contains(&format!("{id},")),
        "a snoozed finding is hidden"
    );
    let shown = ok(&cardwatch_on(
        DAY,
        &db,
        &["check", "--format", "csv", "--all"],
    ));
    assert!(shown.contains(&format!("{id},")) && shown.contains(",snoozed,"));
    ok(&cardwatch_on(
        DAY,
        &db,
        &["finding", "ack", &id, "--reason", "on order"],
    ));
    let acked = ok(&cardwatch_on(DAY, &db, &["check", "--format", "csv"]));
    assert!(acked.contains(&format!("{id},")) && acked.contains(",acknowledged,"));
    ok(&cardwatch_on(
        DAY,
        &db,
        &["finding", "reopen", &id, "--reason", "order cancelled"],
    ));
    let after = ok(&cardwatch_on(DAY, &db, &["audit", "verify"]));
    assert_ne!(audit_before, after);
    let log = ok(&cardwatch_on(
        DAY,
        &db,
        &["audit", "show", "--limit", "1000"],
    ));
    for action in ["\"snoozed\"", "\"acknowledged\"", "\"reopen\""] {
        assert!(log.contains(action), "{action} not audited");
    }

    // Bad input: an unknown finding, no reason, a day in the past.
    let out = cardwatch_on(
        DAY,
        &db,
        &["finding", "snooze", "no-such/finding", "--reason", "x"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no finding"),
        "{}",
        text(&out.stderr)
    );
    let out = cardwatch_on(DAY, &db, &["finding", "ack", &id, "--reason", "  "]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("reason"),
        "{}",
        text(&out.stderr)
    );
    let out = cardwatch_on(
        DAY,
        &db,
        &[
            "finding",
            "snooze",
            &id,
            "--reason",
            "x",
            "--until",
            "2020-01-01",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("in the past"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn catalogue_override_laid_over_or_refused_with_its_line() {
    let (tmp, db) = scratch_db();
    let good = tmp.path().join("good.toml");
    std::fs::write(
        &good,
        "[[readers]]\nvendor = \"Acme\"\nmodel = \"K1\"\ncurrent_firmware = \"2.1\"\nsource = \"Acme notice 7\"\nas_of = 2026-11-01\n",
    )
    .expect("write");
    let shown = ok(&cardwatch(
        &db,
        &[
            "--catalogue",
            good.to_str().expect("path"),
            "catalogue",
            "show",
        ],
    ));
    assert!(
        shown.contains("Acme") && shown.contains("Acme notice 7"),
        "{shown}"
    );
    assert!(shown.contains("identity-agent"), "the shipped entries stay");
    // Facts with no public source come last, counted, each still with what it rests on.
    let (sourced, unconfirmed) = shown
        .split_once("UNCONFIRMED — ")
        .unwrap_or_else(|| panic!("no unconfirmed section: {shown}"));
    let count: usize = unconfirmed
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert_eq!(
        count,
        unconfirmed.matches("source: unconfirmed").count(),
        "{unconfirmed}"
    );
    assert!(unconfirmed.contains("emis-web") && !sourced.contains("emis-web"));
    assert!(sourced.contains("Acme notice 7") && !sourced.contains("source: unconfirmed"));
    assert!(sourced.contains("cis1") && sourced.contains("works until 2027-02-28"));

    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[software]]\nid = \"identity-agent\"\nname = \"IA\"\npresence = \"always\"\n",
    )
    .expect("write");
    let out = cardwatch(
        &db,
        &[
            "--catalogue",
            bad.to_str().expect("path"),
            "catalogue",
            "show",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("bad.toml:4:"), "{err}");
    assert!(err.contains("shipped catalogue stays in force"), "{err}");
    assert!(
        text(&out.stdout).contains("2.4.10.0"),
        "the shipped catalogue is shown"
    );
    // Other commands warn and carry on with the shipped catalogue.
    let out = cardwatch(&db, &["--catalogue", bad.to_str().expect("path"), "check"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("refused"));

    // A bad configuration file is an error naming its line.
    let cfg = tmp.path().join("cardwatch.toml");
    std::fs::write(&cfg, "[health]\ndormant_days = 60\nlockout_days = 3\n").expect("write");
    let out = cardwatch(&db, &["--config", cfg.to_str().expect("path"), "check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cardwatch.toml:3:"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&cfg, "[health]\nsoon_days = 100\n").expect("write");
    let out = cardwatch(&db, &["--config", cfg.to_str().expect("path"), "check"]);
    assert!(
        text(&out.stderr).contains("soon_days"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn findings_api_and_page() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "2");
    let api = get_as(
        &addr,
        "/api/v1/findings?min_severity=urgent&limit=5",
        &cookie,
    );
    let csv = get_as(&addr, "/api/v1/findings?format=csv", &cookie);
    let bad = get_as(&addr, "/api/v1/findings?min_severity=bad", &cookie);
    let unknown = get_as(&addr, "/api/v1/findings?colour=red", &cookie);
    let page = get_as(&addr, "/findings", &cookie);
    let by_due = get_as(&addr, "/api/v1/findings?sort=due&order=desc", &cookie);
    let bad_sort = get_as(&addr, "/api/v1/findings?sort=colour", &cookie);
    let bad_order = get_as(&addr, "/api/v1/findings?sort=due&order=up", &cookie);
    let sorted_page = get_as(&addr, "/findings?sort=site&order=asc&limit=3", &cookie);
    let second = get_as(
        &addr,
        "/findings?sort=site&order=asc&limit=3&offset=3",
        &cookie,
    );
    stop(child);
    let dues: Vec<String> = body_json(&by_due.1)["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["due"].as_str().expect("due").to_owned())
        .collect();
    assert!(dues.len() > 3);
    assert!(
        dues.windows(2).all(|w| w[0] >= w[1]),
        "latest due first: {dues:?}"
    );
    assert_eq!(bad_sort.0, 400);
    assert!(bad_sort.1.contains("\"field\":\"sort\"") && bad_sort.1.contains("severity"));
    assert_eq!(bad_order.0, 400);
    assert!(
        bad_order.1.contains("\"field\":\"order\""),
        "{}",
        bad_order.1
    );
    assert!(
        sorted_page.1.contains("aria-sort=\"ascending\""),
        "{}",
        sorted_page.1
    );
    assert!(
        sorted_page.1.contains("sort=site&amp;order=desc"),
        "the header turns it round"
    );
    // The NHS.UK pagination: a next page from the first, a previous one from the second.
    assert!(
        sorted_page.1.contains("offset=3\" rel=\"next\"")
            && !sorted_page.1.contains("rel=\"prev\""),
        "{}",
        sorted_page.1
    );
    assert!(second.1.contains("rel=\"prev\"") && second.1.contains("Showing 4 to 6 of"));
    assert_eq!(api.0, 200, "{}", api.1);
    let body = api.1.split("\r\n\r\n").nth(1).expect("body");
    let v: serde_json::Value = serde_json::from_str(body).expect("json");
    let findings = v["findings"].as_array().expect("findings");
    assert!(findings.len() <= 5 && !findings.is_empty());
    assert!(v["total"].as_u64().expect("total") >= findings.len() as u64);
    assert!(findings
        .iter()
        .all(|f| matches!(f["severity"].as_str(), Some("urgent" | "critical"))));
    assert_eq!(csv.0, 200);
    assert!(csv.1.contains("id,rule,severity,state,subject_kind"));
    assert_eq!(bad.0, 400);
    assert!(bad.1.contains("\"field\":\"min_severity\""), "{}", bad.1);
    assert_eq!(unknown.0, 400);
    assert!(unknown.1.contains("colour"));
    assert_eq!(page.0, 200);
    assert!(
        page.1
            .contains("<h1 class=\"nhsuk-heading-l\">Findings</h1>")
            && page.1.contains("Fix:")
    );
}

#[test]
fn plan_prints_compares_and_exports() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_store, db) = demo_store(&tmp);
    let args = ["plan", "--capacity", "20", "--from", "2026-11-23"];
    let table = ok(&cardwatch_on(DAY, &db, &args));
    assert!(
        table.contains(
            "Renewal plan for RA team all from 2026-11-23 with 20 renewals a working day"
        ),
        "{table}"
    );
    assert!(
        table.contains("wait for prompt") && table.contains("Weekly forecast"),
        "{table}"
    );

    let json = ok(&cardwatch_on(
        DAY,
        &db,
        &[&args[..], &["--format", "json"]].concat(),
    ));
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    let team = &v["teams"][0];
    assert_eq!(team["team"], "all");
    let renewals = team["renewals"].as_array().expect("renewals");
    assert!(!renewals.is_empty());
    assert!(
        team["plan"]["lapsed"].as_u64().expect("lapsed")
            <= team["wait_for_prompt"]["lapsed"].as_u64().expect("lapsed")
    );
    for r in renewals {
        let (target, expiry) = (
            r["target"].as_str().expect("t"),
            r["expiry"].as_str().expect("e"),
        );
        if r["lapsed_days"] == 0 {
            assert!(target <= expiry, "{r}");
        }
    }
    let csv = ok(&cardwatch_on(
        DAY,
        &db,
        &[&args[..], &["--format", "csv"]].concat(),
    ));
    assert_eq!(csv.lines().count(), renewals.len() + 1);
    let site = renewals[0]["site"].as_str().expect("site");
    let one = ok(&cardwatch_on(
        DAY,
        &db,
        &[&args[..], &["--format", "csv", "--site", site]].concat(),
    ));
    assert!(one
        .lines()
        .skip(1)
        .all(|l| l.contains(&format!(",{site},"))));
    let ics = ok(&cardwatch_on(
        DAY,
        &db,
        &[&args[..], &["--format", "ics", "--site", site]].concat(),
    ));
    assert!(
        ics.starts_with("BEGIN:VCALENDAR\r\n")
            && ics.contains("BEGIN:VEVENT")
            && ics.contains("TRIGGER:-P1D")
    );

    // RA teams from the configuration: one serves the first site, everyone else shares --capacity.
    let cfg = tmp.path().join("teams.toml");
    std::fs::write(
        &cfg,
        format!("[[planner.teams]]\nname = \"North RA\"\ncapacity = 5\nserves = [\"{site}\"]\n"),
    )
    .expect("write");
    let cfg = cfg.to_str().expect("path");
    let csv = ok(&cardwatch_on(
        DAY,
        &db,
        &[
            "--config",
            cfg,
            "plan",
            "--capacity",
            "20",
            "--from",
            "2026-11-23",
            "--format",
            "csv",
        ],
    ));
    assert!(csv.lines().next().expect("header").ends_with(",ra_team"));
    assert!(
        csv.lines()
            .any(|l| l.contains(&format!(",{site},")) && l.ends_with(",North RA")),
        "{csv}"
    );
    assert!(csv.lines().any(|l| l.ends_with(",everyone else")));
    // The team serves the site and, through its organisation, any branch it runs.
    assert!(csv
        .lines()
        .skip(1)
        .filter(|l| l.contains(&format!(",{site},")))
        .all(|l| l.ends_with(",North RA")));
    let table = ok(&cardwatch_on(
        DAY,
        &db,
        &[
            "--config",
            cfg,
            "plan",
            "--capacity",
            "20",
            "--from",
            "2026-11-23",
        ],
    ));
    assert!(
        table.contains("RA team North RA") && table.contains("RA team everyone else"),
        "{table}"
    );
    let out = cardwatch_on(DAY, &db, &["--config", cfg, "plan"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no RA team serves"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(
        tmp.path().join("teams.toml"),
        "[[planner.teams]]\nname = \"X\"\ncapacity = 0\nserves = [\"A81001\"]\n",
    )
    .expect("write");
    let out = cardwatch_on(DAY, &db, &["--config", cfg, "plan", "--capacity", "5"]);
    assert!(
        text(&out.stderr).contains("capacity must be at least 1"),
        "{}",
        text(&out.stderr)
    );

    let out = cardwatch_on(DAY, &db, &["plan", "--capacity", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("at least 1"),
        "{}",
        text(&out.stderr)
    );
    let out = cardwatch_on(DAY, &db, &["plan", "--capacity", "5", "--format", "pdf"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("table, csv, json or ics"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn plan_api() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "2");
    let json = get_as(
        &addr,
        "/api/v1/plan?capacity=10&from=2026-11-23&limit=3",
        &cookie,
    );
    let ics = get_as(&addr, "/api/v1/plan?capacity=10&format=ics", &cookie);
    let missing = get_as(&addr, "/api/v1/plan", &cookie);
    let bad = get_as(&addr, "/api/v1/plan?capacity=10&from=31/02/2026", &cookie);
    let page = get_as(&addr, "/plan?capacity=3", &cookie);
    let form = get_as(&addr, "/plan", &cookie);
    let bad_page = get_as(&addr, "/plan?capacity=lots", &cookie);
    stop(child);
    assert_eq!(page.0, 200, "{}", page.1);
    assert!(
        page.1.contains("<svg") && page.1.contains("<polyline"),
        "a chart with the capacity line"
    );
    assert!(page.1.contains("nhsuk-table__caption"), "and its table");
    assert!(page.1.contains("waiting for the prompt"), "{}", page.1);
    assert!(
        page.1.contains("/api/v1/plan?capacity=3&amp;format=csv"),
        "{}",
        page.1
    );
    assert_eq!(form.0, 200);
    assert!(
        !form.1.contains("<svg"),
        "no plan without a capacity or teams"
    );
    assert_eq!(bad_page.0, 400);
    assert_eq!(json.0, 200, "{}", json.1);
    let v: serde_json::Value =
        serde_json::from_str(json.1.split("\r\n\r\n").nth(1).expect("body")).expect("json");
    assert_eq!(v["renewals"].as_array().expect("renewals").len(), 3);
    assert!(v["total"].as_u64().expect("total") > 3);
    assert!(!v["teams"][0]["weeks"].as_array().expect("weeks").is_empty());
    assert_eq!(ics.0, 200);
    assert!(ics.1.contains("text/calendar") && ics.1.contains("BEGIN:VCALENDAR"));
    assert_eq!(missing.0, 400);
    assert!(
        missing.1.contains("\"field\":\"capacity\""),
        "{}",
        missing.1
    );
    assert_eq!(bad.0, 400);
    assert!(bad.1.contains("\"field\":\"from\""), "{}", bad.1);
}

#[test]
fn the_move_to_smartcard_connect_is_planned_per_site_and_machine() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_store, db) = demo_store(&tmp);
    let table = ok(&cardwatch_on(DAY, &db, &["plan", "migration"]));
    assert!(
        table.contains("it stops working on 2027-02-28; every machine moved by 2027-02-14"),
        "{table}"
    );
    assert!(table.contains("first machine, after "), "{table}");
    assert!(
        table.contains("held up by EMIS Web (readiness unconfirmed)"),
        "{table}"
    );
    let csv = ok(&cardwatch_on(
        DAY,
        &db,
        &["plan", "migration", "--format", "csv", "--per-day", "1"],
    ));
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    // A day's limit of one machine: no two planned on the same day.
    let mut days: Vec<&str> = rows
        .iter()
        .filter(|r| r[3] == "planned")
        .map(|r| r[5])
        .collect();
    let planned = days.len();
    days.sort_unstable();
    days.dedup();
    assert!(planned > 0 && days.len() == planned, "{csv}");
    assert!(rows.iter().any(|r| r[3] == "moved"), "{csv}");
    let json: serde_json::Value = serde_json::from_str(&ok(&cardwatch_on(
        DAY,
        &db,
        &["plan", "migration", "--format", "json"],
    )))
    .expect("json");
    let t = &json["totals"];
    let listed: usize = json["plan"]["sites"]
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| s["machines"].as_array().expect("machines").len())
        .sum();
    let counted: u64 = ["moved", "planned", "late", "blocked"]
        .iter()
        .map(|k| t[k].as_u64().expect("count"))
        .sum();
    assert_eq!(counted as usize, listed);
    // Bad input: a site with nothing to move, a limit of none.
    let out = cardwatch_on(DAY, &db, &["plan", "migration", "--site", "Z99999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("Z99999"),
        "{}",
        text(&out.stderr)
    );
    let out = cardwatch_on(DAY, &db, &["plan", "migration", "--per-day", "0"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("--per-day"),
        "{}",
        text(&out.stderr)
    );
}
