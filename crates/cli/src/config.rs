//! The configuration file and the catalogue override: read once at start, refused with the file,
//! line and reason when malformed.
//!
//! ```toml
//! catalogue = "/etc/cardwatch/catalogue-local.toml"   # laid over the shipped catalogue
//!
//! [health]
//! dormant_days = 60
//!
//! [notify]                                              # email, webhooks, the scheduler
//! smtp_url = "smtp://user:pass@relay.example:587?tls=starttls"   # or CARDWATCH_SMTP_URL
//! smtp_ca_file = "/etc/cardwatch/relay-ca.pem"            # trusted besides the public roots
//! from = "Cardwatch <cardwatch@example.nhs.uk>"
//! public_url = "https://cardwatch.example.nhs.uk"         # for links in messages
//!
//! [schedule]                                            # cron-like, UTC; "off" stops a job
//! digest = "0 30 6 * * *"
//!
//! [log]
//! format = "json"                                       # one JSON object a line; default "text"
//!
//! [backup]                                              # the nightly "backup" job (schedule.backup)
//! dir = "/var/backups/cardwatch"                        # an existing folder
//! keep = 14                                             # the newest copies kept (default 7)
//!
//! [import]
//! mapping = "/etc/cardwatch/cim-mapping.toml"           # CIM exports, when no --mapping is given
//!
//! [[contacts]]                                          # on the sites' cheat sheets
//! role = "IT service desk"
//! name = "Riverside IT"
//! phone = "0161 000 0000"
//! serves = ["A81001"]                                   # none: every site
//! ```

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use cardwatch_core::calendar::Calendar;
use cardwatch_core::catalogue::{Catalogue, CatalogueError};
use cardwatch_core::date::Date;
use cardwatch_core::health::Thresholds;
use cardwatch_core::ids::OdsCode;
use cardwatch_core::planner::Team;
use cardwatch_core::schedule::Schedule;
use cardwatch_core::triage::Contact;
use cardwatch_server::account::oidc::{Config as OidcConfig, CALLBACK_PATH};
use cardwatch_server::notify::jobs::{BackupPlan, Job, Notify};
use cardwatch_server::notify::send::SmtpRelay;
use serde::Deserialize;

mod reference;
pub use reference::markdown as reference_markdown;

/// The configuration file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// An operator's catalogue, laid over the shipped one.
    catalogue: Option<PathBuf>,
    /// Health-check limits.
    #[serde(default)]
    health: Thresholds,
    /// Renewal planning.
    #[serde(default)]
    planner: Planner,
    /// Local contacts for the cheat sheets.
    #[serde(default)]
    contacts: Vec<Contact>,
    /// Email, webhooks and the scheduler's settings.
    #[serde(default)]
    notify: NotifyEntry,
    /// Each job's schedule (cron-like, UTC), or "off".
    #[serde(default)]
    schedule: std::collections::BTreeMap<String, String>,
    /// The nightly backups.
    #[serde(default)]
    backup: BackupEntry,
    /// How log lines are written.
    #[serde(default)]
    log: LogEntry,
    /// Serving: client addresses behind a proxy, TLS handshakes.
    #[serde(default)]
    server: ServerEntry,
    /// Imports.
    #[serde(default)]
    import: ImportEntry,
    /// Single sign-on through an OpenID Connect provider.
    oidc: Option<OidcEntry>,
}

/// The `[oidc]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcEntry {
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    claim: Option<String>,
    redirect_url: Option<String>,
    name: Option<String>,
    button: Option<String>,
    local_passwords: Option<bool>,
}

/// The `[import]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportEntry {
    /// How to read Care Identity Management report exports, laid over the shipped mapping.
    mapping: Option<PathBuf>,
}

/// The `[import]` table's mapping file read and laid over the shipped mapping; refused with the
/// key, the file and what is wrong with it.
fn import_mapping(
    path: Option<PathBuf>,
) -> std::result::Result<Option<cardwatch_core::cim::CimMapping>, String> {
    let Some(path) = path else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "import.mapping: cannot read {}: {e} — give the path of a CIM mapping file (docs/IMPORT.md)",
            path.display()
        )
    })?;
    cardwatch_core::cim::CimMapping::shipped()
        .with_file(&path.display().to_string(), &text)
        .map(Some)
        .map_err(|e| format!("import.mapping: {e}"))
}

/// The `[server]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerEntry {
    trusted_proxies: Option<Vec<String>>,
    /// Read as any value so that a wrong one is refused with the key named.
    behind_tls_proxy: Option<toml::Value>,
    tls_handshake_timeout_secs: Option<i64>,
    tls_max_handshakes: Option<i64>,
    report_wait_ms: Option<i64>,
}

/// How `serve` treats connections (`[server]`).
#[derive(Debug)]
pub struct Serving {
    /// Proxies whose `X-Forwarded-For` names the client (for sign-in throttling) and whose
    /// `X-Forwarded-Proto` says whether the client came over TLS.
    pub trusted_proxies: Vec<cardwatch_core::access::Network>,
    /// A TLS proxy terminates every connection: every answer carries HSTS and every cookie is
    /// `Secure`, whatever a request says.
    pub behind_tls_proxy: bool,
    /// TLS handshakes' time limit and how many may be unfinished at once.
    pub tls: crate::tls::Limits,
    /// The longest a request waits for a report's reading.
    pub report_wait: std::time::Duration,
}

/// How long a request waits for a report's reading unless `[server] report_wait_ms` says.
pub const REPORT_WAIT_MS: u64 = 1_000;

/// The `[server]` table over the defaults.
fn serving(s: ServerEntry) -> std::result::Result<Serving, String> {
    let mut trusted_proxies = Vec::new();
    for p in s.trusted_proxies.unwrap_or_default() {
        trusted_proxies.push(
            cardwatch_core::access::Network::parse(&p)
                .map_err(|e| format!("server.trusted_proxies: {e}"))?,
        );
    }
    let behind_tls_proxy = match s.behind_tls_proxy {
        None => false,
        Some(toml::Value::Boolean(b)) => b,
        Some(v) => {
            let v = match v {
                toml::Value::String(s) => format!("{s:?}"),
                toml::Value::Integer(n) => n.to_string(),
                other => format!("a value of type {}", other.type_str()),
            };
            return Err(format!(
                "server.behind_tls_proxy: {v} must be true or false"
            ));
        }
    };
    let mut tls = crate::tls::Limits::default();
    match s.tls_handshake_timeout_secs {
        Some(n) if !(1..=300).contains(&n) => {
            return Err(format!(
                "server.tls_handshake_timeout_secs: {n} must be from 1 to 300 seconds"
            ))
        }
        Some(n) => tls.handshake_timeout = std::time::Duration::from_secs(n as u64),
        None => {}
    }
    match s.tls_max_handshakes {
        Some(n) if !(1..=100_000).contains(&n) => {
            return Err(format!(
                "server.tls_max_handshakes: {n} must be from 1 to 100000"
            ))
        }
        Some(n) => tls.max_handshakes = n as usize,
        None => {}
    }
    let report_wait_ms = match s.report_wait_ms {
        Some(n) if !(0..=600_000).contains(&n) => {
            return Err(format!(
                "server.report_wait_ms: {n} must be from 0 to 600000 milliseconds"
            ))
        }
        Some(n) => n as u64,
        None => REPORT_WAIT_MS,
    };
    Ok(Serving {
        trusted_proxies,
        behind_tls_proxy,
        tls,
        report_wait: std::time::Duration::from_millis(report_wait_ms),
    })
}

/// The `[log]` table: read by `logging` when logging starts, checked here with the rest.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogEntry {
    /// `text` (the default) or `json`.
    format: Option<String>,
}

/// The `[backup]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackupEntry {
    dir: Option<PathBuf>,
    keep: Option<i64>,
}

/// The `[notify]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotifyEntry {
    smtp_url: Option<String>,
    smtp_ca_file: Option<PathBuf>,
    from: Option<String>,
    public_url: Option<String>,
    lease_seconds: Option<i64>,
    retries: Option<u32>,
    retry_base_seconds: Option<i64>,
    delivery_workers: Option<i64>,
    catch_up_seconds: Option<i64>,
    retention_days: Option<i64>,
    ra_capacity: Option<u32>,
    scheduler: Option<bool>,
}

/// The `[planner]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Planner {
    /// Days the RA teams do not work besides weekends and bank holidays (ISO dates).
    #[serde(default)]
    closed: Vec<toml::value::Datetime>,
    /// RA teams, each with its capacity and the ODS codes it serves.
    #[serde(default)]
    teams: Vec<TeamEntry>,
}

/// One `[[planner.teams]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamEntry {
    name: String,
    capacity: u32,
    serves: Vec<String>,
}

/// What the commands need from configuration.
#[derive(Debug)]
pub struct Settings {
    /// The catalogue in force.
    pub catalogue: Catalogue,
    /// Why an operator's catalogue was refused, when it was (the shipped one is then in force).
    pub catalogue_refused: Option<CatalogueError>,
    /// Health-check limits.
    pub thresholds: Thresholds,
    /// The RA teams' working days.
    pub calendar: Calendar,
    /// RA teams.
    pub teams: Vec<Team>,
    /// Local contacts for the cheat sheets.
    pub contacts: Vec<Contact>,
    /// The scheduler, email and webhooks.
    pub notify: Notify,
    /// How `serve` treats connections.
    pub serving: Serving,
    /// The CIM mapping imports use when no `--mapping` is given (`[import] mapping`).
    pub import_mapping: Option<cardwatch_core::cim::CimMapping>,
    /// The file `import_mapping` was read from.
    pub import_mapping_file: Option<PathBuf>,
    /// Single sign-on, when `[oidc]` is configured (its provider is found when serving starts).
    pub oidc: Option<OidcConfig>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Reads the configuration file (if any) and the catalogue override (`--catalogue`, else the
/// file's `catalogue`). A bad configuration file is an error; a bad catalogue override is
/// reported in [`Settings::catalogue_refused`] and the shipped catalogue stays in force.
pub fn load(config: Option<&Path>, catalogue: Option<&Path>) -> Result<Settings> {
    let file = match config {
        None => File::default(),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow!("cannot read the configuration {}: {e}", path.display()))?;
            let file: File = toml::from_str(&text).map_err(|e| {
                anyhow!(
                    "{}:{}: {} — fix the configuration file",
                    path.display(),
                    line_of(&text, e.span().map_or(0, |s| s.start)),
                    e.message().trim()
                )
            })?;
            file.health
                .validate()
                .map_err(|e| anyhow!("{}: {e}", path.display()))?;
            if let Some(f) = &file.log.format {
                crate::logging::Format::parse(f)
                    .map_err(|e| anyhow!("{}: {e} — fix the configuration", path.display()))?;
            }
            file
        }
    };
    let shipped = Catalogue::shipped();
    let over = catalogue.map(Path::to_path_buf).or(file.catalogue);
    let (catalogue, catalogue_refused) = match over {
        None => (shipped, None),
        Some(path) => match read_catalogue(&path, shipped.clone()) {
            Ok(laid) => (laid, None),
            Err(e) => (shipped, Some(e)),
        },
    };
    let mut closed = Vec::new();
    for d in &file.planner.closed {
        closed.push(Date::parse(&d.to_string()).map_err(|e| {
            anyhow!("configuration planner.closed: {d}: {e} — write dates as 2026-12-24")
        })?);
    }
    let where_ = config.map_or_else(String::new, |p| format!("{}: ", p.display()));
    let mut teams: Vec<Team> = Vec::new();
    for t in file.planner.teams {
        let name = t.name.trim().to_owned();
        let problem = if name.is_empty() {
            Some("a team needs a name".to_owned())
        } else if teams.iter().any(|o| o.name == name) {
            Some(format!("team {name:?} is listed twice"))
        } else if t.capacity == 0 {
            Some(format!(
                "team {name:?}: capacity must be at least 1 renewal a working day"
            ))
        } else if t.serves.is_empty() {
            Some(format!(
                "team {name:?}: serves names no site, organisation or ICB"
            ))
        } else {
            t.serves
                .iter()
                .find(|c| OdsCode::parse(c).is_err())
                .map(|c| format!("team {name:?}: {c:?} is not an ODS code"))
        };
        if let Some(p) = problem {
            return Err(anyhow!(
                "{where_}planner.teams: {p} — fix the configuration"
            ));
        }
        teams.push(Team {
            name,
            capacity: t.capacity,
            serves: t.serves,
        });
    }
    for c in &file.contacts {
        if let Some(p) = c.problem() {
            return Err(anyhow!("{where_}contacts: {p} — fix the configuration"));
        }
    }
    let contacts = file
        .contacts
        .into_iter()
        .map(|mut c| {
            c.serves = c
                .serves
                .iter()
                .map(|s| s.trim().to_ascii_uppercase())
                .collect();
            c
        })
        .collect();
    let mut notify = notify(file.notify, &file.schedule)
        .map_err(|e| anyhow!("{where_}{e} — fix the configuration"))?;
    notify.backup =
        backup(file.backup).map_err(|e| anyhow!("{where_}{e} — fix the configuration"))?;
    let import_mapping_file = file.import.mapping.clone();
    let import_mapping = import_mapping(file.import.mapping)
        .map_err(|e| anyhow!("{where_}{e} — fix the configuration"))?;
    let oidc = file
        .oidc
        .map(|o| oidc(o, &notify.public_url))
        .transpose()
        .map_err(|e| anyhow!("{where_}{e} — fix the configuration"))?;
    let serving =
        serving(file.server).map_err(|e| anyhow!("{where_}{e} — fix the configuration"))?;
    Ok(Settings {
        serving,
        oidc,
        import_mapping,
        import_mapping_file,
        notify,
        contacts,
        catalogue,
        catalogue_refused,
        thresholds: file.health,
        calendar: Calendar::england_and_wales().with_closed(closed),
        teams,
    })
}

/// The `[oidc]` table: an issuer, a client id and secret (`CARDWATCH_OIDC_CLIENT_SECRET` wins
/// over the file's), and a redirect URL given or made from `notify.public_url`.
fn oidc(o: OidcEntry, public_url: &str) -> std::result::Result<OidcConfig, String> {
    let url = |key: &str, v: &str| {
        let host = v
            .strip_prefix("https://")
            .or_else(|| v.strip_prefix("http://"))
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("");
        if host.is_empty() {
            Err(format!(
                "oidc.{key}: {v:?} is not an http:// or https:// address"
            ))
        } else {
            Ok(())
        }
    };
    let issuer = o
        .issuer
        .map(|i| i.trim().to_owned())
        .filter(|i| !i.is_empty())
        .ok_or("oidc.issuer is missing: set the provider's issuer URL (its discovery document is under it)")?;
    url("issuer", &issuer)?;
    let client_id = o
        .client_id
        .map(|i| i.trim().to_owned())
        .filter(|i| !i.is_empty())
        .ok_or("oidc.client_id is missing: set the client (application) id the provider gave Cardwatch")?;
    let from_env = std::env::var("CARDWATCH_OIDC_CLIENT_SECRET")
        .ok()
        .filter(|s| !s.trim().is_empty());
    let client_secret = match (from_env, o.client_secret, o.client_secret_file) {
        (Some(s), _, _) => s,
        (None, Some(_), Some(_)) => {
            return Err("oidc: set client_secret or client_secret_file, not both".into())
        }
        (None, Some(s), None) => s,
        (None, None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| format!("oidc.client_secret_file: cannot read {}: {e}", path.display()))?,
        (None, None, None) => {
            return Err("oidc: set client_secret_file (or client_secret, or CARDWATCH_OIDC_CLIENT_SECRET) to the secret the provider gave Cardwatch".into())
        }
    };
    let client_secret = client_secret.trim().to_owned();
    if client_secret.is_empty() {
        return Err("oidc: the client secret is empty".into());
    }
    let redirect_url = match o.redirect_url {
        Some(r) => r.trim().to_owned(),
        None => format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/')),
    };
    url("redirect_url", &redirect_url)?;
    if !redirect_url.ends_with(CALLBACK_PATH) {
        return Err(format!(
            "oidc.redirect_url: {redirect_url:?} must end in {CALLBACK_PATH}, where Cardwatch answers"
        ));
    }
    let claim = o
        .claim
        .map_or_else(|| "email".to_owned(), |c| c.trim().to_owned());
    if claim.is_empty() {
        return Err("oidc.claim is empty: name the claim that holds the operator's user name, e.g. \"email\"".into());
    }
    let name = o
        .name
        .map_or_else(|| "single sign-on".to_owned(), |n| n.trim().to_owned());
    let button = o
        .button
        .map_or_else(|| format!("Sign in with {name}"), |b| b.trim().to_owned());
    Ok(OidcConfig {
        issuer,
        client_id,
        client_secret,
        claim,
        redirect_url,
        name,
        button,
        local_passwords: o.local_passwords.unwrap_or(true),
    })
}

/// The `[backup]` table: a folder that exists, and how many copies to keep.
fn backup(b: BackupEntry) -> std::result::Result<Option<BackupPlan>, String> {
    let Some(dir) = b.dir else {
        return match b.keep {
            Some(_) => Err("backup.keep is set but no backup.dir: set the folder too".into()),
            None => Ok(None),
        };
    };
    if !dir.is_dir() {
        return Err(format!(
            "backup.dir: {} is not a folder — create it (writable by Cardwatch) or choose another",
            dir.display()
        ));
    }
    let keep = match b.keep {
        Some(k) if k < 1 => return Err(format!("backup.keep: {k} must be at least 1")),
        Some(k) => k as usize,
        None => 7,
    };
    Ok(Some(BackupPlan { dir, keep }))
}

/// The `[notify]` and `[schedule]` tables over the defaults; `CARDWATCH_SMTP_URL` wins over
/// `smtp_url`.
fn notify(
    n: NotifyEntry,
    schedule: &std::collections::BTreeMap<String, String>,
) -> std::result::Result<Notify, String> {
    let mut out = Notify::default();
    let smtp = std::env::var("CARDWATCH_SMTP_URL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or(n.smtp_url);
    if let Some(url) = smtp {
        let relay = SmtpRelay::parse(url.trim())?;
        out.smtp = Some(match n.smtp_ca_file {
            Some(path) => {
                let pem = std::fs::read(&path).map_err(|e| {
                    format!("notify.smtp_ca_file: cannot read {}: {e}", path.display())
                })?;
                relay
                    .trusting(pem)
                    .map_err(|e| format!("notify.smtp_ca_file: {} {e}", path.display()))?
            }
            None => relay,
        });
    } else if n.smtp_ca_file.is_some() {
        return Err("notify.smtp_ca_file is set but no smtp_url: set both, or neither".into());
    }
    if let Some(from) = n.from {
        if !from.contains('@') {
            return Err(format!("notify.from: {from:?} is not an email address"));
        }
        out.from = from;
    }
    if let Some(u) = n.public_url {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(format!(
                "notify.public_url: {u:?} must start with http:// or https://"
            ));
        }
        out.public_url = u.trim_end_matches('/').to_owned();
    }
    let positive = |name: &str, v: Option<i64>, d: i64| match v {
        Some(x) if x < 1 => Err(format!("notify.{name}: {x} must be at least 1")),
        Some(x) => Ok(x),
        None => Ok(d),
    };
    out.lease_seconds = positive("lease_seconds", n.lease_seconds, out.lease_seconds)?;
    out.catch_up_seconds = positive("catch_up_seconds", n.catch_up_seconds, out.catch_up_seconds)?;
    out.retention_days = positive("retention_days", n.retention_days, out.retention_days)?;
    out.retry_base_seconds = positive(
        "retry_base_seconds",
        n.retry_base_seconds,
        out.retry_base_seconds,
    )?;
    out.delivery_workers = positive("delivery_workers", n.delivery_workers, 4)?.min(64) as usize;
    out.retries = n.retries.unwrap_or(out.retries).max(1);
    out.ra_capacity = positive(
        "ra_capacity",
        n.ra_capacity.map(i64::from),
        i64::from(out.ra_capacity),
    )? as u32;
    out.enabled = n.scheduler.unwrap_or(true);
    for (name, text) in schedule {
        let job = Job::parse(name).map_err(|e| format!("schedule: {e}"))?;
        out.schedules.retain(|(j, _)| *j != job);
        if text.trim() != "off" {
            let s = Schedule::parse(text).map_err(|e| format!("schedule.{name}: {e}"))?;
            out.schedules.push((job, s));
        }
    }
    Ok(out)
}

/// The shipped catalogue with the operator's file at `path` laid over it.
fn read_catalogue(path: &Path, shipped: Catalogue) -> Result<Catalogue, CatalogueError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| CatalogueError {
        file: name.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read it: {e}"),
    })?;
    shipped.with_file(&name, &text)
}

/// The tables of the configuration file, each with the serde struct that reads it: `[[name]]`
/// tables (arrays) end in `[]`. `cardwatch config reference` and its test read the structs'
/// field names from serde itself, so a field missing from [`REFERENCE`] fails the test. A new
/// table is one line here and its keys' rows below.
pub(crate) const TABLES: &[(&str, reference::Fields)] = &[
    ("", reference::fields::<File>),
    ("health", reference::fields::<Thresholds>),
    ("planner", reference::fields::<Planner>),
    ("planner.teams[]", reference::fields::<TeamEntry>),
    ("contacts[]", reference::fields::<Contact>),
    ("notify", reference::fields::<NotifyEntry>),
    ("backup", reference::fields::<BackupEntry>),
    ("log", reference::fields::<LogEntry>),
    ("server", reference::fields::<ServerEntry>),
    ("oidc", reference::fields::<OidcEntry>),
    ("import", reference::fields::<ImportEntry>),
];

/// Every key of the configuration file, as docs/operations/CONFIGURATION.md lists it (written
/// by `cardwatch config reference`): the key, its type, its default (read from the code that
/// applies it wherever the code holds it as a value) and what it means. A new key is one row;
/// `[schedule]`'s keys are the scheduler's jobs, listed from `Job::ALL`.
#[rustfmt::skip]
pub(crate) const REFERENCE: &[reference::Key] = {
    use reference::{key, list, none};
    &[
        key("catalogue", "path", none, "An operator's catalogue file (TOML), laid over the shipped one; `--catalogue` wins. A file that does not load is reported and the shipped catalogue stays in force."),
        key("health.renewal_window_days", "days, 1–3650", || Thresholds::default().renewal_window_days.to_string(), "Days before expiry that holders may self-renew (and are prompted at each login): the first certificate warning."),
        key("health.soon_days", "days, 1–3650", || Thresholds::default().soon_days.to_string(), "Days before expiry that a certificate is urgent. `imminent_days` < `soon_days` < `renewal_window_days` must hold."),
        key("health.imminent_days", "days, 1–3650", || Thresholds::default().imminent_days.to_string(), "Days before expiry that a certificate is about to stop someone working."),
        key("health.dormant_days", "days, 1–3650", || Thresholds::default().dormant_days.to_string(), "Days without use that make an active card dormant."),
        key("health.lockouts", "integer ≥ 1", || Thresholds::default().lockouts.to_string(), "Lockouts within `lockout_window_days` that count as repeated."),
        key("health.lockout_window_days", "days, 1–3650", || Thresholds::default().lockout_window_days.to_string(), "The window for repeated lockouts."),
        key("health.approval_working_days", "working days, 1–3650", || Thresholds::default().approval_working_days.to_string(), "Working days a role request may wait for RA approval."),
        key("health.min_spare_readers", "integer", || Thresholds::default().min_spare_readers.to_string(), "Spare readers each site should keep."),
        key("health.min_local_admins", "integer", || Thresholds::default().min_local_admins.to_string(), "Trained local smartcard admins each site should have."),
        key("health.prescribing_activities", "list of activity codes (B and four digits)", || list(&Thresholds::default().prescribing_activities), "Activity codes that make a position's holder a prescriber, whose signing certificate is judged a level more serious."),
        key("health.clock_skew_seconds", "seconds, 1–86400", || Thresholds::default().clock_skew_seconds.to_string(), "How far a workstation's clock may be off the server's (Kerberos refuses sign-in at five minutes)."),
        key("health.leaver_retention_days", "days, 30–36500", || Thresholds::default().leaver_retention_days.to_string(), "Days after a leaver's last day of employment that their name, email and staff role are kept; then the `retention` job erases them. Set it to the organisation's records retention schedule."),
        key("health.catalogue_max_age_days", "days, 1–3650", || Thresholds::default().catalogue_max_age_days.to_string(), "Days after a catalogue fact's `as_of` that it is due to be checked against its source again: `catalogue show`, `check`, `serve` and `triage` warn on stderr, naming the oldest."),
        key("health.stale_data_days", "days, 1–3650", || Thresholds::default().stale_data_days.to_string(), "Days a site's card data may go without an import naming one of its cards or an agent report from one of its workstations before `site-data-stale` raises it: stale data hides expiries."),
        key("planner.closed", "list of dates (2026-12-24)", || "[]".into(), "Days the RA teams do not work besides weekends and England and Wales bank holidays."),
        key("planner.teams[].name", "text, required", none, "An RA team's name, unique."),
        key("planner.teams[].capacity", "integer ≥ 1, required", none, "Renewals the team handles per working day."),
        key("planner.teams[].serves", "list of ODS codes, required", none, "Sites, organisations or ICBs the team serves."),
        key("contacts[].role", "text, required", none, "What the contact is for (\"IT service desk\"), on the sites' cheat sheets."),
        key("contacts[].name", "text, required", none, "Name or team."),
        key("contacts[].phone", "text", none, "Telephone; a contact needs a phone or an email."),
        key("contacts[].email", "text", none, "Email."),
        key("contacts[].serves", "list of ODS codes", || "[]".into(), "Sites, organisations or ICBs served; empty: every site."),
        key("notify.smtp_url", "URL (smtp:// or smtps://)", none, "The SMTP relay (`?tls=starttls` for STARTTLS); `CARDWATCH_SMTP_URL` wins. Without one, email waits in the outbox."),
        key("notify.smtp_ca_file", "path to PEM", none, "Certificate authorities trusted for the relay besides the public roots; needs `smtp_url`."),
        key("notify.from", "email address", || format!("{:?}", Notify::default().from), "The sender of every message."),
        key("notify.public_url", "URL (http:// or https://)", || format!("{:?}", Notify::default().public_url), "The address people reach this server at, for links in messages."),
        key("notify.lease_seconds", "seconds ≥ 1", || Notify::default().lease_seconds.to_string(), "How long a claimed run or message is held before another replica may take it."),
        key("notify.retries", "integer (0 is taken as 1)", || Notify::default().retries.to_string(), "Tries before a message is marked failed."),
        key("notify.retry_base_seconds", "seconds ≥ 1", || Notify::default().retry_base_seconds.to_string(), "The wait after a first failed try; it doubles with each further failure."),
        key("notify.delivery_workers", "integer, 1–64", || Notify::default().delivery_workers.to_string(), "Messages sent at once, each over its own connection (more than 64 is taken as 64)."),
        key("notify.catch_up_seconds", "seconds ≥ 1", || Notify::default().catch_up_seconds.to_string(), "How late a scheduled moment may still be run, after a restart."),
        key("notify.retention_days", "days ≥ 1", || Notify::default().retention_days.to_string(), "Days sent messages and finished runs are kept (the `purge` job)."),
        key("notify.ra_capacity", "integer ≥ 1", || Notify::default().ra_capacity.to_string(), "Renewals per working day for sites no `[[planner.teams]]` team serves."),
        key("notify.scheduler", "true or false", || Notify::default().enabled.to_string(), "Whether this process runs the scheduler; with several replicas each claims runs by lease, so any may."),
        key("backup.dir", "path to an existing folder", none, "Where the `backup` job writes `cardwatch-<time>.backup`; without it the job does nothing."),
        key("backup.keep", "integer ≥ 1", || "7".into(), "How many of the newest backups the job keeps; it deletes older ones it made, never other files. Needs `dir`."),
        key("log.format", "`text` or `json`", || "\"text\"".into(), "How log lines are written: plain text, or one JSON object a line."),
        key("server.trusted_proxies", "list of IP addresses or blocks (`10.0.0.0/8`)", || "[]".into(), "Reverse proxies whose `X-Forwarded-For` names the client and whose `X-Forwarded-Proto: https` marks a request as having come over TLS (HSTS, `Secure` cookies); from anyone else both headers are ignored and the connection's address is the client's. Sign-in throttling counts failures per client address (docs/operations/serving.md)."),
        key("server.behind_tls_proxy", "true or false", || "false".into(), "A TLS proxy in front terminates every connection, so every answer carries `Strict-Transport-Security` and every cookie is `Secure`, whatever a request says. Otherwise a request counts as TLS when `serve --tls-cert` decrypted it, or when `X-Forwarded-Proto: https` comes from a proxy in `trusted_proxies`; from anyone else that header is ignored (docs/operations/serving.md)."),
        key("server.tls_handshake_timeout_secs", "seconds, 1–300", || crate::tls::Limits::default().handshake_timeout.as_secs().to_string(), "With `--tls-cert`: how long a client has to finish the TLS handshake before its connection is closed."),
        key("server.tls_max_handshakes", "integer, 1–100000", || crate::tls::Limits::default().max_handshakes.to_string(), "With `--tls-cert`: TLS handshakes unfinished at once; one more closes the oldest, so connections that never finish cannot keep a real client out."),
        key("server.report_wait_ms", "milliseconds, 0–600000", || REPORT_WAIT_MS.to_string(), "The longest a request waits for a report's figures to be read (`/reports`, `/api/v1/reports`). A report whose last reading took longer is answered from that reading, the page saying when it was read, while it is read again in the background; 0 answers every report but the first from its last reading. At demo size a reading takes milliseconds; a national administrator's takes seconds."),
        key("oidc.issuer", "URL (https://…), required", none, "The OpenID Connect provider's issuer, exactly as its discovery document states it. `serve` reads `<issuer>/.well-known/openid-configuration` and the provider's keys when it starts, and does not start if it cannot."),
        key("oidc.client_id", "text, required", none, "The client (application) id the provider gave Cardwatch."),
        key("oidc.client_secret", "text", none, "The client secret. `client_secret_file` keeps it out of this file; `CARDWATCH_OIDC_CLIENT_SECRET` wins over both. One of the three is required."),
        key("oidc.client_secret_file", "path", none, "A file holding the client secret (white space around it ignored)."),
        key("oidc.claim", "claim name", || "\"email\"".into(), "The claim that names the operator, read from the ID token or else the userinfo endpoint: it must equal an existing, enabled operator's user name (in any case). An `email` the provider marks unverified is refused."),
        key("oidc.redirect_url", "URL ending in /login/oidc/callback", none, "Where the provider sends the browser back, as registered with it; without it, `notify.public_url` followed by `/login/oidc/callback`."),
        key("oidc.name", "text", || "\"single sign-on\"".into(), "What people call the provider (\"NHSmail\"), in the sign-in button and the refusals."),
        key("oidc.button", "text", none, "The sign-in button's words; without it, \"Sign in with \" and `name`."),
        key("oidc.local_passwords", "true or false", || "true".into(), "Whether operators may also sign in with a Cardwatch password. `false` leaves only the single sign-on button on the sign-in page and refuses `POST /login` before any password is checked."),
        key("import.mapping", "path", none, "A Care Identity Management mapping file (TOML) laid over the shipped one, used by `cardwatch import` when no `--mapping` is given and by uploads at `/admin/import`, whose page names it. A path that cannot be read, or a file that is refused, stops the command (`serve` too, before it listens) when the configuration is read (docs/IMPORT.md)."),
    ]
};
