//! An operator's own account page: who they are, their password, their calendar feeds and their
//! email digest.

use axum::extract::State;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::check_password;
use serde::Deserialize;

use crate::web::auth::{
    cookie, hash_password, start_session, verify_password, Caller, SESSION_SECONDS,
};
use crate::web::blocking;
use crate::web::form::PageForm;
use crate::web::layout;
use crate::AppState;

pub mod digest;
pub mod feeds;
pub mod oidc;

/// Why a form on the account page was refused: the field (its id on the page) and the words,
/// or an answer that is not the page (not allowed, the database down).
pub(crate) enum Refused {
    Field(&'static str, String),
    Answer(Response),
}

/// What was typed in the account page's forms, shown again when one is refused.
#[derive(Default)]
pub(crate) struct Typed {
    feed: Option<(String, String)>,
    digest: Option<digest::DigestForm>,
}

#[derive(askama::Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    problem: Option<(&'static str, String)>,
    notice: Option<String>,
    display_name: &'a str,
    username: &'a str,
    role: String,
    organisations: String,
    csrf: &'a str,
    feeds: Vec<feeds::FeedRow>,
    feed_name: String,
    feed_site: String,
    email: String,
    frequencies: [(&'static str, &'static str); 3],
    frequency: String,
    severities: Vec<(&'static str, &'static str)>,
    severity: String,
    quiet: String,
}

/// `GET /account`.
pub(crate) async fn page(State(state): State<AppState>, caller: Caller) -> Response {
    render(&state, &caller, Ok(None), Typed::default()).await
}

/// The account page: who, the password form, the calendar feeds and the digest; `said` is what a
/// form just did (a new feed's address is shown only then), or why it was refused (400).
async fn render(
    state: &AppState,
    caller: &Caller,
    said: Result<Option<String>, (&'static str, String)>,
    typed: Typed,
) -> Response {
    let (rows, current) = match (
        feeds::rows(state, caller).await,
        digest::current(state, caller).await,
    ) {
        (Ok(f), Ok(d)) => (f, d),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let u = &caller.user.user;
    let orgs: Vec<&str> = u.organisations.iter().map(|o| o.as_str()).collect();
    let role = u.role.as_str().replace('_', " ");
    let mut role_words = role.chars();
    let digest = typed.digest.unwrap_or(current);
    let (feed_name, feed_site) = typed.feed.unwrap_or_default();
    let (problem, notice, status) = match said {
        Ok(n) => (None, n, StatusCode::OK),
        Err(p) => (Some(p), None, StatusCode::BAD_REQUEST),
    };
    let page = AccountPage {
        problem,
        notice,
        display_name: &u.display_name,
        username: u.username.as_str(),
        role: role_words.next().map_or(String::new(), |c| {
            c.to_uppercase().chain(role_words).collect()
        }),
        organisations: if u.role.sees_everything() {
            "for every organisation".to_owned()
        } else if orgs.len() == 1 {
            format!("for organisation {}", orgs[0])
        } else {
            format!("for organisations {}", orgs.join(", "))
        },
        csrf: &caller.csrf,
        feeds: rows,
        feed_name,
        feed_site,
        email: digest.email,
        frequencies: digest::FREQUENCIES,
        frequency: digest.frequency,
        severities: digest::severities(),
        severity: digest.min_severity,
        quiet: digest.quiet,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    (status, layout::page("Your account", Some(caller), &body)).into_response()
}

/// Runs one of the account page's forms (after its CSRF check), then shows the page with what
/// it did, or why it was refused with what was typed.
async fn after_form<F, Fut>(
    state: AppState,
    caller: Caller,
    csrf: &str,
    typed: Typed,
    run: F,
) -> Response
where
    F: FnOnce(AppState, Caller) -> Fut,
    Fut: std::future::Future<Output = Result<String, Refused>>,
{
    if let Err(r) = caller.check_csrf(csrf) {
        return r.into_response();
    }
    match run(state.clone(), caller.clone()).await {
        Ok(notice) => render(&state, &caller, Ok(Some(notice)), Typed::default()).await,
        Err(Refused::Field(field, m)) => render(&state, &caller, Err((field, m)), typed).await,
        Err(Refused::Answer(r)) => r,
    }
}

/// `POST /account/feeds`: a new calendar feed for the caller (one site of theirs, or all).
pub(crate) async fn make_feed(
    State(state): State<AppState>,
    caller: Caller,
    PageForm(f): PageForm<feeds::FeedForm>,
) -> Response {
    let csrf = f.csrf.clone();
    let typed = Typed {
        feed: Some((f.name.clone(), f.site.clone())),
        digest: None,
    };
    after_form(state, caller, &csrf, typed, |s, c| async move {
        feeds::make(&s, &c, f).await
    })
    .await
}

/// `POST /account/feeds/revoke`: revokes one of the caller's own feeds.
pub(crate) async fn revoke_feed(
    State(state): State<AppState>,
    caller: Caller,
    PageForm(f): PageForm<feeds::FeedForm>,
) -> Response {
    let csrf = f.csrf.clone();
    after_form(state, caller, &csrf, Typed::default(), |s, c| async move {
        feeds::revoke(&s, &c, f).await
    })
    .await
}

/// `POST /account/digest`
pub(crate) async fn save_digest(
    State(state): State<AppState>,
    caller: Caller,
    PageForm(f): PageForm<digest::DigestForm>,
) -> Response {
    let csrf = f.csrf.clone();
    let typed = Typed {
        feed: None,
        digest: Some(f.clone()),
    };
    after_form(state, caller, &csrf, typed, |s, c| async move {
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
    PageForm(f): PageForm<PasswordForm>,
) -> Response {
    if let Err(r) = caller.check_csrf(&f.csrf) {
        return r.into_response();
    }
    if !verify_password(&caller.user.user.password_hash, &f.current) {
        let m = "The current password is wrong; nothing was changed.";
        return render(
            &state,
            &caller,
            Err(("current", m.into())),
            Typed::default(),
        )
        .await;
    }
    if let Err(e) = check_password(&f.new) {
        return render(&state, &caller, Err(("new", e.0)), Typed::default()).await;
    }
    let now = (state.now)();
    let user = caller.user.clone();
    let result = blocking(&state, move |s| {
        let change = cardwatch_store::Change {
            actor: format!("web:{}", user.user.username),
            at: now,
        };
        // A new password ends every session, this one included; a fresh one replaces it.
        s.set_user_password(&user.user.username, &hash_password(&f.new)?, &change)?;
        start_session(s, &user, now)
    })
    .await;
    match result {
        Ok((token, _)) => (
            StatusCode::SEE_OTHER,
            [
                (SET_COOKIE, cookie(&token, SESSION_SECONDS)),
                (LOCATION, HeaderValue::from_static("/account")),
            ],
        )
            .into_response(),
        Err(f) => f.into_response(),
    }
}
