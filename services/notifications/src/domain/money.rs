//! Amounts as people read them: the minor units the contracts carry, put back into the
//! currency's major unit with as many decimals as ISO 4217 gives it.

use flotilla_contracts::Money;

/// Decimals of the currency's minor unit (ISO 4217). Most have two; the exceptions are listed
/// so that 1000 JPY does not read as "10.00 JPY".
pub fn exponent(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// `6998 EUR` as "69.98 EUR", `-150 EUR` as "-1.50 EUR", `1000 JPY` as "1000 JPY".
pub fn format(money: &Money) -> String {
    let exponent = exponent(&money.currency);
    let sign = if money.amount_minor < 0 { "-" } else { "" };
    // unsigned_abs: i64::MIN has no positive i64 counterpart.
    let magnitude = money.amount_minor.unsigned_abs();
    let currency = &money.currency;
    if exponent == 0 {
        return format!("{sign}{magnitude} {currency}");
    }
    let scale = 10u64.pow(exponent);
    let (major, minor) = (magnitude / scale, magnitude % scale);
    let width = exponent as usize;
    format!("{sign}{major}.{minor:0width$} {currency}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount_minor: i64, currency: &str) -> Money {
        Money { amount_minor, currency: currency.into() }
    }

    #[test]
    fn two_decimal_currencies_read_in_major_units() {
        assert_eq!(format(&money(6998, "EUR")), "69.98 EUR");
        assert_eq!(format(&money(5, "EUR")), "0.05 EUR");
        assert_eq!(format(&money(0, "USD")), "0.00 USD");
        assert_eq!(format(&money(100_000, "GBP")), "1000.00 GBP");
        assert_eq!(format(&money(-150, "EUR")), "-1.50 EUR");
    }

    #[test]
    fn other_exponents_are_respected() {
        assert_eq!(format(&money(1000, "JPY")), "1000 JPY");
        assert_eq!(format(&money(1234, "KWD")), "1.234 KWD");
        assert_eq!(format(&money(5, "BHD")), "0.005 BHD");
    }

    #[test]
    fn the_extremes_do_not_overflow() {
        assert_eq!(format(&money(i64::MIN, "EUR")), "-92233720368547758.08 EUR");
        assert_eq!(format(&money(i64::MAX, "JPY")), "9223372036854775807 JPY");
    }
}
