//! The account page's "Digest by email" section: an operator chooses where their digest goes,
//! how often, how serious a finding must be, and their quiet hours. Saved changes are audited.

use axum::response::{IntoResponse, Response};
use cardwatch_core::health::Severity;
use cardwatch_core::notify::{Frequency, Quiet};
use cardwatch_store::notify::{self, Prefs};
use serde::Deserialize;

use super::Refused;
use crate::web::auth::Caller;
use crate::web::blocking;
use crate::AppState;

/// How often, in words.
pub(crate) const FREQUENCIES: [(&str, &str); 3] = [
    ("daily", "Every day"),
    ("weekly", "Every week"),
    ("off", "Never (no digest)"),
];

/// The severities one may choose, least first, in words.
pub(crate) fn severities() -> Vec<(&'static str, &'static str)> {
    Severity::ALL
        .iter()
        .map(|s| {
            (
                s.as_str(),
                match s {
                    Severity::Info => "Everything, even what is only worth knowing",
                    Severity::Warning => "Problems that will cause trouble if left, and worse",
                    Severity::Urgent => "Urgent problems (act this week) and worse",
                    Severity::Critical => "Only problems stopping someone working now",
                },
            )
        })
        .collect()
}

/// The operator's current settings, as the form shows them.
pub(crate) async fn current(state: &AppState, caller: &Caller) -> Result<DigestForm, Response> {
    let name = caller.user.user.username.as_str().to_owned();
    let current = blocking(state, move |s| notify::subscriber(s, &name))
        .await
        .map_err(IntoResponse::into_response)?
        .map(|s| s.prefs);
    Ok(DigestForm {
        csrf: String::new(),
        email: current.as_ref().map_or(String::new(), |p| p.email.clone()),
        frequency: current
            .as_ref()
            .map_or(Frequency::Off, |p| p.frequency)
            .as_str()
            .to_owned(),
        min_severity: current
            .as_ref()
            .map_or(Severity::Urgent, |p| p.min_severity)
            .as_str()
            .to_owned(),
        quiet: current
            .as_ref()
            .and_then(|p| p.quiet)
            .map_or(String::new(), |q| q.to_string()),
    })
}

#[derive(Clone, Deserialize)]
pub(crate) struct DigestForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    pub(super) email: String,
    #[serde(default)]
    pub(super) frequency: String,
    #[serde(default)]
    pub(super) min_severity: String,
    #[serde(default)]
    pub(super) quiet: String,
}

/// Saves the caller's digest settings: the notice.
pub(crate) async fn save(
    state: &AppState,
    caller: &Caller,
    f: DigestForm,
) -> Result<String, Refused> {
    let refuse = |field: &'static str, m: String| {
        Refused::Field(field, format!("{m} — change it and save again"))
    };
    let email = f.email.trim().to_owned();
    if email.is_empty() {
        return Err(Refused::Field(
            "digest-email",
            "Enter the email address the digest goes to, like pat.jones@nhs.net".into(),
        ));
    }
    if cardwatch_core::ids::Email::parse(&email).is_err() {
        return Err(Refused::Field(
            "digest-email",
            format!("“{email}” is not an email address: enter one like pat.jones@nhs.net"),
        ));
    }
    let frequency = match Frequency::parse(&f.frequency) {
        Ok(x) => x,
        Err(e) => return Err(refuse("digest-frequency", e)),
    };
    let min_severity = match Severity::parse(&f.min_severity) {
        Ok(x) => x,
        Err(e) => return Err(refuse("digest-severity", e)),
    };
    let quiet = match f.quiet.trim() {
        "" => None,
        q => match Quiet::parse(q) {
            Ok(x) => Some(x),
            Err(_) => {
                let m = "Enter the quiet hours as two times of day, HH:MM-HH:MM, like 20:00-07:00, or leave it empty";
                return Err(Refused::Field("digest-quiet", m.into()));
            }
        },
    };
    let prefs = Prefs {
        username: caller.user.user.username.as_str().to_owned(),
        email,
        frequency,
        min_severity,
        quiet,
    };
    let change = cardwatch_store::Change {
        actor: format!("web:{}", caller.user.user.username),
        at: (state.now)(),
    };
    let secret =
        crate::web::auth::new_token_secret().map_err(|e| Refused::Answer(e.into_response()))?;
    match blocking(state, move |s| {
        notify::set_prefs(s, &prefs, &secret, &change)
    })
    .await
    {
        Ok(()) => Ok("Digest settings saved.".into()),
        Err(f) => Err(Refused::Answer(f.into_response())),
    }
}
