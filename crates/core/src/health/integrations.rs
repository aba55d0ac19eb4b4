//! Integration readiness: the onboarding errors a service acting with practice smartcards meets
//! at its first synchronisation (seed 004), each found from the estate before it happens — the
//! practice's ODS code missing from a card's role, a role too low to register patients, a card
//! without its own EMIS Web account, an EMIS CDB or SystmOne profile name that differs from the
//! one the service was given — and a card the service cannot use at all.

use std::collections::BTreeMap;

use super::{Context, Groups, Out, Owner, Severity, SubjectKind};
use crate::card_status::CardStatus;
use crate::fasthash::FastMap;
use crate::health::{CardFacts, Estate, IntegrationCardFacts, IntegrationFacts, PositionFacts};
use crate::vocab::{ClinicalSystem, PositionStatus};

/// The subject of a finding about one card of an integration (`ht1-a81001/CS0000000042`); a
/// finding about the integration as a whole has its id alone.
pub fn integration_card_subject(integration: &str, card_serial: &str) -> String {
    format!("{integration}/{card_serial}")
}

pub(super) fn integrations(estate: &Estate, cx: &Context<'_>, out: &mut Out) {
    let organisation: FastMap<&str, &str> = estate
        .sites
        .iter()
        .map(|s| (s.site_ods.as_str(), &*s.organisation_ods))
        .collect();
    // Integrations, and their cards, are in id order after `Estate::sort`: one merge pass.
    let mut links = Groups::new(&estate.integration_cards, |c| &c.integration);
    for i in &estate.integrations {
        let cards = links.of(&i.integration);
        let org = organisation.get(&*i.site_ods).copied().unwrap_or("");
        identifiers(i, cx, out);
        for card in cards {
            card_readiness(estate, i, org, card, cx, out);
        }
        if i.clinical_system == ClinicalSystem::Emis {
            shared_accounts(i, cards, cx, out);
        }
    }
}

/// The practice's EMIS CDB or SystmOne profile name against the one the service holds.
fn identifiers(i: &IntegrationFacts, cx: &Context<'_>, out: &mut Out) {
    let (rule, what, ours, theirs, fix_mismatch, fix_missing) = match i.clinical_system {
        ClinicalSystem::Emis => (
            "integration-emis-cdb",
            "EMIS CDB",
            &i.emis_cdb,
            &i.service_emis_cdb,
            "correct the EMIS CDB on the service's 'Your practice' page to the one EMIS Web shows, before the next synchronisation",
            "enter the practice's EMIS CDB (from EMIS Web) on the service's 'Your practice' page, and record both here",
        ),
        ClinicalSystem::Systmone => (
            "integration-systmone-profile",
            "SystmOne profile name",
            &i.systmone_profile,
            &i.service_systmone_profile,
            "find the profile's exact name in SystmOne and ask the service to change theirs to it (they change it, not the practice)",
            "find the profile's exact name in SystmOne, give it to the service, and record both here",
        ),
        ClinicalSystem::Vision | ClinicalSystem::Other => return,
    };
    let push = |out: &mut Out, severity, why: String, fix: &'static str| {
        out.push(
            rule,
            severity,
            SubjectKind::Integration,
            &i.integration,
            &i.site_ods,
            Owner::PracticeManager,
            cx.today.add_days(7),
            why,
            fix.into(),
        );
    };
    match (ours, theirs) {
        (Some(a), Some(b)) if a.trim() != b.trim() => push(
            out,
            Severity::Urgent,
            format!(
                "{} holds {what} {b:?} but the practice's is {a:?}: synchronisation will fail",
                i.service
            ),
            fix_mismatch,
        ),
        (Some(_), Some(_)) => {}
        (_, None) => push(
            out,
            Severity::Warning,
            format!("{} has no {what} for the practice", i.service),
            fix_missing,
        ),
        (None, Some(b)) => push(
            out,
            Severity::Info,
            format!(
                "the practice's own {what} is not recorded, so {:?} given to {} cannot be checked",
                &**b, i.service
            ),
            fix_missing,
        ),
    }
}

/// One card: usable, with a role at the practice that allows what the service does, and (for
/// EMIS) an account of its own.
fn card_readiness(
    estate: &Estate,
    i: &IntegrationFacts,
    org: &str,
    link: &IntegrationCardFacts,
    cx: &Context<'_>,
    out: &mut Out,
) {
    let serial = link.card_serial.as_str();
    let subject = integration_card_subject(&i.integration, serial);
    let push = |out: &mut Out, rule, severity, owner, days, why: String, fix: String| {
        out.push(
            rule,
            severity,
            SubjectKind::Integration,
            &subject,
            &i.site_ods,
            owner,
            cx.today.add_days(days),
            why,
            fix.into(),
        );
    };
    let Some(card) = find_card(estate, serial) else {
        return;
    };
    if card.status != CardStatus::Active {
        push(
            out,
            "integration-card-unusable",
            Severity::Urgent,
            Owner::PracticeManager,
            2,
            format!("card {serial}, which {} acts with, is {}", i.service, card.status),
            "unlock the card, or have the RA issue a replacement with the same role and give the service its serial".into(),
        );
    }
    let at_practice: Vec<&PositionFacts> = positions_of(estate, &card.holder_uuid)
        .iter()
        .filter(|p| *p.ods_code == *i.site_ods || *p.ods_code == *org)
        .collect();
    let ods = if org.is_empty() { &*i.site_ods } else { org };
    let in_force: Vec<&&PositionFacts> = at_practice
        .iter()
        .filter(|p| p.status == PositionStatus::Active)
        .collect();
    if in_force.is_empty() {
        let waiting = at_practice.iter().find(|p| {
            matches!(
                p.status,
                PositionStatus::Requested | PositionStatus::Approved
            )
        });
        let (why, fix) = match waiting {
            Some(p) => (
                format!(
                    "card {serial}'s role {} at {ods} is {}, not yet in force: the practice's ODS code is not on the card",
                    p.role_code, p.status
                ),
                "ask the RA to approve the role and bring it into force before the service synchronises".to_owned(),
            ),
            None => (
                format!("card {serial}'s holder has no role at {ods}: the practice's ODS code is not on the card"),
                format!("apply an admin staff role at {ods} to the card and have the RA approve it"),
            ),
        };
        push(
            out,
            "integration-ods-missing",
            Severity::Urgent,
            Owner::PracticeManager,
            7,
            why,
            fix,
        );
    } else if !in_force.iter().any(|p| allows(i, p)) {
        let held: Vec<&str> = in_force.iter().map(|p| &*p.role_code).collect();
        let mut needs = Vec::new();
        if !i.required_roles.is_empty() {
            needs.push(format!("role {}", i.required_roles.replace(' ', " or ")));
        }
        if !i.required_activity_codes.is_empty() {
            needs.push(format!("activities {}", i.required_activity_codes));
        }
        push(
            out,
            "integration-role-insufficient",
            Severity::Urgent,
            Owner::Ra,
            7,
            format!(
                "card {serial}'s role at {ods} ({}) is too low for {}: it needs {}",
                held.join(", "),
                i.service,
                needs.join(" with ")
            ),
            "remove the role that is too low and add one with the permissions the service needs (e.g. a higher-level admin role); if the RA created the service's own role wrongly, ask them to re-create it as first requested".into(),
        );
    }
    if i.clinical_system == ClinicalSystem::Emis && link.emis_username.is_none() {
        push(
            out,
            "integration-emis-account",
            Severity::Urgent,
            Owner::PracticeManager,
            7,
            format!("no EMIS Web account is recorded for card {serial}: the service cannot sign in to EMIS with it"),
            "create an EMIS Web account for this card (one for each card) and give the service its user name and password".into(),
        );
    }
}

/// EMIS accounts used by more than one of an integration's cards: each card needs its own.
fn shared_accounts(
    i: &IntegrationFacts,
    cards: &[IntegrationCardFacts],
    cx: &Context<'_>,
    out: &mut Out,
) {
    let mut by_account: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for c in cards {
        if let Some(user) = &c.emis_username {
            by_account.entry(user).or_default().push(&c.card_serial);
        }
    }
    for (user, serials) in by_account.into_iter().filter(|(_, s)| s.len() > 1) {
        for serial in &serials {
            let others: Vec<&str> = serials.iter().filter(|s| *s != serial).copied().collect();
            out.push(
                "integration-emis-account",
                Severity::Urgent,
                SubjectKind::Integration,
                integration_card_subject(&i.integration, serial),
                &i.site_ods,
                Owner::PracticeManager,
                cx.today.add_days(7),
                format!(
                    "card {serial} shares the EMIS Web account {user:?} with {}: sign-in fails for all but one",
                    others.join(", ")
                ),
                "create an EMIS Web account for each card and give the service each user name and password".into(),
            );
        }
    }
}

/// Whether a position in force has one of the required roles (any, when none is required) and
/// every required activity code.
fn allows(i: &IntegrationFacts, p: &PositionFacts) -> bool {
    let role = i.required_roles.is_empty()
        || i.required_roles
            .split_whitespace()
            .any(|r| r == &*p.role_code);
    role && i
        .required_activity_codes
        .split_whitespace()
        .all(|a| p.activity_codes.split_whitespace().any(|b| a == b))
}

fn find_card<'a>(estate: &'a Estate, serial: &str) -> Option<&'a CardFacts> {
    estate
        .cards
        .binary_search_by(|c| c.card_serial.as_str().cmp(serial))
        .ok()
        .map(|n| &estate.cards[n])
}

fn positions_of<'a>(estate: &'a Estate, uuid: &str) -> &'a [PositionFacts] {
    let from = estate
        .positions
        .partition_point(|p| p.holder_uuid.as_str() < uuid);
    let to = from + estate.positions[from..].partition_point(|p| p.holder_uuid.as_str() == uuid);
    &estate.positions[from..to]
}
