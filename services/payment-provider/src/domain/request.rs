//! The shape rules of what a merchant sends: amounts, currencies, references.

use super::Violation;

/// An amount in minor units, checked to be positive: what an intent's rules take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(i64);

impl Amount {
    pub fn positive(field: &'static str, amount: i64) -> Result<Self, Violation> {
        if amount > 0 {
            Ok(Self(amount))
        } else {
            Err(Violation::new(field, "must be a positive number of minor units"))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// An ISO 4217 code's shape: three upper-case ASCII letters. The simulator does not hold the
/// list of active codes; the merchant's own service decides which currencies it sells in.
pub fn currency(code: &str) -> Result<&str, Violation> {
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(Violation::new("/currency", "must be an ISO 4217 code: three upper-case letters"))
    }
}

/// The longest merchant reference, in characters.
pub const MAX_REFERENCE_CHARS: usize = 100;

/// The merchant's order id: kept exactly as sent (it is looked up exactly), so it is not trimmed,
/// but it may not be blank or hold control characters.
pub fn reference(reference: &str) -> Result<&str, Violation> {
    let violation = |message: String| Err(Violation::new("/reference", message));
    if reference.trim().is_empty() {
        return violation("must not be blank".into());
    }
    if reference.chars().count() > MAX_REFERENCE_CHARS {
        return violation(format!("must be at most {MAX_REFERENCE_CHARS} characters"));
    }
    if reference.chars().any(char::is_control) {
        return violation("must not contain control characters".into());
    }
    Ok(reference)
}

/// Whether `text` has the shape of an id the simulator hands out, `<prefix>_` and a UUID's 32
/// lower-case hex digits: anything else names nothing, and need not be looked up.
pub fn is_id(prefix: &str, text: &str) -> bool {
    text.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_must_be_positive() {
        assert_eq!(Amount::positive("/amount", 1).map(Amount::get), Ok(1));
        assert_eq!(Amount::positive("/amount", 0).unwrap_err().field, "/amount");
        assert!(Amount::positive("/amount", -5).is_err());
    }

    #[test]
    fn currencies_have_the_iso_shape() {
        assert_eq!(currency("EUR"), Ok("EUR"));
        for bad in ["eur", "EU", "EURO", "E1R", "ÉUR", ""] {
            assert!(currency(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references_are_bounded_and_kept_as_sent() {
        assert_eq!(reference(" order-1 "), Ok(" order-1 "));
        assert!(reference("   ").is_err());
        assert!(reference("").is_err());
        assert!(reference("a\u{7}b").is_err());
        assert!(reference(&"é".repeat(100)).is_ok(), "characters, not bytes, are counted");
        assert_eq!(reference(&"x".repeat(101)).unwrap_err().message, "must be at most 100 characters");
    }

    #[test]
    fn ids_have_a_prefix_and_32_hex_digits() {
        assert!(is_id("pi", "pi_0198c2d3e4f5a6b7c8d9e0f1a2b3c4d5"));
        assert!(!is_id("re", "pi_0198c2d3e4f5a6b7c8d9e0f1a2b3c4d5"));
        assert!(!is_id("pi", "pi_0198C2D3E4F5A6B7C8D9E0F1A2B3C4D5"));
        assert!(!is_id("pi", "pi_0198c2d3e4f5a6b7c8d9e0f1a2b3c4d"));
        assert!(!is_id("pi", "pi0198c2d3e4f5a6b7c8d9e0f1a2b3c4d5a"));
        assert!(!is_id("pi", "pi_\u{0}198c2d3e4f5a6b7c8d9e0f1a2b3c4d"));
    }
}
