//! Administration of sites: each site's core clinic hours (which the health checks hold
//! updates against) and its own contacts (on its cheat sheet), for operators who may edit the
//! estate, within their organisations, and its spare stock. Core hours and stock are changed
//! through the import's own path — a one-row `sites.csv` or `stock.csv` — so they are validated
//! and audited exactly as an import is.

use std::collections::HashMap;
use std::fmt::Write as _;

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
use crate::web::scope::{form_viewer, not_found, viewer, Viewer};
use crate::web::{blocking, escape, layout};
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

/// The site's page again, saying how a change went.
async fn answer(
    state: &AppState,
    v: &Viewer,
    ods: &str,
    outcome: Result<Result<(), String>, crate::web::Failure>,
    done: &str,
) -> Response {
    match outcome {
        Ok(Ok(())) => one(state, v, ods, Some(Ok(done.to_owned()))).await,
        Ok(Err(why)) => one(state, v, ods, Some(Err(why))).await,
        Err(f) => f.into_response(),
    }
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
        Some(code) => one(&state, &v, code, None).await,
        None => list(&state, &v).await,
    }
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
    let mut body = String::new();
    for (code, name, hours) in rows.iter().filter(|r| v.sees_site(&r.0)) {
        let _ = write!(
            body,
            "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\"><a href=\"/admin/sites?site={c}\">{c}</a></td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td></tr>",
            escape(name),
            escape(hours),
            c = escape(code),
        );
    }
    let page = format!(
        "<h1 class=\"nhsuk-heading-l\">Sites</h1><p class=\"nhsuk-body\">Each site's core clinic hours (updates scheduled inside them are flagged) and the contacts on its cheat sheet. Choose a site to change them.</p>\
         <table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\"><th class=\"nhsuk-table__header\" scope=\"col\">Site</th><th class=\"nhsuk-table__header\" scope=\"col\">Name</th><th class=\"nhsuk-table__header\" scope=\"col\">Core hours</th></tr></thead><tbody class=\"nhsuk-table__body\">{body}</tbody></table>"
    );
    layout::page("Sites", Some(&v.caller), &page).into_response()
}

/// One site's page, with a message after a change (`Ok` said, `Err` refused).
async fn one(
    state: &AppState,
    v: &Viewer,
    code: &str,
    said: Option<Result<String, String>>,
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
    let mut spares = String::new();
    for r in &stock {
        let n = |i: usize| r.get(i).map(Value::to_csv).unwrap_or_default();
        let _ = write!(
            spares,
            "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td></tr>",
            escape(&n(1)),
            escape(&n(2)),
            escape(&n(3)),
        );
    }
    let csrf = escape(&v.caller.csrf);
    let site = escape(&ods);
    let mut rows = String::new();
    for c in &listed {
        let _ = write!(
            rows,
            "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td>\
             <td class=\"nhsuk-table__cell\"><form method=\"post\" action=\"/admin/sites/contacts/remove\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"site\" value=\"{site}\"><input type=\"hidden\" name=\"role\" value=\"{}\"><input type=\"hidden\" name=\"name\" value=\"{}\"><button class=\"nhsuk-button nhsuk-button--secondary nhsuk-button--small\">Remove</button></form></td></tr>",
            escape(&c.role),
            escape(&c.name),
            escape(c.phone.as_deref().unwrap_or("")),
            escape(c.email.as_deref().unwrap_or("")),
            escape(&c.role),
            escape(&c.name),
        );
    }
    let message = match said {
        Some(Ok(m)) => format!("<div class=\"nhsuk-inset-text\"><p>{}</p></div>", escape(&m)),
        Some(Err(m)) => format!(
            "<div class=\"nhsuk-error-summary\" role=\"alert\" tabindex=\"-1\"><h2 class=\"nhsuk-error-summary__title\">Not saved</h2><div class=\"nhsuk-error-summary__body\"><p>{}</p></div></div>",
            escape(&m)
        ),
        None => String::new(),
    };
    let body = format!(
        "<h1 class=\"nhsuk-heading-l\">{site} {}</h1>{message}\
         <h2 class=\"nhsuk-heading-m\">Core clinic hours</h2>\
         <form method=\"post\" action=\"/admin/sites/hours\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"site\" value=\"{site}\">\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"core_hours\">Hours, e.g. Mon-Fri 08:00-18:30; Sat 09:00-12:00</label><input class=\"nhsuk-input nhsuk-u-width-one-half\" id=\"core_hours\" name=\"core_hours\" value=\"{}\"></div>\
         <button class=\"nhsuk-button nhsuk-button--secondary\">Save hours</button></form>\
         <h2 class=\"nhsuk-heading-m\">Spare stock</h2>\
         <table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\"><th class=\"nhsuk-table__header\" scope=\"col\">Item</th><th class=\"nhsuk-table__header\" scope=\"col\">Spare</th><th class=\"nhsuk-table__header\" scope=\"col\">Order more below</th></tr></thead><tbody class=\"nhsuk-table__body\">{spares}</tbody></table>\
         <form method=\"post\" action=\"/admin/sites/stock\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"site\" value=\"{site}\">\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"s-item\">Item (reader, card, or another)</label><input class=\"nhsuk-input nhsuk-input--width-20\" id=\"s-item\" name=\"item\" value=\"reader\"></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"s-quantity\">Spare now</label><input class=\"nhsuk-input nhsuk-input--width-4\" id=\"s-quantity\" name=\"quantity\" inputmode=\"numeric\"></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"s-minimum\">Order more below</label><input class=\"nhsuk-input nhsuk-input--width-4\" id=\"s-minimum\" name=\"minimum\" inputmode=\"numeric\" value=\"2\"></div>\
         <button class=\"nhsuk-button nhsuk-button--secondary\">Save stock</button></form>\
         <h2 class=\"nhsuk-heading-m\">Contacts on the cheat sheet</h2>\
         <table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\"><th class=\"nhsuk-table__header\" scope=\"col\">For</th><th class=\"nhsuk-table__header\" scope=\"col\">Name</th><th class=\"nhsuk-table__header\" scope=\"col\">Phone</th><th class=\"nhsuk-table__header\" scope=\"col\">Email</th><th class=\"nhsuk-table__header\" scope=\"col\">Change</th></tr></thead><tbody class=\"nhsuk-table__body\">{rows}</tbody></table>\
         <form method=\"post\" action=\"/admin/sites/contacts\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"site\" value=\"{site}\">\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"c-role\">What they are for (e.g. IT service desk, Registration Authority)</label><input class=\"nhsuk-input nhsuk-u-width-one-half\" id=\"c-role\" name=\"role\"></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"c-name\">Name or team</label><input class=\"nhsuk-input nhsuk-u-width-one-half\" id=\"c-name\" name=\"name\"></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"c-phone\">Phone</label><input class=\"nhsuk-input nhsuk-input--width-20\" id=\"c-phone\" name=\"phone\" type=\"tel\"></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"c-email\">Email</label><input class=\"nhsuk-input nhsuk-u-width-one-half\" id=\"c-email\" name=\"email\" type=\"email\"></div>\
         <button class=\"nhsuk-button nhsuk-button--secondary\">Add contact</button></form>\
         <p class=\"nhsuk-body\"><a href=\"/cheatsheet?site={site}\">The site's cheat sheet</a> · <a href=\"/admin/sites\">All sites</a></p>",
        escape(&name),
        escape(&hours),
    );
    layout::page(&format!("Site {ods}"), Some(&v.caller), &body).into_response()
}

/// One record through the import — validated and audited as any import is: `Ok(Ok)`, or the
/// problems in words.
async fn import_one(
    state: &AppState,
    v: &Viewer,
    kind: &'static str,
    fields: &[(&str, &str)],
) -> Result<Result<(), String>, crate::web::Failure> {
    let record: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    let input = ImportInput::records(kind, vec![serde_json::Value::Object(record)]);
    let change = change(v, state);
    blocking(state, move |s| {
        match s.import(&[input], &ImportOptions::default(), &change) {
            Ok(_) => Ok(Ok(())),
            Err(StoreError::Rejected(problems)) => Ok(Err(problems
                .iter()
                .map(|p| {
                    let column = p
                        .column
                        .as_deref()
                        .map_or(String::new(), |c| format!("{c} "));
                    format!(
                        "{column}{}: {}",
                        p.value.as_deref().unwrap_or(""),
                        p.message
                    )
                })
                .collect::<Vec<_>>()
                .join("; "))),
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
    axum::extract::Form(f): axum::extract::Form<StockForm>,
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
    )
    .await;
    answer(&state, &v, &ods, outcome, &format!("Spare {item} saved.")).await
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
    axum::extract::Form(f): axum::extract::Form<HoursForm>,
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
    )
    .await;
    answer(&state, &v, &ods, outcome, "Core hours saved.").await
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
    axum::extract::Form(f): axum::extract::Form<ContactForm>,
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
    let problem = c.problem();
    if let Some(p) = problem {
        return one(&state, &v, &ods, Some(Err(p))).await;
    }
    let (change, key) = (change(&v, &state), ods.clone());
    let outcome = blocking(&state, move |s| {
        match contacts::add_site_contact(s, &key, &c, &change) {
            Err(StoreError::Invalid(m)) => Ok(Err(m)),
            other => other.map(Ok),
        }
    })
    .await;
    answer(&state, &v, &ods, outcome, "Contact added.").await
}

/// `POST /admin/sites/contacts/remove`
pub(crate) async fn remove_contact(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Form(f): axum::extract::Form<ContactForm>,
) -> Response {
    let (v, (ods, ..)) = match editing(&state, caller, &f.csrf, &f.site).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let (change, key, role, name) = (change(&v, &state), ods.clone(), f.role, f.name);
    let outcome = blocking(&state, move |s| {
        match contacts::remove_site_contact(s, &key, &role, &name, &change) {
            Err(StoreError::NotFound(m)) => Ok(Err(m)),
            other => other.map(Ok),
        }
    })
    .await;
    answer(&state, &v, &ods, outcome, "Contact removed.").await
}
