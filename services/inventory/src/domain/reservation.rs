//! A reservation's life: what each command does to it, decided from its state alone, so that a
//! command sent again, late or out of order is answered from the state and changes nothing.

use std::collections::BTreeMap;

/// Where an order's reservation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Units are held for the order until `expires_at`.
    Held,
    /// The units are sold.
    Committed,
    /// Given back (or never held: released before the reservation arrived).
    Released,
    /// The hold lapsed and the units went back.
    Expired,
    /// Not all units were free; nothing was held.
    Refused,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "held",
            Self::Committed => "committed",
            Self::Released => "released",
            Self::Expired => "expired",
            Self::Refused => "refused",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Held, Self::Committed, Self::Released, Self::Expired, Self::Refused]
            .into_iter()
            .find(|state| state.as_str() == text)
    }
}

/// Units of one SKU, as a reservation holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub sku: String,
    pub quantity: u32,
}

/// Why a reservation request is not one inventory can act on. The same request fails the same
/// way every time, so it is a sender's bug, not a shortage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinesError {
    #[error("a reservation needs at least one line")]
    Empty,
    #[error("a reservation holds at most {max} SKUs, not {got}")]
    TooMany { max: usize, got: usize },
    #[error("line {index}: the SKU is blank")]
    BlankSku { index: usize },
    #[error("line {index}: the quantity must be at least 1")]
    ZeroQuantity { index: usize },
    #[error("SKU {sku}: at most {max} units may be held for one order")]
    TooManyUnits { sku: String, max: u32 },
}

/// The request's lines, checked, with repeated SKUs added together, in SKU order: every
/// reservation takes its rows' locks in that one order, so two never wait on each other.
pub fn lines(
    requested: impl IntoIterator<Item = (String, u32)>,
    max_lines: usize,
    max_units: u32,
) -> Result<Vec<Line>, LinesError> {
    let mut merged: BTreeMap<String, u32> = BTreeMap::new();
    for (index, (sku, quantity)) in requested.into_iter().enumerate() {
        if sku.trim().is_empty() {
            return Err(LinesError::BlankSku { index });
        }
        if quantity == 0 {
            return Err(LinesError::ZeroQuantity { index });
        }
        let total = merged.entry(sku.clone()).or_default();
        *total = total
            .checked_add(quantity)
            .filter(|total| *total <= max_units)
            .ok_or(LinesError::TooManyUnits { sku, max: max_units })?;
    }
    if merged.is_empty() {
        return Err(LinesError::Empty);
    }
    if merged.len() > max_lines {
        return Err(LinesError::TooMany { max: max_lines, got: merged.len() });
    }
    Ok(merged.into_iter().map(|(sku, quantity)| Line { sku, quantity }).collect())
}

/// What a reserve command does, given the order's reservation (if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnReserve {
    /// No reservation yet: try to hold the units.
    Try,
    /// Held or sold already: answer "reserved" again.
    AnswerReserved,
    /// Refused before: answer with the shortages it was refused for.
    AnswerRefused,
    /// Released before it arrived, or expired: it is not held again.
    AnswerGone,
}

pub fn on_reserve(state: Option<State>) -> OnReserve {
    match state {
        None => OnReserve::Try,
        Some(State::Held | State::Committed) => OnReserve::AnswerReserved,
        Some(State::Refused) => OnReserve::AnswerRefused,
        Some(State::Released | State::Expired) => OnReserve::AnswerGone,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnCommit {
    /// Move the held units to sold.
    Commit,
    AnswerCommitted,
    /// Nothing is held to commit.
    AnswerLapsed,
}

pub fn on_commit(state: Option<State>) -> OnCommit {
    match state {
        Some(State::Held) => OnCommit::Commit,
        Some(State::Committed) => OnCommit::AnswerCommitted,
        None | Some(State::Released | State::Expired | State::Refused) => OnCommit::AnswerLapsed,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRelease {
    /// Give the held units back.
    ReleaseHeld,
    /// Give the sold units back to stock (an order cancelled after it was paid).
    ReturnSold,
    /// Nothing arrived yet: record the release, so that a reservation arriving later is not held.
    RecordRelease,
    /// Nothing is held: answer "released".
    AnswerReleased,
}

pub fn on_release(state: Option<State>) -> OnRelease {
    match state {
        Some(State::Held) => OnRelease::ReleaseHeld,
        Some(State::Committed) => OnRelease::ReturnSold,
        None => OnRelease::RecordRelease,
        Some(State::Released | State::Expired | State::Refused) => OnRelease::AnswerReleased,
    }
}

/// Whether the hold's timer, come due, gives the units back: only a hold still held lapses.
pub fn expires(state: Option<State>) -> bool {
    state == Some(State::Held)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Option<State>; 6] = [
        None,
        Some(State::Held),
        Some(State::Committed),
        Some(State::Released),
        Some(State::Expired),
        Some(State::Refused),
    ];

    #[test]
    fn states_round_trip() {
        for state in ALL.into_iter().flatten() {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        assert_eq!(State::parse("HELD"), None);
    }

    #[test]
    fn lines_are_merged_sorted_and_bounded() {
        let got = lines([("B".into(), 1), ("A".into(), 2), ("B".into(), 3)], 5, 10).unwrap();
        assert_eq!(got, vec![Line { sku: "A".into(), quantity: 2 }, Line { sku: "B".into(), quantity: 4 }]);
        assert_eq!(lines([], 5, 10), Err(LinesError::Empty));
        assert_eq!(lines([(" ".into(), 1)], 5, 10), Err(LinesError::BlankSku { index: 0 }));
        assert_eq!(lines([("A".into(), 0)], 5, 10), Err(LinesError::ZeroQuantity { index: 0 }));
        assert!(matches!(lines([("A".into(), 6), ("A".into(), 5)], 5, 10), Err(LinesError::TooManyUnits { .. })));
        assert!(matches!(
            lines([("A".into(), u32::MAX), ("A".into(), 1)], 5, u32::MAX),
            Err(LinesError::TooManyUnits { .. })
        ));
        let many = (0..6).map(|i| (format!("S{i}"), 1));
        assert_eq!(lines(many, 5, 10), Err(LinesError::TooMany { max: 5, got: 6 }));
        let most = (0..5).map(|i| (format!("S{i}"), 1));
        assert_eq!(lines(most, 5, 10).unwrap().len(), 5, "exactly max_lines is allowed");
    }

    #[test]
    fn only_a_first_reserve_tries_to_hold() {
        let tries: Vec<_> = ALL.into_iter().filter(|s| on_reserve(*s) == OnReserve::Try).collect();
        assert_eq!(tries, vec![None]);
        assert_eq!(on_reserve(Some(State::Released)), OnReserve::AnswerGone, "a release that overtook it wins");
    }

    #[test]
    fn only_a_hold_is_committed_or_expires() {
        for state in ALL {
            assert_eq!(on_commit(state) == OnCommit::Commit, state == Some(State::Held), "{state:?}");
            assert_eq!(expires(state), state == Some(State::Held), "{state:?}");
        }
        assert_eq!(on_commit(Some(State::Expired)), OnCommit::AnswerLapsed);
    }

    #[test]
    fn release_gives_back_what_the_order_holds_and_bars_a_late_reserve() {
        assert_eq!(on_release(Some(State::Held)), OnRelease::ReleaseHeld);
        assert_eq!(on_release(Some(State::Committed)), OnRelease::ReturnSold);
        assert_eq!(on_release(None), OnRelease::RecordRelease);
        for state in [State::Released, State::Expired, State::Refused] {
            assert_eq!(on_release(Some(state)), OnRelease::AnswerReleased);
        }
    }
}
