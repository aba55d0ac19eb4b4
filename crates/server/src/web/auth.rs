//! Sign-in: argon2id password hashes, server-side sessions behind an HttpOnly cookie, a CSRF
//! token per session checked on every state-changing form, and failed sign-ins slowed per
//! (client address, user name) and per client address (`core::access::Throttle`), never a
//! lock-out that someone else's guesses could impose on an operator.
//! [`Caller`] is the only way a handler learns who is asking; a request without a live session
//! never reaches a handler that takes one.

use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use cardwatch_core::access::{
    client_address, Network, Slowed, Throttle, TokenKind, User, Username,
};
use cardwatch_core::date::Timestamp;
use serde::Deserialize;
use sha2::{Digest, Sha256};

pub use crate::web::caller::{Caller, Forbidden};
use crate::web::form::PageForm;
use crate::web::redirect::on_this_server;
pub use crate::web::secrets::{
    hash_password, new_token_secret, random_password, random_token, NoRandomness, TOKEN_PREFIX,
};
use crate::AppState;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "cw_session";
/// How long a session lasts: one working day.
pub const SESSION_SECONDS: i64 = 12 * 3600;

/// Whether a password matches a stored hash.
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// How a session is stored: the SHA-256 of its token, never the token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A hash to verify against when the user name is unknown, so that a wrong name takes as long
/// as a wrong password.
fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    // Its salt need not be secret or random: nothing signs in with it.
    DECOY.get_or_init(|| {
        let salt = SaltString::from_b64("Y2FyZHdhdGNoZGVjb3k")
            .unwrap_or_else(|e| unreachable!("a valid salt: {e}"));
        crate::web::secrets::argon2_hash("not a password anyone has", &salt)
    })
}

/// Entries of each kind the throttle keeps: about 150 bytes each, so at most some 30 MB.
const THROTTLE_ENTRIES: usize = 100_000;

/// Who may say which client a request came from and whether it came over TLS, and the failed
/// sign-ins counted so far. The counts live in this server's memory: each replica counts its
/// own, and a restart forgets them.
pub struct SignInGuard {
    trusted_proxies: Vec<Network>,
    behind_tls_proxy: bool,
    throttle: std::sync::Mutex<Throttle>,
}

impl SignInGuard {
    /// A guard believing `X-Forwarded-For` and `X-Forwarded-Proto` only from these proxies.
    pub fn new(trusted_proxies: Vec<Network>) -> SignInGuard {
        SignInGuard {
            trusted_proxies,
            behind_tls_proxy: false,
            throttle: std::sync::Mutex::new(Throttle::new(THROTTLE_ENTRIES)),
        }
    }

    /// With `yes`, every request is taken to have come over TLS to a proxy in front
    /// (`[server] behind_tls_proxy`), whatever it says.
    pub fn behind_tls_proxy(mut self, yes: bool) -> SignInGuard {
        self.behind_tls_proxy = yes;
        self
    }

    /// Whether a request this server did not decrypt itself reached the proxy in front over
    /// TLS: always behind a TLS proxy; otherwise as `X-Forwarded-Proto` says when the
    /// connection's `peer` is a trusted proxy, its last entry being the one the nearest proxy
    /// wrote. From anyone else the header is ignored: a client could claim TLS for an answer
    /// that travels over plain HTTP. Without a known peer (a request handed to the router
    /// in-process) only the setting counts.
    pub(crate) fn proxied_tls(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
        if self.behind_tls_proxy {
            return true;
        }
        let trusted = peer.is_some_and(|p| {
            let p = p.to_canonical();
            self.trusted_proxies.iter().any(|n| n.contains(p))
        });
        trusted
            && headers
                .get_all("x-forwarded-proto")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
    }

    fn throttle(&self) -> std::sync::MutexGuard<'_, Throttle> {
        // The table holds counts only: one a panicking holder left is still usable.
        self.throttle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for SignInGuard {
    // The counts' addresses and names stay out of anything printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInGuard")
            .field("trusted_proxies", &self.trusted_proxies)
            .field("behind_tls_proxy", &self.behind_tls_proxy)
            .field("entries", &self.throttle().len())
            .finish()
    }
}

impl Default for SignInGuard {
    fn default() -> SignInGuard {
        SignInGuard::new(Vec::new())
    }
}

/// The address of the client a request came from: the connection's peer, or what a trusted
/// proxy says (`core::access::client_address`). Without a known peer (a request handed to the
/// router in-process) it is 0.0.0.0.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
        else {
            return Ok(ClientAddress(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        };
        let hops: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(ClientAddress(client_address(
            peer,
            &hops,
            &state.checks.sign_in.trusted_proxies,
        )))
    }
}

/// Why a sign-in was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Unknown name or wrong password: the same words for both.
    Wrong,
    /// Too many failures: try again after this moment.
    Wait(Timestamp),
    /// The operator is disabled.
    Disabled,
}

impl Refused {
    fn message(&self) -> String {
        match self {
            Refused::Wrong => "The user name or password is wrong.".into(),
            Refused::Wait(t) => format!(
                "Too many failed sign-ins from this address: try again after {t}. Someone else's failures elsewhere do not stop you signing in from your own computer."
            ),
            Refused::Disabled => "This account is disabled — ask an administrator.".into(),
        }
    }
}

/// Checks a user name and password, counting failures; returns the operator. Throttling is the
/// caller's ([`SignInGuard`]); this only says whether the password is right.
pub fn sign_in(
    store: &dyn cardwatch_store::Store,
    name: &str,
    password: &str,
    now: Timestamp,
) -> Result<Result<User, Refused>, cardwatch_store::StoreError> {
    let Ok(name) = Username::parse(name) else {
        verify_password(decoy(), password);
        return Ok(Err(Refused::Wrong));
    };
    let Some(user) = store.user(&name)? else {
        verify_password(decoy(), password);
        return Ok(Err(Refused::Wrong));
    };
    if !verify_password(&user.user.password_hash, password) {
        store.record_sign_in(&name, false, now)?;
        return Ok(Err(Refused::Wrong));
    }
    if user.disabled {
        return Ok(Err(Refused::Disabled));
    }
    store.record_sign_in(&name, true, now)?;
    Ok(Ok(user))
}

/// Records a refused sign-in in the audit log: who it was for (an operator's user name, or
/// `unknown` — a name that is no operator's is not kept, as it may be anyone's address or a
/// password typed in the wrong box), from which client address, and why. Never the password.
fn audit_refusal(
    store: &dyn cardwatch_store::Store,
    client: IpAddr,
    typed: &str,
    refused: &Refused,
    now: Timestamp,
) -> Result<(), cardwatch_store::StoreError> {
    let known = match Username::parse(typed) {
        Ok(name) => store.user(&name)?.map(|u| u.user.username),
        Err(_) => None,
    };
    let key = known.as_ref().map_or("unknown", |n| n.as_str());
    let (action, after) = match refused {
        Refused::Wrong => (
            "sign_in_failed",
            serde_json::json!({"client": client.to_string(), "reason": "wrong user name or password"}),
        ),
        Refused::Disabled => (
            "sign_in_failed",
            serde_json::json!({"client": client.to_string(), "reason": "operator disabled"}),
        ),
        Refused::Wait(until) => (
            "sign_in_throttled",
            serde_json::json!({"client": client.to_string(), "until": until.to_string()}),
        ),
    };
    let change = cardwatch_store::Change {
        actor: format!("client:{client}"),
        at: now,
    };
    cardwatch_store::exec::with_exec(store, |x| {
        x.audit(
            &change,
            &cardwatch_store::exec::Entry {
                action,
                kind: "operator",
                key,
                before: None,
                after: Some(after.to_string()),
            },
        )
    })
}

/// Starts a session for an operator: the cookie to set and its CSRF token.
pub(crate) fn start_session(
    store: &dyn cardwatch_store::Store,
    user: &User,
    now: Timestamp,
) -> Result<(String, String), cardwatch_store::StoreError> {
    let token = random_token()?;
    let csrf = random_token()?;
    store.create_session(
        &token_hash(&token),
        &user.user.username,
        &csrf,
        now,
        Timestamp::from_unix(now.unix() + SESSION_SECONDS),
    )?;
    Ok((token, csrf))
}

/// The session cookie.
pub(crate) fn cookie(value: &str, max_age: i64) -> HeaderValue {
    set_cookie(SESSION_COOKIE, "/", value, max_age)
}

/// One of Cardwatch's cookies: HttpOnly always, SameSite=Lax (a provider's or a link's top-level
/// GET back to us carries it, another site's form does not). `web::headers::secure` marks it
/// Secure when the request came over TLS, as it does every cookie.
pub(crate) fn set_cookie(name: &str, path: &str, value: &str, max_age: i64) -> HeaderValue {
    let c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age}");
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The value of the cookie `name` the request carries.
pub(crate) fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// Whether text has a token's shape (so nothing else is looked up).
pub fn token_shaped(t: &str) -> bool {
    t.strip_prefix(TOKEN_PREFIX)
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let t = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))?
        .trim();
    token_shaped(t).then(|| t.to_owned())
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    cookie_value(headers, SESSION_COOKIE)
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl IntoResponse for Forbidden {
    fn into_response(self) -> Response {
        (
            StatusCode::FORBIDDEN,
            crate::web::layout::message_page(
                "Form expired",
                None,
                "This form has expired or did not come from Cardwatch. Go back, reload the page and try again.",
                None,
            ),
        )
            .into_response()
    }
}

/// Without a live session: pages send the browser to sign in; the API answers 401.
#[derive(Debug)]
struct NotSignedIn {
    api: bool,
    path: String,
}

impl IntoResponse for NotSignedIn {
    fn into_response(self) -> Response {
        if self.api {
            let body = serde_json::json!({"error": {"code": "not_signed_in",
                "message": "sign in first: POST /login, then send the session cookie"}});
            return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        }
        let next = on_this_server(&self.path);
        let location = format!("/login?next={}", crate::web::enc(&next));
        (
            StatusCode::SEE_OTHER,
            [(
                LOCATION,
                HeaderValue::from_str(&location).unwrap_or(HeaderValue::from_static("/login")),
            )],
        )
            .into_response()
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let refused = || {
            NotSignedIn {
                api: parts.uri.path().starts_with("/api/"),
                path: parts
                    .uri
                    .path_and_query()
                    .map_or("/".into(), |p| p.as_str().to_owned()),
            }
            .into_response()
        };
        let api = parts.uri.path().starts_with("/api/");
        if let (true, Some(token)) = (api, bearer(&parts.headers)) {
            let hash = token_hash(&token);
            let found = crate::web::blocking(state, move |s| s.live_token(&hash))
                .await
                .map_err(IntoResponse::into_response)?;
            return match found {
                Some((t, user)) if t.kind == TokenKind::Api => Ok(Caller::by_token(user)),
                _ => Err(refused()),
            };
        }
        let Some(token) = session_token(&parts.headers) else {
            return Err(refused());
        };
        let hash = token_hash(&token);
        let now = (state.now)();
        let found = crate::web::blocking(state, {
            let hash = hash.clone();
            move |s| s.session_with_length(&hash, now)
        })
        .await
        .map_err(IntoResponse::into_response)?;
        match found {
            Some((user, csrf, length)) => Ok(Caller {
                user,
                csrf,
                token_hash: hash,
                version: Some(length),
                path: parts.uri.path().to_owned(),
            }),
            None => Err(refused()),
        }
    }
}

fn page(title: &str, caller: Option<&Caller>, body: &str) -> String {
    crate::web::layout::page(title, caller, body).0
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    problem: Option<&'a str>,
    next: &'a str,
    /// The user name as typed, kept after a refusal (never the password).
    username: &'a str,
    /// Single sign-on's button: its words and address (`account::oidc`).
    sso: Option<(&'a str, String)>,
    /// Whether the password form is shown (not when single sign-on turns passwords off).
    passwords: bool,
}

fn login_form(state: &AppState, next: &str, username: &str, message: Option<&str>) -> String {
    let sso = state.checks.sso.as_deref();
    let form = LoginPage {
        problem: message,
        next,
        username,
        sso: sso.map(|s| {
            (
                s.button(),
                format!("/login/oidc?next={}", crate::web::enc(next)),
            )
        }),
        passwords: sso.is_none_or(|s| s.local_passwords()),
    };
    // Rendering only fails on a formatter error writing into a String, which cannot happen.
    let body = askama::Template::render(&form).unwrap_or_default();
    page("Sign in", None, &body)
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    next: Option<String>,
}

pub(crate) async fn login_page(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Html<String> {
    Html(login_form(
        &state,
        q.next.as_deref().unwrap_or("/"),
        "",
        None,
    ))
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    PageForm(f): PageForm<LoginForm>,
) -> Response {
    let next = on_this_server(&f.next);
    let now = (state.now)();
    let typed = f.username.clone();
    // Let in or slowed before the password is looked at: a guess sent while waiting costs the
    // server no password hash and tells the sender nothing.
    let let_in = state.checks.sign_in.throttle().attempt(client, &typed, now);
    let checks = state.checks.clone();
    let result = crate::web::blocking(&state, move |s| {
        let outcome = match let_in {
            Err(slowed) => Err(Refused::Wait(Slowed::until(slowed))),
            Ok(()) => match sign_in(s, &f.username, &f.password, now)? {
                Ok(user) => {
                    checks.sign_in.throttle().succeeded(client, &f.username);
                    Ok(user)
                }
                Err(r) => Err(r),
            },
        };
        match outcome {
            Ok(user) => Ok(Ok(start_session(s, &user, now)?.0)),
            Err(r) => {
                audit_refusal(s, client, &f.username, &r, now)?;
                Ok(Err(r))
            }
        }
    })
    .await;
    match result {
        Ok(Ok(token)) => (
            StatusCode::SEE_OTHER,
            [
                (SET_COOKIE, cookie(&token, SESSION_SECONDS)),
                (
                    LOCATION,
                    HeaderValue::from_str(&next).unwrap_or(HeaderValue::from_static("/")),
                ),
            ],
        )
            .into_response(),
        Ok(Err(refused)) => {
            // No name or address in the log line (docs/PRIVACY.md): the audit log has them.
            tracing::warn!(?refused, "sign-in refused");
            let status = match refused {
                Refused::Wait(_) => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            let mut response = (
                status,
                Html(login_form(&state, &next, &typed, Some(&refused.message()))),
            )
                .into_response();
            if let Refused::Wait(until) = refused {
                let seconds = (until.unix() - now.unix()).max(1);
                if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
                    response
                        .headers_mut()
                        .insert(axum::http::header::RETRY_AFTER, v);
                }
            }
            response
        }
        Err(f) => f.into_response(),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    PageForm(f): PageForm<CsrfForm>,
) -> Response {
    if let Err(r) = caller.check_csrf(&f.csrf) {
        return r.into_response();
    }
    let hash = caller.token_hash.clone();
    if let Err(f) = crate::web::blocking(&state, move |s| s.end_session(&hash)).await {
        return f.into_response();
    }
    (
        StatusCode::SEE_OTHER,
        [
            (SET_COOKIE, cookie("", 0)),
            (LOCATION, HeaderValue::from_static("/login")),
        ],
    )
        .into_response()
}

/// `GET /api/v1/me`: who the session belongs to, their role and organisations.
pub(crate) async fn me(caller: Caller) -> axum::Json<serde_json::Value> {
    let u = &caller.user.user;
    axum::Json(serde_json::json!({
        "username": u.username.as_str(),
        "name": u.display_name,
        "role": u.role.as_str(),
        "organisations": u.organisations.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        "all_organisations": u.role.sees_everything(),
    }))
}
