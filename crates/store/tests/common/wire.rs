//! A TCP relay in front of PostgreSQL that counts the messages its clients send: `S` (Sync) and
//! `Q` (a simple query) each end one round trip, `P` (Parse) is a statement the server parses and
//! plans. For asserting how many round trips, and how much parsing, a piece of work costs.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Messages sent by every client of one relay so far.
#[derive(Debug, Default)]
pub struct Counts {
    syncs: AtomicUsize,
    queries: AtomicUsize,
    parses: AtomicUsize,
}

/// Round trips and parses between two readings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub round_trips: usize,
    pub parses: usize,
}

impl Counts {
    /// Round trips and parses so far.
    pub fn now(&self) -> Seen {
        Seen {
            round_trips: self.syncs.load(Ordering::SeqCst) + self.queries.load(Ordering::SeqCst),
            parses: self.parses.load(Ordering::SeqCst),
        }
    }

    /// What was sent since `before` (a reading of [`Counts::now`]).
    pub fn since(&self, before: Seen) -> Seen {
        let now = self.now();
        Seen {
            round_trips: now.round_trips - before.round_trips,
            parses: now.parses - before.parses,
        }
    }
}

/// Starts a relay to `upstream` (host:port); its own address and its counts. The relay's
/// threads live as long as the test process.
pub fn relay(upstream: &str) -> (String, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
    let addr = listener.local_addr().expect("relay address").to_string();
    let counts = Arc::new(Counts::default());
    let upstream = upstream.to_owned();
    let c = counts.clone();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(&upstream) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (c2s_in, s2c_out) = (client.try_clone().expect("clone"), client);
            let (c2s_out, s2c_in) = (server.try_clone().expect("clone"), server);
            let counts = c.clone();
            std::thread::spawn(move || to_server(c2s_in, c2s_out, &counts));
            std::thread::spawn(move || copy(s2c_in, s2c_out));
        }
    });
    (addr, counts)
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// Passes the client's bytes on, reading its messages as they go: untyped ones (the startup
/// message, and an SSL request before it) until the startup message, typed ones after.
fn to_server(mut from: TcpStream, mut to: TcpStream, counts: &Counts) {
    let mut pending: Vec<u8> = Vec::new();
    let mut started = false;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        // Counted before they are passed on: once the server has them, its answer can reach
        // the client, and the test read the counts, before this thread counts them.
        pending.extend_from_slice(&buf[..n]);
        loop {
            let head = if started { 5 } else { 4 };
            if pending.len() < head {
                break;
            }
            let at = head - 4;
            let len = u32::from_be_bytes(pending[at..at + 4].try_into().expect("4 bytes")) as usize;
            if pending.len() < at + len {
                break;
            }
            if started {
                match pending[0] {
                    b'S' => counts.syncs.fetch_add(1, Ordering::SeqCst),
                    b'Q' => counts.queries.fetch_add(1, Ordering::SeqCst),
                    b'P' => counts.parses.fetch_add(1, Ordering::SeqCst),
                    _ => 0,
                };
            } else {
                // 80877103 asks for SSL, 80877104 for GSS encryption; anything else starts.
                let code = u32::from_be_bytes(pending[4..8].try_into().expect("4 bytes"));
                started = !matches!(code, 80_877_103 | 80_877_104);
            }
            pending.drain(..at + len);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Both);
}
