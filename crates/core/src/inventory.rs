//! What a workstation agent reports: its inventory (OS, readers and cards, the certificates on
//! the cards, smartcard software) and the results of its automatic checks (Credential
//! Management's local ports, the reachability of the NHS endpoints, the clock). The agent builds
//! these; the server reads the same types to update the estate and to answer triage checks; the
//! verdicts on a card's certificates are worded here once for both.

use serde::{Deserialize, Serialize};

use crate::catalogue::Catalogue;
use crate::date::Timestamp;
use crate::reader::{CardCertificate, Readers};
use crate::x509::CertPurpose;

/// The operating system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Os {
    /// Its name ("Windows 11 Enterprise", "Debian GNU/Linux 12 (bookworm)").
    pub name: String,
    /// Its build ("22631.4460", a kernel release).
    pub build: String,
}

/// A smartcard software component found installed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// Catalogue id (`identity-agent`, `oberthur-middleware`…).
    pub component: String,
    /// The version found.
    pub version: String,
    /// How it was found ("registry: NHS Identity Agent", "dpkg: opensc", "file: …").
    pub source: String,
}

/// A program the operating system lists as installed (Windows' uninstall entries): what the
/// server recognises the catalogue's applications by.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Program {
    /// Its name as listed ("EMIS Web").
    pub name: String,
    /// Its version as listed.
    pub version: String,
}

/// A workstation's inventory. Parts the agent could not read are `None`, with the reason in
/// `problems` — an unreadable part is never reported as empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    /// The workstation's host name.
    pub hostname: String,
    /// The agent's version.
    pub agent_version: String,
    /// The operating system, if known.
    pub os: Option<Os>,
    /// Readers and cards, if PC/SC answered.
    pub readers: Option<Readers>,
    /// Certificates on the inserted cards, if the PKCS#11 module could be read.
    pub certificates: Option<Vec<CardCertificate>>,
    /// Smartcard software found by the configured probes.
    pub software: Vec<Installed>,
    /// The components the probes looked for: one looked for and not found is not installed.
    #[serde(default)]
    pub probed: Vec<String>,
    /// What could not be read, in plain words.
    #[serde(default)]
    pub problems: Vec<String>,
    /// This clock minus the server's, in seconds, when the agent asked the server just before.
    #[serde(default)]
    pub clock_offset_seconds: Option<i64>,
    /// Every program the operating system lists as installed, if the agent could list them
    /// (none from an older agent, or where there is no such list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub programs: Option<Vec<Program>>,
}

impl Inventory {
    /// The catalogue's applications found among the installed programs (by the names the
    /// catalogue gives for them) added to the software, each as its application id with the
    /// program's version, and every application the catalogue can recognise counted as looked
    /// for — so that one uninstalled since is removed from the workstation, as a smartcard
    /// component is. Nothing changes when the programs could not be listed: an unread list is
    /// never taken as empty. Software already reported under an application's id is kept.
    pub fn with_applications(mut self, cat: &Catalogue) -> Inventory {
        let Some(programs) = &self.programs else {
            return self;
        };
        for app in cat
            .applications
            .iter()
            .filter(|a| !a.installed_as.is_empty())
        {
            if !self.probed.contains(&app.id) {
                self.probed.push(app.id.clone());
            }
            if self.software.iter().any(|s| s.component == app.id) {
                continue;
            }
            if let Some(p) = programs.iter().find(|p| app.is_installed_as(&p.name)) {
                // The estate's software needs a version; an entry without one still says
                // the application is there.
                let version = match p.version.trim() {
                    "" => "unknown",
                    v => v,
                };
                self.software.push(Installed {
                    component: app.id.clone(),
                    version: version.to_owned(),
                    source: format!("program: {}", p.name),
                });
            }
        }
        self
    }
}

/// One configured endpoint's reachability over TLS.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// Its address.
    pub url: String,
    /// Whether a TLS connection was made and the server answered.
    pub reachable: bool,
    /// The answer or the error.
    pub detail: String,
}

/// The agent's automatic checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Probes {
    /// The local ports tried for Credential Management, and which answered.
    pub credential_management_ports: Vec<(u16, bool)>,
    /// The endpoints tried.
    pub endpoints: Vec<Endpoint>,
    /// This clock minus the server's, in seconds, when the server was asked.
    pub clock_offset_seconds: Option<i64>,
}

impl Probes {
    /// Whether Credential Management answers on any of its ports (`None`: none configured).
    pub fn credential_management_running(&self) -> Option<bool> {
        (!self.credential_management_ports.is_empty())
            .then(|| self.credential_management_ports.iter().any(|(_, up)| *up))
    }

    /// Whether every configured endpoint answered (`None`: none configured).
    pub fn endpoints_reachable(&self) -> Option<bool> {
        (!self.endpoints.is_empty()).then(|| self.endpoints.iter().all(|e| e.reachable))
    }
}

/// A diagnosis: the inventory and checks at one moment, for a symptom if one was given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// The symptom id asked about.
    pub symptom: Option<String>,
    /// When it was made.
    pub at: Timestamp,
    /// What the workstation holds.
    pub inventory: Inventory,
    /// What the checks found.
    pub probes: Probes,
}

/// Days before expiry at which a signing certificate counts as expiring (seed 002: within 30).
pub const SIGNING_SOON_DAYS: i64 = 30;
/// The self-renewal window before an authentication certificate expires.
pub const RENEWAL_WINDOW_DAYS: i64 = 90;

/// The certificate of a purpose in use on a card: the newest.
pub fn in_use(certs: &[CardCertificate], purpose: CertPurpose) -> Option<&CardCertificate> {
    certs
        .iter()
        .filter(|c| c.cert.purpose == purpose)
        .max_by_key(|c| c.cert.not_after)
}

/// What the certificates on the inserted cards mean for the person at the desk, one line each,
/// worst first: expired authentication (cannot log in), expired or missing signing (logs in,
/// cannot sign), SHA-1 signing, then certificates near their end.
pub fn certificate_verdicts(certs: &[CardCertificate], now: Timestamp) -> Vec<String> {
    let mut out = Vec::new();
    let mut tokens: Vec<&str> = Vec::new();
    for c in certs {
        if !tokens.contains(&c.token.as_str()) {
            tokens.push(&c.token);
        }
    }
    for token in tokens {
        let on: Vec<CardCertificate> = certs.iter().filter(|c| c.token == token).cloned().collect();
        let auth = in_use(&on, CertPurpose::Authentication);
        let sign = in_use(&on, CertPurpose::Signing);
        let day = |c: &CardCertificate| c.cert.not_after.date().to_string();
        let left = |c: &CardCertificate| c.cert.days_left(now);
        match auth {
            None => out.push(format!(
                "card {token}: no authentication certificate — the card cannot log in; the RA must re-issue it"
            )),
            Some(a) if left(a) < 0 => out.push(format!(
                "card {token}: cannot log in: authentication certificate expired on {} — renew in person with the RA",
                day(a)
            )),
            Some(a) if left(a) <= RENEWAL_WINDOW_DAYS => out.push(format!(
                "card {token}: authentication certificate expires on {} ({} days): self-renew now, inside the 90-day window",
                day(a),
                left(a)
            )),
            Some(_) => {}
        }
        let logs_in = auth.is_some_and(|a| left(a) >= 0);
        match sign {
            None if logs_in => out.push(format!(
                "card {token}: logs in, cannot sign: no signing certificate on the card (a series 10 card cannot sign)"
            )),
            Some(s) if left(s) < 0 && logs_in => out.push(format!(
                "card {token}: logs in, cannot sign: signing certificate expired on {} — renew it (RA)",
                day(s)
            )),
            Some(s) if left(s) < 0 => out.push(format!(
                "card {token}: signing certificate expired on {}",
                day(s)
            )),
            Some(s) if s.cert.hash_algorithm == "sha1" => out.push(format!(
                "card {token}: signing certificate uses SHA-1: electronic prescriptions need SHA-256 (series 8 or later)"
            )),
            Some(s) if left(s) <= SIGNING_SOON_DAYS => out.push(format!(
                "card {token}: signing certificate expires on {} ({} day{})",
                day(s),
                left(s),
                if left(s) == 1 { "" } else { "s" }
            )),
            _ => {}
        }
        if let (Some(a), Some(s)) = (auth, sign) {
            if left(a) > RENEWAL_WINDOW_DAYS
                && left(s) > SIGNING_SOON_DAYS
                && s.cert.hash_algorithm != "sha1"
            {
                out.push(format!(
                    "card {token}: both certificates valid (authentication until {}, signing until {})",
                    day(a),
                    day(s)
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::CertificateInfo;

    const DAY: i64 = 86_400;

    fn cert(token: &str, purpose: CertPurpose, days: i64, hash: &str) -> CardCertificate {
        CardCertificate {
            token: token.into(),
            token_serial: String::new(),
            label: purpose.as_str().into(),
            cert: CertificateInfo {
                purpose,
                subject: "CN=Asha Patel".into(),
                issuer: "CN=NHS Level 1C".into(),
                serial_number: "01".into(),
                not_before: Timestamp::from_unix(0),
                not_after: Timestamp::from_unix(1_800_000_000 + days * DAY),
                hash_algorithm: hash.into(),
            },
        }
    }

    fn program(name: &str, version: &str) -> Program {
        Program {
            name: name.into(),
            version: version.into(),
        }
    }

    fn listing(programs: Option<Vec<Program>>) -> Inventory {
        Inventory {
            hostname: "gp-a81001-03".into(),
            agent_version: "0.1.0".into(),
            os: None,
            readers: None,
            certificates: None,
            software: vec![Installed {
                component: "identity-agent".into(),
                version: "2.4.10.0".into(),
                source: "registry: NHS Identity Agent".into(),
            }],
            probed: vec!["identity-agent".into()],
            problems: vec![],
            clock_offset_seconds: None,
            programs,
        }
    }

    #[test]
    fn installed_programs_put_the_catalogues_applications_on_the_workstation() {
        let cat = Catalogue::shipped();
        let inv = listing(Some(vec![
            program("Microsoft Edge", "131.0"),
            program("emis web Health Care System", "9.12.4"),
            program("SystmOne Client", ""),
        ]))
        .with_applications(&cat);
        let found: Vec<(&str, &str, &str)> = inv
            .software
            .iter()
            .map(|s| (s.component.as_str(), s.version.as_str(), s.source.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                ("identity-agent", "2.4.10.0", "registry: NHS Identity Agent"),
                ("emis-web", "9.12.4", "program: emis web Health Care System"),
                ("systmone", "unknown", "program: SystmOne Client"),
            ]
        );
        // Every application the catalogue can recognise was looked for, so one gone is removed;
        // a browser application (no installed name) never is.
        for id in ["identity-agent", "emis-web", "systmone", "vision"] {
            assert!(inv.probed.iter().any(|p| p == id), "{id}: {:?}", inv.probed);
        }
        assert!(!inv.probed.iter().any(|p| p == "eps"));
        // No program list (an older agent, or none to read): nothing is taken as uninstalled.
        let unread = listing(None).with_applications(&cat);
        assert_eq!(unread, listing(None));
        // A near miss: a name that only resembles one is not it.
        let near =
            listing(Some(vec![program("Vision Express Optical", "1.0")])).with_applications(&cat);
        assert_eq!(near.software.len(), 1, "{:?}", near.software);
    }

    #[test]
    fn a_catalogue_name_for_programs_needs_its_source_and_cannot_be_empty() {
        let entry = |extra: &str| {
            format!(
                "[[applications]]\nid = \"pathlinks\"\nname = \"Pathology links\"\ncis2 = \"unconfirmed\"\n{extra}source = \"unconfirmed\"\nas_of = 2026-12-06\n"
            )
        };
        let no_source = Catalogue::parse("local.toml", &entry("installed_as = [\"Path\"]\n"))
            .unwrap_err()
            .to_string();
        assert!(
            no_source.contains("local.toml:2") && no_source.contains("installed_as_source"),
            "{no_source}"
        );
        let empty = Catalogue::parse(
            "local.toml",
            &entry("installed_as = [\" \"]\ninstalled_as_source = \"unconfirmed\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(empty.contains("empty name"), "{empty}");
        let good = Catalogue::parse(
            "local.toml",
            &entry("installed_as = [\"Path\"]\ninstalled_as_source = \"unconfirmed\"\n"),
        )
        .expect("parses");
        assert!(good.applications[0].is_installed_as("PATH Links 2"));
    }

    fn verdicts(certs: &[CardCertificate]) -> String {
        certificate_verdicts(certs, Timestamp::from_unix(1_800_000_000)).join("\n")
    }

    #[test]
    fn an_expired_signing_certificate_on_a_card_that_logs_in_is_said_plainly() {
        let v = verdicts(&[
            cert("C1", CertPurpose::Authentication, 400, "sha256"),
            cert("C1", CertPurpose::Signing, -3, "sha256"),
        ]);
        assert!(
            v.starts_with(
                "card C1: logs in, cannot sign: signing certificate expired on 2027-01-12"
            ),
            "{v}"
        );
    }

    #[test]
    fn each_state_of_the_two_certificates_has_its_own_words() {
        let ok = verdicts(&[
            cert("C1", CertPurpose::Authentication, 400, "sha256"),
            cert("C1", CertPurpose::Signing, 400, "sha256"),
        ]);
        assert!(ok.contains("both certificates valid"), "{ok}");
        let expired = verdicts(&[cert("C1", CertPurpose::Authentication, -1, "sha256")]);
        assert!(
            expired.contains("cannot log in") && expired.contains("in person"),
            "{expired}"
        );
        let window = verdicts(&[
            cert("C1", CertPurpose::Authentication, 60, "sha256"),
            cert("C1", CertPurpose::Signing, 400, "sha256"),
        ]);
        assert!(
            window.contains("self-renew now") && !window.contains("both"),
            "{window}"
        );
        let series10 = verdicts(&[cert("C1", CertPurpose::Authentication, 400, "sha256")]);
        assert!(series10.contains("no signing certificate"), "{series10}");
        let sha1 = verdicts(&[
            cert("C1", CertPurpose::Authentication, 400, "sha256"),
            cert("C1", CertPurpose::Signing, 400, "sha1"),
        ]);
        assert!(sha1.contains("SHA-1"), "{sha1}");
        let soon = verdicts(&[
            cert("C1", CertPurpose::Authentication, 400, "sha256"),
            cert("C1", CertPurpose::Signing, 10, "sha256"),
        ]);
        assert!(
            soon.contains("signing certificate expires on") && soon.contains("(10 days)"),
            "{soon}"
        );
        // The newest certificate of a purpose is the one in use.
        let renewed = verdicts(&[
            cert("C1", CertPurpose::Authentication, 400, "sha256"),
            cert("C1", CertPurpose::Signing, -30, "sha256"),
            cert("C1", CertPurpose::Signing, 700, "sha256"),
        ]);
        assert!(renewed.contains("both certificates valid"), "{renewed}");
    }

    #[test]
    fn probes_say_nothing_when_nothing_was_configured() {
        let mut p = Probes::default();
        assert_eq!(p.credential_management_running(), None);
        assert_eq!(p.endpoints_reachable(), None);
        p.credential_management_ports = vec![(43487, false), (43488, true)];
        assert_eq!(p.credential_management_running(), Some(true));
        p.endpoints.push(Endpoint {
            url: "https://a".into(),
            reachable: false,
            detail: "refused".into(),
        });
        assert_eq!(p.endpoints_reachable(), Some(false));
    }
}
