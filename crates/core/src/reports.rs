//! Reports over incidents and the estate: how much staff time card failures cost, and which
//! software versions, Windows builds or reader firmware the failures follow. A version whose
//! machines fail clearly more often than the machines on the component's other versions is named
//! as a suspect, with the machines affected, so a bad update is found from the pattern rather
//! than one call at a time.

use serde::Serialize;

use crate::vocab::UpdateRing;

/// Machines on one version of one component (smartcard software, the Windows build, a reader
/// model's firmware), and how many of them failed in the window (an incident raised on them, or a
/// signing self-test that failed at sign-in or while signing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VersionCount {
    /// Component id (`oberthur-middleware`, `windows`, `reader HID Omnikey 3121`).
    pub component: String,
    /// Version.
    pub version: String,
    /// Workstations with this version installed.
    pub machines: u64,
    /// Of those, how many failed at least once.
    pub affected: u64,
    /// Failures on those workstations.
    pub failures: u64,
    /// The workstations that failed.
    pub affected_hosts: Vec<String>,
    /// The same by update ring (a ring absent has none of these machines).
    pub rings: Vec<RingCount>,
}

/// A version's machines in one update ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RingCount {
    /// The ring.
    pub ring: UpdateRing,
    /// Its workstations on the version.
    pub machines: u64,
    /// Of those, that failed.
    pub affected: u64,
}

/// Workstations at one site on one version of one component, in one update ring: what the
/// store counts once per change to the estate, for the reports to add up over the sites a caller
/// sees (a practice its own, an ICB its practices', the whole country every site).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteMachines {
    /// The site's ODS code.
    pub site: String,
    /// Component id, as in [`VersionCount`].
    pub component: String,
    /// Version.
    pub version: String,
    /// The workstations' update ring.
    pub ring: UpdateRing,
    /// How many workstations.
    pub machines: u64,
}

/// The failures in the reports' window on the machines of one version of one component in one
/// update ring: what the store groups, one row per version and ring rather than one per failure
/// and version (830,000 at national size).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedCount {
    /// Component id.
    pub component: String,
    /// Version.
    pub version: String,
    /// The workstations' update ring.
    pub ring: UpdateRing,
    /// Workstations on it that failed at least once.
    pub machines: u64,
    /// Their failures.
    pub failures: u64,
}

/// A workstation on one version that failed in the window: read for the suspects only, whose
/// machines the reports name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedMachine {
    /// Component id.
    pub component: String,
    /// Version.
    pub version: String,
    /// The workstation's update ring.
    pub ring: UpdateRing,
    /// The workstation.
    pub hostname: String,
}

/// The machines of every site by version and ring, held for adding up: each (component,
/// version) named once, each site's counts and the whole estate's ready.
#[derive(Clone, Debug, Default)]
pub struct Machines {
    /// Every (component, version), sorted.
    keys: Vec<(String, String)>,
    /// Site → (key, ring, machines), sorted.
    sites: std::collections::HashMap<String, Vec<(u32, UpdateRing, u64)>>,
    /// The whole estate's (key, ring, machines), sorted.
    all: Vec<(u32, UpdateRing, u64)>,
}

impl Machines {
    /// Indexes the counts of every site.
    pub fn new(rows: &[SiteMachines]) -> Machines {
        let mut keys: Vec<(String, String)> = rows
            .iter()
            .map(|r| (r.component.clone(), r.version.clone()))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let key = |r: &SiteMachines| {
            keys.binary_search_by(|(c, v)| {
                (c.as_str(), v.as_str()).cmp(&(&r.component, &r.version))
            })
            .map_or(0, |i| i as u32)
        };
        let mut sites: std::collections::HashMap<String, Vec<(u32, UpdateRing, u64)>> =
            std::collections::HashMap::new();
        let mut all: std::collections::BTreeMap<(u32, UpdateRing), u64> = Default::default();
        for r in rows {
            let k = key(r);
            sites
                .entry(r.site.clone())
                .or_default()
                .push((k, r.ring, r.machines));
            *all.entry((k, r.ring)).or_default() += r.machines;
        }
        for counts in sites.values_mut() {
            counts.sort_unstable();
        }
        Machines {
            all: all.into_iter().map(|((k, ring), n)| (k, ring, n)).collect(),
            keys,
            sites,
        }
    }

    /// Each version's machines at the sites (`None`: every site) with the failures found on
    /// them, naming the machines `named` holds (the suspects'): the same counts as one recount
    /// of the store over those sites. A failure on a version none of the sites' machines is
    /// counted on (a machine added since the counts) is left out, so no version has more
    /// machines failed than machines.
    pub fn counts(
        &self,
        sites: Option<&[String]>,
        failed: &[FailedCount],
        named: &[FailedMachine],
    ) -> Vec<VersionCount> {
        use std::collections::{BTreeMap, BTreeSet};
        // (key, ring) → machines, over the sites asked for.
        let mut machines: BTreeMap<(u32, UpdateRing), u64> = BTreeMap::new();
        match sites {
            None => machines.extend(self.all.iter().map(|&(k, ring, n)| ((k, ring), n))),
            Some(sites) => {
                for counts in sites.iter().filter_map(|s| self.sites.get(s)) {
                    for &(k, ring, n) in counts {
                        *machines.entry((k, ring)).or_default() += n;
                    }
                }
            }
        }
        let counted = |component: &str, version: &str, ring: UpdateRing| {
            let k = self
                .keys
                .binary_search_by(|(c, v)| (c.as_str(), v.as_str()).cmp(&(component, version)))
                .ok()? as u32;
            machines.contains_key(&(k, ring)).then_some(k)
        };
        // (key, ring) → (machines failed, failures); key → the machines named.
        let mut failures: BTreeMap<(u32, UpdateRing), (u64, u64)> = BTreeMap::new();
        for f in failed {
            if let Some(k) = counted(&f.component, &f.version, f.ring) {
                let e = failures.entry((k, f.ring)).or_default();
                e.0 += f.machines;
                e.1 += f.failures;
            }
        }
        let mut hosts: BTreeMap<u32, BTreeSet<&str>> = BTreeMap::new();
        for m in named {
            if let Some(k) = counted(&m.component, &m.version, m.ring) {
                hosts.entry(k).or_default().insert(&m.hostname);
            }
        }
        let mut out: Vec<VersionCount> = Vec::new();
        // The rings of a version in their words' order, as people read a list.
        let mut rows: Vec<(u32, UpdateRing, u64)> =
            machines.into_iter().map(|((k, r), n)| (k, r, n)).collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.as_str().cmp(b.1.as_str())));
        for (k, ring, n) in rows {
            let (component, version) = &self.keys[k as usize];
            if out
                .last()
                .is_none_or(|c| &c.component != component || &c.version != version)
            {
                out.push(VersionCount {
                    component: component.clone(),
                    version: version.clone(),
                    machines: 0,
                    affected: 0,
                    failures: 0,
                    affected_hosts: hosts
                        .get(&k)
                        .map(|h| h.iter().map(|h| (*h).to_owned()).collect())
                        .unwrap_or_default(),
                    rings: Vec::new(),
                });
            }
            let (affected, failures) = failures.get(&(k, ring)).copied().unwrap_or_default();
            // Pushed just above when not already there.
            if let Some(c) = out.last_mut() {
                c.machines += n;
                c.affected += affected;
                c.failures += failures;
                c.rings.push(RingCount {
                    ring,
                    machines: n,
                    affected,
                });
            }
        }
        out
    }

    /// The (component, version) of each suspect among the counts at the sites: the versions
    /// whose failed machines the reports name, so only theirs are read by name.
    pub fn suspects(
        &self,
        sites: Option<&[String]>,
        failed: &[FailedCount],
    ) -> Vec<(String, String)> {
        version_rates(&self.counts(sites, failed, &[]))
            .into_iter()
            .filter(|r| r.suspect)
            .map(|r| (r.count.component, r.count.version))
            .collect()
    }
}

/// What to do with a suspect version's staged rollout (canary → pilot → broad).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Rollout {
    /// Not beyond the rings it failed in yet: stop it there.
    Hold {
        /// The widest ring it has reached.
        reached: UpdateRing,
    },
    /// Already on machines in the broad ring: take it back there first.
    RollBack {
        /// Broad-ring workstations on it.
        broad_machines: u64,
    },
}

/// One version's failure rate against the rest of its component's machines.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionRate {
    /// The counts; for a version that is not a suspect, without the machines' names.
    #[serde(flatten)]
    pub count: VersionCount,
    /// For a suspect, what to do with its rollout.
    pub rollout: Option<Rollout>,
    /// Share of its machines that failed.
    pub rate: f64,
    /// The same share over the component's other versions (none when it has no other).
    pub others_rate: Option<f64>,
    /// Failures follow this version: its rate is at least [`SUSPECT_RATIO`] times the others',
    /// on at least [`SUSPECT_MIN_AFFECTED`] machines, and the difference is unlikely to be chance
    /// (one-sided two-proportion z ≥ [`SUSPECT_Z`], p < 0.05).
    pub suspect: bool,
}

/// How many times the others' rate a suspect's must be.
pub const SUSPECT_RATIO: f64 = 2.0;
/// The fewest affected machines that can make a suspect: one or two failures are anecdotes.
pub const SUSPECT_MIN_AFFECTED: u64 = 3;
/// The z-score a suspect's excess must reach (one-sided 5%).
pub const SUSPECT_Z: f64 = 1.645;

/// Each version's rate against the other versions of its component, suspects first, then by
/// component and version.
pub fn version_rates(counts: &[VersionCount]) -> Vec<VersionRate> {
    let mut out: Vec<VersionRate> = counts
        .iter()
        .map(|c| {
            let (machines, affected) = counts
                .iter()
                .filter(|o| o.component == c.component && o.version != c.version)
                .fold((0, 0), |(m, a), o| (m + o.machines, a + o.affected));
            let rate = share(c.affected, c.machines);
            let others_rate = (machines > 0).then(|| share(affected, machines));
            let suspect = others_rate.is_some_and(|o| {
                c.affected >= SUSPECT_MIN_AFFECTED
                    && rate >= SUSPECT_RATIO * o
                    && z_score(c.affected, c.machines, affected, machines) >= SUSPECT_Z
            });
            VersionRate {
                count: VersionCount {
                    affected_hosts: if suspect {
                        c.affected_hosts.clone()
                    } else {
                        Vec::new()
                    },
                    ..c.clone()
                },
                rollout: suspect.then(|| rollout(&c.rings)),
                rate,
                others_rate,
                suspect,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.suspect
            .cmp(&a.suspect)
            .then_with(|| a.count.component.cmp(&b.count.component))
            .then_with(|| crate::catalogue::compare(&a.count.version, &b.count.version))
    });
    out
}

/// A suspect's rollout: held at the widest ring it reached, or rolled back where it is broad.
fn rollout(rings: &[RingCount]) -> Rollout {
    let on = |r: UpdateRing| rings.iter().find(|c| c.ring == r && c.machines > 0);
    match on(UpdateRing::Broad) {
        Some(broad) => Rollout::RollBack {
            broad_machines: broad.machines,
        },
        None => Rollout::Hold {
            reached: if on(UpdateRing::Pilot).is_some() {
                UpdateRing::Pilot
            } else {
                UpdateRing::Canary
            },
        },
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The two-proportion z-score of `a1/n1` over `a2/n2`, with the pooled proportion.
fn z_score(a1: u64, n1: u64, a2: u64, n2: u64) -> f64 {
    let (p1, p2) = (share(a1, n1), share(a2, n2));
    let pooled = share(a1 + a2, n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se == 0.0 {
        0.0
    } else {
        (p1 - p2) / se
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(version: &str, machines: u64, affected: u64) -> VersionCount {
        VersionCount {
            component: "oberthur-middleware".into(),
            version: version.into(),
            machines,
            affected,
            failures: affected,
            affected_hosts: (0..affected).map(|n| format!("ws{n}")).collect(),
            rings: vec![RingCount {
                ring: UpdateRing::Broad,
                machines,
                affected,
            }],
        }
    }

    #[test]
    fn a_version_failures_follow_is_named() {
        let rates = version_rates(&[count("6.2.0.4", 400, 8), count("6.1.0.3", 60, 9)]);
        assert_eq!(rates[0].count.version, "6.1.0.3");
        assert!(rates[0].suspect, "{rates:?}");
        assert!((rates[0].rate - 0.15).abs() < 1e-9);
        assert_eq!(rates[0].others_rate, Some(0.02));
        assert_eq!(
            rates[0].count.affected_hosts.len(),
            9,
            "a suspect names its machines"
        );
        assert_eq!(
            rates[0].rollout,
            Some(Rollout::RollBack { broad_machines: 60 })
        );
        assert!(!rates[1].suspect);
        assert!(rates[1].count.affected_hosts.is_empty());
    }

    #[test]
    fn site_counts_add_up_over_the_sites_asked_for() {
        let at = |site: &str, version: &str, ring, machines| SiteMachines {
            site: site.into(),
            component: "oberthur-middleware".into(),
            version: version.into(),
            ring,
            machines,
        };
        let machines = Machines::new(&[
            at("A81001", "6.1.0.3", UpdateRing::Canary, 2),
            at("A81001", "6.1.0.3", UpdateRing::Broad, 3),
            at("B82002", "6.1.0.3", UpdateRing::Broad, 4),
            at("B82002", "6.2.0.4", UpdateRing::Pilot, 1),
        ]);
        let failed = |version: &str, ring, machines, failures| FailedCount {
            component: "oberthur-middleware".into(),
            version: version.into(),
            ring,
            machines,
            failures,
        };
        let named = |version: &str, ring, host: &str| FailedMachine {
            component: "oberthur-middleware".into(),
            version: version.into(),
            ring,
            hostname: host.into(),
        };
        let failures = [
            // ws1 failed twice in the canary ring, ws9 once in the broad.
            failed("6.1.0.3", UpdateRing::Canary, 1, 2),
            failed("6.1.0.3", UpdateRing::Broad, 1, 1),
            // A version none of the machines counted runs (a machine added since): left out.
            failed("7.0.0.0", UpdateRing::Broad, 1, 1),
        ];
        let names = [
            named("6.1.0.3", UpdateRing::Canary, "ws1"),
            named("6.1.0.3", UpdateRing::Broad, "ws9"),
            named("7.0.0.0", UpdateRing::Broad, "ws8"),
        ];
        let all = machines.counts(None, &failures, &names);
        let line = |c: &VersionCount| {
            let rings: Vec<String> = c
                .rings
                .iter()
                .map(|r| format!("{} {}/{}", r.ring, r.machines, r.affected))
                .collect();
            format!(
                "{} {}/{}/{} {:?} {rings:?}",
                c.version, c.machines, c.affected, c.failures, c.affected_hosts
            )
        };
        let lines: Vec<String> = all.iter().map(line).collect();
        assert_eq!(
            lines,
            [
                r#"6.1.0.3 9/2/3 ["ws1", "ws9"] ["broad 7/1", "canary 2/1"]"#,
                r#"6.2.0.4 1/0/0 [] ["pilot 1/0"]"#,
            ]
        );
        let one = machines.counts(Some(&["A81001".to_owned()]), &failures[..1], &names[..1]);
        assert_eq!(
            one.iter().map(line).collect::<Vec<_>>(),
            [r#"6.1.0.3 5/1/2 ["ws1"] ["broad 3/0", "canary 2/1"]"#]
        );
        assert!(machines
            .counts(Some(&["Z99999".to_owned()]), &[], &[])
            .is_empty());
        // Named or not, the counts are the same; only the names differ.
        let unnamed = machines.counts(None, &failures, &[]);
        assert_eq!(unnamed.len(), all.len());
        for (u, a) in unnamed.iter().zip(&all) {
            assert!(u.affected_hosts.is_empty());
            assert_eq!(
                (u.machines, u.affected, u.failures, &u.rings),
                (a.machines, a.affected, a.failures, &a.rings)
            );
        }
    }

    #[test]
    fn only_the_suspects_machines_are_asked_for_by_name() {
        let at = |version: &str, machines| SiteMachines {
            site: "A81001".into(),
            component: "oberthur-middleware".into(),
            version: version.into(),
            ring: UpdateRing::Broad,
            machines,
        };
        let failed = |version: &str, machines| FailedCount {
            component: "oberthur-middleware".into(),
            version: version.into(),
            ring: UpdateRing::Broad,
            machines,
            failures: machines,
        };
        let machines = Machines::new(&[at("6.2.0.4", 400), at("6.1.0.3", 60)]);
        let failures = [failed("6.2.0.4", 8), failed("6.1.0.3", 9)];
        assert_eq!(
            machines.suspects(None, &failures),
            [("oberthur-middleware".to_owned(), "6.1.0.3".to_owned())]
        );
        assert!(machines.suspects(None, &failures[..1]).is_empty());
    }

    #[test]
    fn a_suspect_still_in_its_first_rings_is_held_there() {
        let ring = |ring, machines, affected| RingCount {
            ring,
            machines,
            affected,
        };
        let held = rollout(&[
            ring(UpdateRing::Canary, 1, 1),
            ring(UpdateRing::Pilot, 4, 3),
        ]);
        assert_eq!(
            held,
            Rollout::Hold {
                reached: UpdateRing::Pilot
            }
        );
        assert_eq!(
            rollout(&[ring(UpdateRing::Canary, 1, 1)]),
            Rollout::Hold {
                reached: UpdateRing::Canary
            }
        );
        assert_eq!(
            rollout(&[
                ring(UpdateRing::Canary, 1, 1),
                ring(UpdateRing::Broad, 9, 2)
            ]),
            Rollout::RollBack { broad_machines: 9 }
        );
    }

    #[test]
    fn too_few_or_too_close_is_not_a_suspect() {
        // Two failures on a small version: high rate, but an anecdote.
        let r = version_rates(&[count("6.2.0.4", 400, 8), count("6.1.0.3", 10, 2)]);
        assert!(r.iter().all(|r| !r.suspect), "{r:?}");
        // Three failures on 40 machines against 2%: z below the bar.
        let r = version_rates(&[count("6.2.0.4", 100, 2), count("6.1.0.3", 40, 3)]);
        assert!(r.iter().all(|r| !r.suspect), "{r:?}");
        // A rate under twice the others', however many machines.
        let r = version_rates(&[count("6.2.0.4", 4000, 400), count("6.1.0.3", 4000, 700)]);
        assert!(r.iter().all(|r| !r.suspect), "{r:?}");
        // The only version of a component has nothing to be compared with.
        let r = version_rates(&[count("6.2.0.4", 100, 50)]);
        assert_eq!((r[0].others_rate, r[0].suspect), (None, false));
    }
}
