//! `cardwatch jobs`, `cardwatch notify` and `cardwatch webhook`: the scheduler's runs and the
//! outbox, who is told what, and checking a relay or a webhook by sending to it.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{anyhow, Result};
use cardwatch_core::health::Severity;
use cardwatch_core::notify::{hook_body, Frequency, HookFormat, Quiet};
use cardwatch_server::notify::jobs::{self, Job};
use cardwatch_server::Checks;
use cardwatch_store::notify::{self as store, Outgoing, Prefs, Webhook};
use cardwatch_store::{Store, StoreError};
use clap::Subcommand;

use crate::{change, now, Exit};

/// `cardwatch jobs …`
#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// The newest runs, and the outbox by state (default).
    List {
        /// Only this job's runs.
        #[arg(long)]
        job: Option<String>,
        /// How many runs.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// One JSON object: `runs`, `outbox`, `failed`.
        #[arg(long)]
        json: bool,
    },
    /// Run a job now, as the scheduler would (exactly once even beside running servers).
    Run {
        /// findings, digest, reminders, stock, deliver or purge.
        job: String,
    },
    /// The jobs and their schedules.
    Schedule,
}

/// `cardwatch notify …`
#[derive(Subcommand, Debug)]
pub enum NotifyCommand {
    /// Send a test message now, to check the configuration.
    Test {
        /// An address to email.
        #[arg(long, conflicts_with = "webhook", required_unless_present = "webhook")]
        email: Option<String>,
        /// A webhook to post to: its name (as `cardwatch webhook list` shows) or an address.
        #[arg(long)]
        webhook: Option<String>,
    },
    /// Set an operator's digest: where, how often, how serious, and quiet hours.
    Prefs {
        /// The operator's user name.
        username: String,
        /// Where the digests go.
        #[arg(long)]
        email: String,
        /// daily, weekly or off.
        #[arg(long, default_value = "daily")]
        frequency: String,
        /// The least severe finding to include (info, warning, urgent, critical).
        #[arg(long, default_value = "urgent")]
        min_severity: String,
        /// No delivery in these hours, UK time (e.g. 20:00-07:00).
        #[arg(long)]
        quiet: Option<String>,
    },
    /// Every operator's digest settings.
    List,
}

/// `cardwatch webhook …`
#[derive(Subcommand, Debug)]
pub enum WebhookCommand {
    /// Add (or replace) a webhook; its signing secret is printed once.
    Add {
        /// A short name.
        name: String,
        /// Where to post (https:// for anything beyond this machine).
        #[arg(long)]
        url: String,
        /// json, teams or slack.
        #[arg(long, default_value = "json")]
        format: String,
        /// The least severe finding to carry.
        #[arg(long, default_value = "urgent")]
        min_severity: String,
        /// The signing secret (default: a random one, printed).
        #[arg(long)]
        secret: Option<String>,
    },
    /// The webhooks.
    List,
    /// Remove a webhook.
    Remove {
        /// Its name.
        name: String,
    },
}

fn refuse(message: impl std::fmt::Display) -> anyhow::Error {
    eprintln!("cardwatch: {message}");
    Exit(2).into()
}

fn store_refused(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Invalid(m) | StoreError::NotFound(m) => refuse(m),
        other => other.into(),
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> Result<T> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f))
}

/// `cardwatch jobs`.
pub fn jobs(store: Arc<dyn Store>, checks: Checks, command: Option<JobsCommand>) -> Result<()> {
    match command.unwrap_or(JobsCommand::List {
        job: None,
        limit: 20,
        json: false,
    }) {
        JobsCommand::List { job, limit, json } => {
            if let Some(j) = &job {
                Job::parse(j).map_err(refuse)?;
            }
            let runs = store::job_runs(&*store, job.as_deref(), limit)?;
            let counts = store::outbox_counts(&*store)?;
            let failed = store::outbox(&*store, Some("failed"), 20)?;
            if json {
                let counts: HashMap<_, _> = counts.into_iter().collect();
                let failed: Vec<_> = failed.iter().map(outgoing_json).collect();
                outln!(
                    "{}",
                    serde_json::json!({"runs": runs, "outbox": counts, "failed": failed})
                );
                return Ok(());
            }
            outln!(
                "{:<10} {:<20} {:<8} {:>3}  {:<28} detail",
                "job",
                "slot",
                "state",
                "try",
                "owner"
            );
            for r in &runs {
                outln!(
                    "{:<10} {:<20} {:<8} {:>3}  {:<28} {}",
                    r.job,
                    r.slot.to_string(),
                    r.state,
                    r.attempts,
                    r.owner,
                    r.detail.as_deref().unwrap_or("")
                );
            }
            let c: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
            outln!(
                "\noutbox: {}",
                if c.is_empty() {
                    "empty".to_owned()
                } else {
                    c.join(", ")
                }
            );
            for f in &failed {
                outln!(
                    "failed: {} to {} after {} tries: {}",
                    f.key,
                    f.recipient,
                    f.attempts,
                    f.last_error.as_deref().unwrap_or("")
                );
            }
            Ok(())
        }
        JobsCommand::Run { job } => {
            let job = Job::parse(&job).map_err(refuse)?;
            // The store outlives the runtime: a PostgreSQL connection must not be closed on
            // one of its threads.
            let outcome = block_on(jobs::run_now(store.clone(), now, checks, job))?;
            drop(store);
            match outcome {
                Ok(detail) => {
                    outln!("{}: {detail}", job.name());
                    Ok(())
                }
                Err(e) => Err(anyhow!("{} failed: {e}", job.name())),
            }
        }
        JobsCommand::Schedule => {
            for j in Job::ALL {
                let s = checks.notify.schedule_text(*j);
                outln!("{:<10} {:<18} {}", j.name(), s, j.about());
            }
            Ok(())
        }
    }
}

fn outgoing_json(o: &Outgoing) -> serde_json::Value {
    serde_json::json!({
        "key": o.key, "channel": o.channel, "recipient": o.recipient, "subject": o.subject,
        "state": o.state, "attempts": o.attempts, "last_error": o.last_error,
    })
}

/// `cardwatch notify`.
pub fn notify(store: &dyn Store, checks: &Checks, command: NotifyCommand) -> Result<()> {
    match command {
        NotifyCommand::Test { email, webhook } => {
            let at = now();
            let mut hooks: HashMap<String, Webhook> = store::webhooks(store)?
                .into_iter()
                .map(|h| (h.name.clone(), h))
                .collect();
            let body = "This is a test from Cardwatch: if you can read it, messages reach you.";
            let m = match (&email, &webhook) {
                (Some(addr), _) => Outgoing {
                    id: 0,
                    key: format!("test:{}:{addr}", at.unix()),
                    channel: "email".into(),
                    recipient: addr.clone(),
                    subject: "Cardwatch test message".into(),
                    text: format!("{body}\n"),
                    html: format!(
                        "<!doctype html><html lang=\"en\"><body><p>{body}</p></body></html>"
                    ),
                    state: "pending".into(),
                    attempts: 0,
                    created_at: at,
                    sent_at: None,
                    last_error: None,
                },
                (None, Some(name)) => {
                    // An address not yet added as a webhook gets a generic JSON body, signed
                    // with an empty secret.
                    if name.starts_with("https://") || name.starts_with("http://") {
                        hooks.entry(name.clone()).or_insert_with(|| Webhook {
                            name: name.clone(),
                            url: name.clone(),
                            format: HookFormat::Json,
                            secret: String::new(),
                            min_severity: Severity::Info,
                        });
                    }
                    let hook = hooks.get(name).ok_or_else(|| {
                        refuse(format!(
                            "no webhook {name:?} — give a name `cardwatch webhook list` shows, or an https:// address"
                        ))
                    })?;
                    Outgoing {
                        id: 0,
                        key: format!("test:{}:{name}", at.unix()),
                        channel: "webhook".into(),
                        recipient: name.clone(),
                        subject: "Cardwatch test".into(),
                        text: hook_body(
                            hook.format,
                            "test",
                            "Cardwatch test",
                            &[body.to_owned()],
                            &checks.notify.public_url,
                        ),
                        html: String::new(),
                        state: "pending".into(),
                        attempts: 0,
                        created_at: at,
                        sent_at: None,
                        last_error: None,
                    }
                }
                (None, None) => return Err(refuse("give --email ADDRESS or --webhook NAME")),
            };
            let mut transport = None;
            jobs::send_one(&checks.notify, &hooks, &mut transport, &m, at.unix())
                .map_err(|e| anyhow!("the test message was not sent: {e}"))?;
            outln!("sent a test message to {}", m.recipient);
            Ok(())
        }
        NotifyCommand::Prefs {
            username,
            email,
            frequency,
            min_severity,
            quiet,
        } => {
            if cardwatch_core::ids::Email::parse(&email).is_err() {
                return Err(refuse(format!("--email {email:?} is not an email address")));
            }
            let prefs = Prefs {
                username,
                email,
                frequency: Frequency::parse(&frequency).map_err(refuse)?,
                min_severity: Severity::parse(&min_severity)
                    .map_err(|e| refuse(format!("--min-severity: {e}")))?,
                quiet: quiet
                    .as_deref()
                    .map(Quiet::parse)
                    .transpose()
                    .map_err(refuse)?,
            };
            let secret = cardwatch_server::web::auth::new_token_secret()?;
            store::set_prefs(store, &prefs, &secret, &change()).map_err(store_refused)?;
            outln!(
                "{}: {} digest of {} and above to {}{}",
                prefs.username,
                prefs.frequency.as_str(),
                prefs.min_severity,
                prefs.email,
                prefs
                    .quiet
                    .map_or(String::new(), |q| format!(", quiet {q}"))
            );
            Ok(())
        }
        NotifyCommand::List => {
            for s in store::subscribers(store)? {
                let p = &s.prefs;
                outln!(
                    "{:<24} {:<32} {:<7} {:<9} {}",
                    p.username,
                    p.email,
                    p.frequency.as_str(),
                    p.min_severity,
                    p.quiet.map_or(String::new(), |q| q.to_string())
                );
            }
            Ok(())
        }
    }
}

/// `cardwatch webhook`.
pub fn webhook(store: &dyn Store, command: WebhookCommand) -> Result<()> {
    match command {
        WebhookCommand::Add {
            name,
            url,
            format,
            min_severity,
            secret,
        } => {
            let name = name.trim().to_owned();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(refuse(format!(
                    "webhook name {name:?}: use letters, digits, '-', '_' or '.'"
                )));
            }
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(refuse(format!(
                    "--url {url:?} must start with https:// or http://"
                )));
            }
            let generated = secret.is_none();
            let hook = Webhook {
                name,
                url,
                format: HookFormat::parse(&format).map_err(refuse)?,
                secret: match secret {
                    Some(s) => s,
                    None => cardwatch_server::web::auth::new_token_secret()?,
                },
                min_severity: Severity::parse(&min_severity)
                    .map_err(|e| refuse(format!("--min-severity: {e}")))?,
            };
            store::put_webhook(store, &hook, &change()).map_err(store_refused)?;
            outln!(
                "webhook {} posts {} to {}",
                hook.name,
                hook.format.as_str(),
                hook.url
            );
            if generated {
                outln!(
                    "signing secret (shown once; the receiver checks X-Cardwatch-Signature with it): {}",
                    hook.secret
                );
            }
            Ok(())
        }
        WebhookCommand::List => {
            for h in store::webhooks(store)? {
                outln!(
                    "{:<16} {:<6} {:<9} {}",
                    h.name,
                    h.format.as_str(),
                    h.min_severity,
                    h.url
                );
            }
            Ok(())
        }
        WebhookCommand::Remove { name } => {
            store::remove_webhook(store, &name, &change()).map_err(store_refused)?;
            outln!("webhook {name} removed");
            Ok(())
        }
    }
}
