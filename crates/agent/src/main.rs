//! `cardwatch-agent`: runs on a workstation and reads its smartcard readers and cards for real.

mod collect;
mod diagnose;
mod pcsc_readers;
mod pkcs11_certs;
mod probes;
mod programs;
mod run;
mod server;
mod sign_test;
mod spool;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use cardwatch_core::reader::Firmware;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "cardwatch-agent",
    version,
    about = "Reads this workstation's smartcard readers and cards"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the agent keeps its credential and spool.
#[derive(clap::Args, Debug)]
struct StateDir {
    /// Where the agent keeps its credential and spool.
    #[arg(
        long = "state-dir",
        env = "CARDWATCH_AGENT_STATE",
        default_value = "/var/lib/cardwatch-agent"
    )]
    path: PathBuf,
}

/// Where the agent looks: the middleware's module, the probes, this workstation's name.
#[derive(clap::Args, Debug)]
struct Looks {
    /// The smartcard middleware's PKCS#11 module (default: the first known one installed).
    #[arg(long, env = "CARDWATCH_PKCS11_MODULE")]
    module: Option<PathBuf>,
    /// The probes file (default: the built-in probes).
    #[arg(long, env = "CARDWATCH_AGENT_PROBES")]
    probes: Option<PathBuf>,
    /// This workstation's name (default: the enrolled one, else the system's).
    #[arg(long)]
    hostname: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Every reader: vendor, model, firmware, whether a card is in it and its ATR.
    Readers {
        /// One JSON object: `readers`, `cards`, `warnings`.
        #[arg(long)]
        json: bool,
    },
    /// The certificates on the cards: which signs in and which signs, issuer, validity, hash.
    Certificates {
        /// The smartcard middleware's PKCS#11 module (default: the first known one installed).
        #[arg(long, env = "CARDWATCH_PKCS11_MODULE")]
        module: Option<PathBuf>,
        /// A JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Enrol with a Cardwatch server, exchanging a one-time token for this agent's credential.
    Enrol {
        /// The server, https://…
        #[arg(long)]
        server: String,
        /// The one-time enrolment token (`cardwatch agent token`).
        #[arg(long)]
        token: String,
        /// Check the server's certificate against this PEM file (its own, or its CA's).
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// This workstation's name (default: the system's host name).
        #[arg(long)]
        hostname: Option<String>,
        #[command(flatten)]
        state: StateDir,
    },
    /// The service: watch the readers and report card and reader events as they happen, the
    /// inventory when it changes and every --interval, keeping what cannot be sent in the
    /// spool. Enrols first when given --server and --enrol and not enrolled yet.
    Run {
        /// The server, https://… (with --enrol).
        #[arg(long, requires = "enrol")]
        server: Option<String>,
        /// A one-time enrolment token, used when this agent is not enrolled yet.
        #[arg(long, requires = "server")]
        enrol: Option<String>,
        /// Check the server's certificate against this PEM file.
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Seconds between inventories sent as a heartbeat.
        #[arg(long, default_value_t = 900)]
        interval: u64,
        #[command(flatten)]
        looks: Looks,
        #[command(flatten)]
        state: StateDir,
        /// The most events the spool keeps while the server is unreachable.
        #[arg(long, default_value_t = 10_000)]
        max_spool: usize,
        /// Print each event as a JSON line as it happens.
        #[arg(long)]
        print_events: bool,
    },
    /// Tell the server this agent is alive (and see the clock offset).
    Heartbeat {
        #[command(flatten)]
        state: StateDir,
    },
    /// Queue this workstation's inventory (OS, readers, cards and their certificates, smartcard
    /// software) and send everything queued,
    /// retrying with backoff; what cannot be sent waits in the spool for next time.
    Report {
        #[command(flatten)]
        state: StateDir,
        /// Tries before giving up for now.
        #[arg(long, default_value_t = 5)]
        retries: u32,
        /// The first wait between tries, in milliseconds (doubling, capped at a minute).
        #[arg(long, default_value_t = 1000)]
        backoff_ms: u64,
        /// The most events the spool keeps while the server is unreachable.
        #[arg(long, default_value_t = 10_000)]
        max_spool: usize,
        #[command(flatten)]
        looks: Looks,
    },
    /// Run the automatic checks (readers, cards and their certificates, smartcard software,
    /// Credential Management, NHS endpoints, clock) and say what they found, which triage
    /// checks they answer and what to do next; with --sign-test, sign with the card. An
    /// enrolled agent also reports the diagnosis, so a triage on this workstation uses it.
    Diagnose {
        /// The symptom: its id (`cannot-sign`) or the error text the user saw.
        #[arg(long)]
        symptom: Option<String>,
        /// Ask for the card's passcode (PIN) and sign a random challenge with its signing key, checked
        /// against its signing certificate. The PIN is never stored, logged or sent.
        #[arg(long)]
        sign_test: bool,
        /// The card to test (its token label) when more than one is inserted.
        #[arg(long)]
        token: Option<String>,
        #[command(flatten)]
        looks: Looks,
        #[command(flatten)]
        state: StateDir,
        /// One JSON object: the diagnosis, the verdicts, the facts, the packet fields.
        #[arg(long)]
        json: bool,
    },
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Readers { json } => {
            let found = pcsc_readers::readers()?;
            if json {
                println!("{}", serde_json::to_string(&found)?);
                return Ok(());
            }
            for r in &found.readers {
                let firmware = match &r.firmware {
                    Firmware::Version(v) => v.clone(),
                    Firmware::Unsupported => "not reported".to_owned(),
                };
                println!(
                    "{}: {}; firmware {firmware}{}",
                    r.name,
                    match &r.atr {
                        Some(atr) => format!("card present, ATR {atr}"),
                        None => "no card".to_owned(),
                    },
                    match (&r.vendor, &r.model) {
                        (Some(v), Some(m)) => format!("; {v} {m}"),
                        (Some(v), None) => format!("; {v}"),
                        (None, Some(m)) => format!("; {m}"),
                        (None, None) => String::new(),
                    }
                );
            }
            for w in &found.warnings {
                println!("warning: {w}");
            }
            Ok(())
        }
        Command::Certificates { module, json } => {
            let module = pkcs11_certs::module(module.as_deref())?;
            let certs = pkcs11_certs::certificates(&module)?;
            if json {
                println!("{}", serde_json::to_string(&certs)?);
                return Ok(());
            }
            if certs.is_empty() {
                println!("no certificate on any card ({})", module.display());
            }
            for c in &certs {
                println!(
                    "{} {:?}: {}, valid {} to {}, {}, issued by {}",
                    c.token,
                    c.label,
                    c.cert.purpose.as_str(),
                    c.cert.not_before,
                    c.cert.not_after,
                    c.cert.hash_algorithm,
                    c.cert.issuer
                );
            }
            Ok(())
        }
        Command::Enrol {
            server,
            token,
            ca_file,
            hostname,
            state,
        } => {
            let state_dir = state.path;
            let hostname = collect::hostname(hostname)?;
            let e = server::enrol(&server, &token, &hostname, ca_file.as_deref(), &state_dir)?;
            println!(
                "enrolled as agent {} with {}; credential kept in {}",
                e.agent_id,
                e.server,
                state_dir.join("agent.json").display()
            );
            Ok(())
        }
        Command::Run {
            server,
            enrol,
            ca_file,
            interval,
            looks,
            state,
            max_spool,
            print_events,
        } => run::run(run::Options {
            state_dir: state.path,
            enrol: server.zip(enrol),
            ca_file,
            hostname: looks.hostname,
            interval: std::time::Duration::from_secs(interval.max(1)),
            module: looks.module,
            probes: looks.probes,
            max_spool,
            print_events,
        }),
        Command::Heartbeat { state } => {
            let e = server::load(&state.path)?;
            let server_time = server::heartbeat(&e)?;
            let offset = cardwatch_core::date::Timestamp::parse(&server_time)
                .map(|t| now().unix() - t.unix())
                .map_or(String::new(), |o| format!(" (this clock is {o} s off)"));
            println!("{} answered; its time is {server_time}{offset}", e.server);
            Ok(())
        }
        Command::Report {
            state,
            retries,
            backoff_ms,
            max_spool,
            looks,
        } => {
            let enrolled = server::load(&state.path)?;
            let spool = spool::Spool::new(&state.path, max_spool);
            let now = now();
            let config = probes::Config::load(looks.probes.as_deref())?;
            let host = collect::this_host(looks.hostname, Some(&enrolled))?;
            let mut inv = collect::inventory(&host, looks.module.as_deref(), &config);
            inv.clock_offset_seconds = collect::clock_offset(&enrolled);
            let inventory = spool::event("inventory", serde_json::to_value(&inv)?, now)?;
            let dropped = spool.push(vec![inventory], now)?;
            if dropped > 0 {
                eprintln!(
                    "cardwatch-agent: the spool was full: the {dropped} oldest events were dropped"
                );
            }
            let (accepted, duplicates) = spool.send(&enrolled, retries, backoff_ms)?;
            println!("reported: {accepted} new event(s), {duplicates} the server already had");
            Ok(())
        }
        Command::Diagnose {
            symptom,
            sign_test,
            token,
            looks,
            state,
            json,
        } => {
            let (module, state_dir) = (looks.module, state.path);
            let kb = cardwatch_core::triage::KnowledgeBase::shipped();
            let catalogue = cardwatch_core::catalogue::Catalogue::shipped();
            let symptom = match symptom {
                Some(s) => Some(diagnose::symptom(&kb, &s).map_err(anyhow::Error::msg)?),
                None => None,
            };
            let config = probes::Config::load(looks.probes.as_deref())?;
            let enrolled = server::load(&state_dir).ok();
            let host = collect::this_host(looks.hostname, enrolled.as_ref())?;
            let inventory = collect::inventory(&host, module.as_deref(), &config);
            let (d, problems) = collect::diagnosis(
                symptom.map(|s| kb.symptoms[s].id.clone()),
                inventory,
                &config,
                enrolled.as_ref(),
                now(),
            );
            if json {
                println!("{}", diagnose::json(&d, &catalogue, &problems));
            } else {
                print!(
                    "{}",
                    diagnose::text(&d, &kb, &catalogue, symptom, &problems)
                );
            }
            // The self-test's outcome is an event too (never the PIN): what the card did.
            let signed = sign_test.then(
                || -> std::result::Result<sign_test::Outcome, sign_test::Failure> {
                    let module = pkcs11_certs::module(module.as_deref())
                        .map_err(sign_test::Failure::setup)?;
                    let pin = sign_test::read_pin().map_err(sign_test::Failure::setup)?;
                    sign_test::run(&module, token.as_deref(), pin)
                },
            );
            let mut events = vec![spool::event("diagnosis", serde_json::to_value(&d)?, d.at)?];
            if let Some(r) = &signed {
                let outcome = match r {
                    Ok(done) => serde_json::json!({"passed": true, "token": done.token}),
                    Err(f) => serde_json::json!({
                        "passed": false,
                        "stage": f.stage.as_str(),
                        "why": format!("{:#}", f.error),
                    }),
                };
                events.push(spool::event("signing_test", outcome, now())?);
            }
            if let Some(e) = &enrolled {
                let spool = spool::Spool::new(&state_dir, 10_000);
                spool.push(events, d.at)?;
                match spool.send(e, 1, 0) {
                    Ok(_) => {
                        eprintln!("cardwatch-agent: the diagnosis is reported to {}", e.server)
                    }
                    Err(err) => eprintln!("cardwatch-agent: {err:#}"),
                }
            }
            if let Some(r) = signed {
                let done = r.map_err(|f| f.error)?;
                println!(
                    "signing self-test passed: card {} signed a random challenge and the signature matches its signing certificate ({})",
                    done.token, done.subject
                );
            }
            Ok(())
        }
    }
}

fn now() -> cardwatch_core::date::Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    cardwatch_core::date::Timestamp::from_unix(secs)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cardwatch-agent: {e:#}");
            ExitCode::FAILURE
        }
    }
}
