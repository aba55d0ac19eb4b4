//! Administration of operators, for administrators: `GET /admin/users` lists them with forms to
//! add one, disable or enable, and reset a password; a new or reset password is random and shown
//! once. Every form carries the session's CSRF token; every change is audited by the store.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::{NewUser, Permission, Role, Username};
use cardwatch_core::ids::OdsCode;
use cardwatch_store::StoreError;
use serde::Deserialize;

use crate::web::auth::{hash_password, random_password, Caller};
use crate::web::form::PageForm;
use crate::web::scope::viewer;
use crate::web::{blocking, change, settled};
use crate::AppState;

#[derive(askama::Template)]
#[template(path = "admin_users.html")]
struct UsersPage<'a> {
    /// A refusal: (the id of the field or row it is about, what was wrong).
    problem: Option<(String, String)>,
    notice: Option<String>,
    count: String,
    csrf: &'a str,
    rows: Vec<Row>,
    roles: Vec<(&'static str, &'static str)>,
    typed: Typed,
}

struct Row {
    username: String,
    name: String,
    role: &'static str,
    organisations: String,
    added: String,
    disabled: bool,
}

/// What was typed into the add form, kept when it is refused.
#[derive(Default)]
struct Typed {
    username: String,
    name: String,
    role: String,
    organisations: String,
}

/// What a page says after a change: done, or refused (the field it is about, or the user name
/// whose row it is about, and why).
enum Said {
    Done(String),
    Refused(&'static str, String),
    RefusedFor(String, String),
}

async fn list(state: &AppState, caller: &Caller, said: Option<Said>, typed: Typed) -> Response {
    let users = match blocking(state, |s| s.users()).await {
        Ok(u) => u,
        Err(f) => return f.into_response(),
    };
    let rows: Vec<Row> = users
        .iter()
        .map(|u| Row {
            username: u.user.username.as_str().to_owned(),
            name: u.user.display_name.clone(),
            role: u.user.role.label(),
            organisations: if u.user.role.sees_everything() && u.user.organisations.is_empty() {
                "Every organisation".to_owned()
            } else {
                let orgs: Vec<&str> = u.user.organisations.iter().map(OdsCode::as_str).collect();
                orgs.join(", ")
            },
            added: u.created_at.date().long(),
            disabled: u.disabled,
        })
        .collect();
    let (mut problem, mut notice) = (None, None);
    match said {
        Some(Said::Done(m)) => notice = Some(m),
        Some(Said::Refused(field, m)) => problem = Some((field.to_owned(), m)),
        // A refusal about one operator links to their row, or to the table if they are not in it.
        Some(Said::RefusedFor(username, m)) => {
            let at = rows.iter().position(|r| r.username == username);
            let id = at.map_or("operators".to_owned(), |i| format!("user-{}", i + 1));
            problem = Some((id, m));
        }
        None => {}
    }
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = UsersPage {
        problem,
        notice,
        count: match rows.len() {
            1 => "1 operator.".to_owned(),
            n => format!("{n} operators."),
        },
        csrf: &caller.csrf,
        rows,
        roles: Role::ALL.iter().map(|r| (r.as_str(), r.label())).collect(),
        typed,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
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
        Ok(c) => list(&state, &c, None, Typed::default()).await,
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
    typed: Typed,
) -> Response {
    match settled(r) {
        Ok((true, m)) => list(state, caller, Some(Said::Done(m)), Typed::default()).await,
        Ok((false, m)) => list(state, caller, Some(Said::Refused("username", m)), typed).await,
        Err(r) => *r,
    }
}

pub(crate) async fn add(
    State(state): State<AppState>,
    caller: Caller,
    PageForm(f): PageForm<AddForm>,
) -> Response {
    let caller = match admin(&state, caller).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = caller.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let typed = Typed {
        username: f.username.clone(),
        name: f.name.clone(),
        role: f.role.clone(),
        organisations: f.organisations.clone(),
    };
    // Each refusal names the field it is about, so the page can link to it.
    let parsed = (|| -> Result<NewUser, (&'static str, String)> {
        let username = Username::parse(&f.username).map_err(|e| ("username", e.0))?;
        // No role is chosen for the administrator: the list starts at "Choose a role", so that
        // nobody is made an administrator by leaving the list as it was.
        if f.role.trim().is_empty() {
            return Err(("role", "Choose the operator's role".to_owned()));
        }
        let role = Role::parse(&f.role).map_err(|e| ("role", e))?;
        let organisations = f
            .organisations
            .split_whitespace()
            .map(|o| {
                OdsCode::parse(o)
                    .map_err(|e| ("organisations", format!("“{o}” is not an ODS code: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if organisations.is_empty() && !role.sees_everything() {
            return Err((
                "organisations",
                format!(
                    "Give at least one ODS code: a {} works for particular organisations, sites or ICBs",
                    match role {
                        Role::RegistrationAuthority => "Registration Authority operator",
                        Role::Support => "member of IT support",
                        _ => "practice manager",
                    }
                ),
            ));
        }
        Ok(NewUser {
            username,
            display_name: f.name.trim().to_owned(),
            role,
            organisations,
            password_hash: String::new(),
        })
    })();
    let mut user = match parsed {
        Ok(u) => u,
        Err((field, m)) => {
            return list(&state, &caller, Some(Said::Refused(field, m)), typed).await
        }
    };
    // A code the estate does not hold (mistyped, or not imported yet) would give the operator
    // nothing to see, with nothing to say why.
    let unknown = match unknown_codes(&state, &user.organisations).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    if !unknown.is_empty() {
        let m = format!(
            "There is no organisation, site or ICB {} in the estate: check the code, or import the organisation first",
            unknown.join(" or ")
        );
        return list(
            &state,
            &caller,
            Some(Said::Refused("organisations", m)),
            typed,
        )
        .await;
    }
    let (password, hash) = match random_password().and_then(|p| Ok((hash_password(&p)?, p))) {
        Ok((h, p)) => (p, h),
        Err(e) => return e.into_response(),
    };
    user.password_hash = hash;
    let change = change(&caller, &state);
    let name = user.username.clone();
    let result = blocking(&state, move |s| {
        Ok(s.add_user(&user, &change).map(|()| {
            format!("Added {name}. Their password, shown only now: {password} — give it to them privately; they change it under Your account.")
        }))
    })
    .await;
    after(&state, &caller, result, typed).await
}

/// The codes among `codes` that are no site, organisation or organisation's parent (an ICB) of
/// the estate.
async fn unknown_codes(state: &AppState, codes: &[OdsCode]) -> Result<Vec<String>, Response> {
    if codes.is_empty() {
        return Ok(Vec::new());
    }
    let (map, length) = crate::web::scope::sites(state).await?;
    let names = crate::web::scope::site_names(state, Some(length)).await?;
    Ok(codes
        .iter()
        .map(OdsCode::as_str)
        .filter(|c| {
            !names.contains_key(*c) && !map.values().any(|(_, parent)| parent.as_deref() == Some(c))
        })
        .map(str::to_owned)
        .collect())
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
    let refused = |m: String| Some(Said::RefusedFor(f.username.clone(), m));
    let name = match Username::parse(&f.username) {
        Ok(n) => n,
        Err(e) => return list(&state, &caller, refused(e.0), Typed::default()).await,
    };
    if name == caller.user.user.username && action == "disable" {
        let m = "You cannot disable yourself: another administrator can.".to_owned();
        return list(&state, &caller, refused(m), Typed::default()).await;
    }
    let change = change(&caller, &state);
    let result = blocking(&state, move |s| {
        Ok(match action {
            "disable" => s.set_user_disabled(&name, true, &change).map(|()| format!("Disabled {name}; their sessions have ended.")),
            "enable" => s.set_user_disabled(&name, false, &change).map(|()| format!("Enabled {name}.")),
            _ => (|| {
                let password = random_password()?;
                s.set_user_password(&name, &hash_password(&password)?, &change)
                    .map(|()| format!("New password for {name}, shown only now: {password} — their sessions have ended."))
            })(),
        })
    })
    .await;
    match settled(result) {
        Ok((true, m)) => list(&state, &caller, Some(Said::Done(m)), Typed::default()).await,
        Ok((false, m)) => list(&state, &caller, refused(m), Typed::default()).await,
        Err(r) => *r,
    }
}

pub(crate) async fn disable(
    State(state): State<AppState>,
    caller: Caller,
    PageForm(f): PageForm<UserForm>,
) -> Response {
    one(state, caller, f, "disable").await
}

pub(crate) async fn enable(
    State(state): State<AppState>,
    caller: Caller,
    PageForm(f): PageForm<UserForm>,
) -> Response {
    one(state, caller, f, "enable").await
}

pub(crate) async fn reset(
    State(state): State<AppState>,
    caller: Caller,
    PageForm(f): PageForm<UserForm>,
) -> Response {
    one(state, caller, f, "reset").await
}
