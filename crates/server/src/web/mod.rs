//! What every page and API route stands on: running store calls off the async threads, the
//! estate's version, refusals and failures, and the small encodings pages share. Nothing here
//! knows a capability; the capabilities' folders build on it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cardwatch_store::{Change, Store, StoreError};
use serde_json::json;

use crate::AppState;

pub mod auth;
pub(crate) mod background;
pub mod caller;
pub(crate) mod cursor;
pub mod fields;
pub mod form;
pub mod headers;
pub mod layout;
pub mod logs;
pub mod lookup;
pub mod metrics;
pub mod redirect;
pub mod scope;
pub mod secrets;
pub(crate) mod sites;

pub use caller::Caller;

mod csv;
pub(crate) use csv::{csv_download, csv_streamed};

/// The estate's version: the audit chain's length, which every change to the estate advances.
/// Read on every request that uses a cache, so a change is seen by the very next request.
pub(crate) async fn version(state: &AppState) -> Result<i64, Response> {
    blocking(state, |s| s.audit_length())
        .await
        .map_err(IntoResponse::into_response)
}

/// The API's answer for something that is not there: 404 with its error object.
pub(crate) fn api_not_found(message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": "not_found", "message": message}});
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

/// A failure shown to the client without internals; the detail goes to the log.
pub(crate) struct Failure(pub(crate) StoreError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "request failed");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is not answering — see the server log\n",
        )
            .into_response()
    }
}

pub(crate) async fn blocking<T: Send + 'static>(
    state: &AppState,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Failure> {
    let store = state.store.clone();
    // The store's log lines belong to the request (or job) that asked: its span goes along.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(|| f(&*store)))
        .await
        .map_err(|e| Failure(StoreError::Database(format!("worker failed: {e}"))))?
        .map_err(Failure)
}

/// A number of things, the plural right: "1 card", "2 cards".
pub(crate) fn counted<N>(n: N, one: &str, many: &str) -> String
where
    N: TryInto<u64> + std::fmt::Display + Copy,
{
    let single = n.try_into().is_ok_and(|v| v == 1);
    format!("{n} {}", if single { one } else { many })
}

/// A message from the core as the page's sentence: its first letter a capital.
pub(crate) fn sentence_case(m: &str) -> String {
    let mut c = m.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

/// A query value, form-encoded (`a b&c` → `a+b%26c`).
pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A refused parameter, answered `{error: {code, message, field}}` with status 400.
pub(crate) struct BadParam {
    field: String,
    message: String,
}

impl BadParam {
    /// The field and the message, for a page that shows the refusal in its error summary.
    pub(crate) fn parts(self) -> (String, String) {
        (self.field, self.message)
    }
}

pub(crate) fn bad_request(field: &str, message: String) -> BadParam {
    BadParam {
        field: field.to_owned(),
        message,
    }
}

impl IntoResponse for BadParam {
    fn into_response(self) -> Response {
        let error =
            json!({"code": "invalid_parameter", "message": self.message, "field": self.field});
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": error })),
        )
            .into_response()
    }
}

pub(crate) fn change(caller: &Caller, state: &AppState) -> Change {
    Change {
        actor: format!("web:{}", caller.user.user.username),
        at: (state.now)(),
    }
}

/// What an operator is told after a change: the outcome, or why it was refused; `None` when
/// the store failed (the page then says so).
fn outcome(r: Result<String, StoreError>) -> Option<(bool, String)> {
    match r {
        Ok(m) => Some((true, m)),
        Err(StoreError::Invalid(m)) => Some((false, m)),
        Err(e) => {
            tracing::error!(error = %e, "operator change failed");
            None
        }
    }
}

/// What a page says after a change (its outcome, or why it was refused), or the answer when the
/// store failed.
pub(crate) fn settled(
    r: Result<Result<String, StoreError>, crate::web::Failure>,
) -> Result<(bool, String), Box<Response>> {
    match r.map(outcome) {
        Ok(Some(message)) => Ok(message),
        Ok(None) => Err(Box::new(
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is not answering — see the server log\n",
            )
                .into_response(),
        )),
        Err(f) => Err(Box::new(f.into_response())),
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
