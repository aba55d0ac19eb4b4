//! The signing self-test (seed 002's "can this card sign here?"): the holder types their PIN,
//! the card signs a random challenge with its signing key, and the signature is checked against
//! the signing certificate. The PIN is read once, never stored, logged or sent, and wiped from
//! memory as soon as the card has it; a refused PIN is never tried again (three wrong PINs lock
//! a card).

use std::io::{BufRead, IsTerminal};
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use cryptoki::context::Pkcs11;
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use x509_parser::prelude::{FromDer, X509Certificate};
use zeroize::Zeroizing;

/// Where a self-test stopped, which says whose the failure is: a failure before the PIN (no
/// card, no signing certificate) or at it (a wrong PIN) is about the card or the holder; one at
/// sign-in for another reason, or while signing, can be the workstation's middleware — what the
/// server's failure rates by version count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Finding the card and its signing certificate.
    Setup,
    /// The PIN was refused, or the card is locked.
    Pin,
    /// The card refused the sign-in for another reason.
    Login,
    /// Signing, or checking the signature.
    Signing,
}

impl Stage {
    /// The text form, in the `signing_test` event.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Setup => "setup",
            Stage::Pin => "pin",
            Stage::Login => "login",
            Stage::Signing => "signing",
        }
    }
}

/// A self-test that failed: where, and why in plain words.
#[derive(Debug)]
pub struct Failure {
    /// Where it stopped.
    pub stage: Stage,
    /// Why.
    pub error: anyhow::Error,
}

impl Failure {
    /// A failure before the card was asked for anything.
    pub fn setup(error: anyhow::Error) -> Failure {
        Failure {
            stage: Stage::Setup,
            error,
        }
    }
}

/// How the self-test went.
#[derive(Debug)]
pub struct Outcome {
    /// The card (token label).
    pub token: String,
    /// The signing certificate's subject.
    pub subject: String,
}

/// Reads the PIN: from the terminal without echo, or the first line of standard input when it
/// is not a terminal (scripts). The buffer is wiped when dropped.
pub fn read_pin() -> Result<Zeroizing<String>> {
    let stdin = std::io::stdin();
    let line = if stdin.is_terminal() {
        // `rpassword` turns echo off on the console itself (the Windows console API, termios on
        // Unix), so the PIN is hidden where the agent runs. It reads the terminal (/dev/tty,
        // CONIN$), not standard input, which is why a piped PIN is read below instead.
        Zeroizing::new(
            rpassword::prompt_password("Passcode for the card (not shown, not kept): ")
                .context("cannot read the passcode from the terminal")?,
        )
    } else {
        let mut line = Zeroizing::new(String::new());
        stdin.lock().read_line(&mut line)?;
        line
    };
    let pin = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
    if pin.is_empty() {
        return Err(anyhow!(
            "no passcode was given — nothing was sent to the card"
        ));
    }
    Ok(pin)
}

/// What a refused login means for the holder, in plain words.
fn login_refused(e: P11Error) -> Failure {
    let (stage, error) = match e {
        P11Error::Pkcs11(RvError::PinIncorrect, _) => (
            Stage::Pin,
            anyhow!(
                "the card did not accept the passcode. It was tried once and will not be tried again: \
                 three wrong passcodes lock a card. Check the passcode with the holder before another test"
            ),
        ),
        P11Error::Pkcs11(RvError::PinLocked, _) => (
            Stage::Pin,
            anyhow!(
                "the card is locked after too many wrong passcodes: a Local Smartcard Administrator or \
                 the RA can unlock it (the holder needs their card and ID)"
            ),
        ),
        other => (
            Stage::Login,
            anyhow!("the card refused the sign-in: {other}"),
        ),
    };
    Failure { stage, error }
}

/// Signs a random challenge with the signing key of the card `token` (or the only card) and
/// verifies the signature with its signing certificate. The PIN is consumed.
pub fn run(
    module: &Path,
    token: Option<&str>,
    pin: Zeroizing<String>,
) -> std::result::Result<Outcome, Failure> {
    let p11 = crate::pkcs11_certs::open(module).map_err(Failure::setup)?;
    let (session, label, id, subject, public_key) =
        signing_certificate(&p11, token).map_err(Failure::setup)?;
    // The PIN goes to the card and nowhere else; its copy is wiped when `auth` drops.
    let auth = AuthPin::new(pin.as_str().into());
    drop(pin);
    session
        .login(UserType::User, Some(&auth))
        .map_err(login_refused)?;
    drop(auth);
    sign_and_check(&session, &label, id, &public_key).map_err(|error| Failure {
        stage: Stage::Signing,
        error,
    })?;
    Ok(Outcome {
        token: label,
        subject,
    })
}

/// The card's session and label, and its signing certificate's key id, subject and public key.
type Found = (Session, String, Vec<u8>, String, Vec<u8>);

/// Finds the card (`token`, or the only one) and its signing certificate, before asking the card
/// for anything.
fn signing_certificate(p11: &Pkcs11, token: Option<&str>) -> Result<Found> {
    let mut cards = Vec::new();
    for slot in p11.get_slots_with_token()? {
        let info = p11.get_token_info(slot)?;
        if info.token_initialized() {
            cards.push((slot, info.label().trim().to_owned()));
        }
    }
    let (slot, label) = match token {
        Some(t) => cards.into_iter().find(|(_, l)| l == t).ok_or_else(|| {
            anyhow!("no card {t:?} is inserted — `cardwatch-agent certificates` lists them")
        })?,
        None if cards.len() == 1 => cards.remove(0),
        None if cards.is_empty() => return Err(anyhow!("no card is inserted")),
        None => {
            return Err(anyhow!(
                "{} cards are inserted ({}): name one with --token, or remove the others",
                cards.len(),
                cards
                    .iter()
                    .map(|c| c.1.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    };
    let session = p11.open_ro_session(slot)?;
    let mut signing = None;
    for object in session.find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])? {
        let mut der = Vec::new();
        let mut id = Vec::new();
        for a in session.get_attributes(object, &[AttributeType::Value, AttributeType::Id])? {
            match a {
                Attribute::Value(v) => der = v,
                Attribute::Id(i) => id = i,
                _ => {}
            }
        }
        let Ok((_, cert)) = X509Certificate::from_der(&der) else {
            continue;
        };
        let signs = cert
            .key_usage()
            .ok()
            .flatten()
            .is_some_and(|k| k.value.non_repudiation());
        if signs {
            signing = Some((
                id,
                cert.subject().to_string(),
                cert.public_key().subject_public_key.data.to_vec(),
            ));
            break;
        }
    }
    let (id, subject, public_key) = signing
        .ok_or_else(|| anyhow!("card {label} has no signing certificate (key usage non-repudiation): it can sign in but not sign — a card that can sign is needed"))?;
    Ok((session, label, id, subject, public_key))
}

/// Signs a random challenge with the key beside the signing certificate, and checks the
/// signature with the certificate's public key.
fn sign_and_check(session: &Session, label: &str, id: Vec<u8>, public_key: &[u8]) -> Result<()> {
    let key = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id),
        ])?
        .into_iter()
        .next()
        .ok_or_else(|| {
            anyhow!("card {label}: the signing certificate has no private key beside it")
        })?;
    let mut challenge = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut challenge)
        .map_err(|_| anyhow!("no randomness for the challenge"))?;
    let signature = session
        .sign(&Mechanism::Sha256RsaPkcs, key, &challenge)
        .map_err(|e| anyhow!("card {label} would not sign: {e}"))?;
    let _ = session.logout();
    ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        public_key,
    )
    .verify(&challenge, &signature)
    .map_err(|_| {
        anyhow!("card {label} signed, but the signature does not match its signing certificate: the card needs replacing")
    })
}
