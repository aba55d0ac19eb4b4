//! Placing what a run of audit records touched ([`cardwatch_core::health::Touched`]) on the
//! sites whose findings a re-check must compute again.

use std::collections::BTreeSet;

use cardwatch_core::health::{reach, Reach, Touched, RECHECK_MAX_RECORDS};

use crate::exec::{with_read, Exec, P};
use crate::{Store, StoreError};

/// What the changes recorded in the audit chain between lengths `from` and `to` touched, or why
/// they cannot be placed (too many to read, or a change no site bounds) and everything must be
/// read again. Shared by the health re-check and the renewal plan's update.
pub fn touched_since(
    store: &dyn Store,
    from: i64,
    to: i64,
) -> Result<Result<Touched, String>, StoreError> {
    let wanted = (to - from) as usize;
    if wanted > RECHECK_MAX_RECORDS {
        return Ok(Err(format!("{wanted} audit records to read")));
    }
    let records: Vec<_> = store
        .audit_records(from, wanted)?
        .into_iter()
        .map(|r| r.record)
        .collect();
    Ok(match reach(&records) {
        Reach::Full(why) => Err(why),
        Reach::Touched(t) => Ok(t),
    })
}

/// The sites `t` touched, as the estate stands; `None` when something it names cannot be placed
/// (a card or workstation no longer in the estate, an agent without a workstation), for which
/// the caller runs a full check.
pub fn touched_sites(
    store: &dyn Store,
    t: &Touched,
) -> Result<Option<BTreeSet<String>>, StoreError> {
    with_read(store, |x| {
        let mut sites = t.sites.clone();
        // Each lookup is by key or an indexed column: a practice's import names a few hundred.
        let mut one = |x: &mut dyn Exec, sql: &str, key: &str| -> Result<bool, StoreError> {
            let rows = x.rows(sql, &[P::from(key)])?;
            let found = !rows.is_empty();
            sites.extend(rows.into_iter().map(|r| r[0].text().to_owned()));
            Ok(found)
        };
        for uuid in &t.people {
            // Someone no longer in the estate has no findings left to move; their old site is in
            // the record that removed them.
            one(x, "SELECT site_ods FROM people WHERE uuid = $1", uuid)?;
        }
        for serial in &t.cards {
            let sql = "SELECT p.site_ods FROM cards c JOIN people p ON p.uuid = c.holder_uuid \
                       WHERE c.card_serial = $1";
            if !one(x, sql, serial)? {
                return Ok(None);
            }
        }
        for host in &t.hosts {
            if !one(
                x,
                "SELECT site_ods FROM workstations WHERE hostname = $1",
                host,
            )? {
                return Ok(None);
            }
        }
        for agent in &t.agents {
            // An agent enrolled for a site whose workstation is not in the estate yet has no
            // findings of its own; once its workstation is imported, that import places it.
            let sql = "SELECT w.site_ods FROM agents a JOIN workstations w \
                       ON w.hostname = a.hostname WHERE a.id = $1";
            one(x, sql, agent)?;
        }
        if let Some(since) = t.refreshed_since {
            let rows = x.rows(
                "SELECT site_ods FROM site_refreshes WHERE refreshed_at >= $1",
                &[since.unix().into()],
            )?;
            sites.extend(rows.into_iter().map(|r| r[0].text().to_owned()));
        }
        Ok(Some(sites))
    })
}
