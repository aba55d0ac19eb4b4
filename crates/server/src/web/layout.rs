//! Every page in the NHS.UK frontend's look: one layout (`templates/layout.html`, checked at
//! compile time by askama) around a page's own markup, and the vendored frontend assets
//! (`assets/nhsuk`, written only by `scripts/assets`) served from the binary, with Cardwatch's
//! own stylesheet and module (`assets/cardwatch.{css,js}`) that make every page fit a phone.
//! Nothing a page loads comes from another host.

use askama::Template;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use cardwatch_core::access::Permission;

use crate::web::Caller;

#[derive(Template)]
#[template(path = "layout.html")]
struct Layout<'a> {
    title: &'a str,
    who: Option<&'a str>,
    csrf: &'a str,
    audit: bool,
    admin: bool,
    sites: bool,
    body: &'a str,
}

/// A page: `body` is markup the caller has already escaped; `caller` shows who is signed in.
pub fn page(title: &str, caller: Option<&Caller>, body: &str) -> Html<String> {
    let layout = Layout {
        title,
        who: caller.map(|c| c.user.user.username.as_str()),
        csrf: caller.map_or("", |c| c.csrf.as_str()),
        audit: caller.is_some_and(|c| c.user.user.role.can(Permission::ViewAudit)),
        admin: caller.is_some_and(|c| c.user.user.role.can(Permission::ManageUsers)),
        sites: caller.is_some_and(|c| c.user.user.role.can(Permission::EditEstate)),
        body,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    Html(layout.render().unwrap_or_default())
}

const CSS: &[u8] = include_bytes!("../../assets/nhsuk/nhsuk-frontend.min.css");
const JS: &[u8] = include_bytes!("../../assets/nhsuk/nhsuk-frontend.min.js");
const JS_ENABLED: &[u8] = include_bytes!("../../assets/js-enabled.js");
const OWN_CSS: &[u8] = include_bytes!("../../assets/cardwatch.css");
const PRINT_CSS: &[u8] = include_bytes!("../../assets/print.css");
const OWN_JS: &[u8] = include_bytes!("../../assets/cardwatch.js");

macro_rules! images {
    ($($name:literal),+ $(,)?) => {
        &[$(($name, include_bytes!(concat!("../../assets/nhsuk/images/", $name)) as &[u8])),+]
    };
}

const IMAGES: &[(&str, &[u8])] = images!(
    "favicon.ico",
    "favicon.svg",
    "nhsuk-icon-arrow-down.svg",
    "nhsuk-icon-arrow-up-down.svg",
    "nhsuk-icon-arrow-up.svg",
    "nhsuk-icon-cross.svg",
    "nhsuk-icon-mask.svg",
);

fn asset(body: &'static [u8], kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

pub(crate) async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

pub(crate) async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

pub(crate) async fn js_enabled() -> Response {
    asset(JS_ENABLED, "text/javascript; charset=utf-8")
}

pub(crate) async fn own_css() -> Response {
    asset(OWN_CSS, "text/css; charset=utf-8")
}

pub(crate) async fn print_css() -> Response {
    asset(PRINT_CSS, "text/css; charset=utf-8")
}

pub(crate) async fn own_js() -> Response {
    asset(OWN_JS, "text/javascript; charset=utf-8")
}

pub(crate) async fn image(Path(name): Path<String>) -> Response {
    match IMAGES.iter().find(|(n, _)| *n == name) {
        Some((n, body)) => asset(
            body,
            if n.ends_with(".svg") {
                "image/svg+xml"
            } else {
                "image/x-icon"
            },
        ),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

/// A table's header row whose sortable columns (those with a key) link to sorting by them — the
/// current one the other way round — and say how they are sorted (`aria-sort`).
pub(crate) fn sortable_header(
    columns: &[(&str, &str)],
    by: &str,
    descending: bool,
    link: impl Fn(&str, bool) -> String,
) -> String {
    use std::fmt::Write as _;
    let mut head = String::new();
    for (label, key) in columns {
        if key.is_empty() {
            let _ = write!(
                head,
                "<th class=\"nhsuk-table__header\" scope=\"col\">{label}</th>"
            );
            continue;
        }
        let (aria, mark) = match (*key == by, descending) {
            (true, false) => (" aria-sort=\"ascending\"", " ▲"),
            (true, true) => (" aria-sort=\"descending\"", " ▼"),
            _ => ("", ""),
        };
        let _ = write!(
            head,
            "<th class=\"nhsuk-table__header\" scope=\"col\"{aria}><a href=\"{}\">{label}{mark}</a></th>",
            link(key, *key == by && !descending)
        );
    }
    head
}

/// "Previous N" and "Next N" links for a list of `total` shown `limit` at a time from `offset`.
pub(crate) fn pager(
    offset: usize,
    limit: usize,
    total: usize,
    link: impl Fn(usize) -> String,
) -> String {
    let mut out = String::new();
    if offset > 0 {
        out.push_str(&format!(
            "<a class=\"nhsuk-link\" href=\"{}\">Previous {limit}</a> ",
            link(offset.saturating_sub(limit))
        ));
    }
    if offset + limit < total {
        out.push_str(&format!(
            "<a class=\"nhsuk-link\" href=\"{}\">Next {limit}</a>",
            link(offset + limit)
        ));
    }
    out
}
