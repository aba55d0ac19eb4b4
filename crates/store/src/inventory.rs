//! An agent's inventory into the estate: its workstation (OS, build, last seen), the smartcard
//! software its probes found, its readers and firmware, and the certificates on cards the
//! estate holds — through the same validated, audited import as a CSV file, so an agent can
//! write nothing an operator's file could not, and unchanged records are left alone.
//!
//! The workstation is the one the agent enrolled as, never the name inside the report. A
//! workstation the estate does not know is added only at the site the enrolment token named.

use cardwatch_core::date::Timestamp;
use cardwatch_core::inventory::Inventory;
use cardwatch_core::reader::Firmware;
use cardwatch_core::x509::CertPurpose;
use serde_json::json;

use crate::agents::Agent;
use crate::exec::{with_exec, Entry};
use crate::import::{ImportInput, ImportOptions};
use crate::{Change, Store, StoreError};

/// What became of an inventory, in plain words (kept on the agent's record).
pub fn apply_inventory(
    store: &dyn Store,
    agent: &Agent,
    inv: &Inventory,
    seen: Timestamp,
    change: &Change,
) -> Result<String, StoreError> {
    let host = agent.hostname.as_str();
    let (known, cards) = with_exec(store, |x| {
        let known = x
            .rows(
                "SELECT site_ods, update_ring, update_window FROM workstations WHERE hostname = $1",
                &[host.into()],
            )?
            .into_iter()
            .next();
        let mut cards = Vec::new();
        for c in inv.certificates.iter().flatten() {
            let serial = c.token_serial.to_ascii_uppercase();
            if !cards.contains(&serial)
                && !x
                    .rows(
                        "SELECT 1 FROM cards WHERE card_serial = $1",
                        &[serial.as_str().into()],
                    )?
                    .is_empty()
            {
                cards.push(serial);
            }
        }
        Ok((known, cards))
    })?;
    let (site, ring, window) = match (&known, &agent.site_ods) {
        (Some(row), _) => (
            row[0].text().to_owned(),
            row[1].text().to_owned(),
            row[2].opt_text().map(str::to_owned),
        ),
        (None, Some(site)) => (site.clone(), "broad".to_owned(), None),
        (None, None) => {
            return note(
                store,
                agent,
                seen,
                format!(
                    "{host} is not in the estate and the agent's enrolment named no site: import \
                     the workstation, or enrol the agent with a token made with --site"
                ),
            )
        }
    };
    let os = inv.os.as_ref();
    let mut docs = vec![(
        "workstations",
        vec![json!({
            "hostname": host,
            "site_ods": site,
            "os": os.map(|o| o.name.as_str()),
            "os_build": os.map(|o| o.build.as_str()),
            "update_ring": ring,
            "last_seen": seen.to_string(),
            "update_window": window,
        })],
    )];
    docs.push((
        "software",
        inv.software
            .iter()
            .map(|s| json!({"hostname": host, "component": s.component, "version": s.version}))
            .collect(),
    ));
    // PC/SC names a reader but gives no serial: the workstation and the name stand for it.
    let readers = inv.readers.iter().flat_map(|r| &r.readers).map(|r| {
        json!({
            "reader_serial": format!("{host}/{}", r.name),
            "vendor": r.vendor.as_deref().unwrap_or("unknown"),
            "model": r.model.as_deref().unwrap_or(&r.name),
            "firmware": match &r.firmware {
                Firmware::Version(v) => Some(v.as_str()),
                Firmware::Unsupported => None,
            },
            "hostname": host,
            "site_ods": site,
            "status": "in_service",
        })
    });
    docs.push(("readers", readers.collect()));
    let certs = inv
        .certificates
        .iter()
        .flatten()
        .filter(|c| c.cert.purpose != CertPurpose::Unknown)
        .filter(|c| cards.contains(&c.token_serial.to_ascii_uppercase()))
        .map(|c| {
            json!({
                "card_serial": c.token_serial.to_ascii_uppercase(),
                "purpose": c.cert.purpose.as_str(),
                "serial_number": c.cert.serial_number,
                "issuer": c.cert.issuer,
                "not_before": c.cert.not_before.date().to_string(),
                "not_after": c.cert.not_after.date().to_string(),
                "hash_algorithm": c.cert.hash_algorithm,
            })
        });
    docs.push(("certificates", certs.collect()));
    let inputs: Vec<ImportInput> = docs
        .iter()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(kind, rows)| {
            ImportInput::records(&format!("agent {} {kind}", agent.id), rows.clone())
        })
        .collect();
    let report = store.import(&inputs, &ImportOptions::default(), change)?;
    let (created, updated): (u64, u64) = report
        .files
        .iter()
        .fold((0, 0), |(c, u), f| (c + f.created, u + f.updated));
    let removed = remove_uninstalled(store, host, inv, change)?;
    // The agent's report is the site's card data as it stands, whether or not a card was in a
    // reader (an agent clock ahead of the server's cannot date it into the future).
    crate::refreshes::note_site_refreshed(store, &site, seen.min(change.at))?;
    let skipped = inv
        .certificates
        .iter()
        .flatten()
        .filter(|c| !cards.contains(&c.token_serial.to_ascii_uppercase()))
        .count();
    let mut said = format!(
        "{host}: {created} record(s) added, {updated} changed, {removed} uninstalled component(s) removed"
    );
    if skipped > 0 {
        said.push_str(&format!(
            "; {skipped} certificate(s) on cards the estate does not hold were not recorded"
        ));
    }
    note(store, agent, seen, said)
}

/// Removes the software the agent looked for and no longer finds (audited); how many.
fn remove_uninstalled(
    store: &dyn Store,
    host: &str,
    inv: &Inventory,
    change: &Change,
) -> Result<usize, StoreError> {
    let gone: Vec<&String> = inv
        .probed
        .iter()
        .filter(|c| !inv.software.iter().any(|s| &&s.component == c))
        .collect();
    if gone.is_empty() {
        return Ok(0);
    }
    with_exec(store, |x| {
        let mut n = 0;
        for component in gone {
            let was = x.rows(
                "SELECT version FROM software WHERE hostname = $1 AND component = $2",
                &[host.into(), component.as_str().into()],
            )?;
            let Some(row) = was.first() else { continue };
            x.exec(
                "DELETE FROM software WHERE hostname = $1 AND component = $2",
                &[host.into(), component.as_str().into()],
            )?;
            x.audit(
                change,
                &Entry {
                    action: "delete",
                    kind: "software",
                    // The import's own key form: the fields joined by the unit separator.
                    key: &format!("{host}\u{1f}{component}"),
                    before: Some(json!({ "version": row[0].text() }).to_string()),
                    after: None,
                },
            )?;
            n += 1;
        }
        Ok(n)
    })
}

/// Keeps what became of the inventory on the agent's record; returns it.
fn note(
    store: &dyn Store,
    agent: &Agent,
    at: Timestamp,
    said: String,
) -> Result<String, StoreError> {
    crate::agents::note_inventory(store, &agent.id, at, &said)?;
    Ok(said)
}
