//! Who is asking: the signed-in operator a handler receives, and the refusal of a form that did
//! not come from their session. How a request becomes a [`Caller`] is in `auth`.

use cardwatch_core::access::User;

/// The signed-in operator making a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Who.
    pub user: User,
    /// The session's CSRF token, for forms.
    pub csrf: String,
    /// The session's token hash.
    pub(crate) token_hash: String,
}

impl Caller {
    /// The operator behind a token (no session, so no forms).
    pub(crate) fn by_token(user: User) -> Caller {
        Caller {
            user,
            csrf: String::new(),
            token_hash: String::new(),
        }
    }

    /// Refuses a state-changing request whose form does not carry the session's CSRF token.
    pub fn check_csrf(&self, given: &str) -> Result<(), Forbidden> {
        // Compared in full whatever the first difference, so timing says nothing.
        // A caller by API token has no session and no forms to send.
        let same = !self.csrf.is_empty()
            && given.len() == self.csrf.len()
            && given
                .bytes()
                .zip(self.csrf.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0;
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
