//! An operator's own account page: who they are, their password, their calendar feeds and their
//! email digest.

use std::fmt::Write as _;

use axum::extract::{Form, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use cardwatch_core::access::check_password;
use serde::Deserialize;

use crate::web::auth::{
    cookie, hash_password, start_session, verify_password, Caller, SESSION_SECONDS,
};
use crate::web::blocking;
use crate::web::escape;
use crate::web::layout::{self, alert, field};
use crate::AppState;

pub mod digest;
pub mod feeds;

fn account_page(caller: &Caller, message: Option<&str>) -> String {
    account_page_with(caller, message, "")
}

/// The account page: who, the password form, and `extra` (the calendar feeds' section).
pub(crate) fn account_page_with(caller: &Caller, message: Option<&str>, extra: &str) -> String {
    let u = &caller.user.user;
    let orgs: Vec<&str> = u.organisations.iter().map(|o| o.as_str()).collect();
    let mut b = alert(message);
    let _ = write!(
        b,
        "<p class=\"nhsuk-body\">Signed in as <strong>{}</strong> ({}), {}; organisations: {}.</p>\n\
         <h2 class=\"nhsuk-heading-m\">Change your password</h2>\n\
         <form method=\"post\" action=\"/account/password\" novalidate>\n\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\n{}{}\
         <button class=\"nhsuk-button\" type=\"submit\">Change password</button>\n</form>\n{extra}",
        escape(&u.display_name),
        escape(u.username.as_str()),
        u.role.as_str().replace('_', " "),
        if caller.user.user.role.sees_everything() { "all".to_owned() } else { escape(&orgs.join(", ")) },
        field("current", "Current password", "password", "current-password"),
        field("new", "New password (at least 12 characters)", "password", "new-password"),
        csrf = escape(&caller.csrf),
    );
    layout::page("Your account", Some(caller), &b).0
}

/// `GET /account`.
pub(crate) async fn page(State(state): State<AppState>, caller: Caller) -> Response {
    render(&state, &caller, None).await
}

/// The account page with its calendar feeds and digest sections; `notice` says what a form just
/// did (a new feed's address is shown only then).
async fn render(state: &AppState, caller: &Caller, notice: Option<String>) -> Response {
    let sections = match (
        feeds::section(state, caller, notice).await,
        digest::section(state, caller).await,
    ) {
        (Ok(f), Ok(d)) => format!("{f}{d}"),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    Html(account_page_with(caller, None, &sections)).into_response()
}

/// Runs one of the account page's forms (after its CSRF check), then shows the page with what
/// it did.
async fn after_form<F, Fut>(state: AppState, caller: Caller, csrf: &str, run: F) -> Response
where
    F: FnOnce(AppState, Caller) -> Fut,
    Fut: std::future::Future<Output = Result<String, Response>>,
{
    if let Err(r) = caller.check_csrf(csrf) {
        return r.into_response();
    }
    match run(state.clone(), caller.clone()).await {
        Ok(notice) => render(&state, &caller, Some(notice)).await,
        Err(r) => r,
    }
}

/// `POST /account/feeds`: a new calendar feed for the caller (one site of theirs, or all).
pub(crate) async fn make_feed(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<feeds::FeedForm>,
) -> Response {
    let csrf = f.csrf.clone();
    after_form(state, caller, &csrf, |s, c| async move {
        feeds::make(&s, &c, f).await
    })
    .await
}

/// `POST /account/feeds/revoke`: revokes one of the caller's own feeds.
pub(crate) async fn revoke_feed(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<feeds::FeedForm>,
) -> Response {
    let csrf = f.csrf.clone();
    after_form(state, caller, &csrf, |s, c| async move {
        feeds::revoke(&s, &c, f).await
    })
    .await
}

/// `POST /account/digest`
pub(crate) async fn save_digest(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<digest::DigestForm>,
) -> Response {
    let csrf = f.csrf.clone();
    after_form(state, caller, &csrf, |s, c| async move {
        digest::save(&s, &c, f).await
    })
    .await
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    csrf: String,
    current: String,
    new: String,
}

pub(crate) async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Form(f): Form<PasswordForm>,
) -> Response {
    if let Err(r) = caller.check_csrf(&f.csrf) {
        return r.into_response();
    }
    if !verify_password(&caller.user.user.password_hash, &f.current) {
        return (
            StatusCode::BAD_REQUEST,
            Html(account_page(
                &caller,
                Some("The current password is wrong; nothing was changed."),
            )),
        )
            .into_response();
    }
    if let Err(e) = check_password(&f.new) {
        return (
            StatusCode::BAD_REQUEST,
            Html(account_page(&caller, Some(&e.0))),
        )
            .into_response();
    }
    let now = (state.now)();
    let user = caller.user.clone();
    let result = blocking(&state, move |s| {
        let change = cardwatch_store::Change {
            actor: format!("web:{}", user.user.username),
            at: now,
        };
        // A new password ends every session, this one included; a fresh one replaces it.
        s.set_user_password(&user.user.username, &hash_password(&f.new), &change)?;
        start_session(s, &user, now)
    })
    .await;
    match result {
        Ok((token, _)) => (
            StatusCode::SEE_OTHER,
            [
                (SET_COOKIE, cookie(&token, SESSION_SECONDS, &headers)),
                (LOCATION, HeaderValue::from_static("/account")),
            ],
        )
            .into_response(),
        Err(f) => f.into_response(),
    }
}
