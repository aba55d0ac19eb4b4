//! Certificates on the cards, through the smartcard middleware's PKCS#11 module: every token,
//! every certificate object on it, parsed with `x509-parser` and sorted into authentication and
//! signing by key usage. Reading certificates needs no PIN.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _, Result};
use cardwatch_core::reader::CardCertificate;
use cardwatch_core::x509::parse_der;
use cryptoki::context::{CInitializeArgs, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, ObjectClass};

/// Where smartcard middleware installs its PKCS#11 module, tried in order when none is given:
/// the NHS estate's Oberthur (IDEMIA) middleware on Windows, then OpenSC on each system. Other
/// middleware is named with `--module`.
#[cfg(windows)]
const KNOWN_MODULES: &[&str] = &[
    r"C:\Windows\System32\OcsCryptoki.dll",
    r"C:\Program Files\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll",
];
#[cfg(not(windows))]
const KNOWN_MODULES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
    "/usr/local/lib/opensc-pkcs11.so",
    "/Library/OpenSC/lib/opensc-pkcs11.so",
];

/// The module to load: the one given, or the first known one present.
pub fn module(given: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = given {
        if !p.exists() {
            return Err(anyhow!(
                "no PKCS#11 module at {} — give the smartcard middleware's module with --module",
                p.display()
            ));
        }
        return Ok(p.to_owned());
    }
    KNOWN_MODULES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| {
            anyhow!(
                "no PKCS#11 module found (looked for {}) — install the smartcard middleware or give its module with --module",
                KNOWN_MODULES.join(", ")
            )
        })
}

/// The middleware's module, loaded and started.
pub fn open(module: &Path) -> Result<Pkcs11> {
    let p11 = Pkcs11::new(module)
        .with_context(|| format!("cannot load the PKCS#11 module {}", module.display()))?;
    p11.initialize(CInitializeArgs::OsThreads)
        .context("the PKCS#11 module would not start")?;
    Ok(p11)
}

/// Every certificate on every token the module sees.
pub fn certificates(module: &Path) -> Result<Vec<CardCertificate>> {
    let p11 = open(module)?;
    let mut out = Vec::new();
    for slot in p11.get_slots_with_token()? {
        let info = p11.get_token_info(slot)?;
        // A blank card (or a module's spare slot) holds nothing to read.
        if !info.token_initialized() {
            continue;
        }
        let token = info.label().trim().to_owned();
        let token_serial = info.serial_number().trim().to_owned();
        let session = p11.open_ro_session(slot)?;
        for object in session.find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])? {
            let attrs =
                session.get_attributes(object, &[AttributeType::Label, AttributeType::Value])?;
            let (mut label, mut der) = (String::new(), Vec::new());
            for a in attrs {
                match a {
                    Attribute::Label(l) => label = String::from_utf8_lossy(&l).into_owned(),
                    Attribute::Value(v) => der = v,
                    _ => {}
                }
            }
            let cert = parse_der(&der)
                .map_err(|e| anyhow!("token {token}: certificate {label:?}: {e}"))?;
            out.push(CardCertificate {
                token: token.clone(),
                token_serial: token_serial.clone(),
                label,
                cert,
            });
        }
    }
    Ok(out)
}
