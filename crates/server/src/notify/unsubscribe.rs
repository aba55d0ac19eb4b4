//! The unsubscribe link in every digest: the secret in the address is the permission, so it
//! works without signing in. Opening it only asks; the button (a POST, which mail scanners that
//! follow links do not send) turns the digest off.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_store::notify;

use crate::web::{blocking, layout};
use crate::AppState;

#[derive(askama::Template)]
#[template(path = "unsubscribe.html")]
struct UnsubscribePage<'a> {
    /// Where the digests go, while asking to confirm.
    email: Option<&'a str>,
    secret: &'a str,
    stopped: bool,
}

fn shown(title: &str, page: &UnsubscribePage<'_>) -> axum::response::Html<String> {
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(page).unwrap_or_default();
    layout::page(title, None, &body)
}

fn unknown() -> Response {
    let page = UnsubscribePage {
        email: None,
        secret: "",
        stopped: false,
    };
    (StatusCode::NOT_FOUND, shown("Link not recognised", &page)).into_response()
}

/// `GET /unsubscribe/{secret}`: asks to confirm.
pub(crate) async fn ask(State(state): State<AppState>, Path(secret): Path<String>) -> Response {
    let s = secret.clone();
    let who = blocking(&state, move |st| {
        Ok(notify::subscriber_by_secret(st, &s)?.map(|x| x.prefs.email))
    })
    .await;
    match who {
        Ok(Some(email)) => {
            let page = UnsubscribePage {
                email: Some(&email),
                secret: &secret,
                stopped: false,
            };
            shown("Stop Cardwatch digests", &page).into_response()
        }
        Ok(None) => unknown(),
        Err(f) => f.into_response(),
    }
}

/// `POST /unsubscribe/{secret}`: turns the digest off (audited).
pub(crate) async fn confirm(State(state): State<AppState>, Path(secret): Path<String>) -> Response {
    let change = cardwatch_store::Change {
        actor: "unsubscribe".into(),
        at: (state.now)(),
    };
    match blocking(&state, move |s| notify::unsubscribe(s, &secret, &change)).await {
        Ok(Some(_)) => {
            let page = UnsubscribePage {
                email: None,
                secret: "",
                stopped: true,
            };
            shown("Digests stopped", &page).into_response()
        }
        Ok(None) => unknown(),
        Err(f) => f.into_response(),
    }
}
