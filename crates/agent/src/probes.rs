//! The agent's configurable probes: where to find each smartcard software component's version
//! (Windows: the uninstall registry keys; Linux: the package manager; anywhere: a file holding
//! the version), the operating system and its build, whether Credential Management answers on
//! its local ports, and whether the NHS endpoints can be reached over TLS.
//!
//! The built-in probes are the Windows names of the components and Credential Management's
//! port; an operator names others in a TOML file (`--probes`, see docs/AGENT.md).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use cardwatch_core::inventory::{Endpoint, Installed, Os};
use serde::Deserialize;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

/// The probes in force.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// One entry per component.
    #[serde(default)]
    pub software: Vec<SoftwareProbe>,
    /// Credential Management's local ports.
    #[serde(default)]
    pub credential_management: Ports,
    /// Endpoints whose TLS reachability is checked.
    #[serde(default)]
    pub endpoints: Endpoints,
}

/// Where one component's version is found; the first that answers wins.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareProbe {
    /// Catalogue id (`identity-agent`…).
    pub component: String,
    /// Windows: text the uninstall entry's DisplayName contains.
    pub windows: Option<String>,
    /// Linux: the package (dpkg, else rpm).
    pub package: Option<String>,
    /// A file whose first line is the version.
    pub file: Option<PathBuf>,
}

/// Local TCP ports.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ports {
    /// The ports.
    #[serde(default)]
    pub ports: Vec<u16>,
}

/// Endpoints to reach over TLS.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    /// `https://` addresses.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Check their certificates against this PEM file instead of the public roots.
    pub ca_file: Option<PathBuf>,
}

/// Built in: the components' names as their Windows installers register them, and the port
/// Credential Management's port service listens on (SPEC domain facts). The NHS endpoints are
/// the operator's to name: the allow-list changes and a workstation may need a proxy.
const BUILT_IN: &str = r#"
[[software]]
component = "identity-agent"
windows = "Identity Agent"

[[software]]
component = "credential-management"
windows = "Credential Management"

[[software]]
component = "oberthur-middleware"
windows = "Oberthur"

[[software]]
component = "gemalto-middleware"
windows = "Gemalto"

[credential_management]
ports = [43487]
"#;

impl Config {
    /// The probes from `path`, or the built-in ones. A bad file is refused with the reason.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else {
            return Ok(toml::from_str(BUILT_IN).expect("built-in probes parse"));
        };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the probes file {}", path.display()))?;
        let config: Config =
            toml::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        for p in &config.software {
            if p.windows.is_none() && p.package.is_none() && p.file.is_none() {
                return Err(anyhow!(
                    "{}: the probe for {:?} names no place to look — give windows, package or file",
                    path.display(),
                    p.component
                ));
            }
        }
        if let Some(bad) = config
            .endpoints
            .urls
            .iter()
            .find(|u| !u.starts_with("https://"))
        {
            return Err(anyhow!(
                "{}: endpoint {bad:?} is not https:// — endpoints are checked over TLS",
                path.display()
            ));
        }
        Ok(config)
    }
}

/// The first token of `text` that starts with a digit, as a version.
fn version_in(text: &str) -> Option<String> {
    text.split_whitespace()
        .find(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .map(|t| t.trim_end_matches([',', ';']).to_owned())
}

/// Runs a program; its standard output when it succeeds.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// An installed package's version from dpkg, else rpm.
fn package_version(package: &str) -> Option<String> {
    output("dpkg-query", &["-W", "-f=${Status}|${Version}", package])
        .and_then(|s| {
            let (status, version) = s.split_once('|')?;
            // Removed packages keep a record with status "deinstall ok config-files".
            status
                .ends_with(" installed")
                .then(|| version.trim().to_owned())
        })
        .or_else(|| output("rpm", &["-q", "--qf", "%{VERSION}", package]))
        .filter(|v| !v.is_empty())
}

/// `(DisplayName, DisplayVersion)` of each entry in `reg query … /s` output. Used on Windows;
/// tested everywhere.
#[cfg_attr(not(windows), allow(dead_code))]
pub fn registry_entries(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (mut name, mut version) = (None::<String>, None::<String>);
    let mut flush = |name: &mut Option<String>, version: &mut Option<String>| {
        if let (Some(n), Some(v)) = (name.take(), version.take()) {
            out.push((n, v));
        }
    };
    for line in text.lines() {
        if line.starts_with("HKEY_") {
            flush(&mut name, &mut version);
            continue;
        }
        let mut parts = line.trim().splitn(3, "    ");
        let (Some(key), Some(_kind), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        match key {
            "DisplayName" => name = Some(value.trim().to_owned()),
            "DisplayVersion" => version = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    flush(&mut name, &mut version);
    out
}

/// Every program the Windows uninstall keys list (64- and 32-bit).
#[cfg(windows)]
fn installed_programs() -> Vec<(String, String)> {
    [
        r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall",
        r"HKLM\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall",
    ]
    .iter()
    .filter_map(|k| output("reg", &["query", k, "/s"]))
    .flat_map(|t| registry_entries(&t))
    .collect()
}

#[cfg(not(windows))]
fn installed_programs() -> Vec<(String, String)> {
    Vec::new()
}

/// The versions the probes find.
pub fn software(config: &Config) -> Vec<Installed> {
    let programs = if config.software.iter().any(|p| p.windows.is_some()) {
        installed_programs()
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for p in &config.software {
        let from_registry = p.windows.as_ref().and_then(|want| {
            programs
                .iter()
                .find(|(name, _)| name.to_lowercase().contains(&want.to_lowercase()))
                .map(|(name, v)| (v.clone(), format!("registry: {name}")))
        });
        let found = from_registry
            .or_else(|| {
                let pkg = p.package.as_ref()?;
                Some((package_version(pkg)?, format!("package: {pkg}")))
            })
            .or_else(|| {
                let file = p.file.as_ref()?;
                let text = std::fs::read_to_string(file).ok()?;
                Some((version_in(&text)?, format!("file: {}", file.display())))
            });
        if let Some((version, source)) = found {
            out.push(Installed {
                component: p.component.clone(),
                version,
                source,
            });
        }
    }
    out
}

/// The operating system's name and build.
pub fn os() -> Option<Os> {
    #[cfg(windows)]
    {
        let key = r"HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion";
        let text = output("reg", &["query", key])?;
        let value = |name: &str| {
            text.lines().find_map(|l| {
                let mut p = l.trim().splitn(3, "    ");
                (p.next()? == name).then(|| p.nth(1).map(|v| v.trim().to_owned()))?
            })
        };
        let build = value("CurrentBuild")?;
        let ubr = value("UBR")
            .and_then(|u| i64::from_str_radix(u.trim_start_matches("0x"), 16).ok())
            .map_or(String::new(), |u| format!(".{u}"));
        Some(Os {
            name: value("ProductName").unwrap_or_else(|| "Windows".into()),
            build: format!("{build}{ubr}"),
        })
    }
    #[cfg(not(windows))]
    {
        let release = std::fs::read_to_string("/etc/os-release").ok();
        let name = release
            .as_deref()
            .and_then(|r| {
                r.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_owned())
            })
            .or_else(|| output("sw_vers", &["-productName"]).map(|n| n.trim().to_owned()))?;
        let build = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .or_else(|| output("sw_vers", &["-buildVersion"]))
            .map(|b| b.trim().to_owned())
            .unwrap_or_default();
        Some(Os { name, build })
    }
}

/// Which of the local ports answer a TCP connection.
pub fn ports(ports: &[u16]) -> Vec<(u16, bool)> {
    ports
        .iter()
        .map(|&p| {
            let addr = SocketAddr::from(([127, 0, 0, 1], p));
            (
                p,
                TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok(),
            )
        })
        .collect()
}

/// Whether each endpoint completes a TLS handshake and answers HTTP (any status).
pub fn endpoints(e: &Endpoints) -> Result<Vec<Endpoint>> {
    let roots = match &e.ca_file {
        None => RootCerts::WebPki,
        Some(p) => {
            let pem = std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|err| anyhow!("{}: {err} — give a PEM certificate", p.display()))?;
            RootCerts::new_with_certs(&[cert])
        }
    };
    let http: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build()
        .into();
    Ok(e.urls
        .iter()
        .map(|url| match http.get(url).call() {
            Ok(r) => Endpoint {
                url: url.clone(),
                reachable: true,
                detail: format!("answered HTTP {}", r.status().as_u16()),
            },
            Err(err) => Endpoint {
                url: url.clone(),
                reachable: false,
                detail: err.to_string(),
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_output_gives_names_and_versions() {
        let text = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{A1}\r\n    DisplayName    REG_SZ    NHS Identity Agent\r\n    DisplayVersion    REG_SZ    2.4.10.0\r\n    Publisher    REG_SZ    NHS England\r\n\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{B2}\r\n    DisplayName    REG_SZ    Some tool without a version\r\n\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{C3}\r\n    DisplayVersion    REG_SZ    6.2.0.4\r\n    DisplayName    REG_SZ    Oberthur Card Systems middleware\r\n";
        assert_eq!(
            registry_entries(text),
            vec![
                ("NHS Identity Agent".into(), "2.4.10.0".into()),
                ("Oberthur Card Systems middleware".into(), "6.2.0.4".into()),
            ]
        );
    }

    #[test]
    fn versions_are_the_first_token_starting_with_a_digit() {
        assert_eq!(version_in("Version 2.4.10.0\n"), Some("2.4.10.0".into()));
        assert_eq!(version_in("6.2.0.4"), Some("6.2.0.4".into()));
        assert_eq!(version_in("none here"), None);
    }

    #[test]
    fn the_built_in_probes_load_and_bad_files_are_refused() {
        let c = Config::load(None).expect("built in");
        assert_eq!(c.software.len(), 4);
        assert_eq!(c.credential_management.ports, vec![43487]);
        let dir = tempfile::tempdir().expect("tmp");
        let bad = |text: &str| {
            let p = dir.path().join("p.toml");
            std::fs::write(&p, text).expect("write");
            Config::load(Some(&p)).unwrap_err().to_string()
        };
        assert!(bad("[[software]]\ncomponent = \"x\"\n").contains("names no place to look"));
        assert!(bad("[endpoints]\nurls = [\"http://a\"]\n").contains("not https://"));
        assert!(bad("[[software]]\ncomponent = \"x\"\nwindoze = \"y\"\n").contains("unknown field"));
    }
}
