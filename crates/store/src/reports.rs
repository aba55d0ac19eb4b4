//! What the reports read: the staff time incidents cost, and failures against the software
//! versions of the workstations they happened on. The judging is `core::reports`.

use cardwatch_core::date::Timestamp;
use cardwatch_core::records::Kind;
use cardwatch_core::reports::{FailedCount, FailedMachine, RingCount, SiteMachines, VersionCount};
use cardwatch_core::vocab::UpdateRing;

use crate::exec::{with_read, Exec, P};
use crate::incidents::{filter, IncidentQuery};
use crate::StoreError;

/// Incidents that ended with a time recorded: fixed at the desk, or passed on to support (their
/// minutes until then; the holder still could not work after).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TimeLost {
    /// Incidents with a time recorded.
    pub incidents: u64,
    /// Their minutes in all.
    pub minutes: f64,
    /// Of those, the incidents passed on to support.
    pub passed_on: u64,
    /// Their minutes until passed on.
    pub passed_on_minutes: f64,
}

/// Incidents a query matches that were opened since `since` and have ended with a time to fix
/// or to hand-over.
pub fn time_lost(
    store: &dyn crate::Store,
    q: &IncidentQuery,
    since: Timestamp,
) -> Result<TimeLost, StoreError> {
    with_read(store, |x| time_lost_in(x, q, since))
}

/// What a period's reports read, in one read transaction: the [`time_lost`] of the incidents `q`
/// matches, the [`failed_counts`] at `q`'s sites, and the [`failed_machines`] of the versions
/// `suspects` picks from those counts.
pub fn period(
    store: &dyn crate::Store,
    q: &IncidentQuery,
    since: Timestamp,
    suspects: impl FnOnce(&[FailedCount]) -> Vec<(String, String)>,
) -> Result<Period, StoreError> {
    with_read(store, |x| {
        let lost = time_lost_in(x, q, since)?;
        let sites = q.sites.as_deref();
        let failed = failed_counts_in(x, sites, since)?;
        let named = failed_machines_in(x, sites, since, &suspects(&failed))?;
        Ok(Period {
            lost,
            failed,
            named,
        })
    })
}

/// A period's reading, from [`period`].
#[derive(Debug)]
pub struct Period {
    /// Incidents that ended with a time to fix or to hand-over.
    pub lost: TimeLost,
    /// Failures by version and ring.
    pub failed: Vec<FailedCount>,
    /// The failed machines of the versions asked for.
    pub named: Vec<FailedMachine>,
}

fn time_lost_in(
    x: &mut dyn Exec,
    q: &IncidentQuery,
    since: Timestamp,
) -> Result<TimeLost, StoreError> {
    let (filter, mut params) = filter(q);
    params.push(P::I(since.unix()));
    let n = params.len();
    let passed = "status = 'escalated'";
    let rows = x.rows(
        &format!(
            "SELECT COUNT(*), SUM(minutes_to_fix), \
                    SUM(CASE WHEN {passed} THEN 1 ELSE 0 END), \
                    SUM(CASE WHEN {passed} THEN minutes_to_fix ELSE 0 END) \
             FROM incidents \
             WHERE {filter} AND minutes_to_fix IS NOT NULL AND opened_at >= ${n}"
        ),
        &params,
    )?;
    let Some(r) = rows.first() else {
        return Ok(TimeLost::default());
    };
    let whole = |i: usize| r[i].opt_int().unwrap_or(0) as u64;
    let real = |i: usize| r[i].opt_real().unwrap_or(0.0);
    Ok(TimeLost {
        incidents: whole(0),
        minutes: real(1),
        passed_on: whole(2),
        passed_on_minutes: real(3),
    })
}

/// For each site, each version of each smartcard software component, each Windows build
/// (component `windows`) and each reader model's firmware (`reader VENDOR MODEL`), and each update
/// ring: how many workstations have it. What the reports add up over a caller's sites; it changes
/// only with the estate, so the server reads it once per change ([`failed_versions`] is what
/// changes with the day and the incidents). Read from the counts the store keeps
/// (`site_machine_counts`, migration 0027: triggers in the transaction that changes the estate,
/// [`recount`] after a bulk load), a row per site, version and ring, not a grouping of the
/// estate.
pub fn site_machines(store: &dyn crate::Store) -> Result<Vec<SiteMachines>, StoreError> {
    with_read(store, |x| {
        site_machines_from(x.rows(
            "SELECT site_ods, component, version, update_ring, machines \
             FROM site_machine_counts WHERE machines > 0",
            &[],
        )?)
    })
}

/// [`site_machines`] counted from the estate itself, grouping every workstation, its software
/// and its readers: the reference the kept counts are tested against.
pub fn site_machines_recounted(store: &dyn crate::Store) -> Result<Vec<SiteMachines>, StoreError> {
    // Each thing grouped on its own, a third cheaper than grouping their union (`machines` says
    // what each counts).
    // Grouped by position: PostgreSQL refuses a constant component (`'windows'`) by name.
    let grouped = each_thing(|t| {
        format!(
            "SELECT w.site_ods, {}, {}, w.update_ring, COUNT({}) FROM {} WHERE {} \
             GROUP BY 1, 2, 3, 4",
            t.component, t.version, t.machines, t.from, t.present
        )
    });
    with_read(store, |x| site_machines_from(x.rows(&grouped, &[])?))
}

fn site_machines_from(rows: Vec<Vec<crate::exec::V>>) -> Result<Vec<SiteMachines>, StoreError> {
    rows.iter()
        .map(|r| {
            Ok(SiteMachines {
                site: r[0].text().to_owned(),
                component: r[1].text().to_owned(),
                version: r[2].text().to_owned(),
                ring: ring(r[3].text())?,
                machines: r[4].int() as u64,
            })
        })
        .collect()
}

/// The statements (the same in both dialects) that count afresh what `site_machine_counts`
/// holds from a table's rows (and, for readers, each workstation's readers of a model and
/// firmware in `machine_readers`): a bulk load fills an empty table with its counting triggers
/// off and runs this once at its end, in the same transaction. Workstations' rows carry every
/// count (their site and ring), so loading them counts all three tables'.
pub(crate) fn recount(kind: Kind) -> Option<String> {
    const WINDOWS: &str = "DELETE FROM site_machine_counts WHERE source = 'workstations';
         INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
             SELECT site_ods, 'workstations', 'windows', os_build, update_ring, COUNT(*)
             FROM workstations WHERE os_build IS NOT NULL GROUP BY site_ods, os_build, update_ring;";
    const SOFTWARE: &str = "DELETE FROM site_machine_counts WHERE source = 'software';
         INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
             SELECT w.site_ods, 'software', s.component, s.version, w.update_ring, COUNT(*)
             FROM software s JOIN workstations w ON w.hostname = s.hostname
             GROUP BY w.site_ods, s.component, s.version, w.update_ring;";
    const READERS: &str = "DELETE FROM site_machine_counts WHERE source = 'readers';
         INSERT INTO site_machine_counts (site_ods, source, component, version, update_ring, machines)
             SELECT w.site_ods, 'readers', m.component, m.version, w.update_ring, COUNT(*)
             FROM machine_readers m JOIN workstations w ON w.hostname = m.hostname
             GROUP BY w.site_ods, m.component, m.version, w.update_ring;";
    const MACHINE_READERS: &str = "DELETE FROM machine_readers;
         INSERT INTO machine_readers (hostname, component, version, readers)
             SELECT hostname, 'reader ' || vendor || ' ' || model, firmware, COUNT(*)
             FROM readers WHERE hostname IS NOT NULL AND firmware IS NOT NULL
             GROUP BY 1, 2, 3;";
    match kind {
        Kind::Workstations => Some(format!("{WINDOWS}\n{SOFTWARE}\n{READERS}")),
        Kind::Software => Some(SOFTWARE.to_owned()),
        Kind::Readers => Some(format!("{MACHINE_READERS}\n{READERS}")),
        _ => None,
    }
}

/// The failures since `since` on the workstations at the sites (`None`: every site), by each
/// version they run that the reports count and the workstation's update ring: how many machines
/// failed and how many failures (see [`version_counts`] for what a failure is). Grouped by the
/// store from the failures to their machines, by hostname, so its cost follows the failures, not
/// the estate, and what comes back is a row per version and ring.
pub fn failed_counts(
    store: &dyn crate::Store,
    sites: Option<&[String]>,
    since: Timestamp,
) -> Result<Vec<FailedCount>, StoreError> {
    with_read(store, |x| failed_counts_in(x, sites, since))
}

fn failed_counts_in(
    x: &mut dyn Exec,
    sites: Option<&[String]>,
    since: Timestamp,
) -> Result<Vec<FailedCount>, StoreError> {
    let Some((failed, params)) = failed_machines_table(sites, since) else {
        return Ok(Vec::new());
    };
    // A machine is one row of each thing's per-machine table (its readers of a model and
    // firmware are one row of `machine_readers`), so the rows count machines and their `n`s add
    // up to the failures. Each thing is grouped on its own: a few dozen rows are put together,
    // not a row per machine and version (on PostgreSQL that sort spilled to disk).
    let each = per_machine(|t| {
        Some(format!(
            "SELECT {}, {}, fw.ring, COUNT(*), CAST(SUM(fw.n) AS BIGINT) FROM {} WHERE {} \
             GROUP BY {}, fw.ring",
            t.component, t.version, t.from, t.present, t.group
        ))
    });
    x.rows(&format!("{failed} {each}"), &params)?
        .iter()
        .map(|r| {
            Ok(FailedCount {
                component: r[0].text().to_owned(),
                version: r[1].text().to_owned(),
                ring: ring(r[2].text())?,
                machines: r[3].int() as u64,
                failures: r[4].int() as u64,
            })
        })
        .collect()
}

/// The workstations at the sites (`None`: every site) that failed since `since` and run one of
/// `versions` ((component, version)): the machines a suspect version names.
pub fn failed_machines(
    store: &dyn crate::Store,
    sites: Option<&[String]>,
    since: Timestamp,
    versions: &[(String, String)],
) -> Result<Vec<FailedMachine>, StoreError> {
    with_read(store, |x| failed_machines_in(x, sites, since, versions))
}

fn failed_machines_in(
    x: &mut dyn Exec,
    sites: Option<&[String]>,
    since: Timestamp,
    versions: &[(String, String)],
) -> Result<Vec<FailedMachine>, StoreError> {
    if versions.is_empty() {
        return Ok(Vec::new());
    }
    let Some((failed, mut params)) = failed_machines_table(sites, since) else {
        return Ok(Vec::new());
    };
    // Each (component, version) asked for, as its parameters' numbers.
    let mut asked = Vec::new();
    for (component, version) in versions {
        asked.push((component.as_str(), params.len() + 1));
        params.extend([P::T(component), P::T(version)]);
    }
    // Each thing's rows only for the versions asked of it, tested where its key is sought.
    let each = per_machine(|t| {
        let mine: Vec<String> = asked
            .iter()
            .filter(|(component, _)| (t.holds)(component))
            .map(|(_, n)| format!("({} = ${n} AND {} = ${})", t.component, t.version, n + 1))
            .collect();
        (!mine.is_empty()).then(|| {
            format!(
                "SELECT {} AS component, {} AS version, fw.ring AS ring, fw.hostname AS hostname \
                 FROM {} WHERE {} AND ({})",
                t.component,
                t.version,
                t.from,
                t.present,
                mine.join(" OR ")
            )
        })
    });
    x.rows(
        &format!("{failed} SELECT * FROM ({each}) m ORDER BY component, version, hostname"),
        &params,
    )?
    .iter()
    .map(|r| {
        Ok(FailedMachine {
            component: r[0].text().to_owned(),
            version: r[1].text().to_owned(),
            ring: ring(r[2].text())?,
            hostname: r[3].text().to_owned(),
        })
    })
    .collect()
}

/// The machines at the sites (`None`: every site) that failed since `since`, as the common
/// table expressions that begin a statement: `fw` holds each one's hostname, failures (`n`),
/// update ring and Windows build (`os_build`), read once for every thing [`per_machine`] joins
/// to it. With its parameters; `None` when no site is asked for. The failures are found from the
/// sites' workstations by hostname, so a practice's cost follows its own machines.
fn failed_machines_table<'a>(
    sites: Option<&'a [String]>,
    since: Timestamp,
) -> Option<(String, Vec<P<'a>>)> {
    let mut params = vec![P::I(since.unix())];
    let hosts = match sites {
        None => "IS NOT NULL".to_owned(),
        Some([]) => return None,
        Some(sites) => {
            let scope = crate::exec::in_list("w.site_ods", sites, &mut params);
            format!("IN (SELECT w.hostname FROM workstations w WHERE {scope})")
        }
    };
    Some((
        format!(
            "WITH f AS (SELECT x.hostname AS hostname, COUNT(*) AS n FROM ({}) x \
             GROUP BY x.hostname), \
             fw AS (SELECT f.hostname AS hostname, f.n AS n, w.update_ring AS ring, \
             w.os_build AS os_build FROM f JOIN workstations w ON w.hostname = f.hostname)",
            failures(&hosts)
        ),
        params,
    ))
}

/// The three things a machine runs, each read over the failed machines `fw` as a row per machine
/// and version: its smartcard software, its Windows build, and its readers of one model and
/// firmware (`machine_readers`, where a machine with two readers alike is one row). The union of
/// what `select` makes of each thing, leaving out those it makes nothing of.
fn per_machine(select: impl Fn(&PerMachine) -> Option<String>) -> String {
    const EACH: [PerMachine; 3] = [
        PerMachine {
            from: "fw JOIN software s ON s.hostname = fw.hostname",
            component: "s.component",
            version: "s.version",
            present: "TRUE",
            group: "s.component, s.version",
            holds: |c| c != "windows" && !c.starts_with("reader "),
        },
        PerMachine {
            from: "fw",
            component: "'windows'",
            version: "fw.os_build",
            present: "fw.os_build IS NOT NULL",
            // PostgreSQL refuses to group by a constant.
            group: "fw.os_build",
            holds: |c| c == "windows",
        },
        PerMachine {
            from: "fw JOIN machine_readers m ON m.hostname = fw.hostname",
            component: "m.component",
            version: "m.version",
            present: "TRUE",
            group: "m.component, m.version",
            holds: |c| c.starts_with("reader "),
        },
    ];
    EACH.iter()
        .filter_map(select)
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// One of [`per_machine`]'s things.
struct PerMachine {
    /// The tables, joined to the failed machines `fw`.
    from: &'static str,
    /// The component and its version, as expressions.
    component: &'static str,
    version: &'static str,
    /// When a row counts (a build not reported is no version).
    present: &'static str,
    /// What to group by for one row per version.
    group: &'static str,
    /// Whether a component id is one of this thing's.
    holds: fn(&str) -> bool,
}

fn ring(text: &str) -> Result<UpdateRing, StoreError> {
    UpdateRing::parse(text)
        .map_err(|e| StoreError::Database(format!("a stored workstation's update ring: {e}")))
}

/// One of the three things a machine runs that a bad release can break — its smartcard
/// software, its Windows build, its readers' firmware — as SQL over its tables, the workstation
/// always `w`.
struct Thing {
    /// The tables, joined to the workstation.
    from: &'static str,
    /// The component (`windows`, `reader VENDOR MODEL`) and its version, as expressions.
    component: &'static str,
    version: &'static str,
    /// The machine's hostname, as an expression.
    hostname: &'static str,
    /// When a row counts (a build or firmware not reported is no version).
    present: &'static str,
    /// What `COUNT` counts for a site's machines with one version: rows, where a workstation
    /// has one version of each component and one build; hostnames for readers, as it may have
    /// two of one model.
    machines: &'static str,
}

const THINGS: [Thing; 3] = [
    Thing {
        from: "software s JOIN workstations w ON w.hostname = s.hostname",
        component: "s.component",
        version: "s.version",
        hostname: "s.hostname",
        present: "TRUE",
        machines: "*",
    },
    Thing {
        from: "workstations w",
        component: "'windows'",
        version: "w.os_build",
        hostname: "w.hostname",
        present: "w.os_build IS NOT NULL",
        machines: "*",
    },
    Thing {
        from: "readers r JOIN workstations w ON w.hostname = r.hostname",
        component: "'reader ' || r.vendor || ' ' || r.model",
        version: "r.firmware",
        hostname: "r.hostname",
        present: "r.firmware IS NOT NULL",
        machines: "DISTINCT r.hostname",
    },
];

/// One `SELECT` per thing, made by `select`, as their `UNION ALL`: the one place the reports
/// say what a machine runs.
fn each_thing(select: impl Fn(&Thing) -> String) -> String {
    THINGS
        .iter()
        .map(select)
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The three things a machine runs, as (site, component, version, hostname, ring) over the
/// workstations `scope` (a condition on `w`) keeps.
fn versions(scope: &str) -> String {
    each_thing(|t| {
        format!(
            "SELECT w.site_ods AS site, {} AS component, {} AS version, {} AS hostname, \
             w.update_ring AS ring FROM {} WHERE {} AND {scope}",
            t.component, t.version, t.hostname, t.from, t.present
        )
    })
}

/// The failures since `$1`, as (hostname, failure), on the machines whose hostname `hosts` keeps
/// (a condition to follow a hostname column: `IS NOT NULL` for every machine, `IN (…)` for
/// some, tested in each part so that each reads its table by hostname): incidents raised on a
/// workstation, and signing self-tests an agent ran that the card refused at sign-in for a reason
/// other than the PIN, or while signing (stages `login` and `signing`: what middleware can cause).
/// The events' data is compact JSON with sorted keys, as the server stored it.
fn failures(hosts: &str) -> String {
    format!(
        "SELECT i.hostname AS hostname, 'incident ' || CAST(i.id AS TEXT) AS failure \
         FROM incidents i WHERE i.opened_at >= $1 AND i.hostname {hosts} \
         UNION ALL SELECT a.hostname, 'agent ' || e.agent_id || ' ' || e.event_id \
         FROM agents a JOIN agent_events e ON e.agent_id = a.id \
         WHERE e.kind = 'signing_test' AND e.at >= $1 AND a.hostname {hosts} \
         AND (e.data LIKE '%\"stage\":\"login\"%' OR e.data LIKE '%\"stage\":\"signing\"%')"
    )
}

/// The recount in one pass of the store, the reports' reference: for each version of each
/// smartcard software component, each Windows build (component `windows`) and each reader
/// model's firmware (`reader VENDOR MODEL`) at the sites (`None`: every site): how many
/// workstations have it, how many of them failed since `since`, how many failures
/// those were, and which machines they were. A failure is an incident raised on the workstation,
/// or a signing self-test its agent ran that the card refused at sign-in for a reason other than
/// the PIN, or while signing (stages `login` and `signing`: what middleware can cause).
pub fn version_counts(
    store: &dyn crate::Store,
    sites: Option<&[String]>,
    since: Timestamp,
) -> Result<Vec<VersionCount>, StoreError> {
    let mut params = vec![P::I(since.unix())];
    let scope = match sites {
        None => "TRUE".to_owned(),
        Some([]) => return Ok(Vec::new()),
        Some(sites) => crate::exec::in_list("w.site_ods", sites, &mut params),
    };
    let versions = versions(&scope);
    let failures = failures("IS NOT NULL");
    with_read(store, |x| {
        let rows = x.rows(
            &format!(
                "SELECT v.component, v.version, v.ring, COUNT(DISTINCT v.hostname), \
                 COUNT(DISTINCT f.hostname), COUNT(DISTINCT f.failure) \
                 FROM ({versions}) v LEFT JOIN ({failures}) f ON f.hostname = v.hostname \
                 GROUP BY v.component, v.version, v.ring \
                 ORDER BY v.component, v.version, v.ring"
            ),
            &params,
        )?;
        let failed = x.rows(
            &format!(
                "SELECT DISTINCT v.component, v.version, v.hostname FROM ({versions}) v \
                 JOIN ({failures}) f ON f.hostname = v.hostname \
                 ORDER BY v.component, v.version, v.hostname"
            ),
            &params,
        )?;
        // One row per ring: a workstation is in one ring, so the version's totals are sums.
        let mut out: Vec<VersionCount> = Vec::new();
        for r in rows {
            let (component, version) = (r[0].text(), r[1].text());
            let ring = ring(r[2].text())?;
            let (machines, affected, failures) =
                (r[3].int() as u64, r[4].int() as u64, r[5].int() as u64);
            let at = match out.last() {
                Some(c) if c.component == component && c.version == version => out.len() - 1,
                _ => {
                    out.push(VersionCount {
                        component: component.to_owned(),
                        version: version.to_owned(),
                        machines: 0,
                        affected: 0,
                        failures: 0,
                        affected_hosts: Vec::new(),
                        rings: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let c = &mut out[at];
            c.machines += machines;
            c.affected += affected;
            c.failures += failures;
            c.rings.push(RingCount {
                ring,
                machines,
                affected,
            });
        }
        for r in failed {
            let (component, version) = (r[0].text(), r[1].text());
            if let Some(c) = out
                .iter_mut()
                .find(|c| c.component == component && c.version == version)
            {
                c.affected_hosts.push(r[2].text().to_owned());
            }
        }
        Ok(out)
    })
}
