//! A payment's life, and what each command does to it.
//!
//! A command is either answered at once from the payment's state, or queued as an operation
//! that needs the provider. An order's operations run one at a time, in arrival order, and each
//! decides again from the state when its turn comes: so a capture or a cancellation sent while
//! the authorization is still with the provider waits for it, and a command sent twice is
//! answered twice from the same state, never acted on twice.

/// Where an order's payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Being authorized with the provider.
    Authorizing,
    /// The amount is held on the card.
    Authorized,
    /// The provider refused the card.
    Declined,
    /// The provider could not be used, and is known not to have acted.
    Failed,
    /// The amount is taken.
    Captured,
    /// The hold was released.
    Voided,
    /// The taken amount went back.
    Refunded,
    /// Cancelled before any authorization arrived: none will be made.
    Cancelled,
}

impl State {
    const ALL: [Self; 8] = [
        Self::Authorizing,
        Self::Authorized,
        Self::Declined,
        Self::Failed,
        Self::Captured,
        Self::Voided,
        Self::Refunded,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorizing => "authorizing",
            Self::Authorized => "authorized",
            Self::Declined => "declined",
            Self::Failed => "failed",
            Self::Captured => "captured",
            Self::Voided => "voided",
            Self::Refunded => "refunded",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }
}

/// The command an operation carries out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Authorize,
    Capture,
    Cancel,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Capture => "capture",
            Self::Cancel => "cancel",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Authorize, Self::Capture, Self::Cancel].into_iter().find(|kind| kind.as_str() == text)
    }
}

/// A call to the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// Create a payment intent with manual capture: the authorization.
    Authorize,
    Capture,
    /// Cancel the intent: releases the hold.
    Void,
    Refund,
}

/// The call a command needs when its turn comes, given the payment's state; `None` when the
/// state answers it.
pub fn call_for(kind: Kind, state: State) -> Option<Call> {
    match (kind, state) {
        (Kind::Authorize, State::Authorizing) => Some(Call::Authorize),
        (Kind::Capture, State::Authorized) => Some(Call::Capture),
        (Kind::Cancel, State::Authorized) => Some(Call::Void),
        (Kind::Cancel, State::Captured) => Some(Call::Refund),
        _ => None,
    }
}

/// The answer a command gets from a state that needs no call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Authorized,
    Declined,
    /// Not authorized, and never will be (failed, or cancelled first).
    NotAuthorized,
    Captured,
    NotCaptured,
    /// Nothing is held or taken; what happened to the money.
    Cancelled(CancelOutcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    Voided,
    Refunded,
    Nothing,
}

impl CancelOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Voided => "voided",
            Self::Refunded => "refunded",
            Self::Nothing => "nothing",
        }
    }
}

/// The answer to `kind` from a payment in `state` (`None`: the order has no payment).
pub fn answer(kind: Kind, state: Option<State>) -> Answer {
    use State as S;
    match (kind, state) {
        (Kind::Authorize, Some(S::Authorized | S::Captured)) => Answer::Authorized,
        (Kind::Authorize, Some(S::Declined)) => Answer::Declined,
        (Kind::Authorize, _) => Answer::NotAuthorized,
        (Kind::Capture, Some(S::Captured)) => Answer::Captured,
        (Kind::Capture, _) => Answer::NotCaptured,
        (Kind::Cancel, Some(S::Voided)) => Answer::Cancelled(CancelOutcome::Voided),
        (Kind::Cancel, Some(S::Refunded)) => Answer::Cancelled(CancelOutcome::Refunded),
        (Kind::Cancel, _) => Answer::Cancelled(CancelOutcome::Nothing),
    }
}

/// What to do with a command that just arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnArrival {
    /// No payment yet: record one being authorized, and queue the authorization.
    StartAuthorizing,
    /// No payment yet and the order is cancelled: record that, so a late authorization is refused.
    RecordCancelled,
    /// Needs the provider, or waits behind an operation that does.
    Queue,
    Answer(Answer),
}

/// `busy`: the order has operations still waiting for the provider.
pub fn on_arrival(kind: Kind, state: Option<State>, busy: bool) -> OnArrival {
    match state {
        None if kind == Kind::Authorize => OnArrival::StartAuthorizing,
        None if kind == Kind::Cancel => OnArrival::RecordCancelled,
        Some(_) if busy => OnArrival::Queue,
        Some(state) if call_for(kind, state).is_some() => OnArrival::Queue,
        _ => OnArrival::Answer(answer(kind, state)),
    }
}

/// Whether an authorization that has not gone through yet should stop trying and fail: only
/// when the provider is known not to have acted (no attempt went unanswered) and either it has
/// been tried `max_attempts` times or the breaker says it is down. An unanswered attempt is
/// resolved by asking the provider, never by giving up on a guess.
pub fn authorization_gives_up(attempts: u32, max_attempts: u32, uncertain: bool, breaker_open: bool) -> bool {
    !uncertain && (breaker_open || attempts >= max_attempts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in State::ALL {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
        for kind in [Kind::Authorize, Kind::Capture, Kind::Cancel] {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(State::parse("Authorized"), None);
    }

    #[test]
    fn the_provider_is_called_only_from_the_state_that_needs_it() {
        let calls: Vec<_> = [Kind::Authorize, Kind::Capture, Kind::Cancel]
            .into_iter()
            .flat_map(|kind| {
                State::ALL.into_iter().filter_map(move |state| call_for(kind, state).map(|c| (kind, state, c)))
            })
            .collect();
        assert_eq!(
            calls,
            vec![
                (Kind::Authorize, State::Authorizing, Call::Authorize),
                (Kind::Capture, State::Authorized, Call::Capture),
                (Kind::Cancel, State::Authorized, Call::Void),
                (Kind::Cancel, State::Captured, Call::Refund),
            ]
        );
    }

    #[test]
    fn arrivals() {
        assert_eq!(on_arrival(Kind::Authorize, None, false), OnArrival::StartAuthorizing);
        assert_eq!(on_arrival(Kind::Cancel, None, false), OnArrival::RecordCancelled);
        assert_eq!(on_arrival(Kind::Capture, None, false), OnArrival::Answer(Answer::NotCaptured));
        // A capture behind a pending authorization waits for it; a settled one is answered.
        assert_eq!(on_arrival(Kind::Capture, Some(State::Authorizing), true), OnArrival::Queue);
        assert_eq!(on_arrival(Kind::Capture, Some(State::Captured), false), OnArrival::Answer(Answer::Captured));
        assert_eq!(on_arrival(Kind::Authorize, Some(State::Captured), false), OnArrival::Answer(Answer::Authorized));
        assert_eq!(
            on_arrival(Kind::Authorize, Some(State::Cancelled), false),
            OnArrival::Answer(Answer::NotAuthorized)
        );
        assert_eq!(
            on_arrival(Kind::Cancel, Some(State::Declined), false),
            OnArrival::Answer(Answer::Cancelled(CancelOutcome::Nothing))
        );
        assert_eq!(on_arrival(Kind::Cancel, Some(State::Captured), false), OnArrival::Queue);
    }

    #[test]
    fn an_unanswered_authorization_is_never_given_up_on() {
        assert!(authorization_gives_up(3, 3, false, false));
        assert!(authorization_gives_up(1, 3, false, true), "fails fast while the breaker is open");
        assert!(!authorization_gives_up(1, 3, false, false));
        assert!(!authorization_gives_up(9, 3, true, true), "uncertain: ask, whatever else");
    }
}
