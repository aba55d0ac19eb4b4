//! A person's page: `GET /people/{uuid}` and `GET /api/v1/people/{uuid}` — who they are, their
//! positions, and each of their cards with both certificates. Someone at another organisation's
//! site is answered as not found.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::estate::{Card, Certificate, Person, Position};
use cardwatch_core::ids::Uuid;
use cardwatch_core::records::{Kind, Record};
use cardwatch_core::renewal::Window;
use cardwatch_store::{records_of, Store, StoreError};
use serde_json::json;

use crate::auth::Caller;
use crate::findings::bad_request;
use crate::scope::{not_found, viewer};
use crate::{blocking, escape, AppState};

struct PersonView {
    person: Person,
    positions: Vec<Position>,
    cards: Vec<(Card, Vec<Certificate>)>,
}

fn load(store: &dyn Store, uuid: &Uuid) -> Result<Option<PersonView>, StoreError> {
    let Some(Record::Person(person)) = records_of(store, Kind::People, "uuid", uuid.as_str())?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let positions = records_of(store, Kind::Positions, "holder_uuid", uuid.as_str())?
        .into_iter()
        .filter_map(|r| match r {
            Record::Position(p) => Some(p),
            _ => None,
        })
        .collect();
    let mut cards = Vec::new();
    for r in records_of(store, Kind::Cards, "holder_uuid", uuid.as_str())? {
        if let Record::Card(card) = r {
            let certs = records_of(
                store,
                Kind::Certificates,
                "card_serial",
                card.card_serial.as_str(),
            )?
            .into_iter()
            .filter_map(|r| match r {
                Record::Certificate(c) => Some(c),
                _ => None,
            })
            .collect();
            cards.push((card, certs));
        }
    }
    Ok(Some(PersonView {
        person,
        positions,
        cards,
    }))
}

async fn find(
    state: &AppState,
    caller: Caller,
    uuid: &str,
    api: bool,
) -> Result<(Caller, PersonView), Response> {
    let uuid = Uuid::parse(uuid).map_err(|e| bad_request("uuid", e.to_string()).into_response())?;
    let v = viewer(state, caller, Permission::ViewPeople, api).await?;
    let found = blocking(state, {
        let uuid = uuid.clone();
        move |s| load(s, &uuid)
    })
    .await
    .map_err(IntoResponse::into_response)?;
    match found.filter(|p| v.sees_site(p.person.site_ods.as_str())) {
        Some(p) => Ok((v.caller, p)),
        None => {
            let message = format!("no one with UUID {uuid} among your organisations' people");
            Err(not_found(api, &v.caller, &message))
        }
    }
}

fn state_of(today: cardwatch_core::date::Date, c: &Certificate) -> &'static str {
    match Window::of(today, c.not_after) {
        Window::Expired => "expired",
        Window::Urgent => "within 30 days",
        Window::Renewable => "inside the 90-day window",
        Window::Valid => "valid",
    }
}

pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Path(uuid): Path<String>,
) -> Response {
    let (_, p) = match find(&state, caller, &uuid, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let today = (state.now)().date();
    let cards: Vec<_> = p
        .cards
        .iter()
        .map(|(card, certs)| {
            let certs: Vec<_> = certs
                .iter()
                .map(|c| {
                    let mut v = serde_json::to_value(c).unwrap_or_default();
                    v["state"] = state_of(today, c).into();
                    v
                })
                .collect();
            json!({"card": card, "certificates": certs})
        })
        .collect();
    axum::Json(json!({"person": p.person, "positions": p.positions, "cards": cards}))
        .into_response()
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Path(uuid): Path<String>,
) -> Response {
    let (caller, p) = match find(&state, caller, &uuid, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let today = (state.now)().date();
    let cell = |s: &str| format!("<td class=\"nhsuk-table__cell\">{}</td>", escape(s));
    let head = |cols: &[&str]| -> String {
        cols.iter()
            .map(|c| format!("<th class=\"nhsuk-table__header\" scope=\"col\">{c}</th>"))
            .collect()
    };
    let positions: String = p
        .positions
        .iter()
        .map(|x| {
            let codes: Vec<&str> = x.activity_codes.iter().map(|a| a.as_str()).collect();
            format!(
                "<tr class=\"nhsuk-table__row\">{}{}{}{}</tr>",
                cell(x.ods_code.as_str()),
                cell(&format!("{} {}", x.role_code.as_str(), x.role_name)),
                cell(&codes.join(" ")),
                cell(x.status.as_str())
            )
        })
        .collect();
    let mut cards = String::new();
    for (card, certs) in &p.cards {
        for c in certs {
            cards.push_str(&format!(
                "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\"><a href=\"/cards/{s}\">{s}</a></td>{}{}{}{}</tr>",
                cell(&card.status.to_string()),
                cell(&c.purpose.to_string()),
                cell(&c.not_after.to_string()),
                cell(state_of(today, c)),
                s = escape(card.card_serial.as_str()),
            ));
        }
    }
    let person = &p.person;
    let body = format!(
        "<dl class=\"nhsuk-summary-list\">\
         <div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">UUID</dt><dd class=\"nhsuk-summary-list__value\">{}</dd></div>\
         <div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Staff role</dt><dd class=\"nhsuk-summary-list__value\">{}</dd></div>\
         <div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Site</dt><dd class=\"nhsuk-summary-list__value\">{}</dd></div>\
         <div class=\"nhsuk-summary-list__row\"><dt class=\"nhsuk-summary-list__key\">Employment ends</dt><dd class=\"nhsuk-summary-list__value\">{}</dd></div></dl>\n\
         <h2 class=\"nhsuk-heading-m\">Positions</h2><table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">{}</tr></thead><tbody class=\"nhsuk-table__body\">{positions}</tbody></table>\n\
         <h2 class=\"nhsuk-heading-m\">Cards and certificates</h2><table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">{}</tr></thead><tbody class=\"nhsuk-table__body\">{cards}</tbody></table>",
        escape(person.uuid.as_str()),
        escape(&person.staff_role),
        escape(person.site_ods.as_str()),
        person.employment_end.map_or("-".into(), |d| d.to_string()),
        head(&["Organisation", "Role", "Activity codes", "Status"]),
        head(&["Card", "Card status", "Certificate", "Last valid day", "State"]),
    );
    crate::layout::page(&person.name, Some(&caller), &body).into_response()
}
