//! Access reviews (`/reviews`, JSON twin `/api/v1/reviews`): every position in force at the
//! caller's sites, with its latest decision; those not reviewed within a year are due. Operators
//! who manage positions attest "keep" or remove one (through the position's lifecycle), with a
//! reason; each decision is audited.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cardwatch_core::access::Permission;
use cardwatch_core::date::Timestamp;
use cardwatch_core::records::Kind;
use cardwatch_store::reviews::{decide as decide_on, to_review, Decision, ReviewQuery, ToReview};
use serde::Deserialize;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::scope::{form_viewer, not_found, viewer, Viewer};
use crate::web::{bad_request, BadParam};
use crate::web::{blocking, escape, layout};
use crate::web::{change, settled};
use crate::AppState;

/// A position not reviewed for this long is due.
const REVIEW_EVERY_DAYS: i64 = 365;

/// The list's query: due only or all, and the page.
struct ListQuery {
    all: bool,
    offset: usize,
    limit: usize,
}

fn list_query(q: &HashMap<String, String>) -> Result<ListQuery, BadParam> {
    const KNOWN: [&str; 3] = ["show", "offset", "limit"];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        ));
    }
    let number = |k: &str, default: usize, max: usize| match q.get(k).map(|v| v.trim()) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n) || (k == "offset" && *n == 0))
            .ok_or_else(|| bad_request(k, format!("{k} {v:?}: give a whole number up to {max}"))),
    };
    Ok(ListQuery {
        all: match q.get("show").map(|v| v.trim()) {
            None | Some("" | "due") => false,
            Some("all") => true,
            Some(v) => return Err(bad_request("show", format!("show {v:?}: use due or all"))),
        },
        offset: number("offset", 0, 1_000_000)?,
        limit: number("limit", 200, 5000)?,
    })
}

async fn listed(
    state: &AppState,
    caller: Caller,
    q: &HashMap<String, String>,
    api: bool,
) -> Result<(Viewer, ListQuery, u64, Vec<ToReview>), Response> {
    let v = viewer(state, caller, Permission::ViewPeople, api).await?;
    let lq = list_query(q).map_err(IntoResponse::into_response)?;
    let now = (state.now)();
    let query = ReviewQuery {
        sites: v.visible_sites(),
        not_since: (!lq.all).then(|| Timestamp::from_unix(now.unix() - REVIEW_EVERY_DAYS * 86_400)),
        offset: lq.offset,
        limit: lq.limit,
    };
    let (total, list) = blocking(state, move |s| to_review(s, &query))
        .await
        .map_err(IntoResponse::into_response)?;
    Ok((v, lq, total, list))
}

/// `GET /api/v1/reviews`
pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match listed(&state, caller, &q, true).await {
        Ok((_, lq, total, list)) => Json(json!({
            "total": total, "offset": lq.offset, "limit": lq.limit, "due_after_days": REVIEW_EVERY_DAYS,
            "positions": list,
        }))
        .into_response(),
        Err(r) => r,
    }
}

/// `GET /reviews`
pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    render(&state, caller, &q, None).await
}

async fn render(
    state: &AppState,
    caller: Caller,
    q: &HashMap<String, String>,
    said: Option<(bool, String)>,
) -> Response {
    let (v, lq, total, list) = match listed(state, caller, q, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let decides = v.caller.user.user.role.can(Permission::ManageCards);
    let csrf = escape(&v.caller.csrf);
    let cell = |s: &str| format!("<td class=\"nhsuk-table__cell\">{}</td>", escape(s));
    let mut rows = String::new();
    for (i, r) in list.iter().enumerate() {
        let last = r.last.as_ref().map_or("never".to_owned(), |d| {
            format!(
                "{} by {} on {}: {}",
                d.decision,
                d.reviewer,
                d.at.date(),
                d.reason
            )
        });
        let form = if decides {
            format!(
                "<td class=\"nhsuk-table__cell\"><form method=\"post\" action=\"/reviews\" class=\"nhsuk-u-margin-bottom-0\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"holder_uuid\" value=\"{}\">\
                 <input type=\"hidden\" name=\"ods_code\" value=\"{}\"><input type=\"hidden\" name=\"role_code\" value=\"{}\">\
                 <label class=\"nhsuk-label\" for=\"why-{i}\">Why</label><input class=\"nhsuk-input\" id=\"why-{i}\" name=\"reason\" maxlength=\"200\">\
                 <button class=\"nhsuk-button nhsuk-button--secondary nhsuk-u-margin-bottom-0\" name=\"decision\" value=\"keep\">Keep</button> \
                 <button class=\"nhsuk-button nhsuk-button--warning nhsuk-u-margin-bottom-0\" name=\"decision\" value=\"remove\">Remove</button></form></td>",
                escape(&r.holder_uuid),
                escape(&r.ods_code),
                escape(&r.role_code),
            )
        } else {
            String::new()
        };
        let _ = write!(
            rows,
            "<tr class=\"nhsuk-table__row\"><td class=\"nhsuk-table__cell\"><a href=\"/people/{uuid}\">{}</a></td>{}{}{}{}{}{form}</tr>",
            escape(&r.name),
            cell(&r.site_ods),
            cell(&format!("{} {} at {}", r.role_code, r.role_name, r.ods_code)),
            cell(&r.activity_codes),
            cell(r.approved_on.as_deref().unwrap_or("-")),
            cell(&last),
            uuid = escape(&r.holder_uuid),
        );
    }
    let mut head: Vec<&str> = vec![
        "Holder",
        "Site",
        "Role",
        "Activity codes",
        "Approved",
        "Last review",
    ];
    if decides {
        head.push("Decide");
    }
    let head: String = head
        .iter()
        .map(|c| format!("<th class=\"nhsuk-table__header\" scope=\"col\">{c}</th>"))
        .collect();
    let show = if lq.all { "all" } else { "due" };
    let pages = layout::pager(lq.offset, lq.limit, total as usize, |offset| {
        format!(
            "/reviews?show={show}&amp;offset={offset}&amp;limit={}",
            lq.limit
        )
    });
    let which = if lq.all {
        format!("All {total} position(s) in force. <a href=\"/reviews\">Only those due</a>.")
    } else {
        format!(
            "{total} position(s) in force not reviewed in the last {REVIEW_EVERY_DAYS} days. <a href=\"/reviews?show=all\">All positions</a>."
        )
    };
    let body = format!(
        "<h1 class=\"nhsuk-heading-l\">Access reviews</h1>{}\
         <p class=\"nhsuk-body\">Who holds which role at your sites, and whether they still need it. Keep records the review; Remove takes the role away. Each decision goes in the audit log with its reason.</p>\
         <p class=\"nhsuk-body\">{which}</p>\
         <table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">{head}</tr></thead><tbody class=\"nhsuk-table__body\">{rows}</tbody></table>\
         <p class=\"nhsuk-body\">{pages}</p>",
        layout::said(said),
    );
    layout::page("Access reviews", Some(&v.caller), &body).into_response()
}

#[derive(Deserialize)]
pub(crate) struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    holder_uuid: String,
    #[serde(default)]
    ods_code: String,
    #[serde(default)]
    role_code: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// `POST /reviews`: keep (attested) or remove (the position removed, then the decision kept).
pub(crate) async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<DecisionForm>,
) -> Response {
    let v = match form_viewer(&state, caller, Permission::ManageCards, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let no_query = HashMap::new();
    // Only a holder the caller sees.
    let holder = f.holder_uuid.trim().to_owned();
    let key = holder.clone();
    let site = match blocking(&state, move |s| {
        s.records_where(Kind::People, "uuid", &key, 1)
    })
    .await
    {
        Ok(rows) => rows
            .into_iter()
            .next()
            .and_then(|r| r.get(4).map(|v| v.to_csv())),
        Err(f) => return f.into_response(),
    };
    // The holder is one the caller sees, and the position is at an organisation they cover.
    let ods_covered = v.sees_site(f.ods_code.trim().to_ascii_uppercase().as_str());
    if !ods_covered || !site.as_deref().is_some_and(|s| v.sees_site(s)) {
        let m = format!("no one with UUID {holder} among your organisations' people");
        return not_found(false, &v.caller, &m);
    }
    let reason = f.reason.trim().to_owned();
    let decision = match Decision::parse(&f.decision) {
        Ok(_) if reason.is_empty() || reason.chars().count() > 200 => {
            let m = "Say why in 1 to 200 characters: the reason is kept in the audit log.";
            return render(&state, v.caller, &no_query, Some((false, m.into()))).await;
        }
        Ok(d) => d,
        Err(m) => return render(&state, v.caller, &no_query, Some((false, m))).await,
    };
    let change = change(&v.caller, &state);
    let (ods, role) = (
        f.ods_code.trim().to_ascii_uppercase(),
        f.role_code.trim().to_ascii_uppercase(),
    );
    let done = blocking(&state, move |s| {
        Ok(
            decide_on(s, &holder, &ods, &role, decision, &reason, &change)
                .map(|()| match decision {
                    Decision::Keep => format!("Kept: {role} at {ods} for {holder}, reviewed now."),
                    Decision::Remove => format!("Removed: {role} at {ods} for {holder}."),
                })
                .map_err(|e| match e {
                    cardwatch_store::StoreError::NotFound(m) => {
                        cardwatch_store::StoreError::Invalid(m)
                    }
                    other => other,
                }),
        )
    })
    .await;
    match settled(done) {
        Ok(message) => render(&state, v.caller, &no_query, Some(message)).await,
        Err(r) => *r,
    }
}
