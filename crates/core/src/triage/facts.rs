//! What the estate already knows about a triage — the card's status and series, its two
//! certificates, the holder's positions, the workstation's smartcard software and readers — as
//! facts that answer the knowledge base's lookups, so nobody is asked what Cardwatch can see.
//! Each fact says where it came from.

use crate::card_status::CardStatus;
use crate::catalogue::{compare, Catalogue, Presence};
use crate::date::Date;
use crate::estate::{Card, Certificate, Position, Reader, Software, Workstation};
use crate::vocab::{PositionStatus, Purpose};

use super::engine::Fact;

/// The estate's records about one triage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// The site (ODS code) the person is at.
    pub site: Option<String>,
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
}

/// Days before expiry at which a signing certificate counts as expiring (seed 002: within 30).
const SIGNING_SOON_DAYS: i32 = 30;
/// The self-renewal window.
const RENEWAL_WINDOW_DAYS: i32 = 90;

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
    }
    if let Some(host) = &cx.hostname {
        software_facts(host, &cx.software, catalogue, today, &mut out);
        reader_fact(host, &cx.readers, catalogue, &mut out);
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
    let left = today.days_until(cert.not_after);
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
    out.push(fact(
        key,
        value,
        format!(
            "the estate has the {purpose} certificate of card {} valid until {}",
            card.card_serial.as_str(),
            cert.not_after
        ),
    ));
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

fn software_facts(
    host: &str,
    installed: &[Software],
    catalogue: &Catalogue,
    today: Date,
    out: &mut Vec<Fact>,
) {
    for entry in &catalogue.software {
        let found = installed
            .iter()
            .find(|s| s.component == entry.id)
            .map(|s| s.version.as_str());
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
        out.push(fact(
            &key,
            value,
            format!("the estate records {what}{against}"),
        ));
    }
}

fn reader_fact(host: &str, readers: &[Reader], catalogue: &Catalogue, out: &mut Vec<Fact>) {
    let mut judged = None;
    for r in readers {
        let (Some(fw), Some(entry)) = (&r.firmware, catalogue.reader(&r.vendor, &r.model)) else {
            continue;
        };
        let old = compare(fw, entry.current_firmware.as_str()).is_lt();
        let because = format!(
            "the estate records {} {} firmware {fw} on {host}, current {}",
            r.vendor, r.model, entry.current_firmware
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
