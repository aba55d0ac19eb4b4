//! The account page's "Digest by email" section: an operator chooses where their digest goes,
//! how often, how serious a finding must be, and their quiet hours. Saved changes are audited.

use axum::response::{IntoResponse, Response};
use cardwatch_core::health::Severity;
use cardwatch_core::notify::{Frequency, Quiet};
use cardwatch_store::notify::{self, Prefs};
use serde::Deserialize;

use crate::web::auth::Caller;
use crate::web::{blocking, escape};
use crate::AppState;

/// The section, filled with the operator's current settings.
pub(crate) async fn section(state: &AppState, caller: &Caller) -> Result<String, Response> {
    let name = caller.user.user.username.as_str().to_owned();
    let current = blocking(state, move |s| notify::subscriber(s, &name))
        .await
        .map_err(IntoResponse::into_response)?
        .map(|s| s.prefs);
    let csrf = escape(&caller.csrf);
    let email = current.as_ref().map_or("", |p| p.email.as_str());
    let freq = current.as_ref().map_or(Frequency::Off, |p| p.frequency);
    let sev = current
        .as_ref()
        .map_or(Severity::Urgent, |p| p.min_severity);
    let quiet = current
        .as_ref()
        .and_then(|p| p.quiet)
        .map_or(String::new(), |q| q.to_string());
    let options = |all: &[&str], chosen: &str| {
        all.iter()
            .map(|o| {
                let sel = if *o == chosen { " selected" } else { "" };
                format!("<option value=\"{o}\"{sel}>{o}</option>")
            })
            .collect::<String>()
    };
    let severities: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
    Ok(format!(
        "<h2 class=\"nhsuk-heading-m\" id=\"digest\">Digest by email</h2>\
         <p class=\"nhsuk-body\">New and urgent findings for your organisations, sent by the scheduler. Every email has a link to stop them.</p>\
         <form method=\"post\" action=\"/account/digest\" novalidate><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"digest-email\">Email address</label><input class=\"nhsuk-input nhsuk-u-width-one-half\" id=\"digest-email\" name=\"email\" type=\"email\" autocomplete=\"email\" value=\"{}\"></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"digest-frequency\">How often</label><select class=\"nhsuk-select\" id=\"digest-frequency\" name=\"frequency\">{}</select></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"digest-severity\">Findings at least this serious</label><select class=\"nhsuk-select\" id=\"digest-severity\" name=\"min_severity\">{}</select></div>\
         <div class=\"nhsuk-form-group\"><label class=\"nhsuk-label\" for=\"digest-quiet\">Quiet hours, UK time (optional, e.g. 20:00-07:00)</label><input class=\"nhsuk-input nhsuk-input--width-10\" id=\"digest-quiet\" name=\"quiet\" value=\"{}\"></div>\
         <button class=\"nhsuk-button nhsuk-button--secondary\">Save digest settings</button></form>\n",
        escape(email),
        options(&["daily", "weekly", "off"], freq.as_str()),
        options(&severities, sev.as_str()),
        escape(&quiet),
    ))
}

#[derive(Deserialize)]
pub(crate) struct DigestForm {
    #[serde(default)]
    pub(super) csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    frequency: String,
    #[serde(default)]
    min_severity: String,
    #[serde(default)]
    quiet: String,
}

/// Saves the caller's digest settings: the notice.
pub(crate) async fn save(
    state: &AppState,
    caller: &Caller,
    f: DigestForm,
) -> Result<String, Response> {
    let refuse = |field: &str, m: String| {
        crate::web::bad_request(field, format!("{m} — change it and save again")).into_response()
    };
    let email = f.email.trim().to_owned();
    if cardwatch_core::ids::Email::parse(&email).is_err() {
        return Err(refuse(
            "email",
            format!("{email:?} is not an email address"),
        ));
    }
    let frequency = match Frequency::parse(&f.frequency) {
        Ok(x) => x,
        Err(e) => return Err(refuse("frequency", e)),
    };
    let min_severity = match Severity::parse(&f.min_severity) {
        Ok(x) => x,
        Err(e) => return Err(refuse("min_severity", e)),
    };
    let quiet = match f.quiet.trim() {
        "" => None,
        q => match Quiet::parse(q) {
            Ok(x) => Some(x),
            Err(e) => return Err(refuse("quiet", e)),
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
    let secret = crate::web::auth::new_token_secret();
    match blocking(state, move |s| {
        notify::set_prefs(s, &prefs, &secret, &change)
    })
    .await
    {
        Ok(()) => Ok("Digest settings saved.".into()),
        Err(f) => Err(f.into_response()),
    }
}
