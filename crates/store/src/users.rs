//! Operators and sessions: what a backend's transaction must do for the audited changes
//! (adding an operator, a new password, disabling), written once on top; the audit records
//! never hold a password hash.

use cardwatch_core::access::{NewUser, Role, User, Username};
use cardwatch_core::date::Timestamp;
use cardwatch_core::ids::OdsCode;

use crate::tx::{append_one, Tx};
use crate::{Change, StoreError};

/// The columns both backends read an operator from, in [`from_columns`] order.
pub(crate) const COLUMNS: &str = "username, display_name, role, organisations, password_hash, \
    disabled, failures, last_failure, created_at";

/// An operator's stored columns.
pub(crate) type Columns = (
    String,
    String,
    String,
    String,
    String,
    bool,
    i64,
    Option<i64>,
    i64,
);

/// An operator from stored columns.
pub(crate) fn from_columns(c: Columns) -> Result<User, StoreError> {
    let bad = |what: String| StoreError::Database(format!("user {}: {what}", c.0));
    let organisations =
        c.3.split_whitespace()
            .map(|o| OdsCode::parse(o).map_err(|e| bad(e.to_string())))
            .collect::<Result<_, _>>()?;
    Ok(User {
        user: NewUser {
            username: Username::parse(&c.0).map_err(|e| bad(e.to_string()))?,
            display_name: c.1,
            role: Role::parse(&c.2).map_err(bad)?,
            organisations,
            password_hash: c.4,
        },
        disabled: c.5,
        failures: c.6.max(0) as u32,
        last_failure: c.7.map(Timestamp::from_unix),
        created_at: Timestamp::from_unix(c.8),
    })
}

/// The organisations column: ODS codes separated by spaces.
pub(crate) fn organisations(u: &NewUser) -> String {
    u.organisations
        .iter()
        .map(OdsCode::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a backend's transaction does with operators.
pub(crate) trait UserTx {
    /// The same transaction, for the audit chain.
    fn as_tx(&mut self) -> &mut dyn Tx;
    /// Inserts an operator; false when the user name is taken.
    fn insert_user(&mut self, u: &NewUser, at: Timestamp) -> Result<bool, StoreError>;
    /// An operator, locked until the transaction ends.
    fn user_for_update(&mut self, name: &Username) -> Result<Option<User>, StoreError>;
    /// Writes an operator's password hash, disabled flag and failures.
    fn put_user(&mut self, u: &User) -> Result<(), StoreError>;
    /// Ends every session of an operator.
    fn end_sessions(&mut self, name: &Username) -> Result<(), StoreError>;
}

/// What an audit record says of an operator: never the password hash.
fn public(u: &NewUser) -> String {
    serde_json::json!({
        "username": u.username.as_str(),
        "display_name": u.display_name,
        "role": u.role.as_str(),
        "organisations": organisations(u),
    })
    .to_string()
}

/// Adds an operator, audited.
pub(crate) fn add(tx: &mut dyn UserTx, u: &NewUser, change: &Change) -> Result<(), StoreError> {
    if u.display_name.trim().is_empty() {
        return Err(StoreError::Invalid(
            "an operator needs a name as shown — give --name".into(),
        ));
    }
    if !tx.insert_user(u, change.at)? {
        return Err(StoreError::Invalid(format!(
            "there is already an operator {} — choose another user name, or reset their password",
            u.username
        )));
    }
    append_one(
        tx.as_tx(),
        change,
        "add",
        "user",
        u.username.as_str(),
        "",
        None,
        Some(public(&u.clone())),
    )
}

fn existing(tx: &mut dyn UserTx, name: &Username) -> Result<User, StoreError> {
    tx.user_for_update(name)?.ok_or_else(|| {
        StoreError::Invalid(format!(
            "there is no operator {name} — see `cardwatch user list`"
        ))
    })
}

/// Sets a new password hash (which also clears failures and ends sessions), audited.
pub(crate) fn set_password(
    tx: &mut dyn UserTx,
    name: &Username,
    hash: &str,
    change: &Change,
) -> Result<(), StoreError> {
    let mut u = existing(tx, name)?;
    u.user.password_hash = hash.to_owned();
    u.failures = 0;
    u.last_failure = None;
    tx.put_user(&u)?;
    tx.end_sessions(name)?;
    append_one(
        tx.as_tx(),
        change,
        "reset-password",
        "user",
        name.as_str(),
        "",
        None,
        None,
    )
}

/// Disables or re-enables an operator, audited; disabling ends their sessions.
pub(crate) fn set_disabled(
    tx: &mut dyn UserTx,
    name: &Username,
    disabled: bool,
    change: &Change,
) -> Result<(), StoreError> {
    let mut u = existing(tx, name)?;
    if u.disabled == disabled {
        return Ok(());
    }
    u.disabled = disabled;
    tx.put_user(&u)?;
    if disabled {
        tx.end_sessions(name)?;
    }
    append_one(
        tx.as_tx(),
        change,
        if disabled { "disable" } else { "enable" },
        "user",
        name.as_str(),
        "",
        None,
        None,
    )
}
