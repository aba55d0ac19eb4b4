//! `GET /triage`: the plain web wizard. Stateless, like the API: every answer so far travels in
//! the page's links (`obs=CHECK:RESULT`, repeated), so it works with JavaScript off and the back
//! button undoes an answer. One question per page, with its reason.

use std::fmt::Write as _;

use axum::extract::{RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::triage::{Case, StepKind};

use crate::fix::triage::{outside, parse_desk, prepare};
use crate::web::auth::Caller;
use crate::web::scope::{refuse, viewer};
use crate::web::{bad_request, BadParam};
use crate::web::{enc, escape};
use crate::AppState;

/// Decodes one `application/x-www-form-urlencoded` value.
fn dec(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn page(title: &str, caller: &Caller, body: &str) -> Html<String> {
    crate::web::layout::page(
        title,
        Some(caller),
        &format!("{body}\n<p class=\"nhsuk-body\"><a href=\"/triage\">Start again</a></p>"),
    )
}

/// What the wizard's address carries: the symptom or the user's words, where, and the answers.
#[derive(Default)]
struct WizardQuery {
    symptom: Option<String>,
    error_text: Option<String>,
    site: Option<String>,
    card: Option<String>,
    host: Option<String>,
    obs: Vec<(String, String)>,
}

impl WizardQuery {
    /// Parses the query string, naming a parameter that is wrong.
    fn parse(q: &str) -> Result<WizardQuery, BadParam> {
        let mut w = WizardQuery::default();
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = dec(v);
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match k {
                "symptom" => w.symptom = Some(v.to_owned()),
                "error_text" => w.error_text = Some(v.to_owned()),
                "site" => w.site = Some(v.to_owned()),
                "card_serial" => w.card = Some(v.to_owned()),
                "hostname" => w.host = Some(v.to_owned()),
                "obs" => match v.split_once(':') {
                    Some((id, r)) => w.obs.push((id.to_owned(), r.to_owned())),
                    None => return Err(bad_request("obs", format!("{v:?} is not CHECK:RESULT"))),
                },
                _ => {
                    return Err(bad_request(
                        k,
                        format!("unknown parameter {k:?} — use symptom, error_text, obs, site, card_serial, hostname"),
                    ))
                }
            }
        }
        Ok(w)
    }
}

pub(crate) async fn page_handler(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::Triage, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let WizardQuery {
        symptom,
        error_text,
        site,
        card,
        host,
        obs,
    } = match WizardQuery::parse(q.as_deref().unwrap_or("")) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    if symptom.is_none() && error_text.is_none() {
        return page(
            "Smartcard problem",
            &viewer.caller,
            "<form method=\"get\" action=\"/triage\">\n<p><label for=\"error_text\">What does the user see? \
             Type the error text or code as shown.</label></p>\n\
             <p><input id=\"error_text\" name=\"error_text\" size=\"60\"></p>\n\
             <p><label for=\"site\">Site (ODS code, optional)</label> <input id=\"site\" name=\"site\" size=\"10\"></p>\n\
             <p><label for=\"card_serial\">Card serial (optional)</label> <input id=\"card_serial\" name=\"card_serial\" size=\"16\"></p>\n\
             <p><label for=\"hostname\">Workstation (optional)</label> <input id=\"hostname\" name=\"hostname\" size=\"20\"></p>\n\
             <p><button type=\"submit\">Find the first step</button></p>\n</form>",
        )
        .into_response();
    }
    let desk = match parse_desk(site.as_deref(), card.as_deref(), host.as_deref()) {
        Ok(d) => d,
        Err((field, message)) => return bad_request(field, message).into_response(),
    };
    let kb = &state.checks.triage;
    let (s, _) = match kb.resolve(symptom.as_deref(), error_text.as_deref()) {
        Ok(x) => x,
        Err(e) => {
            let body = format!(
                "<p>{}</p>\n<p>Symptoms Cardwatch knows:</p>\n<ul>{}</ul>",
                escape(&e.message),
                kb.symptoms
                    .iter()
                    .map(|x| format!(
                        "<li><a href=\"/triage?symptom={}\">{}</a></li>",
                        enc(&x.id),
                        escape(&x.name)
                    ))
                    .collect::<String>()
            );
            return page("Smartcard problem", &viewer.caller, &body).into_response();
        }
    };
    let given = Case {
        observations: obs.clone(),
        ..Case::default()
    };
    let checks = state.checks.clone();
    let now = (state.now)();
    let prepared = crate::web::blocking(&state, {
        let desk = desk.clone();
        move |store| prepare(store, &checks, s, &desk, now, None, given)
    })
    .await;
    let case = match prepared {
        Ok((cx, c)) => {
            if let Some((field, message)) = outside(&viewer, &desk, &cx) {
                return refuse(false, Some(field), &message);
            }
            c
        }
        Err(f) => return f.into_response(),
    };
    let a = match kb.answer(s, &case) {
        Ok(a) => a,
        Err(e) => return bad_request(&e.field, e.message).into_response(),
    };
    // The link that carries everything so far, plus one more answer.
    let mut base = format!("/triage?symptom={}", enc(&kb.symptoms[s].id));
    // The user's own words travel on, for the incident's exact error.
    if let Some(t) = &error_text {
        let _ = write!(base, "&error_text={}", enc(t));
    }
    for (k, v) in [("site", &site), ("card_serial", &card), ("hostname", &host)] {
        if let Some(v) = v {
            let _ = write!(base, "&{k}={}", enc(v));
        }
    }
    for (id, r) in &obs {
        let _ = write!(base, "&obs={}", enc(&format!("{id}:{r}")));
    }
    let mut body = String::new();
    let _ = writeln!(body, "<p>{}</p>", escape(&kb.symptoms[s].name));
    if !a.known.is_empty() {
        let _ = writeln!(body, "<h2>Already known</h2><ul>");
        for k in &a.known {
            let _ = write!(
                body,
                "<li>{}: {} — {}</li>",
                escape(&k.check),
                escape(&k.result),
                escape(&k.because)
            );
        }
        let _ = writeln!(body, "</ul>");
    }
    let next = &a.next;
    match next.kind {
        StepKind::Check | StepKind::Fix => {
            let what = if next.kind == StepKind::Check {
                "Check"
            } else {
                "Try this fix"
            };
            let _ = writeln!(
                body,
                "<h2>{what}</h2>\n<p><strong>{}</strong></p>",
                escape(&next.prompt)
            );
            let _ = writeln!(body, "<p>Why: {}</p>", escape(&next.reason));
            let _ = writeln!(body, "<p>Answer:</p><ul>");
            for r in &next.results {
                let href = format!("{base}&obs={}", enc(&format!("{}:{r}", next.id)));
                let _ = write!(
                    body,
                    "<li><a href=\"{}\">{}</a></li>",
                    escape(&href),
                    escape(r)
                );
            }
            let _ = writeln!(body, "</ul>");
        }
        StepKind::Escalate => {
            let _ = writeln!(body, "<h2>Escalate now</h2><ul>");
            for b in &a.escalate_because {
                let _ = write!(body, "<li>{}</li>", escape(b));
            }
            let _ = writeln!(
                body,
                "</ul><p>{}</p>{}",
                escape(&next.prompt),
                record_form(
                    &viewer.caller,
                    &base,
                    "escalated",
                    "Record the incident and print the escalation packet"
                )
            );
        }
        StepKind::Done => {
            let _ = writeln!(
                body,
                "<h2>Fixed</h2><p>{}</p>{}",
                escape(&next.reason),
                record_form(&viewer.caller, &base, "resolved", "Record the incident")
            );
        }
    }
    let _ = writeln!(body, "<h2>Likeliest causes</h2><ol>");
    for &(c, p) in a.posterior.iter().take(3) {
        let _ = write!(
            body,
            "<li>{} — {:.0}%</li>",
            escape(&kb.causes[c].name),
            p * 100.0
        );
    }
    let _ = writeln!(
        body,
        "</ol>\n<p><strong>{}</strong></p>",
        escape(&a.guardrail)
    );
    page("Smartcard problem", &viewer.caller, &body).into_response()
}

/// A form that records what the wizard's links carry as an incident (the answers stamped now).
fn record_form(caller: &Caller, base: &str, outcome: &str, label: &str) -> String {
    let query = base.split_once('?').map_or("", |(_, q)| q);
    format!(
        "<form method=\"post\" action=\"/triage/record\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"query\" value=\"{}\"><input type=\"hidden\" name=\"outcome\" value=\"{outcome}\">\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"application\">Application (emis-web, systmone, vision, eps, …)</label>\
         <input class=\"nhsuk-input nhsuk-input--width-20\" id=\"application\" name=\"application\"></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"doing\">What the user was doing</label>\
         <input class=\"nhsuk-input nhsuk-u-width-two-thirds\" id=\"doing\" name=\"doing\"></div>\
         <button class=\"nhsuk-button\">{label}</button></form>",
        escape(&caller.csrf),
        escape(query)
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct RecordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    query: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    application: String,
    #[serde(default)]
    doing: String,
}

/// `POST /triage/record`: the web wizard's run kept as an incident — its answers as steps, then
/// escalated (to the packet) or resolved with the cause the last fix confirms.
pub(crate) async fn record(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Form(f): axum::extract::Form<RecordForm>,
) -> Response {
    let viewer = match viewer(&state, caller, Permission::Triage, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if let Err(r) = viewer.caller.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let WizardQuery {
        symptom,
        error_text,
        site,
        card,
        host,
        obs,
    } = match WizardQuery::parse(&f.query) {
        Ok(w) => w,
        Err(e) => return e.into_response(),
    };
    let application = match f.application.trim() {
        "" => None,
        a => match cardwatch_core::triage::parse_application(a) {
            Ok(a) => Some(a),
            Err(e) => return bad_request("application", e).into_response(),
        },
    };
    let desk = match parse_desk(site.as_deref(), card.as_deref(), host.as_deref()) {
        Ok(d) => d,
        Err((field, message)) => return bad_request(field, message).into_response(),
    };
    let kb = &state.checks.triage;
    let (s, _) = match kb.resolve(symptom.as_deref(), error_text.as_deref()) {
        Ok(x) => x,
        Err(e) => return bad_request(&e.field, e.message).into_response(),
    };
    let outcome = match f.outcome.as_str() {
        "escalated" => cardwatch_core::triage::IncidentStatus::Escalated,
        "resolved" => cardwatch_core::triage::IncidentStatus::Resolved,
        other => {
            return bad_request("outcome", format!("{other:?} is not escalated or resolved"))
                .into_response()
        }
    };
    let now = (state.now)();
    let checks = state.checks.clone();
    let reporter = format!("web:{}", viewer.caller.user.user.username);
    let doing = Some(f.doing.trim().to_owned()).filter(|d| !d.is_empty());
    let symptom_id = kb.symptoms[s].id.clone();
    let result = crate::web::blocking(&state, {
        let desk = desk.clone();
        move |store| {
            let (cx, case) = prepare(
                store,
                &checks,
                s,
                &desk,
                now,
                None,
                Case {
                    observations: obs.clone(),
                    ..Case::default()
                },
            )?;
            Ok((cx, case))
        }
    })
    .await;
    let (cx, case) = match result {
        Ok(x) => x,
        Err(f) => return f.into_response(),
    };
    if let Some((field, message)) = outside(&viewer, &desk, &cx) {
        return refuse(false, Some(field), &message);
    }
    let advice = match kb.answer(s, &case) {
        Ok(a) => a,
        Err(e) => return bad_request(&e.field, e.message).into_response(),
    };
    let cause = advice.confirmed_cause.map(|c| kb.causes[c].id.clone());
    // No site named or found: an operator of one organisation is at that one.
    let only = match viewer.caller.user.user.organisations.as_slice() {
        [one] => Some(one.as_str().to_owned()),
        _ => None,
    };
    let opened = cardwatch_core::triage::NewIncident {
        reporter: reporter.clone(),
        site: cx.site.clone().or(cx.holder_site.clone()).or(only),
        card_serial: desk.card.as_ref().map(|c| c.as_str().to_owned()),
        hostname: desk.hostname.as_ref().map(|h| h.as_str().to_owned()),
        application,
        doing,
        symptom: symptom_id,
        error_text,
    };
    let steps = case.observations.clone();
    let made = crate::web::blocking(&state, move |store| {
        let change = cardwatch_store::Change {
            actor: reporter,
            at: now,
        };
        let id = store.open_incident(&opened, &change)?;
        for (step, result) in steps {
            store.record_incident_step(
                id,
                &cardwatch_core::triage::IncidentStep {
                    at: now,
                    id: step,
                    result,
                },
                &change,
            )?;
        }
        store.close_incident(id, outcome, cause.as_deref(), &change)?;
        Ok(id)
    })
    .await;
    match made {
        Ok(id) => {
            let to = if outcome == cardwatch_core::triage::IncidentStatus::Escalated {
                format!("/incidents/{id}/packet")
            } else {
                "/incidents".to_owned()
            };
            (
                axum::http::StatusCode::SEE_OTHER,
                [(axum::http::header::LOCATION, to)],
            )
                .into_response()
        }
        Err(f) => f.into_response(),
    }
}
