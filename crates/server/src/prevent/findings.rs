//! The findings of the health checks: `GET /api/v1/findings` (JSON or CSV) and a plain page at
//! `/findings`, both with the filters of `cardwatch check`.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::chart::{Bar, BarChart};
use cardwatch_core::health::{Filter, FindingNote, NoteState, Noted, Severity, CSV_COLUMNS};
use serde_json::json;

use crate::prevent::check::all_findings;
use crate::web::auth::Caller;
use crate::web::scope::{viewer, Viewer};
use crate::web::{bad_request, blocking, escape, BadParam};
use crate::AppState;

/// The most findings one API page returns.
const MAX_LIMIT: usize = 10_000;

/// The query parameters both views accept, validated.
struct Params {
    filter: Filter,
    csv: bool,
    offset: usize,
    limit: usize,
    /// A column to sort by and whether descending; none keeps the check's order (most
    /// serious first).
    sort: Option<(&'static str, bool)>,
}

/// The columns findings sort by.
const SORTABLE: [&str; 6] = ["site", "severity", "rule", "subject", "owner", "due"];

/// Sorts findings by a column (ties keep the check's order).
fn sort(found: &mut [Noted], by: &str, descending: bool) {
    found.sort_by(|a, b| {
        let (x, y) = (&a.finding, &b.finding);
        let o = match by {
            "site" => x.site.cmp(&y.site),
            "severity" => x.severity.cmp(&y.severity),
            "rule" => x.rule.cmp(y.rule),
            "subject" => x.subject.cmp(&y.subject),
            "owner" => x.owner.cmp(&y.owner),
            _ => x.due.cmp(&y.due),
        };
        if descending {
            o.reverse()
        } else {
            o
        }
    });
}

fn params(q: &HashMap<String, String>) -> Result<Params, BadParam> {
    const KNOWN: [&str; 9] = [
        "site",
        "min_severity",
        "rule",
        "all",
        "format",
        "offset",
        "limit",
        "sort",
        "order",
    ];
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
    let descending = match get("order") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(v) => {
            return Err(bad_request(
                "order",
                format!("order {v:?}: use asc or desc"),
            ))
        }
    };
    let sort = match get("sort") {
        None => None,
        Some(v) => Some((
            SORTABLE.iter().copied().find(|c| *c == v).ok_or_else(|| {
                bad_request(
                    "sort",
                    format!("sort {v:?}: use one of {}", SORTABLE.join(", ")),
                )
            })?,
            descending,
        )),
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
            rule: get("rule").map(str::to_owned),
        },
        csv,
        offset: number("offset", 0)?,
        limit,
        sort,
    })
}

async fn compute(state: &AppState, p: &Params, viewer: &Viewer) -> Result<Vec<Noted>, Response> {
    let check = all_findings(state, viewer.version).await?;
    let mut found: Vec<Noted> = check
        .visible(viewer, &p.filter)
        .into_iter()
        .cloned()
        .collect();
    if let Some((by, descending)) = p.sort {
        sort(&mut found, by, descending);
    }
    Ok(found)
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
    let found = match compute(&state, &p, &viewer).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if p.csv {
        return crate::web::csv_download(
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
    let rule = p.filter.rule.clone().unwrap_or_default();
    let found = match compute(&state, &p, &viewer).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let can_act = viewer.caller.user.user.role.can(Permission::ActOnFindings);
    let csrf = escape(&viewer.caller.csrf);
    let mut rows = String::new();
    for n in found.iter().skip(p.offset).take(p.limit) {
        let f = &n.finding;
        let act = if can_act {
            let id = escape(&f.id());
            let reopen = if n.note.is_some() {
                "<option value=\"reopen\">reopen</option>"
            } else {
                ""
            };
            format!(
                "<form method=\"post\" action=\"/findings/note\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <label class=\"nhsuk-u-visually-hidden\" for=\"a-{id}\">Action</label><select class=\"nhsuk-select\" id=\"a-{id}\" name=\"action\"><option value=\"acknowledged\">acknowledge</option><option value=\"snoozed\">snooze</option>{reopen}</select>\
                 <label class=\"nhsuk-u-visually-hidden\" for=\"r-{id}\">Reason</label><input class=\"nhsuk-input\" id=\"r-{id}\" name=\"reason\" placeholder=\"reason\">\
                 <button class=\"nhsuk-button nhsuk-button--secondary nhsuk-button--small\">Save</button></form>"
            )
        } else {
            String::new()
        };
        let note = n
            .note
            .as_ref()
            .map(|x| format!("{} until {}: {}", x.state, x.until, escape(&x.reason)))
            .unwrap_or_default();
        let _ = writeln!(
            rows,
            "<tr class=\"nhsuk-table__row {sev}\"><td class=\"nhsuk-table__cell\">{site}</td><td class=\"nhsuk-table__cell\">{sev}</td><td class=\"nhsuk-table__cell\">{rule}</td><td class=\"nhsuk-table__cell\">{kind} {subject}</td><td class=\"nhsuk-table__cell\">{owner}</td><td class=\"nhsuk-table__cell\">{due}</td><td class=\"nhsuk-table__cell\">{why}<br><small>Fix: {fix}</small></td><td class=\"nhsuk-table__cell\">{note}{act}</td></tr>",
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
    let shown = found.len().saturating_sub(p.offset).min(p.limit);
    let chart = by_site(&found);
    // Links that keep the filters: a column's header sorts by it (again: the other way), and
    // the page links move through the list.
    let (by, desc) = p.sort.unwrap_or(("", false));
    let link = |sort: &str, descending: bool, offset: usize| {
        format!(
            "/findings?site={}&amp;min_severity={}&amp;rule={}&amp;sort={sort}&amp;order={}&amp;offset={offset}&amp;limit={}",
            escape(&site),
            min.map_or("", |m| m.as_str()),
            crate::web::enc(&rule),
            if descending { "desc" } else { "asc" },
            p.limit
        )
    };
    let head = crate::web::layout::sortable_header(
        &[
            ("Site", "site"),
            ("Severity", "severity"),
            ("Rule", "rule"),
            ("Subject", "subject"),
            ("Who acts", "owner"),
            ("Due", "due"),
            ("Why and fix", ""),
            ("Note", ""),
        ],
        by,
        desc,
        |key, descending| link(key, descending, 0),
    );
    let pages = crate::web::layout::pager(p.offset, p.limit, found.len(), |offset| {
        link(by, desc, offset)
    });
    let body = format!(
        r#"<form method="get" class="nhsuk-u-margin-bottom-4">
<div class="nhsuk-form-group"><label class="nhsuk-label" for="site">Site</label><input class="nhsuk-input nhsuk-input--width-10" id="site" name="site" value="{site}"></div>
<div class="nhsuk-form-group"><label class="nhsuk-label" for="min_severity">At least</label><select class="nhsuk-select" id="min_severity" name="min_severity"><option value="">any</option>{options}</select></div>
<div class="nhsuk-form-group"><label class="nhsuk-label" for="rule">Rule, or how its id starts (e.g. integration-)</label><input class="nhsuk-input nhsuk-input--width-20" id="rule" name="rule" value="{rule_value}"></div>
<button class="nhsuk-button nhsuk-button--secondary">Filter</button> <a class="nhsuk-link" href="/api/v1/findings?format=csv&amp;site={site}&amp;rule={rule_query}">Download CSV</a></form>
<p class="nhsuk-body">{total} finding(s), showing {shown} from number {first}. Acknowledge (30 days) or snooze (7 days) each with a reason; it is audited.</p>
<table class="nhsuk-table"><thead class="nhsuk-table__head"><tr class="nhsuk-table__row">{head}</tr></thead>
<tbody class="nhsuk-table__body">
{rows}</tbody></table>
<p class="nhsuk-body">{pages}</p>
<h2 class="nhsuk-heading-m">By site and severity</h2>
{figure}"#,
        site = escape(&site),
        rule_value = escape(&rule),
        rule_query = crate::web::enc(&rule),
        total = found.len(),
        first = p.offset + 1,
        figure = chart.figure(900.0, 260.0),
    );
    crate::web::layout::page("Findings", Some(&viewer.caller), &body).into_response()
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

#[derive(serde::Deserialize)]
pub(crate) struct NoteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    reason: String,
}

/// `POST /findings/note`: acknowledge (30 days), snooze (7 days) or reopen a finding of the
/// caller's sites, with a reason; audited.
pub(crate) async fn note(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Form(f): axum::extract::Form<NoteForm>,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::ActOnFindings, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = viewer.caller.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let everything = Params {
        filter: Filter {
            site: None,
            min_severity: None,
            include_snoozed: true,
            rule: None,
        },
        csv: false,
        offset: 0,
        limit: MAX_LIMIT,
        sort: None,
    };
    let found = match compute(&state, &everything, &viewer).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    if !found.iter().any(|n| n.finding.has_id(&f.id)) {
        return crate::web::scope::refuse(false, Some("id"), "no such finding among your sites today (a fixed condition closes its finding by itself)");
    }
    let now = (state.now)();
    let change = cardwatch_store::Change {
        actor: format!("web:{}", viewer.caller.user.user.username),
        at: now,
    };
    let id = f.id.clone();
    let note = match f.action.as_str() {
        "acknowledged" | "snoozed" => {
            let (state_, days) = if f.action == "snoozed" {
                (NoteState::Snoozed, 7)
            } else {
                (NoteState::Acknowledged, 30)
            };
            match FindingNote::new(&id, state_, &f.reason, now.date().add_days(days), &change.actor, now) {
                Ok(n) => Some(n),
                Err(e) => return (axum::http::StatusCode::BAD_REQUEST, crate::web::layout::page("Findings", Some(&viewer.caller), &format!("<p class=\"nhsuk-body\">{}</p><p class=\"nhsuk-body\"><a href=\"/findings\">Back to the findings</a></p>", escape(&e)))).into_response(),
            }
        }
        "reopen" if f.reason.trim().is_empty() => {
            return bad_request("reason", "reopening needs a reason — say why".into())
                .into_response()
        }
        "reopen" => None,
        other => {
            return bad_request(
                "action",
                format!("{other:?} is not acknowledged, snoozed or reopen"),
            )
            .into_response()
        }
    };
    let reason = f.reason.clone();
    let done = blocking(&state, move |s| match note {
        Some(n) => s.note_finding(&n, &change),
        None => s.reopen_finding(&id, &reason, &change).map(|_| ()),
    })
    .await;
    match done {
        Ok(()) => (
            axum::http::StatusCode::SEE_OTHER,
            [(axum::http::header::LOCATION, "/findings?all=yes")],
        )
            .into_response(),
        Err(f) => f.into_response(),
    }
}
