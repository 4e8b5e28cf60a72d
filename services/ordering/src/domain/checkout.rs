//! What a checkout must hold before an order is accepted: where to ship, whom to write to, a
//! card in a card's shape, and a basket with something to buy in one currency.

/// A broken rule, at the JSON pointer of the field that breaks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub message: String,
}

fn violation(field: &str, message: &str) -> Violation {
    Violation { field: field.to_owned(), message: message.to_owned() }
}

/// An address's fields as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressInput<'a> {
    pub name: &'a str,
    pub line1: &'a str,
    pub line2: Option<&'a str>,
    pub city: &'a str,
    pub postal_code: &'a str,
    pub country: &'a str,
}

const MAX_FIELD_CHARS: usize = 200;

/// Checks the shipping address, the contact email and the card; every broken rule at once.
pub fn check(address: &AddressInput<'_>, email: &str, payment_method: &str) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut text = |field: &str, value: &str, required: bool| {
        let value = value.trim();
        if required && value.is_empty() {
            violations.push(violation(field, "must not be blank"));
        } else if value.chars().count() > MAX_FIELD_CHARS {
            violations.push(violation(field, "must be at most 200 characters"));
        } else if value.chars().any(char::is_control) {
            violations.push(violation(field, "must not contain control characters"));
        }
    };
    text("/ship_to/name", address.name, true);
    text("/ship_to/line1", address.line1, true);
    text("/ship_to/line2", address.line2.unwrap_or_default(), false);
    text("/ship_to/city", address.city, true);
    text("/ship_to/postal_code", address.postal_code, true);
    if !(address.country.len() == 2 && address.country.bytes().all(|b| b.is_ascii_uppercase())) {
        violations.push(violation("/ship_to/country", "must be an ISO 3166-1 alpha-2 code, upper case"));
    }
    if !is_email(email) {
        violations.push(violation("/contact_email", "must be an email address"));
    }
    let digits: String = payment_method.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if !((12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())) {
        violations.push(violation("/payment_method", "must be a card number of 12 to 19 digits"));
    }
    violations
}

/// The shape of an address, not its deliverability: one `@` with something on both sides and a
/// dot in the domain, no spaces, at most 254 characters (RFC 5321's path limit, counted in
/// characters as every other field is).
fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.chars().count() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A basket line as the basket reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasketLine {
    pub sku: String,
    pub quantity: u32,
    pub unit_minor: i64,
    pub currency: String,
    pub available: bool,
}

/// Why a basket cannot be checked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasketError {
    #[error("the basket is empty")]
    Empty,
    #[error("SKU {0} is no longer sold; remove it from the basket")]
    Unavailable(String),
    #[error("the basket holds more than one currency")]
    MixedCurrencies,
    #[error("the basket's total is out of range")]
    Overflow,
}

/// The order's total from the basket's lines at their current prices.
pub fn total(lines: &[BasketLine]) -> Result<(i64, String), BasketError> {
    let first = lines.first().ok_or(BasketError::Empty)?;
    let mut total: i64 = 0;
    for line in lines {
        if !line.available {
            return Err(BasketError::Unavailable(line.sku.clone()));
        }
        if line.currency != first.currency {
            return Err(BasketError::MixedCurrencies);
        }
        let amount = line.unit_minor.checked_mul(i64::from(line.quantity)).ok_or(BasketError::Overflow)?;
        total = total.checked_add(amount).ok_or(BasketError::Overflow)?;
    }
    if total <= 0 {
        return Err(BasketError::Overflow);
    }
    Ok((total, first.currency.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> AddressInput<'static> {
        AddressInput {
            name: "Ada",
            line1: "12 St James Square",
            line2: None,
            city: "London",
            postal_code: "SW1Y",
            country: "GB",
        }
    }

    #[test]
    fn a_good_checkout_passes_and_a_bad_one_names_every_field() {
        assert!(check(&address(), "ada@example.com", "4242 4242 4242 4242").is_empty());
        let bad = AddressInput { name: " ", city: "", country: "gb", line2: Some("a\u{0}"), ..address() };
        let fields: Vec<String> = check(&bad, "ada@", "42").into_iter().map(|v| v.field).collect();
        assert_eq!(
            fields,
            [
                "/ship_to/name",
                "/ship_to/line2",
                "/ship_to/city",
                "/ship_to/country",
                "/contact_email",
                "/payment_method"
            ]
        );
    }

    #[test]
    fn emails_have_a_shape() {
        for good in ["a@b.co", "first.last+tag@example.org"] {
            assert!(is_email(good), "{good}");
        }
        for bad in ["", "a", "@b.co", "a@b", "a@.b", "a@b.", "a b@c.de", "a@b@c.de"] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn totals_are_exact_and_refuse_what_cannot_be_bought() {
        let line = |sku: &str, quantity, unit_minor, currency: &str| BasketLine {
            sku: sku.into(),
            quantity,
            unit_minor,
            currency: currency.into(),
            available: true,
        };
        assert_eq!(total(&[line("A", 2, 3499, "EUR"), line("B", 1, 1, "EUR")]), Ok((6999, "EUR".into())));
        assert_eq!(total(&[]), Err(BasketError::Empty));
        assert_eq!(total(&[line("A", 1, 1, "EUR"), line("B", 1, 1, "USD")]), Err(BasketError::MixedCurrencies));
        assert_eq!(total(&[line("A", u32::MAX, i64::MAX, "EUR")]), Err(BasketError::Overflow));
        let gone = BasketLine { available: false, ..line("A", 1, 1, "EUR") };
        assert_eq!(total(&[gone]), Err(BasketError::Unavailable("A".into())));
    }
}
