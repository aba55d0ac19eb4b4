//! Access reviews (`/reviews`, JSON twin `/api/v1/reviews`): every position in force at the
//! caller's sites, with its latest decision; those not reviewed within a year are due. Operators
//! who manage positions attest "keep" or remove one (through the position's lifecycle), with a
//! reason; each decision is audited.
//!
//! At national size (a million positions in force) both read a page at a time by keyset
//! (`cardwatch_store::reviews::reviews_page`), with cursors of five values, and count the list
//! once, then follow the changes the audit chain records ([`counts`]) rather than count on every
//! request. The whole estate's count, which every administrator shares, begins as the server
//! starts ([`read_ahead`]).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cardwatch_core::access::Permission;
use cardwatch_core::date::Timestamp;
use cardwatch_core::records::Kind;
use cardwatch_store::lists::Position;
use cardwatch_store::reviews::{
    carried, decide as decide_on, review_counts_at, reviews_page, CountedAt, Decision,
    ReviewCounts, ReviewPlace, ReviewsFrom, ReviewsPage as Page, ReviewsQuery, ToReview,
};
use serde::Deserialize;
use serde_json::json;

use crate::web::auth::Caller;
use crate::web::background::{self, Priority};
use crate::web::cursor;
use crate::web::form::PageForm;
use crate::web::scope::{form_viewer, not_found, viewer, Viewer};
use crate::web::{bad_request, BadParam};
use crate::web::{blocking, layout};
use crate::web::{change, settled};
use crate::AppState;

/// A position not reviewed for this long is due.
const REVIEW_EVERY_DAYS: i64 = 365;

/// Positions shown at a time unless asked otherwise, and at most.
const LIMIT: usize = 200;
const MAX_LIMIT: usize = 5000;

/// The list's query: due only or all, where the page starts, and how many.
struct ListQuery {
    all: bool,
    from: ReviewsFrom,
    limit: usize,
}

impl ListQuery {
    /// The offset asked for (0 when the page starts at a cursor).
    fn offset(&self) -> usize {
        match self.from {
            ReviewsFrom::Offset(n) => n,
            _ => 0,
        }
    }
}

/// A position's cursor: the estate lists' encoding ([`cursor::encode`]) of its place, five
/// values — its holder's site, name and UUID, where and which role.
fn cursor_of(r: &ToReview, before: bool) -> String {
    let at = r.place();
    cursor::encode(Position {
        before,
        values: vec![
            at.site_ods,
            at.name,
            at.holder_uuid,
            at.ods_code,
            at.role_code,
        ],
    })
}

/// The place a cursor names, or why it is refused: any text of
/// [`cursor::FIVE_VALUE_CURSOR_PATTERN`] names one (a place grants nothing: every read is
/// still limited to the caller's sites).
fn place(text: &str) -> Result<ReviewsFrom, BadParam> {
    let Position { before, values } = cursor::decode_exactly(text, 5)?;
    let [site_ods, name, holder_uuid, ods_code, role_code]: [String; 5] =
        values.try_into().map_err(|_| cursor::refused())?;
    let at = ReviewPlace {
        site_ods,
        name,
        holder_uuid,
        ods_code,
        role_code,
    };
    Ok(if before {
        ReviewsFrom::Before(at)
    } else {
        ReviewsFrom::After(at)
    })
}

fn list_query(q: &HashMap<String, String>) -> Result<ListQuery, BadParam> {
    const KNOWN: [&str; 4] = ["show", "cursor", "offset", "limit"];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        ));
    }
    let text = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let number = |k: &str, default: usize, max: usize| match text(k) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n) || (k == "offset" && *n == 0))
            .ok_or_else(|| bad_request(k, format!("{k} {v:?}: give a whole number up to {max}"))),
    };
    let all = match text("show") {
        None | Some("due") => false,
        Some("all") => true,
        Some(v) => return Err(bad_request("show", format!("show {v:?}: use due or all"))),
    };
    let offset = number("offset", 0, 1_000_000)?;
    let limit = number("limit", LIMIT, MAX_LIMIT)?;
    // A cursor says where the page starts; an offset beside it is not used (as on the
    // incidents' list), since the API's document allows each parameter on its own terms.
    let from = match text("cursor") {
        None => ReviewsFrom::Offset(offset),
        Some(c) => place(c)?,
    };
    Ok(ListQuery { all, from, limit })
}

/// The reviews list's counts, kept in the server's state: a national list's count is a pass over
/// a million positions and their decisions (seconds), where a page reads a few hundred. What it
/// counts changes only with the estate — a decision, a position coming into force or going, a
/// holder moving site: each of them audited in the transaction that makes it — or as time
/// passes a decision's anniversary. So each scope's counts are kept with the audit chain's head
/// they were counted at (read by the count's own statement) and the moment they were counted
/// for, and serve every request until the oldest decision of a position not due turns a year
/// old ([`ReviewCounts::hold_for`]).
///
/// When the chain has grown, the records written since are read
/// ([`cardwatch_store::reviews::carried`]): most changes (an incident, a card locked, a finding
/// acknowledged, a sign-in) cannot change the counts, which are carried to the new head as they
/// are; a "keep" decision moves them by its position alone (it stops being due if its newest
/// decision before was a year old or none); anything else — a removal, a change to people,
/// positions, sites or organisations, a kind of record not known — and the scope is counted
/// again, each time counted in `cardwatch_review_counts_total`. Exact, as a count on each
/// request would be. Counts kept by the database (a count per site kept by triggers, as the
/// estate lists' `list_counts`) could not follow a decision's anniversary, and a bulk import
/// loads positions with triggers off.
#[derive(Default)]
pub(crate) struct KeptCounts {
    /// By the sites a viewer sees (`None`: every site): the counts, behind a lock held while
    /// they are counted, so that callers asking at once count once.
    by_scope: HashMap<Option<Vec<String>>, Arc<tokio::sync::Mutex<Option<Counted>>>>,
}

/// One scope's counts: as counted (with the chain's head) and the moment they were counted for.
struct Counted {
    at: CountedAt,
    counted_for: Timestamp,
}

/// Scopes kept: every unscoped caller shares one, each practice or ICB its own.
const SCOPES_KEPT: usize = 1_024;

/// The kept counts of the sites a viewer sees (`None`: every site).
fn scope_slot(
    state: &AppState,
    sites: &Option<Vec<String>>,
) -> Arc<tokio::sync::Mutex<Option<Counted>>> {
    let mut kept = state.reviews.lock().unwrap_or_else(|e| e.into_inner());
    if kept.by_scope.len() >= SCOPES_KEPT && !kept.by_scope.contains_key(sites) {
        kept.by_scope.clear();
    }
    kept.by_scope.entry(sites.clone()).or_default().clone()
}

/// Starts counting the list for those who see every site as the server starts, so that the
/// first administrator's `/reviews` finds the counts made or being made (seconds at national
/// size) instead of starting them. The scope's counts are taken before this returns: a request
/// arriving first waits for this count rather than starting a second.
pub(crate) fn read_ahead(state: AppState) {
    let Ok(mut slot) = scope_slot(&state, &None).try_lock_owned() else {
        return;
    };
    let not_since = due_before((state.now)());
    tokio::spawn(async move {
        let counted = background::blocking(&state, Priority::Background, move |s| {
            review_counts_at(s, None, not_since)
        })
        .await;
        // A failure is the first request's to report: it counts again.
        if let Ok(at) = counted {
            state.metrics.review_counted();
            *slot = Some(Counted {
                at,
                counted_for: not_since,
            });
        }
    });
}

/// The moment a position's newest decision must be after not to be due, at `now`.
fn due_before(now: Timestamp) -> Timestamp {
    Timestamp::from_unix(now.unix() - REVIEW_EVERY_DAYS * 86_400)
}

/// The positions in force and those due in a viewer's scope, from those kept when they hold.
async fn counts(
    state: &AppState,
    v: &Viewer,
    sites: Option<Vec<String>>,
    not_since: Timestamp,
) -> Result<ReviewCounts, Response> {
    // The chain's length as the request found it (a scoped viewer's was read with its sites).
    let length = match v.version {
        Some(l) => l,
        None => crate::web::version(state).await?,
    };
    let mut slot = scope_slot(state, &sites).lock_owned().await;
    if let Some(c) = slot
        .as_ref()
        .filter(|c| c.at.counts.hold_for(c.counted_for, not_since))
    {
        if c.at.length >= length {
            return Ok(c.at.counts);
        }
        let (scope, counted_for, kept) = (sites.clone(), c.counted_for, c.at.clone());
        let moved = blocking(state, move |s| {
            carried(s, scope.as_deref(), counted_for, &kept)
        })
        .await
        .map_err(IntoResponse::into_response)?;
        match moved {
            // A keep dated before the moment asked for could fall due by it.
            Ok(at) if at.counts.hold_for(counted_for, not_since) => {
                let counts = at.counts;
                *slot = Some(Counted { at, counted_for });
                return Ok(counts);
            }
            Ok(_) => tracing::debug!("access reviews counted again: a keep falls due"),
            Err(why) => tracing::debug!(%why, "access reviews counted again"),
        }
    }
    let scope = sites.clone();
    let at = blocking(state, move |s| {
        review_counts_at(s, scope.as_deref(), not_since)
    })
    .await
    .map_err(IntoResponse::into_response)?;
    state.metrics.review_counted();
    let counts = at.counts;
    *slot = Some(Counted {
        at,
        counted_for: not_since,
    });
    Ok(counts)
}

/// A page of the list as asked, with its count and the cursors either side of it.
struct Listed {
    v: Viewer,
    lq: ListQuery,
    /// Every position the list holds (due ones, or all): not only the page's.
    total: u64,
    page: Page,
    previous: Option<String>,
    next: Option<String>,
}

async fn listed(
    state: &AppState,
    caller: Caller,
    q: &HashMap<String, String>,
    api: bool,
) -> Result<Listed, Response> {
    let v = viewer(state, caller, Permission::ViewPeople, api).await?;
    let lq = list_query(q).map_err(IntoResponse::into_response)?;
    let now = (state.now)();
    let cutoff = due_before(now);
    let sites = v.visible_sites();
    let counted = counts(state, &v, sites.clone(), cutoff).await?;
    let query = ReviewsQuery {
        sites,
        not_since: (!lq.all).then_some(cutoff),
        from: lq.from.clone(),
        limit: lq.limit,
    };
    let page = blocking(state, move |s| reviews_page(s, &query))
        .await
        .map_err(IntoResponse::into_response)?;
    let back = matches!(lq.from, ReviewsFrom::Before(_));
    let started = lq.from != ReviewsFrom::Offset(0);
    let (previous, next) = match (page.positions.first(), page.positions.last()) {
        (Some(first), Some(last)) => (
            (if back { page.more } else { started }).then(|| cursor_of(first, true)),
            (back || page.more).then(|| cursor_of(last, false)),
        ),
        _ => (None, None),
    };
    Ok(Listed {
        v,
        total: if lq.all {
            counted.in_force
        } else {
            counted.due
        },
        lq,
        page,
        previous,
        next,
    })
}

/// `GET /api/v1/reviews`
pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match listed(&state, caller, &q, true).await {
        Ok(l) => Json(json!({
            "total": l.total, "offset": l.lq.offset(), "limit": l.lq.limit,
            "due_after_days": REVIEW_EVERY_DAYS,
            "positions": l.page.positions,
            "next_cursor": l.next, "previous_cursor": l.previous,
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
    // A refused filter or cursor is shown on the page over the first page, never as the API's
    // JSON.
    let (q, mut problem) = match list_query(q) {
        Ok(_) => (q.clone(), None),
        Err(e) => {
            let (field, message) = e.parts();
            let message = if field == "cursor" {
                "That link is not to a page of this list, so the first page is shown: use the \
                 Previous and Next links below the roles"
                    .to_owned()
            } else {
                message
            };
            // The summary links to the list's sentence, where show is chosen.
            (HashMap::new(), Some(("show".to_owned(), message)))
        }
    };
    let Listed {
        v,
        lq,
        total,
        page: list,
        previous,
        next,
    } = match listed(state, caller, &q, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let names = crate::web::sites::names(state, &v).await;
    let mut notice = None;
    let mut refused_at = None;
    match said {
        Some((true, m)) => notice = Some(m),
        Some((false, m)) => problem = Some((String::new(), m)),
        None => {}
    }
    let rows: Vec<Row> = list
        .positions
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
                site: crate::web::sites::named(&r.site_ods, &names),
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
    // Plain links, keeping what is shown: the template escapes them.
    let link = |c: String| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("show", show).append_pair("cursor", &c);
        if lq.limit != LIMIT {
            query.append_pair("limit", &lq.limit.to_string());
        }
        format!("/reviews?{}", query.finish())
    };
    let pages = layout::Pager {
        previous: previous.map(|c| layout::PageLink {
            href: link(c),
            label: format!("The {} roles before these", lq.limit),
        }),
        next: next.map(|c| layout::PageLink {
            href: link(c),
            label: format!("Up to {} more roles", lq.limit),
        }),
    };
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
