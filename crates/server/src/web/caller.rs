//! Who is asking: the signed-in operator a handler receives, and the refusal of a form that did
//! not come from their session. How a request becomes a [`Caller`] is in `auth`.

use cardwatch_core::access::User;
use subtle::ConstantTimeEq;

/// The signed-in operator making a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Who.
    pub user: User,
    /// The session's CSRF token, for forms.
    pub csrf: String,
    /// The session's token hash.
    pub(crate) token_hash: String,
    /// The audit chain's length, read with the session (none for an API token): the estate's
    /// version for this request's caches, which would otherwise cost another round trip.
    pub(crate) version: Option<i64>,
    /// The path asked for, so the header can mark the section the page is in.
    pub(crate) path: String,
}

impl Caller {
    /// The operator behind a token (no session, so no forms).
    pub(crate) fn by_token(user: User) -> Caller {
        Caller {
            user,
            csrf: String::new(),
            token_hash: String::new(),
            version: None,
            path: String::new(),
        }
    }

    /// Refuses a state-changing request whose form does not carry the session's CSRF token.
    pub fn check_csrf(&self, given: &str) -> Result<(), Forbidden> {
        // `subtle` compares in constant time, so how long a refusal takes says nothing about
        // how much of a guess was right. A caller by API token has no session and no forms.
        let same =
            !self.csrf.is_empty() && bool::from(given.as_bytes().ct_eq(self.csrf.as_bytes()));
        if same {
            Ok(())
        } else {
            Err(Forbidden)
        }
    }
}

/// A form without the session's CSRF token.
#[derive(Debug)]
pub struct Forbidden;

#[cfg(test)]
pub(crate) mod tests {
    use super::Caller;
    use cardwatch_core::access::{NewUser, Role, User, Username};
    use cardwatch_core::date::Timestamp;

    /// A signed-in operator in `role`, of no organisation, with the session's CSRF token `csrf`.
    pub(crate) fn caller_as(role: Role, csrf: &str) -> Caller {
        let user = User {
            user: NewUser {
                username: Username::parse("someone.test").unwrap(),
                display_name: "Someone".into(),
                role,
                organisations: vec![],
                password_hash: String::new(),
            },
            disabled: false,
            failures: 0,
            last_failure: None,
            created_at: Timestamp::from_unix(0),
        };
        Caller {
            user,
            csrf: csrf.into(),
            token_hash: String::new(),
            version: None,
            path: String::new(),
        }
    }

    fn caller(csrf: &str) -> Caller {
        caller_as(Role::PracticeManager, csrf)
    }

    #[test]
    fn only_the_sessions_own_csrf_token_passes() {
        let c = caller("0123456789abcdef");
        assert!(c.check_csrf("0123456789abcdef").is_ok());
        for wrong in [
            "0123456789abcdee",
            "0123456789abcde",
            "0123456789abcdef0",
            "",
        ] {
            assert!(c.check_csrf(wrong).is_err(), "{wrong:?}");
        }
        // A caller by API token has no session token: nothing matches it, not even "".
        assert!(caller("").check_csrf("").is_err());
    }
}
