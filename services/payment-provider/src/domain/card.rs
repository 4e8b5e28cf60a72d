//! Test card numbers and what they decide, as a processor's test mode does: a few documented
//! numbers decline, every other well-formed number approves.

use super::Violation;

/// Declines with `card_declined` (Stripe's generic decline test card).
pub const DECLINED: &str = "4000000000000002";
/// Declines with `insufficient_funds`.
pub const INSUFFICIENT_FUNDS: &str = "4000000000009995";
/// Approves; so does any other well-formed number.
pub const APPROVED: &str = "4242424242424242";

/// A card number that is 16 digits and passes the Luhn check. Only what it decides is kept: the
/// simulator never stores a card number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    pub fn parse(number: &str) -> Result<Self, Violation> {
        let violation = |message: &str| Violation::new("/card_number", message);
        if !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(violation("must contain only digits"));
        }
        if number.len() != 16 {
            return Err(violation("must be 16 digits long"));
        }
        if !luhn(number) {
            return Err(violation("is not a valid card number (fails the Luhn check)"));
        }
        Ok(Self(number.to_owned()))
    }

    /// What the issuer answers for this card.
    pub fn outcome(&self) -> Outcome {
        match self.0.as_str() {
            DECLINED => Outcome::Declined(DeclineCode::CardDeclined),
            INSUFFICIENT_FUNDS => Outcome::Declined(DeclineCode::InsufficientFunds),
            _ => Outcome::Approved,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    Declined(DeclineCode),
}

/// Why an issuer declined, in the processor's words (the `code` clients branch on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclineCode {
    CardDeclined,
    InsufficientFunds,
}

impl DeclineCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CardDeclined => "card_declined",
            Self::InsufficientFunds => "insufficient_funds",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        [Self::CardDeclined, Self::InsufficientFunds].into_iter().find(|c| c.as_str() == code)
    }
}

/// The Luhn checksum over ASCII digits: from the right, every second digit doubled (minus 9
/// when that exceeds 9), and the sum a multiple of 10.
fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .map(|b| u32::from(b - b'0'))
        .enumerate()
        .map(|(i, d)| if !i.is_multiple_of(2) { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_cards_decide_the_outcome() {
        assert_eq!(CardNumber::parse(APPROVED).unwrap().outcome(), Outcome::Approved);
        assert_eq!(CardNumber::parse(DECLINED).unwrap().outcome(), Outcome::Declined(DeclineCode::CardDeclined));
        assert_eq!(
            CardNumber::parse(INSUFFICIENT_FUNDS).unwrap().outcome(),
            Outcome::Declined(DeclineCode::InsufficientFunds)
        );
        // Another Luhn-valid number (a Mastercard test number) approves.
        assert_eq!(CardNumber::parse("5555555555554444").unwrap().outcome(), Outcome::Approved);
    }

    #[test]
    fn malformed_numbers_are_refused_with_the_reason() {
        assert_eq!(CardNumber::parse("4242 4242 4242 4242").unwrap_err().message, "must contain only digits");
        assert_eq!(CardNumber::parse("").unwrap_err().message, "must be 16 digits long");
        assert_eq!(CardNumber::parse("424242424242424").unwrap_err().message, "must be 16 digits long");
        assert_eq!(CardNumber::parse("42424242424242420").unwrap_err().message, "must be 16 digits long");
        assert!(CardNumber::parse("4242424242424241").unwrap_err().message.contains("Luhn"));
        assert!(CardNumber::parse("٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢").is_err(), "non-ASCII digits are not digits here");
        assert_eq!(CardNumber::parse("42").unwrap_err().field, "/card_number");
    }

    #[test]
    fn luhn_matches_known_numbers() {
        for valid in ["4242424242424242", "4000000000000002", "4000000000009995", "79927398713"] {
            assert!(luhn(valid), "{valid}");
        }
        for invalid in ["4242424242424243", "79927398710", "1234567812345678"] {
            assert!(!luhn(invalid), "{invalid}");
        }
    }

    #[test]
    fn decline_codes_round_trip() {
        for code in [DeclineCode::CardDeclined, DeclineCode::InsufficientFunds] {
            assert_eq!(DeclineCode::parse(code.as_str()), Some(code));
        }
        assert_eq!(DeclineCode::parse("expired_card"), None);
    }
}
