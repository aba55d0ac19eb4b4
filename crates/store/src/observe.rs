//! What an operator's monitoring reads from the store on each scrape: how the scheduled jobs last
//! ran, what waits or failed in the outbox, and how many agents have reported lately. Each
//! figure comes from an index or a small table, so a scrape stays cheap at national size. When
//! each site's agents last reported (`site_agents`) scans every agent, so the server reads it
//! apart from the scrape.

use cardwatch_core::date::Timestamp;

use crate::exec::{with_read, V};
use crate::{Store, StoreError};

/// How one scheduled job has run, across every replica sharing the database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobHealth {
    /// The job's name.
    pub job: String,
    /// When its newest successful run ended, and how many seconds that run took.
    pub last_success: Option<(Timestamp, i64)>,
    /// Runs that failed after the newest successful one (or ever, if none succeeded).
    pub failures_since_success: i64,
}

/// The operations' figures one scrape reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Operations {
    /// Each job asked about, in the order asked.
    pub jobs: Vec<JobHealth>,
    /// Messages not yet sent — (channel, state, count), state `pending` or `failed`.
    pub outbox: Vec<(String, String, i64)>,
    /// Agents not revoked.
    pub agents_enrolled: i64,
    /// Of those, heard from within the last hour.
    pub agents_seen_hour: i64,
    /// Heard from within the last day.
    pub agents_seen_day: i64,
}

/// A site's agents as one scrape reads them; `core::silence` decides whether it is silent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteAgents {
    /// The site's core hours as stored (checked when imported).
    pub core_hours: String,
    /// Agents not revoked on its workstations.
    pub agents: i64,
    /// The newest contact from any of them, seconds since the epoch.
    pub last_seen: Option<i64>,
}

/// The operations' figures at `now`, for the jobs named, in one read transaction.
pub fn operations(
    store: &dyn Store,
    jobs: &[&str],
    now: Timestamp,
) -> Result<Operations, StoreError> {
    with_read(store, |x| {
        let mut out = Operations::default();
        for &job in jobs {
            // The runs' key is (job, slot): the newest run of a job is found by walking its key
            // backwards, which stops at once when the newest run succeeded.
            let last = x.rows(
                "SELECT slot, started_at, ended_at FROM job_runs \
                 WHERE job = $1 AND state = 'done' ORDER BY slot DESC LIMIT 1",
                &[job.into()],
            )?;
            let last = last.first();
            let after = last.map_or(i64::MIN, |r| r[0].int());
            let failed = x.rows(
                "SELECT COUNT(*) FROM job_runs WHERE job = $1 AND slot > $2 AND state = 'failed'",
                &[job.into(), after.into()],
            )?;
            out.jobs.push(JobHealth {
                job: job.to_owned(),
                last_success: last.and_then(|r| {
                    let ended = r[2].opt_int()?;
                    Some((Timestamp::from_unix(ended), (ended - r[1].int()).max(0)))
                }),
                failures_since_success: failed.first().map_or(0, |r| r[0].int()),
            });
        }
        // Sent messages are most of the outbox and are left out through the (state, next_at)
        // index.
        out.outbox = x
            .rows(
                "SELECT channel, state, COUNT(*) FROM outbox WHERE state IN ('pending', 'failed') \
                 GROUP BY channel, state ORDER BY channel, state",
                &[],
            )?
            .into_iter()
            .map(|mut r| {
                let n = r[2].int();
                (
                    std::mem::replace(&mut r[0], V::Null).into_text(),
                    std::mem::replace(&mut r[1], V::Null).into_text(),
                    n,
                )
            })
            .collect();
        let agents = x.rows(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE last_seen >= $1), \
             COUNT(*) FILTER (WHERE last_seen >= $2) FROM agents WHERE revoked_at IS NULL",
            &[(now.unix() - 3600).into(), (now.unix() - 86_400).into()],
        )?;
        if let Some(r) = agents.first() {
            out.agents_enrolled = r[0].int();
            out.agents_seen_hour = r[1].int();
            out.agents_seen_day = r[2].int();
        }
        Ok(out)
    })
}

/// Each site with core hours and at least one agent not revoked on its workstations, with its
/// agents' newest contact, in site order.
pub fn site_agents(store: &dyn Store) -> Result<Vec<SiteAgents>, StoreError> {
    with_read(store, |x| {
        // One grouped pass over the agents, each joined to its workstation and site through
        // their primary keys, rather than a query per site: 90,000 agents over 8,000 sites at
        // national size. An agent whose hostname names no workstation belongs to no site.
        Ok(x.rows(
            "SELECT s.core_hours, COUNT(*), MAX(a.last_seen) FROM agents a \
                 JOIN workstations w ON w.hostname = a.hostname \
                 JOIN sites s ON s.site_ods = w.site_ods \
                 WHERE a.revoked_at IS NULL AND s.core_hours IS NOT NULL \
                 GROUP BY s.site_ods, s.core_hours ORDER BY s.site_ods",
            &[],
        )?
        .into_iter()
        .map(|mut r| SiteAgents {
            agents: r[1].int(),
            last_seen: r[2].opt_int(),
            core_hours: std::mem::replace(&mut r[0], V::Null).into_text(),
        })
        .collect())
    })
}
