//! Sign-in throttling against the real server, from more than one client address (every
//! 127.x.y.z is this machine): failures slow the address and name they came from, not the
//! operator signing in from their own computer; an address guessing many names is slowed too;
//! tries sent together are counted, not raced; every refusal is in the audit log.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::{Duration, Instant};

use cardwatch_core::access::{PER_ADDRESS, PER_NAME};
use common::*;

const PW: &str = "riverside surgery reception";

/// Adds an operator with the password `PW`.
fn add_operator(db: &str, name: &str) {
    let mut add = command(db, None);
    add.args([
        "user",
        "add",
        name,
        "--name",
        "Test Operator",
        "--role",
        "auditor",
    ]);
    ok(&run_with_input(add, &format!("{PW}\n")));
}

/// `cardwatch serve` over `db` with a configuration file holding `config`; its address.
fn serve(db: &str, dir: &std::path::Path, config: &str) -> (Child, String) {
    let (child, addr, _) = spawn_serving(serve_configured(db, dir, config));
    (child, addr)
}

/// A connection to `addr` from the local address `from` (127.0.0.2 and so on).
fn connect_from(from: &str, addr: &str) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("runtime");
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(format!("{from}:0").parse().expect("address"))?;
        socket.connect(addr.parse().expect("address")).await
    });
    let stream = stream
        .and_then(|s| s.into_std())
        .unwrap_or_else(|e| panic!("connect from {from}: {e}"));
    stream.set_nonblocking(false).expect("blocking");
    stream
}

/// What a sign-in got: its status and, when refused for now, the seconds to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Answer {
    status: u16,
    retry_after: Option<u64>,
}

/// `POST /login` from `from`, with extra header lines.
fn sign_in_with(from: &str, addr: &str, name: &str, password: &str, extra: &str) -> Answer {
    let body = form(&[("username", name), ("password", password)]);
    let mut s = connect_from(from, addr);
    write!(
        s,
        "POST /login HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let retry_after = out.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        l.to_ascii_lowercase()
            .strip_prefix("retry-after:")
            .map(|v| v.trim().parse().expect("seconds"))
    });
    if status == 429 {
        assert!(out.contains("Too many failed sign-ins"), "{out}");
    }
    Answer {
        status,
        retry_after,
    }
}

fn sign_in(from: &str, addr: &str, name: &str, password: &str) -> Answer {
    sign_in_with(from, addr, name, password, "")
}

/// Wrong passwords from `from` for the names `name(i)` until `failures` have been let through
/// and counted, each sent the moment the last wait ends; the answers in order.
fn fail(from: &str, addr: &str, failures: usize, name: impl Fn(usize) -> String) -> Vec<Answer> {
    let mut answers = Vec::new();
    let mut counted = 0;
    while counted < failures {
        let a = sign_in(from, addr, &name(counted), "wrong wrong wrong");
        answers.push(a);
        match a.status {
            401 => counted += 1,
            429 => std::thread::sleep(Duration::from_secs(a.retry_after.expect("Retry-After"))),
            other => panic!("sign-in answered {other}"),
        }
    }
    answers
}

/// The audit log's records of refused sign-ins: (action, actor, key, what was recorded).
fn refusals(db: &str) -> Vec<(String, String, String, String)> {
    ok(&cardwatch(db, &["audit", "show", "--limit", "100000"]))
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
        .filter(|r| {
            r["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("sign_in_"))
        })
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            (
                s("action"),
                s("actor"),
                s("entity_key"),
                r["after"].to_string(),
            )
        })
        .collect()
}

#[test]
fn failures_slow_their_own_address_not_the_operator_at_another() {
    let (tmp, db) = scratch_db();
    add_operator(&db, "ra@nhs.net");
    add_operator(&db, "pm@nhs.net");
    let (child, addr) = serve(&db, tmp.path(), "");
    let started = Instant::now();

    // 127.0.0.2 guesses ra's password: five at once, then it waits 1, 2, 4 … seconds.
    let attack = fail("127.0.0.2", &addr, 8, |_| "ra@nhs.net".into());
    let attack_took = started.elapsed();
    // Right after its eighth failure the address waits 8 s for ra, even with the right password…
    let slowed = sign_in("127.0.0.2", &addr, "ra@nhs.net", PW);
    // … while ra signs in at once from her own address.
    let own = Instant::now();
    let real = sign_in("127.0.0.1", &addr, "ra@nhs.net", PW);
    let real_took = own.elapsed();

    // Tries sent together are counted before any password is checked: of 20 sent at once for
    // pm from 127.0.0.4, five are let through (six if a second ticks over between them).
    let together: Vec<Answer> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| s.spawn(|| sign_in("127.0.0.4", &addr, "pm@nhs.net", "wrong wrong wrong")))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });

    // 127.0.0.3 guesses twenty-two names: the address is slowed whatever name it tries next,
    // even pm's with pm's password; pm signs in from 127.0.0.1.
    let names = fail("127.0.0.3", &addr, 22, |i| format!("guess{i}@nhs.net"));
    let capped = sign_in("127.0.0.3", &addr, "pm@nhs.net", PW);
    let pm = sign_in("127.0.0.1", &addr, "pm@nhs.net", PW);
    stop(child);

    let statuses: Vec<u16> = attack.iter().map(|a| a.status).collect();
    assert_eq!(statuses[..5], [401; 5], "{attack:?}");
    assert_eq!(
        attack.iter().filter(|a| a.status == 401).count(),
        8,
        "{attack:?}"
    );
    // Each wait the server asked for is at most the rule's after that many failures (1, 2, 4 s
    // after the 5th, 6th, 7th), less what had passed since the last failure.
    let mut failures = 0;
    for a in &attack {
        match a.retry_after {
            None => failures += 1,
            Some(w) => {
                let rule = PER_NAME.wait_seconds(failures) as u64;
                assert!((1..=rule).contains(&w), "after {failures}: {attack:?}");
            }
        }
    }
    // Eight guesses took the attacker at least 1 + 2 + 4 = 7 s less a second per wait for
    // rounding; at this rule's pace an address gets 17 guesses at one name in its first hour and
    // 4 an hour after that (crates/core/src/access.rs works the figures out).
    assert!(attack_took >= Duration::from_secs(4), "{attack_took:?}");
    assert_eq!(slowed.status, 429, "{slowed:?}");
    assert!(
        slowed.retry_after.is_some_and(|s| (6..=8).contains(&s)),
        "{slowed:?}"
    );
    assert_eq!(
        real.status, 303,
        "the operator at her own address: {real:?}"
    );
    assert!(real_took < Duration::from_secs(2), "{real_took:?}");

    let let_through = together.iter().filter(|a| a.status == 401).count();
    assert!(
        (5..=6).contains(&let_through) && together.iter().all(|a| matches!(a.status, 401 | 429)),
        "{together:?}"
    );

    assert_eq!(
        names[..PER_ADDRESS.from as usize]
            .iter()
            .map(|a| a.status)
            .collect::<Vec<_>>(),
        vec![401; PER_ADDRESS.from as usize],
        "twenty names are let through before the address waits"
    );
    assert!(names.iter().any(|a| a.status == 429), "{names:?}");
    assert_eq!(
        capped.status, 429,
        "a new name from a guessing address: {capped:?}"
    );
    assert_eq!(pm.status, 303, "{pm:?}");

    // The audit log holds every refusal with its client address; unknown names are not kept.
    let audit = refusals(&db);
    let count = |action: &str, actor: &str, key: &str| {
        audit
            .iter()
            .filter(|(a, who, k, _)| a == action && who == actor && k == key)
            .count()
    };
    assert_eq!(count("sign_in_failed", "client:127.0.0.2", "ra@nhs.net"), 8);
    assert_eq!(
        count("sign_in_throttled", "client:127.0.0.2", "ra@nhs.net"),
        attack.iter().filter(|a| a.status == 429).count() + 1
    );
    assert_eq!(count("sign_in_failed", "client:127.0.0.3", "unknown"), 22);
    assert_eq!(
        count("sign_in_throttled", "client:127.0.0.3", "unknown"),
        names.iter().filter(|a| a.status == 429).count()
    );
    assert_eq!(
        count("sign_in_throttled", "client:127.0.0.3", "pm@nhs.net"),
        1
    );
    assert_eq!(
        count("sign_in_failed", "client:127.0.0.4", "pm@nhs.net"),
        let_through
    );
    assert_eq!(
        count("sign_in_throttled", "client:127.0.0.4", "pm@nhs.net"),
        20 - let_through
    );
    assert!(
        audit
            .iter()
            .all(|(_, who, _, after)| who != "client:127.0.0.1"
                && !after.contains("wrong wrong")
                && !after.contains(PW)
                && !after.contains("guess")),
        "no password, no unknown name, no good sign-in: {audit:?}"
    );
    let (_, _, _, after) = audit
        .iter()
        .find(|(a, _, _, _)| a == "sign_in_throttled")
        .expect("a throttled record");
    assert!(after.contains("until"), "{after}");
}

#[test]
fn the_client_is_read_from_x_forwarded_for_only_behind_a_trusted_proxy() {
    let (tmp, db) = scratch_db();
    add_operator(&db, "ra@nhs.net");
    let (child, addr) = serve(
        &db,
        tmp.path(),
        "[server]\ntrusted_proxies = [\"127.0.0.1\"]\n",
    );
    let spoof = "X-Forwarded-For: 198.51.100.9, 203.0.113.5\r\n";
    let proxied = sign_in_with("127.0.0.1", &addr, "ra@nhs.net", "wrong wrong wrong", spoof);
    let direct = sign_in_with("127.0.0.2", &addr, "ra@nhs.net", "wrong wrong wrong", spoof);
    stop(child);
    assert_eq!((proxied.status, direct.status), (401, 401));
    let actors: Vec<String> = refusals(&db)
        .into_iter()
        .map(|(_, who, _, _)| who)
        .collect();
    assert_eq!(
        actors,
        ["client:203.0.113.5", "client:127.0.0.2"],
        "the proxy's nearest hop, and a client that is no proxy taken as itself"
    );

    let bad = serve_refused(
        &db,
        tmp.path(),
        "[server]\ntrusted_proxies = [\"proxy.local\"]\n",
    );
    assert!(
        bad.contains("server.trusted_proxies") && bad.contains("not an IP address"),
        "{bad}"
    );
}

/// What `serve` says when it refuses its configuration.
fn serve_refused(db: &str, dir: &std::path::Path, config: &str) -> String {
    let path = dir.join("refused.toml");
    std::fs::write(&path, config).expect("config");
    let out = command(db, None)
        .arg("--config")
        .arg(&path)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .output()
        .expect("serve");
    assert!(!out.status.success());
    text(&out.stderr)
}
