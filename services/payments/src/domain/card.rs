//! What payments keeps of a card: nothing but what it must pass on. Checks here are only the
//! shape; whether a card is good is the processor's call.

/// A payment method as the processor takes it: 12 to 19 digits (spaces and dashes, as people
/// type them, are dropped). `None` when it cannot be one.
pub fn normalize(payment_method: &str) -> Option<String> {
    let digits: String = payment_method.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    ((12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_numbers_are_digits_of_a_card_length() {
        assert_eq!(normalize("4242 4242-4242 4242").as_deref(), Some("4242424242424242"));
        for bad in ["", "4242", "4242x24242424242", "42424242424242424242", "٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢"] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}
