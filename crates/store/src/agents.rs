//! Workstation agents and their enrolment: one-time tokens an administrator makes, exchanged by
//! an agent for its own credential; agents seen and revoked. Only SHA-256 hashes of the secrets
//! are stored, and the audit records never hold one. Written once for both backends.

use cardwatch_core::date::Timestamp;
use serde::Serialize;

use crate::exec::{with_exec, Entry, P, V};
use crate::{Change, Store, StoreError};

/// An enrolled agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Agent {
    /// Its id.
    pub id: String,
    /// The workstation it runs on.
    pub hostname: String,
    /// Its version when it enrolled or last reported.
    pub version: String,
    /// When it enrolled.
    pub enrolled_at: Timestamp,
    /// When it was last heard from.
    pub last_seen: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// The site its enrolment token placed it at, if any.
    pub site_ods: Option<String>,
    /// When its latest inventory reached the estate.
    pub inventory_at: Option<Timestamp>,
    /// What became of its latest inventory, in plain words.
    pub inventory_note: Option<String>,
    /// Its clock minus the server's, in seconds, as it last reported.
    pub clock_offset: Option<i64>,
}

const COLUMNS: &str = "id, hostname, version, enrolled_at, last_seen, revoked_at, site_ods, \
                       inventory_at, inventory_note, clock_offset";

fn agent(mut r: Vec<V>) -> Agent {
    let mut take = |i: usize| std::mem::replace(&mut r[i], V::Null);
    Agent {
        id: take(0).into_text(),
        hostname: take(1).into_text(),
        version: take(2).into_text(),
        enrolled_at: Timestamp::from_unix(take(3).int()),
        last_seen: take(4).opt_int().map(Timestamp::from_unix),
        revoked_at: take(5).opt_int().map(Timestamp::from_unix),
        site_ods: take(6).opt_text().map(str::to_owned),
        inventory_at: take(7).opt_int().map(Timestamp::from_unix),
        inventory_note: take(8).opt_text().map(str::to_owned),
        clock_offset: take(9).opt_int(),
    }
}

/// Records a one-time enrolment token by the hash of its secret (audited by its public id); an
/// agent enrolled with it places a workstation the estate does not know yet at `site`.
pub fn add_enrolment_token(
    store: &dyn Store,
    hash: &str,
    id: &str,
    expires_at: Timestamp,
    site: Option<&str>,
    change: &Change,
) -> Result<(), StoreError> {
    with_exec(store, |x| {
        if let Some(site) = site {
            if x.rows("SELECT 1 FROM sites WHERE site_ods = $1", &[site.into()])?
                .is_empty()
            {
                return Err(StoreError::Invalid(format!(
                    "no site {site} in the estate — give a site's ODS code (cardwatch export sites)"
                )));
            }
        }
        x.exec(
            "INSERT INTO enrolment_tokens (token_hash, id, created_by, created_at, expires_at, \
             site_ods) VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                hash.into(),
                id.into(),
                change.actor.as_str().into(),
                change.at.unix().into(),
                expires_at.unix().into(),
                site.into(),
            ],
        )?;
        x.audit(
            change,
            &Entry {
                action: "create",
                kind: "enrolment_token",
                key: id,
                before: None,
                after: Some(
                    serde_json::json!({ "expires_at": expires_at, "site_ods": site }).to_string(),
                ),
            },
        )
    })
}

/// Exchanges an enrolment token (by hash) for an agent with its own credential (by hash): the
/// token is spent in the same transaction, so it enrols one agent only. A token that is unknown,
/// spent or expired is refused with which.
pub fn enrol(
    store: &dyn Store,
    token_hash: &str,
    agent_id: &str,
    hostname: &str,
    version: &str,
    credential_hash: &str,
    change: &Change,
) -> Result<(), StoreError> {
    with_exec(store, |x| {
        let now = change.at.unix();
        let spent = x.exec(
            "UPDATE enrolment_tokens SET used_at = $2, agent_id = $3 WHERE token_hash = $1 \
             AND used_at IS NULL AND expires_at > $2",
            &[token_hash.into(), now.into(), agent_id.into()],
        )?;
        if spent == 0 {
            let row = x.rows(
                "SELECT used_at, expires_at FROM enrolment_tokens WHERE token_hash = $1",
                &[token_hash.into()],
            )?;
            return Err(StoreError::Invalid(match row.first() {
                None => "the enrolment token is not one this server made — ask an administrator for a new one".into(),
                Some(r) if r[0].opt_int().is_some() => "the enrolment token has been used already: each enrols one agent — ask an administrator for a new one".into(),
                Some(_) => "the enrolment token has expired — ask an administrator for a new one".into(),
            }));
        }
        x.exec(
            "INSERT INTO agents (id, hostname, credential_hash, version, enrolled_at, last_seen, \
             site_ods) VALUES ($1, $2, $3, $4, $5, $5, \
             (SELECT site_ods FROM enrolment_tokens WHERE token_hash = $6))",
            &[
                agent_id.into(),
                hostname.into(),
                credential_hash.into(),
                version.into(),
                now.into(),
                token_hash.into(),
            ],
        )?;
        x.audit(
            change,
            &Entry {
                action: "create",
                kind: "agent",
                key: agent_id,
                before: None,
                after: Some(
                    serde_json::json!({ "hostname": hostname, "version": version }).to_string(),
                ),
            },
        )
    })
}

/// Why an enrolment token (by hash) cannot enrol an agent now — unknown, spent or expired — or
/// `None` when it can. Read only: the server asks this before it looks at the rest of an
/// enrolment, so a caller without a usable token learns nothing else; [`enrol`] checks again
/// as it spends the token.
pub fn enrolment_refusal(
    store: &dyn Store,
    token_hash: &str,
    now: Timestamp,
) -> Result<Option<String>, StoreError> {
    crate::exec::with_read(store, |x| {
        let row = x.rows(
            "SELECT used_at, expires_at FROM enrolment_tokens WHERE token_hash = $1",
            &[token_hash.into()],
        )?;
        Ok(match row.first() {
            None => Some("the enrolment token is not one this server made — ask an administrator for a new one".into()),
            Some(r) if r[0].opt_int().is_some() => Some("the enrolment token has been used already: each enrols one agent — ask an administrator for a new one".into()),
            Some(r) if r[1].opt_int().is_none_or(|e| e <= now.unix()) => {
                Some("the enrolment token has expired — ask an administrator for a new one".into())
            }
            Some(_) => None,
        })
    })
}

/// The live agent holding a credential (by hash), read only (nothing marked seen); `None` for
/// an unknown or revoked credential.
pub fn live_agent(store: &dyn Store, credential_hash: &str) -> Result<Option<Agent>, StoreError> {
    crate::exec::with_read(store, |x| {
        Ok(x.rows(
            &format!(
                "SELECT {COLUMNS} FROM agents WHERE credential_hash = $1 AND revoked_at IS NULL"
            ),
            &[credential_hash.into()],
        )?
        .into_iter()
        .next()
        .map(agent))
    })
}

/// How stale an agent's `last_seen` may get before a request writes it again: a busy agent
/// sends many batches a minute, and a write for each would make the store's one writer the
/// ingest's limit.
const SEEN_TO_SECONDS: i64 = 60;

/// The live agent holding a credential (by hash), marked seen now (to the minute) with the
/// version it reports; `None` for an unknown or revoked credential.
pub fn agent_seen(
    store: &dyn Store,
    credential_hash: &str,
    version: &str,
    now: Timestamp,
) -> Result<Option<Agent>, StoreError> {
    with_exec(store, |x| {
        let Some(mut a) = x
            .rows(
                &format!(
                    "SELECT {COLUMNS} FROM agents WHERE credential_hash = $1 AND revoked_at IS NULL"
                ),
                &[credential_hash.into()],
            )?
            .into_iter()
            .next()
            .map(agent)
        else {
            return Ok(None);
        };
        let stale = a
            .last_seen
            .is_none_or(|t| now.unix() - t.unix() >= SEEN_TO_SECONDS);
        if stale || a.version != version {
            x.exec(
                "UPDATE agents SET last_seen = $2, version = $3 WHERE id = $1",
                &[a.id.as_str().into(), now.unix().into(), version.into()],
            )?;
            a.last_seen = Some(now);
            a.version = version.to_owned();
        }
        Ok(Some(a))
    })
}

/// Where a page of the agents' list starts: the agent enrolled at `enrolled_at` (Unix seconds)
/// with id `id`, and the page is the agents after it in the list's order or, `before`, those
/// before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentsFrom {
    /// The agents before this one (the previous page); otherwise those after it.
    pub before: bool,
    /// Its enrolment, in Unix seconds.
    pub enrolled_at: i64,
    /// Its id.
    pub id: String,
}

/// One page of the agents' list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentsPage {
    /// The agents, newest enrolment first, then by id.
    pub agents: Vec<Agent>,
    /// Whether there are more agents beyond the page in the direction read (after its last
    /// reading forward, before its first reading back).
    pub more: bool,
    /// How many agents there are, revoked ones too.
    pub total: u64,
}

/// At most `limit` agents in the list's order (newest enrolment first, then by id) from a
/// position, or from the start without one. A keyset read through `agents_enrolled_list`
/// (migration 0024): a page deep in a national list of 333,000 agents costs what the first does.
pub fn agents_page(
    store: &dyn Store,
    from: Option<&AgentsFrom>,
    limit: usize,
) -> Result<AgentsPage, StoreError> {
    let before = from.is_some_and(|f| f.before);
    // Reading back is reading the reversed order forward. The bound on enrolled_at alone is
    // what starts the index scan at the position; the other term drops the same second's
    // agents on the wrong side of it.
    let (bound, order) = if before {
        (
            "enrolled_at >= $1 AND (enrolled_at > $1 OR id < $2)",
            "enrolled_at, id DESC",
        )
    } else {
        (
            "enrolled_at <= $1 AND (enrolled_at < $1 OR id > $2)",
            "enrolled_at DESC, id",
        )
    };
    let take = limit.min(i64::MAX as usize - 1) as i64 + 1;
    crate::exec::with_read(store, |x| {
        let mut rows = match from {
            None => x.rows(
                &format!("SELECT {COLUMNS} FROM agents ORDER BY {order} LIMIT $1"),
                &[take.into()],
            )?,
            Some(f) => x.rows(
                &format!("SELECT {COLUMNS} FROM agents WHERE {bound} ORDER BY {order} LIMIT $3"),
                &[f.enrolled_at.into(), f.id.as_str().into(), take.into()],
            )?,
        };
        let more = rows.len() > limit;
        rows.truncate(limit);
        if before {
            rows.reverse();
        }
        let total = x
            .rows("SELECT COUNT(*) FROM agents", &[])?
            .first()
            .map_or(0, |r| r[0].int());
        Ok(AgentsPage {
            agents: rows.into_iter().map(agent).collect(),
            more,
            total: u64::try_from(total).unwrap_or(0),
        })
    })
}

/// Every agent, newest first (`cardwatch agent list`; the page and the API read a page at a
/// time with [`agents_page`]).
pub fn agents(store: &dyn Store) -> Result<Vec<Agent>, StoreError> {
    with_exec(store, |x| {
        Ok(x.rows(
            &format!("SELECT {COLUMNS} FROM agents ORDER BY enrolled_at DESC, id"),
            &[],
        )?
        .into_iter()
        .map(agent)
        .collect())
    })
}

/// Keeps what became of an agent's latest inventory (made at `at`) on its record.
pub fn note_inventory(
    store: &dyn Store,
    agent_id: &str,
    at: Timestamp,
    said: &str,
) -> Result<(), StoreError> {
    with_exec(store, |x| {
        x.exec(
            "UPDATE agents SET inventory_at = $2, inventory_note = $3 WHERE id = $1",
            &[agent_id.into(), at.unix().into(), said.into()],
        )
        .map(drop)
    })
}

/// Revokes an agent (audited): its credential is refused from now on.
pub fn revoke_agent(store: &dyn Store, id: &str, change: &Change) -> Result<(), StoreError> {
    with_exec(store, |x| {
        let done = x.exec(
            "UPDATE agents SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            &[id.into(), change.at.unix().into()],
        )?;
        if done == 0 {
            return Err(StoreError::NotFound(format!(
                "no live agent {id} — `cardwatch agent list` shows them"
            )));
        }
        x.audit(
            change,
            &Entry {
                action: "revoke",
                kind: "agent",
                key: id,
                before: None,
                after: None,
            },
        )
    })
}

/// One event an agent reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AgentEvent {
    /// Unique per agent: a retry sends the same id.
    pub id: String,
    /// When it happened on the workstation.
    pub at: Timestamp,
    /// What happened (`card_inserted`, `reader_detached`, `diagnosis`, …).
    pub kind: String,
    /// Its details.
    pub data: serde_json::Value,
}

/// Events per INSERT: many rows a statement (one round trip to PostgreSQL for each chunk, not
/// each event), few enough parameters for either backend.
const EVENTS_PER_INSERT: usize = 250;

/// Records a batch of an agent's events, each at most once: (new, already recorded).
pub fn record_events(
    store: &dyn Store,
    agent_id: &str,
    events: &[AgentEvent],
    now: Timestamp,
) -> Result<(usize, usize), StoreError> {
    let data: Vec<String> = events.iter().map(|e| e.data.to_string()).collect();
    with_exec(store, |x| {
        let mut new = 0;
        for (chunk, data) in events
            .chunks(EVENTS_PER_INSERT)
            .zip(data.chunks(EVENTS_PER_INSERT))
        {
            let mut sql = String::from(
                "INSERT INTO agent_events (agent_id, received_at, event_id, at, kind, data) VALUES ",
            );
            let mut params = vec![P::T(agent_id), P::I(now.unix())];
            for (i, (e, d)) in chunk.iter().zip(data).enumerate() {
                let n = 3 + 4 * i;
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "($1, $2, ${n}, ${}, ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3
                ));
                params.extend([P::T(&e.id), P::I(e.at.unix()), P::T(&e.kind), P::T(d)]);
            }
            sql.push_str(" ON CONFLICT DO NOTHING");
            new += x.exec(&sql, &params)? as usize;
        }
        Ok((new, events.len() - new))
    })
}

/// An agent's newest events.
pub fn agent_events(
    store: &dyn Store,
    agent_id: &str,
    limit: usize,
) -> Result<Vec<AgentEvent>, StoreError> {
    with_exec(store, |x| {
        Ok(x.rows(
            "SELECT event_id, at, kind, data FROM agent_events WHERE agent_id = $1 \
                 ORDER BY at DESC, event_id LIMIT $2",
            &[agent_id.into(), (limit as i64).into()],
        )?
        .into_iter()
        .map(|r| AgentEvent {
            id: r[0].text().to_owned(),
            at: Timestamp::from_unix(r[1].int()),
            kind: r[2].text().to_owned(),
            data: serde_json::from_str(r[3].text()).unwrap_or_default(),
        })
        .collect())
    })
}

/// The newest diagnosis since `since` from a live agent on `hostname`, if any (one that cannot be
/// read is passed over).
pub fn latest_diagnosis(
    store: &dyn Store,
    hostname: &str,
    since: Timestamp,
) -> Result<Option<cardwatch_core::inventory::Diagnosis>, StoreError> {
    with_exec(store, |x| {
        let rows = x.rows(
            "SELECT e.data FROM agent_events e JOIN agents a ON a.id = e.agent_id \
             WHERE a.hostname = $1 AND a.revoked_at IS NULL AND e.kind = 'diagnosis' \
             AND e.at >= $2 ORDER BY e.at DESC LIMIT 5",
            &[hostname.into(), since.unix().into()],
        )?;
        Ok(rows
            .iter()
            .find_map(|r| serde_json::from_str(r[0].text()).ok()))
    })
}

/// When a live agent on `hostname` last saw a signing self-test pass, and on which card (its
/// token label), if one ever has: the escalation packet's "last successful signing".
pub fn last_signing(
    store: &dyn Store,
    hostname: &str,
) -> Result<Option<(Timestamp, String)>, StoreError> {
    with_exec(store, |x| {
        // The events' data is compact JSON as the server stored it.
        let rows = x.rows(
            "SELECT e.at, e.data FROM agent_events e JOIN agents a ON a.id = e.agent_id \
             WHERE a.hostname = $1 AND a.revoked_at IS NULL AND e.kind = 'signing_test' \
             AND e.data LIKE '%\"passed\":true%' ORDER BY e.at DESC LIMIT 1",
            &[hostname.into()],
        )?;
        Ok(rows.first().map(|r| {
            let data: serde_json::Value = serde_json::from_str(r[1].text()).unwrap_or_default();
            let token = data["token"].as_str().unwrap_or("unnamed").to_owned();
            (Timestamp::from_unix(r[0].int()), token)
        }))
    })
}

/// Keeps an agent's latest report of its clock against the server's.
pub fn note_clock(
    store: &dyn Store,
    agent_id: &str,
    offset_seconds: i64,
    at: Timestamp,
) -> Result<(), StoreError> {
    with_exec(store, |x| {
        x.exec(
            "UPDATE agents SET clock_offset = $2, clock_at = $3 WHERE id = $1",
            &[agent_id.into(), offset_seconds.into(), at.unix().into()],
        )
        .map(drop)
    })
}

/// Each live agent's latest clock report, for the health check (newest per workstation).
pub fn clocks(store: &dyn Store) -> Result<Vec<cardwatch_core::health::ClockFacts>, StoreError> {
    crate::exec::with_read(store, |x| {
        let mut out: Vec<cardwatch_core::health::ClockFacts> = Vec::new();
        for r in x.rows(
            "SELECT hostname, clock_offset, clock_at FROM agents \
             WHERE revoked_at IS NULL AND clock_at IS NOT NULL ORDER BY clock_at DESC",
            &[],
        )? {
            // Two agents on one workstation (one re-enrolled): the newest report counts.
            if out.iter().any(|c| c.hostname == r[0].text()) {
                continue;
            }
            out.push(cardwatch_core::health::ClockFacts {
                hostname: r[0].text().to_owned(),
                offset_seconds: r[1].int(),
                at: Timestamp::from_unix(r[2].int()),
            });
        }
        Ok(out)
    })
}
