//! Cardwatch as an IT team runs it beside other services: `/metrics` checked by Prometheus's own
//! `promtool` on a live scrape, the shipped alert rules checked by `promtool`, every metric the
//! rules and the Grafana dashboard name exported, request ids returned and logged, and JSON logs
//! that carry no personal data through an import, the pages, a triage and the jobs.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    cardwatch, command, demo_files, get, get_as, ok, post_json, request, scratch_db, send_with,
    serve_demo_signed_in, set_cookie, stop, text,
};

fn operations_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/operations")
}

/// Every `cardwatch_…` name in a text.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("cardwatch_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

/// The families a scrape declares, with a histogram's series names.
fn exported(scrape: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in scrape.lines() {
        let mut w = line.split_whitespace();
        if let (Some("#"), Some("TYPE"), Some(name), Some(kind)) =
            (w.next(), w.next(), w.next(), w.next())
        {
            out.insert(name.to_owned());
            if kind == "histogram" {
                for s in ["_bucket", "_sum", "_count"] {
                    out.insert(format!("{name}{s}"));
                }
            }
        }
    }
    out
}

fn body(response: &str) -> &str {
    response.split("\r\n\r\n").nth(1).unwrap_or("")
}

/// `promtool ARGS` with `input` on its standard input; its status and everything it printed.
fn promtool(args: &[&str], input: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus package; scripts/test installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

#[test]
fn the_alert_rules_pass_promtool() {
    let rules = operations_dir().join("cardwatch-alerts.yml");
    let (passed, said) = promtool(&["check", "rules", &rules.display().to_string()], "");
    assert!(passed, "{said}");
    assert!(said.contains("SUCCESS"), "{said}");
}

#[test]
fn a_live_scrape_passes_promtool_and_exports_what_the_rules_and_dashboard_name() {
    let (_tmp, db) = scratch_db();
    let (child, addr, cookie) = serve_demo_signed_in(&db, "2");
    let home = get_as(&addr, "/", &cookie);
    let serial = home
        .1
        .split("href=\"/cards/")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a card on the home page")
        .to_owned();
    let card = get_as(&addr, &format!("/cards/{serial}"), &cookie);
    let missing = get(&addr, "/no-such-page");
    let sent_id = send_with(
        &addr,
        "GET",
        "/healthz",
        &[("X-Request-Id", "proxy-id-42")],
        None,
    );
    let forged_id = send_with(
        &addr,
        "GET",
        "/healthz",
        &[("X-Request-Id", "two words")],
        None,
    );
    // The estate's families come from the health check the home page ran.
    let started = Instant::now();
    let scrape = loop {
        let m = get(&addr, "/metrics");
        if m.1
            .contains("cardwatch_health_check_last_run_timestamp_seconds ")
            || started.elapsed() > Duration::from_secs(60)
        {
            break m;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    stop(child);
    assert_eq!(card.0, 200, "{}", card.1);
    assert_eq!(missing.0, 404);
    assert_eq!(scrape.0, 200);
    let scrape = body(&scrape.1);

    let (passed, said) = promtool(&["check", "metrics"], scrape);
    assert!(
        passed && said.trim().is_empty(),
        "promtool: {said}\n{scrape}"
    );

    // Every family has a HELP line.
    let names = exported(scrape);
    for line in scrape.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).expect("a name");
        assert!(
            scrape.contains(&format!("# HELP {name} ")),
            "{name} has no HELP"
        );
    }
    for line in [
        "cardwatch_http_requests_total{route=\"/cards/{serial}\",method=\"GET\",status=\"2xx\"} 1",
        "cardwatch_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"4xx\"} 1",
        "cardwatch_outbox_messages{channel=\"webhook\",state=\"failed\"} 0",
        "cardwatch_agents_seen{within=\"1h\"} 0",
    ] {
        assert!(scrape.lines().any(|l| l == line), "{line} in\n{scrape}");
    }
    for family in [
        "cardwatch_findings{severity=\"critical\",rule=\"series-retired\"} ",
        "cardwatch_certificates_expiring{purpose=\"signing\",within_days=\"30\"} ",
        "cardwatch_certificates_expired{purpose=\"authentication\"} ",
        "cardwatch_migration_workstations{state=\"blocked\"} ",
        "cardwatch_retired_series_active_cards ",
        "cardwatch_job_consecutive_failures{task=\"digest\"} ",
        "cardwatch_http_request_duration_seconds_bucket{route=\"/\",le=\"+Inf\"} ",
    ] {
        assert!(
            scrape.lines().any(|l| l.starts_with(family)),
            "{family} in\n{scrape}"
        );
    }
    // A route is its template: the card asked for is nowhere in the scrape.
    assert!(!scrape.contains(&serial), "{serial} in\n{scrape}");

    let rules =
        std::fs::read_to_string(operations_dir().join("cardwatch-alerts.yml")).expect("rules");
    let dashboard = std::fs::read_to_string(operations_dir().join("cardwatch-dashboard.json"))
        .expect("dashboard");
    let board: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard JSON");
    let mut exprs = String::new();
    for panel in board["panels"].as_array().expect("panels") {
        for t in panel["targets"].as_array().into_iter().flatten() {
            exprs.push_str(t["expr"].as_str().unwrap_or(""));
            exprs.push('\n');
        }
    }
    assert!(
        names_in(&exprs).len() > 10,
        "the dashboard's queries: {exprs}"
    );
    for (file, named) in [("rules", names_in(&rules)), ("dashboard", names_in(&exprs))] {
        let unknown: Vec<&String> = named.iter().filter(|n| !names.contains(*n)).collect();
        assert!(
            unknown.is_empty(),
            "the {file} name metrics the server does not export: {unknown:?}"
        );
    }

    // A proxy's request id comes back; a made one is given when none (or an unusable one) is sent.
    let id_of = |r: &str| {
        r.lines().find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("x-request-id: ")
                .map(str::to_owned)
        })
    };
    assert_eq!(id_of(&sent_id.1).as_deref(), Some("proxy-id-42"));
    let made = id_of(&forged_id.1).expect("a request id");
    assert!(!made.contains("two"), "{made}");
    assert!(id_of(&home.1).is_some_and(|a| id_of(&card.1).is_some_and(|b| a != b)));
}

/// The first column named `name` of a CSV file: its values.
fn column(file: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("csv");
    let mut rows = text.lines();
    let header: Vec<&str> = rows.next().expect("header").split(',').collect();
    let i = header.iter().position(|h| *h == name).expect("column");
    rows.filter_map(|r| r.split(',').nth(i))
        .map(|v| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

/// `serve --demo` of three practices with the configuration `cfg` and JSON logs written to
/// `log_file`, signed in as the demo's operator: the process, its address and the cookie.
fn serve_logged(db: &str, cfg: &Path, log_file: &Path) -> (Child, String, String) {
    let mut serve = command(db, None);
    json_logging(&mut serve, cfg);
    let mut child = serve
        .args([
            "serve",
            "--demo",
            "--practices",
            "3",
            "--bind",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log_file).expect("log file"))
        .spawn()
        .expect("serve");
    let mut banner = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut banner)
        .expect("banner");
    let addr = banner
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .expect("address")
        .to_owned();
    let password = banner.split("password ").nth(1).expect("password").trim();
    let signed = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&format!("username=demo&password={password}")),
    );
    let cookie = format!(
        "cw_session={}",
        set_cookie(&signed.1, "cw_session").expect("cookie")
    );
    (child, addr, cookie)
}

/// JSON logging, and the most the server's own crates write.
fn json_logging(c: &mut Command, cfg: &Path) {
    c.env(
        "RUST_LOG",
        "info,cardwatch=debug,cardwatch_server=debug,cardwatch_store=debug,cardwatch_core=debug",
    )
    .arg("--config")
    .arg(cfg);
}

#[test]
fn json_logs_follow_each_request_and_name_no_person_card_or_email() {
    let (tmp, db) = scratch_db();
    let files = demo_files(&tmp.path().join("demo"));
    let cfg = tmp.path().join("cardwatch.toml");
    // Email is tried against a port nothing listens on, so a failed send is logged too.
    std::fs::write(
        &cfg,
        "[log]\nformat = \"json\"\n\n[notify]\nsmtp_url = \"smtp://127.0.0.1:9\"\nretries = 1\n",
    )
    .expect("config");
    let mut log = String::new();
    let run = |args: &[&str], log: &mut String| {
        let mut c = command(&db, None);
        json_logging(&mut c, &cfg);
        let out = c.args(args).output().expect("run");
        log.push_str(&text(&out.stderr));
        ok(&out)
    };
    let mut import = vec!["import"];
    import.extend(files.iter().map(String::as_str));
    run(&import, &mut log);

    // The demo's operator on the imported estate (not topped up), its log to a file.
    let log_file = tmp.path().join("serve.log");
    let (child, addr, cookie) = serve_logged(&db, &cfg, &log_file);
    let people = column(&tmp.path().join("demo/people.csv"), "uuid");
    let serials = column(&tmp.path().join("demo/cards.csv"), "card_serial");
    let sites = column(&tmp.path().join("demo/sites.csv"), "site_ods");
    let hosts = column(&tmp.path().join("demo/workstations.csv"), "hostname");
    let mut statuses = Vec::new();
    for path in [
        "/".to_owned(),
        "/findings".to_owned(),
        "/estate/people".to_owned(),
        "/estate/cards".to_owned(),
        "/estate/workstations".to_owned(),
        format!("/people/{}", people[0]),
        format!("/people/{}/export", people[0]),
        format!("/cards/{}", serials[0]),
        format!("/workstations/{}", hosts[0]),
        "/plan".to_owned(),
        "/plan/migration".to_owned(),
        "/incidents".to_owned(),
        "/audit".to_owned(),
        "/reports".to_owned(),
        "/admin/jobs".to_owned(),
        "/admin/agents".to_owned(),
        format!("/cheatsheet?site={}", sites[0]),
        format!("/triage?symptom=cannot-sign&card_serial={}", serials[0]),
        "/api/v1/findings?limit=50".to_owned(),
        format!("/cards/{}X", serials[0]),
        "/metrics".to_owned(),
    ] {
        statuses.push((path.clone(), get_as(&addr, &path, &cookie).0));
    }
    let triage = post_json(
        &addr,
        "/api/v1/triage/next",
        &cookie,
        &format!(
            r#"{{"symptom": "cannot-sign", "card_serial": "{}"}}"#,
            serials[0]
        ),
    );
    let traced = send_with(
        &addr,
        "GET",
        &format!("/cards/{}", serials[1]),
        &[("Cookie", &cookie), ("X-Request-Id", "trace-me-7")],
        None,
    );
    let refused = request(
        &addr,
        "POST",
        "/login",
        None,
        Some("username=demo&password=wrong"),
    );
    stop(child);
    log.push_str(&std::fs::read_to_string(&log_file).expect("log"));
    assert_eq!(triage.0, 200, "{}", triage.1);
    assert_eq!(traced.0, 200);
    assert_eq!(refused.0, 401);
    assert!(
        statuses.iter().filter(|(_, s)| *s == 200).count() >= 19,
        "{statuses:?}"
    );

    // A digest for a practice manager, holders' reminders, and a delivery that fails.
    let mut add = command(&db, None)
        .args(["user", "add", "pm.one", "--name", "Pat Manager"])
        .args(["--role", "practice_manager", "--org", &sites[0]])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("user add");
    writeln!(add.stdin.take().expect("stdin"), "a-long-test-password-1").expect("write");
    assert!(add.wait().expect("wait").success());
    ok(&cardwatch(
        &db,
        &["notify", "prefs", "pm.one", "--email", "pm@example.nhs.uk"],
    ));
    run(&["jobs", "run", "digest"], &mut log);
    run(&["jobs", "run", "reminders"], &mut log);
    let mut deliver = command(&db, None);
    json_logging(&mut deliver, &cfg);
    let delivered = deliver
        .args(["jobs", "run", "deliver"])
        .output()
        .expect("deliver");
    log.push_str(&text(&delivered.stderr));

    // Each log line is one JSON object; a request's lines carry its id and route template.
    let lines: Vec<serde_json::Value> = log
        .lines()
        // The rest are the commands' own words to whoever runs them (`… serving it`); they are
        // searched for personal data below with the log.
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .collect();
    let traced_lines: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["spans"][0]["request_id"] == "trace-me-7")
        .collect();
    assert!(!traced_lines.is_empty(), "no line of the traced request");
    for l in &traced_lines {
        assert_eq!(l["spans"][0]["route"], "/cards/{serial}", "{l}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l["message"] == "sign-in refused" && l["spans"][0]["request_id"].is_string()),
        "the refused sign-in is logged within its request"
    );
    assert!(
        lines.iter().any(|l| l["message"] == "message not sent"),
        "the failed delivery is logged: {log}"
    );

    // Nothing that names a person or their card: holders' names, UUIDs, emails, card serials.
    let demo = tmp.path().join("demo");
    let mut personal: Vec<String> = Vec::new();
    personal.extend(column(&demo.join("people.csv"), "name"));
    personal.extend(column(&demo.join("people.csv"), "uuid"));
    personal.extend(column(&demo.join("people.csv"), "email"));
    personal.extend(column(&demo.join("cards.csv"), "card_serial"));
    assert!(personal.len() > 100, "{}", personal.len());
    let found: Vec<(&String, &str)> = personal
        .iter()
        .filter_map(|p| log.lines().find(|l| l.contains(p.as_str())).map(|l| (p, l)))
        .collect();
    assert!(
        found.is_empty(),
        "{} personal identifiers in the log, first: {:?}",
        found.len(),
        found.first()
    );
}

/// Whether a JSON log line was written inside a span holding `field` = `value`.
fn in_span(line: &serde_json::Value, field: &str, value: &str) -> bool {
    line["spans"]
        .as_array()
        .is_some_and(|spans| spans.iter().any(|s| s[field] == value))
}

/// The store's reader threads and a job's senders log on threads of their own: those lines
/// still name the request or the job run that caused them.
#[test]
fn log_lines_from_worker_threads_carry_the_request_id_or_the_job_run() {
    let (tmp, db) = scratch_db();
    let files = demo_files(&tmp.path().join("demo"));
    let cfg = tmp.path().join("cardwatch.toml");
    std::fs::write(&cfg, "[log]\nformat = \"json\"\n").expect("config");
    let mut import = vec!["import"];
    import.extend(files.iter().map(String::as_str));
    ok(&cardwatch(&db, &import));

    // A job run by hand: its health check reads each kind on a thread of its own.
    let mut digest = command(&db, None);
    json_logging(&mut digest, &cfg);
    let digest = digest
        .args(["jobs", "run", "digest"])
        .output()
        .expect("jobs run");
    ok(&digest);
    let mut log = text(&digest.stderr);

    // No scheduler: its findings job would run the check before the request could.
    let serve_cfg = tmp.path().join("serve.toml");
    std::fs::write(
        &serve_cfg,
        "[log]\nformat = \"json\"\n\n[notify]\nscheduler = false\n",
    )
    .expect("config");
    let log_file = tmp.path().join("serve.log");
    let (child, addr, cookie) = serve_logged(&db, &serve_cfg, &log_file);
    // The first page that needs the findings runs the health check within its request.
    let traced = send_with(
        &addr,
        "GET",
        "/findings",
        &[("Cookie", &cookie), ("X-Request-Id", "worker-trace-9")],
        None,
    );
    stop(child);
    assert_eq!(traced.0, 200);
    log.push_str(&std::fs::read_to_string(&log_file).expect("log"));

    let reads: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}")))
        .filter(|l: &serde_json::Value| {
            l["target"] == "cardwatch_store::estate" && l["message"] == "read"
        })
        .collect();
    let job_reads: Vec<&serde_json::Value> = reads
        .iter()
        .filter(|l| in_span(l, "task", "digest"))
        .collect();
    assert!(!job_reads.is_empty(), "no store read within the job: {log}");
    for l in &job_reads {
        let run = l["spans"][0]["run_id"].as_str().unwrap_or_default();
        assert!(run.starts_with("digest-"), "{l}");
    }
    assert!(
        reads
            .iter()
            .any(|l| in_span(l, "request_id", "worker-trace-9")),
        "no store read within the request: {log}"
    );
}
