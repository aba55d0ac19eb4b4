//! `cardwatch agent`: one-time enrolment tokens for workstation agents, the agents enrolled,
//! and revoking one.

use anyhow::Result;
use cardwatch_core::date::Timestamp;
use cardwatch_core::ids::OdsCode;
use cardwatch_server::web::auth::{new_token_secret, random_token, token_hash};
use cardwatch_store::agents;
use cardwatch_store::{Store, StoreError};
use clap::Subcommand;

use crate::{change, Exit};

/// `cardwatch agent …`
#[derive(Subcommand, Debug)]
pub enum AgentCommand {
    /// Make a one-time enrolment token (printed once) for `cardwatch-agent enrol`.
    Token {
        /// Hours until it expires (1 to 720).
        #[arg(long, default_value_t = 24)]
        hours: u32,
        /// The site (ODS code) a workstation the estate does not know yet is added at when the
        /// agent reports its inventory.
        #[arg(long)]
        site: Option<String>,
    },
    /// The agents enrolled: workstation, version, last seen, what became of their inventory,
    /// revoked.
    List {
        /// A JSON array.
        #[arg(long)]
        json: bool,
    },
    /// An agent's newest reported events, as JSON lines.
    Events {
        /// The agent's id.
        id: String,
        /// How many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Revoke an agent: its credential is refused from now on.
    Revoke {
        /// The agent's id (`cardwatch agent list`).
        id: String,
    },
}

/// `cardwatch agent`.
pub fn run(store: &dyn Store, command: AgentCommand) -> Result<()> {
    match command {
        AgentCommand::Token { hours, site } => {
            if !(1..=720).contains(&hours) {
                eprintln!("cardwatch: --hours {hours}: give 1 to 720");
                return Err(Exit(2).into());
            }
            let c = change();
            let secret = new_token_secret()?;
            let id = format!("et_{}", &random_token()?[..8]);
            let expires = Timestamp::from_unix(c.at.unix() + i64::from(hours) * 3600);
            let site = match site.as_deref().map(OdsCode::parse).transpose() {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("cardwatch: --site: {e}");
                    return Err(Exit(2).into());
                }
            };
            let site = site.as_ref().map(OdsCode::as_str);
            match agents::add_enrolment_token(store, &token_hash(&secret), &id, expires, site, &c) {
                Ok(()) => {}
                Err(StoreError::Invalid(m)) => {
                    eprintln!("cardwatch: --site: {m}");
                    return Err(Exit(2).into());
                }
                Err(e) => return Err(e.into()),
            }
            outln!("enrolment token {id}, one use, expires {expires}:\n{secret}");
            Ok(())
        }
        AgentCommand::List { json } => {
            let all = agents::agents(store)?;
            if json {
                outln!("{}", serde_json::to_string(&all)?);
                return Ok(());
            }
            for a in all {
                outln!(
                    "{:<16} {:<24} {:<8} enrolled {} last seen {}{}{}",
                    a.id,
                    a.hostname,
                    a.version,
                    a.enrolled_at,
                    a.last_seen.map_or("never".to_owned(), |t| t.to_string()),
                    a.revoked_at
                        .map_or(String::new(), |t| format!(" REVOKED {t}")),
                    a.inventory_note
                        .map_or(String::new(), |n| format!("\n    inventory: {n}"))
                );
            }
            Ok(())
        }
        AgentCommand::Events { id, limit } => {
            for e in agents::agent_events(store, &id, limit)? {
                outln!("{}", serde_json::to_string(&e)?);
            }
            Ok(())
        }
        AgentCommand::Revoke { id } => match agents::revoke_agent(store, &id, &change()) {
            Ok(()) => {
                outln!("agent {id} revoked");
                Ok(())
            }
            Err(StoreError::NotFound(m)) => {
                eprintln!("cardwatch: {m}");
                Err(Exit(2).into())
            }
            Err(e) => Err(e.into()),
        },
    }
}
