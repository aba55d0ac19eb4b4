//! Headers every answer carries, whatever the handler: what the browser may load and run (only
//! this server's own files — no inline script, no other host), never inside another site's
//! frame, no guessing of content types, no referrer beyond this server, nothing personal kept in
//! a browser's or proxy's cache, and — once it has been reached over TLS — never over plain HTTP
//! again (HSTS).

use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The policy: this server's own scripts, styles, fonts and images (and the data: images the
/// NHS.UK stylesheet uses), forms posted only here, and no framing.
pub const CONTENT_SECURITY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the headers to an answer; the frontend's assets keep their own caching.
pub(crate) async fn secure(req: Request, next: Next) -> Response {
    let asset = req.uri().path().starts_with("/assets/");
    // Over TLS: the server's own TLS sets this on every request it decrypts, overwriting what a
    // client sent; a TLS proxy in front sets it for the requests it forwards.
    let tls = req
        .headers()
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY),
    );
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !asset {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if tls {
        // A year: browsers then refuse a downgrade to plain HTTP for that long.
        h.insert(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    res
}
