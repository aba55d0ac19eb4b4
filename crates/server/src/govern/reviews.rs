//! Access reviews (`/reviews`, JSON twin `/api/v1/reviews`): every position in force at the
//! caller's sites, with its latest decision; those not reviewed within a year are due. Operators
//! who manage positions attest "keep" or remove one (through the position's lifecycle), with a
//! reason; each decision is audited.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cardwatch_core::access::Permission;
use cardwatch_core::date::Timestamp;
use cardwatch_core::records::Kind;
use cardwatch_store::reviews::{decide as decide_on, to_review, Decision, ReviewQuery, ToReview};
use serde::Deserialize;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::form::PageForm;
use crate::web::scope::{form_viewer, not_found, viewer, Viewer};
use crate::web::{bad_request, BadParam};
use crate::web::{blocking, layout};
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
    render(&state, caller, &q, None, None).await
}

#[derive(askama::Template)]
#[template(path = "reviews.html")]
struct ReviewsPage<'a> {
    problem: Option<(String, String)>,
    notice: Option<String>,
    which: String,
    all: bool,
    decides: bool,
    csrf: &'a str,
    rows: Vec<Row>,
    pages: layout::Pager,
}

struct Row {
    uuid: String,
    name: String,
    site: String,
    ods: String,
    role_code: String,
    role: String,
    activities: String,
    approved: String,
    last: String,
    /// The reason typed, kept when the decision on this row was refused.
    reason: String,
}

/// A decision on one position that was refused: which (holder, organisation, role) and the
/// reason as typed.
type Typed = (String, String, String, String);

/// A number of roles, the plural right.
fn roles(n: u64) -> String {
    format!("{n} {}", if n == 1 { "role" } else { "roles" })
}

async fn render(
    state: &AppState,
    caller: Caller,
    q: &HashMap<String, String>,
    said: Option<(bool, String)>,
    typed: Option<Typed>,
) -> Response {
    // A refused filter is shown on the page with what was typed, never as the API's JSON.
    let (q, mut problem) = match list_query(q) {
        Ok(_) => (q.clone(), None),
        Err(e) => {
            let (field, message) = e.parts();
            let field = if field == "show" {
                field
            } else {
                "show".into()
            };
            (HashMap::new(), Some((field, message)))
        }
    };
    let (v, lq, total, list) = match listed(state, caller, &q, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let mut notice = None;
    let mut refused_at = None;
    match said {
        Some((true, m)) => notice = Some(m),
        Some((false, m)) => problem = Some((String::new(), m)),
        None => {}
    }
    let rows: Vec<Row> = list
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mine = typed.as_ref().filter(|(h, o, role, _)| {
                *h == r.holder_uuid && *o == r.ods_code && *role == r.role_code
            });
            if mine.is_some() {
                refused_at = Some(i + 1);
            }
            Row {
                uuid: r.holder_uuid.clone(),
                name: r.name.clone(),
                site: r.site_ods.clone(),
                ods: r.ods_code.clone(),
                role_code: r.role_code.clone(),
                role: format!("{} ({}) at {}", r.role_name, r.role_code, r.ods_code),
                activities: r.activity_codes.clone(),
                approved: r.approved_on.as_deref().map_or("Not recorded".into(), |d| {
                    cardwatch_core::date::Date::parse(d).map_or_else(|_| d.to_owned(), |d| d.long())
                }),
                last: r.last.as_ref().map_or("Never".to_owned(), |d| {
                    let what = match d.decision.as_str() {
                        "keep" => "Kept",
                        "remove" => "Removed",
                        other => other,
                    };
                    let who = d.reviewer.strip_prefix("web:").unwrap_or(&d.reviewer);
                    format!("{what} by {who} on {}: {}", d.at.date().long(), d.reason)
                }),
                reason: mine.map_or(String::new(), |t| t.3.clone()),
            }
        })
        .collect();
    // A refused decision's summary links to the reason on its row, or to the table.
    if let Some((field, _)) = problem.as_mut().filter(|(f, _)| f.is_empty()) {
        *field = refused_at.map_or("decisions".into(), |i| format!("why-{i}"));
    }
    let show = if lq.all { "all" } else { "due" };
    // A plain link: the template escapes it.
    let pages = layout::pager(lq.offset, lq.limit, total as usize, |offset| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("show", show)
            .append_pair("offset", &offset.to_string())
            .append_pair("limit", &lq.limit.to_string());
        format!("/reviews?{}", query.finish())
    });
    let which = if lq.all {
        format!("{} in force.", roles(total))
    } else {
        format!(
            "{} in force not reviewed in the last {REVIEW_EVERY_DAYS} days.",
            roles(total)
        )
    };
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = ReviewsPage {
        problem,
        notice,
        which,
        all: lq.all,
        decides: v.caller.user.user.role.can(Permission::ManageCards),
        csrf: &v.caller.csrf,
        rows,
        pages,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&page).unwrap_or_default();
    (
        status,
        layout::page("Access reviews", Some(&v.caller), &body),
    )
        .into_response()
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
    PageForm(f): PageForm<DecisionForm>,
) -> Response {
    let v = match form_viewer(&state, caller, Permission::ManageCards, &f.csrf).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let no_query = HashMap::new();
    // A refused decision shows every position, so the row it was typed on is there to keep it.
    let every = HashMap::from([("show".to_owned(), "all".to_owned())]);
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
    let typed = Some((
        holder.clone(),
        f.ods_code.trim().to_ascii_uppercase(),
        f.role_code.trim().to_ascii_uppercase(),
        f.reason.clone(),
    ));
    let decision = match Decision::parse(&f.decision) {
        Ok(_) if reason.is_empty() || reason.chars().count() > 200 => {
            let m = "Say why you keep or remove this role, in 1 to 200 characters, like “still works here as a GP”: the reason is kept in the audit log.";
            return render(&state, v.caller, &every, Some((false, m.into())), typed).await;
        }
        Ok(d) => d,
        Err(m) => return render(&state, v.caller, &every, Some((false, m)), typed).await,
    };
    let change = change(&v.caller, &state);
    let (ods, role) = (
        f.ods_code.trim().to_ascii_uppercase(),
        f.role_code.trim().to_ascii_uppercase(),
    );
    let typed_again = Some((holder.clone(), ods.clone(), role.clone(), f.reason.clone()));
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
        Ok((true, m)) => render(&state, v.caller, &no_query, Some((true, m)), None).await,
        Ok(refused) => render(&state, v.caller, &every, Some(refused), typed_again).await,
        Err(r) => *r,
    }
}
