//! Administration of operators, for administrators: `GET /admin/users` lists them with forms to
//! add one, disable or enable, and reset a password; a new or reset password is random and shown
//! once. Every form carries the session's CSRF token; every change is audited by the store.

use std::fmt::Write as _;

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::{NewUser, Permission, Role, Username};
use cardwatch_core::ids::OdsCode;
use cardwatch_store::StoreError;
use serde::Deserialize;

use crate::web::auth::{hash_password, random_password, Caller};
use crate::web::scope::viewer;
use crate::web::{blocking, change, escape, settled};
use crate::AppState;

async fn list(state: &AppState, caller: &Caller, message: Option<(bool, String)>) -> Response {
    let users = match blocking(state, |s| s.users()).await {
        Ok(u) => u,
        Err(f) => return f.into_response(),
    };
    let csrf = escape(&caller.csrf);
    let mut rows = String::new();
    for u in &users {
        let name = escape(u.user.username.as_str());
        let orgs: Vec<&str> = u.user.organisations.iter().map(OdsCode::as_str).collect();
        let (action, label) = if u.disabled {
            ("enable", "Enable")
        } else {
            ("disable", "Disable")
        };
        let _ = writeln!(
            rows,
            "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">{name}</td><td class=\"nhsuk-table__cell\">{}</td>\
             <td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td>\
             <td class=\"nhsuk-table__cell\"><form method=\"post\" action=\"/admin/users/{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"username\" value=\"{name}\"><button class=\"nhsuk-button nhsuk-button--secondary nhsuk-button--small\">{label}</button></form>\
             <form method=\"post\" action=\"/admin/users/reset\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <input type=\"hidden\" name=\"username\" value=\"{name}\"><button class=\"nhsuk-button nhsuk-button--secondary nhsuk-button--small\">Reset password</button></form></td></tr>",
            escape(&u.user.display_name),
            u.user.role.as_str(),
            escape(&orgs.join(" ")),
            if u.disabled { "disabled" } else { "active" },
        );
    }
    let notice = match &message {
        Some((true, m)) => format!("<div class=\"nhsuk-inset-text\"><p>{}</p></div>", escape(m)),
        Some((false, m)) => format!(
            "<div class=\"nhsuk-error-summary\" role=\"alert\" tabindex=\"-1\"><h2 class=\"nhsuk-error-summary__title\">There is a problem</h2><div class=\"nhsuk-error-summary__body\"><p>{}</p></div></div>",
            escape(m)
        ),
        None => String::new(),
    };
    let roles: String = Role::ALL
        .iter()
        .map(|r| {
            format!(
                "<option value=\"{0}\">{1}</option>",
                r.as_str(),
                r.as_str().replace('_', " ")
            )
        })
        .collect();
    let body = format!(
        "{notice}<p class=\"nhsuk-body\">Administration also has: <a href=\"/admin/jobs\">scheduled jobs and the outbox</a> · \
         <a href=\"/admin/agents\">workstation agents</a> · <a href=\"/admin/import\">importing estate files</a> · \
         <a href=\"/admin/sites\">sites</a> · <a href=\"/admin/retention\">retention of personal data</a>.</p>\
         <h2 class=\"nhsuk-heading-m\">Operators</h2><table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">\
         <th class=\"nhsuk-table__header\" scope=\"col\">User name</th><th class=\"nhsuk-table__header\" scope=\"col\">Name</th>\
         <th class=\"nhsuk-table__header\" scope=\"col\">Role</th><th class=\"nhsuk-table__header\" scope=\"col\">Organisations</th>\
         <th class=\"nhsuk-table__header\" scope=\"col\">State</th><th class=\"nhsuk-table__header\" scope=\"col\">Change</th></tr></thead>\
         <tbody class=\"nhsuk-table__body\">{rows}</tbody></table>\n\
         <h2 class=\"nhsuk-heading-m\">Add an operator</h2>\n<form method=\"post\" action=\"/admin/users/add\" novalidate>\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"username\">User name (e.g. their NHSmail address)</label><input class=\"nhsuk-input nhsuk-u-width-one-half\" id=\"username\" name=\"username\"></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"name\">Name</label><input class=\"nhsuk-input nhsuk-u-width-one-half\" id=\"name\" name=\"name\"></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"role\">Role</label><select class=\"nhsuk-select\" id=\"role\" name=\"role\">{roles}</select></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"organisations\">Organisations, sites or ICBs (ODS codes, separated by spaces)</label><input class=\"nhsuk-input nhsuk-u-width-one-half\" id=\"organisations\" name=\"organisations\"></div>\
         <button class=\"nhsuk-button\">Add</button></form>"
    );
    let status = match message {
        Some((false, _)) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    (
        status,
        crate::web::layout::page("Operators", Some(caller), &body),
    )
        .into_response()
}

async fn admin(state: &AppState, caller: Caller) -> Result<Caller, Response> {
    Ok(viewer(state, caller, Permission::ManageUsers, false)
        .await?
        .caller)
}

/// `GET /api/v1/users`: every operator, with role, organisations and state — never a password
/// hash.
pub(crate) async fn api(State(state): State<AppState>, caller: Caller) -> Response {
    if let Err(r) = viewer(&state, caller, Permission::ManageUsers, true).await {
        return r;
    }
    match blocking(&state, |s| s.users()).await {
        Ok(users) => {
            let users: Vec<serde_json::Value> = users
                .iter()
                .map(|u| {
                    let orgs: Vec<&str> =
                        u.user.organisations.iter().map(OdsCode::as_str).collect();
                    serde_json::json!({
                        "username": u.user.username.as_str(),
                        "name": u.user.display_name,
                        "role": u.user.role.as_str(),
                        "organisations": orgs,
                        "disabled": u.disabled,
                        "failed_sign_ins": u.failures,
                        "created_at": u.created_at,
                    })
                })
                .collect();
            axum::Json(serde_json::json!({ "users": users })).into_response()
        }
        Err(f) => f.into_response(),
    }
}

pub(crate) async fn page(State(state): State<AppState>, caller: Caller) -> Response {
    match admin(&state, caller).await {
        Ok(c) => list(&state, &c, None).await,
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub(crate) struct AddForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    organisations: String,
}

/// The list again with the outcome of a change, or the store's failure.
async fn after(
    state: &AppState,
    caller: &Caller,
    r: Result<Result<String, StoreError>, crate::web::Failure>,
) -> Response {
    match settled(r) {
        Ok(message) => list(state, caller, Some(message)).await,
        Err(r) => *r,
    }
}

pub(crate) async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<AddForm>,
) -> Response {
    let caller = match admin(&state, caller).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = caller.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let parsed = (|| -> Result<NewUser, String> {
        let role = Role::parse(&f.role)?;
        let organisations = f
            .organisations
            .split_whitespace()
            .map(|o| OdsCode::parse(o).map_err(|e| format!("{o:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if organisations.is_empty() && !role.sees_everything() {
            return Err(format!(
                "a {} works for particular organisations — give at least one ODS code",
                role.as_str().replace('_', " ")
            ));
        }
        Ok(NewUser {
            username: Username::parse(&f.username).map_err(|e| e.0)?,
            display_name: f.name.trim().to_owned(),
            role,
            organisations,
            password_hash: String::new(),
        })
    })();
    let mut user = match parsed {
        Ok(u) => u,
        Err(m) => return list(&state, &caller, Some((false, m))).await,
    };
    let password = random_password();
    user.password_hash = hash_password(&password);
    let change = change(&caller, &state);
    let name = user.username.clone();
    let result = blocking(&state, move |s| {
        Ok(s.add_user(&user, &change).map(|()| {
            format!("Added {name}. Their password, shown only now: {password} — give it to them privately; they change it under Your account.")
        }))
    })
    .await;
    after(&state, &caller, result).await
}

#[derive(Deserialize)]
pub(crate) struct UserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
}

async fn one(state: AppState, caller: Caller, f: UserForm, action: &'static str) -> Response {
    let caller = match admin(&state, caller).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = caller.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let name = match Username::parse(&f.username) {
        Ok(n) => n,
        Err(e) => return list(&state, &caller, Some((false, e.0))).await,
    };
    if name == caller.user.user.username && action == "disable" {
        return list(
            &state,
            &caller,
            Some((false, "you cannot disable yourself".into())),
        )
        .await;
    }
    let change = change(&caller, &state);
    let result = blocking(&state, move |s| {
        Ok(match action {
            "disable" => s.set_user_disabled(&name, true, &change).map(|()| format!("Disabled {name}; their sessions have ended.")),
            "enable" => s.set_user_disabled(&name, false, &change).map(|()| format!("Enabled {name}.")),
            _ => {
                let password = random_password();
                s.set_user_password(&name, &hash_password(&password), &change)
                    .map(|()| format!("New password for {name}, shown only now: {password} — their sessions have ended."))
            }
        })
    })
    .await;
    after(&state, &caller, result).await
}

pub(crate) async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<UserForm>,
) -> Response {
    one(state, caller, f, "disable").await
}

pub(crate) async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<UserForm>,
) -> Response {
    one(state, caller, f, "enable").await
}

pub(crate) async fn reset(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<UserForm>,
) -> Response {
    one(state, caller, f, "reset").await
}
