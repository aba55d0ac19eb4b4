//! Triage incidents: what a backend's transaction must do with them, and the operations written
//! once on top (open, record a step, close), each audited in the same transaction.

use cardwatch_core::date::Timestamp;
use cardwatch_core::triage::{Incident, IncidentStatus, IncidentStep, NewIncident};

use crate::tx::{append_one, Tx};
use crate::{Change, StoreError};

/// The columns both backends read an incident from, in [`from_columns`] order.
pub(crate) const COLUMNS: &str = "id, opened_at, reporter, site, card_serial, hostname, \
    application, doing, symptom, error_text, steps, status, confirmed_cause, minutes_to_fix, closed_at";

/// An incident's stored columns.
pub(crate) type Columns = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<f64>,
    Option<i64>,
);

/// An incident from its stored columns.
pub(crate) fn from_columns(c: Columns) -> Result<Incident, StoreError> {
    let (id, opened_at, reporter, site, card_serial, hostname, application, doing, symptom) =
        (c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7, c.8);
    let bad = |what: String| StoreError::Database(format!("incident {id}: {what}"));
    Ok(Incident {
        id,
        opened_at: Timestamp::from_unix(opened_at),
        opened: NewIncident {
            reporter,
            site,
            card_serial,
            hostname,
            application,
            doing,
            symptom,
            error_text: c.9,
        },
        steps: serde_json::from_str(&c.10).map_err(|e| bad(format!("steps: {e}")))?,
        status: IncidentStatus::parse(&c.11).map_err(bad)?,
        confirmed_cause: c.12,
        minutes_to_fix: c.13,
        closed_at: c.14.map(Timestamp::from_unix),
    })
}

/// What a backend's transaction does with incidents.
pub(crate) trait IncidentTx {
    /// The same transaction, for the audit chain.
    fn as_tx(&mut self) -> &mut dyn Tx;
    /// Inserts a new open incident; returns its number.
    fn insert_incident(&mut self, at: Timestamp, n: &NewIncident) -> Result<i64, StoreError>;
    /// An incident, locked until the transaction ends.
    fn incident_for_update(&mut self, id: i64) -> Result<Option<Incident>, StoreError>;
    /// Writes an incident's steps and outcome.
    fn put_incident(&mut self, i: &Incident) -> Result<(), StoreError>;
}

fn text(what: &str, v: &Option<String>, max: usize) -> Result<(), StoreError> {
    match v {
        Some(s) if s.trim().is_empty() => Err(StoreError::Invalid(format!(
            "{what} is empty — leave it out or fill it in"
        ))),
        Some(s) if s.chars().count() > max => Err(StoreError::Invalid(format!(
            "{what} is longer than {max} characters — shorten it"
        ))),
        _ => Ok(()),
    }
}

/// Opens an incident, audited.
pub(crate) fn open(
    tx: &mut dyn IncidentTx,
    n: &NewIncident,
    change: &Change,
) -> Result<i64, StoreError> {
    text("the reporter", &Some(n.reporter.clone()), 200)?;
    text("the symptom", &Some(n.symptom.clone()), 100)?;
    for (what, v) in [
        ("the site", &n.site),
        ("the card serial", &n.card_serial),
        ("the hostname", &n.hostname),
        ("the application", &n.application),
    ] {
        text(what, v, 100)?;
    }
    text("what the user was doing", &n.doing, 2000)?;
    text("the error text", &n.error_text, 2000)?;
    let id = tx.insert_incident(change.at, n)?;
    let after = serde_json::to_string(n).unwrap_or_default();
    append_one(
        tx.as_tx(),
        change,
        "open",
        "incident",
        &id.to_string(),
        &n.symptom,
        None,
        Some(after),
    )?;
    Ok(id)
}

fn open_one(tx: &mut dyn IncidentTx, id: i64) -> Result<Incident, StoreError> {
    let i = tx
        .incident_for_update(id)?
        .ok_or_else(|| StoreError::Invalid(format!("there is no incident {id}")))?;
    if i.status != IncidentStatus::Open {
        return Err(StoreError::Invalid(format!(
            "incident {id} is already {} — open a new one",
            i.status.as_str()
        )));
    }
    Ok(i)
}

/// Appends a step to an open incident, audited.
pub(crate) fn record_step(
    tx: &mut dyn IncidentTx,
    id: i64,
    step: &IncidentStep,
    change: &Change,
) -> Result<(), StoreError> {
    let mut i = open_one(tx, id)?;
    i.steps.push(step.clone());
    tx.put_incident(&i)?;
    append_one(
        tx.as_tx(),
        change,
        "step",
        "incident",
        &id.to_string(),
        "",
        None,
        Some(serde_json::to_string(step).unwrap_or_default()),
    )
}

/// Closes an open incident as resolved (with the cause a fix confirmed) or escalated, audited.
pub(crate) fn close(
    tx: &mut dyn IncidentTx,
    id: i64,
    status: IncidentStatus,
    cause: Option<&str>,
    change: &Change,
) -> Result<Incident, StoreError> {
    if status == IncidentStatus::Open {
        return Err(StoreError::Invalid(
            "an incident is closed as resolved or escalated".into(),
        ));
    }
    let mut i = open_one(tx, id)?;
    i.status = status;
    i.confirmed_cause = cause.map(str::to_owned);
    i.closed_at = Some(change.at);
    i.minutes_to_fix = Some((change.at.unix() - i.opened_at.unix()).max(0) as f64 / 60.0);
    tx.put_incident(&i)?;
    let after = serde_json::json!({
        "status": status.as_str(),
        "confirmed_cause": cause,
        "minutes_to_fix": i.minutes_to_fix,
    });
    append_one(
        tx.as_tx(),
        change,
        status.as_str(),
        "incident",
        &id.to_string(),
        cause.unwrap_or(""),
        None,
        Some(after.to_string()),
    )?;
    Ok(i)
}
