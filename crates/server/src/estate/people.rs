//! A person's page: `GET /people/{uuid}` and `GET /api/v1/people/{uuid}` — who they are, their
//! positions, and each of their cards with both certificates. Someone at another organisation's
//! site is answered as not found.

use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::estate::{Card, Certificate, Person, Position};
use cardwatch_core::ids::Uuid;
use cardwatch_core::records::{Kind, Record};
use cardwatch_core::renewal::Window;
use cardwatch_core::vocab::PositionStatus;
use cardwatch_store::positions::set_position_status;
use cardwatch_store::{records_of, Store, StoreError};
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::bad_request;
use crate::web::scope::{form_viewer, not_found, viewer};
use crate::web::{blocking, escape};
use crate::AppState;

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
    render(&state, caller, &uuid, None).await
}

/// The person's page, with the outcome of a position's change when there was one.
async fn render(
    state: &AppState,
    caller: Caller,
    uuid: &str,
    said: Option<(bool, String)>,
) -> Response {
    let (caller, p) = match find(state, caller, uuid, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let manages = caller.user.user.role.can(Permission::ManageCards);
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
            let change = if manages {
                position_form(&caller, p.person.uuid.as_str(), x)
            } else {
                String::new()
            };
            format!(
                "<tr class=\"nhsuk-table__row\">{}{}{}{}{}</tr>",
                cell(x.ods_code.as_str()),
                cell(&format!("{} {}", x.role_code.as_str(), x.role_name)),
                cell(&codes.join(" ")),
                cell(x.status.as_str()),
                if manages {
                    format!("<td class=\"nhsuk-table__cell\">{change}</td>")
                } else {
                    String::new()
                }
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
        head(if manages {
            &["Organisation", "Role", "Activity codes", "Status", "Change"]
        } else {
            &["Organisation", "Role", "Activity codes", "Status"]
        }),
        head(&["Card", "Card status", "Certificate", "Last valid day", "State"]),
    );
    let said = crate::web::layout::said(said);
    let export = if caller.user.user.role.can(Permission::ViewAudit) {
        format!(
            "<p class=\"nhsuk-body\"><a href=\"/people/{}/export\">Everything held about this person</a> (JSON, for a subject access request).</p>",
            escape(person.uuid.as_str())
        )
    } else {
        String::new()
    };
    let body = format!("{said}{body}{export}");
    crate::web::layout::page(&person.name, Some(&caller), &body).into_response()
}

/// A position's next statuses as a small form (none once removed).
fn position_form(caller: &Caller, uuid: &str, x: &Position) -> String {
    let next = x.status.next();
    if next.is_empty() {
        return String::new();
    }
    let options: String = next
        .iter()
        .map(|s| format!("<option value=\"{0}\">{0}</option>", s.as_str()))
        .collect();
    let id = format!(
        "to-{}-{}",
        x.ods_code.as_str(),
        x.role_code.as_str().replace(':', "-")
    );
    format!(
        "<form method=\"post\" action=\"/people/{uuid}/positions\" class=\"nhsuk-u-margin-bottom-0\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"ods_code\" value=\"{ods}\">\
         <input type=\"hidden\" name=\"role_code\" value=\"{role}\">\
         <label class=\"nhsuk-label\" for=\"{id}\">New status</label><select class=\"nhsuk-select\" id=\"{id}\" name=\"status\">{options}</select> \
         <button class=\"nhsuk-button nhsuk-button--secondary nhsuk-u-margin-bottom-0\" type=\"submit\">Change</button></form>",
        uuid = escape(uuid),
        csrf = escape(&caller.csrf),
        ods = escape(x.ods_code.as_str()),
        role = escape(x.role_code.as_str()),
        id = escape(&id),
    )
}

#[derive(serde::Deserialize)]
pub(crate) struct PositionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ods_code: String,
    #[serde(default)]
    role_code: String,
    #[serde(default)]
    status: String,
}

/// `POST /people/{uuid}/positions`: a position approved, brought into force or removed by
/// someone who manages cards and positions; audited through the import.
pub(crate) async fn change_position(
    State(state): State<AppState>,
    caller: Caller,
    Path(uuid): Path<String>,
    Form(f): Form<PositionForm>,
) -> Response {
    let v = match form_viewer(&state, caller, Permission::ManageCards, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // Only a person the caller sees, and a position at an organisation they cover: someone
    // working for two organisations keeps the other's roles out of reach.
    let covered = v.sees_site(f.ods_code.trim().to_ascii_uppercase().as_str());
    let caller = match find(&state, v.caller, &uuid, false).await {
        Ok((c, _)) if covered => c,
        Ok((c, _)) => {
            let m = format!(
                "no position at {} among your organisations",
                f.ods_code.trim()
            );
            return not_found(false, &c, &m);
        }
        Err(r) => return r,
    };
    let to = match PositionStatus::parse(&f.status) {
        Ok(t) => t,
        Err(e) => {
            let m = format!("Status {:?}: {e}", f.status);
            return render(&state, caller, &uuid, Some((false, m))).await;
        }
    };
    let change = crate::web::change(&caller, &state);
    let today = change.at.date();
    let (holder, ods, role) = (
        uuid.clone(),
        f.ods_code.trim().to_ascii_uppercase(),
        f.role_code.trim().to_ascii_uppercase(),
    );
    let done = blocking(&state, move |s| {
        Ok(
            match set_position_status(s, &holder, &ods, &role, to, today, &change) {
                Ok(from) => Ok(format!(
                    "Position {role} at {ods} was {from}; it is now {to}."
                )),
                Err(StoreError::NotFound(m)) => Err(StoreError::Invalid(m)),
                Err(e) => Err(e),
            },
        )
    })
    .await;
    match crate::web::settled(done) {
        Ok(message) => render(&state, caller, &uuid, Some(message)).await,
        Err(r) => *r,
    }
}

/// `GET /people/{uuid}/export`: everything Cardwatch holds about one person, as one JSON file —
/// their record, positions, cards with both certificates, the incidents about their cards,
/// access-review decisions and every audit record about any of these (a subject access
/// request). For those who may read the audit log, within their organisations.
pub(crate) async fn export(
    State(state): State<AppState>,
    caller: Caller,
    Path(uuid): Path<String>,
) -> Response {
    if let Err(r) = viewer(&state, caller.clone(), Permission::ViewAudit, false).await {
        return r;
    }
    let (_, p) = match find(&state, caller, &uuid, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let holder = p.person.uuid.as_str().to_owned();
    let serials: Vec<String> = p
        .cards
        .iter()
        .map(|(c, _)| c.card_serial.as_str().to_owned())
        .collect();
    let positions = p.positions.clone();
    let gathered = blocking(&state, move |s| {
        cardwatch_store::subject::about_person(s, &holder, &serials, &positions)
    })
    .await;
    let about = match gathered {
        Ok(g) => g,
        Err(f) => return f.into_response(),
    };
    let cards: Vec<_> = p
        .cards
        .iter()
        .map(|(card, certs)| json!({"card": card, "certificates": certs}))
        .collect();
    let reviews: Vec<_> = about
        .reviews
        .iter()
        .map(|(ods, role, d)| json!({"ods_code": ods, "role_code": role, "decision": d}))
        .collect();
    let body = json!({
        "exported_at": (state.now)(),
        "person": p.person,
        "positions": p.positions,
        "cards": cards,
        "incidents": about.incidents,
        "access_reviews": reviews,
        "audit": about.audit,
    });
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/json".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"person-{uuid}.json\""),
            ),
        ],
        body.to_string(),
    )
        .into_response()
}
