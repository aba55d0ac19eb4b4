//! `cardwatch user`: add, list, disable, enable and reset operators. Passwords come from
//! standard input when it is not a terminal (for scripts), otherwise a random one is printed
//! once; they are hashed with argon2id before they reach the store.

use std::io::{self, BufRead, IsTerminal, Write};

use anyhow::Result;
use cardwatch_core::access::{check_password, NewUser, Role, Token, TokenKind, Username};
use cardwatch_core::ids::OdsCode;
use cardwatch_server::web::auth::{hash_password, new_token_secret, random_password, token_hash};
use cardwatch_server::web::scope;
use cardwatch_store::Store;

use crate::{change, now, Exit, TokenCommand, UserCommand};

fn refuse(message: impl std::fmt::Display) -> anyhow::Error {
    eprintln!("cardwatch: {message}");
    Exit(2).into()
}

/// The password to set: the first line of standard input, or a random one (printed).
fn password() -> Result<(String, bool)> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        return Ok((random_password()?, true));
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let pw = line.trim_end_matches(['\r', '\n']).to_owned();
    check_password(&pw).map_err(refuse)?;
    Ok((pw, false))
}

/// A change the store refused is bad input (exit 2); anything else is a failure.
fn refused(e: cardwatch_store::StoreError) -> anyhow::Error {
    match e {
        cardwatch_store::StoreError::Invalid(m) => refuse(m),
        other => other.into(),
    }
}

fn name(s: &str) -> Result<Username> {
    Username::parse(s).map_err(refuse)
}

/// Runs one `user` command.
pub fn run(store: &dyn Store, command: UserCommand) -> Result<()> {
    let mut out = io::stdout().lock();
    match command {
        UserCommand::Add {
            username,
            name: display,
            role,
            organisations,
        } => {
            let role = Role::parse(&role).map_err(refuse)?;
            let organisations = organisations
                .iter()
                .map(|o| OdsCode::parse(o).map_err(|e| refuse(format!("--org {o:?}: {e}"))))
                .collect::<Result<Vec<_>>>()?;
            if organisations.is_empty() && !role.sees_everything() {
                return Err(refuse(format!(
                    "a {role} works for particular organisations — give at least one --org ODS"
                )));
            }
            let username = name(&username)?;
            let (pw, random) = password()?;
            let user = NewUser {
                username: username.clone(),
                display_name: display,
                role,
                organisations,
                password_hash: hash_password(&pw)?,
            };
            store.add_user(&user, &change()).map_err(refused)?;
            writeln!(out, "added {username} ({role})")?;
            if random {
                writeln!(
                    out,
                    "password: {pw}\n(give it to them privately; they change it at /account)"
                )?;
            }
        }
        UserCommand::List => {
            writeln!(
                out,
                "{:<32} {:<24} {:<22} {:<8} organisations",
                "user", "name", "role", "state"
            )?;
            for u in store.users()? {
                let orgs: Vec<&str> = u.user.organisations.iter().map(OdsCode::as_str).collect();
                writeln!(
                    out,
                    "{:<32} {:<24} {:<22} {:<8} {}",
                    u.user.username.as_str(),
                    u.user.display_name,
                    u.user.role.as_str(),
                    if u.disabled { "disabled" } else { "active" },
                    if u.user.role.sees_everything() {
                        "all".to_owned()
                    } else {
                        orgs.join(" ")
                    }
                )?;
            }
        }
        UserCommand::Disable { username } => {
            store
                .set_user_disabled(&name(&username)?, true, &change())
                .map_err(refused)?;
            writeln!(out, "disabled {username}")?;
        }
        UserCommand::Enable { username } => {
            store
                .set_user_disabled(&name(&username)?, false, &change())
                .map_err(refused)?;
            writeln!(out, "enabled {username}")?;
        }
        UserCommand::ResetPassword { username } => {
            let username = name(&username)?;
            let (pw, random) = password()?;
            store
                .set_user_password(&username, &hash_password(&pw)?, &change())
                .map_err(refused)?;
            writeln!(
                out,
                "new password set for {username}; their sessions have ended"
            )?;
            if random {
                writeln!(out, "password: {pw}")?;
            }
        }
    }
    Ok(())
}

/// The demo's operator: `demo`, an administrator, with a fresh random password each time the
/// demo starts (printed beside the address, so only whoever started it can sign in).
pub fn demo_operator(store: &dyn Store) -> Result<String> {
    let name = Username::parse("demo").map_err(|e| anyhow::anyhow!("{e}"))?;
    let pw = random_password()?;
    let hash = hash_password(&pw)?;
    if store.user(&name)?.is_some() {
        store.set_user_password(&name, &hash, &change())?;
    } else {
        store.add_user(
            &NewUser {
                username: name,
                display_name: "Demo administrator".into(),
                role: Role::Administrator,
                organisations: Vec::new(),
                password_hash: hash,
            },
            &change(),
        )?;
    }
    Ok(format!("sign in as demo with password {pw}"))
}

/// Refuses a site outside an operator's organisations, as their account page does: whatever is
/// made for an operator (a calendar feed of one site) reaches only what they may see.
fn site_of_operator(store: &dyn Store, owner: &Username, site: &OdsCode) -> Result<()> {
    let Some(user) = store.user(owner)? else {
        return Err(refuse(format!(
            "--user {owner}: no such operator (see `cardwatch user list`)"
        )));
    };
    if scope::operator_covers_site(store, &user, site.as_str())? {
        return Ok(());
    }
    let orgs: Vec<&str> = user
        .user
        .organisations
        .iter()
        .map(OdsCode::as_str)
        .collect();
    Err(refuse(format!(
        "--site {site}: outside {owner}'s organisations ({}) — give a site of theirs, or leave --site out for all of them",
        orgs.join(", ")
    )))
}

/// Runs one `token` command.
pub fn tokens(store: &dyn Store, command: TokenCommand) -> Result<()> {
    let mut out = io::stdout().lock();
    match command {
        TokenCommand::Add {
            user,
            name: what,
            calendar,
            site,
        } => {
            let site = site
                .map(|s| OdsCode::parse(&s).map_err(|e| refuse(format!("--site {s:?}: {e}"))))
                .transpose()?;
            let owner = name(&user)?;
            if let Some(site) = &site {
                site_of_operator(store, &owner, site)?;
            }
            let secret = new_token_secret()?;
            let hash = token_hash(&secret);
            let token = Token {
                id: hash[..12].to_owned(),
                username: owner,
                name: what,
                kind: if calendar {
                    TokenKind::Calendar
                } else {
                    TokenKind::Api
                },
                site,
                created_at: now(),
                revoked_at: None,
            };
            store.add_token(&token, &hash, &change()).map_err(refused)?;
            writeln!(
                out,
                "token {} for {} ({})",
                token.id,
                token.username,
                token.kind.as_str()
            )?;
            if calendar {
                writeln!(out, "feed: /feeds/{secret}.ics  (add the server's address in front; anyone with it can read the feed)")?;
            } else {
                writeln!(out, "secret: {secret}\n(send it as `Authorization: Bearer <secret>`; it is shown only now)")?;
            }
        }
        TokenCommand::List { user } => {
            let owner = user.as_deref().map(name).transpose()?;
            writeln!(
                out,
                "{:<13} {:<32} {:<9} {:<10} {:<8} name",
                "id", "user", "kind", "site", "state"
            )?;
            for t in store.tokens(owner.as_ref())? {
                writeln!(
                    out,
                    "{:<13} {:<32} {:<9} {:<10} {:<8} {}",
                    t.id,
                    t.username.as_str(),
                    t.kind.as_str(),
                    t.site.as_ref().map_or("-", OdsCode::as_str),
                    if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "live"
                    },
                    t.name
                )?;
            }
        }
        TokenCommand::Revoke { id } => {
            store.revoke_token(&id, &change()).map_err(refused)?;
            writeln!(out, "revoked {id}")?;
        }
    }
    Ok(())
}
