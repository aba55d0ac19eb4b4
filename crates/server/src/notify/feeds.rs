//! `GET /feeds/{token}.ics`: a calendar feed whose secret is its address (calendar clients send
//! no cookies), revocable with `cardwatch token revoke`. It holds the certificate expiries of the
//! token owner's organisations (or the token's one site) from 30 days ago to 120 days ahead,
//! each with a reminder, and — when RA teams serving every site are configured — each
//! certificate's planned renewal day from the estate's plan, and each site's planned days for
//! the move to Smartcard Connect (the migration page's plan, with the computers to move and what
//! holds any up). Operators make and revoke their own feeds on their account page.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::TokenKind;
use cardwatch_core::date::Timestamp;
use cardwatch_core::ics::{calendar, Event};
use cardwatch_core::migration;
use cardwatch_core::planner::{plan_teams_kept, Renewal, Settings};
use cardwatch_core::records::{Cell, Kind};
use cardwatch_store::{load_workstations, Store, StoreError};

use crate::web::auth::{token_hash, token_shaped, Caller};
use crate::web::scope::Viewer;
use crate::AppState;

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

/// Each seen site's days in the move to the retiring client's successor, within the feed's
/// reach. The plan is the migration page's (no daily limit, a fortnight's margin), made for the
/// whole estate and then cut to the sites wanted, as the page does.
fn migration_events(
    store: &dyn Store,
    checks: &crate::Checks,
    today: cardwatch_core::date::Date,
    wanted: &dyn Fn(&str) -> bool,
    to: cardwatch_core::date::Date,
) -> Result<Vec<Event>, StoreError> {
    if checks.catalogue.retiring().is_none() {
        return Ok(Vec::new());
    }
    let estate = load_workstations(store)?;
    let settings = migration::Settings {
        from: today,
        calendar: &checks.calendar,
        per_day: None,
        margin_days: 14,
    };
    let Some(plan) = migration::plan(&estate, &checks.catalogue, &settings) else {
        return Ok(Vec::new());
    };
    let mut names = std::collections::HashMap::new();
    store.scan(Kind::Sites, &[0, 2], false, &mut |r| {
        if let (Cell::Text(code), Cell::Text(name)) = (&r[0], &r[1]) {
            if wanted(code) {
                names.insert((*code).to_owned(), (*name).to_owned());
            }
        }
        Ok(())
    })?;
    Ok(plan
        .sites
        .iter()
        .filter(|s| wanted(&s.site))
        .flat_map(|s| plan.site_events(s, names.get(&s.site).map(String::as_str)))
        .filter(|e| e.date <= to)
        .collect())
}

pub(crate) async fn feed(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some(token) = file.strip_suffix(".ics").filter(|t| token_shaped(t)) else {
        return not_found();
    };
    let hash = token_hash(token);
    let found = match crate::web::blocking(&state, move |s| s.live_token(&hash)).await {
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
    // The renewal plan's kept renewals: a feed read does not read every renewal again.
    let (all, jobs) = match crate::notify::jobs::kept_renewals(&state).await {
        Ok(kept) => kept,
        Err(why) => {
            tracing::warn!(%why, "the calendar feed's renewals");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let events = crate::web::blocking(&state, move |s| {
        let seen =
            |code: &str| site.as_ref().is_none_or(|x| x.as_str() == code) && viewer.sees_site(code);
        let wanted = |r: &Renewal| r.expiry >= from && r.expiry <= to && seen(&r.site);
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
            if let Ok(plans) = plan_teams_kept(all, &jobs, &checks.teams, None, &settings, 30) {
                for t in &plans {
                    for (i, r) in t.report.renewals.iter().enumerate() {
                        if wanted(r) {
                            events.push(r.event(&t.report.plan.targets[i]));
                        }
                    }
                }
            }
        }
        events.extend(migration_events(s, &checks, today, &seen, to)?);
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
