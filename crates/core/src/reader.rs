//! What a workstation agent reads from PC/SC and PKCS#11, decoded without I/O: a reader's
//! firmware version from `SCARD_ATTR_VENDOR_IFD_VERSION`, an ATR as text, the report of a
//! workstation's readers with the one warning the documents tie to readers themselves (more than
//! one card attached at once, a known cause of ERR1002), and the certificates found on a card.

use serde::{Deserialize, Serialize};

use crate::x509::CertificateInfo;

/// A reader's firmware: a version, or the reader's driver does not say.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// `major.minor.build`.
    Version(String),
    /// The attribute is not supported by this reader or driver: a result, not an error.
    Unsupported,
}

/// Decodes `SCARD_ATTR_VENDOR_IFD_VERSION`: a little-endian DWORD `0xMMmmbbbb` (major, minor,
/// build). Anything but four bytes is not a version the attribute can hold.
pub fn firmware(raw: Option<&[u8]>) -> Firmware {
    match raw {
        Some(b) if b.len() == 4 => {
            let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            Firmware::Version(format!("{}.{}.{}", v >> 24, (v >> 16) & 0xff, v & 0xffff))
        }
        _ => Firmware::Unsupported,
    }
}

/// A text attribute (vendor name, model): up to the first NUL, trimmed; `None` when empty.
pub fn text_attribute(raw: Option<&[u8]>) -> Option<String> {
    let b = raw?;
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(&b[..end]).trim().to_owned();
    (!s.is_empty()).then_some(s)
}

/// An ATR as upper-case hex bytes separated by spaces, as `pcsc_scan` shows it.
pub fn atr_text(atr: &[u8]) -> String {
    atr.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One reader as the agent found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reader {
    /// The name PC/SC knows it by.
    pub name: String,
    /// The vendor, if the driver says.
    pub vendor: Option<String>,
    /// The model, if the driver says.
    pub model: Option<String>,
    /// Its firmware.
    pub firmware: Firmware,
    /// Whether a card is in it.
    pub card_present: bool,
    /// The card's ATR, when one is present.
    pub atr: Option<String>,
}

/// Every reader of a workstation and what they add up to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readers {
    /// The readers, in PC/SC's order.
    pub readers: Vec<Reader>,
    /// Cards present across all readers.
    pub cards: usize,
    /// Plain-words warnings (more than one card, no reader at all).
    pub warnings: Vec<String>,
}

impl Readers {
    /// The report over readers found.
    pub fn new(readers: Vec<Reader>) -> Readers {
        let cards = readers.iter().filter(|r| r.card_present).count();
        let mut warnings = Vec::new();
        if readers.is_empty() {
            warnings.push(
                "no smartcard reader is connected: plug one in, or check its USB cable".to_owned(),
            );
        }
        if cards > 1 {
            warnings.push(format!(
                "{cards} cards are attached at once: remove all but the holder's own (more than \
                 one card is a known cause of ERR1002)"
            ));
        }
        Readers {
            readers,
            cards,
            warnings,
        }
    }
}

/// A certificate found on a card (a PKCS#11 token), as the agent reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardCertificate {
    /// The token's label (for an NHS card, its serial or holder).
    pub token: String,
    /// The token's serial number, as the middleware reports it (the card's serial).
    #[serde(default)]
    pub token_serial: String,
    /// The object's label on the token.
    pub label: String,
    /// The certificate itself.
    #[serde(flatten)]
    pub cert: CertificateInfo,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_is_major_minor_build_or_unsupported() {
        // 0x01020003 little-endian.
        assert_eq!(
            firmware(Some(&[0x03, 0x00, 0x02, 0x01])),
            Firmware::Version("1.2.3".into())
        );
        assert_eq!(
            firmware(Some(&[0x00, 0x00, 0x10, 0x02])),
            Firmware::Version("2.16.0".into())
        );
        assert_eq!(firmware(None), Firmware::Unsupported);
        assert_eq!(firmware(Some(&[1, 2])), Firmware::Unsupported);
    }

    #[test]
    fn text_attributes_stop_at_nul_and_atrs_print_as_pcsc_scan_does() {
        assert_eq!(
            text_attribute(Some(b"OMNIKEY\0junk")),
            Some("OMNIKEY".into())
        );
        assert_eq!(text_attribute(Some(b"\0")), None);
        assert_eq!(text_attribute(None), None);
        assert_eq!(atr_text(&[0x3b, 0x95, 0x13]), "3B 95 13");
    }

    #[test]
    fn more_than_one_card_and_no_reader_are_warned_about() {
        let r = |present: bool| Reader {
            name: "R".into(),
            vendor: None,
            model: None,
            firmware: Firmware::Unsupported,
            card_present: present,
            atr: None,
        };
        assert!(Readers::new(vec![r(true), r(false)]).warnings.is_empty());
        let two = Readers::new(vec![r(true), r(true)]);
        assert_eq!(two.cards, 2);
        assert!(two.warnings[0].contains("ERR1002"));
        assert!(Readers::new(vec![]).warnings[0].contains("no smartcard reader"));
    }
}
