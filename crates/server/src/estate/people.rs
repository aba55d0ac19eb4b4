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
use cardwatch_core::vocab::{PositionStatus, Purpose};
use cardwatch_store::positions::set_position_status;
use cardwatch_store::{records_of, Store, StoreError};
use serde_json::json;

use crate::estate::lists::sentence;
use crate::estate::Named;
use crate::web::auth::Caller;
use crate::web::blocking;
use crate::web::counted;
use crate::web::form::PageForm;
use crate::web::lookup;
use crate::web::page_of;
use crate::web::scope::{form_viewer, not_found, viewer};
use crate::AppState;

/// A person's address: their UUID, found again by the people list's search.
const PERSON: Named = Named {
    field: "uuid",
    lookup: &lookup::PEOPLE,
    malformed: "Check the UUID",
    missing: "Person not found",
};

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
    let (v, uuid) = PERSON
        .key(
            state,
            caller,
            Permission::ViewPeople,
            api,
            uuid,
            Uuid::parse,
            |typed| format!("“{typed}” is not a UUID. A person's UUID is the 12-digit number on their smartcard record — check it, or search by their name."),
        )
        .await?;
    let found = blocking(state, {
        let uuid = uuid.clone();
        move |s| load(s, &uuid)
    })
    .await
    .map_err(IntoResponse::into_response)?;
    match found.filter(|p| v.sees_site(p.person.site_ods.as_str())) {
        Some(p) => Ok((v.caller, p)),
        None => Err(PERSON.missing(
            &v.caller,
            api,
            uuid.as_str(),
            &format!("No one with the UUID {uuid} among your organisations' people — check the number on their smartcard record, or search by their name."),
            &format!("no one with UUID {uuid} among your organisations' people"),
        )),
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

/// How long a certificate has left, and what to do, in the desk's words. An expired one is never
/// renewed at the computer: the holder goes to a Registration Authority.
pub(crate) fn plain_state(
    today: cardwatch_core::date::Date,
    not_after: cardwatch_core::date::Date,
) -> &'static str {
    match Window::of(today, not_after) {
        Window::Expired => "Expired: the holder must see a Registration Authority in person",
        Window::Urgent => "Ends within 30 days: renew at the login prompt now",
        Window::Renewable => "Can be renewed now (less than 90 days left)",
        Window::Valid => "Valid",
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

#[derive(askama::Template)]
#[template(path = "estate_person.html")]
struct PersonPage {
    done: Option<String>,
    refused: Option<String>,
    uuid: String,
    job: String,
    site: String,
    ends: String,
    manages: bool,
    csrf: String,
    action: String,
    positions: Vec<PositionRow>,
    cards: String,
    certificates: Vec<CertificateRow>,
    export: Option<String>,
}

struct PositionRow {
    ods: String,
    role: String,
    codes: String,
    status: String,
    /// The form's id and the statuses it may move to (value, label); none once removed.
    change: Option<(String, Vec<(&'static str, String)>)>,
    role_code: String,
}

struct CertificateRow {
    card: String,
    link: String,
    card_status: String,
    purpose: &'static str,
    last_day: String,
    state: &'static str,
}

/// What a certificate is for, as the holder would say it.
pub(crate) fn purpose(p: Purpose) -> &'static str {
    match p {
        Purpose::Authentication => "Logging in",
        Purpose::Signing => "Signing records and prescriptions",
    }
}

/// A role as it is known at the desk: its name, then its code.
pub(crate) fn role(x: &Position) -> String {
    if x.role_name.trim().is_empty() {
        x.role_code.as_str().to_owned()
    } else {
        format!("{} ({})", x.role_name, x.role_code.as_str())
    }
}

/// A position's activity codes, or that there are none.
pub(crate) fn activity_codes(x: &Position) -> String {
    let codes: Vec<&str> = x.activity_codes.iter().map(|a| a.as_str()).collect();
    if codes.is_empty() {
        "None".to_owned()
    } else {
        codes.join(", ")
    }
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
    let positions = p
        .positions
        .iter()
        .map(|x| PositionRow {
            ods: x.ods_code.as_str().to_owned(),
            role: role(x),
            codes: activity_codes(x),
            status: sentence(x.status.as_str()),
            change: (manages && !x.status.next().is_empty()).then(|| {
                let id = format!(
                    "to-{}-{}",
                    x.ods_code.as_str(),
                    x.role_code.as_str().replace(':', "-")
                );
                let options = x
                    .status
                    .next()
                    .iter()
                    .map(|s| (s.as_str(), sentence(s.as_str())))
                    .collect();
                (id, options)
            }),
            role_code: x.role_code.as_str().to_owned(),
        })
        .collect();
    let certificates = p
        .cards
        .iter()
        .flat_map(|(card, certs)| {
            certs.iter().map(move |c| CertificateRow {
                card: card.card_serial.as_str().to_owned(),
                link: page_of("cards", card.card_serial.as_str()),
                card_status: sentence(card.status.as_str()),
                purpose: purpose(c.purpose),
                last_day: c.not_after.long(),
                state: plain_state(today, c.not_after),
            })
        })
        .collect();
    let person = &p.person;
    let home = page_of("people", person.uuid.as_str());
    let (done, refused) = match said {
        Some((true, m)) => (Some(m), None),
        Some((false, m)) => (None, Some(m)),
        None => (None, None),
    };
    let page = PersonPage {
        done,
        refused,
        uuid: person.uuid.as_str().to_owned(),
        job: if person.staff_role.trim().is_empty() {
            "Not recorded".to_owned()
        } else {
            person.staff_role.clone()
        },
        site: crate::web::sites::named_now(state, person.site_ods.as_str()).await,
        ends: person
            .employment_end
            .map_or("Not recorded".into(), |d| d.long()),
        manages,
        csrf: caller.csrf.clone(),
        action: format!("{home}/positions"),
        positions,
        cards: counted(p.cards.len(), "card", "cards"),
        certificates,
        export: caller
            .user
            .user
            .role
            .can(Permission::ViewAudit)
            .then(|| format!("{home}/export")),
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    crate::web::layout::page(&person.name, Some(&caller), &body).into_response()
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
    PageForm(f): PageForm<PositionForm>,
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
