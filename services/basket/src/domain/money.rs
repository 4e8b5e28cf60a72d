//! Money as an integer count of minor units with an ISO 4217 code, never floating point.

use std::collections::BTreeMap;

/// The largest price the basket takes from the catalog, the catalog's own bound. With the limits
/// on quantities and lines (see `Limits::MAX_QUANTITY`), no total comes near `i64::MAX`.
pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Money {
    pub amount_minor: i64,
    /// ISO 4217 code, upper case.
    pub currency: String,
}

impl Money {
    /// A price as the catalog states it. The catalog checks the code against ISO 4217; here only
    /// its shape is checked, so that a currency the catalog adds later needs no release of ours.
    pub fn price(amount_minor: i64, currency: &str) -> Result<Self, String> {
        if !(0..=MAX_AMOUNT_MINOR).contains(&amount_minor) {
            return Err(format!("amount {amount_minor} is outside 0..={MAX_AMOUNT_MINOR}"));
        }
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(format!("currency {currency:?} is not an upper-case ISO 4217 code"));
        }
        Ok(Self { amount_minor, currency: currency.to_owned() })
    }

    /// This price `quantity` times. Saturates rather than wraps, although within the bounds on
    /// prices, quantities and lines it never has to.
    pub fn times(&self, quantity: i64) -> Self {
        Self { amount_minor: self.amount_minor.saturating_mul(quantity), currency: self.currency.clone() }
    }
}

/// The sum of `amounts` per currency, in currency order.
pub fn totals<'a>(amounts: impl IntoIterator<Item = &'a Money>) -> Vec<Money> {
    let mut sums: BTreeMap<&str, i64> = BTreeMap::new();
    for money in amounts {
        let sum = sums.entry(money.currency.as_str()).or_default();
        *sum = sum.saturating_add(money.amount_minor);
    }
    sums.into_iter().map(|(currency, amount_minor)| Money { amount_minor, currency: currency.to_owned() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(amount_minor: i64) -> Money {
        Money::price(amount_minor, "EUR").unwrap()
    }

    #[test]
    fn a_price_is_bounded_and_coded() {
        assert_eq!(eur(3499), Money { amount_minor: 3499, currency: "EUR".into() });
        assert!(Money::price(0, "EUR").is_ok(), "free is a price");
        assert!(Money::price(-1, "EUR").is_err());
        assert!(Money::price(MAX_AMOUNT_MINOR + 1, "EUR").is_err());
        assert!(Money::price(100, "eur").is_err());
        assert!(Money::price(100, "EURO").is_err());
        assert!(Money::price(100, "").is_err());
    }

    #[test]
    fn totals_are_per_currency() {
        let usd = Money::price(500, "USD").unwrap();
        assert_eq!(totals([&eur(100), &usd, &eur(250)]), vec![eur(350), usd]);
        assert_eq!(totals(std::iter::empty::<&Money>()), Vec::<Money>::new());
        assert_eq!(eur(MAX_AMOUNT_MINOR).times(99).amount_minor, 990_000_000_000);
    }
}
