//! The estate's lists: `GET /estate/{kind}` (a page) and `GET /api/v1/estate/{kind}` (JSON or
//! CSV) for organisations, sites, people, workstations, readers, stock and integrations — each filtered by
//! text, sorted by any column, paged, and limited to the caller's sites. People need the right
//! to see people.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Permission;
use cardwatch_core::records::{row_json, to_values, Kind, Value};
use serde_json::{json, Map};

use crate::web::auth::Caller;
use crate::web::scope::{viewer, Viewer};
use crate::web::{bad_request, BadParam};
use crate::web::{blocking, escape};
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
        offset: number("offset", 0, usize::MAX)?,
        limit: number("limit", 100, 5000)?.max(1),
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

pub(crate) async fn page(
    State(state): State<AppState>,
    caller: Caller,
    Path(kind): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (v, p, found) = match prepared(&state, caller, &kind, &q, false).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cols = p.kind.columns();
    let name = p.kind.name();
    let filter = p.filter.clone().unwrap_or_default();
    let link = |sort: usize, desc: bool, offset: usize| {
        format!(
            "/estate/{name}?q={}&amp;sort={}&amp;order={}&amp;offset={offset}&amp;limit={}",
            crate::web::enc(&filter),
            cols[sort].name,
            if desc { "desc" } else { "asc" },
            p.limit
        )
    };
    let mut head = String::new();
    for (i, c) in cols.iter().enumerate() {
        let desc = i == p.sort && !p.descending;
        let mark = match (i == p.sort, p.descending) {
            (true, false) => " ▲",
            (true, true) => " ▼",
            _ => "",
        };
        let sorted = match (i == p.sort, p.descending) {
            (true, false) => " aria-sort=\"ascending\"",
            (true, true) => " aria-sort=\"descending\"",
            _ => "",
        };
        let _ = write!(head, "<th class=\"nhsuk-table__header\" scope=\"col\"{sorted}><a href=\"{}\">{}{mark}</a></th>", link(i, desc, 0), c.name.replace('_', " "));
    }
    let mut body_rows = String::new();
    for r in found.iter().skip(p.offset).take(p.limit) {
        body_rows.push_str("<tr class=\"nhsuk-table__row\">");
        for (i, x) in r.iter().enumerate() {
            let text = escape(&x.to_csv());
            // A person's UUID, a workstation's name and an integration's id open their pages.
            let page = match (p.kind, i) {
                (Kind::People, 0) => Some("people"),
                (Kind::Workstations, 0) => Some("workstations"),
                (Kind::Integrations, 0) => Some("integrations"),
                _ => None,
            };
            if let Some(page) = page {
                let _ = write!(
                    body_rows,
                    "<td class=\"nhsuk-table__cell\"><a href=\"/{page}/{text}\">{text}</a></td>"
                );
            } else {
                let _ = write!(body_rows, "<td class=\"nhsuk-table__cell\">{text}</td>");
            }
        }
        body_rows.push_str("</tr>\n");
    }
    let mut pager = String::new();
    if p.offset > 0 {
        let _ = write!(
            pager,
            "<a href=\"{}\">Previous</a> ",
            link(p.sort, p.descending, p.offset.saturating_sub(p.limit))
        );
    }
    if p.offset + p.limit < found.len() {
        let _ = write!(
            pager,
            "<a href=\"{}\">Next</a>",
            link(p.sort, p.descending, p.offset + p.limit)
        );
    }
    let kinds: String = LISTED
        .iter()
        .map(|(k, _)| format!("<a href=\"/estate/{0}\">{0}</a>", k.name()))
        .collect::<Vec<_>>()
        .join(" · ");
    let body = format!(
        "<p class=\"nhsuk-body\">{kinds}</p>\n<form method=\"get\" class=\"nhsuk-u-margin-bottom-4\"><div class=\"nhsuk-form-group\">\
         <label class=\"nhsuk-label\" for=\"q\">Filter (any column contains)</label>\
         <input class=\"nhsuk-input nhsuk-input--width-20\" id=\"q\" name=\"q\" value=\"{f}\"></div>\
         <button class=\"nhsuk-button nhsuk-button--secondary\">Filter</button> \
         <a href=\"/api/v1/estate/{name}?q={fq}&amp;format=csv\">Download CSV</a></form>\n\
         <p class=\"nhsuk-body\">{total} record(s).</p>\n<table class=\"nhsuk-table\"><thead class=\"nhsuk-table__head\"><tr class=\"nhsuk-table__row\">{head}</tr></thead>\n\
         <tbody class=\"nhsuk-table__body\">\n{body_rows}</tbody></table>\n<p class=\"nhsuk-body\">{pager}</p>",
        f = escape(&filter),
        fq = crate::web::enc(&filter),
        total = found.len(),
    );
    let mut title = name.to_owned();
    if let Some(first) = title.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    crate::web::layout::page(&title, Some(&v.caller), &body).into_response()
}
