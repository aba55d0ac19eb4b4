//! Reading what the estate knows about one triage: the card, its certificates, the holder's
//! positions, and the workstation's software and readers — a handful of keyed lookups.

use cardwatch_core::ids::{CardSerial, Hostname, OdsCode};
use cardwatch_core::records::{Kind, Record, Value};
use cardwatch_core::triage::TriageContext;

use crate::{Store, StoreError};

/// More rows than any card, holder or workstation has: a cap, not a page.
const MOST: usize = 200;

/// Records of a kind whose (text) column equals a value, parsed and checked as on import — a
/// card's certificates, a holder's positions, a workstation's software.
pub fn records_of(
    store: &dyn Store,
    kind: Kind,
    column: &str,
    value: &str,
) -> Result<Vec<Record>, StoreError> {
    store
        .records_where(kind, column, value, MOST)?
        .into_iter()
        .map(|values| {
            let fields: Vec<String> = values.iter().map(Value::to_csv).collect();
            let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
            Record::parse(kind, &fields).map_err(|e| {
                StoreError::Database(format!("a stored {kind} record no longer parses: {e:?}"))
            })
        })
        .collect()
}

/// The estate's records for a triage at `site`, about `card_serial` on `hostname` (each if
/// given and known).
pub fn triage_context(
    store: &dyn Store,
    site: Option<&OdsCode>,
    card_serial: Option<&CardSerial>,
    hostname: Option<&Hostname>,
) -> Result<TriageContext, StoreError> {
    let mut cx = TriageContext {
        site: site.map(|s| s.as_str().to_owned()),
        ..TriageContext::default()
    };
    if let Some(code) = site {
        cx.site_name = records_of(store, Kind::Sites, "site_ods", code.as_str())?
            .into_iter()
            .find_map(|r| match r {
                Record::Site(s) => Some(s.name),
                _ => None,
            });
    }
    if let Some(serial) = card_serial.map(CardSerial::as_str) {
        if let Some(Record::Card(card)) = records_of(store, Kind::Cards, "card_serial", serial)?
            .into_iter()
            .next()
        {
            for r in records_of(store, Kind::Certificates, "card_serial", serial)? {
                if let Record::Certificate(c) = r {
                    cx.certificates.push(c);
                }
            }
            for r in records_of(
                store,
                Kind::Positions,
                "holder_uuid",
                card.holder_uuid.as_str(),
            )? {
                if let Record::Position(p) = r {
                    cx.positions.push(p);
                }
            }
            if let Some(Record::Person(p)) =
                records_of(store, Kind::People, "uuid", card.holder_uuid.as_str())?
                    .into_iter()
                    .next()
            {
                cx.holder_site = Some(p.site_ods.as_str().to_owned());
                cx.holder_name = Some(p.name);
            }
            for r in records_of(store, Kind::IntegrationCards, "card_serial", serial)? {
                let Record::IntegrationCard(link) = r else {
                    continue;
                };
                let id = link.integration.as_str();
                if let Some(Record::Integration(i)) =
                    records_of(store, Kind::Integrations, "integration", id)?
                        .into_iter()
                        .next()
                {
                    cx.integrations.push((i, link));
                }
            }
            cx.card = Some(card);
        }
    }
    if let Some(host) = hostname.map(Hostname::as_str) {
        if let Some(Record::Workstation(w)) =
            records_of(store, Kind::Workstations, "hostname", host)?
                .into_iter()
                .next()
        {
            for r in records_of(store, Kind::Software, "hostname", host)? {
                if let Record::Software(s) = r {
                    cx.software.push(s);
                }
            }
            for r in records_of(store, Kind::Readers, "hostname", host)? {
                if let Record::Reader(rd) = r {
                    cx.readers.push(rd);
                }
            }
            if cx.site.is_none() {
                cx.site = Some(w.site_ods.as_str().to_owned());
            }
            cx.hostname = Some(host.to_owned());
            cx.workstation = Some(w);
        }
        // An agent may run on a workstation the estate has not imported yet.
        cx.last_signing = crate::agents::last_signing(store, host)?;
    }
    Ok(cx)
}
