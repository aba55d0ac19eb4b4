//! What the estate already knows about a triage — the card's status and series, its two
//! certificates, the holder's positions, the workstation's smartcard software and readers — as
//! facts that answer the knowledge base's lookups, so nobody is asked what Cardwatch can see.
//! Each fact says where it came from.

use crate::card_status::CardStatus;
use crate::catalogue::{compare, Catalogue, Presence};
use crate::date::Date;
use crate::date::Timestamp;
use crate::estate::{
    Card, Certificate, Integration, IntegrationCard, Position, Reader, Software, Workstation,
};
use crate::inventory::{in_use, Inventory, Probes, RENEWAL_WINDOW_DAYS, SIGNING_SOON_DAYS};
use crate::vocab::{ClinicalSystem, PositionStatus, Purpose};
use crate::x509::CertPurpose;

use super::engine::Fact;

/// The estate's records about one triage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The site (ODS code) the person is at.
    pub site: Option<String>,
    /// Its name, if the estate has the site.
    pub site_name: Option<String>,
    /// The card, if the estate has it.
    pub card: Option<Card>,
    /// Its certificates.
    pub certificates: Vec<Certificate>,
    /// The holder's positions.
    pub positions: Vec<Position>,
    /// The holder's name, if the estate has them.
    pub holder_name: Option<String>,
    /// The holder's site, if the estate has them.
    pub holder_site: Option<String>,
    /// The workstation, if the estate has it.
    pub workstation: Option<Workstation>,
    /// The workstation's hostname, if the estate has it (its software and readers are then
    /// known: an absent component is missing, not unknown).
    pub hostname: Option<String>,
    /// Smartcard software installed on it.
    pub software: Vec<Software>,
    /// Readers plugged into it.
    pub readers: Vec<Reader>,
    /// The services that act with the card, each with the card's entry (its EMIS account).
    pub integrations: Vec<(Integration, IntegrationCard)>,
    /// When an agent on the workstation last saw a signing self-test pass, and the card's token
    /// label.
    pub last_signing: Option<(Timestamp, String)>,
}

fn fact(key: &str, value: &str, because: String) -> Fact {
    Fact {
        key: key.to_owned(),
        value: value.to_owned(),
        because,
    }
}

/// The facts the estate gives, as of `today`; `prescribing` are the activity codes that let a
/// position prescribe.
pub fn estate_facts(
    cx: &Context,
    catalogue: &Catalogue,
    today: Date,
    prescribing: &[String],
) -> Vec<Fact> {
    let mut out = Vec::new();
    if let Some(card) = &cx.card {
        card_facts(card, catalogue, today, &mut out);
        for purpose in [Purpose::Signing, Purpose::Authentication] {
            cert_fact(card, &cx.certificates, purpose, today, &mut out);
        }
        position_facts(cx, prescribing, &mut out);
        integration_facts(cx, &mut out);
    }
    if let Some(host) = &cx.hostname {
        let installed = cx
            .software
            .iter()
            .map(|s| (s.component.as_str(), s.version.as_str()));
        software_facts(
            host,
            installed,
            "the estate records",
            catalogue,
            today,
            &mut out,
        );
        let readers = cx
            .readers
            .iter()
            .filter_map(|r| Some((r.vendor.as_str(), r.model.as_str(), r.firmware.as_deref()?)));
        reader_fact(host, readers, "the estate records", catalogue, &mut out);
    }
    out
}

fn card_facts(card: &Card, catalogue: &Catalogue, today: Date, out: &mut Vec<Fact>) {
    let serial = card.card_serial.as_str();
    let status = match card.status {
        CardStatus::Active => "active",
        CardStatus::Locked => "locked",
        _ => "blocked",
    };
    out.push(fact(
        "card.status",
        status,
        format!("the estate records card {serial} as {}", card.status),
    ));
    let n = card.series.number();
    if let Some(s) = catalogue.series(n) {
        let value = if s.stops_working.is_some_and(|d| d <= today) {
            "retired"
        } else if !s.sign {
            "series-10"
        } else {
            "other"
        };
        out.push(fact(
            "card.series",
            value,
            format!("card {serial} is series {n} ({})", s.maker),
        ));
    }
}

fn cert_fact(
    card: &Card,
    certs: &[Certificate],
    purpose: Purpose,
    today: Date,
    out: &mut Vec<Fact>,
) {
    // The newest certificate of the purpose is the one in use.
    let Some(cert) = certs
        .iter()
        .filter(|c| c.card_serial == card.card_serial && c.purpose == purpose)
        .max_by_key(|c| c.not_after)
    else {
        return;
    };
    let (key, value) = cert_verdict(purpose, i64::from(today.days_until(cert.not_after)));
    out.push(fact(
        key,
        value,
        format!(
            "the estate has the {purpose} certificate of card {} valid until {}",
            card.card_serial.as_str(),
            cert.not_after.long()
        ),
    ));
}

/// The fact key of a certificate's purpose and its value with `left` days to run.
fn cert_verdict(purpose: Purpose, left: i64) -> (&'static str, &'static str) {
    let (key, soon, near) = match purpose {
        Purpose::Signing => ("cert.signing", SIGNING_SOON_DAYS, "expiring"),
        Purpose::Authentication => ("cert.authentication", RENEWAL_WINDOW_DAYS, "in-window"),
    };
    let value = if left < 0 {
        "expired"
    } else if left <= soon {
        near
    } else {
        "valid"
    };
    (key, value)
}

/// What the integration profile says of the onboarding checks: whether the card has its own
/// EMIS account, and whether the EMIS CDB or SystmOne profile name the service holds is the
/// practice's. Only when one service at the site acts with the card: with several, which one
/// failed is not known.
fn integration_facts(cx: &Context, out: &mut Vec<Fact>) {
    let here: Vec<&(Integration, IntegrationCard)> = cx
        .integrations
        .iter()
        .filter(|(i, _)| cx.site.as_deref().is_none_or(|s| i.site_ods.as_str() == s))
        .collect();
    let [(i, link)] = here[..] else {
        return;
    };
    let because = |what: &str| {
        format!(
            "{what} in the integration profile {} ({})",
            i.integration, i.service
        )
    };
    let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
        (Some(a), Some(b)) => Some(if a.trim() == b.trim() { "yes" } else { "no" }),
        _ => None,
    };
    match i.clinical_system {
        ClinicalSystem::Emis => {
            let account = if link.emis_username.is_some() {
                "yes"
            } else {
                "no"
            };
            out.push(fact(
                "integration.emis-account",
                account,
                because("the card's EMIS account"),
            ));
            if let Some(v) = same(&i.emis_cdb, &i.service_emis_cdb) {
                out.push(fact("integration.emis-cdb", v, because("both EMIS CDBs")));
            }
        }
        ClinicalSystem::Systmone => {
            if let Some(v) = same(&i.systmone_profile, &i.service_systmone_profile) {
                out.push(fact(
                    "integration.systmone-profile",
                    v,
                    because("both SystmOne profile names"),
                ));
            }
        }
        ClinicalSystem::Vision | ClinicalSystem::Other => {}
    }
}

fn position_facts(cx: &Context, prescribing: &[String], out: &mut Vec<Fact>) {
    let here: Vec<&Position> = cx
        .positions
        .iter()
        .filter(|p| cx.site.as_deref().is_none_or(|s| p.ods_code.as_str() == s))
        .collect();
    let active = here.iter().any(|p| p.status == PositionStatus::Active);
    let waiting = here.iter().any(|p| {
        matches!(
            p.status,
            PositionStatus::Requested | PositionStatus::Approved
        )
    });
    let at = cx
        .site
        .as_deref()
        .map_or("any organisation".to_owned(), str::to_owned);
    let status = if active {
        "active"
    } else if waiting {
        "awaiting"
    } else {
        "none"
    };
    out.push(fact(
        "position.status",
        status,
        format!("the estate's positions for the holder at {at}"),
    ));
    if cx.site.is_some() {
        out.push(fact(
            "position.at-site",
            if active { "yes" } else { "no" },
            format!("the estate's positions for the holder at {at}"),
        ));
    }
    let prescribes = here.iter().any(|p| {
        p.status == PositionStatus::Active
            && p.activity_codes
                .iter()
                .any(|a| prescribing.iter().any(|x| x == a.as_str()))
    });
    out.push(fact(
        "position.activity-codes",
        if prescribes { "yes" } else { "no" },
        format!("the estate's activity codes for the holder's active positions at {at}"),
    ));
}

/// Each catalogue component's verdict from the versions found on `host` (component, version);
/// `source` says who found them ("the estate records", "the agent found").
fn software_facts<'a>(
    host: &str,
    installed: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    source: &str,
    catalogue: &Catalogue,
    today: Date,
    out: &mut Vec<Fact>,
) {
    // The authentication client, from its component; software that belongs to another client
    // than the one in use says nothing here (Identity Agent is rightly absent under Smartcard
    // Connect). With no client at all, every component's absence is a fact.
    let clients: Vec<&crate::catalogue::ClientEntry> = catalogue
        .clients
        .iter()
        .filter(|c| installed.clone().any(|(s, _)| s == c.component))
        .collect();
    if let [client] = clients[..] {
        out.push(fact(
            "workstation.auth-client",
            &client.component,
            format!("{source} {} on {host}", client.name),
        ));
    }
    for entry in &catalogue.software {
        if let Some(c) = &entry.client {
            if !clients.is_empty() && !clients.iter().any(|x| x.id == *c) {
                continue;
            }
        }
        let found = installed
            .clone()
            .find(|(c, _)| *c == entry.id)
            .map(|(_, v)| v);
        let key = format!("software.{}", entry.id);
        let value = match (entry.presence, found) {
            (Presence::Remove, Some(_)) => "present",
            (Presence::Remove, None) => "absent",
            (_, None) => "missing",
            (_, Some(v)) => {
                // The mandatory minimum once in force, else the current release.
                let floor = match (&entry.mandatory_minimum, entry.mandatory_from) {
                    (Some(min), Some(from)) if from <= today => Some(min),
                    _ => entry.current.as_ref(),
                };
                match floor {
                    Some(f) if compare(v, f.as_str()).is_lt() => "outdated",
                    _ => "current",
                }
            }
        };
        let what = match found {
            Some(v) => format!("{} {v} on {host}", entry.name),
            None => format!("no {} on {host}", entry.name),
        };
        let against = entry
            .current
            .as_ref()
            .map_or(String::new(), |c| format!(", current {c}"));
        out.push(fact(&key, value, format!("{source} {what}{against}")));
    }
}

/// The firmware verdict over `host`'s readers (vendor, model, firmware).
fn reader_fact<'a>(
    host: &str,
    readers: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
    source: &str,
    catalogue: &Catalogue,
    out: &mut Vec<Fact>,
) {
    let mut judged = None;
    for (vendor, model, fw) in readers {
        let Some(entry) = catalogue.reader(vendor, model) else {
            continue;
        };
        let old = compare(fw, entry.current_firmware.as_str()).is_lt();
        let because = format!(
            "{source} {vendor} {model} firmware {fw} on {host}, current {}",
            entry.current_firmware
        );
        // One outdated reader is enough to say so.
        if old || judged.is_none() {
            judged = Some((if old { "outdated" } else { "current" }, because));
        }
        if old {
            break;
        }
    }
    if let Some((value, because)) = judged {
        out.push(fact("reader.firmware", value, because));
    }
}

/// The facts an agent's report gives, as of `now`: what it saw of the readers and cards, the
/// certificates on the card, the smartcard software, and its automatic checks. They go before
/// the estate's facts, which may be older.
pub fn agent_facts(
    inv: &Inventory,
    probes: Option<&Probes>,
    catalogue: &Catalogue,
    now: Timestamp,
) -> Vec<Fact> {
    let mut out = Vec::new();
    let host = inv.hostname.as_str();
    let found = |what: String| format!("the agent on {host} found {what}");
    if let Some(r) = &inv.readers {
        let seated = match r.cards {
            0 => "not-inserted",
            1 => "yes",
            _ => "two-cards",
        };
        out.push(fact(
            "agent.card-seated",
            seated,
            found(format!(
                "{} card(s) in {} reader(s)",
                r.cards,
                r.readers.len()
            )),
        ));
        // A reader the vendor's driver serves names its vendor; none at all says the driver
        // (or the reader) is missing. A reader without a vendor name proves neither.
        if r.readers.is_empty() {
            out.push(fact(
                "agent.reader-driver-ok",
                "no",
                found("no smartcard reader".into()),
            ));
        } else if let Some(named) = r.readers.iter().find(|x| x.vendor.is_some()) {
            out.push(fact(
                "agent.reader-driver-ok",
                "yes",
                found(format!("{} served by its vendor's driver", named.name)),
            ));
        }
        let readers = r.readers.iter().filter_map(|x| match &x.firmware {
            crate::reader::Firmware::Version(v) => {
                Some((x.vendor.as_deref()?, x.model.as_deref()?, v.as_str()))
            }
            crate::reader::Firmware::Unsupported => None,
        });
        reader_fact(host, readers, "the agent found", catalogue, &mut out);
    }
    if let Some(certs) = &inv.certificates {
        for (purpose, p) in [
            (CertPurpose::Signing, Purpose::Signing),
            (CertPurpose::Authentication, Purpose::Authentication),
        ] {
            if let Some(c) = in_use(certs, purpose) {
                let (key, value) = cert_verdict(p, c.cert.days_left(now));
                out.push(fact(
                    key,
                    value,
                    found(format!(
                        "the {p} certificate of card {} valid until {}",
                        c.token,
                        c.cert.not_after.date().long()
                    )),
                ));
            }
        }
    }
    let installed = inv
        .software
        .iter()
        .map(|s| (s.component.as_str(), s.version.as_str()));
    software_facts(
        host,
        installed,
        "the agent found",
        catalogue,
        now.date(),
        &mut out,
    );
    if let Some(p) = probes {
        if let Some(up) = p.credential_management_running() {
            let ports: Vec<String> = p
                .credential_management_ports
                .iter()
                .map(|(port, up)| format!("{port} {}", if *up { "answers" } else { "closed" }))
                .collect();
            out.push(fact(
                "agent.credential-management-running",
                if up { "running" } else { "not-running" },
                found(format!(
                    "Credential Management's local ports: {}",
                    ports.join(", ")
                )),
            ));
        }
        if let Some(all) = p.endpoints_reachable() {
            let down: Vec<&str> = p
                .endpoints
                .iter()
                .filter(|e| !e.reachable)
                .map(|e| e.url.as_str())
                .collect();
            out.push(fact(
                "agent.cis-domains-reachable",
                if all { "yes" } else { "no" },
                found(if all {
                    format!("all {} NHS endpoints reachable over TLS", p.endpoints.len())
                } else {
                    format!("unreachable over TLS: {}", down.join(", "))
                }),
            ));
        }
    }
    out
}
