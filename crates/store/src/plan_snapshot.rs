//! The renewal plan's kept renewals written to the store (migration 0022), so that a server
//! starting, or a second replica, takes them from here instead of reading the whole estate
//! (about two million renewals nationally: seconds of reading against a fraction of one).
//!
//! A snapshot is stamped with the audit chain's length it is valid at, the hash of the record at
//! that length (a chain cut or replaced there no longer matches) and a fingerprint of what
//! decided it (the thresholds, this format, the program's version). Anything that does not
//! match, will not parse or fails its parts' checksums is refused with the reason, and the
//! caller reads in full: a snapshot never gives a wrong list.
//!
//! Each renewal is a CSV line (card, purpose, holder, place, expiry, prescriber's signing); the
//! site and the organisations above it are written once per distinct place and named by number.
//! The renewals hold keys, dates and codes only — no name, email or role, which retention
//! erases — and nothing that the estate's audit chain does not hold as well.

use std::sync::Arc;

use cardwatch_core::date::Date;
use cardwatch_core::fasthash::FastMap;
use cardwatch_core::health::Thresholds;
use cardwatch_core::planner::Renewal;
use cardwatch_core::vocab::Purpose;
use sha2::{Digest, Sha256};

use crate::exec::{with_exec, with_read, Exec, P, V};
use crate::{Store, StoreError};

/// The layout of the parts; a snapshot of another is refused.
pub const FORMAT: i64 = 1;

/// Renewals per part: a part is one value of a few megabytes, and the parts are parsed on
/// several threads.
const PART: usize = 100_000;

/// What a kept snapshot says of itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// The layout it was written in.
    pub format: i64,
    /// What decided it ([`fingerprint`]).
    pub fingerprint: String,
    /// The audit chain's length it is valid at.
    pub version: i64,
    /// How many renewals it holds.
    pub renewals: i64,
}

/// What decides which renewals there are and how they are written: the thresholds, the format
/// and the program's version (whose code decides the renewals).
pub fn fingerprint(t: &Thresholds) -> String {
    let mut h = Sha256::new();
    h.update(FORMAT.to_be_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(t).unwrap_or_default());
    hex::encode(h.finalize())
}

/// The kept snapshot's stamp, if there is one.
pub fn stamp(store: &dyn Store) -> Result<Option<Stamp>, StoreError> {
    with_read(store, |x| {
        let rows = x.rows(
            "SELECT format, fingerprint, version, renewals FROM plan_snapshot WHERE id = 1",
            &[],
        )?;
        Ok(rows.into_iter().next().map(|r| Stamp {
            format: r[0].int(),
            fingerprint: r[1].text().to_owned(),
            version: r[2].int(),
            renewals: r[3].int(),
        }))
    })
}

/// Writes `all`, the renewals of the estate at the chain length `version` decided with `t`, in
/// place of the kept snapshot. Not audited: it is derived from the estate, not a change to it.
/// False (nothing written) when the chain holds no record at `version`, or when another writer
/// removed this one's parts before they were kept (see below). Whether to write is the caller's
/// to decide (see the server's plan cache): a snapshot at any version the chain holds is right,
/// so two servers writing at once leave a right one.
///
/// No transaction is long, since on SQLite each holds the store's one writer (sign-ins,
/// imports and agent reports wait for it): the parts are written each in a transaction of
/// their own under a generation of their own, which the stamp names once they are all there
/// (one small transaction), and the old generation's parts are removed after it, one at a
/// time. A reader takes the parts of the generation its stamp names, so it never sees a mix;
/// a write stopped part way leaves the kept snapshot as it was, and its parts are removed by
/// the next write.
pub fn write(
    store: &dyn Store,
    t: &Thresholds,
    version: i64,
    all: &[Renewal],
) -> Result<bool, StoreError> {
    write_encoded(store, t, version, &encoded(all)?)
}

/// The renewals as they are written: the places' text and each part's checksum and text.
/// Encoded before any transaction, so none waits for it, and so the caller can let the
/// renewals go before the write (a server's kept renewals, shared with the write, would be
/// copied by the next update rather than changed in place).
pub struct Encoded {
    renewals: usize,
    places: String,
    bodies: Vec<(String, String)>,
}

impl std::fmt::Debug for Encoded {
    // The text runs to 91 MB nationally: its sizes say enough.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoded")
            .field("renewals", &self.renewals)
            .field("parts", &self.bodies.len())
            .finish()
    }
}

/// [`write`] of renewals already [`encoded`].
pub fn write_encoded(
    store: &dyn Store,
    t: &Thresholds,
    version: i64,
    encoded: &Encoded,
) -> Result<bool, StoreError> {
    let fingerprint = fingerprint(t);
    let Encoded {
        renewals,
        places,
        bodies,
    } = encoded;
    remove_unkept(store)?;
    let generation = new_generation();
    for (n, (sum, body)) in bodies.iter().enumerate() {
        write_part(store, generation, n, sum, body)?;
    }
    let swapped = with_exec(store, |x| {
        let Some(hash) = chain_hash(x, version)? else {
            return Ok(None);
        };
        // Another writer's start removes the parts of every generation no stamp names, this
        // one's too if it was still writing them: a stamp never names a generation not whole.
        let count = x.rows(
            "SELECT COUNT(*) FROM plan_snapshot_parts WHERE generation = $1",
            &[P::I(generation)],
        )?;
        if count.first().map(|r| r[0].int()) != Some(bodies.len() as i64) {
            return Ok(None);
        }
        let old = kept_generation(x)?;
        x.exec("DELETE FROM plan_snapshot", &[])?;
        x.exec(
            "INSERT INTO plan_snapshot (id, format, fingerprint, version, chain_hash, renewals, \
             places, checksum, generation) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                P::I(FORMAT),
                P::T(&fingerprint),
                P::I(version),
                P::T(&hash),
                P::I(*renewals as i64),
                P::T(places),
                P::T(&checksum(places)),
                P::I(generation),
            ],
        )?;
        Ok(Some(old))
    })?;
    match swapped {
        Some(old) => {
            if let Some(old) = old {
                remove_generation(store, old)?;
            }
            Ok(true)
        }
        None => {
            remove_generation(store, generation)?;
            Ok(false)
        }
    }
}

/// The renewals encoded for [`write_encoded`].
pub fn encoded(all: &[Renewal]) -> Result<Encoded, StoreError> {
    let (places, rows) = places(all);
    let parts: Vec<(usize, &[Renewal])> = all.chunks(PART).enumerate().collect();
    // On every core, as the load decodes: the server keeps the renewals shared with this until
    // it ends, and an update meanwhile waits for them (`prevent::plan::cache::owned`).
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let group = parts.len().div_ceil(threads.max(1)).max(1);
    let encoded: Vec<Result<Vec<(String, String)>, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .chunks(group)
            .map(|group| {
                let rows = &rows;
                s.spawn(move || {
                    group
                        .iter()
                        .map(|&(n, part)| {
                            let body = encode(part, &rows[n * PART..n * PART + part.len()])?;
                            Ok((checksum(&body), body))
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(StoreError::Database("a part's encoder failed".to_owned()))
                })
            })
            .collect()
    });
    let mut parts = Vec::with_capacity(all.len().div_ceil(PART));
    for group in encoded {
        parts.extend(group?);
    }
    Ok(Encoded {
        renewals: all.len(),
        places,
        bodies: parts,
    })
}

/// Writes the first `parts` parts of `all` under a generation no stamp names and stops, as a
/// write cut short (a crash, a store gone away) does: for tests of what a reader and the next
/// write make of it.
#[doc(hidden)]
pub fn write_unfinished(
    store: &dyn Store,
    all: &[Renewal],
    parts: usize,
) -> Result<(), StoreError> {
    let encoded = encoded(all)?;
    let generation = new_generation();
    for (n, (sum, body)) in encoded.bodies.iter().enumerate().take(parts) {
        write_part(store, generation, n, sum, body)?;
    }
    Ok(())
}

/// One part, in a transaction of its own.
fn write_part(
    store: &dyn Store,
    generation: i64,
    n: usize,
    sum: &str,
    body: &str,
) -> Result<(), StoreError> {
    with_exec(store, |x| {
        x.exec(
            "INSERT INTO plan_snapshot_parts (generation, part, checksum, body) \
             VALUES ($1, $2, $3, $4)",
            &[P::I(generation), P::I(n as i64), P::T(sum), P::T(body)],
        )
        .map(drop)
    })
}

/// A generation for a write's parts: unlike a count from the largest kept, two writers at
/// once (two servers) never take the same one, even when one has removed the other's parts.
fn new_generation() -> i64 {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = Sha256::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.update(now.as_nanos().to_be_bytes());
    h.update(std::process::id().to_be_bytes());
    h.update(
        WRITES
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .to_be_bytes(),
    );
    h.update(format!("{:?}", std::thread::current().id()).as_bytes());
    let mut first = [0; 8];
    first.copy_from_slice(&h.finalize()[..8]);
    // Positive and not 0, the generation of a snapshot kept before generations were.
    (i64::from_be_bytes(first) & i64::MAX).max(1)
}

/// The generation the stamp names, if a snapshot is kept.
fn kept_generation(x: &mut dyn Exec) -> Result<Option<i64>, StoreError> {
    let rows = x.rows("SELECT generation FROM plan_snapshot WHERE id = 1", &[])?;
    Ok(rows.first().map(|r| r[0].int()))
}

/// Removes the parts of the generations no stamp names (writes cut short, or a snapshot
/// cleared), one part a transaction.
fn remove_unkept(store: &dyn Store) -> Result<(), StoreError> {
    let unkept = with_read(store, |x| {
        x.rows(
            "SELECT generation, part FROM plan_snapshot_parts WHERE generation NOT IN \
             (SELECT generation FROM plan_snapshot)",
            &[],
        )
    })?;
    remove_parts(store, unkept.iter().map(|r| (r[0].int(), r[1].int())))
}

/// Removes the parts of `generation`, one a transaction.
fn remove_generation(store: &dyn Store, generation: i64) -> Result<(), StoreError> {
    let parts = with_read(store, |x| {
        x.rows(
            "SELECT part FROM plan_snapshot_parts WHERE generation = $1",
            &[P::I(generation)],
        )
    })?;
    remove_parts(store, parts.iter().map(|r| (generation, r[0].int())))
}

/// Each part its own transaction: a part is a few megabytes, the whole snapshot about 91
/// (nationally), and the store's other writers wait for each.
fn remove_parts(
    store: &dyn Store,
    parts: impl Iterator<Item = (i64, i64)>,
) -> Result<(), StoreError> {
    for (generation, part) in parts {
        with_exec(store, |x| {
            x.exec(
                "DELETE FROM plan_snapshot_parts WHERE generation = $1 AND part = $2",
                &[P::I(generation), P::I(part)],
            )
            .map(drop)
        })?;
    }
    Ok(())
}

/// The kept renewals and the chain length they are valid at, or why they cannot be used (none
/// kept, decided with other thresholds or another format or version, a chain that no longer
/// holds the record they were stamped with, or parts that do not read back whole).
pub fn load(
    store: &dyn Store,
    t: &Thresholds,
) -> Result<Result<(i64, Vec<Renewal>), String>, StoreError> {
    let fingerprint = fingerprint(t);
    let read = with_read(store, |x| {
        let rows = x.rows(
            "SELECT format, fingerprint, version, chain_hash, renewals, places, checksum, \
             generation FROM plan_snapshot WHERE id = 1",
            &[],
        )?;
        let Some(head) = rows.into_iter().next() else {
            return Ok(Err("no snapshot kept".to_owned()));
        };
        if head[0].int() != FORMAT {
            return Ok(Err(format!("a snapshot of format {}", head[0].int())));
        }
        if head[1].text() != fingerprint {
            return Ok(Err("a snapshot decided with other thresholds".to_owned()));
        }
        let version = head[2].int();
        if chain_hash(x, version)?.as_deref() != Some(head[3].text()) {
            return Ok(Err(format!(
                "the audit chain no longer holds the snapshot's record {version}"
            )));
        }
        if checksum(head[5].text()) != head[6].text() {
            return Ok(Err(
                "the snapshot's places do not match their checksum".to_owned()
            ));
        }
        // The parts of the generation the stamp names: a write under way or cut short keeps
        // its own apart.
        let parts = x.rows(
            "SELECT part, checksum, body FROM plan_snapshot_parts WHERE generation = $1 \
             ORDER BY part",
            &[P::I(head[7].int())],
        )?;
        Ok(Ok((
            version,
            head[4].int(),
            head[5].text().to_owned(),
            parts,
        )))
    })?;
    let (version, count, places, parts) = match read {
        Ok(r) => r,
        Err(why) => return Ok(Err(why)),
    };
    let parts: Vec<(i64, String, String)> = parts
        .into_iter()
        .map(|mut r| {
            let body = std::mem::replace(&mut r[2], V::Null).into_text();
            (r[0].int(), r[1].text().to_owned(), body)
        })
        .collect();
    if parts.iter().enumerate().any(|(i, p)| p.0 != i as i64) {
        return Ok(Err("the snapshot's parts are not whole".to_owned()));
    }
    let Ok(count) = usize::try_from(count) else {
        return Ok(Err(format!("the snapshot holds {count} renewals")));
    };
    Ok(decode(&places, &parts, PART, count).map(|all| (version, all)))
}

/// Removes the kept snapshot (nothing then starts from it): the stamp first, in one small
/// transaction, then its parts one at a time.
pub fn clear(store: &dyn Store) -> Result<(), StoreError> {
    with_exec(store, |x| {
        x.exec("DELETE FROM plan_snapshot", &[]).map(drop)
    })?;
    remove_unkept(store)
}

/// The SHA-256 of a part's text, in hex.
fn checksum(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The hash of the audit record at `version` (the chain's start for 0), if the chain holds one.
fn chain_hash(x: &mut dyn Exec, version: i64) -> Result<Option<String>, StoreError> {
    if version == 0 {
        return Ok(Some("0".repeat(64)));
    }
    let rows = x.rows(
        "SELECT hash FROM audit_log WHERE seq = $1",
        &[P::I(version)],
    )?;
    Ok(rows.into_iter().next().map(|r| r[0].text().to_owned()))
}

/// The distinct places (site and the organisations above it) as CSV, and each renewal's place.
fn places(all: &[Renewal]) -> (String, Vec<u32>) {
    let mut seen: FastMap<(&str, Option<&str>, Option<&str>), u32> = FastMap::default();
    let mut out = csv::WriterBuilder::new().from_writer(Vec::new());
    let rows = all
        .iter()
        .map(|r| {
            let [o, p] = &r.organisations;
            let key = (r.site.as_str(), o.as_deref(), p.as_deref());
            let next = seen.len() as u32;
            *seen.entry(key).or_insert_with(|| {
                // Absent and empty differ: `-` marks none, and an empty code is written quoted.
                let code = |c: Option<&str>| c.map_or("-".to_owned(), |c| format!("={c}"));
                let _ = out.write_record([r.site.as_str(), &code(key.1), &code(key.2)]);
                next
            })
        })
        .collect();
    let text = out
        .into_inner()
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    (text.unwrap_or_default(), rows)
}

/// One part's renewals as CSV lines.
fn encode(part: &[Renewal], places: &[u32]) -> Result<String, StoreError> {
    let mut out = csv::WriterBuilder::new().from_writer(Vec::with_capacity(part.len() * 80));
    let failed = |e: csv::Error| StoreError::Database(format!("the plan's snapshot: {e}"));
    for (r, place) in part.iter().zip(places) {
        let expiry = r.expiry.iso();
        let place = place.to_string();
        let record: [&[u8]; 6] = [
            r.card_serial.as_bytes(),
            purpose_code(r.purpose).as_bytes(),
            r.holder_uuid.as_bytes(),
            place.as_bytes(),
            &expiry,
            if r.prescriber_signing { b"1" } else { b"0" },
        ];
        out.write_record(record).map_err(failed)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| StoreError::Database(format!("the plan's snapshot: {e}")))?;
    String::from_utf8(bytes).map_err(|e| StoreError::Database(e.to_string()))
}

fn purpose_code(p: Purpose) -> &'static str {
    match p {
        Purpose::Authentication => "a",
        Purpose::Signing => "s",
    }
}

/// The `count` renewals of every part, in order (`per` in each part but the last, as written),
/// or why they do not read back (a checksum that does not match, a line that does not parse, a
/// part of another length). Parts are parsed on as many threads as there are processors, each
/// into its place in the one list: no list of a part's own is made and then copied (two
/// million renewals are some 200 MB).
fn decode(
    places: &str,
    parts: &[(i64, String, String)],
    per: usize,
    count: usize,
) -> Result<Vec<Renewal>, String> {
    let places = decode_places(places)?;
    let expected = count.div_ceil(per.max(1));
    if parts.len() != expected {
        return Err(format!(
            "the snapshot holds {} parts of its {count} renewals, not {expected}",
            parts.len()
        ));
    }
    let blank = Renewal {
        card_serial: String::new(),
        purpose: Purpose::Authentication,
        holder_uuid: String::new(),
        site: String::new(),
        expiry: Date::parse("1970-01-01").map_err(|e| e.to_string())?,
        prescriber_signing: false,
        organisations: [None, None],
    };
    let mut all = vec![blank; count];
    let mut slots: Vec<_> = parts.iter().zip(all.chunks_mut(per.max(1))).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let group = slots.len().div_ceil(threads.max(1)).max(1);
    let decoded: Vec<Result<(), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = slots
            .chunks_mut(group)
            .map(|group| {
                let places = &places;
                s.spawn(move || {
                    group.iter_mut().try_for_each(|((n, sum, body), out)| {
                        decode_part(*n, sum, body, places, out)
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a part's reader failed".to_owned()))
            })
            .collect()
    });
    decoded.into_iter().collect::<Result<(), String>>()?;
    Ok(all)
}

/// A place: the site and the organisations above it, shared by its renewals.
type Place = (String, [Option<Arc<str>>; 2]);

fn decode_places(text: &str) -> Result<Vec<Place>, String> {
    let mut codes: FastMap<String, Arc<str>> = FastMap::default();
    let mut code = |c: &str| -> Result<Option<Arc<str>>, String> {
        match (c, c.strip_prefix('=')) {
            ("-", _) => Ok(None),
            (_, Some(c)) => Ok(Some(
                codes
                    .entry(c.to_owned())
                    .or_insert_with(|| Arc::from(c))
                    .clone(),
            )),
            _ => Err(format!("the snapshot's place code {c:?}")),
        }
    };
    let mut out = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    for record in reader.records() {
        let record = record.map_err(|e| format!("the snapshot's places: {e}"))?;
        if record.len() != 3 {
            return Err("the snapshot's places: a line of the wrong length".to_owned());
        }
        out.push((record[0].to_owned(), [code(&record[1])?, code(&record[2])?]));
    }
    Ok(out)
}

/// Part `n`'s renewals into `out`, which they must fill.
///
/// A part with no quote (nearly every one: keys, codes and dates hold no comma) is split at
/// its line ends and commas in place, since the CSV writer quotes any field holding a comma, a
/// quote or a line end; that reads it several times faster than a CSV reader, which checks
/// each line's UTF-8 again and copies it into a record first.
fn decode_part(
    n: i64,
    sum: &str,
    body: &str,
    places: &[Place],
    out: &mut [Renewal],
) -> Result<(), String> {
    if checksum(body) != sum {
        return Err(format!(
            "the snapshot's part {n} does not match its checksum"
        ));
    }
    let bad = |what: &str| format!("the snapshot's part {n}: {what}");
    let mut slots = out.iter_mut();
    let mut put = |fields: [&str; 6]| -> Result<(), String> {
        let slot = slots
            .next()
            .ok_or_else(|| bad("more renewals than it holds"))?;
        *slot = renewal(fields, places).map_err(&bad)?;
        Ok(())
    };
    if body.bytes().any(|b| b == b'"' || b == b'\r') {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(body.as_bytes());
        let mut record = csv::StringRecord::new();
        while reader
            .read_record(&mut record)
            .map_err(|e| bad(&e.to_string()))?
        {
            if record.len() != 6 {
                return Err(bad("a line of the wrong length"));
            }
            put(std::array::from_fn(|i| &record[i]))?;
        }
    } else {
        // One pass over the bytes: splitting at a `char` looks for it and then compares it
        // again, which was a fifth of the load's time.
        let mut fields = [""; 6];
        let (mut n, mut start) = (0, 0);
        let wrong_length = || bad("a line of the wrong length");
        for (i, b) in body.bytes().enumerate() {
            match b {
                b',' if n < 5 => {
                    fields[n] = &body[start..i];
                    (n, start) = (n + 1, i + 1);
                }
                b',' => return Err(wrong_length()),
                b'\n' if n == 0 && start == i => start = i + 1,
                b'\n' if n == 5 => {
                    fields[5] = &body[start..i];
                    put(fields)?;
                    (n, start) = (0, i + 1);
                }
                b'\n' => return Err(wrong_length()),
                _ => {}
            }
        }
        match (n, start < body.len()) {
            (0, false) => {}
            (5, _) => put({
                fields[5] = &body[start..];
                fields
            })?,
            _ => return Err(wrong_length()),
        }
    }
    if slots.next().is_some() {
        return Err(bad("fewer renewals than it holds"));
    }
    Ok(())
}

/// One line's renewal (card, purpose, holder, place, expiry, prescriber's signing), or what
/// of it does not read.
fn renewal(f: [&str; 6], places: &[Place]) -> Result<Renewal, &'static str> {
    let purpose = match f[1] {
        "a" => Purpose::Authentication,
        "s" => Purpose::Signing,
        _ => return Err("a purpose"),
    };
    let place = f[3]
        .parse::<usize>()
        .ok()
        .and_then(|i| places.get(i))
        .ok_or("a place")?;
    let expiry = Date::parse(f[4]).map_err(|_| "an expiry")?;
    let prescriber_signing = match f[5] {
        "1" => true,
        "0" => false,
        _ => return Err("a prescriber's flag"),
    };
    Ok(Renewal {
        card_serial: f[0].to_owned(),
        purpose,
        holder_uuid: f[2].to_owned(),
        site: place.0.clone(),
        expiry,
        prescriber_signing,
        organisations: place.1.clone(),
    })
}

#[cfg(test)]
mod tests;
