//! A card's page: `GET /cards/{serial}` and its JSON twin `GET /api/v1/cards/{serial}` — the
//! card, its holder, both certificates with how long they have left, the holder's positions,
//! the card's status history from the audit log, and its incidents. A card held outside the
//! caller's organisations is answered as not found. Operators who manage cards change its status
//! there (`POST /cards/{serial}/status`), through the card's state machine, with a reason, audited.

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::audit::StoredAudit;
use cardwatch_core::card_status::CardStatus;
use cardwatch_core::ids::CardSerial;
use cardwatch_core::renewal::Window;
use cardwatch_core::triage::{Incident, TriageContext};
use cardwatch_store::{incident_page, triage_context, AuditQuery, IncidentQuery};
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::bad_request;
use crate::web::scope::{form_viewer, not_found, viewer};
use crate::web::{blocking, escape};
use crate::AppState;

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
    let serial = CardSerial::parse(serial)
        .map_err(|e| bad_request("serial", e.to_string()).into_response())?;
    let v = viewer(state, caller, Permission::ViewPeople, api).await?;
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
        let message = format!("no card {serial} among your organisations' cards");
        return Err(not_found(api, &v.caller, &message));
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
    render(&state, caller, &serial, None).await
}

/// The card's page, with the outcome of a status change when there was one.
async fn render(
    state: &AppState,
    caller: Caller,
    serial: &str,
    said: Option<(bool, String)>,
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
    let cell = |s: &str| format!("<td class=\"nhsuk-table__cell\">{}</td>", escape(s));
    let head = |cols: &[&str]| {
        cols.iter()
            .map(|c| format!("<th class=\"nhsuk-table__header\" scope=\"col\">{c}</th>"))
            .collect::<String>()
    };
    let table = |cols: &[&str], rows: String| {
        format!(
            "<table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">{}</tr></thead><tbody class=\"nhsuk-table__body\">{rows}</tbody></table>",
            head(cols)
        )
    };
    let certs: String = cx
        .certificates
        .iter()
        .map(|c| {
            format!(
                "<tr class=\"nhsuk-table__row\">{}{}{}{}{}</tr>",
                cell(&c.purpose.to_string()),
                cell(&c.issuer),
                cell(&c.not_after.to_string()),
                cell(&c.hash_algorithm.to_string()),
                cell(band(today, c.not_after))
            )
        })
        .collect();
    let positions: String = cx
        .positions
        .iter()
        .map(|p| {
            let codes: Vec<&str> = p.activity_codes.iter().map(|a| a.as_str()).collect();
            format!(
                "<tr class=\"nhsuk-table__row\">{}{}{}{}</tr>",
                cell(p.ods_code.as_str()),
                cell(&format!("{} {}", p.role_code.as_str(), p.role_name)),
                cell(&codes.join(" ")),
                cell(p.status.as_str())
            )
        })
        .collect();
    let history: String = view
        .history
        .iter()
        .map(|h| {
            let r = &h.record;
            format!(
                "<tr class=\"nhsuk-table__row\">{}{}{}{}</tr>",
                cell(&r.at.to_string()),
                cell(&r.actor),
                cell(&r.action),
                cell(&r.note)
            )
        })
        .collect();
    let incidents: String = view
        .incidents
        .iter()
        .map(|i| {
            format!(
                "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\"><a href=\"/incidents/{id}/packet\">{id}</a></td>{}{}{}</tr>",
                cell(&i.opened_at.to_string()),
                cell(&i.opened.symptom),
                cell(i.status.as_str()),
                id = i.id
            )
        })
        .collect();
    let body = format!(
        "<dl class=\"nhsuk-summary-list\">\
         <div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Holder</dt><dd class=\"nhsuk-summary-list__value\"><a href=\"/people/{uuid}\">{} ({uuid})</a></dd></div>\
         <div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Site</dt><dd class=\"nhsuk-summary-list__value\">{}</dd></div>\
         <div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Series</dt><dd class=\"nhsuk-summary-list__value\">{}</dd></div>\
         <div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Status</dt><dd class=\"nhsuk-summary-list__value\">{}</dd></div>\
         <div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Last used</dt><dd class=\"nhsuk-summary-list__value\">{}</dd></div></dl>\n\
         <h2 class=\"nhsuk-heading-m\">Certificates</h2>{}\n<h2 class=\"nhsuk-heading-m\">Positions</h2>{}\n\
         <h2 class=\"nhsuk-heading-m\">Status history</h2>{}\n<h2 class=\"nhsuk-heading-m\">Incidents</h2>{}",
        escape(cx.holder_name.as_deref().unwrap_or("not known")),
        escape(cx.holder_site.as_deref().unwrap_or("-")),
        card.series.number(),
        card.status,
        card.last_used_on.map_or("not recorded".into(), |d| d.to_string()),
        table(&["Certificate", "Issuer", "Last valid day", "Hash", "State"], certs),
        table(&["Organisation", "Role", "Activity codes", "Status"], positions),
        table(&["When", "Who", "What", "Why"], history),
        table(&["Incident", "Opened", "Symptom", "Status"], incidents),
        uuid = escape(card.holder_uuid.as_str()),
    );
    let said = crate::web::layout::said(said);
    let change = if caller.user.user.role.can(Permission::ManageCards) {
        status_form(&caller, card)
    } else {
        String::new()
    };
    let body = format!("{said}{body}{change}");
    crate::web::layout::page(
        &format!("Card {}", card.card_serial.as_str()),
        Some(&caller),
        &body,
    )
    .into_response()
}

/// The form that changes a card's status: only the statuses its state machine allows from here.
fn status_form(caller: &Caller, card: &cardwatch_core::estate::Card) -> String {
    let options: String = CardStatus::ALL
        .iter()
        .filter(|&&to| to != card.status && card.status.transition(to).is_ok())
        .map(|to| format!("<option value=\"{0}\">{0}</option>", to.as_str()))
        .collect();
    if options.is_empty() {
        return format!(
            "<h2 class=\"nhsuk-heading-m\">Change status</h2><p class=\"nhsuk-body\">A {} card's record is closed: issue a new card.</p>",
            card.status
        );
    }
    format!(
        "<h2 class=\"nhsuk-heading-m\">Change status</h2>\
         <form method=\"post\" action=\"/cards/{serial}/status\" novalidate><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"status\">New status</label><select class=\"nhsuk-select\" id=\"status\" name=\"status\">{options}</select></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"reason\">Why (kept in the audit log)</label><input class=\"nhsuk-input\" id=\"reason\" name=\"reason\" type=\"text\" maxlength=\"200\"></div>\
         <button class=\"nhsuk-button\" type=\"submit\">Change status</button></form>",
        serial = escape(card.card_serial.as_str()),
        csrf = escape(&caller.csrf),
    )
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
    Form(f): Form<StatusForm>,
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
    let to = match CardStatus::parse(&f.status) {
        Err(e) => {
            let m = format!("Status {:?}: {e}", f.status);
            return render(&state, caller, &serial, Some((false, m))).await;
        }
        Ok(_) if reason.is_empty() || reason.chars().count() > 200 => {
            let m = "Say why in 1 to 200 characters: the reason is kept in the audit log.";
            return render(&state, caller, &serial, Some((false, m.into()))).await;
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
        Ok(s.set_card_status(&card, to, &reason, &change)
            .map(|from| format!("The card was {from}; it is now {to}.")))
    })
    .await;
    match crate::web::settled(done) {
        Ok(message) => render(&state, caller, &serial, Some(message)).await,
        Err(r) => *r,
    }
}
