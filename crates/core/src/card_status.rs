//! A smartcard's status and the transitions allowed between statuses.
//!
//! The rules follow how the Care Identity Service treats cards: a locked card is unlocked by a
//! sponsor or local smartcard administrator; a blocked card can be repaired by an RA; a card
//! reported lost or stolen is never trusted again (it is cancelled and a replacement issued);
//! cancelled and retired are final.

use std::fmt;

use crate::vocab::VocabError;

/// The status of one physical card.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CardStatus {
    /// In use.
    Active,
    /// Three wrong passcodes: needs an unlock.
    Locked,
    /// Blocked (e.g. a retired series, or too many unlock attempts): needs an RA.
    Blocked,
    /// Reported lost.
    Lost,
    /// Reported stolen.
    Stolen,
    /// Physically damaged.
    Damaged,
    /// Cancelled by the RA: final.
    Cancelled,
    /// Taken out of use (e.g. series withdrawn, holder left): final.
    Retired,
}

/// A status change the state machine does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a card cannot go from {from} to {to}: {why}")]
pub struct IllegalTransition {
    /// The current status.
    pub from: CardStatus,
    /// The status asked for.
    pub to: CardStatus,
    /// Why not, and what to do instead.
    pub why: &'static str,
}

impl CardStatus {
    /// Every status.
    pub const ALL: &'static [CardStatus] = &[
        CardStatus::Active,
        CardStatus::Locked,
        CardStatus::Blocked,
        CardStatus::Lost,
        CardStatus::Stolen,
        CardStatus::Damaged,
        CardStatus::Cancelled,
        CardStatus::Retired,
    ];
    /// Text forms, for error messages.
    pub const WORDS: &'static [&'static str] = &[
        "active",
        "locked",
        "blocked",
        "lost",
        "stolen",
        "damaged",
        "cancelled",
        "retired",
    ];

    /// The text form.
    pub const fn as_str(self) -> &'static str {
        Self::WORDS[self as usize]
    }

    /// Parses the text form (any case).
    pub fn parse(s: &str) -> Result<CardStatus, VocabError> {
        let s = s.trim();
        Self::WORDS
            .iter()
            .position(|w| s.eq_ignore_ascii_case(w))
            .map(|i| Self::ALL[i])
            .ok_or(VocabError {
                allowed: Self::WORDS,
            })
    }

    /// Whether this status can never change again.
    pub const fn is_final(self) -> bool {
        matches!(self, CardStatus::Cancelled | CardStatus::Retired)
    }

    /// Checks a status change; staying in the same status is always allowed.
    pub fn transition(self, to: CardStatus) -> Result<CardStatus, IllegalTransition> {
        use CardStatus::*;
        if self == to {
            return Ok(to);
        }
        let refuse = |why| {
            Err(IllegalTransition {
                from: self,
                to,
                why,
            })
        };
        match (self, to) {
            (Cancelled | Retired, _) => refuse("the card's record is closed; issue a new card"),
            (Active | Locked | Blocked, _) | (Lost, Stolen) | (_, Cancelled | Retired) => Ok(to),
            (Lost | Stolen, Active | Locked | Blocked) => refuse(
                "a card reported lost or stolen is never trusted again; cancel it and issue a replacement",
            ),
            (Damaged, Active | Locked | Blocked) => {
                refuse("a damaged card cannot be repaired; cancel it and issue a replacement")
            }
            (Lost | Stolen | Damaged, Lost | Stolen | Damaged) => {
                refuse("the card is already out of use; cancel it")
            }
        }
    }
}

impl fmt::Display for CardStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for CardStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::CardStatus::*;
    use super::*;

    #[test]
    fn lost_may_be_cancelled_never_reactivated() {
        assert_eq!(Lost.transition(Cancelled), Ok(Cancelled));
        let e = Lost.transition(Active).unwrap_err();
        assert!(
            e.to_string().contains("cannot go from lost to active"),
            "{e}"
        );
    }

    #[test]
    fn everyday_transitions() {
        assert!(Active.transition(Locked).is_ok());
        assert!(Locked.transition(Active).is_ok());
        assert!(Blocked.transition(Active).is_ok());
        assert!(Active.transition(Lost).is_ok());
        assert!(Lost.transition(Stolen).is_ok());
        assert!(Damaged.transition(Active).is_err());
        assert!(Stolen.transition(Lost).is_err());
    }

    #[test]
    fn final_states_stay_final() {
        for &to in CardStatus::ALL {
            for from in [Cancelled, Retired] {
                assert_eq!(from.transition(to).is_ok(), from == to, "{from}->{to}");
            }
        }
    }

    #[test]
    fn text_round_trip() {
        for &s in CardStatus::ALL {
            assert_eq!(CardStatus::parse(&s.as_str().to_uppercase()).unwrap(), s);
        }
        assert!(CardStatus::parse("misplaced").is_err());
    }
}
