//! An integration profile's page: `GET /integrations/{id}` and its JSON twin — a service that
//! acts with the practice's smartcards, both sides of each identifier it checks, and whether it
//! is ready to synchronise: the health check's integration findings for the profile and for each
//! of its cards, so a practice manager sees the onboarding errors before the service does.
//! Another organisation's profile is answered as not found.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::health::{integration_card_subject, Noted};
use cardwatch_core::ids::IntegrationId;
use cardwatch_core::records::{row_json, Kind, Value};
use serde_json::{json, Map};

use crate::prevent::check::all_findings;
use crate::web::auth::Caller;
use crate::web::bad_request;
use crate::web::scope::{not_found, viewer};
use crate::web::{blocking, escape};
use crate::AppState;

/// The most cards one profile lists; a service acts with a handful.
const MAX_CARDS: usize = 500;

struct View {
    caller: Caller,
    id: String,
    profile: Map<String, serde_json::Value>,
    site: String,
    /// Each card's row (canonical columns) and the findings about it.
    cards: Vec<(Vec<Value>, Vec<Noted>)>,
    /// Findings about the profile as a whole.
    findings: Vec<Noted>,
}

async fn load(state: &AppState, caller: Caller, id: &str, api: bool) -> Result<View, Response> {
    let id = IntegrationId::parse(id)
        .map_err(|e| bad_request("integration", e.to_string()).into_response())?;
    let v = viewer(state, caller, Permission::ViewEstate, api).await?;
    let key = id.to_string();
    let (profile, cards) = blocking(state, move |s| {
        let profile = s.records_where(Kind::Integrations, "integration", &key, 1)?;
        let cards = s.records_where(Kind::IntegrationCards, "integration", &key, MAX_CARDS)?;
        Ok((profile.into_iter().next(), cards))
    })
    .await
    .map_err(IntoResponse::into_response)?;
    let site = profile.as_ref().map(|p| p[2].to_csv()).unwrap_or_default();
    let Some(profile) = profile.filter(|_| v.sees_site(&site)) else {
        let message = format!("no integration {id} among your organisations' sites");
        return Err(not_found(api, &v.caller, &message));
    };
    // The readiness rules run with the rest of the health check (cached while the estate is
    // unchanged); this profile's findings are among its site's.
    let check = all_findings(state, v.version).await?;
    let id = id.to_string();
    let mine: Vec<&Noted> = check
        .sites
        .get(&site)
        .map(|(idx, _)| idx.iter().map(|&i| &check.all[i as usize]).collect())
        .unwrap_or_default();
    let about = |subject: &str| -> Vec<Noted> {
        mine.iter()
            .filter(|n| n.finding.rule.starts_with("integration-") && n.finding.subject == subject)
            .map(|n| (*n).clone())
            .collect()
    };
    let cards = cards
        .into_iter()
        .map(|row| {
            let findings = about(&integration_card_subject(&id, &row[1].to_csv()));
            (row, findings)
        })
        .collect();
    Ok(View {
        caller: v.caller,
        findings: about(&id),
        id,
        profile: row_json(Kind::Integrations, &profile),
        site,
        cards,
    })
}

pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let view = match load(&state, caller, &id, true).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let cards: Vec<_> = view
        .cards
        .iter()
        .map(|(row, findings)| {
            let mut card = row_json(Kind::IntegrationCards, row);
            card.remove("integration");
            card.insert("ready".into(), findings.is_empty().into());
            card.insert("findings".into(), json!(findings));
            card
        })
        .collect();
    let ready = view.findings.is_empty() && view.cards.iter().all(|(_, f)| f.is_empty());
    axum::Json(json!({
        "integration": view.profile,
        "ready": ready,
        "findings": view.findings,
        "cards": cards,
    }))
    .into_response()
}

/// A finding as one line: its severity, why, and the fix.
fn finding_line(n: &Noted) -> String {
    let f = &n.finding;
    format!(
        "<li><strong class=\"nhsuk-tag\">{}</strong> {} — <em>{}</em></li>",
        f.severity,
        escape(&f.why),
        escape(&f.fix)
    )
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let view = match load(&state, caller, &id, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // A column's text, or what its absence means.
    let text = |k: &str, absent: &str| match view.profile.get(k) {
        Some(serde_json::Value::String(s)) => escape(s),
        _ => absent.to_owned(),
    };
    let system = text("clinical_system", "");
    let mut rows = vec![
        ("Service", text("service", "")),
        ("Clinical system", system.clone()),
        (
            "Roles the cards need",
            text("required_roles", "any role at the practice"),
        ),
        (
            "Activity codes the cards need",
            text("required_activity_codes", "none"),
        ),
    ];
    // Only the identifiers the practice's own system checks.
    let pair = |ours: &str, theirs: &str| {
        format!(
            "{} / {}",
            text(ours, "not recorded"),
            text(theirs, "not recorded")
        )
    };
    match system.as_str() {
        "emis" => rows.push((
            "EMIS CDB (practice / service)",
            pair("emis_cdb", "service_emis_cdb"),
        )),
        "systmone" => rows.push((
            "SystmOne profile (practice / service)",
            pair("systmone_profile", "service_systmone_profile"),
        )),
        _ => {}
    }
    let mut facts = String::new();
    for (label, value) in rows {
        let _ = write!(
            facts,
            "<div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">{label}</dt><dd class=\"nhsuk-summary-list__value\">{value}</dd></div>"
        );
    }
    let ready = view.findings.is_empty() && view.cards.iter().all(|(_, f)| f.is_empty());
    let verdict = if ready {
        "<p class=\"nhsuk-body\"><strong>Ready:</strong> nothing found that would stop the service's next synchronisation.</p>".to_owned()
    } else {
        let lines: String = view.findings.iter().map(finding_line).collect();
        format!(
            "<p class=\"nhsuk-body\"><strong>Not ready:</strong> fix what is listed before the service synchronises.</p><ul class=\"nhsuk-list\">{lines}</ul>"
        )
    };
    let mut rows = String::new();
    for (row, findings) in &view.cards {
        let serial = escape(&row[1].to_csv());
        let account = match &row[2] {
            Value::Null => "none recorded".to_owned(),
            v => escape(&v.to_csv()),
        };
        let state = if findings.is_empty() {
            "ready".to_owned()
        } else {
            format!(
                "<ul class=\"nhsuk-list\">{}</ul>",
                findings.iter().map(finding_line).collect::<String>()
            )
        };
        let _ = write!(
            rows,
            "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\"><a href=\"/cards/{serial}\">{serial}</a></td><td class=\"nhsuk-table__cell\">{account}</td><td class=\"nhsuk-table__cell\">{state}</td></tr>"
        );
    }
    let th = |c: &str| format!("<th class=\"nhsuk-table__header\" scope=\"col\">{c}</th>");
    let body = format!(
        "<p class=\"nhsuk-body\">At site {site}. <a href=\"/estate/integrations\">All integrations</a> · <a href=\"/findings?site={site}&amp;rule=integration-\">the site's integration findings</a> (acknowledge or snooze them there) · <a href=\"/api/v1/integrations/{id}\">JSON</a></p>\
         <dl class=\"nhsuk-summary-list\">{facts}</dl>\n<h2 class=\"nhsuk-heading-m\">Readiness</h2>{verdict}\n\
         <h2 class=\"nhsuk-heading-m\">Cards the service acts with</h2><table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">{}{}{}</tr></thead><tbody class=\"nhsuk-table__body\">{rows}</tbody></table>",
        th("Card"),
        th("EMIS account"),
        th("Readiness"),
        site = escape(&view.site),
        id = escape(&view.id),
    );
    crate::web::layout::page(
        &format!("Integration {}", view.id),
        Some(&view.caller),
        &body,
    )
    .into_response()
}
