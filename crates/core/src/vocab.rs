//! Closed vocabularies: each value has one text form, used in CSV, JSON and the database.

use std::fmt;

/// A value from a closed list was not one of the allowed words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not one of: {}", allowed.join(", "))]
pub struct VocabError {
    /// The words that are accepted.
    pub allowed: &'static [&'static str],
}

macro_rules! vocab {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal $(| $alias:literal)*,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant,)+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
            /// The accepted text forms, for error messages.
            pub const WORDS: &'static [&'static str] = &[$($text,)+];

            /// The canonical text form.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// Parses the text form (any case, surrounding spaces ignored).
            pub fn parse(s: &str) -> Result<$name, VocabError> {
                let s = s.trim();
                $(if s.eq_ignore_ascii_case($text) $(|| s.eq_ignore_ascii_case($alias))* {
                    return Ok($name::$variant);
                })+
                Err(VocabError { allowed: $name::WORDS })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

vocab!(
    /// The kind of organisation an ODS code belongs to.
    OrgType {
        /// Integrated care board.
        Icb = "icb",
        /// Sub-ICB location (a former CCG): a practice's commissioner in ODS extracts.
        SubIcb = "sub_icb",
        /// Primary care network.
        Pcn = "pcn",
        /// GP practice.
        GpPractice = "gp_practice",
        /// Branch surgery of a practice.
        Branch = "branch",
        /// NHS trust.
        Trust = "trust",
        /// Community pharmacy.
        Pharmacy = "pharmacy",
        /// Anything else.
        Other = "other",
    }
);

vocab!(
    /// Whether an organisation is open, as ODS publishes it.
    OrgStatus {
        /// Open.
        Active = "active",
        /// Closed: kept with its history, but nothing should still point at it.
        Closed = "closed",
        /// Dormant (not currently operating).
        Dormant = "dormant",
        /// Proposed (not yet open).
        Proposed = "proposed",
    }
);

vocab!(
    /// Registration Authority roles a person can hold.
    RaRole {
        /// RA Manager.
        RaManager = "ra_manager",
        /// RA Agent (Advanced).
        RaAgentAdvanced = "ra_agent_advanced",
        /// RA Agent.
        RaAgent = "ra_agent",
        /// Sponsor (approves role requests).
        Sponsor = "sponsor",
        /// ID Checker.
        IdChecker = "id_checker",
        /// Local Smartcard Administrator (unlocks, renews inside the window).
        LocalSmartcardAdministrator = "local_smartcard_administrator",
    }
);

vocab!(
    /// What a certificate on the card is for.
    Purpose {
        /// Logging in (NHS Authentication G2).
        Authentication = "authentication" | "auth",
        /// Digital signing (NHS Signing G2).
        Signing = "signing" | "sign",
    }
);

vocab!(
    /// A certificate's signature hash algorithm.
    HashAlgorithm {
        /// SHA-1: electronic prescriptions need SHA-256.
        Sha1 = "sha1" | "sha-1",
        /// SHA-256.
        Sha256 = "sha256" | "sha-256",
    }
);

vocab!(
    /// Where a position (role at an organisation) is in its life.
    PositionStatus {
        /// Asked for by a sponsor.
        Requested = "requested",
        /// Approved by the RA, not yet in force.
        Approved = "approved",
        /// In force.
        Active = "active",
        /// Taken away.
        Removed = "removed",
    }
);

vocab!(
    /// Which update ring a workstation is in: updates go canary → pilot → broad.
    UpdateRing {
        /// The one machine tried first.
        Canary = "canary",
        /// A few machines next.
        Pilot = "pilot",
        /// Everyone else.
        Broad = "broad",
    }
);

vocab!(
    /// A reader's state.
    ReaderStatus {
        /// Attached to a workstation and working.
        InService = "in_service",
        /// In the cupboard, ready to swap in.
        Spare = "spare",
        /// Known bad.
        Faulty = "faulty",
        /// Taken out of use for good.
        Retired = "retired",
    }
);

vocab!(
    /// The clinical system a practice runs, which decides what an integration must match.
    ClinicalSystem {
        /// EMIS Web.
        Emis = "emis" | "emis web" | "emisweb",
        /// TPP SystmOne.
        Systmone = "systmone" | "tpp" | "tpp systmone" | "s1",
        /// Vision.
        Vision = "vision",
        /// Anything else.
        Other = "other",
    }
);

/// Parses yes/no in the forms spreadsheets and people write them.
pub fn parse_bool(s: &str) -> Result<bool, VocabError> {
    const WORDS: &[&str] = &["yes", "no"];
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Ok(true),
        "no" | "n" | "false" | "0" => Ok(false),
        _ => Err(VocabError { allowed: WORDS }),
    }
}

impl PositionStatus {
    /// What a position may become next: a request is approved or withdrawn, an approved one
    /// comes into force or is withdrawn, one in force is removed; a removed one is asked for
    /// again as a new request.
    pub const fn next(self) -> &'static [PositionStatus] {
        use PositionStatus::*;
        match self {
            Requested => &[Approved, Removed],
            Approved => &[Active, Removed],
            Active => &[Removed],
            Removed => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_move_forward_only() {
        use PositionStatus::*;
        assert_eq!(Requested.next(), &[Approved, Removed]);
        assert!(Active.next().contains(&Removed) && !Active.next().contains(&Requested));
        assert!(Removed.next().is_empty());
    }

    #[test]
    fn aliases_and_case() {
        assert_eq!(
            HashAlgorithm::parse("SHA-256").unwrap(),
            HashAlgorithm::Sha256
        );
        assert_eq!(HashAlgorithm::parse(" Sha1 ").unwrap(), HashAlgorithm::Sha1);
        assert_eq!(Purpose::parse("Signing").unwrap().as_str(), "signing");
        let e = OrgType::parse("surgery").unwrap_err();
        assert!(e.to_string().contains("gp_practice"));
        assert!(parse_bool("Y").unwrap());
        assert!(!parse_bool("0").unwrap());
        assert!(parse_bool("maybe").is_err());
    }
}
