//! A subject access request's records beyond the person's own, their positions and their cards:
//! the incidents about their cards, their positions' access-review decisions, and every audit
//! record about them, a card of theirs or a position of theirs.

use cardwatch_core::audit::StoredAudit;
use cardwatch_core::estate::Position;
use cardwatch_core::records::{key_of, Kind, Record};
use cardwatch_core::triage::Incident;

use crate::incidents::{page, IncidentQuery};
use crate::reviews::{decisions_of, Decided};
use crate::{AuditQuery, Store, StoreError};

/// What the store holds about one person besides their own records.
#[derive(Clone, Debug)]
pub struct AboutPerson {
    /// Incidents about their cards.
    pub incidents: Vec<Incident>,
    /// Access-review decisions on their positions: (ODS code, role code, decision).
    pub reviews: Vec<(String, String, Decided)>,
    /// Audit records about them, their cards or their positions, oldest first.
    pub audit: Vec<StoredAudit>,
}

/// Gathers what the store holds about the holder `uuid` of `cards` and `positions`.
pub fn about_person(
    store: &dyn Store,
    uuid: &str,
    cards: &[String],
    positions: &[Position],
) -> Result<AboutPerson, StoreError> {
    let mut incidents = Vec::new();
    for serial in cards {
        incidents.extend(page(store, &IncidentQuery::of_card(serial))?.1);
    }
    // Audit records name an entity by its natural key, as the import writes it.
    let position_keys = positions
        .iter()
        .map(|p| key_of(Kind::Positions, &Record::Position(p.clone()).values()));
    let keys = std::iter::once(uuid.to_owned())
        .chain(cards.iter().cloned())
        .chain(position_keys);
    let mut audit = Vec::new();
    for key in keys {
        audit.extend(store.audit_search(&AuditQuery {
            entity_key: Some(key),
            limit: 100_000,
            ..AuditQuery::default()
        })?);
    }
    audit.sort_by_key(|a| a.record.seq);
    Ok(AboutPerson {
        incidents,
        reviews: decisions_of(store, uuid)?,
        audit,
    })
}
