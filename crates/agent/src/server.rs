//! Talking to the Cardwatch server: enrolment (a one-time token exchanged for this agent's own
//! credential, kept in a file only its owner can read) and the heartbeat. Always HTTPS, with
//! the server's certificate checked against a CA file (`--ca-file`, e.g. the server's own
//! self-signed certificate: pinning) or the public roots.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// This agent's version, sent with every request.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What enrolment leaves behind.
#[derive(Debug, Serialize, Deserialize)]
pub struct Enrolled {
    /// The server's address.
    pub server: String,
    /// This agent's id.
    pub agent_id: String,
    /// The workstation it enrolled as (the server records its reports against this name).
    #[serde(default)]
    pub hostname: String,
    /// This agent's credential (the only copy; the server keeps a hash).
    pub credential: String,
    /// The CA file the server's certificate is checked against, if not the public roots.
    pub ca_file: Option<PathBuf>,
}

fn client(server: &str, ca_file: Option<&Path>) -> Result<ureq::Agent> {
    if !server.starts_with("https://") {
        return Err(anyhow!(
            "{server}: the agent reports over HTTPS only — give https://…"
        ));
    }
    let roots = match ca_file {
        None => RootCerts::WebPki,
        Some(p) => {
            let pem = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| anyhow!("{}: {e} — give a PEM certificate", p.display()))?;
            RootCerts::new_with_certs(&[cert])
        }
    };
    Ok(ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(20)))
        .http_status_as_error(false)
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build()
        .into())
}

/// The server's `{error: {message}}`, or the status.
fn refusal(status: u16, body: &str) -> anyhow::Error {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("HTTP {status}"));
    anyhow!("the server refused: {message}")
}

/// A POST with this agent's version (and credential, once enrolled); (status, body).
fn post(
    http: &ureq::Agent,
    url: &str,
    credential: Option<&str>,
    body: Option<&serde_json::Value>,
) -> Result<(u16, String)> {
    let mut req = http
        .post(url)
        .header("X-Cardwatch-Agent-Version", VERSION)
        .header("Content-Type", "application/json");
    if let Some(c) = credential {
        req = req.header("Authorization", &format!("Agent {c}"));
    }
    let sent = match body {
        Some(b) => req.send(b.to_string().as_str()),
        None => req.send_empty(),
    };
    let mut resp = sent.map_err(|e| anyhow!("cannot reach {url}: {e}"))?;
    let status = resp.status().as_u16();
    Ok((status, resp.body_mut().read_to_string().unwrap_or_default()))
}

/// Writes the enrolment where only this user can read it (mode 0600, folder 0700).
fn save(state: &Path, e: &Enrolled) -> Result<()> {
    std::fs::create_dir_all(state).with_context(|| format!("cannot create {}", state.display()))?;
    let path = state.join("agent.json");
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::set_permissions(state, std::fs::Permissions::from_mode(0o700))?;
        open.mode(0o600);
    }
    let mut f = open
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(serde_json::to_string_pretty(e)?.as_bytes())?;
    Ok(())
}

/// Reads this agent's enrolment.
pub fn load(state: &Path) -> Result<Enrolled> {
    let path = state.join("agent.json");
    let text = std::fs::read_to_string(&path).map_err(|_| {
        anyhow!(
            "this agent is not enrolled ({} is missing) — run `cardwatch-agent enrol --server URL --token T`",
            path.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Exchanges a one-time token for this agent's credential and keeps it in `state`.
pub fn enrol(
    server: &str,
    token: &str,
    hostname: &str,
    ca_file: Option<&Path>,
    state: &Path,
) -> Result<Enrolled> {
    let server = server.trim_end_matches('/');
    let http = client(server, ca_file)?;
    let body = serde_json::json!({"token": token, "hostname": hostname, "version": VERSION});
    let (status, text) = post(
        &http,
        &format!("{server}/api/v1/agents/enrol"),
        None,
        Some(&body),
    )?;
    if status != 201 {
        return Err(refusal(status, &text));
    }
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let e = Enrolled {
        server: server.to_owned(),
        agent_id: v["agent_id"].as_str().unwrap_or_default().to_owned(),
        hostname: hostname.to_owned(),
        credential: v["credential"].as_str().unwrap_or_default().to_owned(),
        ca_file: ca_file.map(Path::to_path_buf),
    };
    save(state, &e)?;
    Ok(e)
}

/// Says this agent is alive; the server's time, for the clock offset.
pub fn heartbeat(e: &Enrolled) -> Result<String> {
    let http = client(&e.server, e.ca_file.as_deref())?;
    let url = format!("{}/api/v1/agents/heartbeat", e.server);
    let (status, text) = post(&http, &url, Some(&e.credential), None)?;
    if status != 200 {
        return Err(refusal(status, &text));
    }
    let v: serde_json::Value = serde_json::from_str(&text)?;
    Ok(v["server_time"].as_str().unwrap_or_default().to_owned())
}

/// Sends events in one batch: (accepted, duplicates).
pub fn send_events(e: &Enrolled, events: &[serde_json::Value]) -> Result<(u64, u64)> {
    let http = client(&e.server, e.ca_file.as_deref())?;
    let body = serde_json::json!({ "events": events });
    let url = format!("{}/api/v1/agents/events", e.server);
    let (status, text) = post(&http, &url, Some(&e.credential), Some(&body))?;
    if status != 200 {
        return Err(refusal(status, &text));
    }
    let v: serde_json::Value = serde_json::from_str(&text)?;
    Ok((
        v["accepted"].as_u64().unwrap_or(0),
        v["duplicates"].as_u64().unwrap_or(0),
    ))
}
