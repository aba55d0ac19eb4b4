//! `GET /feeds/{token}.ics`: a calendar feed whose secret is its address (calendar clients send
//! no cookies), revocable with `cardwatch token revoke`. It holds the certificate expiries of the
//! token owner's organisations (or the token's one site) from 30 days ago to 120 days ahead,
//! each with a reminder, and — when RA teams serving every site are configured — each
//! certificate's planned renewal day from the estate's plan. Operators make and revoke their own
//! feeds on their account page.

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use cardwatch_core::access::{Token, TokenKind};
use cardwatch_core::date::Timestamp;
use cardwatch_core::ics::{calendar, Event};
use cardwatch_core::ids::OdsCode;
use cardwatch_core::planner::{plan_teams, Renewal, Settings};
use cardwatch_store::renewals_due;

use crate::auth::{new_token_secret, token_hash, token_shaped, Caller};
use crate::findings::bad_request;
use crate::scope::Viewer;
use crate::{escape, AppState};

/// Days before a certificate expires that its event's reminder fires.
const EXPIRY_REMINDER_DAYS: u32 = 7;
/// The feed's reach around today.
const PAST_DAYS: i32 = 30;
const AHEAD_DAYS: i32 = 120;

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        "no such feed — it may have been revoked\n",
    )
        .into_response()
}

fn expiry_event(r: &Renewal, today: cardwatch_core::date::Date) -> Event {
    let action = if r.expiry < today {
        "It has expired: the holder must book the Registration Authority to renew in person."
    } else {
        "The holder can renew it at the login prompt inside the 90 days before expiry; after that, only an RA in person."
    };
    Event {
        uid: format!(
            "expiry-{}-{}-{}@cardwatch",
            r.card_serial, r.purpose, r.expiry
        ),
        date: r.expiry,
        summary: format!(
            "Smartcard {} certificate expires (card {}, site {})",
            r.purpose, r.card_serial, r.site
        ),
        description: format!(
            "The {} certificate on card {} at site {} is valid until {}. {action}",
            r.purpose, r.card_serial, r.site, r.expiry
        ),
        remind_days_before: EXPIRY_REMINDER_DAYS,
    }
}

pub(crate) async fn feed(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(token) = file.strip_suffix(".ics").filter(|t| token_shaped(t)) else {
        return not_found();
    };
    let hash = token_hash(token);
    let found = match crate::blocking(&state, move |s| s.live_token(&hash)).await {
        Ok(f) => f,
        Err(f) => return f.into_response(),
    };
    let Some((token, user)) = found.filter(|(t, _)| t.kind == TokenKind::Calendar) else {
        return not_found();
    };
    let viewer = match Viewer::of(&state, Caller::by_token(user)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let now = (state.now)();
    let today = now.date();
    let (from, to) = (today.add_days(-PAST_DAYS), today.add_days(AHEAD_DAYS));
    let checks = state.checks.clone();
    let site = token.site.clone();
    let events = crate::blocking(&state, move |s| {
        let all = renewals_due(s, &checks.thresholds)?;
        let wanted = |r: &Renewal| {
            r.expiry >= from
                && r.expiry <= to
                && site.as_ref().is_none_or(|x| x.as_str() == r.site)
                && viewer.sees_site(&r.site)
        };
        let mut events: Vec<Event> = all
            .iter()
            .filter(|r| wanted(r))
            .map(|r| expiry_event(r, today))
            .collect();
        if !checks.teams.is_empty() {
            let settings = Settings {
                from: today,
                capacity: 1,
                window_days: checks.thresholds.renewal_window_days,
                calendar: &checks.calendar,
            };
            // The estate's plan, so each day is the one the RA team will keep; only when every
            // site has a team (otherwise there is no capacity to plan the rest with).
            if let Ok(plans) = plan_teams(all, &checks.teams, None, &settings, 30) {
                for t in &plans {
                    for (i, r) in t.report.renewals.iter().enumerate() {
                        if wanted(r) {
                            events.push(r.event(&t.report.plan.targets[i]));
                        }
                    }
                }
            }
        }
        Ok(events)
    })
    .await;
    match events {
        Ok(events) => {
            let name = match &token.site {
                Some(s) => format!("Smartcard renewals — {s}"),
                None => "Smartcard renewals".to_owned(),
            };
            (
                [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
                calendar(&name, &events, Timestamp::start_of(today)),
            )
                .into_response()
        }
        Err(f) => f.into_response(),
    }
}

/// The account page with the caller's calendar feeds: each with its site and a revoke button, and
/// a form for a new one; `notice` shows a new feed's address, once.
pub(crate) async fn account(state: &AppState, caller: &Caller, notice: Option<String>) -> Response {
    let name = caller.user.user.username.clone();
    let tokens = match crate::blocking(state, move |s| s.tokens(Some(&name))).await {
        Ok(t) => t,
        Err(f) => return f.into_response(),
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
    let digest = match crate::digest_prefs::section(state, caller).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    Html(crate::auth::account_page_with(
        caller,
        None,
        &format!("{extra}{digest}"),
    ))
    .into_response()
}

#[derive(serde::Deserialize)]
pub(crate) struct FeedForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    id: String,
}

/// `POST /account/feeds`: a new calendar feed for the caller (one site of theirs, or all).
pub(crate) async fn make(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Form(f): axum::extract::Form<FeedForm>,
) -> Response {
    if let Err(r) = caller.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let site = match f.site.trim() {
        "" => None,
        s => match OdsCode::parse(s) {
            Ok(s) => Some(s),
            Err(e) => return bad_request("site", e.to_string()).into_response(),
        },
    };
    if let Some(s) = &site {
        let v = match Viewer::of(&state, caller.clone()).await {
            Ok(v) => v,
            Err(r) => return r,
        };
        if !v.sees_site(s.as_str()) {
            return crate::scope::refuse(
                false,
                Some("site"),
                &format!("{s} is not one of your organisations"),
            );
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
    match crate::blocking(&state, move |s| Ok(s.add_token(&token, &hash, &change))).await {
        Ok(Ok(())) => account(&state, &caller, Some(format!("Your feed's address, shown only now: /feeds/{secret}.ics — add this server's address in front of it in your calendar."))).await,
        Ok(Err(cardwatch_store::StoreError::Invalid(m))) => bad_request("name", m).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "feed not made");
            (StatusCode::SERVICE_UNAVAILABLE, "the database is not answering — see the server log\n").into_response()
        }
        Err(f) => f.into_response(),
    }
}

/// `POST /account/feeds/revoke`: revokes one of the caller's own feeds.
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    axum::extract::Form(f): axum::extract::Form<FeedForm>,
) -> Response {
    if let Err(r) = caller.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let name = caller.user.user.username.clone();
    let id = f.id.clone();
    let change = cardwatch_store::Change {
        actor: format!("web:{}", caller.user.user.username),
        at: (state.now)(),
    };
    let done = crate::blocking(&state, move |s| {
        // Only one's own: another's id is answered as if it did not exist.
        if !s.tokens(Some(&name))?.iter().any(|t| t.id == id) {
            return Ok(false);
        }
        s.revoke_token(&id, &change)?;
        Ok(true)
    })
    .await;
    match done {
        Ok(true) => account(&state, &caller, Some("Revoked.".into())).await,
        Ok(false) => bad_request("id", "no such feed of yours".into()).into_response(),
        Err(f) => f.into_response(),
    }
}
