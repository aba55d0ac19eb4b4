//! What a backend's open transaction must do, and the store operations written once on top of it
//! (imports, status changes), so that both backends follow the same rules.

use cardwatch_core::audit::AuditRecord;
use cardwatch_core::card_status::CardStatus;
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::health::{FindingNote, NoteState, IMPORT_SITES_MAX};
use cardwatch_core::records::{display_key, Cell, Kind, Value};

use crate::batch::{Batch, Location};
use crate::{Change, StoreError};

/// The audit chain's tip while a transaction appends to it.
pub(crate) struct AuditChain {
    pub(crate) seq: i64,
    pub(crate) hash: String,
}

impl AuditChain {
    /// Seals records onto the chain and hands them to the backend.
    pub(crate) fn append<T: Tx + ?Sized>(
        &mut self,
        tx: &mut T,
        records: Vec<AuditRecord>,
    ) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let mut sealed = Vec::with_capacity(records.len());
        for mut r in records {
            self.seq += 1;
            r.seq = self.seq;
            let s = r.seal(std::mem::take(&mut self.hash));
            self.hash = s.hash.clone();
            sealed.push(s);
        }
        tx.insert_audit(&sealed)
    }
}

/// What became of one row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A new record was written.
    Created,
    /// The record was already exactly so.
    Unchanged,
    /// The record changed; this is how it was.
    Updated { before: Vec<Value> },
    /// The reference in this column (to a record of `target`) names nothing; nothing was written.
    MissingRef { column: usize, target: Kind },
    /// The change breaks a rule (a card status the state machine refuses); nothing was written.
    Refused {
        column: &'static str,
        message: String,
    },
}

/// Books a written batch's outcomes and returns the audit records they call for.
pub(crate) type Book<'a> = dyn FnMut(Batch, Vec<Outcome>) -> Vec<AuditRecord> + 'a;

/// A backend's transaction, as the shared operations need it.
pub(crate) trait Tx {
    /// Writes a batch of rows: new keys inserted, changed records updated (when
    /// [`check_update`] allows), references checked. One outcome per row, in order.
    fn apply(&mut self, batch: &Batch) -> Result<Vec<Outcome>, StoreError>;
    /// Writes a file's batches as they come, handing each back with its outcomes to `book`,
    /// which says what to add to the audit chain for them. The default applies each batch on
    /// its own; a backend may run consecutive batches into one bulk write.
    fn apply_all(
        &mut self,
        batches: &mut dyn Iterator<Item = Batch>,
        chain: &mut AuditChain,
        book: &mut Book<'_>,
    ) -> Result<(), StoreError> {
        apply_each(self, batches, chain, book)
    }
    /// A file of this kind is about to be applied; `bulk` when it is large enough that the
    /// backend may prepare for a bulk load. Says whether the kind's table holds no record.
    fn begin_bulk(&mut self, kind: Kind, bulk: bool) -> Result<bool, StoreError>;
    /// The file begun last is fully applied.
    fn end_bulk(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    /// Whether a record with this (single-column) key exists.
    fn exists(&mut self, kind: Kind, key: &str) -> Result<bool, StoreError>;
    /// A record by its (single-column) key.
    fn get(&mut self, kind: Kind, key: &str) -> Result<Option<Vec<Value>>, StoreError>;
    /// Replaces a record's values (same key).
    fn update(&mut self, kind: Kind, values: &[Value]) -> Result<(), StoreError>;
    /// The newest audit record's `(seq, hash)`, locked until the transaction ends.
    fn audit_head(&mut self) -> Result<(i64, String), StoreError>;
    /// Appends sealed audit records.
    fn insert_audit(
        &mut self,
        records: &[cardwatch_core::audit::StoredAudit],
    ) -> Result<(), StoreError>;
    /// Moves the head to the newest record.
    fn set_audit_head(&mut self, seq: i64, hash: &str) -> Result<(), StoreError>;
    /// The note on a finding, if any.
    fn finding_note(&mut self, id: &str) -> Result<Option<FindingNote>, StoreError>;
    /// Writes (or, with `None`, deletes) the note on a finding.
    fn put_finding_note(&mut self, id: &str, note: Option<&FindingNote>) -> Result<(), StoreError>;
    /// Marks sites' card data refreshed at `at` (never moving a later time back): the sites of
    /// the holders of `cards` (`None`: of every card in the store), and, only if they have no
    /// time yet, `new_sites`. Both are JSON arrays of keys, so that a large import's serials are
    /// one parameter.
    fn note_refreshed(
        &mut self,
        cards: Option<&str>,
        new_sites: &str,
        at: Timestamp,
    ) -> Result<(), StoreError>;
    /// The sites of the records of `kind` whose keys (a JSON array) [`created_sites_sql`]
    /// looks up, at most [`IMPORT_SITES_MAX`] + 1 of them: one statement for a file's keys.
    fn created_sites(&mut self, kind: Kind, keys: &str) -> Result<Vec<String>, StoreError>;
}

/// The statement finding the sites of records of `kind` from the keys `keys` (the backend's
/// rows of a JSON array's elements) names: a workstation's (software), a holder's (positions) or
/// a card's holder's (lockouts). `None` for kinds whose records name their own site.
pub(crate) fn created_sites_sql(kind: Kind, keys: &str) -> Option<String> {
    let from = match kind {
        Kind::Software => "workstations x WHERE x.hostname",
        Kind::Positions => "people x WHERE x.uuid",
        Kind::Lockouts => "cards c JOIN people x ON x.uuid = c.holder_uuid WHERE c.card_serial",
        _ => return None,
    };
    Some(format!(
        "SELECT DISTINCT x.site_ods FROM {from} IN ({keys}) LIMIT {}",
        IMPORT_SITES_MAX + 1
    ))
}

/// [`Tx::apply_all`] a batch at a time.
pub(crate) fn apply_each<T: Tx + ?Sized>(
    tx: &mut T,
    batches: &mut dyn Iterator<Item = Batch>,
    chain: &mut AuditChain,
    book: &mut Book<'_>,
) -> Result<(), StoreError> {
    for batch in batches {
        let outcomes = tx.apply(&batch)?;
        let audit = book(batch, outcomes);
        chain.append(tx, audit)?;
    }
    Ok(())
}

/// Whether a record may change from `before` to `after`: the one rule today is the card state
/// machine (a lost card cannot come back into use by import).
pub(crate) fn check_update(
    kind: Kind,
    before: &[Value],
    after: &[Value],
) -> Result<(), (&'static str, String)> {
    if kind != Kind::Cards {
        return Ok(());
    }
    const STATUS: usize = 3;
    let (Value::Text(from), Value::Text(to)) = (&before[STATUS], &after[STATUS]) else {
        return Ok(());
    };
    let (Ok(from), Ok(to)) = (CardStatus::parse(from), CardStatus::parse(to)) else {
        return Ok(());
    };
    from.transition(to)
        .map(|_| ())
        .map_err(|e| ("status", e.to_string()))
}

/// A record's values as a JSON object keyed by column name, for the audit log.
pub(crate) fn values_json(kind: Kind, values: &[Value]) -> String {
    serde_json::Value::Object(cardwatch_core::records::row_json(kind, values)).to_string()
}

/// Changes a card's status through the state machine and audits it, inside `tx`.
pub(crate) fn set_card_status(
    tx: &mut dyn Tx,
    card: &str,
    to: CardStatus,
    reason: &str,
    change: &Change,
) -> Result<CardStatus, StoreError> {
    if reason.trim().is_empty() {
        return Err(StoreError::Invalid(
            "a status change needs a reason — say why (e.g. \"reported lost by holder\")".into(),
        ));
    }
    let before = tx.get(Kind::Cards, card)?.ok_or_else(|| {
        StoreError::NotFound(format!(
            "card {card} is not in the estate — check the serial, or import it in cards.csv"
        ))
    })?;
    let mut after = before.clone();
    after[3] = Value::Text(to.as_str().to_owned());
    check_update(Kind::Cards, &before, &after)
        .map_err(|(_, message)| StoreError::Invalid(format!("card {card}: {message}")))?;
    let from = match &before[3] {
        Value::Text(s) => CardStatus::parse(s).map_err(|e| StoreError::Database(e.to_string()))?,
        other => return Err(StoreError::Database(format!("card status {other:?}"))),
    };
    if from == to {
        return Ok(to);
    }
    tx.update(Kind::Cards, &after)?;
    if to == CardStatus::Locked {
        // Each lock is kept as a lockout, which the repeated-lockouts health check counts.
        let mut lockout = Batch::with_capacity(Kind::Lockouts, 1);
        let cells = [Cell::Text(card), Cell::Timestamp(change.at), Cell::Null];
        lockout.push(Location::File, &cells, true, 0);
        tx.apply(&lockout)?;
    }
    append_one(
        tx,
        change,
        "status",
        Kind::Cards.name(),
        &display_key(card),
        reason,
        Some(values_json(Kind::Cards, &before)),
        Some(values_json(Kind::Cards, &after)),
    )?;
    Ok(to)
}

/// Replaces (or with `None` removes) the note on a finding and audits the change, inside `tx`.
/// Returns whether there was a note before.
pub(crate) fn note_finding(
    tx: &mut dyn Tx,
    id: &str,
    note: Option<&FindingNote>,
    reason: &str,
    change: &Change,
) -> Result<bool, StoreError> {
    if reason.trim().is_empty() {
        return Err(StoreError::Invalid(
            "a change to a finding needs a reason — say why".into(),
        ));
    }
    let before = tx.finding_note(id)?;
    if note.is_none() && before.is_none() {
        return Ok(false);
    }
    tx.put_finding_note(id, note)?;
    let json = |n: &FindingNote| serde_json::to_string(n).unwrap_or_default();
    append_one(
        tx,
        change,
        note.map_or("reopen", |n| n.state.as_str()),
        "finding",
        id,
        reason,
        before.as_ref().map(json),
        note.map(json),
    )?;
    Ok(before.is_some())
}

/// A stored finding note's columns, as both backends read them.
pub(crate) const NOTE_COLUMNS: &str = "finding_id, state, reason, actor, noted_at, until";

/// A finding note from its stored columns.
pub(crate) fn note_from_columns(
    finding_id: String,
    state: &str,
    reason: String,
    actor: String,
    noted_at: i64,
    until: &str,
) -> Result<FindingNote, StoreError> {
    let bad = |what: String| StoreError::Database(format!("finding note {finding_id}: {what}"));
    Ok(FindingNote {
        state: NoteState::parse(state).map_err(bad)?,
        until: Date::parse(until).map_err(|e| bad(e.to_string()))?,
        noted_at: Timestamp::from_unix(noted_at),
        finding_id,
        reason,
        actor,
    })
}

/// Appends one record to the audit chain inside `tx` and moves the head.
#[allow(clippy::too_many_arguments)]
pub(crate) fn append_one(
    tx: &mut dyn Tx,
    change: &Change,
    action: &str,
    entity_kind: &str,
    entity_key: &str,
    note: &str,
    before: Option<String>,
    after: Option<String>,
) -> Result<(), StoreError> {
    let (seq, hash) = tx.audit_head()?;
    let mut chain = AuditChain { seq, hash };
    chain.append(
        tx,
        vec![AuditRecord {
            seq: 0,
            at: change.at,
            actor: change.actor.clone(),
            action: action.to_owned(),
            entity_kind: entity_kind.to_owned(),
            entity_key: entity_key.to_owned(),
            note: note.trim().to_owned(),
            before,
            after,
        }],
    )?;
    tx.set_audit_head(chain.seq, &chain.hash)
}
