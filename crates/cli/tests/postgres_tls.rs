//! The store over TLS to a PostgreSQL of the test's own, which accepts only encrypted
//! connections (`hostssl`) with a certificate from a certificate authority the test makes: each
//! `sslmode` checks what it should and refuses what it should, with a message saying what to
//! change; `pg_dump` and `psql` (backup, restore) use the same URL; and the pool's cap holds
//! under 200 concurrent requests to a real `cardwatch serve`, counted by PostgreSQL itself.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;

/// A URL for the store on `server`: `host` in the URL (what the certificate is checked
/// against), always reaching 127.0.0.1.
fn url(server: &PgCluster, host: &str, params: &str) -> String {
    format!(
        "postgres://postgres@{host}:{}/postgres?hostaddr=127.0.0.1&{params}",
        server.port
    )
}

/// Makes a certificate authority (`NAME.crt`, `NAME.key`) in `dir`.
fn authority(dir: &Path, name: &str) {
    must_run(
        "openssl req (authority)",
        Command::new("openssl")
            .current_dir(dir)
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .args([
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.crt"),
            ])
            .args(["-subj", &format!("/CN=Cardwatch test {name}")]),
    );
}

/// Starts a server whose certificate, signed by the authority `ca`, names 127.0.0.1 only, and
/// which accepts TCP connections only over TLS.
fn start() -> PgCluster {
    let server = PgCluster::new();
    let d = &server.path("");
    authority(d, "ca");
    authority(d, "other-ca");
    must_run(
        "openssl req (server)",
        Command::new("openssl")
            .current_dir(d)
            .args([
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
            ])
            .args(["-out", "server.csr", "-subj", "/CN=127.0.0.1"]),
    );
    std::fs::write(d.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    must_run(
        "openssl x509 (server)",
        Command::new("openssl")
            .current_dir(d)
            .args(["x509", "-req", "-in", "server.csr", "-CA", "ca.crt"])
            .args(["-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt"])
            .args(["-days", "2", "-extfile", "san.ext"]),
    );
    if is_root() {
        must_run(
            "chown",
            Command::new("chown")
                .arg("postgres:")
                .arg(d.join("server.key"))
                .arg(d.join("server.crt")),
        );
    }
    must_run(
        "chmod server.key",
        Command::new("chmod").arg("600").arg(d.join("server.key")),
    );
    // Over TCP only TLS; the test's own connection comes over the Unix socket.
    server.start(
        &format!(
            "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'",
            d.join("server.crt").display(),
            d.join("server.key").display(),
        ),
        "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
    );
    server
}

/// The store's connections as PostgreSQL sees them: (how many, how many over TLS).
fn store_connections(admin: &mut postgres::Client) -> (i64, i64) {
    let row = admin
        .query_one(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a \
             JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = 'cardwatch'",
            &[],
        )
        .expect("pg_stat_activity");
    (row.get(0), row.get(1))
}

fn refused(url: &str) -> String {
    match cardwatch_store::open(url) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("{url} connected"),
    }
}

#[test]
fn each_sslmode_checks_what_it_says_and_backups_use_the_same_url() {
    let server = start();
    let ca = server.path("ca.crt");
    let ca = ca.display();
    let other = server.path("other-ca.crt");
    let mut admin = server.admin();

    // verify-full with the authority that signed the certificate: connected, encrypted.
    let full = url(
        &server,
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let store = cardwatch_store::open(&full).expect("verify-full with the right authority");
    store.ping().expect("ping");
    let (open, encrypted) = store_connections(&mut admin);
    assert!(
        open >= 1,
        "the store's connection is not in pg_stat_activity"
    );
    assert_eq!(encrypted, open, "every store connection is over TLS");
    drop(store);

    // Another authority: refused, saying what to check.
    let e = refused(&url(
        &server,
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={}", other.display()),
    ));
    assert!(
        e.contains("is not signed by the authority in sslrootcert=") && e.contains("other-ca.crt"),
        "{e}"
    );

    // A host name the certificate does not hold: refused by verify-full, accepted by
    // verify-ca, which checks the authority only.
    let e = refused(&url(
        &server,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ));
    assert!(
        e.contains("does not name the host in the URL") && e.contains("localhost"),
        "{e}"
    );
    let by_ca = url(
        &server,
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    );
    cardwatch_store::open(&by_ca)
        .expect("verify-ca does not check the host name")
        .ping()
        .expect("ping");
    // A wrong authority fails verify-ca too.
    let e = refused(&url(
        &server,
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={}", other.display()),
    ));
    assert!(e.contains("is not signed by the authority"), "{e}");

    // require encrypts without checking the certificate, as libpq does without a root
    // certificate.
    cardwatch_store::open(&url(&server, "localhost", "sslmode=require"))
        .expect("require without a root certificate")
        .ping()
        .expect("ping");

    // No encryption against a server that takes only TLS: refused, saying what to set.
    let e = refused(&url(&server, "127.0.0.1", "sslmode=disable"));
    assert!(
        e.contains("accepts only encrypted connections") && e.contains("sslmode=verify-full"),
        "{e}"
    );

    // Through the command as an operator runs it: the message reaches them, exit non-zero.
    let wrong = url(
        &server,
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let out = cardwatch(&wrong, &["audit", "verify"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("does not name the host"),
        "{}",
        text(&out.stderr)
    );

    // pg_dump and psql read the same sslmode and sslrootcert (and are not given the pool's
    // settings, which libpq would refuse).
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("tls.backup");
    let full_capped = format!("{full}&pool_max=4&pool_wait=5");
    // Something to back up: an operator, and the audit record of adding them.
    add_administrator(
        &full_capped,
        "backup-admin",
        "backup test administrator passphrase",
    );
    let made = ok(&cardwatch(
        &full_capped,
        &["backup", file.to_str().unwrap()],
    ));
    assert!(made.contains("backed up the"), "{made}");
    admin
        .batch_execute("CREATE DATABASE restored")
        .expect("create");
    let restored = full_capped.replace("/postgres?", "/restored?");
    let said = ok(&cardwatch(&restored, &["restore", file.to_str().unwrap()]));
    assert!(said.contains("audit chain intact"), "{said}");
    let users = ok(&cardwatch(&restored, &["user", "list"]));
    assert!(users.contains("backup-admin"), "{users}");
    assert_eq!(users, ok(&cardwatch(&full_capped, &["user", "list"])));
}

#[test]
fn the_pool_cap_holds_under_200_concurrent_requests() {
    const CAP: i64 = 6;
    let server = start();
    let url = url(
        &server,
        "127.0.0.1",
        &format!(
            "sslmode=verify-full&sslrootcert={}&pool_max={CAP}",
            server.path("ca.crt").display()
        ),
    );
    // PostgreSQL's own count of the store's connections, sampled from the server's start to
    // the end of the load.
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        let mut admin = server.admin();
        std::thread::spawn(move || {
            let (mut most, mut most_plain, mut samples) = (0, 0, 0);
            while !done.load(Ordering::Relaxed) {
                let (open, encrypted) = store_connections(&mut admin);
                most = most.max(open);
                most_plain = most_plain.max(open - encrypted);
                samples += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            (most, most_plain, samples)
        })
    };
    let (child, addr, cookie) = serve_signed_in(&url);
    let start = Barrier::new(200);
    let started = Instant::now();
    let answers: Vec<(&str, u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..200)
            .map(|i| {
                let (start, addr, cookie) = (&start, &addr, &cookie);
                s.spawn(move || {
                    start.wait();
                    // Pages that each read the store more than once (the estate is empty: the
                    // load is the pool's, not the pages').
                    let path = ["/", "/findings", "/estate/people", "/audit"][i % 4];
                    let (status, response) = get_as(addr, path, cookie);
                    (path, status, response)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let took = started.elapsed();
    let (_, metrics) = get(&addr, "/metrics");
    done.store(true, Ordering::Relaxed);
    let (most, most_plain, samples) = sampler.join().unwrap();
    stop(child);
    let failed: Vec<_> = answers
        .iter()
        .filter(|(_, status, _)| *status != 200)
        .map(|(path, status, r)| format!("{path} {status}: {}", r.lines().last().unwrap_or("")))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of 200 not answered: {failed:?}",
        failed.len()
    );
    eprintln!(
        "200 requests in {took:?}; the store's connections at most {most} (cap {CAP}), \
         {samples} samples"
    );
    assert!(
        most <= CAP,
        "{most} connections open, over the cap of {CAP}"
    );
    assert!(
        most >= 2,
        "the load used {most} connection(s): the cap was not tested"
    );
    assert_eq!(most_plain, 0, "a store connection without TLS");
    assert!(
        metrics.contains(&format!("cardwatch_store_connections_max {CAP}\n")),
        "{metrics}"
    );
    for state in ["in_use", "idle"] {
        assert!(
            metrics.contains(&format!(
                "cardwatch_store_connections{{state=\"{state}\"}} "
            )),
            "{metrics}"
        );
    }
}
