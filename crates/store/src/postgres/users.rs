//! Operators and sessions in PostgreSQL.

use cardwatch_core::access::{NewUser, Token, User, Username};
use cardwatch_core::date::Timestamp;
use postgres::GenericClient;

use super::PgTx;
use crate::exec::P;
use crate::tx::Tx;
use crate::users::{
    from_columns, organisations, session_columns, token_from_columns, Columns, TokenColumns,
    UserTx, COLUMNS, TOKEN_COLUMNS,
};
use crate::StoreError;

fn columns(r: &postgres::Row) -> Result<Columns, postgres::Error> {
    Ok((
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        i64::from(r.try_get::<_, i32>(6)?),
        r.try_get(7)?,
        r.try_get(8)?,
    ))
}

impl UserTx for PgTx<'_, '_> {
    fn as_tx(&mut self) -> &mut dyn Tx {
        self
    }

    fn insert_user(&mut self, u: &NewUser, at: Timestamp) -> Result<bool, StoreError> {
        let n = self.tx.execute(
            "INSERT INTO users (username, display_name, role, organisations, password_hash, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (username) DO NOTHING",
            &[
                &u.username.as_str(),
                &u.display_name.trim(),
                &u.role.as_str(),
                &organisations(u),
                &u.password_hash,
                &at.unix(),
            ],
        )?;
        Ok(n == 1)
    }

    fn user_for_update(&mut self, name: &Username) -> Result<Option<User>, StoreError> {
        let row = self.tx.query_opt(
            &format!("SELECT {COLUMNS} FROM users WHERE username = $1 FOR UPDATE"),
            &[&name.as_str()],
        )?;
        row.map(|r| from_columns(columns(&r)?)).transpose()
    }

    fn put_user(&mut self, u: &User) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE users SET password_hash = $2, disabled = $3, failures = $4, last_failure = $5 \
             WHERE username = $1",
            &[
                &u.user.username.as_str(),
                &u.user.password_hash,
                &u.disabled,
                &(u.failures.min(i32::MAX as u32) as i32),
                &u.last_failure.map(Timestamp::unix),
            ],
        )?;
        Ok(())
    }

    fn end_sessions(&mut self, name: &Username) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM sessions WHERE username = $1",
            &[&name.as_str()],
        )?;
        Ok(())
    }

    fn insert_token(&mut self, t: &Token, hash: &str) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO tokens (token_hash, id, username, name, kind, site, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &hash,
                &t.id,
                &t.username.as_str(),
                &t.name.trim(),
                &t.kind.as_str(),
                &t.site.as_ref().map(|s| s.as_str()),
                &t.created_at.unix(),
            ],
        )?;
        Ok(())
    }

    fn token_for_update(&mut self, id: &str) -> Result<Option<Token>, StoreError> {
        let row = self.tx.query_opt(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = $1 FOR UPDATE"),
            &[&id],
        )?;
        row.map(|r| token_from_columns(token_columns(&r)?))
            .transpose()
    }

    fn put_revoked(&mut self, id: &str, at: Timestamp) -> Result<(), StoreError> {
        self.tx.execute(
            "UPDATE tokens SET revoked_at = $2 WHERE id = $1",
            &[&id, &at.unix()],
        )?;
        Ok(())
    }
}

fn token_columns(r: &postgres::Row) -> Result<TokenColumns, postgres::Error> {
    Ok((
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
    ))
}

pub(super) fn tokens(
    c: &mut impl GenericClient,
    owner: Option<&Username>,
) -> Result<Vec<Token>, StoreError> {
    let rows = c.query(
        &format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE $1::text IS NULL OR username = $1 ORDER BY created_at, id"
        ),
        &[&owner.map(Username::as_str)],
    )?;
    rows.iter()
        .map(|r| token_from_columns(token_columns(r)?))
        .collect()
}

pub(super) fn live_token(
    c: &mut impl GenericClient,
    hash: &str,
) -> Result<Option<(Token, User)>, StoreError> {
    let row = c.query_opt(
        &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE token_hash = $1 AND revoked_at IS NULL"),
        &[&hash],
    )?;
    let Some(t) = row
        .map(|r| token_from_columns(token_columns(&r)?))
        .transpose()?
    else {
        return Ok(None);
    };
    Ok(one(c, &t.username)?.filter(|u| !u.disabled).map(|u| (t, u)))
}

pub(super) fn one(c: &mut impl GenericClient, name: &Username) -> Result<Option<User>, StoreError> {
    let row = c.query_opt(
        &format!("SELECT {COLUMNS} FROM users WHERE username = $1"),
        &[&name.as_str()],
    )?;
    row.map(|r| from_columns(columns(&r)?)).transpose()
}

pub(super) fn all(c: &mut impl GenericClient) -> Result<Vec<User>, StoreError> {
    let rows = c.query(
        &format!("SELECT {COLUMNS} FROM users ORDER BY username"),
        &[],
    )?;
    rows.iter().map(|r| from_columns(columns(r)?)).collect()
}

pub(super) fn sign_in(
    c: &mut impl GenericClient,
    name: &Username,
    ok: bool,
    at: Timestamp,
) -> Result<(), StoreError> {
    if ok {
        c.execute(
            "UPDATE users SET failures = 0, last_failure = NULL WHERE username = $1",
            &[&name.as_str()],
        )?;
    } else {
        c.execute(
            "UPDATE users SET failures = failures + 1, last_failure = $2 WHERE username = $1",
            &[&name.as_str(), &at.unix()],
        )?;
    }
    Ok(())
}

pub(super) fn create_session(
    c: &mut impl GenericClient,
    token_hash: &str,
    name: &Username,
    csrf: &str,
    at: Timestamp,
    expires: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO sessions (token_hash, username, csrf, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &token_hash,
            &name.as_str(),
            &csrf,
            &at.unix(),
            &expires.unix(),
        ],
    )?;
    Ok(())
}

pub(super) fn session(
    c: &mut impl GenericClient,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<(User, String)>, StoreError> {
    // Asked on every signed-in request: sent unprepared, one round trip (`read_rows`).
    let row = super::read_rows(
        c,
        &format!(
            "SELECT {} FROM sessions s JOIN users u ON u.username = s.username \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
            session_columns()
        ),
        &[P::T(token_hash), P::I(now.unix())],
    )?
    .into_iter()
    .next();
    row.map(|r| Ok((from_columns(columns(&r)?)?, r.try_get::<_, String>(9)?)))
        .transpose()
}

/// A live session and the audit chain's length in one round trip, the statement prepared once per
/// connection: asked first by every signed-in request.
pub(super) fn session_with_length(
    c: &mut super::Conn,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<(User, String, i64)>, StoreError> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
            "SELECT {}, (SELECT seq FROM audit_head WHERE id = 1) FROM sessions s \
             JOIN users u ON u.username = s.username \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND NOT u.disabled",
            session_columns()
        )
    });
    let rows = c.cached(
        sql,
        &[postgres::types::Type::TEXT, postgres::types::Type::INT8],
        &[&token_hash, &now.unix()],
    )?;
    rows.first()
        .map(|r| {
            Ok((
                from_columns(columns(r)?)?,
                r.try_get::<_, String>(9)?,
                r.try_get::<_, i64>(10)?,
            ))
        })
        .transpose()
}

pub(super) fn end_session(c: &mut impl GenericClient, token_hash: &str) -> Result<(), StoreError> {
    c.execute("DELETE FROM sessions WHERE token_hash = $1", &[&token_hash])?;
    Ok(())
}
