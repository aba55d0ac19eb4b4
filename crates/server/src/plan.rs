//! `GET /api/v1/plan`: the renewal plan with the options of `cardwatch plan`.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use cardwatch_core::date::{Date, Timestamp};
use cardwatch_core::planner::{Report, Settings, CSV_COLUMNS};
use cardwatch_store::renewals_due;
use serde_json::json;

use crate::findings::{bad_request, BadParam};
use crate::{blocking, AppState};

struct Params {
    capacity: u32,
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
            Ok(v)
        } else {
            Err(bad_request(
                k,
                format!("{k} must be {} to {}", range.start(), range.end()),
            ))
        }
    };
    Ok(Params {
        capacity: number("capacity", None, 1..=1_000_000)? as u32,
        from: get("from")
            .map(|v| Date::parse(v).map_err(|e| bad_request("from", format!("from {v:?}: {e}"))))
            .transpose()?,
        site: get("site").map(str::to_owned),
        wait_days: number("wait_days", Some(30), 1..=90)? as i32,
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
        offset: number("offset", Some(0), 0..=u64::MAX)? as usize,
        limit: number("limit", Some(1_000), 1..=10_000)? as usize,
    })
}

/// `GET /api/v1/plan?capacity=N&from=&site=&wait_days=&format=json|csv|ics&offset=&limit=`
pub(crate) async fn api(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = match params(&q) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let from = p.from.unwrap_or_else(state.today);
    let checks = state.checks.clone();
    let (capacity, wait_days) = (p.capacity, p.wait_days);
    let report = match blocking(&state, move |s| {
        let renewals = renewals_due(s, &checks.thresholds)?;
        let settings = Settings {
            from,
            capacity,
            window_days: checks.thresholds.renewal_window_days,
            calendar: &checks.calendar,
        };
        Ok(Report::new(renewals, &settings, wait_days))
    })
    .await
    {
        Ok(r) => r,
        Err(f) => return f.into_response(),
    };
    let shown = report.of_site(p.site.as_deref());
    match p.format {
        "csv" => crate::csv_download(
            "renewal-plan.csv",
            &CSV_COLUMNS,
            shown
                .iter()
                .map(|&i| report.renewals[i].csv_fields(&report.plan.targets[i])),
        ),
        "ics" => {
            let events: Vec<_> = shown
                .iter()
                .map(|&i| report.renewals[i].event(&report.plan.targets[i]))
                .collect();
            let now = Timestamp::start_of((state.today)());
            (
                [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
                cardwatch_core::ics::calendar("Smartcard renewals", &events, now),
            )
                .into_response()
        }
        _ => axum::Json(json!({
            "from": from,
            "capacity": p.capacity,
            "plan": report.plan.outcome,
            "wait_for_prompt": report.wait,
            "capacity_for_no_lapses": report.plan.capacity_for_no_lapses,
            "weeks": report.plan.weeks,
            "total": shown.len(),
            "offset": p.offset,
            "limit": p.limit,
            "renewals": shown.iter().skip(p.offset).take(p.limit).map(|&i| report.json_row(i)).collect::<Vec<_>>(),
        }))
        .into_response(),
    }
}
