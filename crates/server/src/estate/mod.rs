//! Know the estate: the lists of each kind, and the pages of one card, person, workstation and
//! integration, each with its JSON twin.

pub mod cards;
pub mod integrations;
pub mod lists;
pub mod people;
pub mod workstations;

use std::fmt::Display;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::records::Kind;
use cardwatch_core::triage::application_name;
use cardwatch_core::vocab::{ClinicalSystem, OrgStatus, OrgType, RaRole, ReaderStatus, UpdateRing};

use crate::web::auth::Caller;
use crate::web::bad_request;
use crate::web::lookup::{self, Lookup};
use crate::web::scope::{not_found, viewer, Viewer};
use crate::AppState;

/// One kind of record an address names (`/cards/{serial}` and `/api/v1/cards/{serial}`), and
/// how its two twins refuse an address they cannot show: the API answers its JSON errors, the
/// page answers the refusal page with what was typed kept in the box that finds it. One place,
/// so the four record pages cannot drift apart in what a wrong address gets.
pub(crate) struct Named {
    /// The JSON error's field for a key that is not one of its kind.
    pub field: &'static str,
    /// The box and list the refusal page offers to look again.
    pub lookup: &'static Lookup,
    /// The refusal page's title for a key that is not one of its kind (400).
    pub malformed: &'static str,
    /// The refusal page's title for one not among the caller's (404).
    pub missing: &'static str,
}

impl Named {
    /// The caller as a viewer with `need`, and `typed` parsed as the key. A key that does not
    /// parse is the API's JSON 400 (before the permission is looked at, so a client learns what
    /// it sent wrong first), or the refusal page saying `why(typed)` (400).
    #[allow(clippy::too_many_arguments)] // each names one thing the address is checked for
    pub async fn key<K, E: Display>(
        &self,
        state: &AppState,
        caller: Caller,
        need: Permission,
        api: bool,
        typed: &str,
        parse: impl FnOnce(&str) -> Result<K, E>,
        why: impl FnOnce(&str) -> String,
    ) -> Result<(Viewer, K), Response> {
        let parsed = parse(typed);
        if api {
            if let Err(e) = &parsed {
                return Err(bad_request(self.field, e.to_string()).into_response());
            }
        }
        let v = viewer(state, caller, need, api).await?;
        match parsed {
            Ok(key) => Ok((v, key)),
            Err(_) => Err(lookup::refused(
                &v.caller,
                StatusCode::BAD_REQUEST,
                self.malformed,
                &why(typed.trim()),
                typed,
                self.lookup,
            )),
        }
    }

    /// A key that names nothing among the caller's organisations: the API's JSON 404 saying
    /// `api_message`, or the refusal page saying `page_message` with `typed` kept in its box.
    pub fn missing(
        &self,
        caller: &Caller,
        api: bool,
        typed: &str,
        page_message: &str,
        api_message: &str,
    ) -> Response {
        if api {
            return not_found(true, caller, api_message);
        }
        lookup::refused(
            caller,
            StatusCode::NOT_FOUND,
            self.missing,
            page_message,
            typed,
            self.lookup,
        )
    }
}

// Stored codes in words. A record keeps its closed-list values as the import file and the API
// spell them ("gp_practice", "in_service"), and the lists' filters, sorting, CSV and JSON keep
// them so; a person reading a list page on a phone reads these words instead. Each matches its
// vocabulary in full, so a value added to one cannot go without its words; a code none knows
// (written by hand into the database, or by a newer version) is shown as it is.

/// An organisation's kind ("GP practice" for `gp_practice`): ODS's kinds as the desk names them,
/// not as the import file spells them.
pub(crate) fn org_type_words(code: &str) -> String {
    let Ok(kind) = OrgType::parse(code) else {
        return code.to_owned();
    };
    match kind {
        OrgType::Icb => "Integrated care board",
        OrgType::SubIcb => "Sub-ICB location",
        OrgType::Pcn => "PCN (primary care network)",
        OrgType::GpPractice => "GP practice",
        OrgType::Branch => "Branch surgery",
        OrgType::Trust => "Trust",
        OrgType::Pharmacy => "Pharmacy",
        OrgType::Other => "Other",
    }
    .to_owned()
}

/// Whether an organisation is open ("Active" for `active`), as ODS says it, capitalised.
pub(crate) fn org_status_words(code: &str) -> String {
    let Ok(status) = OrgStatus::parse(code) else {
        return code.to_owned();
    };
    match status {
        OrgStatus::Active => "Active",
        OrgStatus::Closed => "Closed",
        OrgStatus::Dormant => "Dormant",
        OrgStatus::Proposed => "Proposed",
    }
    .to_owned()
}

/// A person's Registration Authority roles, stored as codes separated by spaces
/// (`ra_agent local_smartcard_administrator`), as the RA's own names joined by commas ("RA agent,
/// Local smartcard administrator").
pub(crate) fn ra_roles_words(codes: &str) -> String {
    joined(codes, |code| match RaRole::parse(code) {
        Ok(role) => match role {
            RaRole::RaManager => "RA manager",
            RaRole::RaAgentAdvanced => "RA agent (advanced)",
            RaRole::RaAgent => "RA agent",
            RaRole::Sponsor => "Sponsor",
            RaRole::IdChecker => "ID checker",
            RaRole::LocalSmartcardAdministrator => "Local smartcard administrator",
        }
        .to_owned(),
        Err(_) => code.to_owned(),
    })
}

/// A workstation's update ring with when it updates ("Canary (updates first)"): "canary" alone
/// says nothing to someone who has not run a staged rollout.
pub(crate) fn update_ring_words(code: &str) -> String {
    let Ok(ring) = UpdateRing::parse(code) else {
        return code.to_owned();
    };
    match ring {
        UpdateRing::Canary => "Canary (updates first)",
        UpdateRing::Pilot => "Pilot (updates next)",
        UpdateRing::Broad => "Broad (updates last)",
    }
    .to_owned()
}

/// A workstation's applications, stored as the catalogue's ids separated by spaces
/// (`e-rs emis-web`), by the catalogue's names joined by commas ("NHS e-Referral Service, EMIS
/// Web") as the workstation's own page names them; an id the catalogue does not list by triage's
/// name for it, or as it is.
pub(crate) fn applications_words(catalogue: &Catalogue, ids: &str) -> String {
    joined(ids, |id| {
        catalogue
            .application(id)
            .map_or_else(|| application_name(id), |a| a.name.as_str())
            .to_owned()
    })
}

/// A card reader's state ("In service" for `in_service`).
pub(crate) fn reader_status_words(code: &str) -> String {
    let Ok(status) = ReaderStatus::parse(code) else {
        return code.to_owned();
    };
    match status {
        ReaderStatus::InService => "In service",
        ReaderStatus::Spare => "Spare",
        ReaderStatus::Faulty => "Faulty",
        ReaderStatus::Retired => "Retired",
    }
    .to_owned()
}

/// A spare stock item ("Smartcard" for `card`, "Smartcard reader" for `reader`): the two items
/// Cardwatch knows; a site's own item (any word) is shown as it was imported.
pub(crate) fn stock_item_words(code: &str) -> String {
    match code {
        "card" => "Smartcard",
        "reader" => "Smartcard reader",
        other => other,
    }
    .to_owned()
}

/// A practice's clinical system by its product's name ("SystmOne" for `systmone`, "EMIS Web" for
/// `emis`).
pub(crate) fn clinical_system_words(code: &str) -> String {
    let Ok(system) = ClinicalSystem::parse(code) else {
        return code.to_owned();
    };
    match system {
        ClinicalSystem::Emis => "EMIS Web",
        ClinicalSystem::Systmone => "SystmOne",
        ClinicalSystem::Vision => "Vision",
        ClinicalSystem::Other => "Other system",
    }
    .to_owned()
}

/// The columns of a listed kind that hold one code each and sort, each with every code it knows
/// and its words. The words are chosen to sort as their codes do ("Broad (updates last)",
/// "Canary …", "Pilot …"; "Smartcard" before "Smartcard reader"), so a list sorted by such a
/// column through its index reads in the order of what it shows.
pub(crate) fn worded(kind: Kind) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    fn every<T: Copy>(
        all: &[T],
        code: fn(T) -> &'static str,
        words: fn(&str) -> String,
    ) -> Vec<(&'static str, String)> {
        all.iter().map(|&v| (code(v), words(code(v)))).collect()
    }
    match kind {
        Kind::Organisations => vec![("type", every(OrgType::ALL, OrgType::as_str, org_type_words))],
        Kind::Workstations => vec![(
            "update_ring",
            every(UpdateRing::ALL, UpdateRing::as_str, update_ring_words),
        )],
        Kind::Readers => vec![(
            "status",
            every(ReaderStatus::ALL, ReaderStatus::as_str, reader_status_words),
        )],
        Kind::Stock => vec![("item", every(&["card", "reader"], |c| c, stock_item_words))],
        Kind::Integrations => vec![(
            "clinical_system",
            every(
                ClinicalSystem::ALL,
                ClinicalSystem::as_str,
                clinical_system_words,
            ),
        )],
        _ => Vec::new(),
    }
}

/// For a list's filter, the codes of each [`worded`] column whose words have a word starting
/// with what was typed, or hold it anywhere once it is three characters or more, in capitals or
/// not: "smart" or "card" is the stock item `card` ("Smartcard") and `reader` ("Smartcard
/// reader"), "in serv" a reader `in_service`. A letter or two inside a word ("a" in "Canary")
/// would find every row; three inside a compound ("card" in "Smartcard") finds what was meant.
/// Columns none match are left out.
pub(crate) fn codes_meaning(kind: Kind, typed: &str) -> Vec<(&'static str, Vec<String>)> {
    let typed = typed.trim().to_lowercase();
    if typed.is_empty() {
        return Vec::new();
    }
    let holds = |words: &str| {
        let words = words.to_lowercase();
        words.match_indices(&typed).any(|(i, _)| {
            typed.chars().count() >= 3
                || words[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric())
        })
    };
    worded(kind)
        .into_iter()
        .filter_map(|(column, codes)| {
            let found: Vec<String> = codes
                .into_iter()
                .filter(|(_, words)| holds(words))
                .map(|(code, _)| code.to_owned())
                .collect();
            (!found.is_empty()).then_some((column, found))
        })
        .collect()
}

/// A list of codes separated by spaces (as the store keeps them), each in words, joined by
/// commas.
fn joined(codes: &str, words: impl Fn(&str) -> String) -> String {
    codes
        .split_whitespace()
        .map(words)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_codes_are_shown_in_words_and_unknown_ones_as_they_are() {
        assert_eq!(org_type_words("gp_practice"), "GP practice");
        assert_eq!(org_status_words("active"), "Active");
        assert_eq!(
            ra_roles_words("ra_agent local_smartcard_administrator"),
            "RA agent, Local smartcard administrator"
        );
        assert_eq!(update_ring_words("canary"), "Canary (updates first)");
        assert_eq!(reader_status_words("in_service"), "In service");
        assert_eq!(stock_item_words("reader"), "Smartcard reader");
        assert_eq!(clinical_system_words("systmone"), "SystmOne");
        assert_eq!(
            applications_words(&Catalogue::default(), "emis-web made-up"),
            "EMIS Web, made-up"
        );
        let shipped = Catalogue::parse("catalogue.toml", cardwatch_core::catalogue::SHIPPED)
            .expect("the shipped catalogue");
        assert_eq!(
            applications_words(&shipped, "care-identity e-rs"),
            "Care Identity Management, NHS e-Referral Service"
        );
        assert_eq!(org_type_words("surgery"), "surgery");
        assert_eq!(reader_status_words("lost"), "lost");
        assert_eq!(stock_item_words("toner"), "toner");
        assert_eq!(ra_roles_words(""), "");
    }

    #[test]
    fn worded_columns_sort_as_their_words_read() {
        for kind in Kind::ALL {
            for (column, codes) in worded(kind) {
                let mut by_code = codes.clone();
                by_code.sort_by(|a, b| a.0.cmp(b.0));
                let mut by_words = codes.clone();
                by_words.sort_by_key(|(_, words)| words.to_lowercase());
                assert_eq!(by_code, by_words, "{kind} {column}");
            }
        }
    }

    #[test]
    fn what_is_typed_finds_the_codes_whose_words_hold_it() {
        let codes = |kind, typed| codes_meaning(kind, typed);
        assert_eq!(
            codes(Kind::Stock, "Smart"),
            vec![("item", vec!["card".to_owned(), "reader".to_owned()])]
        );
        assert_eq!(
            codes(Kind::Stock, "card reader"),
            vec![("item", vec!["reader".to_owned()])]
        );
        assert_eq!(
            codes(Kind::Readers, "in serv"),
            vec![("status", vec!["in_service".to_owned()])]
        );
        assert_eq!(
            codes(Kind::Workstations, "FIRST"),
            vec![("update_ring", vec!["canary".to_owned()])]
        );
        assert_eq!(
            codes(Kind::Organisations, "gp"),
            vec![("type", vec!["gp_practice".to_owned()])]
        );
        assert_eq!(
            codes(Kind::Integrations, "systm"),
            vec![("clinical_system", vec!["systmone".to_owned()])]
        );
        assert_eq!(
            codes(Kind::Stock, "CARD"),
            vec![("item", vec!["card".to_owned(), "reader".to_owned()])]
        );
        // Words no code has, a letter or two inside a word, or nothing typed, find nothing; nor
        // does a kind without such columns.
        assert!(codes(Kind::Stock, "toner").is_empty());
        assert!(codes(Kind::Workstations, "a").is_empty());
        assert!(codes(Kind::Workstations, "an").is_empty());
        assert!(codes(Kind::Stock, "  ").is_empty());
        assert!(codes(Kind::People, "agent").is_empty());
    }
}
