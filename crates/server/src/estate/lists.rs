//! The estate's lists: `GET /estate/{kind}` (a page) and `GET /api/v1/estate/{kind}` (JSON or
//! CSV) for organisations, sites, people, workstations, readers, stock and integrations — each
//! filtered by the start of a few columns, sorted by an indexed column, paged by cursor, and
//! limited to the caller's sites. People need the right to see people.
//!
//! At national scale (a million people) a page is one keyset read in the store
//! (`cardwatch_store::lists`): a cursor names the last row shown, never a number of rows to
//! skip, and the total comes from the per-site counts the store keeps.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::catalogue::Catalogue;
use cardwatch_core::records::{row_json, Kind, Value};
use cardwatch_store::lists::{self, ListQuery, Listed, Position, Total};
use serde_json::{json, Map};

use crate::prevent::overview::thousands;
use crate::web::auth::Caller;
use crate::web::blocking;
use crate::web::counted;
use crate::web::csv_streamed;
use crate::web::cursor::{decode, encode};
use crate::web::page_of;
use crate::web::scope::{viewer, Viewer};
use crate::web::{bad_request, BadParam};
use crate::AppState;

/// Each kind listed with the columns it sorts by, for the API document.
pub(crate) fn kinds() -> impl Iterator<Item = (&'static str, Vec<&'static str>)> {
    lists::LISTED
        .iter()
        .map(|l| (l.kind.name(), l.sortable.to_vec()))
}

/// A CSV download's rows read at a time.
const CSV_PAGE: usize = 5000;

struct Params {
    listed: &'static Listed,
    filter: Option<String>,
    sort: &'static str,
    descending: bool,
    from: Option<Position>,
    limit: usize,
    csv: bool,
}

fn params(kind: &str, q: &HashMap<String, String>) -> Result<Params, BadParam> {
    let listed = lists::LISTED
        .iter()
        .find(|l| l.kind.name() == kind)
        .ok_or_else(|| {
            let names: Vec<&str> = lists::LISTED.iter().map(|l| l.kind.name()).collect();
            bad_request(
                "kind",
                format!(
                    "{kind:?} is not listed here — use one of: {}",
                    names.join(", ")
                ),
            )
        })?;
    const KNOWN: [&str; 6] = ["q", "sort", "order", "cursor", "limit", "format"];
    if q.contains_key("offset") {
        return Err(bad_request(
            "offset",
            "offset is not taken: a long list is paged by cursor — leave offset out for the \
             first page, then pass the answer's next_cursor as cursor"
                .into(),
        ));
    }
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        ));
    }
    let kind = listed.kind;
    let cols = kind.columns();
    let text = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let sort = match text("sort") {
        None => listed.sortable[0],
        Some(c) => match listed.sortable.iter().find(|s| **s == c) {
            Some(s) => s,
            None => {
                let choices = listed.sortable.join(", ");
                let why = if cols.iter().any(|x| x.name == c) {
                    format!("{kind} are not sorted by {c:?} (no index keeps them in that order)")
                } else {
                    format!("{kind} has no column {c:?}")
                };
                return Err(bad_request(
                    "sort",
                    format!("{why} — sort by one of: {choices}"),
                ));
            }
        },
    };
    let descending = match text("order") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(o) => return Err(bad_request("order", format!("{o:?} is not asc or desc"))),
    };
    let limit = match text("limit") {
        None => 100,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=5000).contains(n))
            .ok_or_else(|| {
                bad_request(
                    "limit",
                    format!("{v:?} is not a whole number from 1 to 5000"),
                )
            })?,
    };
    let width = 1
        + (0..kind.key_len())
            .filter(|&k| cols[k].name != sort)
            .count();
    let from = match text("cursor") {
        None => None,
        Some(c) => Some(decode(c, width)?),
    };
    let filter = text("q").map(str::to_owned);
    if filter.as_deref().is_some_and(|f| f.contains('\0')) {
        return Err(bad_request(
            "q",
            "the filter holds a NUL character, which no record does — type the text again".into(),
        ));
    }
    Ok(Params {
        listed,
        filter,
        sort,
        descending,
        from,
        limit,
        csv: match text("format") {
            None | Some("json") | Some("html") => false,
            Some("csv") => true,
            Some(f) => return Err(bad_request("format", format!("{f:?} is not json or csv"))),
        },
    })
}

/// The store's query for the caller's page of the list.
fn query(v: &Viewer, p: &Params) -> ListQuery {
    ListQuery {
        kind: p.listed.kind,
        sites: v.visible_sites(),
        prefix: p.filter.clone(),
        meaning: p
            .filter
            .as_deref()
            .map(|typed| super::codes_meaning(p.listed.kind, typed))
            .unwrap_or_default(),
        sort: p.sort,
        descending: p.descending,
        from: p.from.clone(),
        limit: p.limit,
    }
}

/// The cursors of the pages either side of one read: (previous, next).
fn cursors(p: &Params, q: &ListQuery, page: &lists::ListPage) -> (Option<String>, Option<String>) {
    let (Some(first), Some(last)) = (page.rows.first(), page.rows.last()) else {
        return (None, None);
    };
    let back = p.from.as_ref().is_some_and(|f| f.before);
    let previous = if back { page.more } else { p.from.is_some() };
    let next = if back { true } else { page.more };
    (
        previous.then(|| encode(q.position_of(first, true))),
        next.then(|| encode(q.position_of(last, false))),
    )
}

async fn prepared(
    state: &AppState,
    caller: Caller,
    kind: &str,
    q: &HashMap<String, String>,
    api: bool,
) -> Result<(Viewer, Params), Response> {
    let p = params(kind, q).map_err(IntoResponse::into_response)?;
    let need = if p.listed.kind == Kind::People {
        Permission::ViewPeople
    } else {
        Permission::ViewEstate
    };
    let v = viewer(state, caller, need, api).await?;
    Ok((v, p))
}

async fn read(state: &AppState, q: ListQuery) -> Result<lists::ListPage, Response> {
    blocking(state, move |s| s.list_page(&q))
        .await
        .map_err(IntoResponse::into_response)
}

/// Every row of the list as CSV, streamed: read a page at a time by cursor and sent as it is
/// written, so a million rows never sit in memory.
fn csv_stream(state: &AppState, mut q: ListQuery) -> Response {
    let kind = q.kind;
    let header = kind.columns().iter().map(|c| c.name).collect();
    csv_streamed(
        state,
        format!("{}.csv", kind.name()),
        header,
        move |store, out| {
            q.from = None;
            q.limit = CSV_PAGE;
            loop {
                let page = store
                    .list_page(&q)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                for r in &page.rows {
                    out.row(r.iter().map(Value::to_csv))?;
                }
                match page.rows.last() {
                    Some(last) if page.more => q.from = Some(q.position_of(last, false)),
                    _ => return Ok(()),
                }
            }
        },
    )
}

pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (v, p) = match prepared(&state, caller, &kind, &q, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let query = query(&v, &p);
    if p.csv {
        return csv_stream(&state, query);
    }
    let page = match read(&state, query.clone()).await {
        Ok(page) => page,
        Err(r) => return r,
    };
    let (previous, next) = cursors(&p, &query, &page);
    let (total, exact) = match page.total {
        Total::Exact(n) => (n, true),
        Total::MoreThan(n) => (n, false),
    };
    let kind = p.listed.kind;
    let items: Vec<Map<String, serde_json::Value>> =
        page.rows.iter().map(|r| row_json(kind, r)).collect();
    axum::Json(json!({
        "kind": kind.name(),
        "total": total,
        "total_exact": exact,
        "limit": p.limit,
        "items": items,
        "next_cursor": next,
        "previous_cursor": previous,
    }))
    .into_response()
}

/// Each list's title and what one and many of its records are called.
fn named(kind: Kind) -> (&'static str, &'static str, &'static str) {
    match kind {
        Kind::Organisations => ("Organisations", "organisation", "organisations"),
        Kind::Sites => ("Sites", "site", "sites"),
        Kind::People => ("People", "person", "people"),
        Kind::Workstations => ("Workstations", "workstation", "workstations"),
        Kind::Readers => ("Card readers", "card reader", "card readers"),
        Kind::Stock => ("Spare stock", "stock item", "stock items"),
        Kind::Integrations => ("Integrations", "integration", "integrations"),
        _ => ("Records", "record", "records"),
    }
}

/// A column's name as the desk says it, not as the import file spells it.
pub(crate) fn column_label(name: &str) -> String {
    let plain = match name {
        "ods_code" => "Organisation code",
        "name" => "Name",
        "type" => "Type",
        "parent_ods" => "Part of (organisation code)",
        "status" => "Status",
        "closed_on" => "Closed on",
        "site_ods" => "Site code",
        "organisation_ods" => "Organisation code",
        "core_hours" => "Opening hours",
        "uuid" => "User ID (UUID)",
        "email" => "Email",
        "staff_role" => "Job",
        "employment_end" => "Employment ends",
        "local_admin" => "Local administrator",
        "ra_roles" => "Registration Authority roles",
        "hostname" => "Computer name",
        "os" => "Operating system",
        "os_build" => "Windows version",
        "update_ring" => "Update group",
        "last_seen" => "Last seen",
        "update_window" => "Update time",
        "applications" => "Applications",
        "reader_serial" => "Reader serial number",
        "vendor" => "Maker",
        "model" => "Model",
        "firmware" => "Firmware",
        "item" => "Item",
        "quantity" => "In stock",
        "minimum" => "Keep at least",
        "integration" => "Integration",
        "service" => "Service",
        "clinical_system" => "Clinical system",
        "required_roles" => "Roles the cards need",
        "required_activity_codes" => "Activity codes the cards need",
        "emis_cdb" => "Practice EMIS CDB",
        "service_emis_cdb" => "Service's EMIS CDB",
        "systmone_profile" => "Practice SystmOne profile",
        "service_systmone_profile" => "Service's SystmOne profile",
        other => return sentence(&other.replace('_', " ")),
    };
    plain.to_owned()
}

/// A code written as words: "practice_manager" becomes "Practice manager".
pub(crate) fn sentence(code: &str) -> String {
    let words = code.replace('_', " ");
    let mut chars = words.chars();
    chars.next().map_or(String::new(), |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A value as a person reads it: dates written out, yes or no, nothing as a dash.
fn shown(v: &Value) -> String {
    match v {
        Value::Null => "—".to_owned(),
        Value::Bool(true) => "Yes".to_owned(),
        Value::Bool(false) => "No".to_owned(),
        Value::Date(d) => d.long(),
        Value::Timestamp(t) => t.long(),
        other => other.to_csv(),
    }
}

/// A cell as a person reads it: a stored code in words (the estate module's `*_words`, one for
/// each column holding codes), anything else as [`shown`] writes it. Only the page's cells: the
/// filter, the sort, the CSV and the JSON keep the codes as stored.
fn cell_text(kind: Kind, column: &str, v: &Value, catalogue: &Catalogue) -> String {
    let Value::Text(code) = v else {
        return shown(v);
    };
    match (kind, column) {
        (Kind::Organisations, "type") => super::org_type_words(code),
        (Kind::Organisations, "status") => super::org_status_words(code),
        (Kind::People, "ra_roles") => super::ra_roles_words(code),
        (Kind::Workstations, "update_ring") => super::update_ring_words(code),
        (Kind::Workstations, "applications") => super::applications_words(catalogue, code),
        (Kind::Readers, "status") => super::reader_status_words(code),
        (Kind::Stock, "item") => super::stock_item_words(code),
        (Kind::Integrations, "clinical_system") => super::clinical_system_words(code),
        _ => shown(v),
    }
}

#[derive(askama::Template)]
#[template(path = "estate_list.html")]
struct ListPage {
    problem: Option<(String, String)>,
    kinds: Vec<(String, &'static str, bool)>,
    name: &'static str,
    title: &'static str,
    many: &'static str,
    listed: bool,
    filter: String,
    matches: String,
    columns: Vec<(&'static str, String)>,
    sort: String,
    descending: bool,
    csv: String,
    count: String,
    head: Vec<crate::web::layout::Column>,
    rows: Vec<Vec<Cell>>,
    pages: crate::web::layout::Pager,
}

struct Cell {
    text: String,
    link: Option<String>,
}

/// The fields the page's form has: a refusal of any other parameter points at the filter.
fn anchor(field: &str) -> String {
    match field {
        "sort" | "order" => field.to_owned(),
        "kind" => "kinds".to_owned(),
        _ => "q".to_owned(),
    }
}

/// A column's label inside a sentence: "Computer name" as "computer name", "User ID (UUID)"
/// as "user ID (UUID)".
fn in_sentence(label: &str) -> String {
    let mut chars = label.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if second.is_lowercase() || second == ' ' => {
            first.to_lowercase().chain(label.chars().skip(1)).collect()
        }
        _ => label.to_owned(),
    }
}

/// "a", "a or b", "a, b or c".
fn alternatives(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

/// What the filter matches, said plainly: "Finds people whose user ID (UUID) or name starts
/// with what you type, or whose surname does, in capitals or not."; a list with columns shown
/// in words adds "or whose status says it".
fn matches(listed: &Listed, many: &str) -> String {
    let labels: Vec<String> = listed
        .matched
        .iter()
        .chain(listed.coded)
        .map(|c| in_sentence(&column_label(c)))
        .collect();
    let surname = if listed.surname.is_some() {
        ", or whose surname does"
    } else if listed.any_word.is_some() {
        ", or any word of whose name does"
    } else {
        ""
    };
    let worded: Vec<String> = super::worded(listed.kind)
        .iter()
        .map(|(c, _)| in_sentence(&column_label(c)))
        .collect();
    let says = if worded.is_empty() {
        String::new()
    } else {
        format!(", or whose {} says it", worded.join(" or "))
    };
    format!(
        "Finds {many} whose {} starts with what you type{surname}{says}, in capitals or not.",
        alternatives(&labels)
    )
}

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    // A refused parameter is shown on the page with what was typed; the list is shown without
    // it (each refused one dropped in turn), not answered with the API's JSON.
    let mut kept = q.clone();
    let mut problem = None;
    let mut status = StatusCode::OK;
    while let Err(e) = params(&kind, &kept) {
        let (field, message) = e.parts();
        status = StatusCode::BAD_REQUEST;
        if field == "kind" {
            status = StatusCode::NOT_FOUND;
            problem = Some((anchor(&field), message));
            break;
        }
        problem.get_or_insert((anchor(&field), message));
        if kept.remove(&field).is_none() {
            break;
        }
    }
    let typed = q.get("q").cloned().unwrap_or_default();
    let kinds = |current: Option<Kind>| {
        lists::LISTED
            .iter()
            .map(|l| {
                (
                    page_of("estate", l.kind.name()),
                    named(l.kind).0,
                    Some(l.kind) == current,
                )
            })
            .collect::<Vec<_>>()
    };
    if status == StatusCode::NOT_FOUND {
        let v = match viewer(&state, caller, Permission::ViewEstate, false).await {
            Ok(v) => v,
            Err(r) => return r,
        };
        let list = ListPage {
            problem,
            kinds: kinds(None),
            name: "",
            title: "",
            many: "",
            listed: false,
            filter: String::new(),
            matches: String::new(),
            columns: Vec::new(),
            sort: String::new(),
            descending: false,
            csv: String::new(),
            count: String::new(),
            head: Vec::new(),
            rows: Vec::new(),
            pages: crate::web::layout::Pager::default(),
        };
        return respond(status, "No such list", &v.caller, &list);
    }
    let (v, p) = match prepared(&state, caller, &kind, &kept, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let query = query(&v, &p);
    let found = match read(&state, query.clone()).await {
        Ok(page) => page,
        Err(r) => return r,
    };
    let kind = p.listed.kind;
    let cols = kind.columns();
    let name = kind.name();
    let filter = p.filter.clone().unwrap_or_default();
    let link = |sort: &str, descending: bool, cursor: Option<&str>, csv: bool| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("q", &filter);
        if csv {
            query.append_pair("format", "csv");
            return format!("/api/v1/estate/{name}?{}", query.finish());
        }
        query
            .append_pair("sort", sort)
            .append_pair("order", if descending { "desc" } else { "asc" });
        if let Some(c) = cursor {
            query.append_pair("cursor", c);
        }
        query.append_pair("limit", &p.limit.to_string());
        format!("/estate/{name}?{}", query.finish())
    };
    let labels: Vec<String> = cols.iter().map(|c| column_label(c.name)).collect();
    // Only the indexed columns sort: the others' headers are plain.
    let keys: Vec<(&str, &str)> = labels
        .iter()
        .zip(cols)
        .map(|(label, c)| {
            let key = if p.listed.sortable.contains(&c.name) {
                c.name
            } else {
                ""
            };
            (label.as_str(), key)
        })
        .collect();
    // Plain links: the templates escape them.
    let head =
        crate::web::layout::sortable_header(&keys, p.sort, p.descending, |key, descending| {
            link(key, descending, None, false)
        });
    let (title, one, many) = named(kind);
    let (previous, next) = cursors(&p, &query, &found);
    let pages = crate::web::layout::Pager {
        previous: previous.map(|c| crate::web::layout::PageLink {
            href: link(p.sort, p.descending, Some(&c), false),
            label: format!("The {} {many} before these", p.limit),
        }),
        next: next.map(|c| crate::web::layout::PageLink {
            href: link(p.sort, p.descending, Some(&c), false),
            label: format!("Up to {} more {many}", p.limit),
        }),
    };
    // A person's UUID, a workstation's name and an integration's id open their pages.
    let opens = match kind {
        Kind::People => Some("people"),
        Kind::Workstations => Some("workstations"),
        Kind::Integrations => Some("integrations"),
        _ => None,
    };
    let catalogue = &state.checks.catalogue;
    let rows = found
        .rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, x)| Cell {
                    text: cell_text(kind, cols[i].name, x, catalogue),
                    link: opens
                        .filter(|_| i == 0)
                        .map(|section| page_of(section, &x.to_csv())),
                })
                .collect()
        })
        .collect();
    let count = match found.total {
        Total::Exact(n) => format!("{}.", counted(n, one, many)),
        Total::MoreThan(n) => format!("More than {} {many} match.", thousands(n)),
    };
    let list = ListPage {
        problem,
        kinds: kinds(Some(kind)),
        name,
        title,
        many,
        listed: true,
        filter: if typed.trim().is_empty() {
            filter.clone()
        } else {
            typed
        },
        matches: matches(p.listed, many),
        columns: p
            .listed
            .sortable
            .iter()
            .map(|c| (*c, column_label(c)))
            .collect(),
        sort: p.sort.to_owned(),
        descending: p.descending,
        csv: link(p.sort, p.descending, None, true),
        count,
        head,
        rows,
        pages,
    };
    respond(status, title, &v.caller, &list)
}

fn respond(status: StatusCode, title: &str, caller: &Caller, list: &ListPage) -> Response {
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(list).unwrap_or_default();
    (status, crate::web::layout::page(title, Some(caller), &body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(lists::COUNT_CAP), "1,000");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
    }

    #[test]
    fn the_filter_is_described_in_plain_words() {
        let people = lists::listed(Kind::People).expect("listed");
        assert_eq!(
            matches(people, "people"),
            "Finds people whose user ID (UUID), name or site code starts with what you type, or whose surname does, in capitals or not."
        );
        let readers = lists::listed(Kind::Readers).expect("listed");
        assert_eq!(
            matches(readers, "card readers"),
            "Finds card readers whose reader serial number, model or site code starts with what you type, or whose status says it, in capitals or not."
        );
        let sites = lists::listed(Kind::Sites).expect("listed");
        assert_eq!(
            matches(sites, "sites"),
            "Finds sites whose site code or name starts with what you type, or any word of whose name does, in capitals or not."
        );
    }
}
