//! Agent enrolment over the HTTP API of a real `cardwatch serve`: a one-time token from the
//! CLI, exchanged once for a credential; heartbeats with it; revocation; old agents refused.

mod common;
#[path = "../../agent/tests/softhsm/mod.rs"]
mod softhsm;

use common::{
    body_json, cardwatch, certificate, get, ok, scratch_db, serve_demo, serve_demo_signed_in, stop,
    text,
};

/// A JSON POST with extra headers; (status, whole response).
fn post(addr: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    common::send_with(
        addr,
        "POST",
        path,
        headers,
        Some(("application/json", body)),
    )
}

fn token(db: &str, args: &[&str]) -> String {
    let mut all = vec!["agent", "token"];
    all.extend_from_slice(args);
    ok(&cardwatch(db, &all))
        .lines()
        .last()
        .expect("the token")
        .trim()
        .to_owned()
}

#[test]
fn an_agent_enrols_once_reports_and_is_revoked() {
    let (_tmp, db) = scratch_db();
    let (child, addr) = serve_demo(&db, "1");
    let secret = token(&db, &[]);
    let enrol = |t: &str, version: &str| {
        post(
            &addr,
            "/api/v1/agents/enrol",
            &[],
            &format!(r#"{{"token": "{t}", "hostname": "a10000-ws001", "version": "{version}"}}"#),
        )
    };
    let old = enrol(&secret, "0.0.1");
    assert_eq!(old.0, 426, "{}", old.1);
    assert!(old.1.contains("update the agent"));
    let first = enrol(&secret, "0.1.0");
    assert_eq!(first.0, 201, "{}", first.1);
    let v = body_json(&first.1);
    let credential = v["credential"].as_str().expect("credential").to_owned();
    let agent_id = v["agent_id"].as_str().expect("id").to_owned();
    let again = enrol(&secret, "0.1.0");
    assert_eq!(again.0, 401);
    assert!(
        again.1.contains("used already") && again.1.contains("\"field\":\"token\""),
        "{}",
        again.1
    );
    let bogus = enrol("cw_not-a-token", "0.1.0");
    assert!(bogus.1.contains("not one this server made"), "{}", bogus.1);
    let bad_host = post(
        &addr,
        "/api/v1/agents/enrol",
        &[],
        &format!(
            r#"{{"token": "{}", "hostname": "bad host!", "version": "0.1.0"}}"#,
            token(&db, &[])
        ),
    );
    assert_eq!(bad_host.0, 400);
    assert!(
        bad_host.1.contains("\"field\":\"hostname\""),
        "{}",
        bad_host.1
    );
    // The token is checked before anything else: without a usable one, 401 whatever the body.
    let not_json = post(&addr, "/api/v1/agents/enrol", &[], "{oops");
    assert_eq!(not_json.0, 401, "{}", not_json.1);
    let bogus_old = enrol("cw_not-a-token", "x.y");
    assert_eq!(bogus_old.0, 401, "{}", bogus_old.1);
    let live_bad_version = enrol(&token(&db, &[]), "x.y");
    assert_eq!(live_bad_version.0, 400, "{}", live_bad_version.1);
    assert!(live_bad_version.1.contains("invalid_version"));

    let auth = format!("Agent {credential}");
    let beat = |version: &str| {
        post(
            &addr,
            "/api/v1/agents/heartbeat",
            &[
                ("Authorization", &auth),
                ("X-Cardwatch-Agent-Version", version),
            ],
            "",
        )
    };
    let alive = beat("0.1.2");
    assert_eq!(alive.0, 200, "{}", alive.1);
    assert_eq!(body_json(&alive.1)["agent_id"], agent_id.as_str());
    assert!(body_json(&alive.1)["server_time"].is_string());
    assert_eq!(beat("0.0.9").0, 426);
    assert_eq!(beat("").0, 400, "a request without its version is refused");
    assert_eq!(
        beat("01.1.0").0,
        400,
        "only the version as an agent writes it"
    );
    // The credential is checked before the version: an anonymous caller learns nothing else.
    let anonymous = post(
        &addr,
        "/api/v1/agents/heartbeat",
        &[("X-Cardwatch-Agent-Version", "nonsense")],
        "",
    );
    assert_eq!(anonymous.0, 401, "{}", anonymous.1);
    let forged = post(
        &addr,
        "/api/v1/agents/events",
        &[
            ("Authorization", "Agent cwt_forged"),
            ("X-Cardwatch-Agent-Version", "0.0.1"),
        ],
        "{}",
    );
    assert_eq!(forged.0, 401, "{}", forged.1);
    let listed = ok(&cardwatch(&db, &["agent", "list"]));
    assert!(
        listed.contains(&agent_id) && listed.contains("a10000-ws001") && listed.contains("0.1.2"),
        "{listed}"
    );

    ok(&cardwatch(&db, &["agent", "revoke", &agent_id]));
    let refused = beat("0.1.2");
    assert_eq!(refused.0, 401, "{}", refused.1);
    assert!(refused.1.contains("revoked"));
    let twice = cardwatch(&db, &["agent", "revoke", &agent_id]);
    assert_eq!(twice.status.code(), Some(2));
    assert!(text(&twice.stderr).contains("no live agent"));
    let bad_hours = cardwatch(&db, &["agent", "token", "--hours", "0"]);
    assert_eq!(bad_hours.status.code(), Some(2));
    stop(child);
    assert!(ok(&cardwatch(&db, &["audit", "verify"])).contains("intact"));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// The agent binary, built beside `cardwatch` by a workspace build.
fn agent_bin() -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_BIN_EXE_cardwatch")).with_file_name("cardwatch-agent");
    assert!(
        p.exists(),
        "{} is missing: build the workspace (scripts/test does)",
        p.display()
    );
    p
}

fn agent(args: &[&str]) -> std::process::Output {
    std::process::Command::new(agent_bin())
        .env_remove("CARDWATCH_AGENT_STATE")
        .args(args)
        .output()
        .expect("run cardwatch-agent")
}

/// `cardwatch-agent enrol` with a one-time token over HTTPS pinned to `cert`, as `hostname`.
fn enrol(
    url: &str,
    token: &str,
    cert: &std::path::Path,
    hostname: &str,
    state: &str,
) -> std::process::Output {
    let cert = cert.display().to_string();
    agent(&[
        "enrol",
        "--server",
        url,
        "--token",
        token,
        "--ca-file",
        &cert,
        "--hostname",
        hostname,
        "--state-dir",
        state,
    ])
}

#[test]
fn an_agent_enrols_over_https_with_a_pinned_certificate_and_keeps_its_credential_private() {
    use std::os::unix::fs::PermissionsExt;
    let (tmp, db) = scratch_db();
    let dir = tmp.path();
    let (cert, key) = certificate(dir);
    ok(&cardwatch(&db, &["demo", "--practices", "1"]));
    let port = free_port();
    let server = tls_server(&db, port, &cert, &key);
    let url = format!("https://127.0.0.1:{port}");
    let state = dir.join("state");
    let (state_s, cert_s) = (state.display().to_string(), cert.display().to_string());
    let secret = token(&db, &[]);
    let enrol = |server: &str, with_ca: bool, t: &str| {
        let mut a = vec![
            "enrol",
            "--server",
            server,
            "--token",
            t,
            "--hostname",
            "a10000-ws001",
            "--state-dir",
            &state_s,
        ];
        if with_ca {
            a.extend(["--ca-file", &cert_s]);
        }
        agent(&a)
    };
    let plain = enrol(&url.replace("https://", "http://"), true, &secret);
    assert!(
        text(&plain.stderr).contains("HTTPS only"),
        "{}",
        text(&plain.stderr)
    );
    let unpinned = enrol(&url, false, &secret);
    assert!(
        !unpinned.status.success(),
        "a self-signed server is not trusted without its certificate"
    );
    assert!(
        text(&unpinned.stderr).contains("cannot reach"),
        "{}",
        text(&unpinned.stderr)
    );
    let ok_enrol = enrol(&url, true, &secret);
    assert!(ok_enrol.status.success(), "{}", text(&ok_enrol.stderr));
    assert!(text(&ok_enrol.stdout).contains("enrolled as agent ag_"));
    let file = state.join("agent.json");
    let mode = std::fs::metadata(&file)
        .expect("credential file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "only the agent's user reads its credential");
    let again = enrol(&url, true, &secret);
    assert!(
        text(&again.stderr).contains("used already"),
        "{}",
        text(&again.stderr)
    );
    let beat = agent(&["heartbeat", "--state-dir", &state_s]);
    assert!(beat.status.success(), "{}", text(&beat.stderr));
    assert!(text(&beat.stdout).contains("answered; its time is"));
    let id = ok(&cardwatch(&db, &["agent", "list"]))
        .split_whitespace()
        .next()
        .expect("an agent")
        .to_owned();
    ok(&cardwatch(&db, &["agent", "revoke", &id]));
    let refused = agent(&["heartbeat", "--state-dir", &state_s]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("revoked"),
        "{}",
        text(&refused.stderr)
    );
    let missing = agent(&[
        "heartbeat",
        "--state-dir",
        &dir.join("none").display().to_string(),
    ]);
    assert!(text(&missing.stderr).contains("not enrolled"));
    stop(server);
}

/// Over TLS every answer tells the browser to stay on HTTPS (HSTS); over plain HTTP none does.
#[test]
fn answers_over_tls_carry_strict_transport_security() {
    let (tmp, db) = scratch_db();
    let (cert, key) = certificate(tmp.path());
    ok(&cardwatch(&db, &["demo", "--practices", "1"]));
    let port = free_port();
    let server = tls_server(&db, port, &cert, &key);
    let mut client = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-connect",
            &format!("127.0.0.1:{port}"),
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("openssl s_client");
    use std::io::Write;
    client
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .expect("write");
    let out = client.wait_with_output().expect("s_client");
    stop(server);
    let answer = text(&out.stdout).to_ascii_lowercase();
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
    assert!(
        answer.contains("strict-transport-security: max-age=31536000"),
        "{answer}"
    );
    // Plain HTTP: no HSTS (a browser would ignore it there anyway).
    let (_tmp2, db2) = scratch_db();
    let (child, addr, _cookie) = serve_demo_signed_in(&db2, "1");
    let plain = get(&addr, "/login");
    stop(child);
    assert!(
        !plain
            .1
            .to_ascii_lowercase()
            .contains("strict-transport-security"),
        "{}",
        plain.1
    );
}

/// A TLS server on a given port over `db`, with the test's certificate.
fn tls_server(
    db: &str,
    port: u16,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> std::process::Child {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_cardwatch"))
        .env("RUST_LOG", "warn")
        .args([
            "--database-url",
            db,
            "serve",
            "--bind",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--tls-cert")
        .arg(cert)
        .arg("--tls-key")
        .arg(key)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("banner");
    assert!(line.contains("https://"), "{line}");
    child
}

#[test]
fn reports_wait_in_the_spool_while_the_server_is_down_and_arrive_once() {
    let (tmp, db) = scratch_db();
    let dir = tmp.path();
    let (cert, key) = certificate(dir);
    ok(&cardwatch(&db, &["demo", "--practices", "1"]));
    let port = free_port();
    let url = format!("https://127.0.0.1:{port}");
    let state = dir.join("state").display().to_string();
    let server = tls_server(&db, port, &cert, &key);
    let t = token(&db, &[]);
    let enrolled = enrol(&url, &t, &cert, "a10000-ws001", &state);
    assert!(enrolled.status.success(), "{}", text(&enrolled.stderr));
    let id = ok(&cardwatch(&db, &["agent", "list"]))
        .split_whitespace()
        .next()
        .expect("agent")
        .to_owned();
    let report = |extra: &[&str]| {
        let mut a = vec!["report", "--state-dir", &state, "--backoff-ms", "50"];
        a.extend_from_slice(extra);
        agent(&a)
    };
    let first = report(&[]);
    assert!(
        text(&first.stdout).contains("reported: 1 new event(s), 0"),
        "{}",
        text(&first.stderr)
    );
    stop(server);

    // Server down: each report queues its inventory and keeps it.
    for n in 1..=3 {
        let down = report(&["--retries", "2"]);
        assert!(!down.status.success());
        let err = text(&down.stderr);
        assert!(
            err.contains(&format!("{n} event(s) wait in the spool")),
            "{err}"
        );
        assert!(
            err.contains("trying again in"),
            "retried with backoff: {err}"
        );
    }
    // A spool of at most 3 keeps the newest and says what it dropped.
    let full = report(&["--retries", "1", "--max-spool", "3"]);
    assert!(
        text(&full.stderr).contains("the 2 oldest events were dropped"),
        "{}",
        text(&full.stderr)
    );
    let spool_file = dir.join("state").join("spool.jsonl");
    let queued = std::fs::read_to_string(&spool_file).expect("spool");
    assert_eq!(queued.lines().count(), 3);
    assert!(queued.contains("spool_overflow"));

    // Back up: everything queued arrives, once; a batch sent again adds nothing.
    let server = tls_server(&db, port, &cert, &key);
    let back = report(&[]);
    assert!(
        text(&back.stdout).contains("reported: 4 new event(s), 0"),
        "{}{}",
        text(&back.stdout),
        text(&back.stderr)
    );
    std::fs::write(&spool_file, &queued).expect("restore the old spool");
    let again = report(&[]);
    assert!(
        text(&again.stdout).contains("reported: 1 new event(s), 3 the server already had"),
        "{}",
        text(&again.stdout)
    );
    stop(server);
    let events = ok(&cardwatch(&db, &["agent", "events", &id]));
    assert_eq!(events.lines().count(), 6, "{events}");
    assert_eq!(events.matches("spool_overflow").count(), 1);
}

/// The agent with SoftHSM2's tokens standing in for the inserted cards.
fn agent_with_cards(conf: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(agent_bin())
        .env_remove("CARDWATCH_AGENT_STATE")
        .env("SOFTHSM2_CONF", conf)
        .args(args)
        .output()
        .expect("run cardwatch-agent")
}

/// The second field of the CSV line of `kind` whose first field is `key`, …: the whole line.
fn exported(db: &str, kind: &str, contains: &str) -> Vec<String> {
    ok(&cardwatch(db, &["export", kind]))
        .lines()
        .filter(|l| l.contains(contains))
        .map(str::to_owned)
        .collect()
}

#[test]
fn an_agents_inventory_updates_the_estate_and_its_diagnosis_answers_a_triage() {
    use softhsm::{card, softhsm, SOFTHSM};
    let (tmp, db) = scratch_db();
    let dir = tmp.path();
    let (cert, key) = certificate(dir);
    ok(&cardwatch(&db, &["demo", "--practices", "1"]));
    // A card that logs in but whose signing certificate expired, known to the estate by the
    // serial its middleware reports.
    let conf = softhsm(dir);
    card(
        dir,
        &conf,
        "ASHA",
        &[
            ("auth", "digitalSignature", 300, "sha256"),
            ("sign", "nonRepudiation", -10, "sha256"),
        ],
    );
    let listed = agent_with_cards(&conf, &["certificates", "--module", SOFTHSM, "--json"]);
    let certs: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    let serial = certs[0]["token_serial"]
        .as_str()
        .expect("serial")
        .to_ascii_uppercase();
    let holder = ok(&cardwatch(&db, &["export", "people"]))
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').next())
        .expect("a person")
        .to_owned();
    let cards = dir.join("cards.csv");
    std::fs::write(
        &cards,
        format!("card_serial,holder_uuid,series,status,issued_on,last_used_on\n{serial},{holder},9,active,2025-01-01,\n"),
    )
    .expect("cards.csv");
    ok(&cardwatch(&db, &["import", &cards.display().to_string()]));

    let port = free_port();
    let url = format!("https://127.0.0.1:{port}");
    let server = tls_server(&db, port, &cert, &key);
    let unknown_site = cardwatch(&db, &["agent", "token", "--site", "Z99999"]);
    assert_eq!(unknown_site.status.code(), Some(2));
    assert!(text(&unknown_site.stderr).contains("no site Z99999"));
    let t = token(&db, &["--site", "A10000"]);
    let state = dir.join("state").display().to_string();
    let enrolled = enrol(&url, &t, &cert, "NEW-WS-01", &state);
    assert!(enrolled.status.success(), "{}", text(&enrolled.stderr));
    let gemalto = dir.join("gemalto.txt");
    std::fs::write(&gemalto, "7.1.0\n").expect("gemalto");
    std::fs::write(dir.join("oberthur.txt"), "6.2.0.4\n").expect("oberthur");
    let probes = dir.join("probes.toml");
    std::fs::write(
        &probes,
        format!(
            "[[software]]\ncomponent = \"oberthur-middleware\"\nfile = \"{}\"\n\n\
             [[software]]\ncomponent = \"gemalto-middleware\"\nfile = \"{}\"\n\n\
             [credential_management]\nports = [{}]\n",
            dir.join("oberthur.txt").display(),
            gemalto.display(),
            free_port()
        ),
    )
    .expect("probes");
    let probes = probes.display().to_string();
    let report = || {
        let out = agent_with_cards(
            &conf,
            &[
                "report",
                "--state-dir",
                &state,
                "--module",
                SOFTHSM,
                "--probes",
                &probes,
            ],
        );
        assert!(
            out.status.success(),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    };
    report();

    // The new workstation (host names are kept in lower case) stands at the token's site with its OS; its software, its readers
    // and the card's certificates are in the estate.
    let ws = exported(&db, "workstations", "new-ws-01");
    assert_eq!(
        ws.len(),
        1,
        "{ws:?}\n{}",
        ok(&cardwatch(&db, &["agent", "list", "--json"]))
    );
    assert!(
        ws[0].starts_with("new-ws-01,A10000,") && ws[0].contains(",broad,"),
        "{ws:?}"
    );
    // What only an import says — the applications used there — stays as imported when the
    // agent reports again.
    let apps = dir.join("workstations.csv");
    std::fs::write(
        &apps,
        "hostname,site_ods,update_ring,applications\nnew-ws-01,A10000,broad,emis-web eps\n",
    )
    .expect("write");
    ok(&cardwatch(&db, &["import", apps.to_str().expect("path")]));
    report();
    let ws = exported(&db, "workstations", "new-ws-01");
    assert!(ws[0].ends_with(",emis-web eps"), "{ws:?}");
    let sw = exported(&db, "software", "new-ws-01").join("\n");
    assert!(sw.contains("new-ws-01,oberthur-middleware,6.2.0.4"), "{sw}");
    assert!(sw.contains("new-ws-01,gemalto-middleware,7.1.0"), "{sw}");
    let readers = exported(&db, "readers", "new-ws-01/");
    assert!(!readers.is_empty(), "the virtual readers are recorded");
    let signing = exported(&db, "certificates", &format!("{serial},signing"));
    assert_eq!(signing.len(), 1, "{signing:?}");
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&cardwatch(&db, &["agent", "list", "--json"]))).expect("json");
    let note = listed[0]["inventory_note"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        note.starts_with("new-ws-01: ") && note.contains("added"),
        "{note}"
    );
    assert!(
        listed[0]["clock_offset"]
            .as_i64()
            .is_some_and(|o| o.abs() < 60),
        "the report carried the clock's offset and the server kept it: {listed}"
    );
    let audit = ok(&cardwatch(&db, &["audit", "verify"]));
    assert!(audit.contains("intact"), "{audit}");

    // Gemalto uninstalled: the next inventory removes it; nothing else changes.
    std::fs::remove_file(&gemalto).expect("uninstall");
    report();
    let sw = exported(&db, "software", "new-ws-01").join("\n");
    assert!(!sw.contains("gemalto"), "{sw}");
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&cardwatch(&db, &["agent", "list", "--json"]))).expect("json");
    let note = listed[0]["inventory_note"].as_str().unwrap_or_default();
    assert!(
        note.contains("1 uninstalled component(s) removed"),
        "{note}"
    );

    // The agent's diagnosis answers a triage on that workstation: the expired signing
    // certificate is seen, not asked.
    let diagnosed = agent_with_cards(
        &conf,
        &[
            "diagnose",
            "--symptom",
            "cannot-sign",
            "--state-dir",
            &state,
            "--module",
            SOFTHSM,
            "--probes",
            &probes,
        ],
    );
    assert!(
        text(&diagnosed.stderr).contains("the diagnosis is reported"),
        "{}",
        text(&diagnosed.stderr)
    );
    let triage = ok(&cardwatch(
        &db,
        &[
            "triage",
            "--symptom",
            "cannot-sign",
            "--hostname",
            "NEW-WS-01",
            "--json",
        ],
    ));
    assert!(
        triage.contains("not asked: the agent on NEW-WS-01 found the signing certificate"),
        "{triage}"
    );

    // A signing self-test's outcome is reported; the PIN never is.
    let id = listed[0]["id"].as_str().expect("id").to_owned();
    let mut tested = std::process::Command::new(agent_bin())
        .env("SOFTHSM2_CONF", &conf)
        .args([
            "diagnose",
            "--sign-test",
            "--state-dir",
            &state,
            "--module",
            SOFTHSM,
        ])
        .args(["--probes", &probes])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("diagnose");
    {
        use std::io::Write;
        let mut stdin = tested.stdin.take().expect("stdin");
        stdin.write_all(b"000000\n").expect("pin");
    }
    let tested = tested.wait_with_output().expect("diagnose");
    assert!(!tested.status.success());
    assert!(
        text(&tested.stderr).contains("did not accept the passcode"),
        "{}",
        text(&tested.stderr)
    );
    let events = ok(&cardwatch(&db, &["agent", "events", &id]));
    let outcome = events
        .lines()
        .find(|l| l.contains("\"signing_test\""))
        .unwrap_or_else(|| panic!("a signing_test event in {events}"));
    assert!(
        outcome.contains("\"passed\":false")
            && outcome.contains("\"stage\":\"pin\"")
            && outcome.contains("passcode"),
        "{outcome}"
    );
    assert!(
        !events.contains("000000"),
        "the PIN never leaves the workstation"
    );

    // The service: enrolled, it sends its inventory at once and as a heartbeat.
    let inventories = || {
        ok(&cardwatch(
            &db,
            &["agent", "events", &id, "--limit", "1000"],
        ))
        .matches("\"kind\":\"inventory\"")
        .count()
    };
    let before = inventories();
    let mut service = std::process::Command::new(agent_bin())
        .env("SOFTHSM2_CONF", &conf)
        .args([
            "run",
            "--state-dir",
            &state,
            "--module",
            SOFTHSM,
            "--probes",
            &probes,
        ])
        .args(["--interval", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while inventories() < before + 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let _ = service.kill();
    let _ = service.wait();
    assert!(inventories() >= before + 2, "two heartbeats arrived");
    stop(server);
}

#[test]
fn administrators_make_tokens_and_revoke_agents_on_the_agents_page() {
    use common::{csrf_of, form, get_as, request, serve_demo_signed_in};
    let (_tmp, db) = scratch_db();
    let (child, addr, admin) = serve_demo_signed_in(&db, "1");
    let (status, page) = get_as(&addr, "/admin/agents", &admin);
    assert_eq!(status, 200);
    assert!(page.contains("No agent has enrolled yet"), "{page}");
    let csrf = csrf_of(&page);
    let post = |path: &str, pairs: &[(&str, &str)]| {
        request(&addr, "POST", path, Some(&admin), Some(&form(pairs)))
    };
    let made = post(
        "/admin/agents/token",
        &[("csrf", &csrf), ("site", "a10000"), ("hours", "2")],
    );
    let secret = made
        .1
        .split("shown only now: ")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("the token")
        .trim()
        .to_owned();
    for (pairs, want) in [
        (
            vec![("csrf", csrf.as_str()), ("hours", "0")],
            "as a whole number from 1 to 720",
        ),
        (
            vec![("csrf", csrf.as_str()), ("hours", "2"), ("site", "Z99999")],
            "There is no site Z99999",
        ),
        (
            vec![
                ("csrf", csrf.as_str()),
                ("hours", "2"),
                ("site", "not an ods!"),
            ],
            "Enter the site code (ODS code)",
        ),
    ] {
        let (status, body) = post("/admin/agents/token", &pairs);
        assert_eq!(status, 400);
        assert!(body.contains(want), "{want}: {body}");
    }
    let forged = post("/admin/agents/token", &[("csrf", "nope"), ("hours", "2")]);
    assert_eq!(forged.0, 403);

    let (status, enrolled) = post_json_agent(&addr, &secret, "a10000-ws009");
    assert_eq!(status, 201, "{enrolled}");
    let (_, page) = get_as(&addr, "/admin/agents", &admin);
    assert!(
        page.contains("a10000-ws009") && page.contains("A10000"),
        "{page}"
    );
    let (_, api) = get_as(&addr, "/api/v1/agents", &admin);
    let v = body_json(&api);
    let id = v["agents"][0]["id"].as_str().expect("id").to_owned();
    assert_eq!(v["agents"][0]["site_ods"], "A10000");

    let revoked = post("/admin/agents/revoke", &[("csrf", &csrf), ("id", &id)]);
    assert!(revoked.1.contains("is revoked"), "{}", revoked.1);
    let again = post("/admin/agents/revoke", &[("csrf", &csrf), ("id", &id)]);
    assert!(again.1.contains("no live agent"), "{}", again.1);
    let (_, page) = get_as(&addr, "/admin/agents", &admin);
    // When it was revoked, written out: "Revoked on 5 December 2026 at 09:41".
    let revoked_on = page
        .split("Revoked on ")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("when the agent was revoked");
    let words: Vec<&str> = revoked_on.split_whitespace().collect();
    assert!(
        words.len() == 5 && words[2].starts_with("20") && words[3] == "at",
        "{revoked_on}"
    );
    stop(child);
    let audit = ok(&cardwatch(&db, &["audit", "verify"]));
    assert!(audit.contains("intact"), "{audit}");
}

/// An agent's enrolment request with a token (over plain HTTP: the server takes it; the agent
/// itself only sends HTTPS).
fn post_json_agent(addr: &str, token: &str, hostname: &str) -> (u16, String) {
    post(
        addr,
        "/api/v1/agents/enrol",
        &[],
        &format!(r#"{{"token":"{token}","hostname":"{hostname}","version":"0.1.0"}}"#),
    )
}

/// An agent's inventory naming the programs installed (as Windows lists them) puts the
/// catalogue's applications on its workstation, and the move to Smartcard Connect sees them: a
/// workstation whose agent saw EMIS Web is held up by it; once the program is gone the next
/// inventory removes it (audited) and the workstation is planned. An inventory without a
/// program list (an older agent) removes nothing.
#[test]
fn installed_programs_reported_by_an_agent_fill_the_workstations_applications() {
    let (_tmp, db) = scratch_db();
    let (child, addr) = serve_demo(&db, "1");
    let t = token(&db, &["--site", "A10000"]);
    let enrolled = post_json_agent(&addr, &t, "NEW-WS-02");
    assert_eq!(enrolled.0, 201, "{}", enrolled.1);
    let credential = body_json(&enrolled.1)["credential"]
        .as_str()
        .expect("credential")
        .to_owned();
    let auth = format!("Agent {credential}");
    let send = |n: u32, programs: Option<&[(&str, &str)]>| {
        let mut data = serde_json::json!({
            "hostname": "NEW-WS-02",
            "agent_version": "0.1.0",
            "os": null,
            "readers": null,
            "certificates": null,
            "software": [{"component": "identity-agent", "version": "2.4.10.0", "source": "registry: NHS Identity Agent"}],
            "probed": ["identity-agent"],
        });
        if let Some(list) = programs {
            data["programs"] = list
                .iter()
                .map(|(name, version)| serde_json::json!({"name": name, "version": version}))
                .collect();
        }
        let body = serde_json::json!({"events": [{
            "id": format!("inventory-{n}"),
            "at": format!("2026-12-06T09:0{n}:00Z"),
            "kind": "inventory",
            "data": data,
        }]});
        let answer = post(
            &addr,
            "/api/v1/agents/events",
            &[
                ("Authorization", &auth),
                ("X-Cardwatch-Agent-Version", "0.1.0"),
            ],
            &body.to_string(),
        );
        assert_eq!(answer.0, 200, "{}", answer.1);
    };
    let software = || exported(&db, "software", "new-ws-02,").join("\n");
    let state = || {
        let plan: serde_json::Value = serde_json::from_str(&ok(&cardwatch(
            &db,
            &["plan", "migration", "--format", "json"],
        )))
        .expect("json");
        plan["plan"]["sites"]
            .as_array()
            .expect("sites")
            .iter()
            .flat_map(|s| s["machines"].as_array().expect("machines").iter())
            .find(|m| m["hostname"] == "new-ws-02")
            .cloned()
            .unwrap_or_else(|| panic!("new-ws-02 in {plan}"))
    };
    send(
        1,
        Some(&[
            ("Microsoft Edge", "131.0.2903.86"),
            ("EMIS Web Health Care System", "9.12.4"),
        ]),
    );
    let sw = software();
    assert!(sw.contains("new-ws-02,emis-web,9.12.4"), "{sw}");
    assert!(
        !sw.to_lowercase().contains("edge"),
        "only the catalogue's applications: {sw}"
    );
    let held = state();
    assert_eq!(held["state"], "blocked", "{held}");
    assert_eq!(held["by"][0], "EMIS Web (readiness unconfirmed)", "{held}");
    // An older agent's inventory, with no program list: the application stays.
    send(2, None);
    assert!(software().contains("new-ws-02,emis-web,9.12.4"));
    // EMIS Web uninstalled: the next list no longer names it, so it goes, and the machine moves.
    send(3, Some(&[("Microsoft Edge", "131.0.2903.86")]));
    let sw = software();
    assert!(!sw.contains("emis-web"), "{sw}");
    assert!(sw.contains("new-ws-02,identity-agent,2.4.10.0"), "{sw}");
    assert_eq!(state()["state"], "planned");
    stop(child);
    let audit = ok(&cardwatch(&db, &["audit", "show", "--limit", "1000000"]));
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"delete\"") && l.contains("emis-web")),
        "the removal is audited"
    );
    assert!(ok(&cardwatch(&db, &["audit", "verify"])).contains("intact"));
}

/// How long the oldest event of an agent's batch waited in its spool reaches `/metrics` as the
/// largest over the agents, with no label: 0 before any batch, then the wait of an event kept
/// two hours while the server was unreachable.
#[test]
fn the_longest_an_agents_spooled_event_waited_is_a_metric() {
    let (_tmp, db) = scratch_db();
    let (child, addr) = serve_demo(&db, "1");
    let spool_metric = || {
        let (status, page) = get(&addr, "/metrics");
        assert_eq!(status, 200, "{page}");
        page.lines()
            .find_map(|l| l.strip_prefix("cardwatch_agent_spool_oldest_seconds "))
            .unwrap_or_else(|| panic!("no spool metric in {page}"))
            .trim()
            .parse::<u64>()
            .expect("a whole number of seconds")
    };
    assert_eq!(spool_metric(), 0, "no batch yet");
    let enrolled = post_json_agent(&addr, &token(&db, &["--site", "A10000"]), "SPOOL-WS-01");
    assert_eq!(enrolled.0, 201, "{}", enrolled.1);
    let auth = format!(
        "Agent {}",
        body_json(&enrolled.1)["credential"]
            .as_str()
            .expect("credential")
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let at = |ago: i64| cardwatch_core::date::Timestamp::from_unix(now - ago).to_string();
    let body = serde_json::json!({"events": [
        {"id": "old", "at": at(7200), "kind": "card_removed", "data": {}},
        {"id": "new", "at": at(0), "kind": "card_inserted", "data": {}},
    ]});
    let sent = post(
        &addr,
        "/api/v1/agents/events",
        &[
            ("Authorization", &auth),
            ("X-Cardwatch-Agent-Version", "0.1.0"),
        ],
        &body.to_string(),
    );
    assert_eq!(sent.0, 200, "{}", sent.1);
    let waited = spool_metric();
    stop(child);
    assert!((7200..7200 + 120).contains(&waited), "{waited}");
}

/// The alert "agents silent at a site's hours" reads two counts from `/metrics`: sites inside
/// their own core hours (UK local time) with agents, and those whose agents have all been quiet
/// for an hour. Two demo practices open Mon-Fri 08:00-18:30, one agent each, enrolled at 08:00
/// BST on a Monday (07:00 UTC, before opening by UTC); at 10:00 BST both silent, then one reports
/// and, once the server has read the sites again (a minute at most), only the other is silent.
#[test]
fn a_site_whose_agents_are_quiet_for_an_hour_in_its_core_hours_is_counted_silent() {
    let (_tmp, db) = scratch_db();
    let serve_at = |at: &str| {
        let mut serve = common::command(&db, Some(at));
        serve.args([
            "serve",
            "--demo",
            "--practices",
            "2",
            "--bind",
            "127.0.0.1:0",
        ]);
        common::spawn_serving(serve)
    };
    let sites = |addr: &str| -> (u64, u64) {
        let (status, page) = get(addr, "/metrics");
        assert_eq!(status, 200, "{page}");
        let value = |name: &str| {
            page.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("no {name} in {page}"))
                .trim()
                .parse::<u64>()
                .expect("a count")
        };
        (
            value("cardwatch_sites_open_with_agents "),
            value("cardwatch_sites_agents_silent "),
        )
    };
    let (child, addr, _) = serve_at("2026-07-06T07:00:00Z");
    let mut credentials = Vec::new();
    for (site, host) in [("A10000", "a10000-ws001"), ("A10001", "a10001-ws001")] {
        let made = ok(&common::cardwatch_on(
            "2026-07-06T07:00:00Z",
            &db,
            &["agent", "token", "--site", site],
        ));
        let token = made.lines().last().expect("the token").trim().to_owned();
        let enrolled = post_json_agent(&addr, &token, host);
        assert_eq!(enrolled.0, 201, "{}", enrolled.1);
        credentials.push(
            body_json(&enrolled.1)["credential"]
                .as_str()
                .expect("credential")
                .to_owned(),
        );
    }
    let at_opening = sites(&addr);
    stop(child);
    assert_eq!(
        at_opening,
        (2, 0),
        "both open at 08:00 BST, just heard from"
    );

    // Two hours on, both quiet: the first scrape reads the sites at once.
    let (child, addr, _) = serve_at("2026-07-06T09:00:00Z");
    let both_quiet = sites(&addr);
    let body = serde_json::json!({"events": [
        {"id": "e1", "at": "2026-07-06T09:00:00Z", "kind": "card_inserted", "data": {}},
    ]});
    let sent = post(
        &addr,
        "/api/v1/agents/events",
        &[
            ("Authorization", &format!("Agent {}", credentials[0])),
            ("X-Cardwatch-Agent-Version", "0.1.0"),
        ],
        &body.to_string(),
    );
    // Later scrapes use that read and refresh it in the background once it is a minute old.
    let cached = sites(&addr);
    let started = std::time::Instant::now();
    let later = loop {
        let now = sites(&addr);
        if now != cached || started.elapsed() > std::time::Duration::from_secs(120) {
            break now;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let waited = started.elapsed();
    stop(child);
    assert_eq!(sent.0, 200, "{}", sent.1);
    assert_eq!(
        both_quiet,
        (2, 2),
        "both agents last reported two hours ago"
    );
    assert_eq!(cached, (2, 2), "the read a second old is used");
    assert_eq!(later, (2, 1), "A10001's agent last reported two hours ago");
    assert!(
        waited < std::time::Duration::from_secs(70),
        "the read is refreshed once a minute old: {waited:?}"
    );
}

/// The agent's own inventory carries the installed programs — here from a programs file, as
/// Linux has no uninstall keys — and the workstation's page lists the catalogue's applications
/// found among them. An inventory with no list (the agent on Linux without a file) leaves them;
/// an empty list removes them, audited: why the agent never sends a list it could not read.
#[test]
fn the_programs_an_agent_reports_put_applications_on_the_workstations_page() {
    let (tmp, db) = scratch_db();
    let dir = tmp.path();
    let (cert, key) = certificate(dir);
    ok(&cardwatch(&db, &["demo", "--practices", "1"]));
    let port = free_port();
    let server = tls_server(&db, port, &cert, &key);
    let url = format!("https://127.0.0.1:{port}");
    let state = dir.join("state").display().to_string();
    let t = token(&db, &["--site", "A10000"]);
    let enrolled = enrol(&url, &t, &cert, "NEW-WS-07", &state);
    assert!(enrolled.status.success(), "{}", text(&enrolled.stderr));
    let list = dir.join("programs.txt");
    let probes = |name: &str, programs: bool| {
        let path = dir.join(name);
        let text = if programs {
            format!("[programs]\nfile = {:?}\n", list.display().to_string())
        } else {
            String::new()
        };
        std::fs::write(&path, text).expect("probes");
        path.display().to_string()
    };
    let (listed, unlisted) = (probes("listed.toml", true), probes("unlisted.toml", false));
    let report = |probes: &str| {
        let out = agent(&[
            "report",
            "--state-dir",
            &state,
            "--backoff-ms",
            "50",
            "--probes",
            probes,
        ]);
        assert!(
            text(&out.stdout).contains("reported: 1 new event(s)"),
            "{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    };
    let software = || exported(&db, "software", "new-ws-07,").join("\n");

    std::fs::write(
        &list,
        "EMIS Web Health Care System\t9.12.4\r\nMicrosoft Edge\t131.0.2903.86\r\n",
    )
    .expect("list");
    report(&listed);
    let sw = software();
    assert!(sw.contains("new-ws-07,emis-web,9.12.4"), "{sw}");
    // No list: nothing is taken as removed.
    report(&unlisted);
    assert!(software().contains("new-ws-07,emis-web,9.12.4"));
    stop(server);

    let (child, addr, cookie) = serve_demo_signed_in(&db, "1");
    let (status, page) = common::get_as(&addr, "/workstations/new-ws-07", &cookie);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Applications</dt><dd class=\"nhsuk-summary-list__value\">EMIS Web</dd>"),
        "{page}"
    );
    stop(child);

    // An empty list says nothing is installed: the application goes, audited.
    let server = tls_server(&db, port, &cert, &key);
    std::fs::write(&list, "# nothing installed\r\n").expect("list");
    report(&listed);
    stop(server);
    assert!(!software().contains("emis-web"), "{}", software());
    let audit = ok(&cardwatch(&db, &["audit", "show", "--limit", "1000000"]));
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"delete\"") && l.contains("new-ws-07") && l.contains("emis-web")),
        "the removal is audited"
    );
    assert!(ok(&cardwatch(&db, &["audit", "verify"])).contains("intact"));
}
