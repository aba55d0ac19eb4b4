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
        OrgType::Pcn => "Primary care network",
        OrgType::GpPractice => "GP practice",
        OrgType::Branch => "Branch surgery",
        OrgType::Trust => "NHS trust",
        OrgType::Pharmacy => "Community pharmacy",
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

/// A spare stock item ("Smartcard" for `card`, "Card reader" for `reader`): the two items
/// Cardwatch knows; a site's own item (any word) is shown as it was imported.
pub(crate) fn stock_item_words(code: &str) -> String {
    match code {
        "card" => "Smartcard",
        "reader" => "Card reader",
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
        ClinicalSystem::Other => "Another system",
    }
    .to_owned()
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
        assert_eq!(stock_item_words("reader"), "Card reader");
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
}
