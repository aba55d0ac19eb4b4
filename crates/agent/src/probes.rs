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
use cardwatch_core::inventory::{Endpoint, Installed, Os, Program};
use serde::Deserialize;
use ureq::tls::{Certificate, RootCerts, TlsConfig};

use crate::programs::{self, UninstallEntry};

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
    /// Where the installed programs are listed, instead of the uninstall keys.
    #[serde(default)]
    pub programs: ProgramsProbe,
}

/// Where the installed programs come from.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProgramsProbe {
    /// A file listing them, one a line: name, a tab, version (see `programs::read_file`) — for
    /// a system without the Windows uninstall keys, or a list a management tool exports.
    pub file: Option<PathBuf>,
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

/// The components worth looking for among the uninstall entries' `(DisplayName, DisplayVersion)`: an
/// entry needs both, non-blank (updates and components often register a key with neither), and
/// an entry listed twice (the same program in two views) is kept once.
fn installed_entries(
    entries: impl IntoIterator<Item = (Option<String>, Option<String>)>,
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, version) in entries {
        let (Some(name), Some(version)) = (name, version) else {
            continue;
        };
        let (name, version) = (name.trim(), version.trim());
        if name.is_empty() || version.is_empty() {
            continue;
        }
        if !out.iter().any(|(n, v)| n == name && v == version) {
            out.push((name.to_owned(), version.to_owned()));
        }
    }
    out
}

/// The first program whose name contains `want`, ignoring case.
fn program_named<'a>(programs: &'a [(String, String)], want: &str) -> Option<&'a (String, String)> {
    let want = want.to_lowercase();
    programs
        .iter()
        .find(|(name, _)| name.to_lowercase().contains(&want))
}

/// Every entry the Windows uninstall keys hold: the machine's, in the 64- and 32-bit views of
/// the registry, and the user's own; `None` when none of the keys could be opened. Read with
/// `winreg`; what is kept is decided by `installed_entries` (the component probes) and
/// `programs::keep` (the programs reported).
#[cfg(windows)]
pub fn uninstall_entries() -> Option<Vec<UninstallEntry>> {
    use winreg::enums::{
        HKEY_CURRENT_USER, HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_32KEY, KEY_WOW64_64KEY,
    };
    use winreg::RegKey;
    const UNINSTALL: &str = r"SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall";
    let mut entries = Vec::new();
    let mut opened = false;
    for (hive, view) in [
        (HKEY_LOCAL_MACHINE, KEY_WOW64_64KEY),
        (HKEY_LOCAL_MACHINE, KEY_WOW64_32KEY),
        (HKEY_CURRENT_USER, 0),
    ] {
        // A key that is missing or not readable is simply not listed.
        let Ok(uninstall) = RegKey::predef(hive).open_subkey_with_flags(UNINSTALL, KEY_READ | view)
        else {
            continue;
        };
        opened = true;
        for key in uninstall.enum_keys().flatten() {
            if let Ok(entry) = uninstall.open_subkey_with_flags(&key, KEY_READ | view) {
                entries.push(UninstallEntry {
                    name: entry.get_value::<String, _>("DisplayName").ok(),
                    version: entry.get_value::<String, _>("DisplayVersion").ok(),
                    system_component: entry.get_value::<u32, _>("SystemComponent").ok() == Some(1),
                    has_parent: entry.get_value::<String, _>("ParentKeyName").is_ok(),
                    release_type: entry.get_value::<String, _>("ReleaseType").ok(),
                });
            }
        }
    }
    opened.then_some(entries)
}

/// No uninstall keys here.
#[cfg(not(windows))]
pub fn uninstall_entries() -> Option<Vec<UninstallEntry>> {
    None
}

/// The versions the probes find; `uninstall` is what the Windows uninstall keys hold, if read.
pub fn software(config: &Config, uninstall: Option<&[UninstallEntry]>) -> Vec<Installed> {
    let programs = installed_entries(
        uninstall
            .unwrap_or_default()
            .iter()
            .map(|e| (e.name.clone(), e.version.clone())),
    );
    let mut out = Vec::new();
    for p in &config.software {
        let from_registry = p.windows.as_ref().and_then(|want| {
            program_named(&programs, want).map(|(name, v)| (v.clone(), format!("registry: {name}")))
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

/// The installed programs to report: from the configured file, else from the uninstall keys
/// when they were read; `None` where there is no list (not Windows, no file) — with the reason
/// when a list was expected and could not be had, so the server never takes it as empty.
pub fn programs(
    config: &Config,
    uninstall: Option<&[UninstallEntry]>,
) -> (Option<Vec<Program>>, Option<String>) {
    let entries = match (&config.programs.file, uninstall) {
        (Some(file), _) => match programs::read_file(file) {
            Ok(entries) => entries,
            Err(e) => return (None, Some(e)),
        },
        (None, Some(entries)) => entries.to_vec(),
        (None, None) if cfg!(windows) => {
            return (
                None,
                Some("programs: the uninstall keys could not be read".to_owned()),
            )
        }
        (None, None) => return (None, None),
    };
    match programs::keep(entries) {
        Ok(kept) => (Some(kept), None),
        Err(e) => (None, Some(e)),
    }
}

/// The operating system's name and build.
pub fn os() -> Option<Os> {
    #[cfg(windows)]
    {
        use winreg::enums::{HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_64KEY};
        let key = winreg::RegKey::predef(HKEY_LOCAL_MACHINE)
            .open_subkey_with_flags(
                r"SOFTWARE\Microsoft\Windows NT\CurrentVersion",
                KEY_READ | KEY_WOW64_64KEY,
            )
            .ok()?;
        windows_os(
            key.get_value::<String, _>("ProductName").ok(),
            key.get_value::<String, _>("CurrentBuild").ok(),
            key.get_value::<u32, _>("UBR").ok(),
        )
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

/// Windows' name and build from its CurrentVersion key: the build is `CurrentBuild.UBR` (the
/// update build revision, when there is one), as `winver` shows it.
#[cfg_attr(not(windows), allow(dead_code))]
fn windows_os(product: Option<String>, build: Option<String>, ubr: Option<u32>) -> Option<Os> {
    let build = build.filter(|b| !b.trim().is_empty())?;
    Some(Os {
        name: product
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "Windows".into()),
        build: match ubr {
            Some(u) => format!("{}.{u}", build.trim()),
            None => build.trim().to_owned(),
        },
    })
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
    fn uninstall_entries_need_a_name_and_a_version() {
        let s = |v: &str| Some(v.to_owned());
        let entries = vec![
            (s("NHS Identity Agent"), s("2.4.10.0")),
            (s("Some tool without a version"), None),
            (None, s("1.0")),
            (s("  "), s("1.0")),
            (s("Blank version"), s(" ")),
            (s(" Oberthur Card Systems middleware "), s("6.2.0.4 ")),
            // The same program seen in the 64- and 32-bit views.
            (s("NHS Identity Agent"), s("2.4.10.0")),
        ];
        let kept = installed_entries(entries);
        assert_eq!(
            kept,
            vec![
                ("NHS Identity Agent".into(), "2.4.10.0".into()),
                ("Oberthur Card Systems middleware".into(), "6.2.0.4".into()),
            ]
        );
        assert_eq!(
            program_named(&kept, "oberthur").map(|(_, v)| v.as_str()),
            Some("6.2.0.4")
        );
        assert_eq!(program_named(&kept, "Gemalto"), None);
    }

    #[test]
    fn windows_build_is_current_build_and_update_revision() {
        let s = |v: &str| Some(v.to_owned());
        let os = windows_os(s("Windows 10 Enterprise"), s("19045"), Some(5371)).unwrap();
        assert_eq!(
            (os.name.as_str(), os.build.as_str()),
            ("Windows 10 Enterprise", "19045.5371")
        );
        assert_eq!(windows_os(None, s("22631"), None).unwrap().build, "22631");
        assert_eq!(windows_os(None, s("22631"), None).unwrap().name, "Windows");
        assert!(windows_os(s("Windows 11"), None, Some(1)).is_none());
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
