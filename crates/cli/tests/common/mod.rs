//! Running `cardwatch` as users do, shared by the CLI test files.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

mod changed;
// Only the tests that change an estate under a running server use these.
#[allow(unused_imports)]
pub use changed::{answers, body_of, Changed};

/// The day the tests' fixed demo estates are seen from. A test that builds its estate for this
/// day runs every later command on it too (`cardwatch_on`), so it means the same on any date.
pub const DAY: &str = "2026-11-22";

/// `cardwatch` on the system's clock.
pub fn cardwatch(db: &str, args: &[&str]) -> Output {
    command(db, None)
        .args(args)
        .output()
        .expect("run cardwatch")
}

/// `cardwatch` with its clock started on `day` (`CARDWATCH_NOW`).
pub fn cardwatch_on(day: &str, db: &str, args: &[&str]) -> Output {
    command(db, Some(day))
        .args(args)
        .output()
        .expect("run cardwatch")
}

/// The binary with the test's database and, if given, the day its clock starts on; nothing of
/// the caller's environment decides either.
pub fn command(db: &str, day: Option<&str>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cardwatch"));
    c.env_remove("CARDWATCH_DATABASE_URL")
        .env_remove("CARDWATCH_NOW")
        .env("RUST_LOG", "warn")
        .arg("--database-url")
        .arg(db);
    if let Some(day) = day {
        c.env("CARDWATCH_NOW", day);
    }
    c
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

pub fn demo_files(dir: &Path) -> Vec<String> {
    demo_files_of(dir, "3")
}

/// The demo estate of `practices` practices (seed 9, seen from [`DAY`]) written as CSV files
/// into `dir`: their paths, sorted.
pub fn demo_files_of(dir: &Path, practices: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_cardwatch"))
        .args([
            "demo",
            "--practices",
            practices,
            "--seed",
            "9",
            "--today",
            DAY,
            "--out",
        ])
        .arg(dir)
        .output()
        .expect("run");
    ok(&out);
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| e.expect("entry").path().display().to_string())
        .collect();
    files.sort();
    files
}

/// `cardwatch import` of every file, as the user would type it.
pub fn import_all(db: &str, files: &[String]) -> Output {
    let mut args = vec!["import"];
    args.extend(files.iter().map(String::as_str));
    cardwatch(db, &args)
}

pub fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("read");
    let status = body
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body)
}

/// Starts `serve --demo` on a free port; returns the process and its address.
pub fn serve_demo(db: &str, practices: &str) -> (Child, String) {
    let (child, addr, _) = serve_demo_banner(db, practices, None);
    (child, addr)
}

/// Starts `serve --demo` and signs in as its operator; returns the process, its address and the
/// session cookie (`cw_session=…`).
pub fn serve_demo_signed_in(db: &str, practices: &str) -> (Child, String, String) {
    serve_demo_signed_in_on(db, practices, None)
}

/// As [`serve_demo_signed_in`], with the server's clock started on `day` when given.
pub fn serve_demo_signed_in_on(
    db: &str,
    practices: &str,
    day: Option<&str>,
) -> (Child, String, String) {
    let (child, addr, banner) = serve_demo_banner(db, practices, day);
    let cookie = sign_in_demo(&addr, &banner);
    (child, addr, cookie)
}

/// Signs in at `addr` as `name` with `password`, which must succeed: the session cookie
/// (`cw_session=…`).
pub fn sign_in(addr: &str, name: &str, password: &str) -> String {
    let (status, response) = request(
        addr,
        "POST",
        "/login",
        None,
        Some(&form(&[("username", name), ("password", password)])),
    );
    assert_eq!(status, 303, "signing in as {name}: {response}");
    let token = set_cookie(&response, "cw_session").expect("a session cookie");
    format!("cw_session={token}")
}

/// Signs in as `serve --demo`'s operator, whose password is in the line it printed when it
/// started listening (`banner`): the session cookie.
pub fn sign_in_demo(addr: &str, banner: &str) -> String {
    let password = banner
        .split("password ")
        .nth(1)
        .map(str::trim)
        .unwrap_or_else(|| panic!("no demo password in {banner:?}"));
    sign_in(addr, "demo", password)
}

/// Adds a practice manager called `name` ("Pat Manager") at `site` to the store at `db`, with
/// `password`, and signs them in at `addr`: their session cookie.
pub fn practice_manager(db: &str, addr: &str, name: &str, site: &str, password: &str) -> String {
    let mut add = command(db, None);
    add.args(["user", "add", name, "--name", "Pat Manager"])
        .args(["--role", "practice_manager", "--org", site]);
    ok(&run_with_input(add, &format!("{password}\n")));
    sign_in(addr, name, password)
}

/// A GET with a session cookie.
pub fn get_as(addr: &str, path: &str, cookie: &str) -> (u16, String) {
    request(addr, "GET", path, Some(cookie), None)
}

fn serve_demo_banner(db: &str, practices: &str, day: Option<&str>) -> (Child, String, String) {
    let mut serve = command(db, day);
    serve
        .args(["serve", "--demo", "--practices", practices])
        .args(["--bind", "127.0.0.1:0"]);
    spawn_serving(serve)
}

/// Runs `cmd` with `input` on its standard input (a password, the wizard's answers) and
/// waits for it.
pub fn run_with_input(mut cmd: Command, input: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn cardwatch");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write standard input");
    child.wait_with_output().expect("wait")
}

/// Starts a `cardwatch serve` command and reads the line it prints once it listens: the
/// process, the address that line names (`host:port`, served over http or https) and the line.
pub fn spawn_serving(serve: Command) -> (Child, String, String) {
    spawn_serving_to(serve, Stdio::null())
}

/// As [`spawn_serving`], the server's standard error going to `stderr` (a log file to read).
pub fn spawn_serving_to(mut serve: Command, stderr: Stdio) -> (Child, String, String) {
    let mut child = serve
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn cardwatch serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the serving line");
    let addr = line
        .split_once("http://")
        .or_else(|| line.split_once("https://"))
        .and_then(|(_, r)| r.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    (child, addr, line)
}

pub fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Adds an administrator to the store at `url`, the passphrase given on standard input.
pub fn add_administrator(url: &str, name: &str, passphrase: &str) {
    let mut add = command(url, None);
    add.args(["user", "add", name, "--name", "Test administrator"])
        .args(["--role", "administrator"]);
    ok(&run_with_input(add, &format!("{passphrase}\n")));
}

/// `cardwatch serve` on `url` with an administrator added first and signed in: the process,
/// its address and the session cookie.
pub fn serve_signed_in(url: &str) -> (Child, String, String) {
    serve_signed_in_to(url, Stdio::null())
}

/// As [`serve_signed_in`], the server's standard error going to `stderr`.
pub fn serve_signed_in_to(url: &str, stderr: Stdio) -> (Child, String, String) {
    const PASSPHRASE: &str = "pool test administrator passphrase";
    add_administrator(url, "pool-admin", PASSPHRASE);
    let mut serve = command(url, None);
    serve.args(["serve", "--bind", "127.0.0.1:0"]);
    let (child, addr, _) = spawn_serving_to(serve, stderr);
    let cookie = sign_in(&addr, "pool-admin", PASSPHRASE);
    (child, addr, cookie)
}

/// A JSON POST with a session cookie; returns the status and the whole response.
pub fn post_json(addr: &str, path: &str, cookie: &str, body: &str) -> (u16, String) {
    send(
        addr,
        "POST",
        path,
        Some(cookie),
        Some(("application/json", body)),
    )
}

/// The body of an HTTP response, parsed as JSON.
pub fn body_json(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").nth(1).expect("body");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// An HTTP request with an optional cookie and form body; returns the status and the whole
/// response (headers and body).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> (u16, String) {
    send(
        addr,
        method,
        path,
        cookie,
        form.map(|f| ("application/x-www-form-urlencoded", f)),
    )
}

fn send(
    addr: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<(&str, &str)>,
) -> (u16, String) {
    let cookie = cookie.map(|c| ("Cookie", c));
    send_with(addr, method, path, cookie.as_slice(), body)
}

/// An HTTP request with any headers and an optional (content type, body); returns the status
/// and the whole response.
pub fn send_with(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &str)>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let content = body.map_or("", |(_, b)| b);
    if let Some((kind, b)) = body {
        head.push_str(&format!(
            "Content-Type: {kind}\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    write!(s, "{head}\r\n{content}").expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let out = dechunked(&raw);
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

/// A response as text, a chunked body (a streamed download) joined up again as any HTTP
/// client does.
fn dechunked(raw: &[u8]) -> String {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return text(raw);
    };
    let (head, mut rest) = (&raw[..end + 4], &raw[end + 4..]);
    if !text(head)
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return text(raw);
    }
    let mut body = head.to_vec();
    while let Some(line) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(text(&rest[..line]).trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        let chunk = &rest[line + 2..];
        body.extend_from_slice(&chunk[..size]);
        rest = &chunk[size + 2..];
    }
    text(&body)
}

/// The value a response sets for a cookie, if it sets one.
pub fn set_cookie(response: &str, name: &str) -> Option<String> {
    response
        .lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .find_map(|l| {
            let v = l.split_once(':')?.1.trim();
            let (k, rest) = v.split_once('=')?;
            (k == name).then(|| rest.split(';').next().unwrap_or("").to_owned())
        })
}

/// A form body (spaces and @ encoded, as the tests' values need).
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "+").replace('@', "%40")))
        .collect::<Vec<_>>()
        .join("&")
}

/// The CSRF token in a page's first form.
pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a csrf field")
        .to_owned()
}

/// A scratch folder and the test's own store: a SQLite file in the folder (created by the first
/// command that opens it), or, when `CARDWATCH_TEST_STORE=postgres` (scripts/test's second run),
/// a PostgreSQL database of its own. Both go when the first value is dropped.
pub fn scratch_db() -> (Scratch, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let (store, db) = store_in(dir.path());
    (Scratch { dir, _store: store }, db)
}

/// A scratch folder with the test's store (see `scratch_db`).
pub struct Scratch {
    dir: tempfile::TempDir,
    _store: Option<PgDatabase>,
}

impl Scratch {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The test's store in `dir`: a SQLite file there, or a PostgreSQL database of its own when
/// `CARDWATCH_TEST_STORE=postgres` (dropped with the first value). Anything else is refused, so
/// a misspelt setting cannot quietly test SQLite twice.
pub fn store_in(dir: &Path) -> (Option<PgDatabase>, String) {
    match std::env::var("CARDWATCH_TEST_STORE").as_deref() {
        Err(_) | Ok("sqlite") => (None, dir.join("cardwatch.sqlite").display().to_string()),
        Ok("postgres") => {
            let pg = pg_database();
            let url = pg.url.clone();
            (Some(pg), url)
        }
        Ok(other) => panic!("CARDWATCH_TEST_STORE={other:?}: use sqlite or postgres"),
    }
}

/// A PostgreSQL database of the test's own on `CARDWATCH_TEST_PG`, dropped with the value.
pub struct PgDatabase {
    admin: String,
    name: String,
    pub url: String,
}

impl std::ops::Deref for PgDatabase {
    type Target = str;
    fn deref(&self) -> &str {
        &self.url
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A new database of the test's own on `CARDWATCH_TEST_PG` holding a copy of `template`
/// (which nothing may be connected to), dropped with the value.
pub fn pg_copy(template: &PgDatabase) -> PgDatabase {
    let copy = pg_database();
    let mut c = postgres::Client::connect(&copy.admin, postgres::NoTls).expect("PostgreSQL");
    c.batch_execute(&format!("DROP DATABASE {} WITH (FORCE)", copy.name))
        .expect("drop the empty database");
    c.batch_execute(&format!(
        "CREATE DATABASE {} TEMPLATE {}",
        copy.name, template.name
    ))
    .expect("copy the test's database");
    copy
}

pub fn pg_database() -> PgDatabase {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let admin = std::env::var("CARDWATCH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let name = format!(
        "cw_cli_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut c = postgres::Client::connect(&admin, postgres::NoTls)
        .unwrap_or_else(|e| panic!("PostgreSQL at {admin} (CARDWATCH_TEST_PG): {e}"));
    c.batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create the test's database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let url = format!("{base}/{name}");
    PgDatabase { admin, name, url }
}

/// Whether `page` holds `text` escaped as HTML, by name (`&lt;`) or by number (`&#60;`).
pub fn shown(page: &str, text: &str) -> bool {
    let by = |amp: &str, lt: &str, gt: &str, quot: &str, apos: &str| {
        text.replace('&', amp)
            .replace('<', lt)
            .replace('>', gt)
            .replace('"', quot)
            .replace('\'', apos)
    };
    [
        by("&amp;", "&lt;", "&gt;", "&quot;", "&#39;"),
        by("&amp;", "&lt;", "&gt;", "&quot;", "&#x27;"),
        by("&#38;", "&#60;", "&#62;", "&#34;", "&#39;"),
    ]
    .iter()
    .any(|escaped| page.contains(escaped.as_str()))
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs a program, failing the test with its output when it fails.
pub fn must_run(what: &str, c: &mut Command) {
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| text(&o.stdout).trim() == "0")
}

/// The newest PostgreSQL server programs installed (scripts/test installs them).
fn pg_bin() -> std::path::PathBuf {
    let mut found: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server programs in /usr/lib/postgresql (scripts/test installs them)")
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|b| b.join("initdb").is_file())
        .collect();
    found.sort_by_key(|b| {
        b.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
    });
    found.pop().expect("initdb under /usr/lib/postgresql/*/bin")
}

/// A PostgreSQL server of the test's own in a scratch folder, on a free port of 127.0.0.1,
/// stopped when dropped: for tests that change the server itself (its TLS, a restart), which
/// the shared one on `CARDWATCH_TEST_PG` must not see.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: std::path::PathBuf,
    pub port: u16,
}

impl PgCluster {
    /// The folder, with `run` (the Unix socket and the server's log) made; nothing started.
    /// Files the server must read go in [`PgCluster::path`] before [`PgCluster::start`].
    pub fn new() -> PgCluster {
        let dir = tempfile::tempdir().expect("tmp");
        let port = free_port();
        let cluster = PgCluster {
            bin: pg_bin(),
            port,
            dir,
        };
        let run = cluster.path("run");
        std::fs::create_dir(&run).unwrap();
        if is_root() {
            // The folder tempfile makes is the test's alone: the server's user must reach into it.
            must_run(
                "chmod",
                Command::new("chmod").arg("755").arg(cluster.path("")),
            );
            must_run("chown", Command::new("chown").arg("postgres:").arg(&run));
        }
        cluster
    }

    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    /// Runs one of PostgreSQL's programs as the `postgres` user when the test runs as root
    /// (PostgreSQL refuses to run as root), else as the test's own user.
    pub fn as_postgres(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// Makes the cluster (user `postgres`, trust) with `conf` added to postgresql.conf and
    /// `hba` as pg_hba.conf, and starts it.
    pub fn start(&self, conf: &str, hba: &str) {
        let pg = self.path("pg");
        std::fs::create_dir(&pg).unwrap();
        if is_root() {
            must_run("chown", Command::new("chown").arg("postgres:").arg(&pg));
        }
        must_run(
            "initdb",
            self.as_postgres("initdb").arg("-D").arg(&pg).args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ]),
        );
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(pg.join("postgresql.conf"))
            .unwrap();
        write!(
            file,
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
             fsync = off\nmax_connections = 100\n{conf}\n",
            self.port,
            self.path("run").display(),
        )
        .unwrap();
        std::fs::write(pg.join("pg_hba.conf"), hba).unwrap();
        self.pg_ctl(&["-w", "start"]);
    }

    /// `pg_ctl` on the cluster with `args` (its log in `run/pg.log`), failing the test if it
    /// fails.
    pub fn pg_ctl(&self, args: &[&str]) {
        must_run(
            &format!("pg_ctl {}", args.join(" ")),
            self.as_postgres("pg_ctl")
                .arg("-D")
                .arg(self.path("pg"))
                .arg("-l")
                .arg(self.path("run").join("pg.log"))
                .args(args),
        );
    }

    /// A connection for the test itself, over the server's Unix socket (not counted as the
    /// store's: it has no application name).
    pub fn admin(&self) -> postgres::Client {
        postgres::Client::connect(
            &format!(
                "host={} port={} user=postgres dbname=postgres",
                self.path("run").display(),
                self.port
            ),
            postgres::NoTls,
        )
        .expect("the test's own connection over the Unix socket")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.path("pg"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

/// The test SMTP server (aiosmtpd, tests/notify/smtp_sink.py), writing each message it
/// accepts into `dir`.
pub struct Smtp {
    child: Child,
    dir: std::path::PathBuf,
}

impl Smtp {
    pub fn start(port: u16, dir: &Path, extra: &[&str]) -> Smtp {
        std::fs::create_dir_all(dir).expect("mail dir");
        let mut child = Command::new("/usr/bin/python3")
            .arg(format!(
                "{}/../../tests/notify/smtp_sink.py",
                env!("CARGO_MANIFEST_DIR")
            ))
            .args(["--port", &port.to_string(), "--out"])
            .arg(dir)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3-aiosmtpd (scripts/test installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "ready", "the SMTP server did not start");
        Smtp {
            child,
            dir: dir.to_owned(),
        }
    }

    /// Every message received: (envelope recipients, the raw message).
    pub fn messages(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = std::fs::read_dir(&self.dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
            .map(|e| {
                let raw = std::fs::read_to_string(e.path()).expect("read");
                let to = raw
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("X-Envelope-To: "))
                    .unwrap_or("")
                    .to_owned();
                (to, raw)
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A header of a raw message, by name.
pub fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

/// A server on `db` seen from the tests' day, logging at info to `log`, signed in as `user`
/// (added first): the process, its address and the session cookie.
pub fn serve_logging_to(db: &str, user: &str, log: &Path) -> (Child, String, String) {
    const PASSPHRASE: &str = "change test administrator passphrase";
    add_administrator(db, user, PASSPHRASE);
    let mut serve = command(db, Some(DAY));
    serve
        .env("RUST_LOG", "info")
        .args(["serve", "--bind", "127.0.0.1:0"]);
    let (child, addr, _) =
        spawn_serving_to(serve, Stdio::from(std::fs::File::create(log).expect("log")));
    let (status, response) = request(
        &addr,
        "POST",
        "/login",
        None,
        Some(&form(&[("username", user), ("password", PASSPHRASE)])),
    );
    assert_eq!(status, 303, "{response}");
    let token = set_cookie(&response, "cw_session").expect("a session cookie");
    (child, addr, format!("cw_session={token}"))
}

/// The exported records of a kind (header first).
pub fn exported_records(db: &str, kind: &str) -> Vec<Vec<String>> {
    ok(&cardwatch_on(DAY, db, &["export", kind]))
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

pub fn column_of(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no {name} in {header:?}"))
}

/// Writes `rows` under `header` to `name` in `dir` and imports it with the command line.
pub fn import_rows(db: &str, dir: &Path, name: &str, header: &[String], rows: &[Vec<String>]) {
    let path = dir.join(name);
    let mut text = header.join(",");
    for r in rows {
        text.push('\n');
        text.push_str(&r.join(","));
    }
    text.push('\n');
    std::fs::write(&path, text).expect("write");
    ok(&cardwatch_on(
        DAY,
        db,
        &["import", &path.display().to_string()],
    ));
}

/// An active card of the store's estate (its serial), for a test that changes one.
pub fn active_card(db: &str) -> String {
    let cards = exported_records(db, "cards");
    let status_at = column_of(&cards[0], "status");
    cards[1..]
        .iter()
        .find(|r| r[status_at] == "active")
        .map(|r| r[0].clone())
        .expect("an active card")
}

/// One page for `refusals_in_chromium`: asked for at `path`, or, with `fields`, a form the
/// browser posts there itself.
pub fn refusal_spec<F: serde::Serialize>(
    label: &str,
    path: &str,
    fields: Option<&F>,
) -> serde_json::Value {
    let mut spec = serde_json::json!({"label": label, "path": path});
    if let Some(f) = fields {
        spec["fields"] = serde_json::json!(f);
    }
    spec
}

/// A self-signed certificate for 127.0.0.1 and its key, made by openssl in `dir`.
pub fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "{}", text(&made.stderr));
    (cert, key)
}

/// A TLS client trusting only the certificates in `ca` (the test's own, from [`certificate`]).
pub fn client_trusting(ca: &Path) -> std::sync::Arc<tokio_rustls::rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(c.expect("a certificate")).expect("trusted");
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    std::sync::Arc::new(config)
}

/// Opens a "cannot sign" incident recorded by reception at `site`, at `at` by the system's clock
/// (seconds since the epoch), through the store's own connection: a change the server under test
/// did not make. Its id.
pub fn open_incident_at(store: &dyn cardwatch_store::Store, site: &str, at: i64) -> i64 {
    store
        .open_incident(
            &cardwatch_core::triage::NewIncident {
                reporter: "reception".into(),
                site: Some(site.into()),
                symptom: "cannot-sign".into(),
                ..cardwatch_core::triage::NewIncident::default()
            },
            &cardwatch_store::Change {
                actor: "test".into(),
                at: cardwatch_core::date::Timestamp::from_unix(at),
            },
        )
        .expect("open an incident")
}

/// Seconds since the epoch by the system's clock (the server's, when no `CARDWATCH_NOW` is set).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// `cardwatch serve` with the configuration file `config` on a scratch store, which must refuse
/// to start: what it said on standard error.
pub fn serve_refused(config: &str) -> String {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = tmp.path().join("cardwatch.sqlite").display().to_string();
    let out = serve_configured(&db, tmp.path(), config)
        .output()
        .expect("serve");
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{config:?} was taken: {err}");
    err
}

/// `cardwatch serve` over `db` on a free loopback port, with a configuration file holding
/// `config` written into `dir`.
pub fn serve_configured(db: &str, dir: &Path, config: &str) -> Command {
    let path = dir.join("cardwatch.toml");
    std::fs::write(&path, config).expect("config");
    let mut serve = command(db, None);
    serve
        .arg("--config")
        .arg(&path)
        .args(["serve", "--bind", "127.0.0.1:0"]);
    serve
}

/// The browser tests' driver (node, which starts Chromium). Under `scripts/test-ahead` the
/// server runs on a clock moved a year on by libfaketime, but Chromium stalls on a faked clock
/// and decides no dates: the driver and its browser keep the real one.
pub fn browser() -> Command {
    let mut c = Command::new("node");
    c.env_remove("LD_PRELOAD");
    c
}

/// `script` (of tests/browser) at each of `widths`, given `--width=PX`, the server's address, a
/// session cookie and `args`: its JSON report for each width.
fn at_widths(
    script: &str,
    widths: [u32; 2],
    addr: &str,
    cookie: &str,
    args: &[String],
) -> Vec<(u32, serde_json::Value)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/browser")
        .join(script);
    widths
        .into_iter()
        .map(|width| {
            let out = browser()
                .arg(&script)
                .arg(format!("--width={width}"))
                .arg(format!("http://{addr}"))
                .arg(cookie)
                .args(args)
                .output()
                .expect("node (scripts/test installs the browser tests' packages)");
            (width, serde_json::from_str(&ok(&out)).expect("json"))
        })
        .collect()
}

/// `pages` through `tests/browser/a11y.mjs` at a phone's 390 px and a desk's 1280 px: its report
/// for each width, keyed by page.
pub fn axe_in_chromium(
    addr: &str,
    cookie: &str,
    pages: &[String],
) -> Vec<(u32, serde_json::Value)> {
    at_widths("a11y.mjs", [390, 1280], addr, cookie, pages)
}

/// Each of `specs` (`{"label", "path", "fields"?}`: a page asked for, or a form the browser posts
/// itself) in real Chromium at a desk's 1280 px and a phone's 390 px, through
/// `tests/browser/refusals.mjs`: its report for each width, keyed by label.
pub fn refusals_in_chromium(
    addr: &str,
    cookie: &str,
    specs: &[serde_json::Value],
) -> Vec<(u32, serde_json::Value)> {
    let specs = serde_json::Value::Array(specs.to_vec()).to_string();
    at_widths("refusals.mjs", [1280, 390], addr, cookie, &[specs])
}

/// A page's report from one of the browser scripts at `width` px: axe found nothing serious or
/// critical, and nothing scrolls sideways.
pub fn assert_accessible_and_fits(what: &str, width: u32, got: &serde_json::Value) {
    let v = got["violations"].as_array().expect("violations");
    assert!(
        v.is_empty(),
        "{what} at {width} px: {}",
        serde_json::to_string_pretty(v).unwrap_or_default()
    );
    let w = &got["width"];
    let px = |k: &str| {
        w[k].as_u64()
            .unwrap_or_else(|| panic!("{what}: no {k} in {w}"))
    };
    assert!(
        px("scroll") <= px("client") && px("client") <= px("inner"),
        "{what} scrolls sideways at {width} px: {w}, past the edge: {}",
        got["overflow"]
    );
}

/// The `href`s of a page's pagination links (`rel="prev"`, `rel="next"`), unescaped: (previous,
/// next).
pub fn pagination_links(page: &str) -> (Option<String>, Option<String>) {
    let href = |rel: &str| {
        let (before, _) = page.split_once(&format!("rel=\"{rel}\""))?;
        let h = before.rsplit("href=\"").next()?.split('"').next()?;
        Some(
            h.replace("&amp;", "&")
                .replace("&#38;", "&")
                .replace("&#x2e;", "."),
        )
    };
    (href("prev"), href("next"))
}
