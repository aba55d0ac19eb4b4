//! Reading the estate for the health checks: only the columns the rules use, each kind on its
//! own connection and thread, so the database's work overlaps the building of the facts.

use cardwatch_core::health::{
    check_only, fact_columns, renewals, with_notes, Context, Estate, Family, Noted, Thresholds,
    LEAN_POSITION_COLUMNS,
};
use cardwatch_core::planner::Renewal;
use cardwatch_core::records::Kind;

use crate::{Store, StoreError};

fn read_kind(store: &dyn Store, kind: Kind, lean: bool) -> Result<Estate, StoreError> {
    let mut part = Estate::default();
    let mut bad = None;
    // The rules sort what they merge, and a sorted list costs one pass to check: no need to
    // make the database sort.
    let columns = if lean && kind == Kind::Positions {
        LEAN_POSITION_COLUMNS
    } else {
        fact_columns(kind)
    };
    store.scan(kind, columns, false, &mut |values| {
        if let Err(e) = part.push_values(kind, values) {
            bad.get_or_insert(e);
        }
        Ok(())
    })?;
    match bad {
        Some(message) => Err(StoreError::Database(message)),
        None => Ok(part),
    }
}

/// Reads every kind the health checks use.
pub fn load_estate(store: &dyn Store) -> Result<Estate, StoreError> {
    // Every kind but organisations, which no rule judges; and the agents' clocks.
    let mut estate = load_kinds(store, &Kind::ALL[1..], false)?;
    estate.clocks = crate::agents::clocks(store)?;
    Ok(estate)
}

/// Reads the facts of some kinds (the others are left empty).
/// With `lean`, positions are read only for whether they prescribe.
fn load_kinds(store: &dyn Store, kinds: &[Kind], lean: bool) -> Result<Estate, StoreError> {
    let parts: Vec<Result<Estate, StoreError>> = std::thread::scope(|s| {
        let handles: Vec<_> = kinds
            .iter()
            .map(|&kind| s.spawn(move || read_kind(store, kind, lean)))
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
    // Each part holds one kind; moving its list in is free.
    let mut estate = Estate::default();
    for part in parts {
        let p = part?;
        macro_rules! take {
            ($($f:ident),+) => { $( if !p.$f.is_empty() { estate.$f = p.$f; } )+ };
        }
        take!(
            organisations,
            sites,
            people,
            cards,
            certificates,
            positions,
            workstations,
            software,
            readers,
            stock,
            lockouts,
            integrations,
            integration_cards
        );
    }
    Ok(estate)
}

/// The findings of a health check (of every family, or some), each with the note that still
/// applies to it.
pub fn current_findings(
    store: &dyn Store,
    cx: &Context<'_>,
    families: &[Family],
) -> Result<Vec<Noted>, StoreError> {
    let started = std::time::Instant::now();
    let mut kinds: Vec<Kind> = families.iter().flat_map(|f| f.kinds()).copied().collect();
    kinds.sort();
    kinds.dedup();
    let lean = !families.iter().any(|f| f.reads_position_roles());
    let mut estate = load_kinds(store, &kinds, lean)?;
    if families.contains(&Family::Workstations) {
        estate.clocks = crate::agents::clocks(store)?;
    }
    let loaded = started.elapsed();
    let findings = check_only(&mut estate, cx, families);
    let checked = started.elapsed();
    // Freeing millions of small strings takes a while: let another thread do it while the
    // notes are read and the findings printed.
    std::thread::spawn(move || drop(estate));
    let noted = with_notes(findings, &store.finding_notes()?, cx.today);
    tracing::debug!(?loaded, ?checked, total = ?started.elapsed(), findings = noted.len(), "health check");
    Ok(noted)
}

/// Every certificate the renewal planner places (the newest of each purpose on each card in use).
pub fn renewals_due(store: &dyn Store, t: &Thresholds) -> Result<Vec<Renewal>, StoreError> {
    let mut estate = load_kinds(
        store,
        &[
            Kind::Organisations,
            Kind::Sites,
            Kind::People,
            Kind::Cards,
            Kind::Certificates,
            Kind::Positions,
        ],
        true,
    )?;
    Ok(renewals(&mut estate, t))
}
