//! What makes a receipt or an adjustment of stock acceptable. Whether the stock can bear it
//! (an adjustment never takes units that are not free) is decided where the counts live, in
//! one conditional statement, so that concurrent changes cannot both pass a check.

/// A broken rule, at the JSON pointer of the field that breaks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: &'static str,
    pub message: String,
}

/// The most units one receipt or adjustment may move: far above any real delivery, low enough
/// that no sum of them overflows.
pub const MAX_UNITS: i64 = 1_000_000;
const MAX_REASON_CHARS: usize = 200;

/// Units received into stock.
pub fn receipt(quantity: i64) -> Result<i64, Violation> {
    if !(1..=MAX_UNITS).contains(&quantity) {
        return Err(Violation { field: "/quantity", message: format!("must be between 1 and {MAX_UNITS}") });
    }
    Ok(quantity)
}

/// A correction of the free count (a stock-take, breakage): never zero, always explained.
pub fn adjustment(delta: i64, reason: &str) -> Result<(i64, String), Vec<Violation>> {
    let mut violations = Vec::new();
    if delta == 0 || delta.unsigned_abs() > MAX_UNITS.unsigned_abs() {
        violations.push(Violation {
            field: "/delta",
            message: format!("must be non-zero and at most {MAX_UNITS} either way"),
        });
    }
    match reason_text(reason) {
        Ok(reason) if violations.is_empty() => return Ok((delta, reason)),
        Ok(_) => {}
        Err(violation) => violations.push(violation),
    }
    Err(violations)
}

/// An optional note on a receipt, checked like a reason when present.
pub fn note(note: Option<&str>) -> Result<String, Violation> {
    match note {
        None => Ok("received".to_owned()),
        Some(note) => reason_text(note).map_err(|v| Violation { field: "/note", ..v }),
    }
}

fn reason_text(text: &str) -> Result<String, Violation> {
    let violation = |message: &str| Violation { field: "/reason", message: message.to_owned() };
    let text = text.trim();
    if text.is_empty() {
        return Err(violation("must not be blank"));
    }
    if text.chars().count() > MAX_REASON_CHARS {
        return Err(violation("must be at most 200 characters"));
    }
    if text.chars().any(char::is_control) {
        return Err(violation("must not contain control characters"));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_are_positive_and_bounded() {
        assert_eq!(receipt(5), Ok(5));
        for bad in [0, -1, MAX_UNITS + 1, i64::MIN] {
            assert_eq!(receipt(bad).unwrap_err().field, "/quantity", "{bad}");
        }
    }

    #[test]
    fn adjustments_move_stock_and_say_why() {
        assert_eq!(adjustment(-3, " broken in transit "), Ok((-3, "broken in transit".into())));
        let both = adjustment(0, "").unwrap_err();
        assert_eq!(both.iter().map(|v| v.field).collect::<Vec<_>>(), ["/delta", "/reason"]);
        assert_eq!(adjustment(i64::MIN, "x").unwrap_err()[0].field, "/delta", "no overflow on abs");
        assert!(adjustment(1, &"x".repeat(201)).is_err());
        assert!(adjustment(1, "a\u{7}b").is_err());
    }

    #[test]
    fn a_note_is_optional_but_checked() {
        assert_eq!(note(None).unwrap(), "received");
        assert_eq!(note(Some("pallet 7")).unwrap(), "pallet 7");
        assert_eq!(note(Some(" ")).unwrap_err().field, "/note");
    }

    #[test]
    fn the_limits_themselves_are_allowed() {
        assert_eq!(adjustment(MAX_UNITS, "stock-take").unwrap().0, MAX_UNITS);
        assert_eq!(adjustment(-MAX_UNITS, "stock-take").unwrap().0, -MAX_UNITS);
        assert!(adjustment(MAX_UNITS + 1, "stock-take").is_err());
        let longest = "x".repeat(MAX_REASON_CHARS);
        assert_eq!(adjustment(1, &longest).unwrap().1, longest);
        assert_eq!(note(Some(&longest)).unwrap(), longest);
    }
}
