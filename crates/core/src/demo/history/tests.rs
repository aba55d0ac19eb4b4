use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::*;
use crate::reports::{version_rates, RingCount, VersionCount};
use crate::triage::SHIPPED;
use crate::vocab::UpdateRing;

fn kb() -> KnowledgeBase {
    KnowledgeBase::load(SHIPPED).expect("the shipped base loads")
}

fn cfg(practices: u32) -> DemoConfig {
    DemoConfig {
        practices,
        holders: None,
        seed: 1,
        today: Date::parse("2026-11-23").expect("date"),
    }
}

#[test]
fn the_same_config_gives_the_same_past() {
    let kb = kb();
    assert_eq!(history(&cfg(6), &kb), history(&cfg(6), &kb));
}

#[test]
fn incidents_fill_the_ninety_days_before_today_as_the_desk_would_record_them() {
    let kb = kb();
    let c = cfg(25);
    let h = history(&c, &kb);
    let today = Timestamp::start_of(c.today);
    let first = Timestamp::start_of(c.today.add_days(-DAYS));
    assert!(h.incidents.len() >= 100, "{}", h.incidents.len());
    let months: BTreeSet<i32> = h
        .incidents
        .iter()
        .map(|i| (i.opened_at.unix() - first.unix()) as i32 / (30 * 86_400))
        .collect();
    assert_eq!(
        months.len(),
        3,
        "every month of the ninety days has incidents"
    );
    for i in &h.incidents {
        assert!(i.opened_at >= first && i.closed_at < today, "{i:?}");
        assert!(i.opened_at.date().weekday() < 5, "{i:?}");
        let mut at = i.opened_at;
        for s in &i.steps {
            assert!(s.at >= at, "steps in order: {i:?}");
            at = s.at;
        }
        assert!(i.closed_at >= at);
        let s = kb.symptom(&i.opened.symptom).expect("a known symptom");
        match i.status {
            IncidentStatus::Resolved => {
                let cause = kb
                    .cause(i.cause.as_deref().expect("a cause"))
                    .expect("known");
                assert!(kb.symptoms[s].causes.iter().any(|&(c, _)| c == cause));
                let last = i.steps.last().expect("a step");
                assert_eq!(last.result, FIXED);
                let fix = kb.fix(&last.id).expect("the last step is a fix");
                assert!(kb.fixes[fix].success[cause] > 0.0, "the fix clears it");
            }
            IncidentStatus::Escalated => assert_eq!(i.cause, None),
            IncidentStatus::Open => panic!("the demo's past is closed: {i:?}"),
        }
    }
    let resolved = h
        .incidents
        .iter()
        .filter(|i| i.status == IncidentStatus::Resolved)
        .count();
    assert!(resolved * 2 > h.incidents.len(), "most are resolved");
    assert!(resolved < h.incidents.len(), "some are escalated");
}

#[test]
fn one_site_has_a_recent_run_of_locked_cards() {
    let kb = kb();
    let c = cfg(25);
    let h = history(&c, &kb);
    let site = h.lockout_site.clone().expect("a site");
    let week = Timestamp::start_of(c.today.add_days(-7));
    let locked = |site: &str| {
        h.incidents
            .iter()
            .filter(|i| {
                i.opened.site.as_deref() == Some(site)
                    && i.opened_at >= week
                    && ["card-locked", "pin-rejected"].contains(&i.opened.symptom.as_str())
            })
            .count()
    };
    assert!(locked(&site) >= 5, "{}", locked(&site));
    assert!((5..=7).contains(&h.lockouts.len()), "one lockout a card");
    let others = h
        .incidents
        .iter()
        .filter_map(|i| i.opened.site.clone())
        .filter(|s| *s != site)
        .collect::<BTreeSet<_>>();
    assert!(others.iter().all(|s| locked(s) <= 2), "the run stands out");
}

#[test]
fn some_practices_reviews_are_overdue_and_not_all() {
    let kb = kb();
    let c = cfg(25);
    let h = history(&c, &kb);
    assert!(
        !h.reviews_overdue.is_empty() && h.reviews_overdue.len() < 12,
        "{:?}",
        h.reviews_overdue
    );
    let year_ago = Timestamp::start_of(c.today.add_days(-REVIEW_EVERY_DAYS));
    let mut latest: HashMap<&str, Timestamp> = HashMap::new();
    for r in &h.reviews {
        let e = latest.entry(&r.ods_code).or_insert(r.at);
        *e = (*e).max(r.at);
    }
    for (ods, at) in latest {
        let overdue = h.reviews_overdue.iter().any(|o| o == ods);
        assert_eq!(at < year_ago, overdue, "{ods} last reviewed {at}");
    }
}

/// What the reports count (see the store's `version_counts`): machines per version of each
/// software component, Windows build and reader firmware, and those with an incident.
fn version_counts(c: &DemoConfig, h: &History) -> Vec<VersionCount> {
    let mut rings: HashMap<String, UpdateRing> = HashMap::new();
    let mut on: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    generate(c, |r| match r {
        Record::Workstation(w) => {
            rings.insert(w.hostname.as_str().to_owned(), w.update_ring);
            on.entry(("windows".into(), w.os_build.clone()))
                .or_default()
                .push(w.hostname.as_str().to_owned());
        }
        Record::Software(s) => on
            .entry((s.component.clone(), s.version.clone()))
            .or_default()
            .push(s.hostname.as_str().to_owned()),
        Record::Reader(r) => {
            if let (Some(h), Some(f)) = (r.hostname, r.firmware) {
                on.entry((format!("reader {} {}", r.vendor, r.model), f))
                    .or_default()
                    .push(h.as_str().to_owned());
            }
        }
        _ => {}
    });
    let mut failures: HashMap<&str, u64> = HashMap::new();
    for i in &h.incidents {
        if let Some(host) = &i.opened.hostname {
            *failures.entry(host).or_default() += 1;
        }
    }
    on.into_iter()
        .map(|((component, version), hosts)| {
            let failed: Vec<String> = hosts
                .iter()
                .filter(|h| failures.contains_key(h.as_str()))
                .cloned()
                .collect();
            let ring_counts = [UpdateRing::Canary, UpdateRing::Pilot, UpdateRing::Broad]
                .into_iter()
                .map(|ring| RingCount {
                    ring,
                    machines: hosts.iter().filter(|h| rings[h.as_str()] == ring).count() as u64,
                    affected: failed.iter().filter(|h| rings[h.as_str()] == ring).count() as u64,
                })
                .filter(|r| r.machines > 0)
                .collect();
            VersionCount {
                component,
                version,
                machines: hosts.len() as u64,
                affected: failed.len() as u64,
                failures: failed.iter().map(|h| failures[h.as_str()]).sum(),
                affected_hosts: failed,
                rings: ring_counts,
            }
        })
        .collect()
}

#[test]
fn failures_follow_the_pilot_release_and_nothing_else() {
    // The sizes the tests serve (1–4 practices), the default (25) and those between: the release
    // is the one suspect wherever it is installed (from three practices), held at the pilot ring,
    // and the background alone never names a version.
    let kb = kb();
    for (practices, d) in (1..=30).flat_map(|p| [(p, 0), (p, 3), (p, 5)]) {
        let c = DemoConfig {
            today: cfg(1).today.add_days(d),
            ..cfg(practices)
        };
        let h = history(&c, &kb);
        let rates = version_rates(&version_counts(&c, &h));
        let suspects: Vec<(String, String)> = rates
            .iter()
            .filter(|r| r.suspect)
            .map(|r| (r.count.component.clone(), r.count.version.clone()))
            .collect();
        if practices >= 3 {
            let held = (PILOT_RELEASE.0.to_owned(), PILOT_RELEASE.1.to_owned());
            assert_eq!(suspects, [held], "{practices} practices on {}", c.today);
            assert_eq!(
                rates[0].rollout,
                Some(crate::reports::Rollout::Hold {
                    reached: UpdateRing::Pilot
                })
            );
        } else {
            assert!(
                suspects.is_empty(),
                "{practices} practices on {}: {suspects:?}",
                c.today
            );
        }
    }
}

#[test]
fn whatever_the_day_of_the_week_the_past_stays_in_its_window_and_on_weekdays() {
    let kb = kb();
    for d in 0..7 {
        let c = DemoConfig {
            today: cfg(1).today.add_days(d),
            ..cfg(8)
        };
        let h = history(&c, &kb);
        let (first, today) = (
            Timestamp::start_of(c.today.add_days(-DAYS)),
            Timestamp::start_of(c.today),
        );
        for i in &h.incidents {
            assert!(i.opened_at >= first && i.closed_at < today, "{i:?}");
            assert!(i.opened_at.date().weekday() < 5, "{i:?}");
        }
        assert!(h.reviews.iter().all(|r| r.at < today));
        assert!(h.lockouts.iter().all(|l| l.locked_at >= first));
    }
}

#[test]
fn the_desk_has_two_incidents_open_and_one_with_the_ra_this_morning() {
    let kb = kb();
    let c = cfg(5);
    let now = Timestamp::from_unix(Timestamp::start_of(c.today).unix() + 10 * 3600 + 30 * 60 + 17);
    let today = desk_today(&c, &kb, now);
    assert_eq!(
        today,
        desk_today(&c, &kb, now),
        "the same now, the same incidents"
    );
    let status: Vec<IncidentStatus> = today.iter().map(|i| i.status).collect();
    assert_eq!(
        status,
        [
            IncidentStatus::Escalated,
            IncidentStatus::Open,
            IncidentStatus::Open
        ],
        "{today:?}"
    );
    for i in &today {
        assert!(i.opened_at.date() == c.today && i.opened_at <= now, "{i:?}");
        assert!(!i.steps.is_empty(), "{i:?}");
        let s = kb
            .symptom(&i.opened.symptom)
            .expect("a symptom of the base");
        let mut at = i.opened_at;
        for step in &i.steps {
            assert!(step.at >= at && step.at <= now, "steps in order: {i:?}");
            at = step.at;
            let known = kb.symptoms[s]
                .checks
                .iter()
                .map(|&c| &kb.checks[c].id)
                .chain(kb.symptoms[s].fixes.iter().map(|&f| &kb.fixes[f].id))
                .any(|id| *id == step.id);
            assert!(known, "a step of the symptom: {step:?}");
        }
        assert!(i.closed_at >= at && i.closed_at <= now, "{i:?}");
        assert!(i.opened.site.is_some() && i.opened.card_serial.is_some());
    }
    // Each opened before the cluster window, so a new report at its site is not a second one.
    let window = i64::from(kb.settings.cluster_window_minutes) * 60;
    assert!(
        today
            .iter()
            .all(|i| i.opened_at.unix() < now.unix() - window),
        "{today:?}"
    );
}
