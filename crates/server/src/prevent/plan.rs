//! `GET /api/v1/plan`: the renewal plan with the options of `cardwatch plan`.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::chart::{Bar, BarChart};
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::planner::{plan_teams, Settings, TeamPlan, CSV_COLUMNS};
use cardwatch_store::renewals_due;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::scope::viewer;
use crate::web::{bad_request, BadParam};
use crate::web::{blocking, escape};
use crate::AppState;

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

/// Plans every RA team's renewals from `from`.
async fn compute(state: &AppState, p: &Params, from: Date) -> Result<Vec<TeamPlan>, Response> {
    let checks = state.checks.clone();
    if p.capacity.is_none() && checks.teams.is_empty() {
        return Err(bad_request(
            "capacity",
            "capacity is required (renewals a working day): no RA teams are configured".into(),
        )
        .into_response());
    }
    let (rest, wait_days) = (p.capacity, p.wait_days);
    let plans = match blocking(state, move |s| {
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
        Ok(Err(unserved)) => {
            return Err(bad_request("capacity", unserved.to_string()).into_response())
        }
        Err(f) => return Err(f.into_response()),
    };
    Ok(plans)
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
    let plans = match compute(&state, &p, from).await {
        Ok(plans) => plans,
        Err(r) => return r,
    };
    let site = p.site.as_deref();
    // Every shown renewal as (team, index into its report).
    let shown: Vec<(&TeamPlan, usize)> = plans
        .iter()
        .flat_map(|t| t.report.of_site(site).into_iter().map(move |i| (t, i)))
        .filter(|(t, i)| viewer.sees_site(&t.report.renewals[*i].site))
        .collect();
    match p.format {
        "csv" => crate::web::csv_download(
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

/// `GET /plan?capacity=N&from=…`: each RA team's next 52 weeks — certificates expiring, renewals
/// planned, and capacity — as a chart with its table, and the plan against waiting for the prompt.
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::ViewEstate, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut body = String::from(
        "<form method=\"get\" class=\"nhsuk-u-margin-bottom-4\"><div class=\"nhsuk-form-group\">\
         <label class=\"nhsuk-label\" for=\"capacity\">Renewals the RA team can do a working day</label>\
         <input class=\"nhsuk-input nhsuk-input--width-4\" id=\"capacity\" name=\"capacity\" inputmode=\"numeric\"></div>\
         <button class=\"nhsuk-button nhsuk-button--secondary\">Plan</button></form>\n",
    );
    let wants_plan = q.contains_key("capacity") || !state.checks.teams.is_empty();
    if wants_plan {
        let p = match params(&q) {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        };
        let from = p.from.unwrap_or_else(|| (state.now)().date());
        let plans = match compute(&state, &p, from).await {
            Ok(plans) => plans,
            Err(r) => return r,
        };
        for t in &plans {
            let weeks: Vec<_> = t.report.plan.weeks.iter().take(52).collect();
            let chart = BarChart {
                title: format!(
                    "{}: certificates expiring and renewals planned per week, against capacity",
                    t.team
                ),
                series: vec!["expiring".into(), "planned".into()],
                bars: weeks
                    .iter()
                    .map(|w| Bar {
                        label: w.starts.to_string(),
                        values: vec![f64::from(w.expiring), f64::from(w.planned)],
                    })
                    .collect(),
                limit: Some((
                    "capacity".into(),
                    weeks.iter().map(|w| f64::from(w.capacity)).collect(),
                )),
            };
            let o = &t.report.plan.outcome;
            let _ = writeln!(
                body,
                "<h2 class=\"nhsuk-heading-m\">{}</h2>\n<p class=\"nhsuk-body\">{} a working day. Planned: {} lapse(s); waiting for the prompt: {} lapse(s).</p>\n{}",
                escape(&t.team),
                t.capacity,
                o.lapsed,
                t.report.wait.lapsed,
                chart.figure(900.0, 280.0)
            );
        }
        let _ = write!(
            body,
            "<p class=\"nhsuk-body\">Download the plan for your sites: <a href=\"/api/v1/plan?{q}&amp;format=csv\">CSV</a> · <a href=\"/api/v1/plan?{q}&amp;format=ics\">calendar</a>.</p>",
            q = escape(&p_query(&q)),
        );
    }
    crate::web::layout::page("Renewal plan", Some(&viewer.caller), &body).into_response()
}

/// The page's query again, for its download links.
fn p_query(q: &HashMap<String, String>) -> String {
    let mut keys: Vec<_> = q.iter().filter(|(k, _)| k.as_str() != "format").collect();
    keys.sort();
    keys.iter()
        .map(|(k, v)| format!("{k}={}", crate::web::enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}
