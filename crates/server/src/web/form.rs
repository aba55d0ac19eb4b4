//! The body of a page's form, read for a person rather than a program: a form Cardwatch cannot
//! read — a name sent twice, a field missing, a body that is not a form, one too large — is
//! answered with a page in the layout whose NHS.UK error summary says what went wrong and how to
//! send it again, with status 400 (413 when too large), never axum's plain-text rejection. The
//! API's JSON routes keep their own errors.

use askama::Template;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::web::Caller;
use crate::AppState;

/// The largest form body a page takes: far more than any page's fields (a reason is at most a few
/// thousand characters); files go through `/admin/import`'s own upload.
pub(crate) const MAX_FORM_BYTES: usize = 256 << 10;

/// A page's form fields, as `axum::extract::Form` decodes them (`application/x-www-form-urlencoded`
/// into `T`), refused with a page (see the module) when they cannot be.
pub(crate) struct PageForm<T>(pub T);

/// Why a form could not be read.
#[derive(Debug, PartialEq, Eq)]
enum Unread {
    /// The body is not a web form: its content type, or none.
    NotAForm(Option<String>),
    /// Larger than [`MAX_FORM_BYTES`].
    TooLarge,
    /// A name sent more than once.
    Twice(String),
    /// A field the form must have is missing.
    Missing(String),
    /// Anything else the decoder refused.
    Unreadable,
}

impl Unread {
    fn status(&self) -> StatusCode {
        match self {
            Unread::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// What went wrong and what to do, in plain words.
    fn message(&self) -> String {
        const AGAIN: &str =
            "Nothing was changed: go back to the page, reload it and send the form again.";
        match self {
            Unread::NotAForm(None) => {
                format!("The form arrived with nothing to say what it holds, so Cardwatch could not read it. {AGAIN}")
            }
            Unread::NotAForm(Some(kind)) => format!(
                "The form arrived as “{kind}”, not as a web form, so Cardwatch could not read it. {AGAIN}"
            ),
            Unread::TooLarge => format!(
                "The form is larger than the {} KB a page takes. Nothing was changed: go back to the page, shorten what was typed and send it again.",
                MAX_FORM_BYTES >> 10
            ),
            Unread::Twice(name) => format!(
                "The form sent “{name}” more than once, so Cardwatch cannot tell which to use. {AGAIN}"
            ),
            Unread::Missing(name) => {
                format!("The form arrived without its “{name}” field. {AGAIN}")
            }
            Unread::Unreadable => format!("The form's fields could not be read. {AGAIN}"),
        }
    }
}

/// A field's name as the page says it: at most 40 characters of it.
fn shown_name(name: &str) -> String {
    let mut s: String = name.chars().take(40).collect();
    if name.chars().count() > 40 {
        s.push('…');
    }
    s
}

/// Whether the body says it is a web form (`application/x-www-form-urlencoded`, any parameters).
fn form_kind(parts: &Parts) -> Result<(), Unread> {
    let kind = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    match &kind {
        Some(k)
            if k.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            }) =>
        {
            Ok(())
        }
        _ => Err(Unread::NotAForm(kind.map(|k| {
            shown_name(k.split(';').next().unwrap_or_default().trim())
        }))),
    }
}

/// The first name the body sends more than once, if any.
fn repeated(body: &[u8]) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    url::form_urlencoded::parse(body)
        .map(|(k, _)| k)
        .find(|k| !seen.insert(k.clone()))
        .map(|k| shown_name(&k))
}

/// The fields decoded exactly as axum's `Form` decodes them.
async fn decode<T: DeserializeOwned>(body: axum::body::Bytes) -> Result<T, Unread> {
    let mut req = Request::new(Body::from(body));
    *req.method_mut() = Method::POST;
    req.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    match axum::extract::Form::<T>::from_request(req, &()).await {
        Ok(axum::extract::Form(t)) => Ok(t),
        Err(e) => {
            // serde's words: "missing field `name`".
            let text = e.body_text();
            Err(text
                .split_once("missing field `")
                .and_then(|(_, rest)| rest.split_once('`'))
                .map_or(Unread::Unreadable, |(name, _)| {
                    Unread::Missing(shown_name(name))
                }))
        }
    }
}

/// Where the form was sent from, when that was a page of this server: its path and query.
fn back(parts: &Parts) -> Option<String> {
    let referer = url::Url::parse(parts.headers.get(header::REFERER)?.to_str().ok()?).ok()?;
    let host = parts.headers.get(header::HOST)?.to_str().ok()?;
    let from = match referer.port() {
        Some(p) => format!("{}:{p}", referer.host_str()?),
        None => referer.host_str()?.to_owned(),
    };
    if !from.eq_ignore_ascii_case(host) {
        return None;
    }
    let path = match referer.query() {
        Some(q) => format!("{}?{q}", referer.path()),
        None => referer.path().to_owned(),
    };
    Some(crate::web::redirect::on_this_server(&path))
}

#[derive(Template)]
#[template(path = "refused_plain.html")]
struct Refused<'a> {
    message: &'a str,
    back: (&'a str, &'a str),
}

/// The page for a form that could not be read: the layout (signed in as the caller, if the
/// session is good), the error summary and a link back to the page the form came from.
async fn refused(mut parts: Parts, state: &AppState, why: Unread) -> Response {
    let caller = Caller::from_request_parts(&mut parts, state).await.ok();
    let back = back(&parts);
    let link = match &back {
        Some(path) => (path.as_str(), "Go back to the page"),
        None => ("/", "Go to the overview"),
    };
    let message = why.message();
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = Refused {
        message: &message,
        back: link,
    }
    .render()
    .unwrap_or_default();
    (
        why.status(),
        crate::web::layout::page("The form could not be read", caller.as_ref(), &body),
    )
        .into_response()
}

/// Why a body could not be read: over the limit, or broken off (a reset, a timeout). Only the
/// first is the sender's to shorten.
fn unread_body(e: &axum::Error) -> Unread {
    let over = std::iter::successors(Some(e as &dyn std::error::Error), |e| e.source())
        .any(|e| e.is::<http_body_util::LengthLimitError>());
    if over {
        Unread::TooLarge
    } else {
        Unread::Unreadable
    }
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        if let Err(why) = form_kind(&parts) {
            return Err(refused(parts, state, why).await);
        }
        let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
            Ok(b) => b,
            Err(e) => return Err(refused(parts, state, unread_body(&e)).await),
        };
        if let Some(name) = repeated(&bytes) {
            return Err(refused(parts, state, Unread::Twice(name)).await);
        }
        match decode(bytes).await {
            Ok(t) => Ok(PageForm(t)),
            Err(why) => Err(refused(parts, state, why).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Sign {
        #[serde(default)]
        csrf: String,
        password: String,
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_too_large_and_one_broken_off_unreadable() {
        let long = axum::body::Body::from(vec![b'a'; 300]);
        let e = axum::body::to_bytes(long, 100).await.unwrap_err();
        assert_eq!(unread_body(&e), Unread::TooLarge);
        let broken = axum::body::Body::from_stream(futures_util::stream::iter([
            Ok(axum::body::Bytes::from_static(b"csrf=")),
            Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
        ]));
        let e = axum::body::to_bytes(broken, 100).await.unwrap_err();
        assert_eq!(unread_body(&e), Unread::Unreadable);
    }

    #[tokio::test]
    async fn reads_a_form_as_axum_does_and_names_what_it_cannot() {
        let ok: Sign = decode("csrf=a%20b&password=x+y".into()).await.unwrap();
        assert_eq!(
            ok,
            Sign {
                csrf: "a b".into(),
                password: "x y".into()
            }
        );
        assert_eq!(
            decode::<Sign>("csrf=a".into()).await.unwrap_err(),
            Unread::Missing("password".into())
        );
        assert_eq!(repeated(b"csrf=a&password=b&csrf=c"), Some("csrf".into()));
        assert_eq!(repeated(b"csrf=a&password=b"), None);
        // A name spelt differently in the body is the same name decoded.
        assert_eq!(
            repeated(b"pass%77ord=a&password=b"),
            Some("password".into())
        );
    }

    #[test]
    fn says_what_the_body_was_sent_as() {
        let parts = |kind: Option<&str>| {
            let mut r = Request::new(());
            if let Some(k) = kind {
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_str(k).unwrap());
            }
            r.into_parts().0
        };
        assert_eq!(
            form_kind(&parts(Some(
                "application/x-www-form-urlencoded; charset=UTF-8"
            ))),
            Ok(())
        );
        assert_eq!(
            form_kind(&parts(Some("application/json"))),
            Err(Unread::NotAForm(Some("application/json".into())))
        );
        assert_eq!(form_kind(&parts(None)), Err(Unread::NotAForm(None)));
        assert!(Unread::Twice("csrf".into())
            .message()
            .contains("“csrf” more than once"));
    }
}
