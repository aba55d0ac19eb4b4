//! Identifiers of the NHS smartcard world, each validated once at the edge ("parse, don't
//! validate"): once a value has one of these types it is known to be well formed.

use std::fmt;

/// Why a value is not a valid identifier: what is wrong and what to do, in plain words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem} — {fix}")]
pub struct IdError {
    /// What is wrong with the value.
    pub problem: String,
    /// What the person should do about it.
    pub fix: &'static str,
}

fn err(problem: impl Into<String>, fix: &'static str) -> IdError {
    IdError {
        problem: problem.into(),
        fix,
    }
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
    };
}

string_id!(
    /// A card holder's user identifier in the Care Identity Service (the "UUID" printed on the
    /// card): 12 digits, 12–14 accepted from older records. An identifier, not a number, so
    /// leading zeros are kept.
    Uuid
);

const UUID_FIX: &str = "format the column as Text in the spreadsheet and re-export, or copy the 12-digit UUID from the Care Identity Service";

impl Uuid {
    /// Parses a UUID, naming the damage spreadsheets do to them (scientific notation, lost
    /// leading zeros, a trailing `.0`).
    pub fn parse(s: &str) -> Result<Uuid, IdError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(err("UUID is empty", "give the holder's 12-digit UUID"));
        }
        let upper = s.to_ascii_uppercase();
        if upper.contains("E+") || upper.contains("E-") {
            return Err(err(
                "looks like a spreadsheet turned the UUID into a number in scientific notation, losing digits",
                UUID_FIX,
            ));
        }
        if let Some(whole) = s.strip_suffix(".0") {
            if whole.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err(
                    "looks like a spreadsheet turned the UUID into a decimal number",
                    UUID_FIX,
                ));
            }
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err(
                "a UUID is digits only",
                "remove spaces and other characters; a UUID is 12 digits",
            ));
        }
        match s.len() {
            12..=14 => Ok(Uuid(s.to_owned())),
            n @ 1..=11 => Err(err(
                format!("has {n} digits, not 12; a spreadsheet probably dropped leading zeros"),
                UUID_FIX,
            )),
            n => Err(err(
                format!("has {n} digits; a UUID has 12 (older records up to 14)"),
                "check it against the Care Identity Service",
            )),
        }
    }
}

string_id!(
    /// An organisation code from the Organisation Data Service: 1–9 letters and digits, kept in
    /// upper case (e.g. `A81001`, branch `K81003001`).
    OdsCode
);

impl OdsCode {
    /// Parses and upper-cases an ODS code.
    pub fn parse(s: &str) -> Result<OdsCode, IdError> {
        let s = s.trim();
        if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(err(
                "an ODS code is 1 to 9 letters and digits",
                "look the organisation up in the ODS portal and use its code (e.g. A81001)",
            ));
        }
        Ok(OdsCode(s.to_ascii_uppercase()))
    }
}

string_id!(
    /// The serial number of one physical smartcard (a replacement card has a new one).
    CardSerial
);

impl CardSerial {
    /// Parses a card serial: 4–32 letters, digits or hyphens, upper-cased.
    pub fn parse(s: &str) -> Result<CardSerial, IdError> {
        let s = s.trim();
        let ok = (4..=32).contains(&s.len())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !ok {
            return Err(err(
                "a card serial is 4 to 32 letters, digits or hyphens",
                "copy the serial from the card record in the Care Identity Service",
            ));
        }
        Ok(CardSerial(s.to_ascii_uppercase()))
    }
}

string_id!(
    /// An RBAC role code, such as `R8000`, or a full job-role path `S8000:G8000:R8000`, kept whole.
    RoleCode
);

impl RoleCode {
    /// Parses a role code: one or more `letter + 4–5 digits` parts joined by `:`.
    pub fn parse(s: &str) -> Result<RoleCode, IdError> {
        let s = s.trim().to_ascii_uppercase();
        let part_ok = |p: &str| {
            let b = p.as_bytes();
            (5..=6).contains(&b.len())
                && b[0].is_ascii_uppercase()
                && b[1..].iter().all(u8::is_ascii_digit)
        };
        if s.is_empty() || !s.split(':').all(part_ok) {
            return Err(err(
                "a role code is a letter and 4–5 digits (R8000), or a path like S8000:G8000:R8000",
                "copy the role code from the national RBAC database",
            ));
        }
        Ok(RoleCode(s))
    }
}

string_id!(
    /// An RBAC activity code: `B` and four digits, e.g. `B0420` Independent Prescribing.
    ActivityCode
);

impl ActivityCode {
    /// Parses an activity code.
    pub fn parse(s: &str) -> Result<ActivityCode, IdError> {
        let s = s.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 5 || b[0] != b'B' || !b[1..].iter().all(u8::is_ascii_digit) {
            return Err(err(
                format!("{s:?} is not an activity code (B and four digits)"),
                "copy activity codes from the national RBAC database, separated by spaces",
            ));
        }
        Ok(ActivityCode(s))
    }
}

string_id!(
    /// A workstation's host name, kept in lower case (host names are case-insensitive).
    Hostname
);

impl Hostname {
    /// Parses a host name: 1–63 letters, digits, hyphens, underscores or dots.
    pub fn parse(s: &str) -> Result<Hostname, IdError> {
        let s = s.trim();
        let ok = (1..=63).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return Err(err(
                "a host name is 1 to 63 letters, digits, hyphens, underscores or dots",
                "use the computer name shown in Windows Settings → System → About",
            ));
        }
        Ok(Hostname(s.to_ascii_lowercase()))
    }
}

string_id!(
    /// The operator's short name for one integration profile, kept in lower case.
    IntegrationId
);

impl IntegrationId {
    /// Parses an integration id: 2–40 letters, digits, hyphens, underscores or dots.
    pub fn parse(s: &str) -> Result<IntegrationId, IdError> {
        let s = s.trim();
        let ok = (2..=40).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return Err(err(
                "an integration id is 2 to 40 letters, digits, hyphens, underscores or dots",
                "name it after the service and practice, e.g. ht1-a81001",
            ));
        }
        Ok(IntegrationId(s.to_ascii_lowercase()))
    }
}

string_id!(
    /// An email address, checked for shape only (something@domain).
    Email
);

impl Email {
    /// Parses an email address.
    pub fn parse(s: &str) -> Result<Email, IdError> {
        let s = s.trim();
        let ok = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !s.contains(char::is_whitespace)
            }
            None => false,
        };
        if !ok || s.len() > 254 {
            return Err(err(
                "not an email address",
                "write it as name@example.nhs.net, or leave it empty",
            ));
        }
        Ok(Email(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_keeps_leading_zeros() {
        assert_eq!(
            Uuid::parse(" 012345678901 ").unwrap().as_str(),
            "012345678901"
        );
        assert!(Uuid::parse("12345678901234").is_ok());
    }

    #[test]
    fn uuid_names_spreadsheet_damage() {
        let e = Uuid::parse("1.23457E+11").unwrap_err();
        assert!(e.problem.contains("scientific notation"), "{e}");
        let e = Uuid::parse("12345678901").unwrap_err();
        assert!(e.problem.contains("11 digits"), "{e}");
        assert!(e.problem.contains("leading zeros"), "{e}");
        let e = Uuid::parse("123456789012.0").unwrap_err();
        assert!(e.problem.contains("decimal"), "{e}");
        assert!(Uuid::parse("12345678901a").is_err());
        assert!(Uuid::parse("123456789012345").is_err());
    }

    #[test]
    fn ods_and_roles() {
        assert_eq!(OdsCode::parse("a81001").unwrap().as_str(), "A81001");
        assert!(OdsCode::parse("K81003001").is_ok());
        assert!(OdsCode::parse("K810030011").is_err());
        assert!(OdsCode::parse("A81-01").is_err());
        assert_eq!(
            RoleCode::parse("s8000:g8000:r8000").unwrap().as_str(),
            "S8000:G8000:R8000"
        );
        assert!(RoleCode::parse("R80").is_err());
        assert_eq!(ActivityCode::parse("b0825").unwrap().as_str(), "B0825");
        assert!(ActivityCode::parse("C0420").is_err());
    }

    #[test]
    fn emails_and_hosts() {
        assert!(Email::parse("a.b@nhs.net").is_ok());
        assert!(Email::parse("a.b@nhs").is_err());
        assert!(Email::parse("a b@nhs.net").is_err());
        assert_eq!(Hostname::parse("GP-WS-01").unwrap().as_str(), "gp-ws-01");
        assert!(Hostname::parse("bad host").is_err());
    }
}
