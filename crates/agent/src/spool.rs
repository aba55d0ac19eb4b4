//! The disk spool: events wait here until the server has them, so nothing is lost while the
//! server is down. One JSON line per event in `spool.jsonl`, rewritten whole (write a new file,
//! then rename) so a crash never leaves half a spool. A full spool drops its oldest events and
//! says so with an event of its own.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use cardwatch_core::date::Timestamp;
use serde_json::json;

/// An event as the server takes it: `{id, at, kind, data}`.
pub type Event = serde_json::Value;

/// The spool of one agent's state folder.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    max: usize,
}

/// An event's id: 12 random bytes as hex. The server drops an event whose id it has seen, so a
/// random source that fails is an error here, never an id of zeros that would lose events.
fn new_id() -> Result<String> {
    let mut b = [0u8; 12];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).map_err(|_| {
        anyhow::anyhow!("the operating system's random source failed: no event id can be made")
    })?;
    Ok(hex::encode(b))
}

/// An event happening now.
pub fn event(kind: &str, data: serde_json::Value, now: Timestamp) -> Result<Event> {
    Ok(json!({"id": new_id()?, "at": now, "kind": kind, "data": data}))
}

impl Spool {
    /// The spool in `state`, holding at most `max` events.
    pub fn new(state: &Path, max: usize) -> Spool {
        Spool {
            path: state.join("spool.jsonl"),
            max: max.max(2),
        }
    }

    /// Every waiting event, oldest first.
    pub fn read(&self) -> Result<Vec<Event>> {
        match std::fs::read_to_string(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", self.path.display())),
            Ok(text) => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .enumerate()
                .map(|(i, l)| {
                    serde_json::from_str(l)
                        .map_err(|e| anyhow!("{}:{}: {e}", self.path.display(), i + 1))
                })
                .collect(),
        }
    }

    fn write(&self, events: &[Event]) -> Result<()> {
        let tmp = self.path.with_extension("jsonl.tmp");
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        for e in events {
            writeln!(f, "{e}")?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, &self.path)?;
        Ok(())
    }

    /// Adds events; when the spool would overflow, the oldest go and an event says how many.
    pub fn push(&self, new: Vec<Event>, now: Timestamp) -> Result<usize> {
        let mut all = self.read()?;
        all.extend(new);
        let mut dropped = 0;
        if all.len() > self.max {
            // Room for the notice itself.
            dropped = all.len() - (self.max - 1);
            all.drain(..dropped);
            all.push(event(
                "spool_overflow",
                json!({"dropped": dropped, "note": "the server was unreachable too long: the oldest events were dropped"}),
                now,
            )?);
        }
        self.write(&all)?;
        Ok(dropped)
    }

    /// Removes the first `n` events (the server has them).
    pub fn remove_first(&self, n: usize) -> Result<()> {
        let mut all = self.read()?;
        all.drain(..n.min(all.len()));
        self.write(&all)
    }
}

/// The wait before try `tries` + 1 after a failure: `base_ms` doubling, capped at a minute, with
/// up to a fifth more at random so agents that lost the server together do not return together.
pub fn backoff(base_ms: u64, tries: u32) -> std::time::Duration {
    let wait = (base_ms << tries.saturating_sub(1).min(16)).min(60_000);
    let mut j = [0u8; 1];
    // Only the jitter is random: should the source fail, the wait is simply not spread.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut j);
    std::time::Duration::from_millis(wait + wait * u64::from(j[0] % 50) / 255)
}

/// The most events a batch carries.
const BATCH_EVENTS: usize = 500;
/// The most bytes of events a batch carries (the server reads a request body of up to 2 MB):
/// inventories listing the installed programs are large, and a spool that filled while the
/// server was away holds many of them.
const BATCH_BYTES: usize = 1 << 20;

/// How many of the first `waiting` events go in the next batch: up to `max_events`, and no more
/// than `max_bytes` of them as JSON — but always one, so a single large event is still sent.
fn batch_len(waiting: &[Event], max_events: usize, max_bytes: usize) -> usize {
    let mut bytes = 0;
    let mut n = 0;
    for e in waiting.iter().take(max_events) {
        bytes += e.to_string().len() + 1;
        if n > 0 && bytes > max_bytes {
            break;
        }
        n += 1;
    }
    n
}

impl Spool {
    /// Sends what waits in batches, retrying a failed batch `retries` times with [`backoff`];
    /// stops for now when the tries run out (the events stay queued). (new, duplicates).
    pub fn send(
        &self,
        e: &crate::server::Enrolled,
        retries: u32,
        backoff_ms: u64,
    ) -> Result<(u64, u64)> {
        let (mut accepted, mut duplicates) = (0, 0);
        loop {
            let waiting = self.read()?;
            if waiting.is_empty() {
                return Ok((accepted, duplicates));
            }
            let batch = &waiting[..batch_len(&waiting, BATCH_EVENTS, BATCH_BYTES)];
            let mut tries = 0;
            let sent = loop {
                match crate::server::send_events(e, batch) {
                    Ok(r) => break r,
                    Err(err) if tries + 1 >= retries.max(1) => {
                        return Err(err.context(format!(
                            "{} event(s) wait in the spool for the next report",
                            waiting.len()
                        )))
                    }
                    Err(err) => {
                        tries += 1;
                        let wait = backoff(backoff_ms, tries);
                        eprintln!(
                            "cardwatch-agent: {err:#}; trying again in {} ms",
                            wait.as_millis()
                        );
                        std::thread::sleep(wait);
                    }
                }
            };
            self.remove_first(batch.len())?;
            accepted += sent.0;
            duplicates += sent.1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_stops_at_its_count_or_its_size_and_always_carries_one() {
        let event = |n: usize| json!({"id": n.to_string(), "data": "x".repeat(n)});
        let small: Vec<Event> = (0..10).map(|_| event(10)).collect();
        let one = small[0].to_string().len() + 1;
        assert_eq!(batch_len(&small, 500, 1 << 20), 10);
        assert_eq!(batch_len(&small, 4, 1 << 20), 4, "the count");
        assert_eq!(batch_len(&small, 500, 3 * one), 3, "the size, to the byte");
        assert_eq!(batch_len(&small, 500, 3 * one - 1), 2);
        // An event larger than a batch goes on its own, so the spool never sticks on it.
        let big = vec![event(5000), event(10)];
        assert_eq!(batch_len(&big, 500, 1000), 1);
        assert_eq!(batch_len(&big[1..], 500, 1000), 1);
        assert_eq!(batch_len(&[], 500, 1000), 0);
    }
}
