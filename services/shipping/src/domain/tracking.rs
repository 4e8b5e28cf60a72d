//! Tracking numbers in the shape of the UPU S10 standard: two letters for the service, eight
//! serial digits, a check digit, and two letters for the issuing country (`FP473124829GB`). The
//! check digit lets a clerk (or a form) catch a mistyped number before anyone looks it up.

use uuid::Uuid;

const SERVICE: &str = "FP";
const COUNTRY: &str = "GB";
const SERIALS: u128 = 100_000_000;
const WEIGHTS: [u32; 8] = [8, 6, 4, 2, 3, 5, 9, 7];

/// The tracking number whose serial comes from `seed`'s random bits (a UUIDv7's last 62 bits
/// are random; its leading ones are a clock, which would make neighbouring numbers alike).
/// Eight digits are not unique on their own: the caller makes sure no other shipment has it.
pub fn number(seed: Uuid) -> String {
    let random = seed.as_u128() & ((1 << 62) - 1);
    let serial = random % SERIALS;
    let digits = format!("{serial:08}");
    let check = check_digit(&digits).unwrap_or(0);
    format!("{SERVICE}{digits}{check}{COUNTRY}")
}

/// S10's check digit of eight serial digits; `None` when they are not eight digits.
pub fn check_digit(serial: &str) -> Option<u32> {
    let digits: Vec<u32> = serial.chars().map(|c| c.to_digit(10)).collect::<Option<_>>()?;
    if digits.len() != WEIGHTS.len() {
        return None;
    }
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(digit, weight)| digit * weight).sum();
    Some(match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        check => check,
    })
}

/// Whether `text` is a tracking number of ours: the right letters, and a check digit that fits.
pub fn is_well_formed(text: &str) -> bool {
    let (Some(serial), Some(check)) = (text.get(2..10), text.get(10..11).and_then(|c| c.parse::<u32>().ok())) else {
        return false;
    };
    text.len() == 13 && text.starts_with(SERVICE) && text.ends_with(COUNTRY) && check_digit(serial) == Some(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_digit_is_the_s10_one() {
        // 4·8 + 7·6 + 3·4 + 1·2 + 2·3 + 4·5 + 8·9 + 2·7 = 200; 200 mod 11 = 2; 11 - 2 = 9.
        assert_eq!(check_digit("47312482"), Some(9));
        assert_eq!(check_digit("00000001"), Some(4));
        // The two results that are not one digit: 11 becomes 5, 10 becomes 0.
        assert_eq!(check_digit("00000000"), Some(5));
        assert_eq!(check_digit("00000008"), Some(0));
        assert_eq!(check_digit("1234567"), None);
        assert_eq!(check_digit("1234567x"), None);
    }

    #[test]
    fn numbers_are_well_formed_and_differ_with_their_seed() {
        let numbers: Vec<String> = (0..200).map(|_| number(Uuid::now_v7())).collect();
        for n in &numbers {
            assert!(is_well_formed(n), "{n}");
        }
        let distinct: std::collections::BTreeSet<_> = numbers.iter().collect();
        assert!(distinct.len() > 190, "seeds made in the same millisecond still differ: {}", distinct.len());
        assert_eq!(number(Uuid::nil()), "FP000000005GB");
    }

    #[test]
    fn a_mistyped_number_is_caught() {
        assert!(is_well_formed("FP473124829GB"));
        assert!(!is_well_formed("FP473124828GB"), "wrong check digit");
        assert!(!is_well_formed("FP473142829GB"), "swapped digits");
        assert!(!is_well_formed("XX473124829GB"));
        assert!(!is_well_formed("FP473124829GBX"));
        assert!(!is_well_formed("FP47312482"));
        assert!(!is_well_formed("FP4731248é8GB"));
    }
}
