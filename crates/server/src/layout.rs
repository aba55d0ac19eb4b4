//! Every page in the NHS.UK frontend's look: one layout (`templates/layout.html`, checked at
//! compile time by askama) around a page's own markup, and the vendored frontend assets
//! (`assets/nhsuk`, written only by `scripts/assets`) served from the binary.

use askama::Template;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use cardwatch_core::access::Permission;

use crate::auth::Caller;

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

const CSS: &[u8] = include_bytes!("../assets/nhsuk/nhsuk-frontend.min.css");
const JS: &[u8] = include_bytes!("../assets/nhsuk/nhsuk-frontend.min.js");

macro_rules! images {
    ($($name:literal),+ $(,)?) => {
        &[$(($name, include_bytes!(concat!("../assets/nhsuk/images/", $name)) as &[u8])),+]
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
