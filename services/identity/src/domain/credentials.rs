//! Email addresses and passwords: what is accepted, and how passwords are hashed (argon2id).

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 128;

/// An email as typed, trimmed and lower-cased: what sign-in compares and throttles by, whether
/// or not it is a valid address.
pub fn normalise_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// The address as stored: normalised, so that sign-in is case-insensitive.
pub fn email(raw: &str) -> Result<String, &'static str> {
    let email = normalise_email(raw);
    let (local, domain) = email.split_once('@').ok_or("must be an email address such as ada@example.com")?;
    let plausible = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.chars().count() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    if plausible { Ok(email) } else { Err("must be an email address such as ada@example.com") }
}

/// Passwords attackers try first, lower-cased (`data/README.md` says where they come from).
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

/// Length is the rule (NIST SP 800-63B §5.1.1.2), with no composition rules, which only make
/// passwords worse; but values attackers guess first are refused: blanks, one character
/// repeated, and the common passwords.
pub fn password(raw: &str) -> Result<(), String> {
    let chars = raw.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
        return Err(format!("must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters long"));
    }
    if raw.chars().all(char::is_whitespace) {
        return Err("must not be only spaces".into());
    }
    let mut rest = raw.chars().skip(1);
    if raw.chars().next().is_some_and(|first| rest.all(|c| c == first)) {
        return Err("must not be one character repeated".into());
    }
    let lowered = raw.to_lowercase();
    if COMMON_PASSWORDS.lines().any(|common| common == lowered) {
        return Err("is one of the most common passwords, which attackers try first; choose another".into());
    }
    Ok(())
}

/// An argon2id PHC string with a fresh salt (OWASP's parameters: 19 MiB, 2 passes).
pub fn hash(password: &str) -> Result<String, String> {
    Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(|e| e.to_string())
}

fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Verified when the email is unknown, so that a wrong address costs the same argon2 work as a
/// wrong password and response times do not tell which addresses exist. Made once with
/// [`hash`]'s parameters from a random password nobody kept; a test holds the parameters equal.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$g15WwJY2ZzGQynC/SJ3wkg$cSYYLnKm5wtjZaCkqtvYNmimqYrfoLyR+k1S/9+oiNg";

/// Whether `password` is the one `stored` (the account's hash, `None` for an unknown email) was
/// made from. Exactly one argon2 verification either way.
pub fn check(password: &str, stored: Option<&str>) -> bool {
    check_with(password, stored, verify)
}

fn check_with(password: &str, stored: Option<&str>, verify: impl FnOnce(&str, &str) -> bool) -> bool {
    match stored {
        Some(stored) => verify(password, stored),
        None => {
            verify(password, DUMMY_HASH);
            false
        }
    }
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
        assert!(check("correct horse battery", Some(&stored)));
        assert!(!check("correct horse batterY", Some(&stored)));
        assert!(!check("anything", Some("not a phc string")));
    }

    #[test]
    fn blank_repeated_and_common_passwords_are_refused_whatever_their_length() {
        assert_eq!(password(&" ".repeat(12)).unwrap_err(), "must not be only spaces");
        assert_eq!(password(" \t \u{a0}        ").unwrap_err(), "must not be only spaces");
        assert_eq!(password(&"a".repeat(20)).unwrap_err(), "must not be one character repeated");
        assert_eq!(password(&"é".repeat(12)).unwrap_err(), "must not be one character repeated");
        for common in ["1qaz2wsx3edc", "QWERTY123456", "justinbieber"] {
            assert!(password(common).unwrap_err().contains("most common passwords"), "{common}");
        }
        // Nothing else is asked of a password: no digits, capitals or symbols required.
        for fine in ["aaaaaaaaaaab", "twelve chars", "justinbieber!"] {
            assert_eq!(password(fine), Ok(()), "{fine}");
        }
    }

    #[test]
    fn the_shipped_list_is_lower_case_and_within_the_length_rule() {
        let lines: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert_eq!(lines.len(), 229);
        for line in lines {
            assert_eq!(line, line.to_lowercase(), "compared lower-cased, so stored lower-cased");
            assert!((PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&line.chars().count()), "{line}");
        }
    }

    #[test]
    fn a_known_and_an_unknown_email_cost_one_verification_each() {
        let verified = std::cell::RefCell::new(Vec::new());
        let counting = |password: &str, stored: &str| {
            verified.borrow_mut().push(stored.to_owned());
            password == "right"
        };
        assert!(check_with("right", Some("the account's hash"), counting));
        assert!(!check_with("right", None, counting), "an unknown email never signs in");
        assert_eq!(*verified.borrow(), ["the account's hash", DUMMY_HASH]);
    }

    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let real = hash("any password at all").unwrap();
        let (real, dummy) = (PasswordHash::new(&real).unwrap(), PasswordHash::new(DUMMY_HASH).unwrap());
        assert_eq!((dummy.algorithm, dummy.version), (real.algorithm, real.version));
        assert_eq!(dummy.params.to_string(), real.params.to_string());
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert!(!check("any password at all", None));
    }
}
