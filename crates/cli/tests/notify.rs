//! Proactive work with real parts: a real SMTP server (aiosmtpd) on loopback, a real HTTP
//! webhook receiver that checks signatures with Python's own HMAC, and several `cardwatch serve`
//! processes sharing one PostgreSQL database.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{
    cardwatch, free_port, get, header, ok, pg_database, request, stop, store_in, text, PgDatabase,
    Smtp,
};

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/notify");

/// The webhook receiver, checking signatures with `secret` and logging each request.
struct Receiver {
    child: Child,
    log: PathBuf,
    url: String,
}

impl Receiver {
    fn start(secret: &str, fail: u32, log: PathBuf) -> Receiver {
        let mut child = Command::new("/usr/bin/python3")
            .arg(format!("{SCRIPTS}/hook_receiver.py"))
            .args(["--secret", secret, "--fail", &fail.to_string(), "--out"])
            .arg(&log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ready");
        let port = line.split_whitespace().nth(1).expect("port").to_owned();
        Receiver {
            child,
            log,
            url: format!("http://127.0.0.1:{port}/hook"),
        }
    }

    /// Every request so far, as the receiver logged it.
    fn requests(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Quoted-printable undone, enough to read links in the parts.
fn unqp(s: &str) -> String {
    let joined = s.replace("=\r\n", "").replace("=\n", "");
    let mut out = Vec::new();
    let b = joined.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A demo estate in the test's store (`store_in`) with a practice manager who wants digests.
fn estate(dir: &Path) -> (Option<PgDatabase>, String) {
    let (store, db) = store_in(dir);
    ok(&cardwatch(
        &db,
        &["demo", "--practices", "3", "--seed", "9"],
    ));
    subscriber(&db);
    (store, db)
}

fn subscriber(db: &str) {
    let mut add = Command::new(env!("CARGO_BIN_EXE_cardwatch"))
        .env("RUST_LOG", "warn")
        .args([
            "--database-url",
            db,
            "user",
            "add",
            "pm.one",
            "--name",
            "Pat Manager",
        ])
        .args(["--role", "practice_manager", "--org", "A10000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    {
        use std::io::Write;
        let mut stdin = add.stdin.take().expect("stdin");
        writeln!(stdin, "a-long-test-password-1").expect("write");
    }
    assert!(add.wait().expect("wait").success());
    ok(&cardwatch(
        db,
        &["notify", "prefs", "pm.one", "--email", "pm@example.nhs.uk"],
    ));
}

fn config(dir: &Path, body: &str) -> String {
    let path = dir.join("cardwatch.toml");
    std::fs::write(&path, body).expect("config");
    path.display().to_string()
}

fn with_config(db: &str, cfg: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--config", cfg];
    all.extend_from_slice(args);
    cardwatch(db, &all)
}

fn jobs_json(db: &str) -> serde_json::Value {
    serde_json::from_str(&ok(&cardwatch(
        db,
        &["jobs", "list", "--limit", "500", "--json"],
    )))
    .expect("json")
}

#[test]
fn digests_and_reminders_arrive_with_both_parts_and_a_working_unsubscribe_link() {
    let dir = tempfile::tempdir().expect("dir");
    let (_store, db) = estate(dir.path());
    let port = free_port();
    let smtp = Smtp::start(port, &dir.path().join("mail"), &[]);
    let web = free_port();
    let cfg = config(
        dir.path(),
        &format!(
            "[notify]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nfrom = \"Cardwatch <cardwatch@example.nhs.uk>\"\npublic_url = \"http://127.0.0.1:{web}\"\n"
        ),
    );
    let digest = ok(&with_config(&db, &cfg, &["jobs", "run", "digest"]));
    assert!(digest.contains("digest: 1 new messages"), "{digest}");
    let reminders = ok(&with_config(&db, &cfg, &["jobs", "run", "reminders"]));
    let sent = ok(&with_config(&db, &cfg, &["jobs", "run", "deliver"]));
    let n: usize = reminders
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a count");
    assert!(n > 0, "{reminders}");
    assert!(
        sent.contains(&format!("sent {}, failed 0", n + 1)),
        "{sent}"
    );
    let mail = smtp.messages();
    assert_eq!(mail.len(), n + 1);

    let (to, raw) = mail
        .iter()
        .find(|(_, r)| header(r, "Subject").is_some_and(|s| s.starts_with("Cardwatch digest")))
        .expect("the digest");
    assert_eq!(to, "pm@example.nhs.uk");
    assert_eq!(
        header(raw, "From"),
        Some("Cardwatch <cardwatch@example.nhs.uk>")
    );
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(raw.contains("Content-Type: text/plain") && raw.contains("Content-Type: text/html"));
    let body = unqp(raw);
    // Only the manager's own organisation's findings.
    assert!(body.contains(" at A10000 ("), "{body}");
    assert!(
        body.contains(" at A10000001 ("),
        "the practice's branch site: {body}"
    );
    assert!(
        !body.contains(" at A10001 "),
        "another organisation's finding: {body}"
    );
    let link = format!("http://127.0.0.1:{web}/unsubscribe/");
    let secret = body
        .split(&link)
        .nth(1)
        .and_then(|r| r.split(|c: char| c.is_whitespace() || c == '"').next())
        .expect("an unsubscribe link")
        .to_owned();
    assert!(body.contains(&format!("http://127.0.0.1:{web}/findings")));

    // Reminders go to holders, each with its own plain words.
    let reminder = mail
        .iter()
        .find(|(_, r)| header(r, "Subject").is_some_and(|s| s.contains("certificate: renew by")))
        .expect("a reminder");
    assert!(unqp(&reminder.1).contains("Never share your card or passcode"));
    // Running the jobs again sends nothing twice.
    ok(&with_config(&db, &cfg, &["jobs", "run", "reminders"]));
    ok(&with_config(&db, &cfg, &["jobs", "run", "deliver"]));
    assert_eq!(
        smtp.messages().len(),
        n + 1,
        "reminders are sent once per stage"
    );
    let ids: HashSet<String> = smtp
        .messages()
        .iter()
        .map(|(_, r)| header(r, "Message-ID").unwrap_or("").to_owned())
        .collect();
    assert_eq!(ids.len(), n + 1, "every message its own Message-ID");

    // The link works in a browser: a page that asks, and a button that stops the digests.
    let mut server = Command::new(env!("CARGO_BIN_EXE_cardwatch"))
        .env("RUST_LOG", "warn")
        .args(["--database-url", &db, "--config", &cfg, "serve"])
        .args(["--bind", &format!("127.0.0.1:{web}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("banner");
    let addr = format!("127.0.0.1:{web}");
    let (status, page) = get(&addr, &format!("/unsubscribe/{secret}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("pm@example.nhs.uk") && page.contains("Stop sending them"));
    assert_eq!(get(&addr, "/unsubscribe/not-a-secret").0, 404);
    let (status, page) = request(&addr, "POST", &format!("/unsubscribe/{secret}"), None, None);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Digests stopped"));
    stop(server);
    let prefs = ok(&cardwatch(&db, &["notify", "list"]));
    assert!(prefs.contains(" off "), "{prefs}");
    let audit = ok(&cardwatch(&db, &["audit", "verify"]));
    assert!(audit.contains("intact"), "{audit}");
    // Off means off.
    let again = ok(&with_config(&db, &cfg, &["jobs", "run", "digest"]));
    assert!(again.contains("0 new messages"), "{again}");
}

#[test]
fn a_relay_that_refuses_or_vanishes_mid_batch_gets_every_message_once_when_it_returns() {
    let dir = tempfile::tempdir().expect("dir");
    let (_store, db) = estate(dir.path());
    let port = free_port();
    let cfg = config(
        dir.path(),
        &format!(
            "[notify]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nretry_base_seconds = 1\nretries = 20\n"
        ),
    );
    ok(&with_config(&db, &cfg, &["jobs", "run", "digest"]));
    ok(&with_config(&db, &cfg, &["jobs", "run", "reminders"]));
    let total = jobs_json(&db)["outbox"]["pending"]
        .as_u64()
        .expect("pending") as usize;
    assert!(total > 3);

    // Refused: nothing is lost, everything waits for a retry.
    let refusing = Smtp::start(port, &dir.path().join("refused"), &["--refuse"]);
    let out = ok(&with_config(&db, &cfg, &["jobs", "run", "deliver"]));
    // Each message fails at least once (a retry due within the same run may fail again).
    let failed: usize = out
        .split("sent 0, failed ")
        .nth(1)
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(failed >= total, "{out}");
    assert_eq!(
        jobs_json(&db)["outbox"]["pending"].as_u64(),
        Some(total as u64)
    );
    assert!(refusing.messages().is_empty());
    drop(refusing);

    // A slow relay that disappears part-way through a batch.
    let mail = dir.path().join("mail");
    std::thread::sleep(Duration::from_millis(1200));
    let slow = Smtp::start(port, &mail, &["--delay-rcpt", "0.3"]);
    let mut deliver = Command::new(env!("CARGO_BIN_EXE_cardwatch"))
        .env("RUST_LOG", "warn")
        .args([
            "--database-url",
            &db,
            "--config",
            &cfg,
            "jobs",
            "run",
            "deliver",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("deliver");
    let started = Instant::now();
    while slow.messages().len() < 2 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(slow);
    let status = deliver.wait().expect("wait");
    assert!(status.success(), "a failed send is not a failed job");
    let first = std::fs::read_dir(&mail).expect("mail").count();
    assert!(
        first >= 2 && first < total,
        "vanished mid-batch: {first} of {total}"
    );

    // Back again: the rest arrive, and nothing arrives twice.
    std::thread::sleep(Duration::from_millis(2500));
    let smtp = Smtp::start(port, &mail, &[]);
    for _ in 0..20 {
        ok(&with_config(&db, &cfg, &["jobs", "run", "deliver"]));
        if smtp.messages().len() >= total {
            break;
        }
        std::thread::sleep(Duration::from_millis(1100));
    }
    let got = smtp.messages();
    let keys: Vec<String> = got
        .iter()
        .map(|(_, r)| header(r, "Message-ID").unwrap_or("").to_owned())
        .collect();
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "a message arrived twice");
    assert_eq!(got.len(), total, "every message arrived");
    let j = jobs_json(&db);
    assert_eq!(j["outbox"]["sent"].as_u64(), Some(total as u64), "{j}");
}

#[test]
fn webhooks_are_signed_retried_and_logged() {
    let dir = tempfile::tempdir().expect("dir");
    let (_store, db) = estate(dir.path());
    let receiver = Receiver::start("shared-secret-1", 1, dir.path().join("hooks.jsonl"));
    let url = receiver.url.clone();
    let cfg = config(dir.path(), "[notify]\nretry_base_seconds = 1\n");

    // Bad input is refused with what to do.
    let bad = cardwatch(
        &db,
        &[
            "webhook", "add", "it", "--url", "ftp://x", "--format", "teams",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("must start with https:// or http://"));
    let bad = cardwatch(
        &db,
        &["webhook", "add", "it", "--url", &url, "--format", "discord"],
    );
    assert!(text(&bad.stderr).contains("not json, teams or slack"));

    for (name, format) in [("teams-it", "teams"), ("ops", "json")] {
        ok(&cardwatch(
            &db,
            &[
                "webhook",
                "add",
                name,
                "--url",
                &url,
                "--format",
                format,
                "--secret",
                "shared-secret-1",
            ],
        ));
    }
    ok(&cardwatch(
        &db,
        &[
            "webhook", "add", "forged", "--url", &url, "--format", "slack", "--secret", "wrong",
        ],
    ));
    ok(&with_config(&db, &cfg, &["jobs", "run", "digest"]));
    let stock = ok(&with_config(&db, &cfg, &["jobs", "run", "stock"]));
    assert!(
        stock.contains("stock: 3 new messages"),
        "one per webhook: {stock}"
    );
    // The first request is answered 503; the retries follow the backoff.
    for _ in 0..6 {
        ok(&with_config(&db, &cfg, &["jobs", "run", "deliver"]));
        std::thread::sleep(Duration::from_millis(1300));
    }
    let lines = receiver.requests();
    drop(receiver);
    let delivered: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["answered"] == 204).collect();
    assert_eq!(
        delivered.len(),
        4,
        "digest and stock to teams-it and ops, once each: {lines:?}"
    );
    let short = delivered
        .iter()
        .find(|l| l["body"]["event"] == "stock")
        .expect("the stock alert");
    assert!(short["body"]["title"]
        .as_str()
        .unwrap_or("")
        .contains("short of spare"));
    assert!(delivered.iter().all(|l| l["signature_ok"] == true));
    let ids: HashSet<&str> = delivered
        .iter()
        .filter_map(|l| l["delivery"].as_str())
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(
        lines.iter().any(|l| l["answered"] == 503),
        "the first try failed"
    );
    let teams: Vec<&str> = delivered
        .iter()
        .filter(|l| l["body"]["@type"] == "MessageCard")
        .filter_map(|l| l["body"]["title"].as_str())
        .collect();
    assert_eq!(
        teams.len(),
        2,
        "the digest and the stock alert as Teams cards"
    );
    assert!(
        teams.iter().any(|t| t.contains("open findings")),
        "{teams:?}"
    );
    let generic = delivered
        .iter()
        .find(|l| l["body"]["event"] == "digest")
        .expect("the generic body");
    assert!(generic["body"]["items"]
        .as_array()
        .is_some_and(|i| !i.is_empty()));
    // The forged one was sent, never passed the receiver's check, and keeps being retried.
    let forged: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["signature_ok"] == false)
        .collect();
    assert!(!forged.is_empty(), "the forged hook was sent: {lines:?}");
    assert!(forged.iter().all(|l| l["answered"] != 204), "{forged:?}");
    let j = jobs_json(&db);
    assert_eq!(j["outbox"]["sent"].as_u64(), Some(4), "{j}");

    // notify test: a clear error for an unknown name; the audit holds the changes.
    let t = cardwatch(&db, &["notify", "test", "--webhook", "nope"]);
    assert_eq!(t.status.code(), Some(2));
    assert!(text(&t.stderr).contains("webhook list"));
    // A test post straight to an address, before it is added: signed with an empty secret.
    let direct = Receiver::start("", 0, dir.path().join("direct.jsonl"));
    let sent = ok(&cardwatch(
        &db,
        &["notify", "test", "--webhook", &direct.url],
    ));
    assert!(sent.contains("sent a test message"), "{sent}");
    let got = direct.requests().pop().expect("a post");
    assert_eq!(got["signature_ok"], true, "{got}");
    assert_eq!(got["body"]["event"], "test");
    ok(&cardwatch(&db, &["webhook", "remove", "forged"]));
    assert!(!ok(&cardwatch(&db, &["webhook", "list"])).contains("forged"));
}

#[test]
fn bad_notify_configuration_is_refused_with_the_place_and_the_fix() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("cw.sqlite").display());
    for (body, says) in [
        (
            "[notify]\nsmtp_url = \"http://relay\"\n",
            "not smtp or smtps",
        ),
        ("[notify]\nfrom = \"nobody\"\n", "notify.from"),
        ("[notify]\nlease_seconds = 0\n", "notify.lease_seconds"),
        ("[schedule]\ndigest = \"61 * * * *\"\n", "schedule.digest"),
        ("[schedule]\ndigests = \"@daily\"\n", "is not a job"),
        ("[notify]\nsmpt_url = \"smtp://x\"\n", "unknown field"),
    ] {
        let cfg = config(dir.path(), body);
        let out = with_config(&db, &cfg, &["jobs", "schedule"]);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{body}");
        assert!(
            err.contains(says) && err.contains("cardwatch.toml"),
            "{body}: {err}"
        );
    }
    let cfg = config(
        dir.path(),
        "[schedule]\ndigest = \"0 0 7 * * 1\"\npurge = \"off\"\n",
    );
    let s = ok(&with_config(&db, &cfg, &["jobs", "schedule"]));
    assert!(s.contains("digest     0 0 7 * * 1"), "{s}");
    assert!(s.contains("purge      off"), "{s}");
    // Without a relay, email waits in the outbox and says why.
    let t = with_config(
        &db,
        &cfg,
        &["notify", "test", "--email", "a@example.nhs.uk"],
    );
    assert!(
        text(&t.stderr).contains("no SMTP relay is configured"),
        "{}",
        text(&t.stderr)
    );
}

/// A certificate authority and a relay certificate for 127.0.0.1 signed by it, made with
/// openssl: (CA certificate, relay certificate, relay key).
fn relay_certificates(dir: &Path) -> (String, String, String) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl");
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=Relay Test CA",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "relay.key",
        "-out",
        "relay.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").expect("san");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "relay.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "relay.crt",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ]);
    let path = |f: &str| dir.join(f).display().to_string();
    (path("ca.crt"), path("relay.crt"), path("relay.key"))
}

/// As the README's NHSmail example configures it: STARTTLS on 587 (or TLS from the first byte,
/// `smtps://`) with SMTP AUTH, the user name and password percent-encoded in the URL. The relay
/// (aiosmtpd) refuses mail without TLS and AUTH, so a message that arrives came through both.
#[test]
fn email_goes_through_starttls_and_smtps_with_smtp_auth() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}", dir.path().join("cw.sqlite").display());
    let (ca, cert, key) = relay_certificates(dir.path());
    let auth = "cardwatch@nhs.net:p@ss:w rd";
    let userinfo = "cardwatch%40nhs.net:p%40ss%3Aw%20rd";
    for (mode, scheme, query) in [
        ("starttls", "smtp", "?tls=starttls"),
        ("smtps", "smtps", ""),
    ] {
        let port = free_port();
        let mail = dir.path().join(mode);
        let smtp = Smtp::start(
            port,
            &mail,
            &[
                "--tls", mode, "--cert", &cert, "--key", &key, "--auth", auth,
            ],
        );
        let url = format!("{scheme}://{userinfo}@127.0.0.1:{port}{query}");
        let test = |cfg: &str| {
            with_config(
                &db,
                cfg,
                &["notify", "test", "--email", "it@example.nhs.uk"],
            )
        };

        // The relay's certificate is from the organisation's own authority: not trusted until
        // smtp_ca_file names it.
        let untrusted = test(&config(
            dir.path(),
            &format!("[notify]\nsmtp_url = \"{url}\"\n"),
        ));
        assert!(!untrusted.status.success(), "{mode}");
        assert!(
            text(&untrusted.stderr).contains("not sent"),
            "{mode}: {}",
            text(&untrusted.stderr)
        );
        let wrong = url.replace("w%20rd", "wrong");
        let refused = test(&config(
            dir.path(),
            &format!("[notify]\nsmtp_url = \"{wrong}\"\nsmtp_ca_file = \"{ca}\"\n"),
        ));
        assert!(
            !refused.status.success(),
            "{mode}: a wrong password is refused"
        );
        assert!(smtp.messages().is_empty(), "{mode}");

        let cfg = config(
            dir.path(),
            &format!("[notify]\nsmtp_url = \"{url}\"\nsmtp_ca_file = \"{ca}\"\n"),
        );
        let sent = ok(&test(&cfg));
        assert!(
            sent.contains("sent a test message to it@example.nhs.uk"),
            "{sent}"
        );
        let got = smtp.messages();
        assert_eq!(got.len(), 1, "{mode}");
        let (to, raw) = &got[0];
        assert_eq!(to, "it@example.nhs.uk");
        assert_eq!(header(raw, "X-Sink-TLS"), Some("yes"), "{mode}");
        assert_eq!(
            header(raw, "X-Sink-Login"),
            Some("cardwatch@nhs.net"),
            "{mode}"
        );
    }

    // A CA file that holds no certificate, or one for a relay reached without TLS, is refused
    // at start with the setting and the file.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").expect("junk");
    for (body, says) in [
        (
            format!(
                "smtp_url = \"smtps://127.0.0.1:1\"\nsmtp_ca_file = \"{}\"",
                junk.display()
            ),
            "holds no PEM certificate",
        ),
        (
            format!("smtp_url = \"smtp://127.0.0.1:1\"\nsmtp_ca_file = \"{ca}\""),
            "not reached over TLS",
        ),
        (format!("smtp_ca_file = \"{ca}\""), "no smtp_url"),
    ] {
        let cfg = config(dir.path(), &format!("[notify]\n{body}\n"));
        let out = with_config(&db, &cfg, &["jobs", "schedule"]);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{body}");
        assert!(
            err.contains("notify.smtp_ca_file") && err.contains(says),
            "{body}: {err}"
        );
    }
}

/// A demo estate in a fresh PostgreSQL database, with a practice manager who wants digests.
fn pg_estate() -> PgDatabase {
    let db = pg_database();
    ok(&cardwatch(
        &db,
        &["demo", "--practices", "3", "--seed", "9"],
    ));
    subscriber(&db);
    db
}

fn replica(db: &str, cfg: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cardwatch"))
        .env("RUST_LOG", "warn")
        .args([
            "--database-url",
            db,
            "--config",
            cfg,
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("banner");
    assert!(line.contains("serving"), "{line}");
    child
}

fn runs_of<'a>(j: &'a serde_json::Value, job: &str) -> Vec<&'a serde_json::Value> {
    j["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["job"] == job)
        .collect()
}

fn unix(t: &serde_json::Value) -> i64 {
    cardwatch_core::date::Timestamp::parse(t.as_str().expect("time"))
        .expect("a timestamp")
        .unix()
}

#[test]
fn two_replicas_on_one_postgresql_run_each_second_exactly_once_for_sixty_runs() {
    let dir = tempfile::tempdir().expect("dir");
    let db = pg_estate();
    let port = free_port();
    let smtp = Smtp::start(port, &dir.path().join("mail"), &[]);
    let cfg = config(
        dir.path(),
        &format!(
            "[notify]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nlease_seconds = 5\ncatch_up_seconds = 1\n\
             [schedule]\ndigest = \"* * * * * *\"\ndeliver = \"* * * * * *\"\nfindings = \"off\"\n\
             reminders = \"off\"\nstock = \"off\"\npurge = \"off\"\n"
        ),
    );
    let a = replica(&db, &cfg);
    let b = replica(&db, &cfg);
    // Until sixty seconds after the first full one are done (a generous deadline for a busy
    // machine: the runs themselves take a minute).
    let done_through = |j: &serde_json::Value| {
        let digests = runs_of(j, "digest");
        let first = digests.iter().map(|r| unix(&r["slot"])).min()? + 1;
        let done = digests
            .iter()
            .filter(|r| r["state"] == "done" && (first..first + 60).contains(&unix(&r["slot"])))
            .count();
        (done >= 60).then_some(())
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    while done_through(&jobs_json(&db)).is_none() {
        assert!(Instant::now() < deadline, "sixty runs not done in 180 s");
        std::thread::sleep(Duration::from_secs(2));
    }
    stop(a);
    stop(b);
    let j = jobs_json(&db);
    let digests = runs_of(&j, "digest");
    let slots: Vec<i64> = digests.iter().map(|r| unix(&r["slot"])).collect();
    let unique: HashSet<i64> = slots.iter().copied().collect();
    assert_eq!(unique.len(), slots.len(), "a slot ran twice");
    // Sixty consecutive seconds from the first full one: each exactly once, and done.
    let first = *slots.iter().min().expect("runs") + 1;
    let window: Vec<&&serde_json::Value> = digests
        .iter()
        .filter(|r| (first..first + 60).contains(&unix(&r["slot"])))
        .collect();
    assert_eq!(window.len(), 60, "every second of the minute ran once");
    // Both replicas took part: the runs were shared, not left to one while the other idled.
    let owners: HashSet<&str> = window.iter().filter_map(|r| r["owner"].as_str()).collect();
    assert_eq!(owners.len(), 2, "{owners:?}");
    assert!(window.iter().all(|r| r["state"] != "failed"), "{window:?}");
    // One digest per run (each names its moment), none twice.
    let got = smtp.messages();
    let ids: Vec<&str> = got
        .iter()
        .filter_map(|(_, r)| header(r, "Message-ID"))
        .collect();
    let distinct: HashSet<&&str> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "a message arrived twice");
    let sent = j["outbox"]["sent"].as_u64().unwrap_or(0) as usize;
    // The replicas are killed, maybe between the SMTP server taking a message and the outbox
    // recording it: such a message is still "sending" (a later run sends it again, under the
    // same Message-ID). Every message recorded sent arrived, and only those in flight besides.
    let sending = j["outbox"]["sending"].as_u64().unwrap_or(0) as usize;
    assert!(
        (sent..=sent + sending).contains(&got.len()),
        "{} arrived: {j}",
        got.len()
    );
    assert!(sent >= 60, "{sent} digests for 60+ runs");
}

#[test]
fn a_replica_killed_mid_run_leaves_the_run_to_the_other() {
    let dir = tempfile::tempdir().expect("dir");
    let db = pg_estate();
    let port = free_port();
    // A slow relay, so a delivery run lasts long enough to be interrupted.
    let smtp = Smtp::start(port, &dir.path().join("mail"), &["--delay-rcpt", "0.5"]);
    let cfg = config(
        dir.path(),
        &format!(
            "[notify]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nlease_seconds = 3\n\
             [schedule]\ndeliver = \"*/30 * * * * *\"\ndigest = \"off\"\nfindings = \"off\"\n\
             reminders = \"off\"\nstock = \"off\"\npurge = \"off\"\n"
        ),
    );
    // Messages to deliver, recorded before any replica runs.
    ok(&cardwatch(
        &db,
        &["--config", &cfg, "jobs", "run", "reminders"],
    ));
    let total = jobs_json(&db)["outbox"]["pending"]
        .as_u64()
        .expect("pending") as usize;
    assert!(total >= 6, "{total}");
    // Start both just after a deliver moment has passed, so the next one is ~25 s away: then
    // the catch-up run is the one interrupted.
    let mut a = replica(&db, &cfg);
    let b_started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(40);
    let (killed_slot, killed_owner) = loop {
        assert!(Instant::now() < deadline, "no deliver run was seen running");
        let j = jobs_json(&db);
        let running = runs_of(&j, "deliver")
            .into_iter()
            .find(|r| r["state"] == "running")
            .map(|r| {
                (
                    r["slot"].clone(),
                    r["owner"].as_str().unwrap_or("").to_owned(),
                )
            });
        if let Some(r) = running {
            if !smtp.messages().is_empty() {
                break r;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The senders' first messages have just been accepted; a quarter of a second on, each is
    // half-way through its next conversation with the slow relay — mid-run, away from the few
    // milliseconds between the relay's acceptance and the outbox recording it (docs/NOTIFY.md).
    std::thread::sleep(Duration::from_millis(250));
    assert!(
        killed_owner.contains(&format!(":{}:", a.id())),
        "{killed_owner}"
    );
    a.kill().expect("kill");
    a.wait().expect("wait");
    let before = smtp.messages().len();
    assert!(before < total, "killed mid-run");
    let b = replica(&db, &cfg);
    let _ = b_started;
    let deadline = Instant::now() + Duration::from_secs(40);
    let finished = loop {
        assert!(Instant::now() < deadline, "the run was never completed");
        let j = jobs_json(&db);
        if let Some(r) = runs_of(&j, "deliver")
            .into_iter()
            .find(|r| r["slot"] == killed_slot && r["state"] == "done")
        {
            break r.clone();
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    stop(b);
    assert_eq!(finished["attempts"], 2, "taken over: {finished}");
    assert_ne!(finished["owner"].as_str(), Some(killed_owner.as_str()));
    let got = smtp.messages();
    let mut per_key: HashMap<&str, usize> = HashMap::new();
    for (_, r) in &got {
        *per_key
            .entry(header(r, "Message-ID").unwrap_or(""))
            .or_default() += 1;
    }
    assert!(per_key.values().all(|&n| n == 1), "a message arrived twice");
    assert_eq!(got.len(), total, "every message arrived");
}

#[test]
fn a_message_that_keeps_failing_is_shown_as_failed_with_its_error() {
    let dir = tempfile::tempdir().expect("dir");
    let (_store, db) = estate(dir.path());
    // Nothing listens on this port: every try is refused.
    let cfg = config(
        dir.path(),
        &format!(
            "[notify]\nsmtp_url = \"smtp://127.0.0.1:{}\"\nretries = 1\n",
            free_port()
        ),
    );
    ok(&with_config(&db, &cfg, &["jobs", "run", "digest"]));
    let out = ok(&with_config(&db, &cfg, &["jobs", "run", "deliver"]));
    assert!(out.contains("sent 0, failed 1"), "{out}");
    let listing = ok(&cardwatch(&db, &["jobs"]));
    assert!(listing.contains("outbox: 1 failed"), "{listing}");
    assert!(
        listing.contains("failed: digest:pm.one:") && listing.contains("after 1 tries: SMTP"),
        "{listing}"
    );
    let j = jobs_json(&db);
    assert_eq!(j["failed"][0]["recipient"], "pm@example.nhs.uk");
    assert!(j["runs"].as_array().is_some_and(|r| r
        .iter()
        .any(|r| r["job"] == "deliver" && r["state"] == "done")));
    // A failed message is not tried again.
    let again = ok(&with_config(&db, &cfg, &["jobs", "run", "deliver"]));
    assert!(again.contains("sent 0, failed 0"), "{again}");
}
