//! Secrets Cardwatch makes: session and API tokens, operators' first passwords, password
//! hashes' salts. Every byte comes from the operating system's random source through `rand`'s
//! `SysRng` (getrandom), and a source that fails is an error the caller passes on — never a
//! secret or an id made of zeros.

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::Argon2;
use rand::distr::slice::Choose;
use rand::rngs::{StdRng, SysRng};
use rand::{RngExt, SeedableRng, TryRng};

/// The operating system's random source failed, so no secret was made.
#[derive(Debug, thiserror::Error)]
#[error(
    "the operating system's random source failed ({0}), so no secret was made — \
     nothing was changed; try again, and if it persists check the server's entropy source"
)]
pub struct NoRandomness(String);

impl From<NoRandomness> for cardwatch_store::StoreError {
    fn from(e: NoRandomness) -> Self {
        cardwatch_store::StoreError::Io {
            path: "the operating system's random source".into(),
            source: std::io::Error::other(e.0),
        }
    }
}

impl axum::response::IntoResponse for NoRandomness {
    fn into_response(self) -> axum::response::Response {
        tracing::error!(error = %self, "no secret made");
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "the server could not make a secret (its random source failed) — nothing was changed; \
             try again, and tell the server's administrator if it persists\n",
        )
            .into_response()
    }
}

/// `N` bytes from the operating system.
fn random_bytes<const N: usize>() -> Result<[u8; N], NoRandomness> {
    let mut b = [0u8; N];
    SysRng
        .try_fill_bytes(&mut b)
        .map_err(|e| NoRandomness(e.to_string()))?;
    Ok(b)
}

/// A random secret: 32 bytes from the operating system, as hex.
pub fn random_token() -> Result<String, NoRandomness> {
    Ok(hex::encode(random_bytes::<32>()?))
}

/// An API token's shape: a prefix that says what it is, then 64 hex digits.
pub const TOKEN_PREFIX: &str = "cwt_";

/// A new token's secret.
pub fn new_token_secret() -> Result<String, NoRandomness> {
    Ok(format!("{TOKEN_PREFIX}{}", random_token()?))
}

/// A random password for a new or reset operator: five groups of four letters and digits, each
/// drawn uniformly (`rand`'s `Choose`) from an alphabet without look-alikes (no i, l, o, 0, 1).
pub fn random_password() -> Result<String, NoRandomness> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    // A generator seeded once from the operating system: seeding is the step that can fail.
    let mut rng = StdRng::try_from_rng(&mut SysRng).map_err(|e| NoRandomness(e.to_string()))?;
    let letters =
        Choose::new(ALPHABET).unwrap_or_else(|_| unreachable!("the alphabet is not empty"));
    let mut out = String::with_capacity(24);
    for i in 0..20 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(*rng.sample(letters)));
    }
    Ok(out)
}

/// An argon2id hash (PHC string) of a password, with a fresh 16-byte salt.
pub fn hash_password(password: &str) -> Result<String, NoRandomness> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?)
        .unwrap_or_else(|e| unreachable!("16 bytes are a valid salt: {e}"));
    Ok(argon2_hash(password, &salt))
}

/// The argon2id hash under a given salt.
pub(crate) fn argon2_hash(password: &str, salt: &SaltString) -> String {
    Argon2::default()
        .hash_password(password.as_bytes(), salt)
        .map(|h| h.to_string())
        // Hashing only fails on parameters out of range; the defaults are not.
        .unwrap_or_else(|e| panic!("argon2id with default parameters failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_64_hex_digits_and_differ() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
        assert!(new_token_secret().unwrap().starts_with(TOKEN_PREFIX));
    }

    #[test]
    fn password_letters_are_drawn_without_bias() {
        // The hand-made `byte % 31` gave the first 8 letters 9 chances in 256 and the others
        // 8: 12.5% more. Over 800,000 letters each count is within a few percent of the mean
        // (one standard deviation is 0.6%), so a bias that size fails here.
        let mut counts = [0u32; 128];
        for _ in 0..40_000 {
            let p = random_password().unwrap();
            assert_eq!(p.len(), 24, "{p}");
            assert_eq!(p.matches('-').count(), 4, "{p}");
            for c in p.bytes().filter(|&c| c != b'-') {
                counts[usize::from(c)] += 1;
            }
        }
        let used: Vec<u32> = counts.iter().copied().filter(|&n| n > 0).collect();
        assert_eq!(
            used.len(),
            31,
            "every letter of the alphabet, and only those"
        );
        let (min, max) = (used.iter().min().unwrap(), used.iter().max().unwrap());
        assert!(
            f64::from(*max) / f64::from(*min) < 1.06,
            "letters drawn unevenly: {min} to {max}"
        );
    }

    #[test]
    fn password_hashes_are_salted_afresh_and_verify() {
        let a = hash_password("correct horse").unwrap();
        let b = hash_password("correct horse").unwrap();
        assert_ne!(a, b, "a fresh salt each time");
        assert!(a.starts_with("$argon2id$"));
        let verify = |pw: &str| {
            use argon2::password_hash::{PasswordHash, PasswordVerifier};
            let hash = PasswordHash::new(&a).unwrap();
            Argon2::default()
                .verify_password(pw.as_bytes(), &hash)
                .is_ok()
        };
        assert!(verify("correct horse"));
        assert!(!verify("correct horsE"));
    }
}
