//! The findings of the health checks: `GET /api/v1/findings` (JSON or CSV) and a plain page at
//! `/findings`, both with the filters of `cardwatch check`.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::chart::{Bar, BarChart};
use cardwatch_core::health::{Context, Family, Filter, Noted, Severity, CSV_COLUMNS};
use cardwatch_store::current_findings;
use serde_json::json;

use crate::auth::Caller;
use crate::scope::{viewer, Viewer};
use crate::{blocking, escape, AppState};

/// The most findings one API page returns.
const MAX_LIMIT: usize = 10_000;

/// The query parameters both views accept, validated.
struct Params {
    filter: Filter,
    csv: bool,
    offset: usize,
    limit: usize,
}

/// A refused parameter, answered `{error: {code, message, field}}` with status 400.
pub(crate) struct BadParam {
    field: String,
    message: String,
}

pub(crate) fn bad_request(field: &str, message: String) -> BadParam {
    BadParam {
        field: field.to_owned(),
        message,
    }
}

impl IntoResponse for BadParam {
    fn into_response(self) -> Response {
        let error =
            json!({"code": "invalid_parameter", "message": self.message, "field": self.field});
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": error })),
        )
            .into_response()
    }
}

fn params(q: &HashMap<String, String>) -> Result<Params, BadParam> {
    const KNOWN: [&str; 6] = ["site", "min_severity", "all", "format", "offset", "limit"];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        ));
    }
    let get = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let number = |k: &str, default: usize| match get(k) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| bad_request(k, format!("{k} {v:?} is not a whole number"))),
    };
    let min_severity = get("min_severity")
        .map(|v| Severity::parse(v).map_err(|e| bad_request("min_severity", e)))
        .transpose()?;
    let all = match get("all") {
        None | Some("false" | "no" | "0") => false,
        Some("true" | "yes" | "1") => true,
        Some(v) => return Err(bad_request("all", format!("all {v:?}: use true or false"))),
    };
    let csv = match get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(v) => {
            return Err(bad_request(
                "format",
                format!("format {v:?}: use json or csv"),
            ))
        }
    };
    let limit = number("limit", 1_000)?;
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad_request(
            "limit",
            format!("limit must be 1 to {MAX_LIMIT}"),
        ));
    }
    Ok(Params {
        filter: Filter {
            site: get("site").map(str::to_owned),
            min_severity,
            include_snoozed: all,
        },
        csv,
        offset: number("offset", 0)?,
        limit,
    })
}

async fn compute(
    state: &AppState,
    filter: Filter,
    viewer: &Viewer,
) -> Result<Vec<Noted>, Response> {
    let today = (state.now)().date();
    let checks = state.checks.clone();
    let all = blocking(state, move |s| {
        let cx = Context {
            today,
            catalogue: &checks.catalogue,
            thresholds: &checks.thresholds,
            calendar: &checks.calendar,
        };
        current_findings(s, &cx, Family::ALL)
    })
    .await
    .map_err(IntoResponse::into_response)?;
    Ok(all
        .into_iter()
        .filter(|n| filter.keep(n) && viewer.sees_site(&n.finding.site))
        .collect())
}

/// `GET /api/v1/findings?site=&min_severity=&all=&format=json|csv&offset=&limit=`
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
        Err(r) => return r.into_response(),
    };
    let found = match compute(&state, p.filter, &viewer).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if p.csv {
        return crate::csv_download(
            "findings.csv",
            &CSV_COLUMNS,
            found
                .iter()
                .map(|n| n.csv_fields().map(|f| f.into_owned().into_bytes())),
        );
    }
    let page: Vec<&Noted> = found.iter().skip(p.offset).take(p.limit).collect();
    axum::Json(json!({
        "today": (state.now)().date(),
        "total": found.len(),
        "offset": p.offset,
        "limit": p.limit,
        "findings": page,
    }))
    .into_response()
}

/// `GET /findings`: a plain page with the same filters.
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::ViewEstate, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let p = match params(&q) {
        Ok(p) => p,
        Err(r) => return r.into_response(),
    };
    let site = p.filter.site.clone().unwrap_or_default();
    let min = p.filter.min_severity;
    let found = match compute(&state, p.filter, &viewer).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let mut rows = String::new();
    for n in found.iter().skip(p.offset).take(p.limit) {
        let f = &n.finding;
        let note = n
            .note
            .as_ref()
            .map(|x| format!("{} until {}: {}", x.state, x.until, escape(&x.reason)))
            .unwrap_or_default();
        let _ = writeln!(
            rows,
            "<tr class=\"nhsuk-table__row {sev}\"><td class=\"nhsuk-table__cell\">{site}</td><td class=\"nhsuk-table__cell\">{sev}</td><td class=\"nhsuk-table__cell\">{rule}</td><td class=\"nhsuk-table__cell\">{kind} {subject}</td><td class=\"nhsuk-table__cell\">{owner}</td><td class=\"nhsuk-table__cell\">{due}</td><td class=\"nhsuk-table__cell\">{why}<br><small>Fix: {fix}</small></td><td class=\"nhsuk-table__cell\">{note}</td></tr>",
            site = escape(&f.site),
            sev = f.severity,
            rule = f.rule,
            kind = f.subject_kind,
            subject = escape(&f.subject),
            owner = f.owner,
            due = f.due,
            why = escape(&f.why),
            fix = escape(&f.fix),
        );
    }
    let options: String = Severity::ALL
        .iter()
        .map(|s| {
            let sel = if Some(*s) == min { " selected" } else { "" };
            format!("<option{sel}>{s}</option>")
        })
        .collect();
    let shown = found.len().min(p.limit);
    let chart = by_site(&found);
    let body = format!(
        r#"<form method="get" class="nhsuk-u-margin-bottom-4">
<div class="nhsuk-form-group"><label class="nhsuk-label" for="site">Site</label><input class="nhsuk-input nhsuk-input--width-10" id="site" name="site" value="{site}"></div>
<div class="nhsuk-form-group"><label class="nhsuk-label" for="min_severity">At least</label><select class="nhsuk-select" id="min_severity" name="min_severity"><option value="">any</option>{options}</select></div>
<button class="nhsuk-button nhsuk-button--secondary">Filter</button> <a class="nhsuk-link" href="/api/v1/findings?format=csv&amp;site={site}">Download CSV</a></form>
<p class="nhsuk-body">{total} finding(s), showing {shown}. Acknowledge or snooze with <code>cardwatch finding ack|snooze ID --reason …</code>.</p>
<table class="nhsuk-table"><thead class="nhsuk-table__head"><tr class="nhsuk-table__row"><th class="nhsuk-table__header" scope="col">Site</th><th class="nhsuk-table__header" scope="col">Severity</th><th class="nhsuk-table__header" scope="col">Rule</th><th class="nhsuk-table__header" scope="col">Subject</th><th class="nhsuk-table__header" scope="col">Who acts</th><th class="nhsuk-table__header" scope="col">Due</th><th class="nhsuk-table__header" scope="col">Why and fix</th><th class="nhsuk-table__header" scope="col">Note</th></tr></thead>
<tbody class="nhsuk-table__body">
{rows}</tbody></table>
<h2 class="nhsuk-heading-m">By site and severity</h2>
<figure>{svg}</figure>
<details class="nhsuk-details"><summary class="nhsuk-details__summary"><span class="nhsuk-details__summary-text">The chart's figures as a table</span></summary><div class="nhsuk-details__text">{table}</div></details>"#,
        site = escape(&site),
        total = found.len(),
        svg = chart.svg(900.0, 260.0),
        table = chart.table(),
    );
    crate::layout::page("Findings", Some(&viewer.caller), &body).into_response()
}

/// Findings counted by site and severity: the 20 sites with most, most first.
fn by_site(found: &[Noted]) -> BarChart {
    let mut counts: std::collections::BTreeMap<&str, [f64; 4]> = Default::default();
    for n in found {
        let i = Severity::ALL
            .iter()
            .position(|s| *s == n.finding.severity)
            .unwrap_or(0)
            .min(3);
        counts.entry(n.finding.site.as_str()).or_default()[i] += 1.0;
    }
    let mut sites: Vec<_> = counts.into_iter().collect();
    sites.sort_by(|a, b| b.1.iter().sum::<f64>().total_cmp(&a.1.iter().sum::<f64>()));
    BarChart {
        title: "Findings by site and severity (the 20 sites with most)".into(),
        series: Severity::ALL
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        bars: sites
            .into_iter()
            .take(20)
            .map(|(site, c)| Bar {
                label: site.to_owned(),
                values: c.to_vec(),
            })
            .collect(),
        limit: None,
    }
}
