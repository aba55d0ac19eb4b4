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
        .map(|b| hex::encode_upper([*b]))
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

/// A reader as PC/SC shows it at a moment: its name, and the ATR of the card in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The reader's name.
    pub name: String,
    /// The inserted card's ATR, if a card is in it.
    pub atr: Option<String>,
}

/// The events between two views of the readers, as `(kind, data)`: `reader_attached`,
/// `reader_detached`, `card_inserted` (with the ATR), `card_removed`; a reader that leaves with
/// a card in it gives both. Readers are matched by name.
pub fn changes(before: &[Seen], after: &[Seen]) -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::json;
    let mut out = Vec::new();
    for b in before {
        if !after.iter().any(|a| a.name == b.name) {
            if b.atr.is_some() {
                out.push(("card_removed", json!({"reader": b.name})));
            }
            out.push(("reader_detached", json!({"reader": b.name})));
        }
    }
    for a in after {
        let was = before.iter().find(|b| b.name == a.name);
        if was.is_none() {
            out.push(("reader_attached", json!({"reader": a.name})));
        }
        let had = was.and_then(|b| b.atr.as_ref());
        match (had, &a.atr) {
            (Some(_), None) => out.push(("card_removed", json!({"reader": a.name}))),
            (None, Some(atr)) => {
                out.push(("card_inserted", json!({"reader": a.name, "atr": atr})));
            }
            // Another card swapped in between two looks.
            (Some(old), Some(atr)) if old != atr => {
                out.push(("card_removed", json!({"reader": a.name})));
                out.push(("card_inserted", json!({"reader": a.name, "atr": atr})));
            }
            _ => {}
        }
    }
    out
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
    fn changes_between_two_views_are_events() {
        let seen = |name: &str, atr: Option<&str>| Seen {
            name: name.into(),
            atr: atr.map(str::to_owned),
        };
        let kinds = |b: &[Seen], a: &[Seen]| -> Vec<&str> {
            changes(b, a).into_iter().map(|(k, _)| k).collect()
        };
        let empty = [seen("R1", None)];
        let card = [seen("R1", Some("3B 01"))];
        assert!(kinds(&empty, &empty).is_empty());
        assert_eq!(kinds(&empty, &card), ["card_inserted"]);
        assert_eq!(changes(&empty, &card)[0].1["atr"], "3B 01");
        assert_eq!(kinds(&card, &empty), ["card_removed"]);
        assert_eq!(kinds(&[], &card), ["reader_attached", "card_inserted"]);
        assert_eq!(kinds(&card, &[]), ["card_removed", "reader_detached"]);
        assert_eq!(
            kinds(&card, &[seen("R1", Some("3B 02"))]),
            ["card_removed", "card_inserted"]
        );
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
