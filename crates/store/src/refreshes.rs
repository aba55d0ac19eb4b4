//! When each site's card data was last refreshed (migration 0017): imports mark the sites of the
//! cards they name (`Tx::note_refreshed`), agents' reports the site of their workstation. Read for
//! the stale-data health rule.

use cardwatch_core::date::Timestamp;
use cardwatch_core::health::SiteRefreshFacts;

use crate::exec::{with_exec, with_read};
use crate::{Store, StoreError};

/// Marks `site`'s card data refreshed at `at`, unless it already was later. Not audited: it
/// records that data arrived, not a change to the estate (a change is audited by the import).
pub fn note_site_refreshed(store: &dyn Store, site: &str, at: Timestamp) -> Result<(), StoreError> {
    with_exec(store, |x| {
        x.exec(
            "INSERT INTO site_refreshes (site_ods, refreshed_at) VALUES ($1, $2)
             ON CONFLICT (site_ods) DO UPDATE SET refreshed_at = CASE
               WHEN site_refreshes.refreshed_at > excluded.refreshed_at
               THEN site_refreshes.refreshed_at ELSE excluded.refreshed_at END",
            &[site.into(), at.unix().into()],
        )
        .map(drop)
    })
}

/// Every site with its name and last refresh (`None` if it has none), in site order.
pub fn site_refreshes(store: &dyn Store) -> Result<Vec<SiteRefreshFacts>, StoreError> {
    with_read(store, |x| {
        Ok(x.rows(
            "SELECT s.site_ods, s.name, r.refreshed_at FROM sites s \
             LEFT JOIN site_refreshes r ON r.site_ods = s.site_ods ORDER BY s.site_ods",
            &[],
        )?
        .into_iter()
        .map(|r| SiteRefreshFacts {
            site_ods: r[0].text().to_owned(),
            name: r[1].text().to_owned(),
            refreshed_at: r[2].opt_int().map(Timestamp::from_unix),
        })
        .collect())
    })
}
