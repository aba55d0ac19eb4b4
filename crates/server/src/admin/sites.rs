//! Administration of sites: each site's core clinic hours (which the health checks hold
//! updates against) and its own contacts (on its cheat sheet), for operators who may edit the
//! estate, within their organisations, and its spare stock. Core hours and stock are changed
//! through the import's own path — a one-row `sites.csv` or `stock.csv` — so they are validated
//! and audited exactly as an import is.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::ids::OdsCode;
use cardwatch_core::records::{Kind, Value};
use cardwatch_core::triage::Contact;
use cardwatch_store::contacts;
use cardwatch_store::{Change, ImportInput, ImportOptions, StoreError};
use serde::Deserialize;

use crate::web::auth::Caller;
use crate::web::form::PageForm;
use crate::web::scope::{form_viewer, not_found, viewer, Viewer};
use crate::web::{blocking, layout};
use crate::AppState;

/// A site's stored record: (ODS code, organisation, name, core hours).
type SiteRow = (String, String, String, String);

fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::Text(s)) => s.clone(),
        _ => String::new(),
    }
}

/// The site, if it exists and the viewer covers it (another organisation's site is answered as
/// if it did not exist).
async fn site_of(state: &AppState, v: &Viewer, code: &str) -> Result<SiteRow, Response> {
    let missing = || {
        not_found(
            false,
            &v.caller,
            &format!("no site {code} among your organisations' sites"),
        )
    };
    let Ok(ods) = OdsCode::parse(code) else {
        return Err(missing());
    };
    if !v.sees_site(ods.as_str()) {
        return Err(missing());
    }
    let key = ods.as_str().to_owned();
    let row = blocking(state, move |s| {
        s.records_where(Kind::Sites, "site_ods", &key, 1)
    })
    .await
    .map_err(IntoResponse::into_response)?;
    let r = row.into_iter().next().ok_or_else(missing)?;
    Ok((
        text(r.first()),
        text(r.get(1)),
        text(r.get(2)),
        text(r.get(3)),
    ))
}

/// A form's caller, allowed to edit the estate, with a good CSRF token, and the site it names.
async fn editing(
    state: &AppState,
    caller: Caller,
    csrf: &str,
    site: &str,
) -> Result<(Viewer, SiteRow), Response> {
    let v = form_viewer(state, caller, Permission::EditEstate, csrf).await?;
    let row = site_of(state, &v, site).await?;
    Ok((v, row))
}

/// The site's page again, saying how a change went: done, or refused with the id of the field
/// the refusal is about and what was typed kept.
async fn answer(
    state: &AppState,
    v: &Viewer,
    ods: &str,
    outcome: Result<Result<(), (&'static str, String)>, crate::web::Failure>,
    done: &str,
    typed: Typed,
) -> Response {
    match outcome {
        Ok(Ok(())) => {
            one(
                state,
                v,
                ods,
                Some(Said::Done(done.to_owned())),
                Typed::default(),
            )
            .await
        }
        Ok(Err((field, why))) => one(state, v, ods, Some(Said::Refused(field, why)), typed).await,
        Err(f) => f.into_response(),
    }
}

/// What a site's page says after a change.
enum Said {
    Done(String),
    /// The id of the field the refusal is about, and why.
    Refused(&'static str, String),
}

/// What was typed into the site's forms, kept when one is refused; the stored hours and the
/// usual stock item and reorder level otherwise.
#[derive(Default)]
struct Typed {
    core_hours: Option<String>,
    item: Option<String>,
    quantity: String,
    minimum: Option<String>,
    role: String,
    name: String,
    phone: String,
    email: String,
}

fn change(v: &Viewer, state: &AppState) -> Change {
    Change {
        actor: format!("web:{}", v.caller.user.user.username),
        at: (state.now)(),
    }
}

/// `GET /admin/sites` (the caller's sites) and `GET /admin/sites?site=ODS` (one site's form).
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let v = match viewer(&state, caller, Permission::EditEstate, false).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match q.get("site").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(code) => one(&state, &v, code, None, Typed::default()).await,
        None => list(&state, &v).await,
    }
}

#[derive(askama::Template)]
#[template(path = "admin_sites.html")]
struct SitesPage {
    count: String,
    /// (link to the site's page, code, name, core hours).
    rows: Vec<(String, String, String, String)>,
}

/// A link to a page with one query parameter, encoded.
fn with_site(path: &str, code: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("site", code)
        .finish();
    format!("{path}?{query}")
}

async fn list(state: &AppState, v: &Viewer) -> Response {
    let rows = match blocking(state, |s| {
        let mut out = Vec::new();
        s.scan(Kind::Sites, &[0, 2, 3], false, &mut |r| {
            let t = |i: usize| match &r[i] {
                cardwatch_core::records::Cell::Text(s) => (*s).to_owned(),
                _ => String::new(),
            };
            out.push((t(0), t(1), t(2)));
            Ok(())
        })?;
        Ok(out)
    })
    .await
    {
        Ok(r) => r,
        Err(f) => return f.into_response(),
    };
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| v.sees_site(&r.0))
        .map(|(code, name, hours)| {
            let hours = if hours.is_empty() {
                "Not recorded".to_owned()
            } else {
                hours
            };
            (with_site("/admin/sites", &code), code, name, hours)
        })
        .collect();
    let page = SitesPage {
        count: match rows.len() {
            1 => "1 site.".to_owned(),
            n => format!("{n} sites."),
        },
        rows,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    layout::page("Sites", Some(&v.caller), &body).into_response()
}

#[derive(askama::Template)]
#[template(path = "admin_site.html")]
struct SitePage<'a> {
    /// (the id of the refused field, why) — both empty when nothing was refused.
    problem: (String, String),
    notice: Option<String>,
    name: &'a str,
    csrf: &'a str,
    site: &'a str,
    typed: TypedHours,
    /// (item, spare, order more below).
    spares: Vec<(String, String, String)>,
    /// (id, name, label, width class, value).
    stock_fields: [(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        String,
    ); 3],
    contacts: Vec<ContactRow>,
    /// (id, name, label, width class, input type, value).
    contact_fields: [(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        String,
    ); 4],
    sheet: String,
}

struct TypedHours {
    core_hours: String,
}

struct ContactRow {
    role: String,
    name: String,
    phone: String,
    email: String,
}

/// One site's page, with what a change said and what was typed.
async fn one(
    state: &AppState,
    v: &Viewer,
    code: &str,
    said: Option<Said>,
    typed: Typed,
) -> Response {
    let (ods, _, name, hours) = match site_of(state, v, code).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let key = ods.clone();
    let read = blocking(state, move |s| {
        Ok((
            contacts::site_contacts(s, &key)?,
            s.records_where(Kind::Stock, "site_ods", &key, 1000)?,
        ))
    });
    let (listed, stock) = match read.await {
        Ok(c) => c,
        Err(f) => return f.into_response(),
    };
    let spares = stock
        .iter()
        .map(|r| {
            let n = |i: usize| r.get(i).map(Value::to_csv).unwrap_or_default();
            (n(1), n(2), n(3))
        })
        .collect();
    let (problem, notice) = match said {
        Some(Said::Done(m)) => ((String::new(), String::new()), Some(m)),
        Some(Said::Refused(field, m)) => ((field.to_owned(), m), None),
        None => ((String::new(), String::new()), None),
    };
    let status = if problem.1.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::BAD_REQUEST
    };
    let page = SitePage {
        problem,
        notice,
        name: &name,
        csrf: &v.caller.csrf,
        site: &ods,
        typed: TypedHours {
            core_hours: typed.core_hours.unwrap_or(hours),
        },
        spares,
        stock_fields: [
            (
                "s-item",
                "item",
                "Item (reader, card, or another)",
                "nhsuk-input--width-20",
                typed.item.unwrap_or_else(|| "reader".into()),
            ),
            (
                "s-quantity",
                "quantity",
                "Spare now",
                "nhsuk-input--width-4",
                typed.quantity,
            ),
            (
                "s-minimum",
                "minimum",
                "Order more below",
                "nhsuk-input--width-4",
                typed.minimum.unwrap_or_else(|| "2".into()),
            ),
        ],
        contacts: listed
            .iter()
            .map(|c| ContactRow {
                role: c.role.clone(),
                name: c.name.clone(),
                phone: c.phone.clone().unwrap_or_default(),
                email: c.email.clone().unwrap_or_default(),
            })
            .collect(),
        contact_fields: [
            (
                "c-role",
                "role",
                "What they are for (for example IT service desk, Registration Authority)",
                "nhsuk-u-width-one-half",
                "text",
                typed.role,
            ),
            (
                "c-name",
                "name",
                "Name or team",
                "nhsuk-u-width-one-half",
                "text",
                typed.name,
            ),
            (
                "c-phone",
                "phone",
                "Phone",
                "nhsuk-input--width-20",
                "tel",
                typed.phone,
            ),
            (
                "c-email",
                "email",
                "Email",
                "nhsuk-u-width-one-half",
                "email",
                typed.email,
            ),
        ],
        sheet: with_site("/cheatsheet", &ods),
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    (
        status,
        layout::page(&format!("Site {ods}"), Some(&v.caller), &body),
    )
        .into_response()
}

/// One record through the import — validated and audited as any import is: `Ok(Ok)`, or the
/// first problem's field (by `ids`, from the import's column to the form's field; `fallback`
/// when the column is not one of them) and every problem in words, each column named as the
/// form labels it.
async fn import_one(
    state: &AppState,
    v: &Viewer,
    kind: &'static str,
    fields: &[(&str, &str)],
    ids: &'static [(&'static str, &'static str, &'static str)],
    fallback: &'static str,
) -> Result<Result<(), (&'static str, String)>, crate::web::Failure> {
    let record: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    let input = ImportInput::records(kind, vec![serde_json::Value::Object(record)]);
    let change = change(v, state);
    blocking(state, move |s| {
        match s.import(&[input], &ImportOptions::default(), &change) {
            Ok(_) => Ok(Ok(())),
            Err(StoreError::Rejected(problems)) => {
                let field = |column: Option<&str>| {
                    ids.iter()
                        .find(|(c, ..)| Some(*c) == column)
                        .map(|(_, id, label)| (*id, *label))
                };
                let id = problems
                    .iter()
                    .find_map(|p| field(p.column.as_deref()))
                    .map_or(fallback, |(id, _)| id);
                let words = problems
                    .iter()
                    .map(|p| {
                        let column = p.column.as_deref();
                        let label = field(column).map_or(column.unwrap_or(""), |(_, l)| l);
                        // The import names the column as its file does ("item is required"):
                        // here it is the form's label that is said.
                        let said = column
                            .and_then(|c| p.message.strip_prefix(c))
                            .filter(|rest| rest.starts_with(' '));
                        match (said, p.value.as_deref().filter(|v| !v.is_empty())) {
                            (Some(rest), None) => format!("{label}{rest}"),
                            (_, Some(value)) => format!("{label} “{value}”: {}", p.message),
                            (None, None) => format!("{label}: {}", p.message),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                Ok(Err((id, words)))
            }
            Err(e) => Err(e),
        }
    })
    .await
}

#[derive(Deserialize)]
pub(crate) struct StockForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    minimum: String,
}

/// `POST /admin/sites/stock`: how many of an item the site holds spare, and the level below
/// which more must be ordered, through the import (a new item or a changed count).
pub(crate) async fn stock(
    State(state): State<AppState>,
    caller: Caller,
    PageForm(f): PageForm<StockForm>,
) -> Response {
    let (v, (ods, ..)) = match editing(&state, caller, &f.csrf, &f.site).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let item = f.item.trim().to_ascii_lowercase();
    let outcome = import_one(
        &state,
        &v,
        "stock",
        &[
            ("site_ods", &ods),
            ("item", &item),
            ("quantity", f.quantity.trim()),
            ("minimum", f.minimum.trim()),
        ],
        &[
            ("item", "s-item", "Item"),
            ("quantity", "s-quantity", "Spare now"),
            ("minimum", "s-minimum", "Order more below"),
        ],
        "s-item",
    )
    .await;
    let typed = Typed {
        item: Some(f.item),
        quantity: f.quantity,
        minimum: Some(f.minimum),
        ..Typed::default()
    };
    let done = format!("Spare {item} saved.");
    answer(&state, &v, &ods, outcome, &done, typed).await
}

#[derive(Deserialize)]
pub(crate) struct HoursForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    core_hours: String,
}

/// `POST /admin/sites/hours`: the site's record again with new hours, through the import.
pub(crate) async fn hours(
    State(state): State<AppState>,
    caller: Caller,
    PageForm(f): PageForm<HoursForm>,
) -> Response {
    let (v, (ods, org, name, _)) = match editing(&state, caller, &f.csrf, &f.site).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let outcome = import_one(
        &state,
        &v,
        "sites",
        &[
            ("site_ods", &ods),
            ("organisation_ods", &org),
            ("name", &name),
            ("core_hours", f.core_hours.trim()),
        ],
        &[("core_hours", "core_hours", "Hours")],
        "core_hours",
    )
    .await;
    let typed = Typed {
        core_hours: Some(f.core_hours),
        ..Typed::default()
    };
    answer(&state, &v, &ods, outcome, "Core hours saved.", typed).await
}

#[derive(Deserialize)]
pub(crate) struct ContactForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
}

/// `POST /admin/sites/contacts`: adds a contact.
pub(crate) async fn add_contact(
    State(state): State<AppState>,
    caller: Caller,
    PageForm(f): PageForm<ContactForm>,
) -> Response {
    let (v, (ods, ..)) = match editing(&state, caller, &f.csrf, &f.site).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let c = Contact {
        role: f.role.trim().to_owned(),
        name: f.name.trim().to_owned(),
        phone: some(&f.phone),
        email: some(&f.email),
        serves: vec![],
    };
    let problem = c.problem_at().map(|(field, m)| {
        let id = match field {
            "role" => "c-role",
            "name" => "c-name",
            "phone" => "c-phone",
            _ => "c-email",
        };
        (id, m)
    });
    let typed = Typed {
        role: f.role,
        name: f.name,
        phone: f.phone,
        email: f.email,
        ..Typed::default()
    };
    if let Some((field, p)) = problem {
        return one(&state, &v, &ods, Some(Said::Refused(field, p)), typed).await;
    }
    let (change, key) = (change(&v, &state), ods.clone());
    let outcome = blocking(&state, move |s| {
        match contacts::add_site_contact(s, &key, &c, &change) {
            Err(StoreError::Invalid(m)) => Ok(Err(("c-name", m))),
            other => other.map(Ok),
        }
    })
    .await;
    answer(&state, &v, &ods, outcome, "Contact added.", typed).await
}

/// `POST /admin/sites/contacts/remove`
pub(crate) async fn remove_contact(
    State(state): State<AppState>,
    caller: Caller,
    PageForm(f): PageForm<ContactForm>,
) -> Response {
    let (v, (ods, ..)) = match editing(&state, caller, &f.csrf, &f.site).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (change, key, role, name) = (change(&v, &state), ods.clone(), f.role, f.name);
    let outcome = blocking(&state, move |s| {
        match contacts::remove_site_contact(s, &key, &role, &name, &change) {
            Err(StoreError::NotFound(m)) => Ok(Err(("contacts", m))),
            other => other.map(Ok),
        }
    })
    .await;
    let done = "Contact removed.";
    answer(&state, &v, &ods, outcome, done, Typed::default()).await
}
