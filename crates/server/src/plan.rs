//! `GET /api/v1/plan`: the renewal plan with the options of `cardwatch plan`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::planner::{plan_teams, Settings, TeamPlan, CSV_COLUMNS};
use cardwatch_store::renewals_due;
use serde_json::json;

use crate::auth::Caller;
use crate::findings::{bad_request, BadParam};
use crate::scope::viewer;
use crate::{blocking, AppState};

struct Params {
    capacity: Option<u32>,
    from: Option<Date>,
    site: Option<String>,
    wait_days: i32,
    format: &'static str,
    offset: usize,
    limit: usize,
}

fn params(q: &HashMap<String, String>) -> Result<Params, BadParam> {
    const KNOWN: [&str; 7] = [
        "capacity",
        "from",
        "site",
        "wait_days",
        "format",
        "offset",
        "limit",
    ];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        ));
    }
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let number = |k: &str, default: Option<u64>, range: std::ops::RangeInclusive<u64>| {
        let v = match (get(k), default) {
            (Some(v), _) => v
                .parse::<u64>()
                .map_err(|_| bad_request(k, format!("{k} {v:?} is not a whole number")))?,
            (None, Some(d)) => d,
            (None, None) => {
                return Err(bad_request(
                    k,
                    format!("{k} is required (renewals a working day)"),
                ))
            }
        };
        if range.contains(&v) {
            Ok(Some(v))
        } else {
            Err(bad_request(
                k,
                format!("{k} must be {} to {}", range.start(), range.end()),
            ))
        }
    };
    Ok(Params {
        capacity: number("capacity", None, 1..=1_000_000)?.map(|c| c as u32),
        from: get("from")
            .map(|v| Date::parse(v).map_err(|e| bad_request("from", format!("from {v:?}: {e}"))))
            .transpose()?,
        site: get("site").map(str::to_owned),
        wait_days: number("wait_days", Some(30), 1..=90)?.unwrap_or(30) as i32,
        format: match get("format") {
            None | Some("json") => "json",
            Some("csv") => "csv",
            Some("ics") => "ics",
            Some(v) => {
                return Err(bad_request(
                    "format",
                    format!("format {v:?}: use json, csv or ics"),
                ))
            }
        },
        offset: number("offset", Some(0), 0..=u64::MAX)?.unwrap_or(0) as usize,
        limit: number("limit", Some(1_000), 1..=10_000)?.unwrap_or(1_000) as usize,
    })
}

/// `GET /api/v1/plan?capacity=N&from=&site=&wait_days=&format=json|csv|ics&offset=&limit=`
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
    let from = p.from.unwrap_or_else(|| (state.now)().date());
    let checks = state.checks.clone();
    if p.capacity.is_none() && checks.teams.is_empty() {
        return bad_request(
            "capacity",
            "capacity is required (renewals a working day): no RA teams are configured".into(),
        )
        .into_response();
    }
    let (rest, wait_days) = (p.capacity, p.wait_days);
    let plans = match blocking(&state, move |s| {
        let renewals = renewals_due(s, &checks.thresholds)?;
        let settings = Settings {
            from,
            capacity: 1,
            window_days: checks.thresholds.renewal_window_days,
            calendar: &checks.calendar,
        };
        Ok(plan_teams(
            renewals,
            &checks.teams,
            rest,
            &settings,
            wait_days,
        ))
    })
    .await
    {
        Ok(Ok(r)) => r,
        Ok(Err(unserved)) => return bad_request("capacity", unserved.to_string()).into_response(),
        Err(f) => return f.into_response(),
    };
    let site = p.site.as_deref();
    // Every shown renewal as (team, index into its report).
    let shown: Vec<(&TeamPlan, usize)> = plans
        .iter()
        .flat_map(|t| t.report.of_site(site).into_iter().map(move |i| (t, i)))
        .filter(|(t, i)| viewer.sees_site(&t.report.renewals[*i].site))
        .collect();
    match p.format {
        "csv" => crate::csv_download(
            "renewal-plan.csv",
            &CSV_COLUMNS,
            shown
                .iter()
                .map(|&(t, i)| t.report.renewals[i].csv_fields(&t.report.plan.targets[i], &t.team)),
        ),
        "ics" => {
            let events: Vec<_> = shown
                .iter()
                .map(|&(t, i)| t.report.renewals[i].event(&t.report.plan.targets[i]))
                .collect();
            let now = Timestamp::start_of((state.now)().date());
            (
                [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
                cardwatch_core::ics::calendar("Smartcard renewals", &events, now),
            )
                .into_response()
        }
        _ => {
            let teams: Vec<_> = plans
                .iter()
                .map(|t| {
                    json!({
                        "team": t.team,
                        "capacity": t.capacity,
                        "plan": t.report.plan.outcome,
                        "wait_for_prompt": t.report.wait,
                        "capacity_for_no_lapses": t.report.plan.capacity_for_no_lapses,
                        "weeks": t.report.plan.weeks,
                    })
                })
                .collect();
            let renewals: Vec<_> = shown
                .iter()
                .skip(p.offset)
                .take(p.limit)
                .map(|&(t, i)| {
                    let mut row = t.report.json_row(i);
                    row["ra_team"] = t.team.clone().into();
                    row
                })
                .collect();
            axum::Json(json!({
                "from": from,
                "teams": teams,
                "total": shown.len(),
                "offset": p.offset,
                "limit": p.limit,
                "renewals": renewals,
            }))
            .into_response()
        }
    }
}
