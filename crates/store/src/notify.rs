//! The scheduler's runs, the outbox of messages, who is told what, and webhooks: written once
//! for both backends through [`Exec`].
//!
//! Exactly once across replicas: a run is the row `(job, slot)`, and only the replica whose
//! insert made it runs it; a row left `running` after its lease is taken over by whichever
//! replica's update finds the lease expired first. A message is the row of its idempotency key,
//! written before anything is sent and claimed under a lease for sending, so neither a second
//! replica nor a restart sends it again.

use cardwatch_core::date::Timestamp;
use cardwatch_core::health::Severity;
use cardwatch_core::notify::{Frequency, HookFormat, Message, Quiet};
use serde::Serialize;

use crate::exec::{with_exec, Entry, Exec, V};
use crate::{Change, Store, StoreError};

/// A scheduled run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JobRun {
    /// The job.
    pub job: String,
    /// The scheduled moment.
    pub slot: Timestamp,
    /// `running`, `done` or `failed`.
    pub state: String,
    /// The replica that ran it last.
    pub owner: String,
    /// Starts, counting take-overs.
    pub attempts: i64,
    /// When it (last) started.
    pub started_at: Timestamp,
    /// When it ended.
    pub ended_at: Option<Timestamp>,
    /// What it did, or why it failed.
    pub detail: Option<String>,
}

/// How a claim on a run went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This replica runs it (`attempt` 1 for a new run, more for a take-over).
    Run {
        /// Starts so far, this one included.
        attempt: i64,
    },
    /// Another replica has it, or it is finished.
    Taken,
}

/// Claims the run of `job` at `slot` for `owner`: a new row, or one whose lease has expired.
pub fn claim_run(
    store: &dyn Store,
    job: &str,
    slot: Timestamp,
    owner: &str,
    now: Timestamp,
    lease_secs: i64,
) -> Result<Claim, StoreError> {
    with_exec(store, |x| {
        let until = now.unix() + lease_secs;
        let fresh = x.exec(
            "INSERT INTO job_runs (job, slot, state, owner, attempts, lease_until, started_at) \
             VALUES ($1, $2, 'running', $3, 1, $4, $5) ON CONFLICT (job, slot) DO NOTHING",
            &[
                job.into(),
                slot.unix().into(),
                owner.into(),
                until.into(),
                now.unix().into(),
            ],
        )?;
        if fresh == 1 {
            return Ok(Claim::Run { attempt: 1 });
        }
        // The lease condition is in the update itself: of two replicas racing for an expired
        // run, the second finds the lease renewed and touches nothing.
        let taken = x.rows(
            "UPDATE job_runs SET owner = $3, attempts = attempts + 1, lease_until = $4, \
             started_at = $5 WHERE job = $1 AND slot = $2 AND state = 'running' \
             AND lease_until < $5 RETURNING attempts",
            &[
                job.into(),
                slot.unix().into(),
                owner.into(),
                until.into(),
                now.unix().into(),
            ],
        )?;
        Ok(match taken.first() {
            Some(r) => Claim::Run {
                attempt: r[0].int(),
            },
            None => Claim::Taken,
        })
    })
}

/// Runs left `running` by a replica whose lease has expired, as (job, slot), oldest first.
pub fn abandoned_runs(
    store: &dyn Store,
    now: Timestamp,
) -> Result<Vec<(String, Timestamp)>, StoreError> {
    with_exec(store, |x| {
        Ok(x.rows(
            "SELECT job, slot FROM job_runs WHERE state = 'running' AND lease_until < $1 \
             ORDER BY slot, job",
            &[now.unix().into()],
        )?
        .into_iter()
        .map(|mut r| {
            let slot = Timestamp::from_unix(r[1].int());
            (std::mem::replace(&mut r[0], V::Null).into_text(), slot)
        })
        .collect())
    })
}

/// Extends `owner`'s lease on a run; false when the run is no longer theirs.
pub fn renew_run(
    store: &dyn Store,
    job: &str,
    slot: Timestamp,
    owner: &str,
    until: Timestamp,
) -> Result<bool, StoreError> {
    with_exec(store, |x| {
        Ok(x.exec(
            "UPDATE job_runs SET lease_until = $4 WHERE job = $1 AND slot = $2 AND owner = $3 \
             AND state = 'running'",
            &[
                job.into(),
                slot.unix().into(),
                owner.into(),
                until.unix().into(),
            ],
        )? == 1)
    })
}

/// Records how `owner`'s run ended.
pub fn finish_run(
    store: &dyn Store,
    job: &str,
    slot: Timestamp,
    owner: &str,
    now: Timestamp,
    outcome: Result<&str, &str>,
) -> Result<(), StoreError> {
    let (state, detail) = match outcome {
        Ok(d) => ("done", d),
        Err(e) => ("failed", e),
    };
    with_exec(store, |x| {
        x.exec(
            "UPDATE job_runs SET state = $4, ended_at = $5, detail = $6 WHERE job = $1 \
             AND slot = $2 AND owner = $3 AND state = 'running'",
            &[
                job.into(),
                slot.unix().into(),
                owner.into(),
                state.into(),
                now.unix().into(),
                detail.into(),
            ],
        )?;
        Ok(())
    })
}

/// The newest runs, of one job or all.
pub fn job_runs(
    store: &dyn Store,
    job: Option<&str>,
    limit: usize,
) -> Result<Vec<JobRun>, StoreError> {
    with_exec(store, |x| {
        let rows = x.rows(
            "SELECT job, slot, state, owner, attempts, started_at, ended_at, detail \
             FROM job_runs WHERE (job = $1 OR $1 = '') ORDER BY slot DESC, job LIMIT $2",
            &[job.unwrap_or("").into(), (limit as i64).into()],
        )?;
        Ok(rows
            .into_iter()
            .map(|mut r| JobRun {
                job: std::mem::replace(&mut r[0], V::Null).into_text(),
                slot: Timestamp::from_unix(r[1].int()),
                state: std::mem::replace(&mut r[2], V::Null).into_text(),
                owner: std::mem::replace(&mut r[3], V::Null).into_text(),
                attempts: r[4].int(),
                started_at: Timestamp::from_unix(r[5].int()),
                ended_at: r[6].opt_int().map(Timestamp::from_unix),
                detail: r[7].opt_text().map(str::to_owned),
            })
            .collect())
    })
}

/// Records messages under their keys; a key already recorded is left as it is. The number new.
pub fn enqueue(
    store: &dyn Store,
    messages: &[Message],
    now: Timestamp,
) -> Result<usize, StoreError> {
    with_exec(store, |x| {
        let mut new = 0;
        for m in messages {
            new += x.exec(
                "INSERT INTO outbox (key, channel, recipient, subject, body_text, body_html, \
                 state, attempts, next_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, \
                 'pending', 0, $7, $8) ON CONFLICT (key) DO NOTHING",
                &[
                    m.key.as_str().into(),
                    m.channel.as_str().into(),
                    m.recipient.as_str().into(),
                    m.subject.as_str().into(),
                    m.text.as_str().into(),
                    m.html.as_str().into(),
                    m.not_before.unix().into(),
                    now.unix().into(),
                ],
            )? as usize;
        }
        Ok(new)
    })
}

/// A message in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outgoing {
    /// Its row.
    pub id: i64,
    /// Its idempotency key.
    pub key: String,
    /// `email` or `webhook`.
    pub channel: String,
    /// Address or webhook name.
    pub recipient: String,
    /// Subject.
    pub subject: String,
    /// Plain text or JSON body.
    pub text: String,
    /// HTML body.
    pub html: String,
    /// `pending`, `sending`, `sent` or `failed`.
    pub state: String,
    /// Tries so far.
    pub attempts: i64,
    /// Recorded.
    pub created_at: Timestamp,
    /// Sent.
    pub sent_at: Option<Timestamp>,
    /// The last failure.
    pub last_error: Option<String>,
}

const OUTGOING: &str = "id, key, channel, recipient, subject, body_text, body_html, state, \
    attempts, created_at, sent_at, last_error";

fn outgoing(mut r: Vec<V>) -> Outgoing {
    let mut take = |i: usize| std::mem::replace(&mut r[i], V::Null);
    Outgoing {
        id: take(0).int(),
        key: take(1).into_text(),
        channel: take(2).into_text(),
        recipient: take(3).into_text(),
        subject: take(4).into_text(),
        text: take(5).into_text(),
        html: take(6).into_text(),
        state: take(7).into_text(),
        attempts: take(8).int(),
        created_at: Timestamp::from_unix(take(9).int()),
        sent_at: take(10).opt_int().map(Timestamp::from_unix),
        last_error: take(11).opt_text().map(str::to_owned),
    }
}

/// Claims up to `limit` messages due for sending (or left `sending` by a replica whose lease
/// expired) for `owner`; emails only when `email` (a relay is configured).
pub fn claim_due(
    store: &dyn Store,
    owner: &str,
    now: Timestamp,
    lease_secs: i64,
    limit: usize,
    email: bool,
) -> Result<Vec<Outgoing>, StoreError> {
    with_exec(store, |x| {
        let channel = "(channel <> 'email' OR CAST($2 AS BIGINT) = 1)";
        let cut = [
            now.unix().into(),
            i64::from(email).into(),
            (limit as i64).into(),
        ];
        // Messages a dead sender left, then the due ones oldest first: each query walks the
        // (state, next_at) index, so a claim costs the same with a million messages waiting.
        // Two senders may pick the same message; the one that loses looks again (each statement
        // sees what the other has committed), so an empty answer always means nothing is due.
        for _ in 0..1000 {
            let mut ids: Vec<i64> = x
                .rows(
                    &format!(
                        "SELECT id FROM outbox WHERE state = 'sending' AND lease_until < $1 \
                         AND {channel} ORDER BY id LIMIT $3"
                    ),
                    &cut,
                )?
                .iter()
                .map(|r| r[0].int())
                .collect();
            if ids.len() < limit {
                ids.extend(
                    x.rows(
                        &format!(
                            "SELECT id FROM outbox WHERE state = 'pending' AND next_at <= $1 \
                             AND {channel} ORDER BY next_at, id LIMIT $3"
                        ),
                        &cut,
                    )?
                    .iter()
                    .map(|r| r[0].int())
                    .take(limit - ids.len()),
                );
            }
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                // The due condition again, on the row itself: PostgreSQL re-checks it after
                // waiting for another sender's claim, so no message is claimed twice.
                let row = x.rows(
                    &format!(
                        "UPDATE outbox SET state = 'sending', owner = $2, lease_until = $3, \
                         attempts = attempts + 1 WHERE id = $1 AND ((state = 'pending' \
                         AND next_at <= $4) OR (state = 'sending' AND lease_until < $4)) \
                         RETURNING {OUTGOING}"
                    ),
                    &[
                        id.into(),
                        owner.into(),
                        (now.unix() + lease_secs).into(),
                        now.unix().into(),
                    ],
                )?;
                out.extend(row.into_iter().map(outgoing));
            }
            if !out.is_empty() {
                return Ok(out);
            }
        }
        Err(StoreError::Database(
            "could not claim a message after 1000 tries: other senders took each one".into(),
        ))
    })
}

/// Marks a claimed message sent.
pub fn mark_sent(
    store: &dyn Store,
    id: i64,
    owner: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    with_exec(store, |x| {
        x.exec(
            "UPDATE outbox SET state = 'sent', sent_at = $3, last_error = NULL WHERE id = $1 \
             AND owner = $2",
            &[id.into(), owner.into(), now.unix().into()],
        )?;
        Ok(())
    })
}

/// Records a failed try: retried at `retry_at`, or failed for good when `None`.
pub fn mark_failed(
    store: &dyn Store,
    id: i64,
    owner: &str,
    error: &str,
    retry_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    with_exec(store, |x| {
        match retry_at {
            Some(t) => x.exec(
                "UPDATE outbox SET state = 'pending', next_at = $3, last_error = $4 \
                 WHERE id = $1 AND owner = $2",
                &[id.into(), owner.into(), t.unix().into(), error.into()],
            )?,
            None => x.exec(
                "UPDATE outbox SET state = 'failed', last_error = $3 WHERE id = $1 AND owner = $2",
                &[id.into(), owner.into(), error.into()],
            )?,
        };
        Ok(())
    })
}

/// The newest messages, optionally of one state.
pub fn outbox(
    store: &dyn Store,
    state: Option<&str>,
    limit: usize,
) -> Result<Vec<Outgoing>, StoreError> {
    with_exec(store, |x| {
        Ok(x.rows(
            &format!(
                "SELECT {OUTGOING} FROM outbox WHERE (state = $1 OR $1 = '') \
                     ORDER BY id DESC LIMIT $2"
            ),
            &[state.unwrap_or("").into(), (limit as i64).into()],
        )?
        .into_iter()
        .map(outgoing)
        .collect())
    })
}

/// Messages by state.
pub fn outbox_counts(store: &dyn Store) -> Result<Vec<(String, i64)>, StoreError> {
    with_exec(store, |x| {
        Ok(x.rows(
            "SELECT state, COUNT(*) FROM outbox GROUP BY state ORDER BY state",
            &[],
        )?
        .into_iter()
        .map(|mut r| {
            (
                std::mem::replace(&mut r[0], V::Null).into_text(),
                r[1].int(),
            )
        })
        .collect())
    })
}

/// An operator's notification preferences.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Prefs {
    /// The operator.
    pub username: String,
    /// Where their digests go.
    pub email: String,
    /// How often.
    pub frequency: Frequency,
    /// The least severe finding they want.
    pub min_severity: Severity,
    /// When not to deliver.
    #[serde(serialize_with = "quiet_text")]
    pub quiet: Option<Quiet>,
}

fn quiet_text<S: serde::Serializer>(q: &Option<Quiet>, s: S) -> Result<S::Ok, S::Error> {
    match q {
        Some(q) => s.serialize_str(&q.to_string()),
        None => s.serialize_none(),
    }
}

/// Preferences and what the digest needs of them.
#[derive(Clone, Debug)]
pub struct Subscriber {
    /// The preferences.
    pub prefs: Prefs,
    /// The unsubscribe link's secret.
    pub unsubscribe: String,
    /// Finding ids in the last digest sent.
    pub last_digest: Vec<String>,
}

fn prefs_json(p: &Prefs) -> String {
    serde_json::to_string(p).unwrap_or_default()
}

/// Sets an operator's preferences (audited); a new subscriber gets `unsubscribe` as the secret
/// of their link, an existing one keeps theirs.
pub fn set_prefs(
    store: &dyn Store,
    p: &Prefs,
    unsubscribe: &str,
    change: &Change,
) -> Result<(), StoreError> {
    with_exec(store, |x| {
        let before = read_subscribers(x, Which::Named(&p.username))?.pop();
        let quiet = p.quiet.map(|q| q.to_string());
        x.exec(
            "INSERT INTO notify_prefs (username, email, frequency, min_severity, quiet, \
             unsubscribe, last_digest) VALUES ($1, $2, $3, $4, $5, $6, '') \
             ON CONFLICT (username) DO UPDATE SET email = $2, frequency = $3, \
             min_severity = $4, quiet = $5",
            &[
                p.username.as_str().into(),
                p.email.as_str().into(),
                p.frequency.as_str().into(),
                p.min_severity.as_str().into(),
                quiet.as_deref().into(),
                unsubscribe.into(),
            ],
        )
        .map_err(|e| match e {
            StoreError::Database(m) if m.contains("foreign key") || m.contains("FOREIGN KEY") => {
                StoreError::NotFound(format!(
                    "no operator {} — add them first with `cardwatch user add`",
                    p.username
                ))
            }
            e => e,
        })?;
        x.audit(
            change,
            &Entry {
                action: if before.is_some() { "update" } else { "create" },
                kind: "notify_prefs",
                key: &p.username,
                before: before.map(|b| prefs_json(&b.prefs)),
                after: Some(prefs_json(p)),
            },
        )
    })
}

/// Which subscribers to read.
#[derive(Clone, Copy)]
enum Which<'a> {
    All,
    Named(&'a str),
    Secret(&'a str),
}

fn read_subscribers(x: &mut dyn Exec, which: Which<'_>) -> Result<Vec<Subscriber>, StoreError> {
    let (filter, value) = match which {
        Which::All => ("", None),
        Which::Named(n) => ("WHERE username = $1", Some(n)),
        Which::Secret(s) => ("WHERE unsubscribe = $1", Some(s)),
    };
    let rows = x.rows(
        &format!(
            "SELECT username, email, frequency, min_severity, quiet, unsubscribe, last_digest \
             FROM notify_prefs {filter} ORDER BY username"
        ),
        &value.map(|v| vec![v.into()]).unwrap_or_default(),
    )?;
    rows.into_iter()
        .map(|r| {
            let bad =
                |e: String| StoreError::Database(format!("notify_prefs {}: {e}", r[0].text()));
            Ok(Subscriber {
                prefs: Prefs {
                    username: r[0].text().to_owned(),
                    email: r[1].text().to_owned(),
                    frequency: Frequency::parse(r[2].text()).map_err(bad)?,
                    min_severity: Severity::parse(r[3].text()).map_err(bad)?,
                    quiet: r[4].opt_text().map(Quiet::parse).transpose().map_err(bad)?,
                },
                unsubscribe: r[5].text().to_owned(),
                last_digest: r[6].text().split_whitespace().map(str::to_owned).collect(),
            })
        })
        .collect()
}

/// Every operator's preferences.
pub fn subscribers(store: &dyn Store) -> Result<Vec<Subscriber>, StoreError> {
    with_exec(store, |x| read_subscribers(x, Which::All))
}

/// One operator's preferences, if they have any.
pub fn subscriber(store: &dyn Store, username: &str) -> Result<Option<Subscriber>, StoreError> {
    with_exec(store, |x| {
        Ok(read_subscribers(x, Which::Named(username))?.pop())
    })
}

/// The holder of an unsubscribe secret, if any.
pub fn subscriber_by_secret(
    store: &dyn Store,
    secret: &str,
) -> Result<Option<Subscriber>, StoreError> {
    with_exec(store, |x| {
        Ok(read_subscribers(x, Which::Secret(secret))?.pop())
    })
}

/// Remembers the findings each digest covered, so the next can say what is new: one
/// transaction for every operator of a run.
pub fn set_last_digests(
    store: &dyn Store,
    covered: &[(String, Vec<String>)],
) -> Result<(), StoreError> {
    with_exec(store, |x| {
        for (username, ids) in covered {
            x.exec(
                "UPDATE notify_prefs SET last_digest = $2 WHERE username = $1",
                &[username.as_str().into(), ids.join(" ").as_str().into()],
            )?;
        }
        Ok(())
    })
}

/// Turns the digest off for the holder of an unsubscribe secret (audited); their user name, or
/// `None` for an unknown secret.
pub fn unsubscribe(
    store: &dyn Store,
    secret: &str,
    change: &Change,
) -> Result<Option<String>, StoreError> {
    with_exec(store, |x| {
        let Some(before) = read_subscribers(x, Which::Secret(secret))?.pop() else {
            return Ok(None);
        };
        let name = before.prefs.username.clone();
        x.exec(
            "UPDATE notify_prefs SET frequency = 'off' WHERE username = $1",
            &[name.as_str().into()],
        )?;
        let after = read_subscribers(x, Which::Named(&name))?.pop();
        x.audit(
            &Change {
                actor: format!("unsubscribe:{name}"),
                at: change.at,
            },
            &Entry {
                action: "update",
                kind: "notify_prefs",
                key: &name,
                before: Some(prefs_json(&before.prefs)),
                after: after.map(|a| prefs_json(&a.prefs)),
            },
        )?;
        Ok(Some(name))
    })
}

/// A webhook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Webhook {
    /// Its name (the recipient of its messages).
    pub name: String,
    /// Where it posts.
    pub url: String,
    /// The receiver's shape.
    pub format: HookFormat,
    /// The HMAC key; never shown after it is made.
    #[serde(skip)]
    pub secret: String,
    /// The least severe finding it carries.
    pub min_severity: Severity,
}

/// Adds or replaces a webhook (audited; the secret is never in the audit record).
pub fn put_webhook(store: &dyn Store, w: &Webhook, change: &Change) -> Result<(), StoreError> {
    with_exec(store, |x| {
        let before = read_webhooks(x, Some(&w.name))?.pop();
        x.exec(
            "INSERT INTO webhooks (name, url, format, secret, min_severity, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET url = $2, \
             format = $3, secret = $4, min_severity = $5",
            &[
                w.name.as_str().into(),
                w.url.as_str().into(),
                w.format.as_str().into(),
                w.secret.as_str().into(),
                w.min_severity.as_str().into(),
                change.at.unix().into(),
            ],
        )?;
        x.audit(
            change,
            &Entry {
                action: if before.is_some() { "update" } else { "create" },
                kind: "webhook",
                key: &w.name,
                before: before.map(|b| serde_json::to_string(&b).unwrap_or_default()),
                after: Some(serde_json::to_string(w).unwrap_or_default()),
            },
        )
    })
}

/// Removes a webhook (audited).
pub fn remove_webhook(store: &dyn Store, name: &str, change: &Change) -> Result<(), StoreError> {
    with_exec(store, |x| {
        let Some(before) = read_webhooks(x, Some(name))?.pop() else {
            return Err(StoreError::NotFound(format!(
                "no webhook {name:?} — `cardwatch webhook list` shows them"
            )));
        };
        x.exec("DELETE FROM webhooks WHERE name = $1", &[name.into()])?;
        x.audit(
            change,
            &Entry {
                action: "delete",
                kind: "webhook",
                key: name,
                before: Some(serde_json::to_string(&before).unwrap_or_default()),
                after: None,
            },
        )
    })
}

fn read_webhooks(x: &mut dyn Exec, one: Option<&str>) -> Result<Vec<Webhook>, StoreError> {
    x.rows(
        "SELECT name, url, format, secret, min_severity FROM webhooks \
         WHERE (name = $1 OR $1 = '') ORDER BY name",
        &[one.unwrap_or("").into()],
    )?
    .into_iter()
    .map(|r| {
        let bad = |e: String| StoreError::Database(format!("webhook {}: {e}", r[0].text()));
        Ok(Webhook {
            name: r[0].text().to_owned(),
            url: r[1].text().to_owned(),
            format: HookFormat::parse(r[2].text()).map_err(bad)?,
            secret: r[3].text().to_owned(),
            min_severity: Severity::parse(r[4].text()).map_err(bad)?,
        })
    })
    .collect()
}

/// Every webhook.
pub fn webhooks(store: &dyn Store) -> Result<Vec<Webhook>, StoreError> {
    with_exec(store, |x| read_webhooks(x, None))
}

/// Deletes sent messages and finished runs older than `before`; how many of each.
pub fn purge(store: &dyn Store, before: Timestamp) -> Result<(u64, u64), StoreError> {
    with_exec(store, |x| {
        let sent = x.exec(
            "DELETE FROM outbox WHERE state = 'sent' AND sent_at < $1",
            &[before.unix().into()],
        )?;
        let runs = x.exec(
            "DELETE FROM job_runs WHERE state <> 'running' AND slot < $1",
            &[before.unix().into()],
        )?;
        Ok((sent, runs))
    })
}
