//! Crashes and faults with real processes and real signals: an import killed (SIGKILL) at
//! seeded random moments leaves the store exactly as it was or exactly as the import makes it;
//! a server killed under agents' event batches loses no acknowledged event and stores none
//! twice; a replica killed while it runs a job leaves that run to the other, which completes it
//! once and sends no message twice; and a server whose PostgreSQL restarts answers again without
//! a restart of its own. Each test prints what it measured.

mod common;

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cardwatch_core::records::Kind;
use common::*;

/// Seeded moments: xorshift64*, so a failing run can be repeated with its seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A whole number in `lo..hi`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

/// The seed: `CARDWATCH_FAULT_SEED` to repeat a run, else a fixed one.
fn seed() -> u64 {
    std::env::var("CARDWATCH_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_206)
}

/// An HTTP request that may fail (the server is being killed): connecting and answering are
/// bounded, and a refused or cut connection is an `Err`, not a panic.
fn try_send(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let to: SocketAddr = addr.parse().expect("an address");
    let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    write!(s, "{head}\r\n{}", body.unwrap_or(""))?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    match out.split_whitespace().nth(1).and_then(|c| c.parse().ok()) {
        Some(status) => Ok((status, out)),
        None => Err(std::io::Error::other(format!("no status line in {out:?}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// 1. An import killed at random moments.

/// What an import changes, fingerprinted: each kind's count and a hash of its export, and the
/// audit chain's length (an import adds records to it in the same transaction).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
    kinds: Vec<(&'static str, i64, u64)>,
    audit: i64,
}

fn fingerprint(db: &str) -> Fingerprint {
    let store = cardwatch_store::open(db).unwrap_or_else(|e| panic!("open {db}: {e}"));
    let counts: HashMap<Kind, i64> = store.counts().expect("counts").into_iter().collect();
    let kinds = Kind::ALL
        .iter()
        .map(|&kind| {
            let mut h = DefaultHasher::new();
            let rows = store
                .export(kind, &mut |cells| {
                    for c in cells {
                        c.to_csv().hash(&mut h);
                    }
                    0xffu8.hash(&mut h);
                    Ok(())
                })
                .expect("export");
            let counted = counts.get(&kind).copied().unwrap_or(0);
            assert_eq!(
                counted as u64,
                rows,
                "{}: the kept count disagrees with the rows",
                kind.name()
            );
            (kind.name(), counted, h.finish())
        })
        .collect();
    Fingerprint {
        kinds,
        audit: store.audit_length().expect("audit length"),
    }
}

impl Fingerprint {
    fn rows(&self) -> i64 {
        self.kinds.iter().map(|k| k.1).sum()
    }
}

/// The before state's store, and fresh copies of it to import into.
struct Base {
    dir: std::path::PathBuf,
    pg: Option<PgDatabase>,
    url: String,
    copies: usize,
}

impl Base {
    /// A copy of the base store: (its PostgreSQL database, kept while used; its URL).
    fn copy(&mut self) -> (Option<PgDatabase>, String) {
        self.copies += 1;
        match &self.pg {
            Some(pg) => {
                let copy = pg_copy(pg);
                let url = copy.url.clone();
                (Some(copy), url)
            }
            None => {
                let to = self.dir.join(format!("work-{}.sqlite", self.copies));
                for suffix in ["", "-wal", "-shm"] {
                    let from = format!("{}{suffix}", self.url);
                    if Path::new(&from).exists() {
                        std::fs::copy(&from, format!("{}{suffix}", to.display()))
                            .expect("copy the base store");
                    }
                }
                (None, to.display().to_string())
            }
        }
    }
}

/// Waits until PostgreSQL has finished with a killed client's session: a COMMIT it sent just
/// before dying still commits, so the store may move from the before state to the after state
/// (never between) after the process is gone.
fn settle(db: &str) {
    if !db.starts_with("postgres") {
        return;
    }
    let mut c = postgres::Client::connect(db, postgres::NoTls).expect("PostgreSQL");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let others: i64 = c
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid()",
                &[],
            )
            .expect("pg_stat_activity")
            .get(0);
        if others == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "a killed import's session still open after 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SQLite's own check of a store file: "ok", or what is wrong.
fn integrity(db: &str) -> String {
    let c = rusqlite::Connection::open(db).expect("open with rusqlite");
    let rows: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()
        })
        .expect("integrity_check");
    rows.join("; ")
}

#[test]
fn an_import_killed_at_random_moments_leaves_the_before_or_the_after_state() {
    const KILLS: usize = 10;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path();
    // Before: a small estate. The import: the same seed's larger estate over it (new rows and
    // changed ones), sized so that it takes a second or two.
    let small = demo_files_of(&dir.join("small"), "20");
    let large = demo_files_of(&dir.join("large"), "300");
    let import = |db: &str| {
        let mut c = command(db, Some(DAY));
        c.arg("import").args(&large);
        c
    };
    let (pg, url) = store_in(dir);
    let mut first = vec!["import"];
    first.extend(small.iter().map(String::as_str));
    ok(&cardwatch_on(DAY, &url, &first));
    let before = fingerprint(&url);
    let mut base = Base {
        dir: dir.to_owned(),
        pg,
        url,
        copies: 0,
    };
    let sqlite = base.pg.is_none();

    // The after state, from an import nobody interrupts; its time is the first estimate of how
    // long one takes.
    let (_reference, reference) = base.copy();
    let started = Instant::now();
    ok(&import(&reference).output().expect("import"));
    let took = started.elapsed();
    let after = fingerprint(&reference);
    assert!(
        after.rows() > before.rows() + 10_000 && after.audit > before.audit,
        "the import changes the store: {before:?} → {after:?}"
    );

    let seed = seed();
    let mut rng = Rng::new(seed);
    // Each moment is a seeded fraction of how long an import takes: first the reference
    // import's time, then that of any import that ended before its moment (the time varies
    // with the machine's load).
    let mut estimate = took;
    let (mut saw_before, mut saw_after, mut while_running) = (0, 0, 0);
    let mut moments = Vec::new();
    // A store left in the before state takes the next kill too (each kill is another crash
    // to recover from); one the import finished in is replaced by a fresh copy.
    let mut current: Option<(Option<PgDatabase>, String)> = None;
    let mut stores = 0;
    for _ in 0..KILLS {
        let (work_pg, work) = current.take().unwrap_or_else(|| {
            stores += 1;
            base.copy()
        });
        let at = estimate.mul_f64(rng.between(2, 100) as f64 / 100.0);
        let spawned = Instant::now();
        let mut child = import(&work)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn import");
        // Until the moment, watching for an import that ends first: how long it took is then
        // the estimate.
        let mut finished = None;
        while spawned.elapsed() < at {
            if child.try_wait().expect("try_wait").is_some() {
                finished = Some(spawned.elapsed());
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("wait");
        settle(&work);
        if sqlite {
            let check = integrity(&work);
            assert_eq!(check, "ok", "integrity_check after a kill at {at:?}");
        }
        let now = fingerprint(&work);
        let verdict = ok(&cardwatch(&work, &["audit", "verify"]));
        assert!(verdict.contains("intact"), "{verdict}");
        let state = if now == before {
            saw_before += 1;
            "before"
        } else if now == after {
            saw_after += 1;
            "after"
        } else {
            panic!(
                "a partial store after a kill at {at:?}:\nbefore {before:?}\nafter {after:?}\n\
                 found {now:?}"
            )
        };
        match finished {
            Some(took) => estimate = took,
            None => while_running += 1,
        }
        moments.push(format!(
            "{}ms:{state}{}",
            at.as_millis(),
            if finished.is_some() { "(done)" } else { "" }
        ));
        if state == "before" {
            current = Some((work_pg, work));
        }
    }
    // The store the last kills left as it was (a fresh copy if the last kill came after the
    // commit) takes the import afterwards.
    let (_kept, work) = current.unwrap_or_else(|| base.copy());
    ok(&import(&work).output().expect("import"));
    assert_eq!(fingerprint(&work), after, "the import after the kills");
    assert!(ok(&cardwatch(&work, &["audit", "verify"])).contains("intact"));
    if sqlite {
        assert_eq!(integrity(&work), "ok");
    }
    eprintln!(
        "import kills ({}; seed {seed}): {KILLS} kills at moments within a {took:?} import of \
         {} rows, {while_running} while it ran, on {stores} copies of the before store; \
         before {saw_before}, after {saw_after}, partial 0; moments {moments:?}; then the \
         import succeeded",
        if sqlite { "sqlite" } else { "postgres" },
        after.rows() - before.rows(),
    );
    assert!(
        while_running >= KILLS / 2,
        "only {while_running} of {KILLS} kills landed while the import ran"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. The server killed under agents' event batches.

const AGENTS: usize = 4;
const BATCHES: usize = 100;
const SERVER_KILLS: usize = 5;
const PER_BATCH: usize = 25;

/// What one agent's sender saw.
#[derive(Default, Debug)]
struct Sent {
    /// Per batch: the `accepted` of each acknowledgement it had.
    acks: Vec<Vec<u64>>,
    /// Sends that had no acknowledgement (refused, cut, or not 200).
    failed: usize,
    /// Batches already acknowledged and sent again after an outage.
    resent_acked: usize,
}

fn serve_on(db: &str, port: u16) -> Child {
    let mut serve = command(db, None);
    serve.args(["serve", "--bind", &format!("127.0.0.1:{port}")]);
    spawn_serving(serve).0
}

#[test]
fn a_server_killed_under_agent_batches_keeps_every_acknowledged_event_once() {
    let (_tmp, db) = scratch_db();
    ok(&cardwatch(&db, &["demo", "--practices", "1"]));
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut server = serve_on(&db, port);
    let mut agents = Vec::new();
    for n in 0..AGENTS {
        let made = ok(&cardwatch(&db, &["agent", "token", "--site", "A10000"]));
        let token = made.lines().last().expect("a token").trim().to_owned();
        let (status, answer) = try_send(
            &addr,
            "POST",
            "/api/v1/agents/enrol",
            &[],
            Some(&format!(
                r#"{{"token":"{token}","hostname":"fault-ws-{n}","version":"0.1.0"}}"#
            )),
        )
        .expect("enrol");
        assert_eq!(status, 201, "{answer}");
        let v = body_json(&answer);
        agents.push((
            v["agent_id"].as_str().expect("id").to_owned(),
            format!("Agent {}", v["credential"].as_str().expect("credential")),
        ));
    }

    let acked = Arc::new(AtomicUsize::new(0));
    let senders: Vec<_> = agents
        .iter()
        .enumerate()
        .map(|(n, (_, auth))| {
            let (addr, auth, acked) = (addr.clone(), auth.clone(), acked.clone());
            std::thread::spawn(move || send_batches(n, &addr, &auth, &acked))
        })
        .collect();
    // Kills at seeded moments: after a random number of acknowledged batches in each fifth of
    // the stream.
    let mut rng = Rng::new(seed());
    let total = AGENTS * BATCHES;
    let mut kills = Vec::new();
    for fifth in 0..SERVER_KILLS {
        let at = rng.between(
            (total * fifth / SERVER_KILLS + 5) as u64,
            (total * (fifth + 1) / SERVER_KILLS) as u64,
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        while (acked.load(Ordering::SeqCst) as u64) < at {
            assert!(
                Instant::now() < deadline,
                "{} batches acknowledged in 120 s",
                acked.load(Ordering::SeqCst)
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        server.kill().expect("SIGKILL");
        server.wait().expect("wait");
        kills.push(acked.load(Ordering::SeqCst));
        server = serve_on(&db, port);
    }
    let results: Vec<Sent> = senders
        .into_iter()
        .map(|s| s.join().expect("sender"))
        .collect();
    stop(server);

    // What the store holds, read directly: every (agent, event id) and how often.
    let stored = stored_events(&db);
    let mut per: HashMap<(String, String), i64> = HashMap::new();
    for (agent, event, n) in stored {
        per.insert((agent, event), n);
    }
    let (mut accepted, mut duplicates, mut failed, mut resent) = (0u64, 0u64, 0, 0);
    for (n, sent) in results.iter().enumerate() {
        let agent = &agents[n].0;
        failed += sent.failed;
        resent += sent.resent_acked;
        for (b, acks) in sent.acks.iter().enumerate() {
            assert!(!acks.is_empty(), "agent {n} batch {b} never acknowledged");
            let new: u64 = acks.iter().sum();
            assert!(
                new <= PER_BATCH as u64,
                "agent {n} batch {b}: {new} accepted as new over {} sends",
                acks.len()
            );
            accepted += new;
            duplicates += acks.len() as u64 * PER_BATCH as u64 - new;
            for e in 0..PER_BATCH {
                let id = event_id(n, b, e);
                assert_eq!(
                    per.get(&(agent.clone(), id.clone())).copied(),
                    Some(1),
                    "acknowledged event {id} of agent {n} stored once"
                );
            }
        }
    }
    let ours: HashSet<&String> = agents.iter().map(|(id, _)| id).collect();
    let stored_ours: i64 = per
        .iter()
        .filter(|((a, _), _)| ours.contains(a))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(stored_ours as usize, total * PER_BATCH, "no stray event");
    assert!(resent > 0, "acknowledged batches were sent again");
    assert!(
        accepted <= stored_ours as u64,
        "{accepted} events acknowledged as new, {stored_ours} stored: some counted new twice"
    );
    eprintln!(
        "agent ingest kills: {} kills after {kills:?} acknowledged batches; {} events in {total} \
         batches from {AGENTS} agents; sends without an acknowledgement {failed}; acknowledged \
         batches sent again {resent}; events acknowledged as new {accepted}, as duplicates \
         {duplicates}; stored {stored_ours}, each once (committed before a kill but not \
         acknowledged: {})",
        kills.len(),
        total * PER_BATCH,
        stored_ours as u64 - accepted,
    );
}

fn event_id(agent: usize, batch: usize, n: usize) -> String {
    format!("fault-{agent}-{batch}-{n}")
}

/// One agent's sender: every batch until acknowledged; after an outage, the two batches
/// acknowledged last before it go again too (an agent that lost its spool's bookkeeping).
fn send_batches(n: usize, addr: &str, auth: &str, acked: &AtomicUsize) -> Sent {
    let mut sent = Sent {
        acks: vec![Vec::new(); BATCHES],
        ..Sent::default()
    };
    let body = |b: usize| {
        let events: Vec<serde_json::Value> = (0..PER_BATCH)
            .map(|e| {
                serde_json::json!({
                    "id": event_id(n, b, e),
                    "at": "2026-12-06T09:00:00Z",
                    "kind": "card_inserted",
                    "data": {"slot": e},
                })
            })
            .collect();
        serde_json::json!({ "events": events }).to_string()
    };
    let mut queue: std::collections::VecDeque<usize> = (0..BATCHES).collect();
    let mut last_acked: Vec<usize> = Vec::new();
    let mut outage = false;
    let deadline = Instant::now() + Duration::from_secs(300);
    while let Some(b) = queue.pop_front() {
        assert!(Instant::now() < deadline, "agent {n}: batches still unsent");
        let answer = try_send(
            addr,
            "POST",
            "/api/v1/agents/events",
            &[
                ("Authorization", auth),
                ("X-Cardwatch-Agent-Version", "0.1.0"),
            ],
            Some(&body(b)),
        );
        match answer {
            Ok((200, response)) => {
                let v = body_json(&response);
                let new = v["accepted"].as_u64().expect("accepted");
                let dup = v["duplicates"].as_u64().expect("duplicates");
                assert_eq!(new + dup, PER_BATCH as u64, "{response}");
                let first = sent.acks[b].is_empty();
                sent.acks[b].push(new);
                if first {
                    acked.fetch_add(1, Ordering::SeqCst);
                    last_acked.push(b);
                }
                if outage {
                    outage = false;
                    for &again in last_acked.iter().rev().skip(1).take(2) {
                        sent.resent_acked += 1;
                        queue.push_front(again);
                    }
                }
            }
            Ok((status, response)) => {
                // Only a server that is starting or stopping may fail a batch: never a refusal
                // of the batch itself.
                assert!(status >= 500, "agent {n} batch {b}: {status} {response}");
                sent.failed += 1;
                outage = true;
                queue.push_front(b);
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => {
                sent.failed += 1;
                outage = true;
                queue.push_front(b);
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    sent
}

/// Every stored agent event: (agent id, event id, rows with that pair).
fn stored_events(db: &str) -> Vec<(String, String, i64)> {
    const SQL: &str =
        "SELECT agent_id, event_id, COUNT(*) FROM agent_events GROUP BY agent_id, event_id";
    if db.starts_with("postgres") {
        let mut c = postgres::Client::connect(db, postgres::NoTls).expect("PostgreSQL");
        c.query(SQL, &[])
            .expect("agent_events")
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    } else {
        let c = rusqlite::Connection::open(db).expect("SQLite");
        let mut s = c.prepare(SQL).expect("prepare");
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("agent_events")
            .collect::<Result<_, _>>()
            .expect("rows")
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Two replicas on one PostgreSQL, one killed while it runs a job.

fn jobs(db: &str) -> serde_json::Value {
    serde_json::from_str(&ok(&cardwatch(
        db,
        &["jobs", "list", "--limit", "500", "--json"],
    )))
    .expect("json")
}

fn unix(t: &serde_json::Value) -> i64 {
    cardwatch_core::date::Timestamp::parse(t.as_str().expect("a time"))
        .expect("a timestamp")
        .unix()
}

#[test]
fn a_replica_killed_while_it_runs_a_job_leaves_each_slot_run_once_and_each_message_sent_once() {
    let dir = tempfile::tempdir().expect("dir");
    let db = pg_database();
    ok(&cardwatch(
        &db,
        &["demo", "--practices", "3", "--seed", "9"],
    ));
    let port = free_port();
    // A slow relay and one sender, so a delivery run lasts seconds and is caught mid-way; one
    // delivery run (the moment at the top of the hour, which a starting server catches up on),
    // so the sender killed is the only one; the findings job every two seconds besides.
    let smtp = Smtp::start(port, &dir.path().join("mail"), &["--delay-rcpt", "0.2"]);
    let cfg = dir.path().join("cardwatch.toml");
    std::fs::write(
        &cfg,
        format!(
            "[notify]\nsmtp_url = \"smtp://127.0.0.1:{port}\"\nlease_seconds = 3\n\
             delivery_workers = 1\n\
             [schedule]\ndeliver = \"0 0 * * * *\"\nfindings = \"*/2 * * * * *\"\n\
             digest = \"off\"\nreminders = \"off\"\nstock = \"off\"\npurge = \"off\"\n"
        ),
    )
    .expect("config");
    let cfg = cfg.display().to_string();
    // Messages to deliver, recorded before any replica runs.
    ok(&cardwatch(
        &db,
        &["--config", &cfg, "jobs", "run", "reminders"],
    ));
    let total = jobs(&db)["outbox"]["pending"].as_u64().expect("pending") as usize;
    assert!(total >= 6, "{total} messages to deliver");
    let replica = || {
        let mut serve = command(&db, None);
        serve.args(["--config", &cfg, "serve", "--bind", "127.0.0.1:0"]);
        spawn_serving(serve).0
    };
    let mut replicas = vec![replica(), replica()];
    let started = Instant::now();

    // The delivery run under way, and a message of it accepted by the relay: its owner dies
    // half-way through a later message's slow conversation (away from the moment between the
    // relay's acceptance and the outbox recording it, the one window docs/NOTIFY.md names).
    let deadline = Instant::now() + Duration::from_secs(60);
    let (slot, owner) = loop {
        assert!(
            Instant::now() < deadline,
            "no delivery run was seen running"
        );
        let j = jobs(&db);
        let running = j["runs"].as_array().expect("runs").iter().find_map(|r| {
            (r["job"] == "deliver" && r["state"] == "running").then(|| {
                (
                    r["slot"].clone(),
                    r["owner"].as_str().unwrap_or("").to_owned(),
                )
            })
        });
        match running {
            Some(r) if !smtp.messages().is_empty() => break r,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    // With one sender the conversations follow one another: the next acceptance, then half
    // of the relay's delay, is the middle of the one after it.
    let seen = smtp.messages().len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while smtp.messages().len() == seen {
        assert!(Instant::now() < deadline, "the delivery run stalled");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    let victim = replicas
        .iter()
        .position(|c| owner.contains(&format!(":{}:", c.id())))
        .unwrap_or_else(|| panic!("the run's owner {owner} is one of the replicas"));
    let mut killed = replicas.remove(victim);
    killed.kill().expect("SIGKILL");
    killed.wait().expect("wait");
    let killed_at = started.elapsed();
    // The runs the dead replica held: each is to be taken over once.
    let orphans: HashSet<(String, i64)> = jobs(&db)["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .filter(|r| r["state"] == "running" && r["owner"] == owner.as_str())
        .map(|r| (r["job"].as_str().expect("job").to_owned(), unix(&r["slot"])))
        .collect();
    let arrived_at_kill = smtp.messages().len();
    assert!(arrived_at_kill < total, "killed mid-run");

    // The survivor takes the run over once its lease expires, and finishes it; the outbox
    // empties.
    let deadline = Instant::now() + Duration::from_secs(60);
    let finished = loop {
        assert!(
            Instant::now() < deadline,
            "the killed replica's run was never completed"
        );
        let j = jobs(&db);
        let done = j["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .find(|r| r["job"] == "deliver" && r["slot"] == slot && r["state"] == "done")
            .cloned();
        let outbox = &j["outbox"];
        let quiet = ["pending", "sending"]
            .iter()
            .all(|s| outbox[s].as_u64().unwrap_or(0) == 0);
        match done {
            Some(run) if quiet && smtp.messages().len() >= total => break run,
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    };
    let took_over = started.elapsed();
    // A few more slots with one replica, then the store is read with nothing running.
    std::thread::sleep(Duration::from_secs(3));
    for r in replicas {
        stop(r);
    }
    let j = jobs(&db);
    let runs = j["runs"].as_array().expect("runs");
    assert_eq!(finished["attempts"], 2, "taken over once: {finished}");
    assert_ne!(finished["owner"].as_str(), Some(owner.as_str()));
    // Every slot is one row (the table's key); none was run by both replicas at once — a run
    // attempted twice is only the one the kill interrupted — and none was left unfinished
    // but the ones the last stop cut.
    let mut per_job: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut slots = HashSet::new();
    for r in runs {
        let job = r["job"].as_str().expect("job");
        assert!(slots.insert((job, unix(&r["slot"]))), "{job} slot twice");
        let orphan = orphans.contains(&(job.to_owned(), unix(&r["slot"])));
        let attempts = r["attempts"].as_i64().expect("attempts");
        assert_eq!(
            attempts,
            if orphan { 2 } else { 1 },
            "started once, or once more after the kill: {r}"
        );
        assert_ne!(r["state"], "failed", "{r}");
        let e = per_job.entry(job).or_default();
        e.0 += 1;
        if r["state"] == "done" {
            e.1 += 1;
        }
    }
    let got = smtp.messages();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for (_, raw) in &got {
        *per_id
            .entry(header(raw, "Message-ID").unwrap_or(""))
            .or_default() += 1;
    }
    let twice = per_id.values().filter(|&&n| n > 1).count();
    eprintln!(
        "replica kill: killed the owner of the deliver run of slot {slot} at {killed_at:?} \
         (holding {} run(s)) with {arrived_at_kill} of {total} messages delivered; the other completed it (attempt \
         {}) by {took_over:?}; runs per job (all, done) {per_job:?}; messages arrived {}, \
         distinct {}, sent twice {twice}",
        orphans.len(),
        finished["attempts"],
        got.len(),
        per_id.len(),
    );
    assert_eq!(twice, 0, "a message arrived twice");
    assert_eq!(got.len(), total, "every message arrived");
    assert!(
        per_job.get("findings").is_some_and(|f| f.1 >= 3),
        "the findings job ran on its schedule: {per_job:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. PostgreSQL restarted under load.

/// When a request was answered, and its status or why it had none.
type Answer = (Instant, Result<u16, String>);

#[test]
fn a_server_answers_again_after_its_postgresql_restarts_without_a_restart_of_its_own() {
    let cluster = PgCluster::new();
    cluster.start("", "local all all trust\nhost all all 127.0.0.1/32 trust\n");
    let url = format!(
        "postgres://postgres@127.0.0.1:{}/postgres?pool_wait=5",
        cluster.port
    );
    let log = cluster.path("serve.log");
    let (mut server, addr, cookie) =
        serve_signed_in_to(&url, Stdio::from(std::fs::File::create(&log).expect("log")));
    // Load: pages that read the store, from four clients, each answer timed.
    let stop_load = Arc::new(AtomicBool::new(false));
    let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (addr, cookie) = (addr.clone(), cookie.clone());
            let (stop_load, answers) = (stop_load.clone(), answers.clone());
            std::thread::spawn(move || {
                let path = ["/", "/healthz", "/estate/people", "/audit"][i];
                while !stop_load.load(Ordering::SeqCst) {
                    let r = try_send(&addr, "GET", path, &[("Cookie", &cookie)], None)
                        .map_err(|e| e.to_string())
                        .and_then(|(status, response)| match status {
                            // Refused while the database is away: with words an operator
                            // can act on, never a bare failure.
                            503 if !response.contains("the database is not answering") => {
                                Err(format!("503 without the message: {response}"))
                            }
                            s => Ok(s),
                        });
                    answers.lock().unwrap().push((Instant::now(), r));
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        })
        .collect();
    let answered_since = |t: Instant| {
        answers
            .lock()
            .unwrap()
            .iter()
            .filter(|(at, r)| *at > t && *r == Ok(200))
            .count()
    };
    let load_started = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered_since(load_started) < 20 {
        assert!(
            Instant::now() < deadline,
            "no load answered before the restart"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let restart_began = Instant::now();
    cluster.pg_ctl(&["-m", "fast", "-w", "restart"]);
    let back = Instant::now();
    // Answered again: twenty 200s after PostgreSQL is back.
    let deadline = back + Duration::from_secs(60);
    while answered_since(back) < 20 {
        assert!(
            Instant::now() < deadline,
            "the server never answered again after PostgreSQL restarted"
        );
        assert!(
            server.try_wait().expect("try_wait").is_none(),
            "the server exited"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stop_load.store(true, Ordering::SeqCst);
    for c in clients {
        c.join().expect("client");
    }
    let alive = server.try_wait().expect("try_wait").is_none();
    stop(server);
    let answers = answers.lock().unwrap();
    let first_ok = answers
        .iter()
        .filter(|(at, r)| *at > back && *r == Ok(200))
        .map(|(at, _)| *at)
        .min()
        .expect("a 200 after the restart");
    let recovered = first_ok.saturating_duration_since(back);
    let mut by: HashMap<String, usize> = HashMap::new();
    for (_, r) in answers.iter() {
        *by.entry(match r {
            Ok(s) => s.to_string(),
            Err(e) => format!("error: {e}"),
        })
        .or_default() += 1;
    }
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    eprintln!(
        "PostgreSQL restart under load: {} requests, answers {by:?}; the restart took {:?}; \
         the first 200 {recovered:?} after PostgreSQL was back",
        answers.len(),
        back - restart_began,
    );
    assert!(alive, "the server exited");
    assert!(!logged.contains("panicked"), "{logged}");
    let unexpected: Vec<_> = by
        .keys()
        .filter(|k| k.as_str() != "200" && k.as_str() != "503")
        .collect();
    assert!(
        unexpected.is_empty(),
        "only 200, or 503 during the outage: {by:?}"
    );
    assert!(
        recovered < Duration::from_secs(10),
        "answered again only {recovered:?} after PostgreSQL was back"
    );
}
