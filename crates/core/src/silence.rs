//! Which sites' agents have gone quiet while the site is open: the decision behind the metrics
//! `cardwatch_sites_agents_silent` and `cardwatch_sites_open_with_agents`. A site's core
//! hours are its own, in UK local time (British Summer Time in summer), as the quiet hours of
//! notifications are; the metrics carry counts only, never a site, so labels stay bounded.

use crate::date::Timestamp;
use crate::estate::CoreHours;
use crate::notify::uk_offset;

/// How long a site's agents may all be quiet in its hours before it counts as silent: agents
/// report at least hourly while their workstation is on, and `cardwatch_agents_seen{within="1h"}`
/// uses the same hour.
pub const SILENT_AFTER_SECONDS: i64 = 3600;

/// One site as the store reads it: its core hours (none when sites.csv gives none), how many
/// enrolled agents run on its workstations, and the newest contact from any of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteContact<'a> {
    /// The site's core hours.
    pub hours: Option<&'a CoreHours>,
    /// Agents not revoked on the site's workstations.
    pub agents: u64,
    /// The newest time any of them reported, if one ever did.
    pub last_contact: Option<Timestamp>,
}

/// The counts one scrape exports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Silence {
    /// Sites inside their core hours at `now` with at least one agent.
    pub in_hours_with_agents: u64,
    /// Of those, sites from which no agent has reported within the last hour.
    pub silent: u64,
}

/// Whether `now` falls inside `hours`, read in UK local time.
pub fn in_hours(hours: &CoreHours, now: Timestamp) -> bool {
    let local = now.unix() + uk_offset(now.unix());
    let day = Timestamp::from_unix(local).date().weekday();
    let minute = (local.rem_euclid(86_400) / 60) as u16;
    hours.contains(day, minute)
}

/// Counts the sites inside their hours at `now` that have agents, and those of them silent. A
/// site with no hours or no agents is never counted: nothing is expected from it.
pub fn silent_sites<'a>(
    sites: impl IntoIterator<Item = SiteContact<'a>>,
    now: Timestamp,
) -> Silence {
    let mut out = Silence::default();
    for site in sites {
        let Some(hours) = site.hours else { continue };
        if site.agents == 0 || !in_hours(hours, now) {
            continue;
        }
        out.in_hours_with_agents += 1;
        let heard = site
            .last_contact
            .is_some_and(|t| t.unix() >= now.unix() - SILENT_AFTER_SECONDS);
        if !heard {
            out.silent += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn site<'a>(hours: &'a CoreHours, agents: u64, last: Option<&str>) -> SiteContact<'a> {
        SiteContact {
            hours: Some(hours),
            agents,
            last_contact: last.map(t),
        }
    }

    #[test]
    fn hours_are_read_in_uk_local_time_in_summer_and_winter() {
        let h = CoreHours::parse("Mon-Fri 08:00-18:30").unwrap();
        // Monday 6 July 2026, 07:30 UTC is 08:30 BST: open.
        assert!(in_hours(&h, t("2026-07-06T07:30:00Z")));
        // 17:45 UTC is 18:45 BST: closed, though 17:45 UTC is inside the hours in UTC.
        assert!(!in_hours(&h, t("2026-07-06T17:45:00Z")));
        // Monday 7 December 2026 is GMT: 07:30 UTC is 07:30, closed; 18:15 UTC open.
        assert!(!in_hours(&h, t("2026-12-07T07:30:00Z")));
        assert!(in_hours(&h, t("2026-12-07T18:15:00Z")));
        // Sunday 5 July 2026, 23:30 UTC is already Monday 00:30 BST.
        let night = CoreHours::parse("Mon 00:00-01:00").unwrap();
        assert!(in_hours(&night, t("2026-07-05T23:30:00Z")));
    }

    #[test]
    fn a_site_counts_as_silent_when_no_agent_reported_in_the_hour() {
        let h = CoreHours::parse("Mon-Fri 08:00-18:30").unwrap();
        let now = t("2026-12-07T10:00:00Z");
        let counts = silent_sites(
            [
                site(&h, 1, Some("2026-12-07T09:01:00Z")), // 59 minutes ago: heard
                site(&h, 1, Some("2026-12-07T08:59:00Z")), // 61 minutes ago: silent
                site(&h, 3, None),                         // never reported: silent
                site(&h, 0, None),                         // no agents: not counted
                SiteContact {
                    hours: None,
                    agents: 2,
                    last_contact: None,
                }, // no hours: not counted
            ],
            now,
        );
        assert_eq!(
            counts,
            Silence {
                in_hours_with_agents: 3,
                silent: 2
            }
        );
    }

    #[test]
    fn nothing_is_expected_at_the_weekend_or_out_of_hours() {
        let h = CoreHours::parse("Mon-Fri 08:00-18:30").unwrap();
        let sat = CoreHours::parse("Sat 09:00-12:00").unwrap();
        // Saturday 5 December 2026, 10:00 GMT: only the Saturday site is open.
        let now = t("2026-12-05T10:00:00Z");
        let counts = silent_sites([site(&h, 2, None), site(&sat, 1, None)], now);
        assert_eq!(
            counts,
            Silence {
                in_hours_with_agents: 1,
                silent: 1
            }
        );
        // Summer evening, 18:00 UTC = 19:00 BST: closed, even with every agent quiet.
        let evening = silent_sites([site(&h, 2, None)], t("2026-07-06T18:00:00Z"));
        assert_eq!(evening, Silence::default());
    }
}
