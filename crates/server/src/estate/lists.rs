//! The estate's lists: `GET /estate/{kind}` (a page) and `GET /api/v1/estate/{kind}` (JSON or
//! CSV) for organisations, sites, people, workstations, readers, stock and integrations — each filtered by
//! text, sorted by any column, paged, and limited to the caller's sites. People need the right
//! to see people.

use std::cmp::Ordering;
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::records::{row_json, to_values, Kind, Value};
use serde_json::{json, Map};

use crate::web::auth::Caller;
use crate::web::blocking;
use crate::web::counted;
use crate::web::scope::{viewer, Viewer};
use crate::web::{bad_request, BadParam};
use crate::AppState;

/// The kinds listed, with the column that places a record at a site (for scoping).
const LISTED: &[(Kind, &str)] = &[
    (Kind::Organisations, "ods_code"),
    (Kind::Sites, "site_ods"),
    (Kind::People, "site_ods"),
    (Kind::Workstations, "site_ods"),
    (Kind::Readers, "site_ods"),
    (Kind::Stock, "site_ods"),
    (Kind::Integrations, "site_ods"),
];

/// Each kind listed with the columns it sorts by, for the API document.
pub(crate) fn kinds() -> impl Iterator<Item = (&'static str, Vec<&'static str>)> {
    LISTED
        .iter()
        .map(|(k, _)| (k.name(), k.columns().iter().map(|c| c.name).collect()))
}

struct Params {
    kind: Kind,
    site_col: usize,
    filter: Option<String>,
    sort: usize,
    descending: bool,
    offset: usize,
    limit: usize,
    csv: bool,
}

fn params(kind: &str, q: &HashMap<String, String>) -> Result<Params, BadParam> {
    let (kind, site) = LISTED
        .iter()
        .find(|(k, _)| k.name() == kind)
        .copied()
        .ok_or_else(|| {
            let names: Vec<&str> = LISTED.iter().map(|(k, _)| k.name()).collect();
            bad_request(
                "kind",
                format!(
                    "{kind:?} is not listed here — use one of: {}",
                    names.join(", ")
                ),
            )
        })?;
    const KNOWN: [&str; 6] = ["q", "sort", "order", "offset", "limit", "format"];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(bad_request(
            k,
            format!("unknown parameter {k:?} — use {}", KNOWN.join(", ")),
        ));
    }
    let cols = kind.columns();
    let text = |k: &str| q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let sort = match text("sort") {
        None => 0,
        Some(c) => cols.iter().position(|x| x.name == c).ok_or_else(|| {
            let names: Vec<&str> = cols.iter().map(|c| c.name).collect();
            bad_request(
                "sort",
                format!(
                    "{kind} has no column {c:?} — use one of: {}",
                    names.join(", ")
                ),
            )
        })?,
    };
    let number = |k: &str, default: usize, max: usize| -> Result<usize, BadParam> {
        match text(k) {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| bad_request(k, format!("{v:?} is not a whole number up to {max}"))),
        }
    };
    Ok(Params {
        kind,
        site_col: cols.iter().position(|c| c.name == site).unwrap_or(0),
        filter: text("q").map(str::to_lowercase),
        sort,
        descending: match text("order") {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(o) => return Err(bad_request("order", format!("{o:?} is not asc or desc"))),
        },
        offset: number("offset", 0, 1_000_000_000)?,
        limit: match number("limit", 100, 5000)? {
            0 => return Err(bad_request("limit", "limit must be 1 to 5000".into())),
            n => n,
        },
        csv: match text("format") {
            None | Some("json") | Some("html") => false,
            Some("csv") => true,
            Some(f) => return Err(bad_request("format", format!("{f:?} is not json or csv"))),
        },
    })
}

fn cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Greater,
        (_, Value::Null) => Ordering::Less,
        _ => a.to_csv().cmp(&b.to_csv()),
    }
}

/// The caller's records of a kind, filtered and sorted: (all that match, the page's).
async fn rows(state: &AppState, v: &Viewer, p: &Params) -> Result<Vec<Vec<Value>>, Response> {
    let kind = p.kind;
    let mut all: Vec<Vec<Value>> = blocking(state, move |s| {
        let mut out = Vec::new();
        s.export(kind, &mut |cells| {
            out.push(to_values(cells));
            Ok(())
        })?;
        Ok(out)
    })
    .await
    .map_err(IntoResponse::into_response)?;
    all.retain(|r| {
        let site = r[p.site_col].to_csv();
        v.sees_site(&site)
            && p.filter
                .as_ref()
                .is_none_or(|f| r.iter().any(|x| x.to_csv().to_lowercase().contains(f)))
    });
    all.sort_by(|a, b| {
        let o = cmp(&a[p.sort], &b[p.sort]);
        if p.descending {
            o.reverse()
        } else {
            o
        }
    });
    Ok(all)
}

async fn prepared(
    state: &AppState,
    caller: Caller,
    kind: &str,
    q: &HashMap<String, String>,
    api: bool,
) -> Result<(Viewer, Params, Vec<Vec<Value>>), Response> {
    let p = params(kind, q).map_err(IntoResponse::into_response)?;
    let need = if p.kind == Kind::People {
        Permission::ViewPeople
    } else {
        Permission::ViewEstate
    };
    let v = viewer(state, caller, need, api).await?;
    let found = rows(state, &v, &p).await?;
    Ok((v, p, found))
}

pub(crate) async fn api(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (_, p, found) = match prepared(&state, caller, &kind, &q, true).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cols = p.kind.columns();
    let page = found.iter().skip(p.offset).take(p.limit);
    if p.csv {
        let header: Vec<&str> = cols.iter().map(|c| c.name).collect();
        return crate::web::csv_download(
            &format!("{}.csv", p.kind.name()),
            &header,
            found
                .iter()
                .map(|r| r.iter().map(Value::to_csv).collect::<Vec<_>>()),
        );
    }
    let items: Vec<Map<String, serde_json::Value>> = page.map(|r| row_json(p.kind, r)).collect();
    axum::Json(json!({"kind": p.kind.name(), "total": found.len(), "offset": p.offset, "limit": p.limit, "items": items})).into_response()
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

/// The path of a record's own page (`/people/{uuid}`), the key encoded as a path segment.
pub(crate) fn page_of(section: &str, key: &str) -> String {
    let Ok(mut url) = url::Url::parse("http://cardwatch/") else {
        return String::new();
    };
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.push(section).push(key);
    }
    url.path().to_owned()
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
        LISTED
            .iter()
            .map(|(k, _)| {
                (
                    page_of("estate", k.name()),
                    named(*k).0,
                    Some(*k) == current,
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
    let (v, p, found) = match prepared(&state, caller, &kind, &kept, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cols = p.kind.columns();
    let name = p.kind.name();
    let filter = p.filter.clone().unwrap_or_default();
    let link = |sort: usize, descending: bool, offset: usize, csv: bool| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("q", &filter);
        if csv {
            query.append_pair("format", "csv");
            return format!("/api/v1/estate/{name}?{}", query.finish());
        }
        query
            .append_pair("sort", cols[sort].name)
            .append_pair("order", if descending { "desc" } else { "asc" })
            .append_pair("offset", &offset.to_string())
            .append_pair("limit", &p.limit.to_string());
        format!("/estate/{name}?{}", query.finish())
    };
    let labels: Vec<String> = cols.iter().map(|c| column_label(c.name)).collect();
    let keys: Vec<(&str, &str)> = labels
        .iter()
        .zip(cols)
        .map(|(label, c)| (label.as_str(), c.name))
        .collect();
    // Plain links: the templates escape them.
    let head = crate::web::layout::sortable_header(
        &keys,
        cols[p.sort].name,
        p.descending,
        |key, descending| {
            let at = cols.iter().position(|c| c.name == key).unwrap_or(0);
            link(at, descending, 0, false)
        },
    );
    let pages = crate::web::layout::pager(p.offset, p.limit, found.len(), |offset| {
        link(p.sort, p.descending, offset, false)
    });
    // A person's UUID, a workstation's name and an integration's id open their pages.
    let opens = match p.kind {
        Kind::People => Some("people"),
        Kind::Workstations => Some("workstations"),
        Kind::Integrations => Some("integrations"),
        _ => None,
    };
    let rows = found
        .iter()
        .skip(p.offset)
        .take(p.limit)
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, x)| Cell {
                    text: shown(x),
                    link: opens
                        .filter(|_| i == 0)
                        .map(|section| page_of(section, &x.to_csv())),
                })
                .collect()
        })
        .collect();
    let (title, one, many) = named(p.kind);
    let list = ListPage {
        problem,
        kinds: kinds(Some(p.kind)),
        name,
        title,
        many,
        listed: true,
        filter: if typed.trim().is_empty() {
            filter.clone()
        } else {
            typed
        },
        columns: cols
            .iter()
            .map(|c| (c.name, column_label(c.name)))
            .collect(),
        sort: cols[p.sort].name.to_owned(),
        descending: p.descending,
        csv: link(p.sort, p.descending, 0, true),
        count: format!("{}.", counted(found.len(), one, many)),
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
