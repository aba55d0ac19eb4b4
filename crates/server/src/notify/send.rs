//! Sending what the outbox holds: email over SMTP (`lettre`) and webhooks over HTTP(S)
//! (`ureq`), each blocking, run on the blocking pool. Nothing here decides what to send.

use std::time::Duration;

use cardwatch_core::notify::sign;
use cardwatch_store::notify::{Outgoing, Webhook};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{SmtpTransport, Transport};
use sha2::{Digest, Sha256};

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (a relay on loopback).
    None,
    /// STARTTLS, required.
    StartTls,
    /// TLS from the first byte (`smtps://`, port 465).
    Wrapper,
}

/// A relay from `smtp_url`: `smtp://[user:pass@]host[:port][?tls=starttls|none]` or
/// `smtps://[user:pass@]host[:port]`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpRelay {
    host: String,
    port: u16,
    tls: SmtpTls,
    credentials: Option<(String, String)>,
    /// Certificate authorities trusted besides the public ones (PEM): an organisation's own
    /// relay often has a certificate from its own authority.
    roots: Option<Vec<u8>>,
}

impl std::fmt::Debug for SmtpRelay {
    // The password never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self)
    }
}

impl std::fmt::Display for SmtpRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tls = match self.tls {
            SmtpTls::None => "no TLS",
            SmtpTls::StartTls => "STARTTLS",
            SmtpTls::Wrapper => "TLS",
        };
        write!(f, "{}:{} ({tls})", self.host, self.port)
    }
}

/// A user name or password from the URL, `%`-escapes decoded. `url` keeps a malformed escape as
/// it was written (as the URL standard says), so each `%` is checked to be followed by two hex
/// digits first: a mistyped escape is refused rather than sent to the relay as typed.
fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    if let Some(i) = (0..b.len()).find(|&i| {
        b[i] == b'%'
            && !b
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    }) {
        return Err(format!(
            "the user name or password has a broken %-escape at character {} \
             (a % must be followed by two hex digits, e.g. %40 for @)",
            i + 1
        ));
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|d| d.into_owned())
        .map_err(|_| "the user name or password is not UTF-8 once its %-escapes are decoded".into())
}

impl SmtpRelay {
    /// Parses an SMTP URL (with the `url` crate); the error says what is wrong and shows the
    /// accepted forms.
    pub fn parse(url: &str) -> Result<SmtpRelay, String> {
        let forms = "use smtp://user:pass@relay.example:587?tls=starttls, smtps://relay.example:465 or smtp://127.0.0.1:2525";
        let bad = |why: &str| format!("smtp_url: {why} — {forms}");
        if !url.contains("://") {
            return Err(bad("no scheme"));
        }
        let parsed = url::Url::parse(url).map_err(|e| match e {
            url::ParseError::InvalidPort => bad("the port is not a number from 0 to 65535"),
            url::ParseError::EmptyHost => bad("no host"),
            other => bad(&format!("it is not a URL ({other})")),
        })?;
        let scheme = parsed.scheme();
        let mut tls = match scheme {
            "smtp" => SmtpTls::None,
            "smtps" => SmtpTls::Wrapper,
            other => return Err(bad(&format!("the scheme {other:?} is not smtp or smtps"))),
        };
        if !matches!(parsed.path(), "" | "/") || parsed.fragment().is_some() {
            return Err(bad("a relay's URL has no path or #fragment"));
        }
        for pair in parsed
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
        {
            match pair.split_once('=') {
                Some(("tls", "starttls" | "required")) if scheme == "smtp" => {
                    tls = SmtpTls::StartTls
                }
                Some(("tls", "none")) if scheme == "smtp" => tls = SmtpTls::None,
                _ => return Err(bad(&format!("{pair:?} is not a known setting"))),
            }
        }
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            _ => return Err(bad("no host")),
        };
        let port = parsed.port().unwrap_or(match tls {
            SmtpTls::Wrapper => 465,
            SmtpTls::StartTls => 587,
            SmtpTls::None => 25,
        });
        let credentials = match (parsed.username(), parsed.password()) {
            ("", None) => None,
            (user, pass) => Some((
                percent_decode(user).map_err(|e| bad(&e))?,
                percent_decode(pass.unwrap_or("")).map_err(|e| bad(&e))?,
            )),
        };
        Ok(SmtpRelay {
            host,
            port,
            tls,
            credentials,
            roots: None,
        })
    }

    /// The same relay, also trusting the certificate authorities in `pem` (`smtp_ca_file`).
    pub fn trusting(self, pem: Vec<u8>) -> Result<SmtpRelay, String> {
        if self.tls == SmtpTls::None {
            return Err(
                "is of no use: the relay is not reached over TLS — use smtps:// or \
                        ?tls=starttls, or remove smtp_ca_file"
                    .into(),
            );
        }
        roots(&pem)?;
        Ok(SmtpRelay {
            roots: Some(pem),
            ..self
        })
    }

    /// A connection to the relay (opened on first use).
    pub fn transport(&self) -> Result<SmtpTransport, String> {
        let params = || {
            let mut b = TlsParameters::builder(self.host.clone());
            if let Some(pem) = &self.roots {
                b = b.add_root_certificate(roots(pem)?);
            }
            b.build().map_err(|e| format!("TLS for {}: {e}", self.host))
        };
        let tls = match self.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(params()?),
            SmtpTls::Wrapper => Tls::Wrapper(params()?),
        };
        let mut b = SmtpTransport::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(20)));
        if let Some((u, p)) = &self.credentials {
            b = b.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(b.build())
    }
}

/// The certificates of a PEM file; none at all is an error, not an empty trust.
fn roots(pem: &[u8]) -> Result<Certificate, String> {
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Certificate::from_pem(pem).map_err(|e| format!("is not a readable PEM certificate: {e}"))
}

/// The Message-ID for an idempotency key: the same on every retry, so a receiving system can
/// recognise a repeat.
pub fn message_id(key: &str) -> String {
    let h = Sha256::digest(key.as_bytes());
    format!("<{}@cardwatch.invalid>", hex::encode(&h[..16]))
}

/// Sends one email with its plain-text and HTML parts.
pub fn email(t: &SmtpTransport, from: &str, m: &Outgoing) -> Result<(), String> {
    let from: Mailbox = from
        .parse()
        .map_err(|e| format!("the sender {from:?} is not an address: {e}"))?;
    let to: Mailbox = m
        .recipient
        .parse()
        .map_err(|e| format!("the recipient {:?} is not an address: {e}", m.recipient))?;
    let msg = lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(m.subject.clone())
        .message_id(Some(message_id(&m.key)))
        .multipart(MultiPart::alternative_plain_html(
            m.text.clone(),
            m.html.clone(),
        ))
        .map_err(|e| format!("cannot build the message: {e}"))?;
    t.send(&msg).map(drop).map_err(|e| format!("SMTP: {e}"))
}

/// Posts one webhook message with its signature headers; any status other than 2xx fails.
pub fn webhook(hook: &Webhook, m: &Outgoing, now: i64) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(15)))
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .post(&hook.url)
        .header("Content-Type", "application/json")
        .header(
            "X-Cardwatch-Event",
            m.key.split(':').next().unwrap_or("event"),
        )
        .header("X-Cardwatch-Delivery", &message_id(&m.key))
        .header("X-Cardwatch-Timestamp", &now.to_string())
        .header(
            "X-Cardwatch-Signature",
            &sign(hook.secret.as_bytes(), now, &m.text),
        )
        .send(m.text.as_str())
        .map_err(|e| format!("{}: {e}", hook.url))?;
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("{} answered HTTP {status}", hook.url))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_of_every_accepted_form() {
        let r = SmtpRelay::parse("smtp://user%40nhs.net:p%3Ass@relay.example:587?tls=starttls")
            .unwrap();
        assert_eq!(r.host, "relay.example");
        assert_eq!((r.port, r.tls), (587, SmtpTls::StartTls));
        assert_eq!(r.credentials, Some(("user@nhs.net".into(), "p:ss".into())));
        assert!(!format!("{r:?}").contains("p:ss"), "no password in logs");
        let local = SmtpRelay::parse("smtp://127.0.0.1:2525").unwrap();
        assert_eq!(
            (local.port, local.tls, local.credentials),
            (2525, SmtpTls::None, None)
        );
        assert_eq!(SmtpRelay::parse("smtps://relay.example").unwrap().port, 465);
        let v6 = SmtpRelay::parse("smtp://[::1]:2525/").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 2525));
        // A password with an @ and a % in it, escaped.
        let at = SmtpRelay::parse("smtp://pm:a%40b%25c@relay.example").unwrap();
        assert_eq!(at.credentials, Some(("pm".into(), "a@b%c".into())));
        assert_eq!(
            SmtpRelay::parse("smtp://relay.example?tls=starttls")
                .unwrap()
                .port,
            587
        );
        for (bad, says) in [
            ("relay.example:25", "no scheme"),
            ("http://relay.example", "not smtp or smtps"),
            ("smtp://relay.example:port", "not a number"),
            ("smtp://relay.example?tls=maybe", "not a known setting"),
            ("smtp://:25", "no host"),
            ("smtp://u%zz:p@relay.example", "%-escape at character 2"),
            ("smtp://u:p%+1@relay.example", "%-escape at character 2"),
            ("smtp://u:p%2@relay.example", "%-escape"),
            ("smtp://u:p%@relay.example", "%-escape"),
            ("smtp://u:%ff@relay.example", "not UTF-8"),
            ("smtp://relay.example:70000", "not a number"),
            ("smtp://relay.example/inbox", "no path"),
        ] {
            let e = SmtpRelay::parse(bad).unwrap_err();
            assert!(e.contains(says) && e.contains("smtp://"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_key_always_gives_the_same_message_id() {
        assert_eq!(message_id("digest:pm:1"), message_id("digest:pm:1"));
        assert_ne!(message_id("digest:pm:1"), message_id("digest:pm:2"));
    }
}
