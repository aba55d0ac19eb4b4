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
