//! `cardwatch`: serve the estate, import and export it, make a demo estate, check the audit chain,
//! change a card's status, run the health checks and act on their findings.
//!
//! Exit status: 0 done; 1 failed (bad arguments, database unreachable); 2 input refused (an import
//! with bad rows, an illegal status change, a bad catalogue override); 3 the audit chain is
//! broken; 4 `check --fail-on` found an open finding at or above that severity.

/// `println!` for the CLI's output: ends quietly when the reader closed the pipe (see `output`).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

/// `print!` for the CLI's output: ends quietly when the reader closed the pipe (see `output`).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::text(format_args!($($arg)*))
    };
}

mod output;

mod agents;
mod certs;
mod checks;
mod clock;
mod config;
mod demo;
mod logging;
mod migration;
mod notify;
mod plan;
mod tls;
mod triage;
mod users;

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use cardwatch_core::audit::Anchor;
use cardwatch_core::card_status::CardStatus;
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::demo::DemoConfig;
use cardwatch_core::health::{Family, Filter, NoteState, Severity};
use cardwatch_core::ids::CardSerial;
use cardwatch_core::records::Kind;
use cardwatch_core::triage::{Case, SimConfig};
use cardwatch_store::{
    AuditVerdict, Change, Format, ImportInput, ImportOptions, ImportReport, Progress, Store,
    StoreError,
};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "cardwatch",
    version,
    about = "Keeps an NHS smartcard estate working"
)]
struct Cli {
    /// Where the estate is kept: a file path or sqlite://PATH (embedded SQLite), or
    /// postgres://USER@HOST/DB. Default: cardwatch.sqlite (cardwatch-demo.sqlite for
    /// `serve --demo`).
    #[arg(long, global = true, env = "CARDWATCH_DATABASE_URL")]
    database_url: Option<String>,

    /// A configuration file (TOML): `catalogue = "FILE"`, and `[health]` limits.
    #[arg(long, global = true, env = "CARDWATCH_CONFIG")]
    config: Option<PathBuf>,

    /// An operator's catalogue (TOML), laid over the shipped one.
    #[arg(long, global = true, env = "CARDWATCH_CATALOGUE")]
    catalogue: Option<PathBuf>,

    /// A folder of triage knowledge-base files (*.toml), laid over the shipped ones by id.
    #[arg(long, global = true, env = "CARDWATCH_TRIAGE_KB")]
    triage_kb: Option<PathBuf>,

    /// Run as though the clock read this when the command started (a date, or a date and time
    /// in UTC), then moves on in real time: for rehearsing a day ahead, and for tests that build
    /// an estate for a fixed day. Default: the system clock.
    #[arg(long, global = true, env = "CARDWATCH_NOW", value_parser = parse_timestamp)]
    now: Option<Timestamp>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the web pages, health and metrics.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
        /// Fill an embedded SQLite file with a demo estate first (when no --database-url is
        /// given, cardwatch-demo.sqlite).
        #[arg(long)]
        demo: bool,
        /// Practices in the demo estate.
        #[arg(long, default_value_t = 25)]
        practices: u32,
        /// Serve HTTPS with this PEM certificate chain (with --tls-key).
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's PEM private key.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Import CSV (or JSON) files: all of them, or — if any row is bad — none.
    Import {
        /// The files; each file's kind comes from its header.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Read every file as this kind (organisations, sites, people, cards, certificates,
        /// positions, workstations, software, readers, stock).
        #[arg(long, value_parser = parse_kind)]
        kind: Option<Kind>,
        /// Validate only; write nothing.
        #[arg(long)]
        check: bool,
        /// How to read Care Identity Management report exports (TOML), laid over the shipped
        /// mapping (knowledge/cim-mapping.toml): see docs/IMPORT.md.
        #[arg(long)]
        mapping: Option<PathBuf>,
    },
    /// Write every record of a kind to standard output (or --out), in key order.
    Export {
        /// organisations, sites, people, cards, certificates, positions, workstations,
        /// software, readers or stock.
        #[arg(value_parser = parse_kind)]
        kind: Kind,
        /// csv or json.
        #[arg(long, default_value = "csv", value_parser = Format::parse)]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Make a deterministic synthetic estate: into the store, or as CSV files with --out.
    Demo {
        /// GP practices (default 25; with --holders, as many as the national average staff
        /// count gives, or this many: `--holders 280000 --practices 8000` is an ICB of small
        /// practices).
        #[arg(long)]
        practices: Option<u32>,
        /// Total card holders, spread over the practices (e.g. 1000000).
        #[arg(long)]
        holders: Option<u64>,
        /// Random seed: the same seed gives the same estate.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The day the estate is seen from (default today).
        #[arg(long, value_parser = parse_date)]
        today: Option<Date>,
        /// Write CSV files into this folder instead of the store.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Copy the store into a new file that `cardwatch restore` can bring back (SQLite: a
    /// consistent copy taken while the server runs; PostgreSQL: pg_dump, schema recorded).
    Backup {
        /// The new backup file (never overwritten).
        file: PathBuf,
    },
    /// Bring a backup back into a new, empty store (--database-url), then verify its audit chain.
    Restore {
        /// The backup file.
        file: PathBuf,
    },
    /// The audit chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The configuration file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Cards.
    Card {
        #[command(subcommand)]
        command: CardCommand,
    },
    /// Run every health check over the estate: findings grouped by site and severity.
    Check {
        /// Only this site's findings.
        #[arg(long)]
        site: Option<String>,
        /// Only rules whose id starts with this (`spare-readers-low`, `integration-`).
        #[arg(long)]
        rule: Option<String>,
        /// table, json or csv.
        #[arg(long, default_value = "table", value_parser = checks::Output::parse)]
        format: checks::Output,
        /// Exit 4 when an open finding at or above this severity exists (info, warning,
        /// urgent, critical).
        #[arg(long, value_parser = checks::parse_severity)]
        fail_on: Option<Severity>,
        /// Only findings at or above this severity.
        #[arg(long, value_parser = checks::parse_severity)]
        min_severity: Option<Severity>,
        /// Show snoozed findings too.
        #[arg(long)]
        all: bool,
        /// Judge the estate as of this day (default today).
        #[arg(long, value_parser = parse_date)]
        today: Option<Date>,
        /// Run only these groups of rules (certificates, cards, positions, workstations,
        /// sites, integrations), comma-separated; only what they need is read.
        #[arg(long, value_delimiter = ',', value_parser = Family::parse)]
        only: Vec<Family>,
    },
    /// Plan certificate renewals within the RA team's capacity, against waiting for the prompt;
    /// `plan migration` plans the move from a retiring authentication client.
    #[command(args_conflicts_with_subcommands = true)]
    Plan {
        #[command(subcommand)]
        command: Option<PlanCommand>,
        /// Renewals the RA team can handle per working day (for everyone the configuration's
        /// RA teams do not serve).
        #[arg(long)]
        capacity: Option<u32>,
        /// First day of the plan (default today).
        #[arg(long, value_parser = parse_date)]
        from: Option<Date>,
        /// Only this site's renewals in csv, json and ics output.
        #[arg(long)]
        site: Option<String>,
        /// In the comparison, how many days before expiry people act when they wait for the
        /// prompt.
        #[arg(long, default_value_t = 30)]
        wait_days: i32,
        /// table, csv, json or ics.
        #[arg(long, default_value = "table", value_parser = plan::Format::parse)]
        format: plan::Format,
    },
    /// Acknowledge, snooze or reopen a finding (audited).
    Finding {
        #[command(subcommand)]
        command: FindingCommand,
    },
    /// The catalogue of software, card series and reader firmware the checks use.
    Catalogue {
        #[command(subcommand)]
        command: CatalogueCommand,
    },
    /// A site's one-page cheat sheet: what reception does when a card fails, in the order that
    /// site's incidents make likeliest, when to escalate, who to call.
    Cheatsheet {
        /// The site's ODS code.
        #[arg(long)]
        site: String,
        /// text or html (prints on one A4 page).
        #[arg(long, default_value = "text", value_parser = ["text", "html"])]
        format: String,
    },
    /// Operators who sign in to the web pages and API.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Certificates in files: `certs scan PATH…`.
    Certs {
        #[command(subcommand)]
        command: certs::CertsCommand,
    },
    /// Workstation agents: enrolment tokens, the agents enrolled, revoking one.
    Agent {
        #[command(subcommand)]
        command: agents::AgentCommand,
    },
    /// The scheduler's runs and the outbox; run a job now.
    Jobs {
        #[command(subcommand)]
        command: Option<notify::JobsCommand>,
    },
    /// Email digests: operators' settings, and a test message.
    Notify {
        #[command(subcommand)]
        command: notify::NotifyCommand,
    },
    /// Webhooks (JSON, Microsoft Teams, Slack), signed with HMAC-SHA-256.
    Webhook {
        #[command(subcommand)]
        command: notify::WebhookCommand,
    },
    /// Tokens: for scripts using the API, and secret calendar feed addresses.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Triage incidents: list, show, and the escalation packet.
    Incident {
        #[command(subcommand)]
        command: IncidentCommand,
    },
    /// Retention of personal data: the leavers whose name, email and staff role are past
    /// `[health] leaver_retention_days` with nothing of theirs in force (`--apply` erases them,
    /// as the server's `retention` job does each night).
    Retention {
        /// Erase them (audited, without the data); without it, only list them.
        #[arg(long)]
        apply: bool,
        /// Judge as of this day (default today).
        #[arg(long, value_parser = parse_date)]
        today: Option<Date>,
        /// json instead of a line each.
        #[arg(long)]
        json: bool,
    },
    /// Fix fast: the next step for a symptom (with --symptom or --error-text), or a wizard that
    /// asks what the user sees and guides one step at a time.
    #[command(args_conflicts_with_subcommands = true)]
    Triage {
        #[command(subcommand)]
        command: Option<TriageCommand>,
        #[command(flatten)]
        args: TriageArgs,
    },
}

#[derive(clap::Args, Debug)]
struct TriageArgs {
    /// What is happening, in any words ("the card logs in but won't sign"), or the error text
    /// or code the user sees.
    #[arg(value_name = "WHAT IS HAPPENING", conflicts_with_all = ["symptom", "error_text"])]
    text: Option<String>,
    /// The symptom's id (see --list).
    #[arg(long, conflicts_with = "error_text")]
    symptom: Option<String>,
    /// The error text or code the user sees, as they would type it.
    #[arg(long)]
    error_text: Option<String>,
    /// What a check showed or a fix did, CHECK=RESULT (FIX=fixed|not-fixed); repeat in order.
    #[arg(long = "observe", value_parser = triage::parse_observation)]
    observations: Vec<(String, String)>,
    /// Minutes since the fault was reported (escalation after the knowledge base's limit).
    #[arg(long)]
    elapsed: Option<f64>,
    /// Other people at the site who reported the same symptom within the hour.
    #[arg(long, default_value_t = 0)]
    others: u32,
    /// The site (ODS code): past incidents there and the cluster rule are taken into account.
    #[arg(long)]
    site: Option<String>,
    /// The card's serial: its status, series and certificates are read from the estate.
    #[arg(long)]
    card: Option<String>,
    /// The workstation: its smartcard software and readers are read from the estate.
    #[arg(long)]
    hostname: Option<String>,
    /// The application in use (emis-web, systmone, vision, eps, care-identity, nhsmail, other),
    /// recorded on the wizard's incident.
    #[arg(long, value_parser = cardwatch_core::triage::parse_application)]
    application: Option<String>,
    /// What the user was doing, recorded on the wizard's incident.
    #[arg(long)]
    doing: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// List the symptoms and their ids.
    #[arg(long)]
    list: bool,
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Add an operator. The password is read from standard input when it is not a terminal;
    /// otherwise a random one is made and printed once.
    Add {
        /// Their user name (e.g. their NHSmail address).
        username: String,
        /// Their name as shown.
        #[arg(long)]
        name: String,
        /// administrator, support, practice_manager, registration_authority or auditor.
        #[arg(long)]
        role: String,
        /// An organisation, site or ICB (ODS code) their work covers; repeat for more.
        #[arg(long = "org")]
        organisations: Vec<String>,
    },
    /// Every operator.
    List,
    /// Stop an operator signing in (their sessions end).
    Disable {
        /// The user name.
        username: String,
    },
    /// Let a disabled operator sign in again.
    Enable {
        /// The user name.
        username: String,
    },
    /// Set a new password (from standard input, or random and printed); sessions end.
    ResetPassword {
        /// The user name.
        username: String,
    },
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Make a token for an operator; its secret is printed once and never kept.
    Add {
        /// Whose: it acts with their role and organisations.
        #[arg(long)]
        user: String,
        /// What it is for.
        #[arg(long)]
        name: String,
        /// A calendar feed address instead of an API token.
        #[arg(long)]
        calendar: bool,
        /// For a calendar: this site only.
        #[arg(long, requires = "calendar")]
        site: Option<String>,
    },
    /// Tokens (all, or one operator's), revoked ones included.
    List {
        /// Only this operator's.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by its id.
    Revoke {
        /// The id shown by `token list`.
        id: String,
    },
}

#[derive(Subcommand, Debug)]
enum IncidentCommand {
    /// The newest incidents.
    List {
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// One incident with every step, as JSON.
    Show {
        /// The incident's number.
        id: i64,
    },
    /// The escalation packet for an incident (person, card UUID, application, exact error,
    /// Windows build, readers, software, every check and result).
    Packet {
        /// The incident's number.
        id: i64,
        /// text, json, or html (a page that prints on A4).
        #[arg(long, default_value = "text", value_parser = ["text", "json", "html"])]
        format: String,
    },
}

#[derive(Subcommand, Debug)]
enum TriageCommand {
    /// Measure the engine on simulated faults against the documents' fixed order and an oracle
    /// that knows the cause, and show what learning from incidents gains.
    Simulate {
        /// Simulated faults.
        #[arg(long, default_value_t = 10_000)]
        n: usize,
        /// Random seed: the same seed gives the same figures.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Only this symptom (default: every symptom equally often; learning on cannot-sign).
        #[arg(long)]
        symptom: Option<String>,
        /// Also search every order of checks and fixes for the best any strategy can do: the
        /// floor the engine is judged against (a few minutes).
        #[arg(long)]
        best: bool,
        /// Print one JSON object: engine, fixed_order, oracle ({mean, p95}), exact and learning.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum PlanCommand {
    /// Plan the move of every workstation from a retiring authentication client (NHS Identity
    /// Agent) to its successor (NHS Smartcard Connect): per site, one machine first out of core
    /// hours, then the pilot and broad rings, finished before the catalogue's date with a
    /// margin; machines held up by an application are listed with what holds them up.
    Migration(migration::Args),
}

#[derive(Subcommand, Debug)]
enum FindingCommand {
    /// Seen and being dealt with: still shown, no longer fails `check --fail-on`.
    Ack {
        /// The finding's id (from `cardwatch check --format csv`).
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// The last day it applies (default 30 days from today).
        #[arg(long, value_parser = parse_date)]
        until: Option<Date>,
    },
    /// Put off: hidden until the day given.
    Snooze {
        /// The finding's id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// The last day it is hidden (default 7 days from today).
        #[arg(long, value_parser = parse_date)]
        until: Option<Date>,
    },
    /// Remove an acknowledgement or snooze.
    Reopen {
        /// The finding's id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
enum CatalogueCommand {
    /// Print the catalogue in force, with each entry's source and date.
    Show {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print every key of the configuration file as Markdown: its type, default and meaning
    /// (docs/operations/CONFIGURATION.md is this output).
    Reference,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Check every record's hash and link; name the first broken record. Prints the newest
    /// record's anchor (`SEQ:HASH`) to keep outside this server.
    Verify {
        /// An anchor printed by an earlier verify: fails (exit 3) when that record's hash has
        /// changed, which shows a chain rewritten with every later hash recomputed.
        #[arg(long, value_parser = parse_anchor)]
        anchor: Option<Anchor>,
    },
    /// Print audit records as JSON lines, oldest first.
    Show {
        /// Start after this record.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
}

#[derive(Subcommand, Debug)]
enum CardCommand {
    /// Change a card's status (active, locked, blocked, lost, stolen, damaged, cancelled,
    /// retired), as the card state machine allows.
    SetStatus {
        /// The card's serial number.
        serial: String,
        /// The new status.
        status: String,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: String,
    },
}

fn parse_kind(s: &str) -> Result<Kind, String> {
    Kind::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        format!("unknown kind {s:?} — use one of: {}", names.join(", "))
    })
}

fn parse_anchor(s: &str) -> Result<Anchor, String> {
    Anchor::parse(s)
}

fn parse_date(s: &str) -> Result<Date, String> {
    Date::parse(s).map_err(|e| e.to_string())
}

fn parse_timestamp(s: &str) -> Result<Timestamp, String> {
    Timestamp::parse(s).map_err(|e| e.to_string())
}

use clock::{now, today};

/// What the server and the triage read besides the estate.
fn server_checks(
    settings: config::Settings,
    triage: cardwatch_core::triage::KnowledgeBase,
) -> cardwatch_server::Checks {
    cardwatch_server::Checks {
        catalogue: settings.catalogue,
        thresholds: settings.thresholds,
        calendar: settings.calendar,
        teams: settings.teams,
        contacts: settings.contacts,
        notify: settings.notify,
        triage,
        sso: None,
        sign_in: cardwatch_server::web::auth::SignInGuard::new(settings.serving.trusted_proxies)
            .behind_tls_proxy(settings.serving.behind_tls_proxy),
        report_wait: settings.serving.report_wait,
        // Read and checked with the configuration: a bad file has stopped `serve` already.
        import_mapping: settings
            .import_mapping
            .zip(settings.import_mapping_file)
            .map(|(mapping, file)| cardwatch_server::admin::import::Mapping {
                file: file.display().to_string(),
                mapping: std::sync::Arc::new(mapping),
            }),
    }
}

fn change() -> Change {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    Change {
        actor: format!("cli:{user}"),
        at: now(),
    }
}

/// A failure that maps to an exit status other than 1.
#[derive(Debug)]
struct Exit(u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Exit {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.config.as_deref());
    clock::start_at(cli.now);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(Exit(code)) = e.downcast_ref::<Exit>() {
                return ExitCode::from(*code);
            }
            // `cardwatch export … | head` closes the pipe early: not a failure.
            if closed_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("cardwatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the error is output going to a pipe its reader closed (`| head`).
fn closed_pipe(e: &anyhow::Error) -> bool {
    let broken = output::closed;
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(broken)
            || matches!(c.downcast_ref::<StoreError>(), Some(StoreError::Io { source, .. }) if broken(source))
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(io::ErrorKind::BrokenPipe))
            || c.downcast_ref::<csv::Error>().is_some_and(|c| match c.kind() {
                csv::ErrorKind::Io(io) => broken(io),
                _ => false,
            })
    })
}

fn open(url: &str) -> Result<Box<dyn Store>> {
    cardwatch_store::open(url).with_context(|| "cannot open the store".to_string())
}

fn run(cli: Cli) -> Result<()> {
    let settings = || config::load(cli.config.as_deref(), cli.catalogue.as_deref());
    let url = cli.database_url.clone();
    let database_url = url.clone().unwrap_or_else(|| "cardwatch.sqlite".to_owned());
    match cli.command {
        Command::Serve {
            bind,
            demo,
            practices,
            tls_cert,
            tls_key,
        } => {
            let tls = match (&tls_cert, &tls_key) {
                (Some(c), Some(k)) => Some(tls::config(c, k)?),
                _ => None,
            };
            let url = match url {
                Some(u) => u,
                None if demo => "cardwatch-demo.sqlite".to_owned(),
                None => database_url,
            };
            let mut settings = settings()?;
            checks::warn_refused(&settings);
            // The provider is asked for its discovery document now, so a wrong issuer stops
            // the server from starting rather than the first sign-in.
            let sso = settings
                .oidc
                .take()
                .map(cardwatch_server::account::oidc::Sso::discover)
                .transpose()
                .map_err(|e| anyhow::anyhow!("single sign-on: {e}"))?
                .map(Arc::new);
            let kb = triage::knowledge_base(cli.triage_kb.as_deref())?;
            let store = open(&url)?;
            let mut sign_in = None;
            if demo {
                fill_demo(&*store, practices, &kb)?;
                sign_in = Some(users::demo_operator(&*store)?);
            }
            let tls = tls.map(|t| (t, settings.serving.tls));
            let mut checks = server_checks(settings, kb);
            checks.sso = sso;
            serve(Arc::from(store), &bind, checks, sign_in, tls)
        }
        Command::Import {
            files,
            kind,
            check,
            mapping,
        } => {
            // A bad mapping is refused before the store is opened, with its line; without
            // --mapping, the configuration's [import] mapping (checked when it is read).
            let mapping = match mapping {
                Some(path) => Some(cim_mapping(&path)?),
                None => settings()?.import_mapping,
            };
            let store = open(&database_url)?;
            let inputs: Vec<ImportInput> = files.iter().map(ImportInput::file).collect();
            let options = ImportOptions {
                kind,
                check_only: check,
                progress: progress_bar(),
                mapping: mapping.map(Arc::new),
                ..ImportOptions::default()
            };
            let started = Instant::now();
            let report = import(&*store, &inputs, &options)?;
            print_report(&report, started);
            Ok(())
        }
        Command::Export { kind, format, out } => {
            let store = open(&database_url)?;
            match out {
                Some(path) => {
                    let f = std::fs::File::create(&path)
                        .with_context(|| format!("cannot create {}", path.display()))?;
                    cardwatch_store::export(&*store, kind, format, io::BufWriter::new(f))?;
                }
                None => {
                    let stdout = io::stdout().lock();
                    cardwatch_store::export(&*store, kind, format, io::BufWriter::new(stdout))?;
                }
            }
            Ok(())
        }
        Command::Demo {
            practices,
            holders,
            seed,
            today: day,
            out,
        } => {
            let day = day.unwrap_or_else(today);
            let cfg = match (holders, practices) {
                (Some(h), None) => DemoConfig::national(h, seed, day),
                (holders, practices) => DemoConfig {
                    practices: practices.unwrap_or(25),
                    holders,
                    seed,
                    today: day,
                },
            };
            let started = Instant::now();
            match out {
                Some(dir) => {
                    let files = demo::write_files(&cfg, &dir)?;
                    eprintln!(
                        "wrote {} files to {} in {:.1}s",
                        files.len(),
                        dir.display(),
                        started.elapsed().as_secs_f64()
                    );
                }
                None => {
                    let store = open(&database_url)?;
                    let report = demo_into(&*store, &cfg)?;
                    print_report(&report, started);
                }
            }
            Ok(())
        }
        Command::Retention {
            apply,
            today: day,
            json,
        } => {
            let store = open(&database_url)?;
            let settings = settings()?;
            let days = settings.thresholds.leaver_retention_days;
            let cutoff = settings
                .thresholds
                .leavers_erased_before(day.unwrap_or_else(today));
            let list = if apply {
                cardwatch_store::retention::erase(&*store, cutoff, None, &change())?
            } else {
                cardwatch_store::retention::due(&*store, cutoff, None)?
            };
            if json {
                outln!(
                    "{}",
                    serde_json::json!({"left_before": cutoff, "erased": apply, "people": list})
                );
            } else {
                for d in &list {
                    outln!("{}  {}  left {}", d.uuid, d.site_ods, d.employment_end);
                }
                let what = if apply {
                    "erased"
                } else {
                    "due for erasure (run with --apply to erase)"
                };
                outln!(
                    "{} leaver(s) who left before {cutoff} ({days} days) {what}",
                    list.len()
                );
            }
            Ok(())
        }
        Command::Backup { file } => {
            let b = cardwatch_store::backup::backup(&database_url, &file)?;
            outln!(
                "backed up the {} store (schema {}) to {}: {} bytes",
                b.kind,
                b.schema,
                file.display(),
                b.bytes
            );
            Ok(())
        }
        Command::Restore { file } => {
            let r = cardwatch_store::backup::restore(&file, &database_url)?;
            // Opening migrates a backup from an older schema; then the chain is checked whole.
            let store = open(&database_url)?;
            match store.verify_audit()? {
                AuditVerdict::Intact(n) => {
                    outln!(
                        "restored {} (a {} backup at schema {}) into {}; audit chain intact: {n} records",
                        file.display(),
                        r.kind,
                        r.schema,
                        store.describe()
                    );
                    Ok(())
                }
                AuditVerdict::Broken(b) => {
                    eprintln!("restored, but the audit chain is BROKEN: {b}");
                    Err(Exit(3).into())
                }
            }
        }
        Command::Config {
            command: ConfigCommand::Reference,
        } => {
            out!("{}", config::reference_markdown());
            Ok(())
        }
        Command::Audit { command } => {
            let store = open(&database_url)?;
            match command {
                AuditCommand::Verify { anchor } => match store.verify_audit()? {
                    AuditVerdict::Intact(n) => {
                        if let Some(a) = &anchor {
                            let found = store.audit_records(a.seq - 1, 1)?;
                            if let Err(b) = a.check(found.first()) {
                                eprintln!("audit chain BROKEN: {b}");
                                return Err(Exit(3).into());
                            }
                        }
                        outln!("audit chain intact: {n} records");
                        if let Some(a) = anchor {
                            outln!("anchor {a} matches: records 1 to {} are as they were when it was taken", a.seq);
                        }
                        if let Some(newest) = store.audit_records(n - 1, 1)?.first() {
                            outln!(
                                "anchor {} — keep it outside this server; `cardwatch audit verify --anchor` with it later shows whether any record up to {n} was rewritten",
                                Anchor::of(newest)
                            );
                        }
                        Ok(())
                    }
                    AuditVerdict::Broken(b) => {
                        eprintln!("audit chain BROKEN: {b}");
                        Err(Exit(3).into())
                    }
                },
                AuditCommand::Show { after, limit } => {
                    let mut out = io::stdout().lock();
                    for r in store.audit_records(after, limit)? {
                        writeln!(out, "{}", serde_json::to_string(&r)?)?;
                    }
                    Ok(())
                }
            }
        }
        Command::Card {
            command:
                CardCommand::SetStatus {
                    serial,
                    status,
                    reason,
                },
        } => {
            let serial = CardSerial::parse(&serial).map_err(|e| anyhow::anyhow!("serial: {e}"))?;
            let to = CardStatus::parse(&status).map_err(|e| anyhow::anyhow!("status: {e}"))?;
            let store = open(&database_url)?;
            match store.set_card_status(&serial, to, &reason, &change()) {
                Ok(s) => {
                    outln!("card {} is now {s}", serial.as_ref());
                    Ok(())
                }
                Err(e @ (StoreError::Invalid(_) | StoreError::NotFound(_))) => {
                    eprintln!("cardwatch: {e}");
                    Err(Exit(2).into())
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Check {
            site,
            rule,
            format,
            fail_on,
            min_severity,
            all,
            today: day,
            only,
        } => {
            let settings = settings()?;
            let store = open(&database_url)?;
            let filter = Filter {
                site,
                min_severity,
                include_snoozed: all,
                rule,
            };
            let day = day.unwrap_or_else(today);
            let families = if only.is_empty() {
                Family::ALL
            } else {
                &only[..]
            };
            checks::check(&*store, &settings, day, &filter, format, fail_on, families)
        }
        Command::Plan {
            command: Some(PlanCommand::Migration(args)),
            ..
        } => migration::run(&*open(&database_url)?, &settings()?, &args, today()),
        Command::Plan {
            command: None,
            capacity,
            from,
            site,
            wait_days,
            format,
        } => {
            let settings = settings()?;
            let store = open(&database_url)?;
            let req = plan::Request {
                capacity,
                from: from.unwrap_or_else(today),
                site,
                wait_days,
                format,
            };
            plan::run(&*store, &settings, &req, now())
        }
        Command::Finding { command } => {
            let settings = settings()?;
            let store = open(&database_url)?;
            let change = change();
            let day = change.at.date();
            match command {
                FindingCommand::Ack { id, reason, until } => checks::note(
                    &*store,
                    &settings,
                    &change,
                    &id,
                    NoteState::Acknowledged,
                    &reason,
                    until.unwrap_or(day.add_days(30)),
                ),
                FindingCommand::Snooze { id, reason, until } => checks::note(
                    &*store,
                    &settings,
                    &change,
                    &id,
                    NoteState::Snoozed,
                    &reason,
                    until.unwrap_or(day.add_days(7)),
                ),
                FindingCommand::Reopen { id, reason } => {
                    checks::reopen(&*store, &change, &id, &reason)
                }
            }
        }
        Command::Catalogue {
            command: CatalogueCommand::Show { json },
        } => checks::show_catalogue(&settings()?, json),
        Command::Cheatsheet { site, format } => {
            let site = cardwatch_core::ids::OdsCode::parse(&site).map_err(|e| {
                eprintln!("cardwatch: --site: {e}");
                Exit(2)
            })?;
            let settings = settings()?;
            let kb = triage::knowledge_base(cli.triage_kb.as_deref())?;
            let checks = server_checks(settings, kb);
            let store = open(&database_url)?;
            let sheet = cardwatch_server::fix::triage::cheat_sheet(&*store, &checks, &site)?;
            let out = if format == "html" {
                cardwatch_server::fix::print::cheat_sheet_page(
                    &sheet,
                    cardwatch_server::fix::print::Styles::Inline,
                )
            } else {
                sheet.to_text()
            };
            io::stdout().lock().write_all(out.as_bytes())?;
            Ok(())
        }
        Command::User { command } => users::run(&*open(&database_url)?, command),
        Command::Jobs { command } => {
            let settings = settings()?;
            let checks = server_checks(settings, triage::knowledge_base(cli.triage_kb.as_deref())?);
            notify::jobs(Arc::from(open(&database_url)?), checks, command)
        }
        Command::Notify { command } => {
            let settings = settings()?;
            let checks = server_checks(settings, triage::knowledge_base(cli.triage_kb.as_deref())?);
            notify::notify(&*open(&database_url)?, &checks, command)
        }
        Command::Certs { command } => certs::run(command, now()),
        Command::Agent { command } => agents::run(&*open(&database_url)?, command),
        Command::Webhook { command } => notify::webhook(&*open(&database_url)?, command),
        Command::Token { command } => users::tokens(&*open(&database_url)?, command),
        Command::Incident { command } => {
            let store = open(&database_url)?;
            match command {
                IncidentCommand::List { limit, json } => {
                    triage::list_incidents(&*store, limit, json)
                }
                IncidentCommand::Show { id } => triage::show_incident(&*store, id),
                IncidentCommand::Packet { id, format } => {
                    let settings = settings()?;
                    let kb = triage::knowledge_base(cli.triage_kb.as_deref())?;
                    triage::packet(&server_checks(settings, kb), &*store, id, &format)
                }
            }
        }
        Command::Triage { command, args } => {
            let settings = settings()?;
            checks::warn_refused(&settings);
            let checks = server_checks(settings, triage::knowledge_base(cli.triage_kb.as_deref())?);
            let kb = &checks.triage;
            match command {
                Some(TriageCommand::Simulate {
                    n,
                    seed,
                    symptom,
                    best,
                    json,
                }) => {
                    let symptom = match symptom {
                        None => None,
                        Some(id) => Some(
                            kb.resolve(Some(&id), None)
                                .map_err(|e| {
                                    eprintln!("cardwatch: {}", e.message);
                                    Exit(2)
                                })?
                                .0,
                        ),
                    };
                    triage::run_simulation(
                        kb,
                        &SimConfig {
                            n,
                            seed,
                            symptom,
                            best,
                        },
                        json,
                    )
                }
                None if args.list => triage::list(kb),
                None => {
                    let desk = triage::desk(
                        args.site.as_deref(),
                        args.card.as_deref(),
                        args.hostname.as_deref(),
                    )?;
                    let error_text = args.text.or(args.error_text);
                    if args.symptom.is_none() && error_text.is_none() {
                        let store = open(&database_url)?;
                        let opening = triage::Opening {
                            desk,
                            reporter: change().actor,
                            application: args.application,
                            doing: args.doing,
                        };
                        return triage::wizard(&checks, &*store, opening);
                    }
                    let case = Case {
                        observations: args.observations,
                        words: error_text.clone(),
                        elapsed_minutes: args.elapsed,
                        others_affected: args.others,
                        ..Case::default()
                    };
                    triage::scripted(
                        &checks,
                        || open(&database_url),
                        triage::Scripted {
                            symptom: args.symptom.as_deref(),
                            error_text: error_text.as_deref(),
                            case,
                            desk,
                            json: args.json,
                        },
                    )
                }
            }
        }
    }
}

/// Runs an import; a refusal lists every problem on stderr and exits 2.
fn import(
    store: &dyn Store,
    inputs: &[ImportInput],
    options: &ImportOptions,
) -> Result<ImportReport> {
    match store.import(inputs, options, &change()) {
        Ok(r) => Ok(r),
        Err(StoreError::Rejected(problems)) => {
            let mut err = io::stderr().lock();
            for p in &problems {
                let _ = writeln!(err, "{p}");
            }
            let _ = writeln!(
                err,
                "cardwatch: {} problem(s); nothing was imported — correct the rows above and run again",
                problems.len()
            );
            Err(Exit(2).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// The shipped CIM mapping with the operator's file laid over it; a bad file exits 2 naming
/// its line.
fn cim_mapping(path: &std::path::Path) -> Result<cardwatch_core::cim::CimMapping> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    cardwatch_core::cim::CimMapping::shipped()
        .with_file(&path.display().to_string(), &text)
        .map_err(|e| {
            eprintln!("{e}");
            eprintln!("cardwatch: the mapping file is refused; nothing was imported");
            Exit(2).into()
        })
}

fn print_report(report: &ImportReport, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    let mut rows = 0;
    for f in &report.files {
        rows += f.rows;
        outln!(
            "{:<14} {:>9} rows: {} new, {} changed, {} unchanged  ({})",
            f.kind,
            f.rows,
            f.created,
            f.updated,
            f.unchanged,
            f.file
        );
        if let Some(name) = &f.cim_report {
            outln!(
                "{:<14} read as Care Identity Management's {name} report",
                ""
            );
        }
        if !f.ignored.is_empty() {
            outln!("{:<14} columns ignored: {}", "", f.ignored.join(", "));
        }
    }
    let verb = if report.checked_only {
        "checked (nothing written)"
    } else {
        "imported"
    };
    outln!(
        "{verb} {rows} rows in {secs:.1}s ({:.0} rows/s)",
        rows as f64 / secs.max(1e-9)
    );
}

/// Generates a demo estate into a temporary folder and imports it.
fn demo_into(store: &dyn Store, cfg: &DemoConfig) -> Result<ImportReport> {
    let dir = tempfile::tempdir().context("cannot make a temporary folder")?;
    let files = demo::write_files(cfg, dir.path())?;
    let inputs: Vec<ImportInput> = files.iter().map(ImportInput::file).collect();
    let options = ImportOptions {
        progress: progress_bar(),
        ..ImportOptions::default()
    };
    import(store, &inputs, &options)
}

/// Fills an empty store with a demo estate and its past (see [`demo`]); leaves one that holds
/// data alone. Every write is audited, so an empty audit chain means an empty store: one row read,
/// not ten tables counted.
fn fill_demo(
    store: &dyn Store,
    practices: u32,
    kb: &cardwatch_core::triage::KnowledgeBase,
) -> Result<()> {
    if store.audit_length()? > 0 {
        eprintln!("{} already holds an estate; serving it", store.describe());
        return Ok(());
    }
    let cfg = DemoConfig {
        practices,
        holders: None,
        seed: 1,
        today: today(),
    };
    let started = Instant::now();
    let filled = demo::fill(store, &cfg, kb)?;
    let rows: u64 = filled.report.files.iter().map(|f| f.rows).sum();
    eprintln!(
        "filled {} with a demo estate of {practices} practices ({rows} records, {} incidents over \
         the last {} days, {} access reviews) in {:.1}s",
        store.describe(),
        filled.history.incidents.len(),
        cardwatch_core::demo::history::DAYS,
        filled.history.reviews.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Serves until interrupted; `sign_in` (the demo's) is printed on the same line as the address.
fn serve(
    store: Arc<dyn Store>,
    bind: &str,
    checks: cardwatch_server::Checks,
    sign_in: Option<String>,
    tls: Option<(Arc<tokio_rustls::rustls::ServerConfig>, tls::Limits)>,
) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| {
            format!("cannot listen on {bind} — is another program using it? try --bind 127.0.0.1:0")
        })?;
        let addr = listener.local_addr()?;
        outln!(
            "Cardwatch is serving {} at {}://{addr}/{}",
            store.describe(),
            if tls.is_some() { "https" } else { "http" },
            sign_in.map_or(String::new(), |s| format!(" — {s}"))
        );
        io::stdout().flush()?;
        let app = cardwatch_server::router(store, now, checks);
        if let Some((tls, limits)) = tls {
            return tls::serve(listener, app, tls, limits).await;
        }
        // Each request carries its client's address, for sign-in throttling.
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}

/// A progress bar over bytes read, on a terminal only.
fn progress_bar() -> Option<Arc<dyn Progress>> {
    if !io::stderr().is_terminal() {
        return None;
    }
    Some(Arc::new(Bar(indicatif::ProgressBar::hidden())))
}

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn start(&self, file: &str, total: u64) {
        self.0
            .set_draw_target(indicatif::ProgressDrawTarget::stderr());
        self.0.reset();
        self.0.set_length(total);
        self.0.set_position(0);
        self.0.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg:<28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        self.0.set_message(file.to_owned());
    }

    fn advance(&self, done: u64) {
        self.0.set_position(done);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}
