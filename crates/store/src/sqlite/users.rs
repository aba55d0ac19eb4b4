//! Operators and sessions in SQLite.

use cardwatch_core::access::{NewUser, Token, User, Username};
use cardwatch_core::date::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};

use super::SqliteTx;
use crate::tx::Tx;
use crate::users::{
    from_columns, organisations, session_columns, token_from_columns, Columns, TokenColumns,
    UserTx, COLUMNS, TOKEN_COLUMNS,
};
use crate::StoreError;

fn columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<Columns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

fn put(conn: &Connection, u: &User) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE users SET password_hash = ?2, disabled = ?3, failures = ?4, last_failure = ?5 \
         WHERE username = ?1",
        params![
            u.user.username.as_str(),
            u.user.password_hash,
            u.disabled,
            i64::from(u.failures),
            u.last_failure.map(Timestamp::unix)
        ],
    )?;
    Ok(())
}

impl UserTx for SqliteTx<'_> {
    fn as_tx(&mut self) -> &mut dyn Tx {
        self
    }

    fn insert_user(&mut self, u: &NewUser, at: Timestamp) -> Result<bool, StoreError> {
        let n = self.tx.execute(
            "INSERT OR IGNORE INTO users (username, display_name, role, organisations, \
             password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                u.username.as_str(),
                u.display_name.trim(),
                u.role.as_str(),
                organisations(u),
                u.password_hash,
                at.unix()
            ],
        )?;
        Ok(n == 1)
    }

    fn user_for_update(&mut self, name: &Username) -> Result<Option<User>, StoreError> {
        one(self.tx, name)
    }

    fn put_user(&mut self, u: &User) -> Result<(), StoreError> {
        put(self.tx, u)
    }

    fn end_sessions(&mut self, name: &Username) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM sessions WHERE username = ?1", [name.as_str()])?;
        Ok(())
    }

    fn insert_token(&mut self, t: &Token, hash: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO tokens (token_hash, id, username, name, kind, site, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                hash,
                t.id,
                t.username.as_str(),
                t.name.trim(),
                t.kind.as_str(),
                t.site.as_ref().map(|s| s.as_str()),
                t.created_at.unix()
            ],
        )?;
        Ok(())
    }

    fn token_for_update(&mut self, id: &str) -> Result<Option<Token>, StoreError> {
        let row = self
            .tx
            .query_row(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"),
                [id],
                token_columns,
            )
            .optional()?;
        row.map(token_from_columns).transpose()
    }

    fn put_revoked(&mut self, id: &str, at: Timestamp) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1",
            params![id, at.unix()],
        )?;
        Ok(())
    }
}

fn token_columns(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenColumns> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

pub(super) fn tokens(
    conn: &Connection,
    owner: Option<&Username>,
) -> Result<Vec<Token>, StoreError> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens WHERE ?1 IS NULL OR username = ?1 ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([owner.map(Username::as_str)], token_columns)?;
    rows.map(|r| token_from_columns(r?)).collect()
}

pub(super) fn live_token(
    conn: &Connection,
    hash: &str,
) -> Result<Option<(Token, User)>, StoreError> {
    let row = conn
        .query_row(
            &format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = ?1 AND revoked_at IS NULL"
            ),
            [hash],
            token_columns,
        )
        .optional()?;
    let Some(t) = row.map(token_from_columns).transpose()? else {
        return Ok(None);
    };
    Ok(one(conn, &t.username)?
        .filter(|u| !u.disabled)
        .map(|u| (t, u)))
}

pub(super) fn one(conn: &Connection, name: &Username) -> Result<Option<User>, StoreError> {
    let row = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM users WHERE username = ?1"),
            [name.as_str()],
            columns,
        )
        .optional()?;
    row.map(from_columns).transpose()
}

pub(super) fn all(conn: &Connection) -> Result<Vec<User>, StoreError> {
    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM users ORDER BY username"))?;
    let rows = stmt.query_map([], columns)?;
    rows.map(|r| from_columns(r?)).collect()
}

pub(super) fn sign_in(
    conn: &Connection,
    name: &Username,
    ok: bool,
    at: Timestamp,
) -> Result<(), StoreError> {
    if ok {
        conn.execute(
            "UPDATE users SET failures = 0, last_failure = NULL WHERE username = ?1",
            [name.as_str()],
        )?;
    } else {
        conn.execute(
            "UPDATE users SET failures = failures + 1, last_failure = ?2 WHERE username = ?1",
            params![name.as_str(), at.unix()],
        )?;
    }
    Ok(())
}

pub(super) fn create_session(
    conn: &Connection,
    token_hash: &str,
    name: &Username,
    csrf: &str,
    at: Timestamp,
    expires: Timestamp,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sessions (token_hash, username, csrf, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash, name.as_str(), csrf, at.unix(), expires.unix()],
    )?;
    Ok(())
}

pub(super) fn session(
    conn: &Connection,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<(User, String)>, StoreError> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT {} FROM sessions s JOIN users u ON u.username = s.username \
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND NOT u.disabled",
            session_columns()
        ))?
        .query_row(params![token_hash, now.unix()], |r| {
            Ok((columns(r)?, r.get::<_, String>(9)?))
        })
        .optional()?;
    row.map(|(c, csrf)| Ok((from_columns(c)?, csrf)))
        .transpose()
}

pub(super) fn end_session(conn: &Connection, token_hash: &str) -> Result<(), StoreError> {
    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
    Ok(())
}
