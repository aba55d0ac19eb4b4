//! Triage over HTTP and what every front end shares: `POST /api/v1/triage/next` is stateless —
//! the caller sends the symptom (or the text the user saw) and every observation so far, and
//! gets the next step, the posterior over causes, the reason and whether to escalate; `prepare`
//! brings in the estate's facts, learned priors and the cluster rule; `/cheatsheet` prints a
//! site's one-page sheet.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::date::Timestamp;
use cardwatch_core::ids::{CardSerial, Hostname, OdsCode};
use cardwatch_core::records::{Kind, Value};
use cardwatch_core::triage::matching::{recognise, Recognised};
use cardwatch_core::triage::{
    agent_facts, estate_facts, learned_priors, tallies, Case, CheatSheet, Fact, TriageContext,
};
use cardwatch_store::{triage_context, Store, StoreError};
use serde::Deserialize;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::bad_request;
use crate::web::lookup;
use crate::web::scope::{refuse, viewer, SiteNames, Viewer};
use crate::{AppState, Checks};

/// Where a triage happens: the site, the card and the workstation, each if known.
#[derive(Clone, Debug, Default)]
pub struct Desk {
    /// The site's ODS code.
    pub site: Option<OdsCode>,
    /// The card's serial.
    pub card: Option<CardSerial>,
    /// The workstation.
    pub hostname: Option<Hostname>,
}

/// How long an agent's diagnosis answers a triage: a card is taken out and a service stops
/// within minutes, so only a recent one counts.
const AGENT_DIAGNOSIS_FRESH_SECONDS: i64 = 3600;

/// What the estate and past incidents bring to a triage of `symptom` at a desk: the facts of the
/// workstation agent's diagnosis within the last hour, then the estate's (all after the
/// caller's own, which win; the agent's are fresher than the estate's), priors learned from resolved incidents at the site
/// and in the estate, and how many others at the site reported the symptom within the cluster
/// window (`incident`, if this triage is one, not counted).
pub fn prepare(
    store: &dyn Store,
    checks: &Checks,
    symptom: usize,
    desk: &Desk,
    now: Timestamp,
    incident: Option<i64>,
    mut case: Case,
) -> Result<(TriageContext, Case), StoreError> {
    let kb = &checks.triage;
    let cx = triage_context(
        store,
        desk.site.as_ref(),
        desk.card.as_ref(),
        desk.hostname.as_ref(),
    )?;
    if let Some(host) = &desk.hostname {
        let since = Timestamp::from_unix(now.unix() - AGENT_DIAGNOSIS_FRESH_SECONDS);
        if let Some(d) = cardwatch_store::agents::latest_diagnosis(store, host.as_str(), since)? {
            case.facts.extend(agent_facts(
                &d.inventory,
                Some(&d.probes),
                &checks.catalogue,
                now,
            ));
        }
    }
    case.facts.extend(estate_facts(
        &cx,
        &checks.catalogue,
        now.date(),
        &checks.thresholds.prescribing_activities,
    ));
    let counts = store.incident_cause_counts()?;
    if !counts.is_empty() {
        let (estate, site) = tallies(kb, &counts, cx.site.as_deref());
        case.priors = Some(learned_priors(kb, symptom, &estate, Some(&site)));
    }
    if let Some(site) = &cx.site {
        let window = i64::from(kb.settings.cluster_window_minutes) * 60;
        let since = Timestamp::from_unix(now.unix() - window);
        case.others_affected = case.others_affected.max(store.recent_reports(
            site,
            &kb.symptoms[symptom].id,
            since,
            incident,
        )?);
    }
    Ok((cx, case))
}

/// The cheat sheet for a site: its name from the estate, each symptom's steps in the order the
/// site's resolved incidents (and the estate's) make likeliest, and its contacts.
pub fn cheat_sheet(
    store: &dyn Store,
    checks: &Checks,
    site: &OdsCode,
) -> Result<CheatSheet, StoreError> {
    let kb = &checks.triage;
    let name = match store
        .records_where(Kind::Sites, "site_ods", site.as_str(), 1)?
        .first()
        .and_then(|v| v.get(2))
    {
        Some(Value::Text(n)) => Some(n.clone()),
        _ => None,
    };
    let counts = store.incident_cause_counts()?;
    let (estate, local) = tallies(kb, &counts, Some(site.as_str()));
    // The site's own contacts first, then the configuration's.
    let mut contacts = cardwatch_store::contacts::site_contacts(store, site.as_str())?;
    contacts.extend(checks.contacts.iter().cloned());
    let successor = site_runs_successor(store, checks, site)?;
    Ok(kb.cheat_sheet(
        site.as_str(),
        name.as_deref(),
        |s| (!counts.is_empty()).then(|| learned_priors(kb, s, &estate, Some(&local))),
        &contacts,
        successor.as_deref(),
    ))
}

/// The component of the sign-in client that replaces a retiring one (NHS Smartcard Connect), when
/// any of the site's workstations runs it.
fn site_runs_successor(
    store: &dyn Store,
    checks: &Checks,
    site: &OdsCode,
) -> Result<Option<String>, StoreError> {
    let Some((_, successor, _)) = checks.catalogue.retiring() else {
        return Ok(None);
    };
    // A practice's workstations are tens, each with a handful of software lines.
    const MOST: usize = 100_000;
    for ws in store.records_where(Kind::Workstations, "site_ods", site.as_str(), MOST)? {
        let Some(Value::Text(host)) = ws.first() else {
            continue;
        };
        let runs = store
            .records_where(Kind::Software, "hostname", host, MOST)?
            .iter()
            .any(|sw| matches!(sw.get(1), Some(Value::Text(c)) if *c == successor.component));
        if runs {
            return Ok(Some(successor.component.clone()));
        }
    }
    Ok(None)
}

/// The first place of a triage the viewer's organisations do not cover, as (field, message):
/// then nothing the estate knows about it may be shown.
/// The sites' names when a site was typed (to tell a code the estate does not hold), and none
/// otherwise: a request without a site reads nothing more.
pub(crate) async fn desk_site_names(
    state: &AppState,
    viewer: &Viewer,
    desk: &Desk,
) -> std::sync::Arc<SiteNames> {
    match desk.site {
        Some(_) => crate::web::sites::names(state, viewer).await,
        None => std::sync::Arc::default(),
    }
}

pub(crate) fn outside(
    viewer: &Viewer,
    desk: &Desk,
    cx: &TriageContext,
    names: &SiteNames,
) -> Option<(&'static str, String)> {
    if let Some(s) = &desk.site {
        if !viewer.sees_site(s.as_str()) {
            return Some(("site", format!("{s} is not one of your organisations")));
        }
        // One the caller may see but the estate does not hold (a mistyped code): an incident
        // filed under it would be counted at no site anyone looks at.
        if !names.contains_key(s.as_str()) {
            return Some(("site", format!("there is no site {s} in the estate")));
        }
    }
    // A card or computer typed that the estate does not hold is answered as another
    // organisation's is: the number is checked again, and whether it exists elsewhere is not said.
    if let (Some(h), None) = (&desk.hostname, &cx.workstation) {
        return Some((
            "hostname",
            format!("workstation {h} is not at one of your organisations' sites"),
        ));
    }
    if let (Some(c), None) = (&desk.card, &cx.card) {
        return Some((
            "card_serial",
            format!("card {c} is not among your organisations' cards"),
        ));
    }
    if let Some(w) = &cx.workstation {
        if !viewer.sees_site(w.site_ods.as_str()) {
            return Some((
                "hostname",
                format!(
                    "workstation {} is not at one of your organisations' sites",
                    w.hostname
                ),
            ));
        }
    }
    // Where another organisation's card or workstation is, is not said.
    if let (Some(card), Some(site)) = (&cx.card, &cx.holder_site) {
        if !viewer.sees_site(site) {
            return Some((
                "card_serial",
                format!(
                    "card {} is not among your organisations' cards",
                    card.card_serial
                ),
            ));
        }
    }
    None
}

/// Parses the desk's fields, naming the one at fault.
pub fn parse_desk(
    site: Option<&str>,
    card: Option<&str>,
    hostname: Option<&str>,
) -> Result<Desk, (&'static str, String)> {
    Ok(Desk {
        site: site
            .map(OdsCode::parse)
            .transpose()
            .map_err(|e| ("site", e.to_string()))?,
        card: card
            .map(CardSerial::parse)
            .transpose()
            .map_err(|e| ("card_serial", e.to_string()))?,
        hostname: hostname
            .map(Hostname::parse)
            .transpose()
            .map_err(|e| ("hostname", e.to_string()))?,
    })
}

/// A count, as JSON may write it: `3` or `3.0` (one number to JSON Schema's `integer`).
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = f64::deserialize(d)?;
    if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) {
        Ok(n as u32)
    } else {
        Err(serde::de::Error::custom(format!(
            "{n} is not a whole number from 0 to {}",
            u32::MAX
        )))
    }
}

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
    #[serde(default, deserialize_with = "whole_number")]
    others_affected: u32,
    site: Option<String>,
    card_serial: Option<String>,
    hostname: Option<String>,
}

pub(crate) async fn next(State(state): State<AppState>, caller: Caller, body: Bytes) -> Response {
    let viewer = match viewer(&state, caller, Permission::Triage, true).await {
        Ok(v) => v,
        Err(r) => return r,
    };
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
    answer(&state, &viewer, req).await
}

/// `GET /api/v1/triage/next?text=…`: the first step for what is happening, in any words (or by
/// `symptom`), at a desk given by `site`, `card_serial` and `hostname`. When the words fit two or
/// three symptoms equally, the answer is the question that tells them apart:
/// `{question, choices: [{id, plain}]}`; ask again with the chosen `symptom` and the `text`.
pub(crate) async fn first_step(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::Triage, true).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    const KNOWN: [&str; 5] = ["text", "symptom", "site", "card_serial", "hostname"];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return bad_request(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        )
        .into_response();
    }
    let given = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let (text, symptom) = (given("text"), given("symptom"));
    if symptom.is_none() {
        let kb = &state.checks.triage;
        match text.as_deref().map(|t| recognise(kb, t)) {
            None => {
                return bad_request(
                    "text",
                    "say what is happening, e.g. ?text=the card logs in but won't sign".into(),
                )
                .into_response()
            }
            Some(Recognised::Choose(choices)) => {
                let choices: Vec<_> = choices
                    .iter()
                    .map(|&s| json!({"id": kb.symptoms[s].id, "plain": kb.symptoms[s].plain}))
                    .collect();
                return axum::Json(json!({
                    "question": "Which is closer to what is happening?",
                    "choices": choices,
                }))
                .into_response();
            }
            Some(_) => {}
        }
    }
    let req = NextRequest {
        symptom,
        error_text: text,
        observations: BTreeMap::new(),
        facts: BTreeMap::new(),
        elapsed_minutes: None,
        others_affected: 0,
        site: given("site"),
        card_serial: given("card_serial"),
        hostname: given("hostname"),
    };
    answer(&state, &viewer, req).await
}

/// The advice for a request, or why it is refused.
async fn answer(state: &AppState, viewer: &Viewer, req: NextRequest) -> Response {
    if let Some(m) = req.elapsed_minutes {
        if !(m.is_finite() && m >= 0.0) {
            return bad_request(
                "elapsed_minutes",
                format!("{m} is not a number of minutes — give 0 or more"),
            )
            .into_response();
        }
    }
    let desk = match parse_desk(
        req.site.as_deref(),
        req.card_serial.as_deref(),
        req.hostname.as_deref(),
    ) {
        Ok(d) => d,
        Err((field, message)) => return bad_request(field, message).into_response(),
    };
    let kb = &state.checks.triage;
    let (symptom, matched) = match kb.resolve(req.symptom.as_deref(), req.error_text.as_deref()) {
        Ok(x) => x,
        Err(e) => return bad_request(&e.field, e.message).into_response(),
    };
    let given = Case {
        observations: req.observations.into_iter().collect(),
        words: req.error_text.clone(),
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
    let checks = state.checks.clone();
    let now = (state.now)();
    let prepared = crate::web::blocking(state, {
        let desk = desk.clone();
        move |store| prepare(store, &checks, symptom, &desk, now, None, given)
    })
    .await;
    let case = match prepared {
        Ok((cx, case)) => {
            let names = desk_site_names(state, viewer, &desk).await;
            if let Some((field, message)) = outside(viewer, &desk, &cx, &names) {
                return refuse(true, Some(field), &message);
            }
            case
        }
        Err(f) => return f.into_response(),
    };
    match kb.answer(symptom, &case) {
        Ok(advice) => axum::Json(kb.advice_json(&advice, matched.as_deref())).into_response(),
        Err(e) => bad_request(&e.field, e.message).into_response(),
    }
}

/// The cheat sheet of the site `?site=` names, if the caller sees that site. A page's caller
/// who gives no code, a code that is not one, or one the estate does not hold gets the page that
/// asks for it again (what was typed kept); the API answers JSON.
async fn site_sheet(
    state: &AppState,
    caller: Caller,
    q: &BTreeMap<String, String>,
    api: bool,
) -> Result<CheatSheet, Response> {
    let viewer = viewer(state, caller, Permission::ViewEstate, api).await?;
    let typed = q.get("site").map_or("", |s| s.trim());
    let ask_again = |status, title: &str, message: &str| {
        lookup::refused(
            &viewer.caller,
            status,
            title,
            message,
            typed,
            &lookup::SITES,
        )
    };
    let site = match q.get("site").map(|s| OdsCode::parse(s)) {
        Some(Ok(s)) => s,
        Some(Err(_)) if !api && !typed.is_empty() => {
            return Err(ask_again(
                StatusCode::BAD_REQUEST,
                "Check the site code",
                &format!("“{typed}” is not a site code. A practice's ODS code is letters and digits, like A81001 — check it and try again."),
            ))
        }
        None | Some(Err(_)) if !api => {
            return Err(ask_again(
                StatusCode::BAD_REQUEST,
                "Which site?",
                "Enter the practice or site code (ODS code) to print its cheat sheet.",
            ))
        }
        Some(Err(e)) => return Err(bad_request("site", e.to_string()).into_response()),
        None => {
            return Err(
                bad_request("site", "give the site's ODS code, e.g. ?site=A81001".into())
                    .into_response(),
            )
        }
    };
    if !viewer.sees_site(site.as_str()) {
        return Err(refuse(
            api,
            Some("site"),
            &format!("{site} is not one of your organisations"),
        ));
    }
    let checks = state.checks.clone();
    let code = site.clone();
    let sheet = crate::web::blocking(state, move |store| {
        // Whether the estate holds the site: a page shows no sheet for a code it does not know.
        let known = !store
            .records_where(Kind::Sites, "site_ods", code.as_str(), 1)?
            .is_empty();
        Ok((known, cheat_sheet(store, &checks, &code)?))
    })
    .await
    .map_err(IntoResponse::into_response)?;
    match sheet {
        (false, _) if !api => Err(ask_again(
            StatusCode::NOT_FOUND,
            "Site not found",
            &format!("No site with the code {site} in the estate — check the code, or find the site in the list of sites."),
        )),
        (_, sheet) => Ok(sheet),
    }
}

/// `GET /cheatsheet?site=`: the one-page sheet, to print.
pub(crate) async fn cheat_sheet_page(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
) -> Response {
    match site_sheet(&state, caller, &q, false).await {
        Ok(sheet) => axum::response::Html(crate::fix::print::cheat_sheet_page(
            &sheet,
            crate::fix::print::Styles::Served,
        ))
        .into_response(),
        Err(r) => r,
    }
}

/// `GET /api/v1/cheatsheet?site=`: the same sheet as JSON.
pub(crate) async fn cheat_sheet_api(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<BTreeMap<String, String>>,
) -> Response {
    match site_sheet(&state, caller, &q, true).await {
        Ok(sheet) => axum::Json(sheet).into_response(),
        Err(r) => r,
    }
}
