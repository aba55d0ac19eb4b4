//! X.509 certificates as Cardwatch needs them — subject, issuer, serial, validity, the hash of
//! the certificate's signature and what it is for — parsed from DER or PEM bytes with
//! `x509-parser`. One parser for the agent (certificates read off cards) and for
//! `cardwatch certs scan` (certificate files); no I/O here.

use serde::{Deserialize, Serialize};
use x509_parser::pem::Pem;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::date::Timestamp;

/// What a card certificate is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CertPurpose {
    /// Signing in (key usage digital signature, without non-repudiation).
    Authentication,
    /// Signing prescriptions and records (key usage non-repudiation).
    Signing,
    /// The key usage does not say.
    Unknown,
}

impl CertPurpose {
    /// Its name, as JSON and the estate's CSV write it.
    pub fn as_str(self) -> &'static str {
        match self {
            CertPurpose::Authentication => "authentication",
            CertPurpose::Signing => "signing",
            CertPurpose::Unknown => "unknown",
        }
    }
}

/// A certificate's purpose from its key usage (digital signature, non-repudiation):
/// non-repudiation (content commitment) marks the signing certificate, digital signature alone
/// the authentication one.
pub fn cert_purpose(key_usage: Option<(bool, bool)>) -> CertPurpose {
    match key_usage {
        Some((_, true)) => CertPurpose::Signing,
        Some((true, false)) => CertPurpose::Authentication,
        _ => CertPurpose::Unknown,
    }
}

/// The hash a signature algorithm (by OID) uses, as the catalogue and health rules name it.
pub fn hash_of_signature(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.5" | "1.2.840.10040.4.3" | "1.2.840.10045.4.1" => "sha1",
        "1.2.840.113549.1.1.11" | "1.2.840.10045.4.3.2" | "2.16.840.1.101.3.4.3.2" => "sha256",
        "1.2.840.113549.1.1.12" | "1.2.840.10045.4.3.3" => "sha384",
        "1.2.840.113549.1.1.13" | "1.2.840.10045.4.3.4" => "sha512",
        "1.2.840.113549.1.1.4" => "md5",
        "1.2.840.113549.1.1.10" => "rsassa-pss",
        other => return format!("unknown ({other})"),
    }
    .to_owned()
}

/// One certificate, parsed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    /// Authentication, signing, or unknown.
    pub purpose: CertPurpose,
    /// Subject, as RFC 4514 text.
    pub subject: String,
    /// Issuer, as RFC 4514 text.
    pub issuer: String,
    /// Serial number, hex.
    pub serial_number: String,
    /// Valid from (UTC).
    pub not_before: Timestamp,
    /// Valid until (UTC).
    pub not_after: Timestamp,
    /// The hash of the certificate's own signature (`sha1`, `sha256`…).
    pub hash_algorithm: String,
}

impl CertificateInfo {
    /// Whole days from `now` until it expires (negative once expired).
    pub fn days_left(&self, now: Timestamp) -> i64 {
        (self.not_after.unix() - now.unix()).div_euclid(86_400)
    }
}

/// One DER-encoded certificate.
pub fn parse_der(der: &[u8]) -> Result<CertificateInfo, String> {
    let (_, cert) =
        X509Certificate::from_der(der).map_err(|e| format!("not a certificate: {e}"))?;
    let key_usage = cert
        .key_usage()
        .ok()
        .flatten()
        .map(|k| (k.value.digital_signature(), k.value.non_repudiation()));
    let validity = cert.validity();
    Ok(CertificateInfo {
        purpose: cert_purpose(key_usage),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial_number: cert.raw_serial_as_string().replace(':', ""),
        not_before: Timestamp::from_unix(validity.not_before.timestamp()),
        not_after: Timestamp::from_unix(validity.not_after.timestamp()),
        hash_algorithm: hash_of_signature(&cert.signature_algorithm.algorithm.to_id_string()),
    })
}

/// Every certificate in a file's bytes: one DER certificate, or PEM text with any number of
/// `CERTIFICATE` blocks (other blocks, such as keys, are passed over: a key file gives none).
/// The error says which block is bad, or that the bytes are neither DER nor PEM.
pub fn parse_file(bytes: &[u8]) -> Result<Vec<CertificateInfo>, String> {
    // DER starts with a SEQUENCE tag; PEM is text.
    if bytes.first() == Some(&0x30) {
        return parse_der(bytes).map(|c| vec![c]);
    }
    let mut out = Vec::new();
    let mut blocks = 0;
    for (i, pem) in Pem::iter_from_buffer(bytes).enumerate() {
        let pem = pem.map_err(|e| format!("PEM block {}: {e}", i + 1))?;
        blocks += 1;
        if pem.label != "CERTIFICATE" {
            continue;
        }
        out.push(parse_der(&pem.contents).map_err(|e| format!("PEM block {}: {e}", i + 1))?);
    }
    if blocks == 0 {
        return Err("neither a DER certificate nor PEM text".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_from_key_usage_and_hashes_from_signature_algorithms() {
        assert_eq!(
            cert_purpose(Some((true, false))),
            CertPurpose::Authentication
        );
        assert_eq!(cert_purpose(Some((false, true))), CertPurpose::Signing);
        assert_eq!(cert_purpose(Some((true, true))), CertPurpose::Signing);
        assert_eq!(cert_purpose(None), CertPurpose::Unknown);
        assert_eq!(hash_of_signature("1.2.840.113549.1.1.5"), "sha1");
        assert_eq!(hash_of_signature("1.2.840.113549.1.1.11"), "sha256");
        assert_eq!(hash_of_signature("1.2.3"), "unknown (1.2.3)");
    }

    #[test]
    fn files_without_certificates_are_refused_with_the_reason() {
        assert!(parse_file(b"hello").unwrap_err().contains("neither"));
        assert!(parse_file(&[0x30, 0x03, 0x02, 0x01, 0x01])
            .unwrap_err()
            .contains("not a certificate"));
        let bad = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(parse_file(bad).unwrap_err().starts_with("PEM block 1"));
        let key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert_eq!(parse_file(key), Ok(vec![]));
    }

    #[test]
    fn days_left_count_whole_days_and_go_negative_after_expiry() {
        let info = |after: i64| CertificateInfo {
            purpose: CertPurpose::Unknown,
            subject: String::new(),
            issuer: String::new(),
            serial_number: String::new(),
            not_before: Timestamp::from_unix(0),
            not_after: Timestamp::from_unix(after),
            hash_algorithm: "sha256".into(),
        };
        let now = Timestamp::from_unix(86_400 * 10);
        assert_eq!(info(86_400 * 12).days_left(now), 2);
        assert_eq!(info(86_400 * 10 + 5).days_left(now), 0);
        assert_eq!(info(86_400 * 9).days_left(now), -1);
    }
}
