//! The unsubscribe link in every digest: the secret in the address is the permission, so it
//! works without signing in. Opening it only asks; the button (a POST, which mail scanners that
//! follow links do not send) turns the digest off.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_store::notify;

use crate::web::{blocking, escape, layout};
use crate::AppState;

fn unknown() -> Response {
    (
        StatusCode::NOT_FOUND,
        layout::page(
            "Link not recognised",
            None,
            "<p class=\"nhsuk-body\">This unsubscribe link is not recognised. If you still \
             receive digests, change them in Cardwatch under your account, or ask an \
             administrator.</p>",
        ),
    )
        .into_response()
}

/// `GET /unsubscribe/{secret}`: asks to confirm.
pub(crate) async fn ask(State(state): State<AppState>, Path(secret): Path<String>) -> Response {
    let s = secret.clone();
    let who = blocking(&state, move |st| {
        Ok(notify::subscriber_by_secret(st, &s)?.map(|x| x.prefs.email))
    })
    .await;
    match who {
        Ok(Some(email)) => layout::page(
            "Stop Cardwatch digests",
            None,
            &format!(
                "<h1 class=\"nhsuk-heading-l\">Stop Cardwatch digests</h1>\
                 <p class=\"nhsuk-body\">Digests of findings are sent to {}.</p>\
                 <form method=\"post\" action=\"/unsubscribe/{}\">\
                 <button class=\"nhsuk-button\" type=\"submit\">Stop sending them</button></form>",
                escape(&email),
                escape(&secret)
            ),
        )
        .into_response(),
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
        Ok(Some(_)) => layout::page(
            "Digests stopped",
            None,
            "<h1 class=\"nhsuk-heading-l\">Digests stopped</h1><p class=\"nhsuk-body\">You will \
             not receive Cardwatch digests any more. An administrator can turn them on again.</p>",
        )
        .into_response(),
        Ok(None) => unknown(),
        Err(f) => f.into_response(),
    }
}
