//! The account page's calendar feeds: an operator makes and revokes their own feed addresses
//! (served by `notify::feeds`).

use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::{Token, TokenKind};
use cardwatch_core::ids::OdsCode;

use crate::web::auth::{new_token_secret, token_hash, Caller};
use crate::web::scope::Viewer;
use crate::web::{bad_request, escape};
use crate::AppState;

/// The account page's calendar feeds: each with its site and a revoke button, and a form for a
/// new one; `notice` shows a new feed's address, once.
pub(crate) async fn section(
    state: &AppState,
    caller: &Caller,
    notice: Option<String>,
) -> Result<String, Response> {
    let name = caller.user.user.username.clone();
    let tokens = match crate::web::blocking(state, move |s| s.tokens(Some(&name))).await {
        Ok(t) => t,
        Err(f) => return Err(f.into_response()),
    };
    let csrf = escape(&caller.csrf);
    let mut rows = String::new();
    for t in tokens.iter().filter(|t| t.kind == TokenKind::Calendar) {
        let state = if t.revoked_at.is_some() {
            "revoked"
        } else {
            "live"
        };
        let revoke = if t.revoked_at.is_none() {
            format!(
                "<form method=\"post\" action=\"/account/feeds/revoke\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                 <input type=\"hidden\" name=\"id\" value=\"{}\"><button class=\"nhsuk-button nhsuk-button--secondary nhsuk-button--small\">Revoke</button></form>",
                escape(&t.id)
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            rows,
            "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{}</td><td class=\"nhsuk-table__cell\">{state}</td><td class=\"nhsuk-table__cell\">{revoke}</td></tr>",
            escape(&t.id),
            escape(&t.name),
            t.site.as_ref().map_or("all my organisations", |s| s.as_str()),
        );
    }
    let shown = notice.map_or(String::new(), |n| {
        format!(
            "<div class=\"nhsuk-inset-text\"><p>{}</p></div>",
            escape(&n)
        )
    });
    let extra = format!(
        "<h2 class=\"nhsuk-heading-m\">Calendar feeds</h2>\n{shown}\
         <p class=\"nhsuk-body\">Certificate expiries (and planned renewal days) for Outlook or Google Calendar. The address is the secret: revoke it if it is shared by mistake.</p>\
         <table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\"><th class=\"nhsuk-table__header\" scope=\"col\">Id</th><th class=\"nhsuk-table__header\" scope=\"col\">Name</th><th class=\"nhsuk-table__header\" scope=\"col\">Site</th><th class=\"nhsuk-table__header\" scope=\"col\">State</th><th class=\"nhsuk-table__header\" scope=\"col\">Change</th></tr></thead><tbody class=\"nhsuk-table__body\">{rows}</tbody></table>\n\
         <form method=\"post\" action=\"/account/feeds\" novalidate><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"feed-name\">Name (what it is for)</label><input class=\"nhsuk-input nhsuk-u-width-one-half\" id=\"feed-name\" name=\"name\"></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"feed-site\">One site only (ODS code, optional)</label><input class=\"nhsuk-input nhsuk-input--width-10\" id=\"feed-site\" name=\"site\"></div>\
         <button class=\"nhsuk-button nhsuk-button--secondary\">Make a feed</button></form>\n"
    );
    Ok(extra)
}

#[derive(serde::Deserialize)]
pub(crate) struct FeedForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    id: String,
}

/// A new calendar feed for the caller (one site of theirs, or all): the notice with its address.
pub(crate) async fn make(
    state: &AppState,
    caller: &Caller,
    f: FeedForm,
) -> Result<String, Response> {
    let site = match f.site.trim() {
        "" => None,
        s => match OdsCode::parse(s) {
            Ok(s) => Some(s),
            Err(e) => return Err(bad_request("site", e.to_string()).into_response()),
        },
    };
    if let Some(s) = &site {
        let v = Viewer::of(state, caller.clone()).await?;
        if !v.sees_site(s.as_str()) {
            return Err(crate::web::scope::refuse(
                false,
                Some("site"),
                &format!("{s} is not one of your organisations"),
            ));
        }
    }
    let secret = new_token_secret();
    let hash = token_hash(&secret);
    let now = (state.now)();
    let token = Token {
        id: hash[..12].to_owned(),
        username: caller.user.user.username.clone(),
        name: f.name.trim().to_owned(),
        kind: TokenKind::Calendar,
        site,
        created_at: now,
        revoked_at: None,
    };
    let change = cardwatch_store::Change {
        actor: format!("web:{}", caller.user.user.username),
        at: now,
    };
    match crate::web::blocking(state, move |s| Ok(s.add_token(&token, &hash, &change))).await {
        Ok(Ok(())) => Ok(format!("Your feed's address, shown only now: /feeds/{secret}.ics — add this server's address in front of it in your calendar.")),
        Ok(Err(cardwatch_store::StoreError::Invalid(m))) => Err(bad_request("name", m).into_response()),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "feed not made");
            Err((StatusCode::SERVICE_UNAVAILABLE, "the database is not answering — see the server log\n").into_response())
        }
        Err(f) => Err(f.into_response()),
    }
}

/// Revokes one of the caller's own feeds: the notice.
pub(crate) async fn revoke(
    state: &AppState,
    caller: &Caller,
    f: FeedForm,
) -> Result<String, Response> {
    let name = caller.user.user.username.clone();
    let id = f.id.clone();
    let change = cardwatch_store::Change {
        actor: format!("web:{}", caller.user.user.username),
        at: (state.now)(),
    };
    let done = crate::web::blocking(state, move |s| {
        // Only one's own: another's id is answered as if it did not exist.
        if !s.tokens(Some(&name))?.iter().any(|t| t.id == id) {
            return Ok(false);
        }
        s.revoke_token(&id, &change)?;
        Ok(true)
    })
    .await;
    match done {
        Ok(true) => Ok("Revoked.".into()),
        Ok(false) => Err(bad_request("id", "no such feed of yours".into()).into_response()),
        Err(f) => Err(f.into_response()),
    }
}
