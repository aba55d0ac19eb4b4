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
