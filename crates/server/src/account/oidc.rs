//! Single sign-on with OpenID Connect: the authorization code flow with PKCE (S256), a state and
//! a nonce, through the `openidconnect` crate, which also verifies the ID token (its signature
//! against the provider's published keys, issuer, audience, expiry and nonce). The provider says
//! who someone is; Cardwatch decides whether they may come in: the identity must name an operator
//! already set up here (by user name, case-insensitively), with roles and organisations, and not
//! disabled. A refusal is audited.
//!
//! What the browser carries between the two legs (state, nonce, PKCE verifier, the page to go
//! back to) is kept in a short-lived cookie signed with a key derived from the client secret, so
//! that any replica behind a load balancer can finish a sign-in another started; each replica
//! accepts a cookie once, and the provider redeems a code once.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::Duration;

use axum::extract::{Query, Request, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cardwatch_core::access::Username;
use cardwatch_store::exec::{with_exec, Entry};
use cardwatch_store::Change;
use hmac::{Hmac, Mac};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthType, AuthenticationFlow, AuthorizationCode,
    ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardClaims,
    StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::web::auth::{self, cookie, start_session, ClientAddress, SESSION_SECONDS};
use crate::web::layout;
use crate::web::redirect::on_this_server;
use crate::AppState;

/// The cookie that carries a sign-in between its two legs.
const FLOW_COOKIE: &str = "cw_oidc";
/// How long someone has at the provider before the sign-in must start again.
const FLOW_SECONDS: i64 = 600;
/// Where the provider sends the browser back, under the server's public address.
pub const CALLBACK_PATH: &str = "/login/oidc/callback";

/// `[oidc]` as the configuration file gives it, checked by the command line.
#[derive(Clone)]
pub struct Config {
    /// The provider's issuer URL (its discovery document is under it).
    pub issuer: String,
    /// This server's client id at the provider.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// The claim that names the operator (`email` by default).
    pub claim: String,
    /// Where the provider sends the browser back: `…/login/oidc/callback`.
    pub redirect_url: String,
    /// What people call the provider ("NHSmail"), in the button and the refusals.
    pub name: String,
    /// The sign-in button's words.
    pub button: String,
    /// Whether operators may still sign in with a Cardwatch password.
    pub local_passwords: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"(redacted)")
            .field("claim", &self.claim)
            .field("redirect_url", &self.redirect_url)
            .field("local_passwords", &self.local_passwords)
            .finish()
    }
}

/// Claims beyond the standard ones (`upn`, `unique_name`…), so any claim can name operators.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(transparent)]
struct Extra(HashMap<String, serde_json::Value>);

impl AdditionalClaims for Extra {}

type Fields = IdTokenFields<
    Extra,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<Fields, CoreTokenType>;
type UserInfo = openidconnect::UserInfoClaims<Extra, CoreGenderClaim>;
/// The client as discovery makes it: authorization endpoint set, token and userinfo endpoints
/// as the provider publishes them.
type Client = openidconnect::Client<
    Extra,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The `openidconnect` crate's HTTP client trait over the workspace's `ureq`: no redirects are
/// followed (a token or key request that is redirected is refused, as OAuth 2.0 clients should),
/// ten seconds at most, a megabyte at most.
struct Http(ureq::Agent);

impl Http {
    fn new() -> Http {
        Http(
            ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(10)))
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into(),
        )
    }
}

/// Why a request to the provider failed.
#[derive(Debug)]
struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

impl openidconnect::SyncHttpClient for Http {
    type Error = HttpError;

    fn call(
        &self,
        request: openidconnect::HttpRequest,
    ) -> Result<openidconnect::HttpResponse, HttpError> {
        let url = request.uri().to_string();
        let response = self
            .0
            .run(request)
            .map_err(|e| HttpError(format!("{url}: {e}")))?;
        let (parts, body) = response.into_parts();
        let body = body
            .into_with_config()
            .limit(1 << 20)
            .read_to_vec()
            .map_err(|e| HttpError(format!("{url}: {e}")))?;
        Ok(openidconnect::http::Response::from_parts(parts, body))
    }
}

/// Single sign-on as the server runs it: the provider found by discovery, and the settings.
pub struct Sso {
    client: RwLock<Client>,
    http: Http,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    redirect: RedirectUrl,
    claim: String,
    name: String,
    button: String,
    local_passwords: bool,
    /// HMAC-SHA-256 key for the flow cookie.
    key: [u8; 32],
    /// Flow cookies this replica has taken, until they would have expired anyway.
    taken: Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sso")
            .field("issuer", &self.issuer.as_str())
            .field("client_id", &self.client_id.as_str())
            .field("claim", &self.claim)
            .field("local_passwords", &self.local_passwords)
            .finish()
    }
}

fn hmac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length, so `new_from_slice` cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|e| unreachable!("HMAC accepts keys of any length: {e}"))
}

impl Sso {
    /// Reads the provider's discovery document (`<issuer>/.well-known/openid-configuration`)
    /// and its signing keys; an error names the issuer and says what to check.
    pub fn discover(c: Config) -> Result<Sso, String> {
        let issuer = IssuerUrl::new(c.issuer.clone())
            .map_err(|e| format!("oidc.issuer: {:?} is not a URL ({e})", c.issuer))?;
        let redirect = RedirectUrl::new(c.redirect_url.clone())
            .map_err(|e| format!("oidc.redirect_url: {:?} is not a URL ({e})", c.redirect_url))?;
        let http = Http::new();
        let client_id = ClientId::new(c.client_id);
        let client_secret = ClientSecret::new(c.client_secret);
        let client = client(&http, &issuer, &client_id, &client_secret, &redirect)?;
        // The cookie key is derived from the client secret, which every replica shares, so a
        // sign-in started on one can finish on another; the label keeps it apart from any other
        // use of the secret.
        let mut mac = hmac(client_secret.secret().as_bytes());
        mac.update(b"cardwatch sign-in flow cookie v1");
        Ok(Sso {
            client: RwLock::new(client),
            http,
            issuer,
            client_id,
            client_secret,
            redirect,
            claim: c.claim,
            name: c.name,
            button: c.button,
            local_passwords: c.local_passwords,
            key: mac.finalize().into_bytes().into(),
            taken: Mutex::default(),
        })
    }

    /// The sign-in button's words.
    pub fn button(&self) -> &str {
        &self.button
    }

    /// Whether operators may still sign in with a Cardwatch password.
    pub fn local_passwords(&self) -> bool {
        self.local_passwords
    }

    fn current(&self) -> Client {
        self.client
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The flow cookie's value: the flow as JSON, in hex, then its MAC.
    fn seal(&self, flow: &Flow) -> String {
        let body = hex::encode(serde_json::to_vec(flow).unwrap_or_default());
        let mut mac = hmac(&self.key);
        mac.update(body.as_bytes());
        format!("{body}.{}", hex::encode(mac.finalize().into_bytes()))
    }

    /// The flow a cookie carries, if its MAC is right, it has not expired and this replica has
    /// not taken it before; taking it marks it taken.
    fn open(&self, value: &str, now: i64) -> Option<Flow> {
        let (body, tag) = value.split_once('.')?;
        let mut mac = hmac(&self.key);
        mac.update(body.as_bytes());
        mac.verify_slice(&hex::decode(tag).ok()?).ok()?;
        let flow: Flow = serde_json::from_slice(&hex::decode(body).ok()?).ok()?;
        if flow.expires < now {
            return None;
        }
        let mut taken = self
            .taken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        taken.retain(|_, expires| *expires >= now);
        if taken.insert(flow.state.clone(), flow.expires).is_some() {
            return None;
        }
        Some(flow)
    }

    /// Exchanges the code (with the PKCE verifier), verifies the ID token, and reads the
    /// configured claim from it, or from the userinfo endpoint when the token lacks it.
    fn identify(&self, code: String, flow: &Flow) -> Result<String, String> {
        let client = self.current();
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| format!("the provider has no token endpoint: {e}"))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request(&self.http)
            .map_err(|e| format!("the provider refused the code: {}", chain(&e)))?;
        let token = tokens
            .id_token()
            .ok_or("the provider's answer holds no ID token")?;
        let nonce = Nonce::new(flow.nonce.clone());
        let (standard, extra) = match token.claims(&client.id_token_verifier(), &nonce) {
            Ok(c) => (standard_of(c), c.additional_claims().clone()),
            Err(ClaimsVerificationError::SignatureVerification(_)) => {
                // The provider may have rolled its signing keys over since start-up: read them
                // again once, and verify again with them.
                let fresh = self.refresh()?;
                let c = token
                    .claims(&fresh.id_token_verifier(), &nonce)
                    .map_err(|e| format!("the ID token is not valid: {}", chain(&e)))?;
                (standard_of(c), c.additional_claims().clone())
            }
            Err(e) => return Err(format!("the ID token is not valid: {}", chain(&e))),
        };
        if let Some(found) = claim(&self.claim, &standard, &extra) {
            return Ok(found);
        }
        let info: UserInfo = client
            .user_info(
                AccessToken::new(tokens.access_token().secret().clone()),
                Some(standard.subject().clone()),
            )
            .map_err(|_| {
                format!(
                    "the ID token has no {:?} claim and the provider has no userinfo endpoint",
                    self.claim
                )
            })?
            .request(&self.http)
            .map_err(|e| format!("the userinfo endpoint failed: {}", chain(&e)))?;
        claim(
            &self.claim,
            info.standard_claims(),
            info.additional_claims(),
        )
        .ok_or_else(|| {
            format!(
                "neither the ID token nor the userinfo endpoint has a {:?} claim — ask for the \
                 scope that carries it, or set oidc.claim to one the provider sends",
                self.claim
            )
        })
    }

    /// Discovery again (new signing keys); the fresh client replaces the old one.
    fn refresh(&self) -> Result<Client, String> {
        let fresh = client(
            &self.http,
            &self.issuer,
            &self.client_id,
            &self.client_secret,
            &self.redirect,
        )?;
        *self
            .client
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = fresh.clone();
        Ok(fresh)
    }
}

/// The client from the provider's discovery document and keys.
fn client(
    http: &Http,
    issuer: &IssuerUrl,
    id: &ClientId,
    secret: &ClientSecret,
    redirect: &RedirectUrl,
) -> Result<Client, String> {
    let metadata = CoreProviderMetadata::discover(issuer, http).map_err(|e| {
        format!(
            "cannot read the OpenID Connect discovery document of {} ({}/.well-known/openid-configuration): {} — check oidc.issuer and that this machine reaches the provider",
            issuer.as_str(),
            issuer.as_str().trim_end_matches('/'),
            chain(&e)
        )
    })?;
    // The secret goes in the token request's body when the provider lists only that way (Entra
    // ID's discovery document does), else as HTTP Basic, the default when none is listed
    // (OpenID Connect Discovery 1.0, section 3).
    let methods = metadata.token_endpoint_auth_methods_supported();
    let basic = methods.is_none_or(|m| m.contains(&CoreClientAuthMethod::ClientSecretBasic));
    let post = methods.is_some_and(|m| m.contains(&CoreClientAuthMethod::ClientSecretPost));
    Ok(
        Client::from_provider_metadata(metadata, id.clone(), Some(secret.clone()))
            .set_redirect_uri(redirect.clone())
            .set_auth_type(if post && !basic {
                AuthType::RequestBody
            } else {
                AuthType::BasicAuth
            }),
    )
}

/// The standard claims of an ID token that can name an operator.
fn standard_of(
    c: &openidconnect::IdTokenClaims<Extra, CoreGenderClaim>,
) -> StandardClaims<CoreGenderClaim> {
    StandardClaims::new(c.subject().clone())
        .set_email(c.email().cloned())
        .set_email_verified(c.email_verified())
        .set_preferred_username(c.preferred_username().cloned())
}

/// An error and its causes on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// The named claim's value, when the claims hold it as text. An `email` whose
/// `email_verified` is false does not count: the provider does not vouch for it.
fn claim(name: &str, standard: &StandardClaims<CoreGenderClaim>, extra: &Extra) -> Option<String> {
    let value = match name {
        "email" => {
            if standard.email_verified() == Some(false) {
                return None;
            }
            standard.email().map(|e| e.as_str().to_owned())
        }
        "preferred_username" => standard.preferred_username().map(|u| u.as_str().to_owned()),
        "sub" => Some(standard.subject().as_str().to_owned()),
        other => extra
            .0
            .get(other)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    };
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// What the browser carries from `/login/oidc` to the callback.
#[derive(Debug, Deserialize, Serialize)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
    expires: i64,
}

fn flow_cookie(value: &str, max_age: i64) -> HeaderValue {
    auth::set_cookie(FLOW_COOKIE, "/login/oidc", value, max_age)
}

fn flow_value(headers: &HeaderMap) -> Option<String> {
    auth::cookie_value(headers, FLOW_COOKIE)
}

fn not_configured() -> Response {
    (
        StatusCode::NOT_FOUND,
        layout::message_page(
            "Single sign-on is not set up",
            None,
            "This Cardwatch has no single sign-on configured: sign in with your user name and password.",
            Some(("/login", "Sign in")),
        ),
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct StartQuery {
    next: Option<String>,
}

/// `GET /login/oidc`: sends the browser to the provider with a fresh state, nonce and PKCE
/// challenge, remembered in the flow cookie.
pub(crate) async fn start(State(state): State<AppState>, Query(q): Query<StartQuery>) -> Response {
    let Some(sso) = state.checks.sso.clone() else {
        return not_configured();
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = sso
        .current()
        .authorize_url(
            AuthenticationFlow::<openidconnect::core::CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let flow = Flow {
        state: csrf.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        next: on_this_server(q.next.as_deref().unwrap_or("/")),
        expires: (state.now)().unix() + FLOW_SECONDS,
    };
    (
        StatusCode::SEE_OTHER,
        [
            (SET_COOKIE, flow_cookie(&sso.seal(&flow), FLOW_SECONDS)),
            (
                LOCATION,
                HeaderValue::from_str(url.as_str()).unwrap_or(HeaderValue::from_static("/login")),
            ),
        ],
    )
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// A refusal page, clearing the flow cookie.
fn refused(status: StatusCode, title: &str, message: &str) -> Response {
    (
        status,
        [(SET_COOKIE, flow_cookie("", 0))],
        layout::message_page(title, None, message, Some(("/login", "Back to sign in"))),
    )
        .into_response()
}

/// How a sign-in through the provider ended, once the identity is known.
enum Outcome {
    In(String),
    Unknown,
    Disabled,
}

/// `GET /login/oidc/callback`: checks the state against the flow cookie, exchanges the code,
/// verifies the ID token, and signs in the operator the configured claim names — or refuses,
/// audited, when no operator has that name or theirs is disabled.
pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(sso) = state.checks.sso.clone() else {
        return not_configured();
    };
    let now = (state.now)();
    let again = "Go back to the sign-in page and start again.";
    let Some(flow) = flow_value(&headers).and_then(|v| sso.open(&v, now.unix())) else {
        tracing::warn!("single sign-on callback without a live flow cookie");
        return refused(
            StatusCode::BAD_REQUEST,
            "Sign-in expired",
            &format!("This sign-in did not start here, took longer than ten minutes or was already used. {again}"),
        );
    };
    if q.state.as_deref() != Some(flow.state.as_str()) {
        tracing::warn!("single sign-on callback with a state that does not match its cookie");
        return refused(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            &format!(
                "The answer from the identity provider does not belong to this sign-in. {again}"
            ),
        );
    }
    if let Some(error) = q.error {
        tracing::warn!(%error, "the identity provider did not sign someone in");
        let said = q.error_description.unwrap_or(error);
        return refused(
            StatusCode::UNAUTHORIZED,
            "Not signed in",
            &format!("{} did not sign you in: {said}. {again}", sso.name),
        );
    }
    let Some(code) = q.code else {
        return refused(
            StatusCode::BAD_REQUEST,
            "Sign-in refused",
            &format!("The answer from the identity provider has no code. {again}"),
        );
    };
    let identified = {
        let sso = sso.clone();
        // What the exchange with the provider logs belongs to this request: its span goes along.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            span.in_scope(|| sso.identify(code, &flow).map(|id| (id, flow)))
        })
        .await
        .unwrap_or_else(|e| Err(format!("worker failed: {e}")))
    };
    let (identity, flow) = match identified {
        Ok(x) => x,
        Err(why) => {
            tracing::warn!(issuer = sso.issuer.as_str(), %why, "single sign-on failed");
            return refused(
                StatusCode::BAD_GATEWAY,
                "Sign-in failed",
                &format!(
                    "Cardwatch could not confirm who you are with {}: {why}. {again} If it happens again, tell your administrator.",
                    sso.name
                ),
            );
        }
    };
    let name = identity.to_ascii_lowercase();
    let issuer = sso.issuer.as_str().to_owned();
    let outcome = crate::web::blocking(&state, move |s| {
        let user = match Username::parse(&name) {
            Ok(u) => s.user(&u)?,
            Err(_) => None,
        };
        let (outcome, action, reason) = match user {
            None => (
                Outcome::Unknown,
                "refuse",
                Some("no operator has this name"),
            ),
            Some(u) if u.disabled => (
                Outcome::Disabled,
                "refuse",
                Some("the operator is disabled"),
            ),
            Some(u) => {
                let (token, _) = start_session(s, &u, now)?;
                (Outcome::In(token), "sign_in", None)
            }
        };
        let after = serde_json::json!({
            "method": "openid_connect",
            "issuer": issuer,
            "reason": reason,
        });
        with_exec(s, |x| {
            x.audit(
                &Change {
                    actor: format!("oidc:{name}"),
                    at: now,
                },
                &Entry {
                    action,
                    kind: "sign_in",
                    key: &name,
                    before: None,
                    after: Some(after.to_string()),
                },
            )
        })?;
        Ok(outcome)
    })
    .await;
    let clear = (SET_COOKIE, flow_cookie("", 0));
    match outcome {
        Ok(Outcome::In(token)) => (
            StatusCode::SEE_OTHER,
            [
                clear,
                (SET_COOKIE, cookie(&token, SESSION_SECONDS)),
                (
                    LOCATION,
                    HeaderValue::from_str(&flow.next).unwrap_or(HeaderValue::from_static("/")),
                ),
            ],
        )
            .into_response(),
        Ok(Outcome::Unknown) => refused(
            StatusCode::FORBIDDEN,
            "Not set up in Cardwatch",
            &format!(
                "Your {} account ({identity}) is not set up in Cardwatch; ask your administrator to add you as an operator.",
                sso.name
            ),
        ),
        Ok(Outcome::Disabled) => refused(
            StatusCode::FORBIDDEN,
            "Account disabled",
            &format!(
                "Your Cardwatch account ({identity}) is disabled; ask your administrator."
            ),
        ),
        Err(f) => f.into_response(),
    }
}

/// On `/login`: when local passwords are off, a password sign-in is refused before it is
/// checked (the page itself shows only the single sign-on button), and audited as the other
/// refused sign-ins are: for which operator (or `unknown`), from which client, and why. The
/// password is never read.
pub(crate) async fn passwords_off(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    request: Request,
    next: Next,
) -> Response {
    let sso = match &state.checks.sso {
        Some(sso) if !sso.local_passwords && request.method() == Method::POST => sso.clone(),
        _ => return next.run(request).await,
    };
    // A sign-in form is a few hundred bytes; anything that cannot be read is audited as from
    // no one in particular.
    let body = axum::body::to_bytes(request.into_body(), 64 << 10)
        .await
        .unwrap_or_default();
    let typed = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "username")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let now = (state.now)();
    let audited = crate::web::blocking(&state, move |s| {
        let known = match Username::parse(typed.trim()) {
            Ok(name) => s.user(&name)?.map(|u| u.user.username),
            Err(_) => None,
        };
        let key = known.as_ref().map_or("unknown", |n| n.as_str());
        let after = serde_json::json!({
            "client": client.to_string(),
            "reason": "local passwords are turned off: sign in through single sign-on",
        });
        with_exec(s, |x| {
            x.audit(
                &Change {
                    actor: format!("client:{client}"),
                    at: now,
                },
                &Entry {
                    action: "sign_in_failed",
                    kind: "operator",
                    key,
                    before: None,
                    after: Some(after.to_string()),
                },
            )
        })
    })
    .await;
    if let Err(f) = audited {
        return f.into_response();
    }
    // No name or address in the log line (docs/PRIVACY.md): the audit log has them.
    tracing::warn!("password sign-in refused: local passwords are turned off");
    (
        StatusCode::FORBIDDEN,
        layout::message_page(
            "Passwords are turned off",
            None,
            &format!(
                "This Cardwatch signs operators in through {} only, not with a password.",
                sso.name
            ),
            Some(("/login", sso.button())),
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openidconnect::SubjectIdentifier;

    fn sso() -> Sso {
        let metadata = CoreProviderMetadata::new(
            IssuerUrl::new("https://id.example".into()).unwrap(),
            openidconnect::AuthUrl::new("https://id.example/auth".into()).unwrap(),
            openidconnect::JsonWebKeySetUrl::new("https://id.example/jwks".into()).unwrap(),
            vec![],
            vec![],
            vec![],
            openidconnect::EmptyAdditionalProviderMetadata {},
        );
        let client = Client::from_provider_metadata(metadata, ClientId::new("c".into()), None);
        Sso {
            client: RwLock::new(client),
            http: Http::new(),
            issuer: IssuerUrl::new("https://id.example".into()).unwrap(),
            client_id: ClientId::new("c".into()),
            client_secret: ClientSecret::new("s".into()),
            redirect: RedirectUrl::new("https://cw.example/login/oidc/callback".into()).unwrap(),
            claim: "email".into(),
            name: "NHSmail".into(),
            button: "Sign in with NHSmail".into(),
            local_passwords: true,
            key: [7; 32],
            taken: Mutex::default(),
        }
    }

    fn flow(expires: i64) -> Flow {
        Flow {
            state: "st".into(),
            nonce: "no".into(),
            verifier: "ve".into(),
            next: "/".into(),
            expires,
        }
    }

    #[test]
    fn a_flow_cookie_opens_once_unaltered_and_in_time() {
        let s = sso();
        let sealed = s.seal(&flow(1_000));
        let (body, tag) = sealed.split_once('.').unwrap();
        // Another body under the same tag (a changed state, say) is refused.
        let other = s.seal(&Flow {
            state: "forged".into(),
            ..flow(1_000)
        });
        let forged = format!("{}.{tag}", other.split_once('.').unwrap().0);
        assert!(s.open(&forged, 500).is_none());
        assert!(s.open(&format!("{body}.00"), 500).is_none());
        // Expired.
        assert!(s.open(&sealed, 1_001).is_none());
        // In time: once, then never again.
        assert_eq!(s.open(&sealed, 500).map(|f| f.state), Some("st".into()));
        assert!(s.open(&sealed, 500).is_none());
    }

    #[test]
    fn the_claim_is_read_from_standard_and_other_claims() {
        let standard = StandardClaims::<CoreGenderClaim>::new(SubjectIdentifier::new("u1".into()))
            .set_email(Some(openidconnect::EndUserEmail::new(
                "Asha.Patel@nhs.net".into(),
            )))
            .set_preferred_username(Some(openidconnect::EndUserUsername::new("asha".into())));
        let mut extra = Extra::default();
        extra.0.insert("upn".into(), "asha.patel@nhs.net".into());
        extra.0.insert("groups".into(), serde_json::json!(["a"]));
        assert_eq!(
            claim("email", &standard, &extra).as_deref(),
            Some("Asha.Patel@nhs.net")
        );
        assert_eq!(
            claim("preferred_username", &standard, &extra).as_deref(),
            Some("asha")
        );
        assert_eq!(claim("sub", &standard, &extra).as_deref(), Some("u1"));
        assert_eq!(
            claim("upn", &standard, &extra).as_deref(),
            Some("asha.patel@nhs.net")
        );
        // Not text, or absent: no name.
        assert_eq!(claim("groups", &standard, &extra), None);
        assert_eq!(claim("unique_name", &standard, &extra), None);
        // An email the provider says it has not verified names nobody.
        let unverified = standard.set_email_verified(Some(false));
        assert_eq!(claim("email", &unverified, &extra), None);
    }
}
