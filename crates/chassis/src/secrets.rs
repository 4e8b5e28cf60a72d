//! Random bearer secrets (codes, refresh tokens, session ids, CSRF values) and how they are kept:
//! only their SHA-256, so that a leaked table grants nothing.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

/// 256 random bits, base64url.
pub fn generate() -> Result<String, ring::error::Unspecified> {
    let mut bytes = [0u8; 32];
    SystemRandom::new().fill(&mut bytes)?;
    Ok(B64.encode(bytes))
}

/// What a database keeps instead of the secret: its SHA-256, base64url.
pub fn fingerprint(secret: &str) -> String {
    B64.encode(Sha256::digest(secret.as_bytes()))
}

/// Equality of two secrets without a timing signal: compares their SHA-256 digests, which an
/// attacker can neither choose nor learn from the time it takes.
pub fn same(presented: &str, expected: &str) -> bool {
    Sha256::digest(presented.as_bytes()) == Sha256::digest(expected.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_long_distinct_and_kept_as_digests() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_ne!(fingerprint(&a), a);
        assert_eq!(fingerprint(&a), fingerprint(&a));
        assert!(same(&a, &a.clone()) && !same(&a, &b));
    }
}
