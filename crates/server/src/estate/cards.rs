//! A card's page: `GET /cards/{serial}` and its JSON twin `GET /api/v1/cards/{serial}` — the
//! card, its holder, both certificates with how long they have left, the holder's positions,
//! the card's status history from the audit log, and its incidents. A card held outside the
//! caller's organisations is answered as not found. Operators who manage cards change its status
//! there (`POST /cards/{serial}/status`), through the card's state machine, with a reason, audited.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::audit::StoredAudit;
use cardwatch_core::card_status::CardStatus;
use cardwatch_core::ids::CardSerial;
use cardwatch_core::renewal::Window;
use cardwatch_core::triage::{Incident, IncidentStatus, TriageContext};
use cardwatch_core::vocab::HashAlgorithm;
use cardwatch_store::{incident_page, triage_context, AuditQuery, IncidentQuery};
use serde_json::json;

use crate::estate::lists::sentence;
use crate::estate::people::{activity_codes, plain_state, purpose, role};
use crate::estate::Named;
use crate::web::auth::Caller;
use crate::web::blocking;
use crate::web::counted;
use crate::web::form::PageForm;
use crate::web::lookup;
use crate::web::page_of;
use crate::web::scope::{form_viewer, viewer};
use crate::AppState;

/// A card's address: its serial, found again by the box that takes a card number.
const CARD: Named = Named {
    field: "serial",
    lookup: &lookup::CARDS,
    malformed: "Check the card number",
    missing: "Card not found",
};

struct CardView {
    cx: TriageContext,
    history: Vec<StoredAudit>,
    incidents: Vec<Incident>,
}

async fn load(
    state: &AppState,
    caller: Caller,
    serial: &str,
    api: bool,
) -> Result<(Caller, CardView), Response> {
    let (v, serial) = CARD
        .key(
            state,
            caller,
            Permission::ViewPeople,
            api,
            serial,
            CardSerial::parse,
            |typed| format!("“{typed}” is not a card number. Check the number on the back of the card: it is 4 to 32 letters and digits, like CS0000000001."),
        )
        .await?;
    let s = serial.clone();
    let view = blocking(state, move |store| {
        let cx = triage_context(store, None, Some(&s), None)?;
        let history = store.audit_search(&AuditQuery {
            entity_kind: Some("cards".into()),
            entity_key: Some(s.as_str().to_owned()),
            limit: 200,
            ..AuditQuery::default()
        })?;
        // The card's own, newest first: whoever may see the card sees its incidents.
        let incidents = incident_page(
            store,
            &IncidentQuery {
                descending: true,
                limit: Some(200),
                ..IncidentQuery::of_card(s.as_str())
            },
        )?
        .1;
        Ok(CardView {
            cx,
            history,
            incidents,
        })
    })
    .await
    .map_err(IntoResponse::into_response)?;
    let visible = view.cx.card.is_some()
        && view
            .cx
            .holder_site
            .as_deref()
            .is_some_and(|site| v.sees_site(site));
    if !visible {
        return Err(CARD.missing(
            &v.caller,
            api,
            serial.as_str(),
            &format!("No card with the number {serial} among your organisations' cards — check the number on the back of the card, or search for it."),
            &format!("no card {serial} among your organisations' cards"),
        ));
    }
    Ok((v.caller, view))
}

fn band(today: cardwatch_core::date::Date, not_after: cardwatch_core::date::Date) -> &'static str {
    match Window::of(today, not_after) {
        Window::Expired => "expired: book an RA in person",
        Window::Urgent => "expires within 30 days: renew at the login prompt now",
        Window::Renewable => "inside its 90-day window: the holder can renew",
        Window::Valid => "valid",
    }
}

pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Response {
    let (_, view) = match load(&state, caller, &serial, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let today = (state.now)().date();
    let cx = &view.cx;
    let card = cx
        .card
        .as_ref()
        .map(|c| serde_json::to_value(c).unwrap_or_default());
    let certificates: Vec<_> = cx
        .certificates
        .iter()
        .map(|c| {
            let mut v = serde_json::to_value(c).unwrap_or_default();
            v["state"] = band(today, c.not_after).into();
            v
        })
        .collect();
    axum::Json(json!({
        "card": card,
        "holder": {"name": cx.holder_name, "site": cx.holder_site},
        "certificates": certificates,
        "positions": cx.positions,
        "status_history": view.history,
        "incidents": view.incidents,
    }))
    .into_response()
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
) -> Response {
    render(&state, caller, &serial, None, Typed::default()).await
}

/// `GET /cards?serial=`: the card's page for the number typed into a refusal page's box; with
/// no number, the page that asks for it.
pub(crate) async fn find(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let typed = q.get("serial").map_or("", |s| s.trim());
    if typed.is_empty() {
        let v = match viewer(&state, caller, Permission::ViewPeople, false).await {
            Ok(v) => v,
            Err(r) => return r,
        };
        return lookup::refused(
            &v.caller,
            StatusCode::BAD_REQUEST,
            "Which card?",
            "Enter the card number from the back of the card.",
            "",
            &lookup::CARDS,
        );
    }
    // The card's own page says whether the number is one, and whether it is the caller's.
    let to = page_of("cards", typed);
    (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, to)]).into_response()
}

#[derive(askama::Template)]
#[template(path = "estate_card.html")]
struct CardPage {
    done: Option<String>,
    refused: Option<String>,
    /// The status form's refused field (its id, the message).
    problem: Option<(&'static str, String)>,
    /// The status and reason as typed.
    typed: Typed,
    holder: String,
    holder_link: String,
    site: String,
    series: String,
    status: String,
    last_used: String,
    certificates: Vec<[String; 5]>,
    positions: Vec<[String; 4]>,
    history: Vec<[String; 4]>,
    incidents: Vec<IncidentRow>,
    incidents_count: String,
    /// For those who manage cards: the statuses it may move to (value, label), with where to send
    /// the change and the form's token.
    change: Option<Change>,
}

struct Change {
    action: String,
    csrf: String,
    options: Vec<(&'static str, String)>,
    closed: String,
}

struct IncidentRow {
    link: String,
    id: i64,
    reported: String,
    problem: String,
    outcome: &'static str,
}

/// A certificate's hash as IT would check it, with why it matters.
fn hash(h: HashAlgorithm) -> &'static str {
    match h {
        HashAlgorithm::Sha1 => "SHA-1 (too old for electronic prescriptions)",
        HashAlgorithm::Sha256 => "SHA-256",
    }
}

/// An incident's outcome as the desk says it.
fn outcome(s: IncidentStatus) -> &'static str {
    match s {
        IncidentStatus::Open => "Still open",
        IncidentStatus::Resolved => "Fixed",
        IncidentStatus::Escalated => "Passed to support",
    }
}

/// The card's page, with the outcome of a status change when there was one.
/// What was typed in the status form, kept when it is refused, and the field refused.
#[derive(Default)]
struct Typed {
    problem: Option<(&'static str, String)>,
    status: String,
    reason: String,
}

/// The card's page; `said` is what a change did (or why the store refused it), `typed` a refused
/// status form (answered 400 with what was typed).
async fn render(
    state: &AppState,
    caller: Caller,
    serial: &str,
    said: Option<(bool, String)>,
    typed: Typed,
) -> Response {
    let (caller, view) = match load(state, caller, serial, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let today = (state.now)().date();
    let cx = &view.cx;
    let Some(card) = &cx.card else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let kb = &state.checks.triage;
    let certificates = cx
        .certificates
        .iter()
        .map(|c| {
            [
                purpose(c.purpose).to_owned(),
                c.issuer.clone(),
                c.not_after.long(),
                hash(c.hash_algorithm).to_owned(),
                plain_state(today, c.not_after).to_owned(),
            ]
        })
        .collect();
    let positions = cx
        .positions
        .iter()
        .map(|p| {
            [
                p.ods_code.as_str().to_owned(),
                role(p),
                activity_codes(p),
                sentence(p.status.as_str()),
            ]
        })
        .collect();
    let history = view
        .history
        .iter()
        .map(|h| {
            let r = &h.record;
            [
                r.at.long(),
                r.actor.strip_prefix("web:").unwrap_or(&r.actor).to_owned(),
                if r.action == "status" {
                    "Status changed".to_owned()
                } else {
                    sentence(&r.action)
                },
                r.note.clone(),
            ]
        })
        .collect();
    let incidents = view
        .incidents
        .iter()
        .map(|i| IncidentRow {
            link: format!("/incidents/{}/packet", i.id),
            id: i.id,
            reported: i.opened_at.long(),
            problem: kb
                .symptom(&i.opened.symptom)
                .map_or(i.opened.symptom.clone(), |s| kb.symptoms[s].plain.clone()),
            outcome: outcome(i.status),
        })
        .collect();
    let (done, refused) = match said {
        Some((true, m)) => (Some(m), None),
        Some((false, m)) => (None, Some(m)),
        None => (None, None),
    };
    let change = caller
        .user
        .user
        .role
        .can(Permission::ManageCards)
        .then(|| Change {
            action: format!("{}/status", page_of("cards", card.card_serial.as_str())),
            csrf: caller.csrf.clone(),
            // Only the statuses its state machine allows from here.
            options: CardStatus::ALL
                .iter()
                .filter(|&&to| to != card.status && card.status.transition(to).is_ok())
                .map(|to| (to.as_str(), sentence(to.as_str())))
                .collect(),
            closed: format!(
                "A {} card's record is closed: issue a new card.",
                card.status.as_str()
            ),
        });
    let status = if typed.problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = CardPage {
        done,
        refused,
        problem: typed.problem.clone(),
        typed,
        holder: format!(
            "{} ({})",
            cx.holder_name.as_deref().unwrap_or("name not known"),
            card.holder_uuid.as_str()
        ),
        holder_link: page_of("people", card.holder_uuid.as_str()),
        site: match &cx.holder_site {
            Some(code) => crate::web::sites::named_now(state, code).await,
            None => "Not known".into(),
        },
        series: card.series.number().to_string(),
        status: sentence(card.status.as_str()),
        last_used: card
            .last_used_on
            .map_or("Not recorded".into(), |d| d.long()),
        certificates,
        positions,
        history,
        incidents_count: counted(view.incidents.len(), "incident", "incidents"),
        incidents,
        change,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    (
        status,
        crate::web::layout::page(
            &format!("Card {}", card.card_serial.as_str()),
            Some(&caller),
            &body,
        ),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
pub(crate) struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
}

/// `POST /cards/{serial}/status`: the card's status changed through its state machine, with the
/// reason in the audit log; the page again with the outcome.
pub(crate) async fn change_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(serial): Path<String>,
    PageForm(f): PageForm<StatusForm>,
) -> Response {
    let v = match form_viewer(&state, caller, Permission::ManageCards, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // The card must be one the caller sees: the page's own check answers otherwise.
    let caller = match load(&state, v.caller, &serial, false).await {
        Ok((c, _)) => c,
        Err(r) => return r,
    };
    let reason = f.reason.trim().to_owned();
    let refuse = |field: &'static str, m: &str| Typed {
        problem: Some((field, m.to_owned())),
        status: f.status.clone(),
        reason: f.reason.clone(),
    };
    let to = match CardStatus::parse(&f.status) {
        Err(_) => {
            let m = format!(
                "“{}” is not a status this card can move to: choose one from the list",
                f.status.trim()
            );
            return render(&state, caller, &serial, None, refuse("status", &m)).await;
        }
        Ok(_) if reason.is_empty() || reason.chars().count() > 200 => {
            let m = "Say why the status changes, in 1 to 200 characters, like “lost on the bus”: the reason is kept in the audit log";
            return render(&state, caller, &serial, None, refuse("reason", m)).await;
        }
        Ok(to) => to,
    };
    let (Ok(card), change) = (
        CardSerial::parse(&serial),
        crate::web::change(&caller, &state),
    ) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let done = blocking(&state, move |s| {
        // The store answers with the status the card has now.
        Ok(s.set_card_status(&card, to, &reason, &change)
            .map(|now| format!("The card is now {now}.")))
    })
    .await;
    match crate::web::settled(done) {
        Ok(message) => render(&state, caller, &serial, Some(message), Typed::default()).await,
        Err(r) => *r,
    }
}
