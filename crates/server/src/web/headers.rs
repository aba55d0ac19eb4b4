//! Headers every answer carries, whatever the handler: what the browser may load and run (only
//! this server's own files — no inline script, no other host), never inside another site's
//! frame, no guessing of content types, no referrer beyond this server, nothing personal kept in
//! a browser's or proxy's cache, and — when it was reached over TLS — never over plain HTTP
//! again (HSTS) and no cookie sent back over plain HTTP (`Secure`).
//!
//! Whether a request came over TLS is decided here, once, from what the server knows: its own
//! TLS listener marks what it decrypted ([`DirectTls`]), `[server] behind_tls_proxy` says a TLS
//! proxy stands in front of every connection, and otherwise `X-Forwarded-Proto` counts only
//! from a peer in `[server] trusted_proxies` (`auth::SignInGuard::proxied_tls`). A client
//! cannot make a plain-HTTP answer look like a TLS one, nor the other way round.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, SET_COOKIE, STRICT_TRANSPORT_SECURITY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The policy: this server's own scripts, styles, fonts and images (and the data: images the
/// NHS.UK stylesheet uses), forms posted only here, and no framing.
pub const CONTENT_SECURITY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Marks a request this server decrypted itself (`serve --tls-cert`). The TLS listener puts it
/// among the request's extensions before the router sees the request, where no client reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectTls;

/// Adds the headers to an answer; the frontend's assets keep their own caching.
pub(crate) async fn secure(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let asset = req.uri().path().starts_with("/assets/");
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let tls = req.extensions().get::<DirectTls>().is_some()
        || state.checks.sign_in.proxied_tls(peer, req.headers());
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
        secure_cookies(h);
    }
    res
}

/// Marks every cookie the answer sets `Secure`: here rather than where each is made, so that
/// no cookie, present or future, can miss it.
fn secure_cookies(h: &mut HeaderMap) {
    let cookies: Vec<HeaderValue> = h.get_all(SET_COOKIE).iter().cloned().collect();
    if cookies.is_empty() {
        return;
    }
    h.remove(SET_COOKIE);
    for c in cookies {
        let marked = c
            .to_str()
            .ok()
            .filter(|s| {
                !s.split(';')
                    .skip(1)
                    .any(|a| a.trim().eq_ignore_ascii_case("secure"))
            })
            .and_then(|s| HeaderValue::from_str(&format!("{s}; Secure")).ok());
        h.append(SET_COOKIE, marked.unwrap_or(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cookie_is_marked_secure_once() {
        let mut h = HeaderMap::new();
        h.append(
            SET_COOKIE,
            HeaderValue::from_static("a=1; Path=/; HttpOnly"),
        );
        h.append(SET_COOKIE, HeaderValue::from_static("b=2; Path=/; secure"));
        h.append(SET_COOKIE, HeaderValue::from_static("secure=3; Path=/"));
        secure_cookies(&mut h);
        let got: Vec<&str> = h
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .collect();
        assert_eq!(
            got,
            [
                "a=1; Path=/; HttpOnly; Secure",
                "b=2; Path=/; secure",
                "secure=3; Path=/; Secure"
            ]
        );
    }
}
