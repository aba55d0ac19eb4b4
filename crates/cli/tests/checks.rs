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
        sorted_page.1.contains("sort=site&#38;order=desc"),
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

/// The body of an HTTP response.
fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The renewal plan opens with its answer: the configured capacity (`[notify] ra_capacity`, 50
/// when not set) is used and named, the chart of expiries against capacity is drawn, and the
/// lapses with and without the plan are one sentence — the same figures as the API's at that
/// capacity.
#[test]
fn the_plan_page_opens_with_an_answer_at_the_configured_capacity() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "2");
    let first = get_as(&addr, "/plan", &cookie);
    let api = get_as(&addr, "/api/v1/plan?capacity=50&limit=1", &cookie);
    stop(child);
    assert_eq!(first.0, 200, "{}", first.1);
    let page = body(&first.1);
    assert!(
        page.contains("<svg") && page.contains("<polyline"),
        "the chart with its capacity line: {page}"
    );
    assert!(page.contains("Certificates expiring") && page.contains("Capacity"));
    assert!(
        page.contains(
            "The plan below uses 50 renewals a working day: the <code>ra_capacity</code> setting"
        ),
        "which capacity, and where it is set: {page}"
    );
    let v = body_json(&api.1);
    let team = &v["teams"][0];
    let (wait, planned) = (
        team["wait_for_prompt"]["lapsed"].as_u64().expect("wait"),
        team["plan"]["lapsed"].as_u64().expect("plan"),
    );
    assert!(wait > planned, "the demo shows what the plan saves: {team}");
    let certificates = if wait == 1 {
        "certificate would lapse before it is"
    } else {
        "certificates would lapse before they are"
    };
    let lapse = if planned == 1 { "lapses" } else { "lapse" };
    let sentence = format!(
        "Without a plan, {wait} {certificates} renewed; with this plan, {planned} {lapse} at 50 renewals a working day."
    );
    assert!(page.contains(&sentence), "{sentence}\n{page}");
    assert!(
        page.contains("/api/v1/plan?capacity=50&#38;format=csv"),
        "the downloads carry the capacity used: {page}"
    );
}

/// A capacity that cannot be planned with shows the page again: the NHS.UK error summary
/// linking to the field, the field marked, what was typed kept, and no JSON; the API keeps its
/// JSON error.
#[test]
fn a_bad_capacity_on_the_plan_page_is_shown_on_the_page() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let answers: Vec<(&str, (u16, String))> = ["abc", "-1", "0"]
        .into_iter()
        .map(|typed| {
            (
                typed,
                get_as(&addr, &format!("/plan?capacity={typed}"), &cookie),
            )
        })
        .collect();
    let api = get_as(&addr, "/api/v1/plan?capacity=abc", &cookie);
    stop(child);
    for (typed, (status, response)) in answers {
        assert_eq!(status, 400, "{typed}: {response}");
        assert!(
            response
                .to_ascii_lowercase()
                .contains("content-type: text/html"),
            "{typed}: a page, not JSON: {response}"
        );
        let page = body(&response);
        assert!(page.contains("<!DOCTYPE html>"), "{page}");
        assert!(!page.contains("\"error\""), "{page}");
        assert!(
            page.contains("nhsuk-error-summary")
                && page.contains("There is a problem")
                && page.contains("href=\"#capacity\">Enter the renewals the RA team can do a working day as a whole number from 1 to 1,000,000"),
            "{typed}: {page}"
        );
        assert!(page.contains("nhsuk-input--error"), "{page}");
        assert!(
            page.contains(&format!("value=\"{typed}\"")),
            "{typed} kept in the field: {page}"
        );
        assert!(!page.contains("<svg"), "no plan for a refused capacity");
    }
    assert_eq!(api.0, 400);
    assert!(api.1.contains("\"field\":\"capacity\""), "{}", api.1);
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
        page.1.contains("/api/v1/plan?capacity=3&#38;format=csv"),
        "{}",
        page.1
    );
    assert!(
        page.1.contains("with this plan,") && page.1.contains("at 3 renewals a working day."),
        "{}",
        page.1
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

/// A calendar feed's address from `cardwatch token add … --calendar`.
fn feed_path(db: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "token",
        "add",
        "--user",
        "demo",
        "--name",
        "move",
        "--calendar",
    ];
    args.extend_from_slice(extra);
    ok(&cardwatch(db, &args))
        .split("feed: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("a feed address")
        .to_owned()
}

/// The move events of a feed, read by python3's icalendar: (uid, day, summary, description).
fn move_events(dir: &std::path::Path, feed: &str) -> Vec<(String, String, String, String)> {
    let file = dir.join("feed.ics");
    std::fs::write(&file, feed.split("\r\n\r\n").nth(1).expect("body")).expect("write");
    let script = r#"
import sys, json, icalendar
cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())
out = []
for e in cal.walk('VEVENT'):
    uid = str(e.get('uid'))
    if uid.startswith('smartcard-connect-'):
        alarms = [a for a in e.walk('VALARM')]
        assert alarms, uid
        out.append([uid, e.decoded('dtstart').isoformat(), str(e.get('summary')), str(e.get('description'))])
print(json.dumps(out))
"#;
    let out = std::process::Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python3 (scripts/test installs python3-icalendar)");
    let rows: Vec<Vec<String>> = serde_json::from_str(&ok(&out)).expect("json");
    rows.into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone()))
        .collect()
}

/// The calendar feed holds each site's move days from the migration plan, named, with the
/// computers to move and what holds any up; a feed for one site holds that site's only.
#[test]
fn the_calendar_feed_holds_each_sites_move_to_smartcard_connect() {
    let (tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in_on(&db, "2", Some(DAY));
    let plan = body_json(&get_as(&addr, "/api/v1/plan/migration", &cookie).1);
    let sites = body_json(&get_as(&addr, "/api/v1/estate/sites?limit=1000", &cookie).1);
    let all = get(&addr, &feed_path(&db, &[]));
    // The plan's days per site, and the sites with machines held up.
    let mut days: std::collections::BTreeMap<(String, String), usize> = Default::default();
    let mut held: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for site in plan["plan"]["sites"].as_array().expect("sites") {
        let code = site["site"].as_str().expect("code").to_owned();
        for m in site["machines"].as_array().expect("machines") {
            match m["state"].as_str().expect("state") {
                "planned" => {
                    *days
                        .entry((code.clone(), m["day"].as_str().expect("day").to_owned()))
                        .or_default() += 1
                }
                "blocked" => held
                    .entry(code.clone())
                    .or_default()
                    .push(m["hostname"].as_str().expect("host").to_owned()),
                _ => {}
            }
        }
    }
    assert!(
        !days.is_empty() && !held.is_empty(),
        "the demo has machines to move and held up: {plan}"
    );
    let one = days.keys().next().expect("a site").0.clone();
    let one_site = get(&addr, &feed_path(&db, &["--site", &one]));
    stop(child);
    assert_eq!(all.0, 200, "{}", all.1);
    let events = move_events(tmp.path(), &all.1);
    let move_days: Vec<&(String, String, String, String)> = events
        .iter()
        .filter(|e| !e.0.ends_with("-held@cardwatch"))
        .collect();
    assert_eq!(
        move_days.len(),
        days.len(),
        "one event per site and day: {events:?}"
    );
    let name_of = |code: &str| {
        sites["items"]
            .as_array()
            .expect("sites")
            .iter()
            .find(|s| s["site_ods"] == code)
            .and_then(|s| s["name"].as_str())
            .unwrap_or_else(|| panic!("site {code} in {sites}"))
            .to_owned()
    };
    for ((code, day), n) in &days {
        let e = move_days
            .iter()
            .find(|e| e.0 == format!("smartcard-connect-{code}-{day}@cardwatch"))
            .unwrap_or_else(|| panic!("{code} on {day} in {events:?}"));
        assert_eq!(&e.1, day);
        let computers = if *n == 1 {
            "1 computer".to_owned()
        } else {
            format!("{n} computers")
        };
        assert_eq!(
            e.2,
            format!(
                "Move {computers} to NHS Smartcard Connect (CIS2 authentication) ({}, site {code})",
                name_of(code)
            )
        );
        for host in held.get(code).into_iter().flatten() {
            assert!(
                e.3.contains(&format!("{host} by ")),
                "{host} held up: {}",
                e.3
            );
        }
    }
    // A site whose machines are all held up is in the calendar on the move-by day.
    let move_by = plan["plan"]["move_by"].as_str().expect("move_by");
    for (code, hosts) in &held {
        if days.keys().any(|(c, _)| c == code) {
            continue;
        }
        let e = events
            .iter()
            .find(|e| e.0 == format!("smartcard-connect-{code}-held@cardwatch"))
            .unwrap_or_else(|| panic!("{code} held up in {events:?}"));
        assert_eq!(e.1, move_by);
        assert!(hosts.iter().all(|h| e.3.contains(h.as_str())), "{}", e.3);
    }
    // The feed of one site: its days only.
    let mine = move_events(tmp.path(), &one_site.1);
    assert!(!mine.is_empty());
    assert!(
        mine.iter()
            .all(|e| e.0.starts_with(&format!("smartcard-connect-{one}-"))),
        "{mine:?}"
    );
}

/// An HTML attribute's value as written by askama, read back.
fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&#x2f;", "/")
        .replace("&#47;", "/")
        .replace("&#61;", "=")
        .replace("&#x3d;", "=")
}

/// The overview page and `GET /api/v1/overview` give the same numbers: each tile's number, and
/// the line about workstations to move, is the API's figure whose list is that link.
#[test]
fn the_overview_page_and_its_api_give_the_same_numbers() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "2");
    let home = get_as(&addr, "/", &cookie);
    let api = get_as(&addr, "/api/v1/overview", &cookie);
    stop(child);
    assert_eq!(home.0, 200, "{}", home.1);
    assert_eq!(api.0, 200, "{}", api.1);
    let api = body_json(&api.1);
    let lists = api["lists"].as_object().expect("lists");
    // (link, number) of every link on the page that starts with a number: the tiles' numbers
    // are in a span, the workstations' line starts its link with one.
    let shown: Vec<(String, u64)> = body(&home.1)
        .split("<a class=\"nhsuk-link\" href=\"")
        .skip(1)
        .filter_map(|t| {
            let (href, rest) = t.split_once("\">")?;
            let rest = rest
                .strip_prefix("<span class=\"nhsuk-heading-l nhsuk-u-margin-bottom-0\">")
                .unwrap_or(rest);
            let n: String = rest
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == ',')
                .filter(|c| *c != ',')
                .collect();
            Some((unescape(href), n.parse().ok()?))
        })
        .collect();
    assert_eq!(
        shown.len(),
        9,
        "eight tiles and the workstations: {shown:?}"
    );
    assert_eq!(lists.len(), shown.len(), "{api}");
    for (href, n) in &shown {
        let (name, _) = lists
            .iter()
            .find(|(_, list)| list.as_str() == Some(href.as_str()))
            .unwrap_or_else(|| panic!("{href}: no figure in the API counts it: {api}"));
        assert_eq!(api[name].as_u64(), Some(*n), "{name} ({href}): {api}");
    }
    let held_up = api["workstations_held_up"].as_u64().expect("held up");
    if held_up > 0 {
        let verb = if held_up == 1 { "is" } else { "are" };
        assert!(
            body(&home.1).contains(&format!("; {held_up} {verb} held up")),
            "{held_up} held up: {}",
            home.1
        );
    }
}

/// Every overview tile opens exactly the list it counts: following its link, the page shows the
/// tile's number, the API for the same filters counts it too, and what the list holds is what
/// the tile's words say (expired certificates only, sites rather than findings, …).
#[test]
fn every_overview_tile_opens_the_list_it_counts() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "2");
    let home = get_as(&addr, "/", &cookie);
    let every = body_json(&get_as(&addr, "/api/v1/findings?limit=10000", &cookie).1);
    let sites = body_json(&get_as(&addr, "/api/v1/estate/sites", &cookie).1);
    assert_eq!(home.0, 200, "{}", home.1);
    let page = body(&home.1).to_owned();
    // (count, words, link) of each tile, and the line about workstations to move.
    let mut tiles: Vec<(u64, String, String)> = page
        .split("<li class=\"nhsuk-grid-column-one-quarter nhsuk-u-margin-bottom-3\"><a class=\"nhsuk-link\" href=\"")
        .skip(1)
        .map(|t| {
            let (href, rest) = t.split_once('"').expect("href");
            let n = rest
                .split("nhsuk-u-margin-bottom-0\">")
                .nth(1)
                .and_then(|r| r.split('<').next())
                .expect("number");
            let words = rest
                .split("<span class=\"nhsuk-body\">")
                .nth(1)
                .and_then(|r| r.split('<').next())
                .expect("words");
            (
                n.replace(',', "").parse().expect("a number"),
                words.to_owned(),
                unescape(href),
            )
        })
        .collect();
    assert_eq!(tiles.len(), 8, "{page}");
    if let Some(line) = page.split("<div class=\"nhsuk-inset-text\">").nth(1) {
        let link = line.split("href=\"").nth(1).expect("a link");
        let (href, rest) = link.split_once('"').expect("href");
        let n = rest[1..].split(' ').next().expect("number");
        tiles.push((
            n.parse().expect("a number"),
            "workstations to move".into(),
            unescape(href),
        ));
    }
    let findings: Vec<&serde_json::Value> = every["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .collect();
    let rule = |f: &serde_json::Value| f["rule"].as_str().unwrap_or("").to_owned();
    let mut followed = Vec::new();
    for (n, words, href) in &tiles {
        let (path, query) = href.split_once('?').expect("every tile is filtered");
        let (api, shown) = match path {
            "/findings" => (
                format!("/api/v1/findings?{query}&limit=10000"),
                format!("{n} finding"),
            ),
            "/incidents" => (
                format!("/api/v1/incidents?{query}&limit=5000"),
                format!("{n} incident"),
            ),
            other => panic!("{words}: a tile opens {other}"),
        };
        let target = get_as(&addr, href, &cookie);
        let listed = body_json(&get_as(&addr, &api, &cookie).1);
        followed.push((n, words, href, target, listed, shown));
    }
    stop(child);
    let estate_sites = sites["total"].as_u64().expect("sites");
    let mut checked_a_family = false;
    for (n, words, href, target, listed, shown) in followed {
        assert_eq!(target.0, 200, "{words}: {href}");
        // A filter by the start of rule ids is named in words, not shown as the raw prefix.
        if href.contains("rule=cert-") {
            checked_a_family = true;
            assert!(
                body(&target.1).contains("Renew certificates (every kind)")
                    && !body(&target.1).contains(">cert-<"),
                "{words}: {href}"
            );
        }
        assert_eq!(
            listed["total"].as_u64(),
            Some(*n),
            "{words}: {href} counts {listed}"
        );
        let html = body(&target.1);
        if *n == 0 {
            assert!(
                html.contains("no findings match") || html.contains("0 incidents."),
                "{words}: {href} shows none"
            );
        } else {
            assert!(
                html.contains(&shown),
                "{words}: {href} shows {shown}: {html}"
            );
        }
        let list: Vec<String> = listed["findings"]
            .as_array()
            .map(|l| l.iter().map(rule).collect())
            .unwrap_or_default();
        let only = |what: &dyn Fn(&str) -> bool| {
            let everywhere = findings.iter().filter(|f| what(&rule(f))).count() as u64;
            assert_eq!(everywhere, *n, "{words}: every such finding, and no other");
            assert!(list.iter().all(|r| what(r)), "{words}: {list:?}");
        };
        let cert =
            |r: &str, ends: &[&str]| r.starts_with("cert-") && ends.iter().any(|e| r.ends_with(e));
        match words.as_str() {
            "certificates expired" | "certificate expired" => only(&|r| cert(r, &["-expired"])),
            w if w.contains("90-day renewal window") => {
                only(&|r| cert(r, &["-7d", "-30d", "-90d"]))
            }
            w if w.contains("to renew urgently") => {
                assert!(list.iter().all(|r| cert(r, &["-7d", "-30d"])), "{list:?}");
                let week = findings.iter().filter(|f| cert(&rule(f), &["-7d"])).count() as u64;
                assert!(*n >= week, "every certificate within 7 days is in {n}");
            }
            w if w.contains("short of spare card readers") => {
                let sites: std::collections::BTreeSet<&str> = listed["findings"]
                    .as_array()
                    .expect("findings")
                    .iter()
                    .filter_map(|f| f["site"].as_str())
                    .collect();
                assert_eq!(sites.len() as u64, *n, "one per site");
                assert!(*n <= estate_sites, "{n} of {estate_sites} sites");
            }
            _ => {}
        }
    }
    let expired = tiles
        .iter()
        .find(|t| t.1.contains("expired"))
        .expect("expired");
    assert!(expired.0 > 0, "the demo has expired certificates to count");
    assert!(
        checked_a_family,
        "a certificate tile filters by the start of rule ids"
    );
}

/// Hazard H-001: a site whose card data stops arriving is raised once it is older than
/// `[health] stale_data_days` (35), and an import of the same files — which changes nothing and
/// writes no audit record — counts as a refresh and clears it.
#[test]
fn a_site_whose_card_data_is_not_refreshed_is_raised_until_it_is_imported_again() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_store, db) = store_in(tmp.path());
    let files = demo_files(&tmp.path().join("csv"));
    let mut import = vec!["import"];
    import.extend(files.iter().map(String::as_str));
    ok(&cardwatch_on(DAY, &db, &import));
    let stale = |day: &str| -> Vec<String> {
        let csv = ok(&cardwatch_on(
            day,
            &db,
            &["check", "--rule", "site-data-stale", "--format", "csv"],
        ));
        csv.lines().skip(1).map(str::to_owned).collect()
    };
    let sites = ok(&cardwatch_on(DAY, &db, &["export", "sites"]));
    let sites: Vec<&str> = sites
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().expect("site_ods"))
        .collect();
    assert!(sites.len() >= 3, "{sites:?}");

    // 35 days on is within the limit; 36 days on every site is raised, in plain words.
    assert_eq!(stale("2026-12-27"), Vec::<String>::new());
    let raised = stale("2026-12-28");
    assert_eq!(raised.len(), sites.len(), "{raised:#?}");
    for site in &sites {
        let line = raised
            .iter()
            .find(|l| l.starts_with(&format!("site-data-stale/{site},")))
            .unwrap_or_else(|| panic!("{site} not raised: {raised:#?}"));
        assert!(
            line.contains("Cardwatch has not had new card data for")
                && line.contains(&format!("({site}) since 22 November 2026"))
                && line.contains(",urgent,"),
            "{line}"
        );
    }

    // The same cards and certificates again, that day: nothing changes, and the data is fresh.
    let audit_before = ok(&cardwatch_on("2026-12-28", &db, &["audit", "verify"]));
    let again: Vec<&str> = files
        .iter()
        .map(String::as_str)
        .filter(|f| {
            let name = std::path::Path::new(f).file_name();
            name.is_some_and(|n| n == "cards.csv" || n == "certificates.csv")
        })
        .collect();
    assert_eq!(again.len(), 2, "{files:?}");
    let mut import = vec!["import"];
    import.extend(&again);
    ok(&cardwatch_on("2026-12-28", &db, &import));
    assert_eq!(
        ok(&cardwatch_on("2026-12-28", &db, &["audit", "verify"])),
        audit_before,
        "an import that changes nothing adds nothing to the audit chain"
    );
    assert_eq!(stale("2026-12-28"), Vec::<String>::new());
    assert_eq!(
        stale("2027-02-01"),
        Vec::<String>::new(),
        "35 days from the re-import"
    );
    assert_eq!(stale("2027-02-02").len(), sites.len());
}
