//! `GET /api/v1/plan/migration`: the move of the caller's workstations from a retiring
//! authentication client to its successor (the JSON twin of `cardwatch plan migration`). The
//! plan is made for the whole estate, so that a daily limit is shared as the IT team would
//! share it, and then shown for the caller's sites only.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::date::Date;
use cardwatch_core::migration::{plan, Settings, Totals};
use cardwatch_store::load_workstations;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::scope::viewer;
use crate::web::{bad_request, blocking, BadParam};
use crate::AppState;

/// The query parameters, validated.
struct Params {
    from: Option<Date>,
    per_day: Option<u32>,
    margin_days: i32,
}

fn params(q: &HashMap<String, String>) -> Result<Params, BadParam> {
    const KNOWN: [&str; 3] = ["from", "per_day", "margin_days"];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        ));
    }
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let number = |k: &str, range: std::ops::RangeInclusive<i64>| {
        get(k)
            .map(|v| match v.parse::<i64>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(bad_request(
                    k,
                    format!(
                        "{k} {v:?} must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )),
            })
            .transpose()
    };
    Ok(Params {
        from: get("from")
            .map(|v| Date::parse(v).map_err(|e| bad_request("from", format!("from {v:?}: {e}"))))
            .transpose()?,
        per_day: number("per_day", 1..=100_000)?.map(|n| n as u32),
        margin_days: number("margin_days", 0..=90)?.unwrap_or(14) as i32,
    })
}

/// `GET /api/v1/plan/migration`.
pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::ViewEstate, true).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let p = match params(&q) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let estate = match blocking(&state, load_workstations).await {
        Ok(e) => e,
        Err(f) => return f.into_response(),
    };
    let checks = &state.checks;
    let settings = Settings {
        from: p.from.unwrap_or_else(|| (state.now)().date()),
        calendar: &checks.calendar,
        per_day: p.per_day,
        margin_days: p.margin_days,
    };
    let Some(mut plan) = plan(&estate, &checks.catalogue, &settings) else {
        return axum::Json(json!({"plan": null, "totals": Totals::default()})).into_response();
    };
    plan.sites.retain(|s| viewer.sees_site(&s.site));
    let totals = plan.totals();
    axum::Json(json!({"plan": plan, "totals": totals})).into_response()
}
