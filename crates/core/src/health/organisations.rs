//! Organisations as ODS publishes them: a practice that has closed keeps its history in the
//! estate, but cards in use and workstations that still point at it are a record out of date —
//! the people and machines have moved (or left), and checks, reminders and reach follow the
//! site each record names.

use super::{in_use, Context, Out, Owner, Severity, SubjectKind};
use crate::fasthash::{FastMap, FastSet};
use crate::health::Estate;
use crate::vocab::OrgStatus;

pub(super) fn closed_in_use(estate: &Estate, cx: &Context<'_>, out: &mut Out) {
    let closed: FastSet<&str> = estate
        .organisations
        .iter()
        .filter(|o| o.status == OrgStatus::Closed)
        .map(|o| o.ods_code.as_str())
        .collect();
    if closed.is_empty() {
        return;
    }
    // A site is at a closed organisation when the organisation running it has closed, or when
    // the site is itself a closed one (a branch surgery with its own code).
    let mut at_closed: FastMap<&str, (&str, usize, usize)> = FastMap::default();
    for s in &estate.sites {
        let org = &*s.organisation_ods;
        let which = if closed.contains(org) {
            Some(org)
        } else {
            closed.get(s.site_ods.as_str()).copied()
        };
        if let Some(org) = which {
            at_closed.insert(s.site_ods.as_str(), (org, 0, 0));
        }
    }
    if at_closed.is_empty() {
        return;
    }
    let site_of: FastMap<&str, &str> = estate
        .people
        .iter()
        .filter(|p| at_closed.contains_key(&*p.site_ods))
        .map(|p| (p.uuid.as_str(), &*p.site_ods))
        .collect();
    for c in estate.cards.iter().filter(|c| in_use(c.status)) {
        if let Some(site) = site_of.get(c.holder_uuid.as_str()) {
            if let Some(n) = at_closed.get_mut(site) {
                n.1 += 1;
            }
        }
    }
    for w in &estate.workstations {
        if let Some(n) = at_closed.get_mut(&*w.site_ods) {
            n.2 += 1;
        }
    }
    let mut sites: Vec<_> = at_closed.into_iter().collect();
    sites.sort_unstable();
    for (site, (org, cards, machines)) in sites {
        if cards + machines == 0 {
            continue;
        }
        let closed_on = estate
            .organisations
            .iter()
            .find(|o| o.ods_code == org)
            .and_then(|o| o.closed_on)
            .map(|d| format!(" on {d}"))
            .unwrap_or_default();
        out.push(
            "closed-practice-in-use",
            Severity::Urgent,
            SubjectKind::Site,
            site,
            site,
            if cards > 0 { Owner::Ra } else { Owner::It },
            cx.today.add_days(14),
            format!(
                "{org} closed{closed_on} (ODS), but {cards} {} in use and {machines} {} still \
                 point at site {site}",
                if cards == 1 { "card" } else { "cards" },
                if machines == 1 {
                    "workstation"
                } else {
                    "workstations"
                },
            ),
            "move each person and workstation to the site they work at now (import people.csv \
             and workstations.csv with the new site_ods); cancel the cards of anyone who has left. \
             The closed practice keeps its history"
                .into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::calendar::Calendar;
    use crate::catalogue::Catalogue;
    use crate::date::Date;
    use crate::health::{
        check_only, Context, Estate, Family, Finding, Owner, Severity, Thresholds,
    };
    use crate::records::{Kind, Record};

    fn add(e: &mut Estate, kind: Kind, line: &str) {
        let fields: Vec<&str> = line.split(',').collect();
        e.push(Record::parse(kind, &fields).unwrap_or_else(|err| panic!("{line}: {err:?}")));
    }

    /// A practice with a branch surgery, one card holder at each site and a workstation at
    /// the branch; `status` is the practice's.
    fn estate(status: &str, card: &str) -> Estate {
        let mut e = Estate::default();
        add(&mut e, Kind::Organisations, "QHM,ICB QHM,icb,,,");
        add(
            &mut e,
            Kind::Organisations,
            &format!("A81002,Queens Park,gp_practice,QHM,{status},2025-03-31"),
        );
        add(
            &mut e,
            Kind::Organisations,
            "A81004,Acklam,gp_practice,QHM,active,",
        );
        add(&mut e, Kind::Sites, "A81002,A81002,Queens Park,");
        add(&mut e, Kind::Sites, "A81002001,A81002,Queens Park Branch,");
        add(&mut e, Kind::Sites, "A81004,A81004,Acklam,");
        add(&mut e, Kind::People, "555000000001,Ann Lee,,GP,A81002,,no,");
        add(
            &mut e,
            Kind::People,
            "555000000002,Bob Roe,,Nurse,A81004,,no,",
        );
        add(
            &mut e,
            Kind::Cards,
            &format!("CS0000000001,555000000001,9,{card},2024-01-01,"),
        );
        add(
            &mut e,
            Kind::Cards,
            "CS0000000002,555000000002,9,active,2024-01-01,",
        );
        add(
            &mut e,
            Kind::Workstations,
            "a81002-ws001,A81002001,Windows 11,26100,broad,,,",
        );
        add(
            &mut e,
            Kind::Workstations,
            "a81004-ws001,A81004,Windows 11,26100,broad,,,",
        );
        e
    }

    fn run(mut e: Estate) -> Vec<Finding> {
        let (catalogue, thresholds) = (Catalogue::shipped(), Thresholds::default());
        let cx = Context {
            today: Date::parse("2026-11-18").unwrap(),
            catalogue: &catalogue,
            thresholds: &thresholds,
            calendar: &Calendar::england_and_wales(),
        };
        check_only(&mut e, &cx, &[Family::Sites])
            .into_iter()
            .filter(|f| f.rule == "closed-practice-in-use")
            .collect()
    }

    #[test]
    fn a_closed_practice_with_cards_and_workstations_still_pointing_at_it() {
        let f = run(estate("closed", "active"));
        let sites: Vec<(&str, Owner, Severity)> = f
            .iter()
            .map(|f| (f.site.as_str(), f.owner, f.severity))
            .collect();
        assert_eq!(
            sites,
            [
                ("A81002", Owner::Ra, Severity::Urgent),
                ("A81002001", Owner::It, Severity::Urgent)
            ]
        );
        assert!(
            f[0].why.contains(
                "A81002 closed on 2025-03-31 (ODS), but 1 card in use and 0 workstations"
            ),
            "{}",
            f[0].why
        );
        assert!(
            f[1].why
                .contains("0 cards in use and 1 workstation still point at site A81002001"),
            "{}",
            f[1].why
        );
        assert_eq!(f[0].due, Date::parse("2026-12-02").unwrap());
        assert!(f[0].fix.contains("move each person and workstation"));
    }

    #[test]
    fn near_misses_an_open_practice_or_nothing_left_in_use() {
        assert!(run(estate("active", "active")).is_empty(), "open");
        assert!(
            run(estate("dormant", "active")).is_empty(),
            "dormant is not closed"
        );
        // Closed, with the card cancelled and the workstation moved: nothing to do.
        let mut e = estate("closed", "cancelled");
        e.workstations
            .retain(|w| w.site_ods.as_ref() != "A81002001");
        assert!(run(e).is_empty());
    }
}
