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
    nav: Vec<NavItem>,
    body: &'a str,
}

/// A link in the header's menu, and whether the page is it (`aria-current="page"`) or inside
/// its section (`"true"`), as the NHS.UK header marks the current item.
struct NavItem {
    href: &'static str,
    label: &'static str,
    current: Option<&'static str>,
}

/// The header's sections: each link, who sees it, and the paths whose pages are in it (a path
/// ending in `/` holds everything under it).
const SECTIONS: &[(&str, &str, Option<Permission>, &[&str])] = &[
    ("/", "Overview", None, &["/reports"]),
    (
        "/estate/sites",
        "Estate",
        None,
        &[
            "/estate/",
            "/cards/",
            "/people/",
            "/workstations/",
            "/integrations/",
        ],
    ),
    ("/findings", "Findings", None, &["/findings/"]),
    ("/plan", "Renewal plan", None, &["/plan/"]),
    ("/triage", "Triage", None, &["/triage/", "/cheatsheet"]),
    ("/incidents", "Incidents", None, &["/incidents/"]),
    ("/reviews", "Reviews", None, &[]),
    ("/audit", "Audit log", Some(Permission::ViewAudit), &[]),
    (
        "/admin/sites",
        "Sites",
        Some(Permission::EditEstate),
        &["/admin/sites/"],
    ),
    (
        "/admin/users",
        "Administration",
        Some(Permission::ManageUsers),
        &["/admin/"],
    ),
];

/// The header's menu for `caller`, the link to the page asked for or to its section marked. A
/// path in two sections (`/admin/sites/…` is under `/admin/` too) is marked in the first.
fn nav(caller: &Caller) -> Vec<NavItem> {
    let path = caller.path.as_str();
    let inside = |href: &str, more: &[&str]| {
        (href != "/" && path.starts_with(&format!("{href}/")))
            || more.iter().any(|m| match m.strip_suffix('/') {
                Some(dir) => path == dir || path.starts_with(m),
                None => path == *m,
            })
    };
    let mut marked = false;
    SECTIONS
        .iter()
        .filter(|(_, _, needs, _)| needs.is_none_or(|p| caller.user.user.role.can(p)))
        .map(|&(href, label, _, more)| {
            let current = if marked {
                None
            } else if path == href {
                Some("page")
            } else if inside(href, more) {
                Some("true")
            } else {
                None
            };
            marked |= current.is_some();
            NavItem {
                href,
                label,
                current,
            }
        })
        .collect()
}

/// A page: `body` is a page's own template, rendered (escaped by askama); `caller` shows who is
/// signed in.
pub fn page(title: &str, caller: Option<&Caller>, body: &str) -> Html<String> {
    let layout = Layout {
        title,
        who: caller.map(|c| c.user.user.username.as_str()),
        csrf: caller.map_or("", |c| c.csrf.as_str()),
        nav: caller.map(nav).unwrap_or_default(),
        body,
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    Html(layout.render().unwrap_or_default())
}

#[derive(Template)]
#[template(path = "message.html")]
struct Message<'a> {
    message: &'a str,
    link: Option<(&'a str, &'a str)>,
}

/// A page that only says `message` (a refusal, something not found), with a link on (`href`,
/// label) if given; the template escapes both.
pub fn message_page(
    title: &str,
    caller: Option<&Caller>,
    message: &str,
    link: Option<(&str, &str)>,
) -> Html<String> {
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = Message { message, link }.render().unwrap_or_default();
    page(title, caller, &body)
}

/// Any address no route answers: the API's JSON error under `/api/`, otherwise a page saying so
/// with the way back (the header's menu too, for someone signed in), never an empty body.
pub(crate) async fn no_such_page(
    uri: axum::http::Uri,
    caller: Result<Caller, Response>,
) -> Response {
    if uri.path().starts_with("/api/") {
        return crate::web::api_not_found(
            "no such address in the API: see /api/v1/openapi.json for the addresses there are",
        );
    }
    let caller = caller.ok();
    (
        StatusCode::NOT_FOUND,
        message_page(
            "Page not found",
            caller.as_ref(),
            "There is no page at this address. If you typed it, check it; if a link brought you here, go back and try another way.",
            Some(("/", "Go to the overview")),
        ),
    )
        .into_response()
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

/// One cell of a table's header row (`templates/sortable_header.html`): `href` sorts by the
/// column, `sort` is its `aria-sort` when the table is sorted by it.
pub(crate) struct Column {
    pub label: String,
    pub href: Option<String>,
    pub sort: Option<&'static str>,
}

/// A table's header row whose sortable columns (those with a key) link to sorting by them — the
/// current one the other way round — and say how they are sorted. `link` gives a plain URL; the
/// template escapes it.
pub(crate) fn sortable_header(
    columns: &[(&str, &str)],
    by: &str,
    descending: bool,
    link: impl Fn(&str, bool) -> String,
) -> Vec<Column> {
    columns
        .iter()
        .map(|(label, key)| {
            let current = !key.is_empty() && *key == by;
            Column {
                label: (*label).to_owned(),
                href: (!key.is_empty()).then(|| link(key, current && !descending)),
                sort: current.then_some(if descending {
                    "descending"
                } else {
                    "ascending"
                }),
            }
        })
        .collect()
}

/// A link to another page of a list, with what it shows ("201 to 400 of 530").
pub(crate) struct PageLink {
    pub href: String,
    pub label: String,
}

/// The previous and next pages of a list, for `templates/pager.html` (the NHS.UK pagination
/// component).
#[derive(Default)]
pub(crate) struct Pager {
    pub previous: Option<PageLink>,
    pub next: Option<PageLink>,
}

/// The pages either side of a list of `total` shown `limit` at a time from `offset`; `link`
/// gives a plain URL for an offset, the template escapes it.
pub(crate) fn pager(
    offset: usize,
    limit: usize,
    total: usize,
    link: impl Fn(usize) -> String,
) -> Pager {
    let at = |from: usize| PageLink {
        href: link(from),
        label: format!("{} to {} of {total}", from + 1, (from + limit).min(total)),
    };
    Pager {
        previous: (offset > 0).then(|| at(offset.saturating_sub(limit))),
        next: (offset + limit < total).then(|| at(offset + limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::nav;
    use crate::web::caller::tests::caller_as;
    use cardwatch_core::access::Role;

    fn at(path: &str, role: Role) -> Vec<(&'static str, Option<&'static str>)> {
        let mut caller = caller_as(role, "");
        caller.path = path.into();
        nav(&caller)
            .into_iter()
            .map(|i| (i.label, i.current))
            .collect()
    }

    fn marked(items: &[(&'static str, Option<&'static str>)]) -> Vec<(&'static str, &'static str)> {
        items
            .iter()
            .filter_map(|&(label, current)| current.map(|c| (label, c)))
            .collect()
    }

    #[test]
    fn the_header_marks_the_page_or_its_section_and_nothing_else() {
        let admin = Role::Administrator;
        for (path, want) in [
            ("/", vec![("Overview", "page")]),
            ("/reports", vec![("Overview", "true")]),
            ("/findings", vec![("Findings", "page")]),
            (
                "/findings/cert-expired/card/123",
                vec![("Findings", "true")],
            ),
            ("/people/555000000001", vec![("Estate", "true")]),
            ("/cards", vec![("Estate", "true")]),
            ("/cards/CS0000000025/status", vec![("Estate", "true")]),
            ("/estate/readers", vec![("Estate", "true")]),
            ("/estate/sites", vec![("Estate", "page")]),
            ("/plan/migration", vec![("Renewal plan", "true")]),
            ("/triage/record", vec![("Triage", "true")]),
            ("/incidents/4/packet", vec![("Incidents", "true")]),
            ("/admin/sites/hours", vec![("Sites", "true")]),
            ("/admin/users", vec![("Administration", "page")]),
            ("/admin/jobs", vec![("Administration", "true")]),
            ("/account", vec![]),
            ("/planning", vec![]),
            ("/findingsx", vec![]),
        ] {
            assert_eq!(marked(&at(path, admin)), want, "{path}");
        }
        let pm: Vec<_> = at("/audit", Role::PracticeManager)
            .into_iter()
            .map(|(label, _)| label)
            .collect();
        assert!(
            !pm.contains(&"Audit log") && !pm.contains(&"Administration"),
            "{pm:?}"
        );
    }
}
