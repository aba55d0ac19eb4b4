//! What the reports read: the staff time incidents cost, and incidents against the software
//! versions of the workstations they happened on. The judging is `core::reports`.

use cardwatch_core::date::Timestamp;
use cardwatch_core::reports::VersionCount;

use crate::exec::{with_read, P};
use crate::incidents::{filter, IncidentQuery};
use crate::StoreError;

/// Incidents a query matches that were opened since `since` and have ended with a time to fix:
/// (how many, their minutes to fix in all).
pub fn time_lost(
    store: &dyn crate::Store,
    q: &IncidentQuery,
    since: Timestamp,
) -> Result<(u64, f64), StoreError> {
    let (filter, mut params) = filter(q);
    params.push(P::I(since.unix()));
    let n = params.len();
    with_read(store, |x| {
        let rows = x.rows(
            &format!(
                "SELECT COUNT(*), SUM(minutes_to_fix) FROM incidents \
                 WHERE {filter} AND minutes_to_fix IS NOT NULL AND opened_at >= ${n}"
            ),
            &params,
        )?;
        let row = rows.first();
        Ok((
            row.map_or(0, |r| r[0].int() as u64),
            row.and_then(|r| r[1].opt_real()).unwrap_or(0.0),
        ))
    })
}

/// For each version of each component installed at the sites (`None`: every site), how many
/// workstations have it, how many of them had an incident opened since `since`, and how many
/// incidents those were.
pub fn version_counts(
    store: &dyn crate::Store,
    sites: Option<&[String]>,
    since: Timestamp,
) -> Result<Vec<VersionCount>, StoreError> {
    let mut params = vec![P::I(since.unix())];
    let scope = match sites {
        None => String::new(),
        Some([]) => return Ok(Vec::new()),
        Some(sites) => {
            let marks: Vec<String> = (0..sites.len()).map(|i| format!("${}", i + 2)).collect();
            params.extend(sites.iter().map(|s| P::T(s)));
            format!("WHERE w.site_ods IN ({})", marks.join(", "))
        }
    };
    with_read(store, |x| {
        let rows = x.rows(
            &format!(
                "SELECT s.component, s.version, COUNT(DISTINCT s.hostname), \
                 COUNT(DISTINCT i.hostname), COUNT(i.id) \
                 FROM software s JOIN workstations w ON w.hostname = s.hostname \
                 LEFT JOIN incidents i ON i.hostname = s.hostname AND i.opened_at >= $1 \
                 {scope} GROUP BY s.component, s.version ORDER BY s.component, s.version"
            ),
            &params,
        )?;
        Ok(rows
            .into_iter()
            .map(|r| VersionCount {
                component: r[0].text().to_owned(),
                version: r[1].text().to_owned(),
                machines: r[2].int() as u64,
                affected: r[3].int() as u64,
                incidents: r[4].int() as u64,
            })
            .collect())
    })
}
