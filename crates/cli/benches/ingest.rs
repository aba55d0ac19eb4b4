//! Agent event ingest (issue 6): batches of 1,000 events posted over loopback HTTP by several
//! keep-alive connections to a real `cardwatch serve` on SQLite and on PostgreSQL, against the
//! same batches posted to an endpoint that parses them with the same framework and extractor
//! and discards them (the framework's own ceiling), in the same run. Goal: ≥ 50,000 events/s
//! into each store.
//!
//!   cargo bench -p cardwatch --bench ingest [-- --events N --connections C]
//!
//! PostgreSQL is `CARDWATCH_TEST_PG` (default postgres://postgres@127.0.0.1:5432/postgres); the
//! bench makes and drops its own database there.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const BATCH: usize = 1000;

/// Run as the discarding endpoint when the bench starts itself with this variable.
const DISCARD: &str = "CARDWATCH_BENCH_DISCARD";

fn main() {
    if std::env::var_os(DISCARD).is_some() {
        discard_server();
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (events, connections) = (arg("--events", 1_000_000), arg("--connections", 4));
    let tmp = tempfile::tempdir().expect("tmp");
    let pg_admin = std::env::var("CARDWATCH_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let pg_db = format!(
        "{}/cw_ingest_bench",
        pg_admin.rsplit_once('/').map_or(&*pg_admin, |(b, _)| b)
    );
    println!("== agent event ingest: {events} events in batches of {BATCH}, {connections} keep-alive connections");

    let (discard, addr) = spawn(
        Command::new(std::env::current_exe().expect("self")).env(DISCARD, "1"),
        "discarding at ",
    );
    let ceiling = post_all(&addr, "", events, connections, "d");
    stop(discard);
    println!("discarding endpoint (axum, same extractor)  {ceiling:>9.0} events/s");

    let sqlite = tmp.path().join("ingest.sqlite");
    let rate_sqlite = into_store(sqlite.to_str().expect("utf-8"), events, connections);
    report("SQLite", rate_sqlite, ceiling);

    let drop = || {
        let _ = Command::new("psql")
            .args([&pg_admin, "-qc", "DROP DATABASE IF EXISTS cw_ingest_bench"])
            .status();
    };
    drop();
    let made = Command::new("psql")
        .args([&pg_admin, "-qc", "CREATE DATABASE cw_ingest_bench"])
        .status()
        .is_ok_and(|s| s.success());
    if made {
        let rate_pg = into_store(&pg_db, events, connections);
        report("PostgreSQL", rate_pg, ceiling);
        drop();
    } else {
        println!("PostgreSQL at {pg_admin} does not answer: skipped");
    }
}

fn report(store: &str, rate: f64, ceiling: f64) {
    println!(
        "into {store:<10} (cardwatch serve)          {rate:>9.0} events/s = {:.2} of the ceiling (goal ≥ 50,000/s: {})",
        rate / ceiling,
        if rate >= 50_000.0 { "met" } else { "NOT met" }
    );
}

/// Serves a store, enrols an agent in it and posts every event; events/s.
fn into_store(db: &str, events: usize, connections: usize) -> f64 {
    let bin = env!("CARGO_BIN_EXE_cardwatch");
    let token = Command::new(bin)
        .args(["--database-url", db, "agent", "token"])
        .output()
        .expect("agent token");
    let secret = String::from_utf8_lossy(&token.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let config = std::env::temp_dir().join("cw-ingest-bench.toml");
    std::fs::write(&config, "[notify]\nscheduler = false\n").expect("config");
    let (server, addr) = spawn(
        Command::new(bin)
            .env("RUST_LOG", "warn")
            .args(["--database-url", db, "--config"])
            .arg(&config)
            .args(["serve", "--bind", "127.0.0.1:0"]),
        "http://",
    );
    let body = format!(r#"{{"token":"{secret}","hostname":"BENCH-WS-01","version":"0.1.0"}}"#);
    let mut s = TcpStream::connect(&addr).expect("connect");
    let (status, reply) = exchange(&mut s, &addr, "/api/v1/agents/enrol", "", &body);
    assert_eq!(status, 201, "enrol: {reply}");
    let v: serde_json::Value = serde_json::from_str(&reply).expect("json");
    let credential = v["credential"].as_str().expect("credential").to_owned();
    let rate = post_all(&addr, &credential, events, connections, "s");
    // Every event is in the store once.
    let (_, again) = exchange(
        &mut s,
        &addr,
        "/api/v1/agents/events",
        &credential,
        &batch("s", 0),
    );
    assert!(
        again.contains(&format!("\"duplicates\":{BATCH}")),
        "{again}"
    );
    stop(server);
    rate
}

/// Starts a server and reads its address from the first line that holds `marker`.
fn spawn(cmd: &mut Command, marker: &str) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let addr = out
        .by_ref()
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            let rest = l.split(marker).nth(1)?;
            Some(rest.split('/').next().unwrap_or(rest).trim().to_owned())
        })
        .unwrap_or_default();
    // Keep reading what else it prints, so it never writes to a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (child, addr)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// One batch of events with ids unique to (`tag`, `n`).
fn batch(tag: &str, n: usize) -> String {
    let mut body = String::with_capacity(BATCH * 160);
    body.push_str(r#"{"events":["#);
    for i in 0..BATCH {
        if i > 0 {
            body.push(',');
        }
        // Times move forward, as a real agent's do: ten events a second from 2026-11-27. (The
        // same thousand times in every batch touch a thousand pages of the (agent, at) index per
        // batch, and measure that instead of ingest: docs/PERFORMANCE.md.)
        let at = cardwatch_core::date::Timestamp::from_unix(
            1_795_737_600 + ((n * BATCH + i) / 10) as i64,
        );
        body.push_str(&format!(
            r#"{{"id":"{tag}-{n}-{i}","at":"{at}","kind":"card_inserted","data":{{"reader":"HID Global OMNIKEY 3x21 Smart Card Reader 00 00","atr":"3B 7F 96 00 00 80 31 80 65 B0 85 03 00 EF 12 0F FF 82 90 00"}}}}"#
        ));
    }
    body.push_str("]}");
    body
}

/// Posts `events` in batches over `connections` keep-alive connections; events/s.
fn post_all(addr: &str, credential: &str, events: usize, connections: usize, tag: &str) -> f64 {
    let batches = events.div_ceil(BATCH);
    // Bodies are made before the clock starts: the client's own work is not measured.
    let bodies: Vec<String> = (0..batches).map(|n| batch(tag, n)).collect();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for c in 0..connections {
            let bodies = &bodies;
            scope.spawn(move || {
                let mut s = TcpStream::connect(addr).expect("connect");
                s.set_nodelay(true).expect("nodelay");
                for body in bodies.iter().skip(c).step_by(connections) {
                    let (status, reply) =
                        exchange(&mut s, addr, "/api/v1/agents/events", credential, body);
                    assert_eq!(status, 200, "{reply}");
                }
            });
        }
    });
    (batches * BATCH) as f64 / start.elapsed().as_secs_f64()
}

/// One HTTP/1.1 POST on a kept-alive connection; (status, body).
fn exchange(
    s: &mut TcpStream,
    addr: &str,
    path: &str,
    credential: &str,
    body: &str,
) -> (u16, String) {
    let auth = if credential.is_empty() {
        String::new()
    } else {
        format!("Authorization: Agent {credential}\r\n")
    };
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Cardwatch-Agent-Version: 0.1.0\r\n{auth}Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body.as_bytes()).expect("write");
    // Read the head byte by byte up to the blank line, then the body by its length.
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).expect("read");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut reply = vec![0; len];
    s.read_exact(&mut reply).expect("read body");
    (status, String::from_utf8_lossy(&reply).into_owned())
}

/// The ceiling: the same route and extractor as the server's, with the events dropped.
fn discard_server() {
    use axum::extract::Json;
    use axum::routing::post;

    #[derive(serde::Deserialize)]
    struct Body {
        events: Vec<cardwatch_store::agents::AgentEvent>,
    }
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let app = axum::Router::new().route(
            "/api/v1/agents/events",
            post(|Json(b): Json<Body>| async move {
                Json(serde_json::json!({"accepted": b.events.len(), "duplicates": 0}))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        println!("discarding at {}/", listener.local_addr().expect("address"));
        axum::serve(listener, app).await.expect("serve");
    });
}
