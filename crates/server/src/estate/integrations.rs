//! An integration profile's page: `GET /integrations/{id}` and its JSON twin — a service that
//! acts with the practice's smartcards, both sides of each identifier it checks, and whether it
//! is ready to synchronise: the health check's integration findings for the profile and for each
//! of its cards, so a practice manager sees the onboarding errors before the service does.
//! Another organisation's profile is answered as not found.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::health::{integration_card_subject, Noted};
use cardwatch_core::ids::IntegrationId;
use cardwatch_core::records::{row_json, Kind, Value};
use serde_json::{json, Map};

use crate::estate::lists::sentence;
use crate::estate::Named;
use crate::prevent::check::all_findings;
use crate::web::auth::Caller;
use crate::web::blocking;
use crate::web::counted;
use crate::web::lookup;
use crate::web::page_of;
use crate::AppState;

/// An integration's address: its name, found again by the integrations' search.
const INTEGRATION: Named = Named {
    field: "integration",
    lookup: &lookup::INTEGRATIONS,
    malformed: "Check the integration",
    missing: "Integration not found",
};

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
    let (v, id) = INTEGRATION
        .key(
            state,
            caller,
            Permission::ViewEstate,
            api,
            id,
            IntegrationId::parse,
            |typed| format!("“{typed}” is not an integration's name. Names are 2 to 40 letters, digits and hyphens, like ht1-a81001 — check it, or search for it."),
        )
        .await?;
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
        return Err(INTEGRATION.missing(
            &v.caller,
            api,
            id.as_ref(),
            &format!("No integration called {id} at your organisations' sites — check its name, or search for it."),
            &format!("no integration {id} among your organisations' sites"),
        ));
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

/// A finding as the page shows it: how serious, why, and the fix.
struct Line {
    severity: String,
    why: String,
    fix: String,
}

fn line(n: &Noted) -> Line {
    let f = &n.finding;
    Line {
        severity: sentence(&f.severity.to_string()),
        why: f.why.clone(),
        fix: f.fix.to_string(),
    }
}

struct CardRow {
    serial: String,
    link: String,
    account: String,
    findings: Vec<Line>,
}

#[derive(askama::Template)]
#[template(path = "estate_integration.html")]
struct IntegrationPage {
    site: String,
    findings_link: String,
    json: String,
    facts: Vec<(&'static str, String)>,
    ready: bool,
    findings: Vec<Line>,
    cards_count: String,
    cards: Vec<CardRow>,
}

/// A clinical system as its users name it.
fn system_name(code: &str) -> String {
    if code.is_empty() {
        return "Not recorded".to_owned();
    }
    super::clinical_system_words(code)
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
        Some(serde_json::Value::String(s)) => s.clone(),
        _ => absent.to_owned(),
    };
    let system = text("clinical_system", "");
    let mut facts = vec![
        ("Service", text("service", "Not recorded")),
        ("Clinical system", system_name(&system)),
        (
            "Roles the cards need",
            text("required_roles", "Any role at the practice"),
        ),
        (
            "Activity codes the cards need",
            text("required_activity_codes", "None"),
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
        "emis" => facts.push((
            "EMIS CDB (practice / service)",
            pair("emis_cdb", "service_emis_cdb"),
        )),
        "systmone" => facts.push((
            "SystmOne profile (practice / service)",
            pair("systmone_profile", "service_systmone_profile"),
        )),
        _ => {}
    }
    let ready = view.findings.is_empty() && view.cards.iter().all(|(_, f)| f.is_empty());
    let cards = view
        .cards
        .iter()
        .map(|(row, findings)| CardRow {
            serial: row[1].to_csv(),
            link: page_of("cards", &row[1].to_csv()),
            account: match &row[2] {
                Value::Null => "None recorded".to_owned(),
                v => v.to_csv(),
            },
            findings: findings.iter().map(line).collect(),
        })
        .collect();
    let mut findings_link = url::form_urlencoded::Serializer::new(String::new());
    findings_link
        .append_pair("site", &view.site)
        .append_pair("rule", "integration-");
    let page = IntegrationPage {
        site: view.site.clone(),
        findings_link: format!("/findings?{}", findings_link.finish()),
        json: format!("/api/v1{}", page_of("integrations", &view.id)),
        facts,
        ready,
        findings: view.findings.iter().map(line).collect(),
        cards_count: counted(view.cards.len(), "card", "cards"),
        cards,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    crate::web::layout::page(
        &format!("Integration {}", view.id),
        Some(&view.caller),
        &body,
    )
    .into_response()
}
