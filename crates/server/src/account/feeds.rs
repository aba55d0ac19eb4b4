//! The account page's calendar feeds: an operator makes and revokes their own feed addresses
//! (served by `notify::feeds`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::{Token, TokenKind};
use cardwatch_core::ids::OdsCode;

use super::Refused;
use crate::web::auth::{new_token_secret, token_hash, Caller};
use crate::web::scope::Viewer;
use crate::AppState;

/// One of the caller's calendar feeds, as the account page lists it.
pub(crate) struct FeedRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) site: String,
    pub(crate) made: String,
    pub(crate) state: &'static str,
    pub(crate) live: bool,
}

/// The caller's calendar feeds, each with its sites and whether it still works.
pub(crate) async fn rows(state: &AppState, caller: &Caller) -> Result<Vec<FeedRow>, Response> {
    let name = caller.user.user.username.clone();
    let tokens = match crate::web::blocking(state, move |s| s.tokens(Some(&name))).await {
        Ok(t) => t,
        Err(f) => return Err(f.into_response()),
    };
    Ok(tokens
        .iter()
        .filter(|t| t.kind == TokenKind::Calendar)
        .map(|t| FeedRow {
            id: t.id.clone(),
            name: t.name.clone(),
            site: t
                .site
                .as_ref()
                .map_or("All my organisations' sites".to_owned(), |s| {
                    s.as_str().to_owned()
                }),
            made: t.created_at.date().long(),
            state: if t.revoked_at.is_some() {
                "No: revoked"
            } else {
                "Yes"
            },
            live: t.revoked_at.is_none(),
        })
        .collect())
}

#[derive(serde::Deserialize)]
pub(crate) struct FeedForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) name: String,
    #[serde(default)]
    pub(super) site: String,
    #[serde(default)]
    id: String,
}

/// A new calendar feed for the caller (one site of theirs, or all): the notice with its address.
pub(crate) async fn make(
    state: &AppState,
    caller: &Caller,
    f: FeedForm,
) -> Result<String, Refused> {
    if f.name.trim().is_empty() {
        let m = "Enter a name for the feed that says what it is for, like Renewals at my practice";
        return Err(Refused::Field("feed-name", m.into()));
    }
    let site = match f.site.trim() {
        "" => None,
        s => match OdsCode::parse(s) {
            Ok(s) => Some(s),
            Err(_) => {
                let m = "Enter the site code (ODS code) as 1 to 9 letters and numbers, like A81001, or leave it empty for all your sites";
                return Err(Refused::Field("feed-site", m.into()));
            }
        },
    };
    if let Some(s) = &site {
        let v = Viewer::of(state, caller.clone())
            .await
            .map_err(Refused::Answer)?;
        if !v.sees_site(s.as_str()) {
            // Said on the form, what was typed kept: a code mistyped by one character is the
            // usual cause, and the page tells no more than the caller typed.
            let m = format!("{s} is not one of your sites: enter one of your sites' codes, or leave it empty for all your sites");
            return Err(Refused::Field("feed-site", m));
        }
        if !crate::web::sites::names(state, &v)
            .await
            .contains_key(s.as_str())
        {
            let m = format!("There is no site {s} in the estate: check the code, or leave it empty for all your sites");
            return Err(Refused::Field("feed-site", m));
        }
    }
    let secret = new_token_secret().map_err(|e| Refused::Answer(e.into_response()))?;
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
        Ok(Ok(())) => Ok(format!(
            "Your feed's address, shown only now: {}/feeds/{secret}.ics — copy it into your calendar's \"add by address\" (or \"subscribe\") box.",
            state.checks.notify.public_url.trim_end_matches('/')
        )),
        Ok(Err(cardwatch_store::StoreError::Invalid(m))) => Err(Refused::Field("feed-name", m)),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "feed not made");
            Err(Refused::Answer((StatusCode::SERVICE_UNAVAILABLE, "the database is not answering — see the server log\n").into_response()))
        }
        Err(f) => Err(Refused::Answer(f.into_response())),
    }
}

/// Revokes one of the caller's own feeds: the notice.
pub(crate) async fn revoke(
    state: &AppState,
    caller: &Caller,
    f: FeedForm,
) -> Result<String, Refused> {
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
        Ok(true) => Ok("Feed revoked: its address no longer works.".into()),
        // The form has no field for the id: the summary links to the list of feeds.
        Ok(false) => Err(Refused::Field(
            "feed-name",
            "That feed is not one of yours, so nothing was revoked.".into(),
        )),
        Err(f) => Err(Refused::Answer(f.into_response())),
    }
}
