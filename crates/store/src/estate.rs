//! Reading the whole estate for the health checks, one kind per thread.

use cardwatch_core::health::{check, with_notes, Context, Estate, Noted};
use cardwatch_core::records::{display_key, key_of, Kind, Record};

use crate::{Store, StoreError};

/// The kinds the health checks read (organisations are not judged).
const KINDS: [Kind; 10] = [
    Kind::Sites,
    Kind::People,
    Kind::Cards,
    Kind::Certificates,
    Kind::Positions,
    Kind::Workstations,
    Kind::Software,
    Kind::Readers,
    Kind::Stock,
    Kind::Lockouts,
];

fn read_kind(store: &dyn Store, kind: Kind) -> Result<Vec<Record>, StoreError> {
    let mut out = Vec::new();
    let mut bad = None;
    store.export(kind, &mut |values| {
        match Record::from_values(kind, values) {
            Ok(r) => out.push(r),
            Err(errors) if bad.is_none() => {
                let e = &errors[0];
                bad = Some(format!(
                    "stored {} {} has a bad {} ({:?}: {}) — correct it with an import",
                    kind,
                    display_key(&key_of(kind, values)),
                    e.column,
                    e.value,
                    e.message
                ));
            }
            Err(_) => {}
        }
        Ok(())
    })?;
    match bad {
        Some(message) => Err(StoreError::Database(message)),
        None => Ok(out),
    }
}

/// Reads every kind the health checks use. Each kind is read on its own connection and thread,
/// so the database's work overlaps the parsing.
pub fn load_estate(store: &dyn Store) -> Result<Estate, StoreError> {
    let results: Vec<Result<Vec<Record>, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = KINDS
            .iter()
            .map(|&kind| s.spawn(move || read_kind(store, kind)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(StoreError::Database("a reader thread panicked".into()))
                })
            })
            .collect()
    });
    let mut estate = Estate::default();
    for records in results {
        for r in records? {
            estate.push(r);
        }
    }
    Ok(estate)
}

/// The findings of a full health check, each with the note that still applies to it.
pub fn current_findings(store: &dyn Store, cx: &Context<'_>) -> Result<Vec<Noted>, StoreError> {
    let estate = load_estate(store)?;
    let findings = check(&estate, cx);
    drop(estate);
    Ok(with_notes(findings, &store.finding_notes()?, cx.today))
}
