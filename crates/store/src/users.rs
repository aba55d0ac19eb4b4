//! Operators and sessions: what a backend's transaction must do for the audited changes
//! (adding an operator, a new password, disabling), written once on top; the audit records
//! never hold a password hash.

use cardwatch_core::access::{NewUser, Role, Token, TokenKind, User, Username};
use cardwatch_core::date::Timestamp;
use cardwatch_core::ids::OdsCode;

use crate::tx::{append_one, Tx};
use crate::{Change, StoreError};

/// The columns both backends read an operator from, in [`from_columns`] order.
pub(crate) const COLUMNS: &str = "username, display_name, role, organisations, password_hash, \
    disabled, failures, last_failure, created_at";

/// The operator's columns prefixed for a join with `u`, then the session's CSRF token: one
/// query finds a live session and its operator.
pub(crate) fn session_columns() -> String {
    let cols: Vec<String> = COLUMNS.split(", ").map(|c| format!("u.{c}")).collect();
    format!("{}, s.csrf", cols.join(", "))
}

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
    /// Stores a token under the hash of its secret.
    fn insert_token(&mut self, t: &Token, hash: &str) -> Result<(), StoreError>;
    /// A token by its public id, locked until the transaction ends.
    fn token_for_update(&mut self, id: &str) -> Result<Option<Token>, StoreError>;
    /// Marks a token revoked.
    fn put_revoked(&mut self, id: &str, at: Timestamp) -> Result<(), StoreError>;
}

/// The columns both backends read a token from, in [`token_from_columns`] order.
pub(crate) const TOKEN_COLUMNS: &str = "id, username, name, kind, site, created_at, revoked_at";

/// A token's stored columns.
pub(crate) type TokenColumns = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
);

/// A token from stored columns.
pub(crate) fn token_from_columns(c: TokenColumns) -> Result<Token, StoreError> {
    let bad = |what: String| StoreError::Database(format!("token {}: {what}", c.0));
    Ok(Token {
        username: Username::parse(&c.1).map_err(|e| bad(e.to_string()))?,
        name: c.2,
        kind: TokenKind::parse(&c.3).map_err(bad)?,
        site: c
            .4
            .as_deref()
            .map(OdsCode::parse)
            .transpose()
            .map_err(|e| bad(e.to_string()))?,
        created_at: Timestamp::from_unix(c.5),
        revoked_at: c.6.map(Timestamp::from_unix),
        id: c.0,
    })
}

fn token_json(t: &Token) -> String {
    serde_json::json!({
        "id": t.id,
        "username": t.username.as_str(),
        "name": t.name,
        "kind": t.kind.as_str(),
        "site": t.site.as_ref().map(OdsCode::as_str),
    })
    .to_string()
}

/// Stores a new token for an existing, enabled operator, audited (never with its secret).
pub(crate) fn add_token(
    tx: &mut dyn UserTx,
    t: &Token,
    hash: &str,
    change: &Change,
) -> Result<(), StoreError> {
    if t.name.trim().is_empty() {
        return Err(StoreError::Invalid(
            "a token needs a name saying what it is for — give --name".into(),
        ));
    }
    let owner = existing(tx, &t.username)?;
    if owner.disabled {
        return Err(StoreError::Invalid(format!(
            "{} is disabled — enable them first",
            t.username
        )));
    }
    tx.insert_token(t, hash)?;
    append_one(
        tx.as_tx(),
        change,
        "add",
        "token",
        &t.id,
        "",
        None,
        Some(token_json(t)),
    )
}

/// Revokes a token, audited; revoking twice changes nothing.
pub(crate) fn revoke_token(
    tx: &mut dyn UserTx,
    id: &str,
    change: &Change,
) -> Result<(), StoreError> {
    let t = tx.token_for_update(id)?.ok_or_else(|| {
        StoreError::Invalid(format!(
            "there is no token {id} — see `cardwatch token list`"
        ))
    })?;
    if t.revoked_at.is_some() {
        return Ok(());
    }
    tx.put_revoked(id, change.at)?;
    append_one(
        tx.as_tx(),
        change,
        "revoke",
        "token",
        id,
        "",
        Some(token_json(&t)),
        None,
    )
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
