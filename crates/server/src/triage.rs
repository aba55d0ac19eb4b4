//! `POST /api/v1/triage/next`: stateless — the caller sends the symptom (or the text the user
//! saw) and every observation so far, and gets the next step, the posterior over causes, the
//! reason and whether to escalate.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use cardwatch_core::triage::{Case, Fact};
use serde::Deserialize;

use crate::findings::bad_request;
use crate::AppState;

/// The request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NextRequest {
    symptom: Option<String>,
    error_text: Option<String>,
    #[serde(default)]
    observations: BTreeMap<String, String>,
    /// Facts already known (from the estate or an agent), key → value.
    #[serde(default)]
    facts: BTreeMap<String, String>,
    elapsed_minutes: Option<f64>,
    #[serde(default)]
    others_affected: u32,
}

pub(crate) async fn next(State(state): State<AppState>, body: Bytes) -> Response {
    let req: NextRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return bad_request(
                "body",
                format!("the body is not a triage request: {e} — send JSON with symptom or error_text, and observations {{check_id: result}}"),
            )
            .into_response()
        }
    };
    if let Some(m) = req.elapsed_minutes {
        if !(m.is_finite() && m >= 0.0) {
            return bad_request(
                "elapsed_minutes",
                format!("{m} is not a number of minutes — give 0 or more"),
            )
            .into_response();
        }
    }
    let kb = &state.checks.triage;
    let (symptom, matched) = match kb.resolve(req.symptom.as_deref(), req.error_text.as_deref()) {
        Ok(x) => x,
        Err(e) => return bad_request(&e.field, e.message).into_response(),
    };
    let case = Case {
        observations: req.observations.into_iter().collect(),
        facts: req
            .facts
            .into_iter()
            .map(|(key, value)| Fact {
                because: format!("the caller says {key} is {value}"),
                key,
                value,
            })
            .collect(),
        priors: None,
        elapsed_minutes: req.elapsed_minutes,
        others_affected: req.others_affected,
    };
    match kb.answer(symptom, &case) {
        Ok(advice) => axum::Json(kb.advice_json(&advice, matched.as_deref())).into_response(),
        Err(e) => bad_request(&e.field, e.message).into_response(),
    }
}
