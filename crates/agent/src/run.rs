//! `cardwatch-agent run`: the service. It watches the readers through PC/SC and queues an event
//! for every card inserted or removed and every reader attached or detached; sends the
//! inventory when it changes (looked at every minute, and when a card comes or goes) and every
//! `--interval` as a heartbeat, with the clock's offset from the server's; and sends what is
//! queued, backing off (jittered, capped) while the server cannot be reached. Events wait in the
//! disk spool meanwhile, so stopping the agent or losing the server loses nothing.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Result;
use cardwatch_core::reader::{changes, Seen};
use serde_json::json;

use crate::pcsc_readers::Watcher;
use crate::spool::{backoff, event, Spool};
use crate::{collect, probes, server};

/// What `run` was given.
#[derive(Debug)]
pub struct Options {
    /// Where the credential and the spool live.
    pub state_dir: PathBuf,
    /// The server and a one-time token, to enrol first when not enrolled yet.
    pub enrol: Option<(String, String)>,
    /// The server's certificate or its CA, for enrolling.
    pub ca_file: Option<PathBuf>,
    /// This workstation's name, when not the enrolled one or the system's.
    pub hostname: Option<String>,
    /// The heartbeat: the inventory is sent at least this often.
    pub interval: Duration,
    /// The PKCS#11 module.
    pub module: Option<PathBuf>,
    /// The probes file.
    pub probes: Option<PathBuf>,
    /// The spool's limit.
    pub max_spool: usize,
    /// Print each event as a JSON line on standard output as it happens.
    pub print_events: bool,
}

/// A card coming or going changes the certificates to report; reading them waits this long so
/// the middleware has seen the card too.
const SETTLE: Duration = Duration::from_secs(2);
/// The longest the loop sleeps in PC/SC before looking at its timers again.
const TICK: Duration = Duration::from_secs(30);
/// How often the inventory is read to see whether it changed (software updated, say).
const LOOK_EVERY: Duration = Duration::from_secs(60);
/// A clock further than this from the server's is reported: Kerberos and TLS start failing at
/// five minutes.
const CLOCK_SLACK_SECONDS: i64 = 120;

/// Runs until stopped.
pub fn run(o: Options) -> Result<()> {
    let enrolled = match (server::load(&o.state_dir), &o.enrol) {
        (Ok(e), _) => Some(e),
        (Err(_), Some((url, token))) => {
            let host = collect::hostname(o.hostname.clone())?;
            let e = server::enrol(url, token, &host, o.ca_file.as_deref(), &o.state_dir)?;
            eprintln!(
                "cardwatch-agent: enrolled as agent {} with {}",
                e.agent_id, e.server
            );
            Some(e)
        }
        (Err(err), None) => {
            eprintln!(
                "cardwatch-agent: {err:#}; watching anyway — events wait in the spool until it is"
            );
            None
        }
    };
    let host = collect::this_host(o.hostname.clone(), enrolled.as_ref())?;
    let config = probes::Config::load(o.probes.as_deref())?;
    std::fs::create_dir_all(&o.state_dir)?;
    let spool = Spool::new(&o.state_dir, o.max_spool);
    let mut watcher = Watcher::default();
    let mut view: Option<Vec<Seen>> = None;
    let mut pcsc_down = false;
    let mut next_inventory = Instant::now();
    let mut next_heartbeat = Instant::now();
    let mut last_sent: Option<serde_json::Value> = None;
    let mut next_send = Instant::now();
    let mut failures = 0u32;
    loop {
        let due = if enrolled.is_some() {
            next_inventory.min(next_send)
        } else {
            next_inventory
        };
        let wait = due.saturating_duration_since(Instant::now()).min(TICK);
        let mut new = Vec::new();
        let now = crate::now();
        match watcher.wait(wait) {
            Ok(seen) => {
                if pcsc_down {
                    new.push(event("pcsc_available", json!({}), now)?);
                    pcsc_down = false;
                }
                if let Some(before) = &view {
                    for (kind, data) in changes(before, &seen) {
                        if kind.starts_with("card_") {
                            next_inventory = next_inventory.min(Instant::now() + SETTLE);
                        }
                        new.push(event(kind, data, now)?);
                    }
                }
                view = Some(seen);
            }
            Err(e) => {
                if !pcsc_down {
                    eprintln!("cardwatch-agent: {e:#}; trying again");
                    new.push(event(
                        "pcsc_unavailable",
                        json!({"error": format!("{e:#}")}),
                        now,
                    )?);
                    pcsc_down = true;
                }
                std::thread::sleep(wait.min(Duration::from_secs(5)));
            }
        }
        if Instant::now() >= next_inventory {
            let mut inv = collect::inventory(&host, o.module.as_deref(), &config);
            let seen = serde_json::to_value(&inv)?;
            let beat = Instant::now() >= next_heartbeat;
            if beat || last_sent.as_ref() != Some(&seen) {
                // The heartbeat also carries the clock's offset from the server's.
                if let (true, Some(e)) = (beat, &enrolled) {
                    inv.clock_offset_seconds = collect::clock_offset(e);
                    if let Some(offset) = inv.clock_offset_seconds {
                        if offset.abs() > CLOCK_SLACK_SECONDS {
                            eprintln!("cardwatch-agent: this clock is {offset} s off the server's");
                            new.push(event(
                                "clock_offset",
                                json!({"seconds": offset}),
                                crate::now(),
                            )?);
                        }
                    }
                }
                new.push(event(
                    "inventory",
                    serde_json::to_value(&inv)?,
                    crate::now(),
                )?);
                last_sent = Some(seen);
                next_heartbeat = Instant::now() + o.interval;
            }
            next_inventory = Instant::now() + LOOK_EVERY.min(o.interval);
        }
        if !new.is_empty() {
            // Printed once safely in the spool.
            let printed = o.print_events.then(|| new.clone());
            let dropped = spool.push(new, crate::now())?;
            for e in printed.iter().flatten() {
                println!("{e}");
            }
            if dropped > 0 {
                eprintln!(
                    "cardwatch-agent: the spool was full: the {dropped} oldest events were dropped"
                );
            }
            // Sent at once — unless the server is failing, when the backoff decides.
            if failures == 0 {
                next_send = Instant::now();
            }
        }
        if let Some(e) = &enrolled {
            if Instant::now() >= next_send {
                match spool.send(e, 1, 0) {
                    Ok(_) => {
                        failures = 0;
                        // Nothing waits; the next event or inventory brings the next send.
                        next_send = Instant::now() + o.interval;
                    }
                    Err(err) => {
                        failures += 1;
                        let wait = backoff(1000, failures);
                        eprintln!(
                            "cardwatch-agent: {err:#}; trying again in {} s",
                            wait.as_secs()
                        );
                        next_send = Instant::now() + wait;
                    }
                }
            }
        }
    }
}
