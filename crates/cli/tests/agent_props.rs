//! The agents' endpoints of a real `cardwatch serve`, fed generated requests: arbitrary bytes,
//! wrong content types, truncated JSON, deep nesting, huge arrays, each field of the wrong type,
//! duplicate ids. Every answer is a success or a 4xx with a JSON error (a 400 names the field),
//! never a 5xx; the server answers afterwards; and the store holds exactly what was accepted.
//! Runs on the store `CARDWATCH_TEST_STORE` names (SQLite or PostgreSQL).

mod common;

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::TcpStream;

use common::{body_json, cardwatch, ok, scratch_db, serve_demo, stop};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

const VERSION: &str = "0.1.0";

/// A POST of raw bytes with any headers and, if given, a content type; (status, response).
fn post(
    addr: &str,
    path: &str,
    headers: &[(&str, &str)],
    kind: Option<&str>,
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(k) = kind {
        head.push_str(&format!("Content-Type: {k}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("send");
    // A server may answer before reading a large body and close: what it said still counts.
    let _ = s.write_all(body);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

fn token(db: &str) -> String {
    ok(&cardwatch(db, &["agent", "token"]))
        .lines()
        .last()
        .expect("the token")
        .trim()
        .to_owned()
}

/// The number of rows in a table of the test's store.
fn count(db: &str, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    if db.starts_with("postgres") {
        let mut c = postgres::Client::connect(db, postgres::NoTls).expect("PostgreSQL");
        c.query_one(&sql, &[]).expect("count").get(0)
    } else {
        let c = rusqlite::Connection::open(db).expect("open with rusqlite");
        c.query_row(&sql, [], |r| r.get(0)).expect("count")
    }
}

/// A refusal as the API gives one: a 4xx whose body is `{"error": {code, message, field}}`;
/// a 400 names the field. Returns the error.
fn refusal(what: &str, (status, response): &(u16, String)) -> Result<Value, TestCaseError> {
    prop_assert!(
        (400..500).contains(status),
        "{what}: {status}, not a refusal:\n{response}"
    );
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: Value = serde_json::from_str(body).map_err(|e| {
        TestCaseError::fail(format!("{what}: {status} body is not JSON ({e}): {body}"))
    })?;
    let e = &v["error"];
    prop_assert!(
        e["code"].as_str().is_some_and(|c| !c.is_empty()),
        "{what}: {body}"
    );
    prop_assert!(
        e["message"].as_str().is_some_and(|m| m.len() > 10),
        "{what}: {body}"
    );
    if *status == 400 {
        prop_assert!(
            e["field"].as_str().is_some_and(|f| !f.is_empty()),
            "{what}: no field in {body}"
        );
    }
    Ok(e.clone())
}

/// Any JSON value, nested a little.
fn json_value() -> impl Strategy<Value = Value> + Clone {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        Just(Value::String("2026-11-22T10:00:00Z".into())),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An event as an agent sends one, its id from a small set so that batches repeat ids.
fn event() -> impl Strategy<Value = Value> + Clone {
    (
        // Often one of a few ids (repeated within and across batches), else almost always new.
        prop_oneof![0u32..20, 0u32..1_000_000],
        0i64..2_000_000,
        prop_oneof![
            Just("card_inserted".to_owned()),
            Just("reader_detached".to_owned()),
            Just("inventory".to_owned()),
            "[a-z_]{1,12}",
        ],
        json_value(),
    )
        .prop_map(|(id, secs, kind, data)| {
            let at = 1_790_000_000 + secs;
            json!({"id": format!("ev-{id}"), "at": timestamp(at), "kind": kind, "data": data})
        })
}

/// A Unix time as the API writes times.
fn timestamp(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// One field of an event set to a value of the wrong kind (or an unusable one).
fn wrong_field() -> impl Strategy<Value = (&'static str, Value)> {
    let bad = prop_oneof![
        json_value(),
        Just(Value::String(String::new())),
        Just(Value::String("x".repeat(101))),
        Just(Value::String("a\u{0}b".into())),
        Just(Value::String("2026-13-45T99:99:99Z".into())),
        Just(json!(99_999_999_999_999_999_999.0)),
    ];
    (
        prop::sample::select(vec!["id", "at", "kind", "data", "extra"]),
        bad,
    )
}

/// A request body for `/events` and the content type it goes with.
#[derive(Clone, Debug)]
enum Batch {
    /// Well formed (its ids may repeat).
    Valid(Vec<Value>),
    /// One event with a field replaced or removed.
    WrongField(Vec<Value>, usize, &'static str, Option<Value>),
    /// Valid text cut short.
    Truncated(Vec<Value>, usize),
    /// Any bytes at all.
    Bytes(Vec<u8>),
    /// Valid, sent as another content type (or none).
    ContentType(Vec<Value>, Option<&'static str>),
    /// Any JSON in place of the whole body or of `events`.
    Shape(Value, bool),
}

fn batch() -> impl Strategy<Value = Batch> {
    let events = prop::collection::vec(event(), 0..12);
    prop_oneof![
        3 => events.clone().prop_map(Batch::Valid),
        4 => (prop::collection::vec(event(), 1..6), any::<prop::sample::Index>(), wrong_field(), any::<bool>())
            .prop_map(|(evs, i, (field, v), remove)| {
                let n = i.index(evs.len());
                Batch::WrongField(evs, n, field, (!remove || field == "extra").then_some(v))
            }),
        2 => (events.clone(), any::<usize>()).prop_map(|(e, n)| Batch::Truncated(e, n)),
        2 => prop::collection::vec(any::<u8>(), 0..400).prop_map(Batch::Bytes),
        1 => (events, prop::sample::select(vec![None, Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("application/jsonx")]))
            .prop_map(|(e, k)| Batch::ContentType(e, k)),
        2 => (json_value(), any::<bool>()).prop_map(|(v, inside)| Batch::Shape(v, inside)),
    ]
}

impl Batch {
    fn body(&self) -> (Option<&'static str>, Vec<u8>) {
        let doc = |evs: &[Value]| json!({ "events": evs }).to_string().into_bytes();
        let json = Some("application/json");
        match self {
            Batch::Valid(evs) => (json, doc(evs)),
            Batch::WrongField(evs, n, field, v) => {
                let mut evs = evs.clone();
                let e = evs[*n].as_object_mut().expect("an object");
                match v {
                    Some(v) => {
                        e.insert((*field).to_owned(), v.clone());
                    }
                    None => {
                        e.remove(*field);
                    }
                }
                (json, doc(&evs))
            }
            Batch::Truncated(evs, n) => {
                let mut b = doc(evs);
                b.truncate(n % b.len());
                (json, b)
            }
            Batch::Bytes(b) => (json, b.clone()),
            Batch::ContentType(evs, k) => (*k, doc(evs)),
            Batch::Shape(v, inside) => {
                let b = if *inside {
                    json!({ "events": v })
                } else {
                    v.clone()
                };
                (json, b.to_string().into_bytes())
            }
        }
    }
}

/// Requests no generator makes by chance: deep nesting, a batch over the limit, a body over the
/// server's size limit, nothing at all.
fn edge_bodies() -> Vec<(&'static str, Option<&'static str>, Vec<u8>)> {
    let one =
        json!({"id": "edge", "at": "2026-11-22T10:00:00Z", "kind": "card_inserted", "data": {}});
    let deep = |n: usize| {
        format!(
            r#"{{"events": [{{"id": "deep", "at": "2026-11-22T10:00:00Z", "kind": "k", "data": {}{}}}]}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
        .into_bytes()
    };
    let many: Vec<Value> = (0..1001)
        .map(|i| {
            let mut e = one.clone();
            e["id"] = json!(format!("many-{i}"));
            e
        })
        .collect();
    let json = Some("application/json");
    vec![
        ("empty body", json, Vec::new()),
        ("no body, no type", None, Vec::new()),
        ("nested 200 deep", json, deep(200)),
        ("nested 100,000 deep", json, deep(100_000)),
        ("bare nesting", json, "[".repeat(50_000).into_bytes()),
        ("1,001 events", json, json!({ "events": many }).to_string().into_bytes()),
        (
            "3 MB of data",
            json,
            json!({"events": [{"id": "big", "at": "2026-11-22T10:00:00Z", "kind": "k", "data": "x".repeat(3 << 20)}]})
                .to_string()
                .into_bytes(),
        ),
        ("a BOM first", json, [b"\xef\xbb\xbf".as_slice(), &json!({"events": [one.clone()]}).to_string().into_bytes()].concat()),
        ("invalid UTF-8 in a string", json, b"{\"events\": [{\"id\": \"\xff\xfe\", \"at\": \"2026-11-22T10:00:00Z\", \"kind\": \"k\", \"data\": 1}]}".to_vec()),
        ("a huge number", json, br#"{"events": [{"id": "n", "at": 1e999999, "kind": "k", "data": 1e999999}]}"#.to_vec()),
    ]
}

#[test]
fn agent_endpoints_refuse_what_they_cannot_use_by_field_and_keep_only_what_they_accept() {
    let (_tmp, db) = scratch_db();
    let (child, addr) = serve_demo(&db, "1");
    let enrolled = post(
        &addr,
        "/api/v1/agents/enrol",
        &[],
        Some("application/json"),
        json!({"token": token(&db), "hostname": "a10000-ws001", "version": VERSION})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(enrolled.0, 201, "{}", enrolled.1);
    let credential = body_json(&enrolled.1)["credential"]
        .as_str()
        .expect("a credential")
        .to_owned();
    let auth = format!("Agent {credential}");
    let agent_headers = [
        ("Authorization", auth.as_str()),
        ("X-Cardwatch-Agent-Version", VERSION),
    ];

    // /events: a few hundred batches. Each accepted event is counted once, however often its
    // id comes again.
    let accepted = Cell::new(0i64);
    let answers = RefCell::new([0u32; 2]);
    let mut runner = TestRunner::new(Config {
        cases: 300,
        max_shrink_iters: 100,
        // A failure is printed in full; there is no source file to keep it beside.
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&batch(), |b| {
            let (kind, body) = b.body();
            let answer = post(&addr, "/api/v1/agents/events", &agent_headers, kind, &body);
            if answer.0 == 200 {
                let v = body_json(&answer.1);
                let n = v["accepted"].as_i64().expect("accepted");
                prop_assert!(v["duplicates"].as_i64().is_some(), "{}", answer.1);
                accepted.set(accepted.get() + n);
                answers.borrow_mut()[0] += 1;
            } else {
                let e = refusal(&format!("{b:?}"), &answer)?;
                prop_assert_eq!(e["field"].as_str(), Some("events"), "{}", answer.1);
                answers.borrow_mut()[1] += 1;
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    for (what, kind, body) in edge_bodies() {
        let answer = post(&addr, "/api/v1/agents/events", &agent_headers, kind, &body);
        let e = refusal(what, &answer).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(e["field"].as_str(), Some("events"), "{what}: {}", answer.1);
    }
    let [taken, refused] = *answers.borrow();
    eprintln!(
        "/events: {taken} batches taken ({} events), {refused} refused",
        accepted.get()
    );
    assert!(
        taken > 30 && refused > 100,
        "{taken} taken, {refused} refused"
    );
    assert_eq!(
        count(&db, "agent_events"),
        accepted.get(),
        "the store holds exactly the events accepted"
    );

    // /enrol: a live token with the host name or version wrong, or any body at all.
    let live = token(&db);
    let enrolments = Cell::new(0i64);
    let live = RefCell::new(live);
    let enrol_body = prop_oneof![
        (
            prop::option::of(json_value()),
            prop::option::of(json_value()),
            any::<bool>()
        )
            .prop_map(|(host, version, real)| {
                let mut b = json!({});
                if let Some(h) = host {
                    b["hostname"] = h;
                }
                if let Some(v) = version {
                    b["version"] = v;
                }
                (real, Some(b), Vec::new())
            }),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(|bytes| (false, None, bytes)),
        (
            "[a-z0-9-]{1,20}",
            prop_oneof![Just(VERSION.to_owned()), "[0-9.]{0,8}"]
        )
            .prop_map(|(h, v)| (
                true,
                Some(json!({"hostname": h, "version": v})),
                Vec::new()
            )),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 120,
        max_shrink_iters: 100,
        // A failure is printed in full; there is no source file to keep it beside.
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&enrol_body, |(real, doc, bytes)| {
            let body = match doc {
                Some(mut d) => {
                    d["token"] = json!(if real {
                        live.borrow().clone()
                    } else {
                        "cw_not-a-token".to_owned()
                    });
                    d.to_string().into_bytes()
                }
                None => bytes.clone(),
            };
            let answer = post(
                &addr,
                "/api/v1/agents/enrol",
                &[],
                Some("application/json"),
                &body,
            );
            if answer.0 == 201 {
                enrolments.set(enrolments.get() + 1);
                *live.borrow_mut() = token(&db);
                return Ok(());
            }
            let e = refusal("enrol", &answer)?;
            if answer.0 == 401 {
                prop_assert_eq!(e["field"].as_str(), Some("token"), "{}", answer.1);
            }
            if answer.0 == 400 {
                let field = e["field"].as_str().unwrap_or("");
                prop_assert!(field == "hostname" || field == "version", "{}", answer.1);
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    for (what, kind, body) in edge_bodies() {
        let answer = post(&addr, "/api/v1/agents/enrol", &[], kind, &body);
        let e = refusal(what, &answer).unwrap_or_else(|e| panic!("{e}"));
        // Without a token that can be read, 401 whatever the rest; a body too big to read, 413.
        let want = if answer.0 == 413 { None } else { Some("token") };
        assert_eq!(e["field"].as_str(), want, "{what}: {}", answer.1);
    }
    assert_eq!(
        count(&db, "agents"),
        1 + enrolments.get(),
        "an agent for each enrolment accepted, no other"
    );

    // /heartbeat: any credential and version header, any body.
    let header = "[ -~]{0,40}";
    let beats = (
        prop_oneof![
            Just(auth.clone()),
            header.prop_map(|h| format!("Agent {h}")),
            header
        ],
        prop_oneof![
            Just(VERSION.to_owned()),
            header,
            "[0-9]{1,12}\\.[0-9]{1,3}\\.[0-9]{1,3}"
        ],
        prop::collection::vec(any::<u8>(), 0..200),
    );
    let mut runner = TestRunner::new(Config {
        cases: 80,
        max_shrink_iters: 100,
        // A failure is printed in full; there is no source file to keep it beside.
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&beats, |(authorization, version, body)| {
            let answer = post(
                &addr,
                "/api/v1/agents/heartbeat",
                &[
                    ("Authorization", authorization.trim()),
                    ("X-Cardwatch-Agent-Version", version.trim()),
                ],
                Some("application/json"),
                &body,
            );
            if answer.0 != 200 {
                let e = refusal("heartbeat", &answer)?;
                if answer.0 == 400 {
                    prop_assert_eq!(e["field"].as_str(), Some("version"), "{}", answer.1);
                }
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));

    // Still answering, and what it holds still adds up.
    let alive = post(&addr, "/api/v1/agents/heartbeat", &agent_headers, None, b"");
    assert_eq!(alive.0, 200, "{}", alive.1);
    assert_eq!(count(&db, "agent_events"), accepted.get());
    stop(child);
}
