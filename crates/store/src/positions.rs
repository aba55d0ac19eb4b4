//! A position's status moved on by a Registration Authority (approved, in force, removed), through
//! the import's own validation and audit: the record written is the stored one with its status
//! (and, when approved, the approval date) changed.

use cardwatch_core::date::Date;
use cardwatch_core::records::Kind;
use cardwatch_core::vocab::PositionStatus;
use serde_json::{Map, Value};

use crate::import::{ImportInput, ImportOptions};
use crate::{Change, Store, StoreError};

/// Moves the holder's position (at `ods`, role `role`) to `to`; the status it had. A move its
/// lifecycle does not allow is refused with what is allowed.
pub fn set_position_status(
    store: &dyn Store,
    holder: &str,
    ods: &str,
    role: &str,
    to: PositionStatus,
    today: Date,
    change: &Change,
) -> Result<PositionStatus, StoreError> {
    let columns = Kind::Positions.columns();
    let row = store
        .records_where(Kind::Positions, "holder_uuid", holder, 10_000)?
        .into_iter()
        .find(|v| v[1].to_csv() == ods && v[2].to_csv() == role)
        .ok_or_else(|| {
            StoreError::NotFound(format!("{holder} holds no position {role} at {ods}"))
        })?;
    let mut record: Map<String, Value> = columns
        .iter()
        .zip(&row)
        .map(|(c, v)| (c.name.to_owned(), Value::String(v.to_csv())))
        .collect();
    let from = PositionStatus::parse(record["status"].as_str().unwrap_or_default())
        .map_err(|e| StoreError::Database(format!("a stored position's status: {e}")))?;
    if !from.next().contains(&to) {
        let allowed: Vec<&str> = from.next().iter().map(|s| s.as_str()).collect();
        return Err(StoreError::Invalid(if allowed.is_empty() {
            format!("a {from} position stays {from}: ask for it again as a new request")
        } else {
            format!(
                "a {from} position can become {} — not {to}",
                allowed.join(" or ")
            )
        }));
    }
    record.insert("status".into(), Value::String(to.as_str().into()));
    let unapproved = record["approved_on"].as_str().is_none_or(str::is_empty);
    if matches!(to, PositionStatus::Approved | PositionStatus::Active) && unapproved {
        record.insert("approved_on".into(), Value::String(today.to_string()));
    }
    let file = ImportInput::records("position", vec![Value::Object(record)]);
    store.import(&[file], &ImportOptions::default(), change)?;
    Ok(from)
}
