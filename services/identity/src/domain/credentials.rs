//! Email addresses and passwords: what is accepted, and how passwords are hashed (argon2id).

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// The address as stored: trimmed and lower-cased, so that sign-in is case-insensitive.
pub fn email(raw: &str) -> Result<String, &'static str> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@').ok_or("must be an email address such as ada@example.com")?;
    let plausible = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    if plausible { Ok(email) } else { Err("must be an email address such as ada@example.com") }
}

/// Length is the rule (NIST SP 800-63B): no composition rules, which only make passwords worse.
pub fn password(raw: &str) -> Result<(), String> {
    let chars = raw.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
        return Err(format!("must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters long"));
    }
    Ok(())
}

/// An argon2id PHC string with a fresh salt (OWASP's parameters: 19 MiB, 2 passes).
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| e.to_string())
}

pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash to verify against when the email is unknown, so that a wrong address takes as long
/// as a wrong password and response times do not tell which addresses exist.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password that matches nothing").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_nonsense_refused() {
        assert_eq!(email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "ada@.com", "a da@example.com", "<a>@x.io"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_judged_by_length_and_hashed_with_argon2id() {
        assert!(password("short").is_err());
        assert!(password(&"x".repeat(129)).is_err());
        assert!(password("correct horse battery").is_ok());
        let stored = hash("correct horse battery").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &stored));
        assert!(!verify("correct horse batterY", &stored));
        assert!(!verify("anything", "not a phc string"));
        assert!(!verify("anything", decoy_hash()));
    }
}
