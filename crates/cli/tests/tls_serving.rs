//! Serving over TLS while connections stall: a real server on real sockets, clients that open
//! TCP and never send a ClientHello (or send half of one), and a real rustls client that must
//! still be served. `[server] tls_handshake_timeout_secs` and `tls_max_handshakes` are set low
//! so that the test sees them act.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use common::*;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `cardwatch serve` over TLS with `config` as its configuration file; its address.
fn tls_server(dir: &Path, config: &str) -> (Child, String, PathBuf) {
    let (cert, key) = certificate(dir);
    let path = dir.join("cardwatch.toml");
    std::fs::write(&path, config).expect("config");
    let db = dir.join("cardwatch.sqlite").display().to_string();
    let mut serve = command(&db, None);
    serve
        .arg("--config")
        .arg(&path)
        .args(["serve", "--bind", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key);
    let (child, addr, _) = spawn_serving(serve);
    (child, addr, cert)
}

/// `GET /healthz` over TLS with a rustls client trusting only the test's certificate; the
/// status line and how long the whole exchange took.
fn real_client(addr: &str, ca: &Path) -> (String, Duration) {
    let connector = tokio_rustls::TlsConnector::from(client_trusting(ca));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let started = Instant::now();
    let answer = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from("127.0.0.1").expect("name");
        let mut tls = connector.connect(name, tcp).await.expect("handshake");
        tls.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .expect("send");
        let mut out = Vec::new();
        // The server may close without a TLS close_notify; what arrived is the answer.
        let _ = tls.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    });
    let took = started.elapsed();
    (answer.lines().next().unwrap_or("").to_owned(), took)
}

/// The first 48 bytes of a ClientHello whose record says 512 follow: the server waits for more.
fn half_a_client_hello() -> Vec<u8> {
    let mut b = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    b.extend(std::iter::repeat_n(0x5a, 37));
    b
}

/// `n` connections that never finish a handshake; every fifth sends half a ClientHello.
fn stall(addr: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut s = TcpStream::connect(addr).expect("connect");
            if i % 5 == 4 {
                s.write_all(&half_a_client_hello()).expect("half a hello");
            }
            s
        })
        .collect()
}

/// Whether the server has closed the connection: reading finds its end (or a reset) at once.
fn closed(s: &TcpStream) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let mut b = [0u8; 64];
    let closed = match (&mut &*s).read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock),
    };
    s.set_nonblocking(false).expect("blocking");
    closed
}

#[test]
fn stalled_handshakes_do_not_keep_a_real_client_out_and_are_closed_after_the_timeout() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (child, addr, ca) = tls_server(tmp.path(), "[server]\ntls_handshake_timeout_secs = 2\n");
    let opened = Instant::now();
    let stalled = stall(&addr, 200);
    let (status, took) = real_client(&addr, &ca);
    // Half way through the timeout they are all still held open…
    std::thread::sleep(Duration::from_millis(1000).saturating_sub(opened.elapsed()));
    let early = stalled.iter().filter(|s| closed(s)).count();
    // … and once it has passed, every one is closed.
    std::thread::sleep(Duration::from_millis(3500).saturating_sub(opened.elapsed()));
    let late = stalled.iter().filter(|s| closed(s)).count();
    let (after, _) = real_client(&addr, &ca);
    stop(child);
    assert_eq!(
        status, "HTTP/1.1 200 OK",
        "the real client amid 200 stalled"
    );
    assert!(took < Duration::from_secs(2), "served in {took:?}");
    assert_eq!(early, 0, "none closed before the timeout");
    assert_eq!(late, 200, "all closed by 3.5 s with a 2 s timeout");
    assert_eq!(after, "HTTP/1.1 200 OK");
}

#[test]
fn past_the_cap_the_oldest_unfinished_handshakes_make_room() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (child, addr, ca) = tls_server(tmp.path(), "[server]\ntls_max_handshakes = 64\n");
    let stalled = stall(&addr, 200);
    std::thread::sleep(Duration::from_millis(300));
    let (status, took) = real_client(&addr, &ca);
    std::thread::sleep(Duration::from_millis(100));
    let gone: Vec<usize> = stalled
        .iter()
        .enumerate()
        .filter_map(|(i, s)| closed(s).then_some(i))
        .collect();
    stop(child);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(took < Duration::from_secs(2), "served in {took:?}");
    // 64 may wait at once: the 136 oldest went as newer ones came, and the real client's own
    // handshake took the place of one more.
    assert_eq!(gone, (0..137).collect::<Vec<_>>());
}

#[test]
fn handshake_settings_out_of_range_are_refused() {
    for (config, want) in [
        (
            "[server]\ntls_handshake_timeout_secs = 0\n",
            "server.tls_handshake_timeout_secs: 0 must be from 1 to 300 seconds",
        ),
        (
            "[server]\ntls_max_handshakes = -5\n",
            "server.tls_max_handshakes: -5 must be from 1 to 100000",
        ),
    ] {
        let err = serve_refused(config);
        assert!(err.contains(want), "{err}");
    }
}
