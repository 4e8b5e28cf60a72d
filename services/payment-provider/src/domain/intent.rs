//! A payment intent's life with manual capture, as a card processor runs it:
//!
//! ```text
//! create ─ approved ─▶ requires_capture ─ capture ─▶ succeeded ─ refunds (up to the captured amount)
//!    │                        └───────── cancel ──▶ canceled
//!    └──── declined ─▶ requires_payment_method (last_error says why)
//! ```
//!
//! A decline leaves the intent in `requires_payment_method`, as Stripe does, rather than
//! `canceled`: the card failed, not the intent. The simulator offers no way to attach another
//! card, so in practice such an intent is final; the merchant creates a new one.

use time::OffsetDateTime;

use super::card::{DeclineCode, Outcome};
use super::request::Amount;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    RequiresPaymentMethod,
    RequiresCapture,
    Succeeded,
    Canceled,
}

const STATUSES: [Status; 4] =
    [Status::RequiresPaymentMethod, Status::RequiresCapture, Status::Succeeded, Status::Canceled];

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequiresPaymentMethod => "requires_payment_method",
            Self::RequiresCapture => "requires_capture",
            Self::Succeeded => "succeeded",
            Self::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        STATUSES.into_iter().find(|s| s.as_str() == text)
    }
}

/// What a merchant asks to be authorized, already checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIntent {
    pub amount: Amount,
    pub currency: String,
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    pub status: Status,
    /// What the merchant asked for, in minor units of `currency`.
    pub amount: i64,
    pub currency: String,
    /// Authorized and not yet captured or released.
    pub amount_capturable: i64,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub reference: String,
    /// Why the card was declined, when it was.
    pub last_error: Option<DeclineCode>,
    pub created_at: OffsetDateTime,
}

/// Why an intent refuses an operation; `code` is what clients branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The intent's status does not allow the operation.
    UnexpectedState(Status),
    /// More than the intent has: capturable, or still unrefunded.
    AmountTooLarge { requested: i64, available: i64 },
    /// Everything captured has been refunded already.
    AlreadyRefunded,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::UnexpectedState(_) => "payment_intent_unexpected_state",
            Self::AmountTooLarge { .. } => "amount_too_large",
            Self::AlreadyRefunded => "charge_already_refunded",
        }
    }

    /// A sentence for the problem's `detail`, naming the operation refused.
    pub fn explain(self, operation: &str) -> String {
        match self {
            Self::UnexpectedState(status) => {
                format!("cannot {operation} a payment intent whose status is {}", status.as_str())
            }
            Self::AmountTooLarge { requested, available } => {
                format!("cannot {operation} {requested}: only {available} is available")
            }
            Self::AlreadyRefunded => format!("cannot {operation}: everything captured has been refunded"),
        }
    }
}

impl Intent {
    /// The intent a card's outcome leaves: the whole amount authorized, or nothing and the reason.
    pub fn authorize(id: String, new: NewIntent, outcome: Outcome, now: OffsetDateTime) -> Self {
        let (status, amount_capturable, last_error) = match outcome {
            Outcome::Approved => (Status::RequiresCapture, new.amount.get(), None),
            Outcome::Declined(code) => (Status::RequiresPaymentMethod, 0, Some(code)),
        };
        Self {
            id,
            status,
            amount: new.amount.get(),
            currency: new.currency,
            amount_capturable,
            amount_captured: 0,
            amount_refunded: 0,
            reference: new.reference,
            last_error,
            created_at: now,
        }
    }

    /// Captures `amount` (all that is authorized when `None`); the rest of the authorization is
    /// released, as processors do: one capture per intent.
    pub fn capture(&self, amount: Option<Amount>) -> Result<Self, Refusal> {
        self.require(Status::RequiresCapture)?;
        let requested = amount.map_or(self.amount_capturable, Amount::get);
        if requested > self.amount_capturable {
            return Err(Refusal::AmountTooLarge { requested, available: self.amount_capturable });
        }
        Ok(Self { status: Status::Succeeded, amount_capturable: 0, amount_captured: requested, ..self.clone() })
    }

    /// Releases the authorization.
    pub fn cancel(&self) -> Result<Self, Refusal> {
        self.require(Status::RequiresCapture)?;
        Ok(Self { status: Status::Canceled, amount_capturable: 0, ..self.clone() })
    }

    /// What is captured and not yet refunded.
    pub fn refundable(&self) -> i64 {
        self.amount_captured - self.amount_refunded
    }

    /// Refunds `amount` (all that is left when `None`); returns the intent after it and the
    /// amount refunded. The total refunded never exceeds what was captured.
    pub fn refund(&self, amount: Option<Amount>) -> Result<(Self, i64), Refusal> {
        self.require(Status::Succeeded)?;
        let available = self.refundable();
        if available == 0 {
            return Err(Refusal::AlreadyRefunded);
        }
        let requested = amount.map_or(available, Amount::get);
        if requested > available {
            return Err(Refusal::AmountTooLarge { requested, available });
        }
        Ok((Self { amount_refunded: self.amount_refunded + requested, ..self.clone() }, requested))
    }

    fn require(&self, status: Status) -> Result<(), Refusal> {
        if self.status == status { Ok(()) } else { Err(Refusal::UnexpectedState(self.status)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(n: i64) -> Amount {
        Amount::positive("/amount", n).unwrap()
    }

    fn authorized(outcome: Outcome) -> Intent {
        let new = NewIntent { amount: amount(1000), currency: "EUR".into(), reference: "order-1".into() };
        Intent::authorize("pi_1".into(), new, outcome, OffsetDateTime::UNIX_EPOCH)
    }

    #[test]
    fn an_approved_card_authorizes_the_whole_amount() {
        let intent = authorized(Outcome::Approved);
        assert_eq!(intent.status, Status::RequiresCapture);
        assert_eq!((intent.amount, intent.amount_capturable, intent.amount_captured), (1000, 1000, 0));
        assert_eq!(intent.last_error, None);
    }

    #[test]
    fn a_declined_card_authorizes_nothing_and_says_why() {
        let intent = authorized(Outcome::Declined(DeclineCode::InsufficientFunds));
        assert_eq!(intent.status, Status::RequiresPaymentMethod);
        assert_eq!(intent.amount_capturable, 0);
        assert_eq!(intent.last_error, Some(DeclineCode::InsufficientFunds));
        assert_eq!(intent.capture(None), Err(Refusal::UnexpectedState(Status::RequiresPaymentMethod)));
        assert_eq!(intent.cancel(), Err(Refusal::UnexpectedState(Status::RequiresPaymentMethod)));
        assert_eq!(intent.refund(None).unwrap_err().code(), "payment_intent_unexpected_state");
    }

    #[test]
    fn capture_takes_all_or_part_once_and_releases_the_rest() {
        let intent = authorized(Outcome::Approved);
        let whole = intent.capture(None).unwrap();
        assert_eq!((whole.status, whole.amount_captured, whole.amount_capturable), (Status::Succeeded, 1000, 0));
        let part = intent.capture(Some(amount(400))).unwrap();
        assert_eq!((part.amount_captured, part.amount_capturable), (400, 0));
        assert_eq!(
            intent.capture(Some(amount(1001))),
            Err(Refusal::AmountTooLarge { requested: 1001, available: 1000 })
        );
        assert_eq!(whole.capture(None), Err(Refusal::UnexpectedState(Status::Succeeded)), "captured once");
    }

    #[test]
    fn cancel_releases_only_an_uncaptured_authorization() {
        let intent = authorized(Outcome::Approved);
        let canceled = intent.cancel().unwrap();
        assert_eq!((canceled.status, canceled.amount_capturable), (Status::Canceled, 0));
        assert_eq!(canceled.capture(None), Err(Refusal::UnexpectedState(Status::Canceled)));
        assert_eq!(canceled.cancel(), Err(Refusal::UnexpectedState(Status::Canceled)));
        let captured = intent.capture(None).unwrap();
        assert_eq!(captured.cancel(), Err(Refusal::UnexpectedState(Status::Succeeded)));
    }

    #[test]
    fn refunds_never_exceed_what_was_captured() {
        let intent = authorized(Outcome::Approved);
        assert_eq!(intent.refund(None), Err(Refusal::UnexpectedState(Status::RequiresCapture)), "not captured yet");
        let captured = intent.capture(Some(amount(600))).unwrap();
        let (after_first, first) = captured.refund(Some(amount(250))).unwrap();
        assert_eq!((first, after_first.amount_refunded, after_first.refundable()), (250, 250, 350));
        assert_eq!(
            after_first.refund(Some(amount(351))),
            Err(Refusal::AmountTooLarge { requested: 351, available: 350 })
        );
        let (all, rest) = after_first.refund(None).unwrap();
        assert_eq!((rest, all.amount_refunded, all.refundable()), (350, 600, 0));
        assert_eq!(all.refund(None), Err(Refusal::AlreadyRefunded));
        assert_eq!(all.refund(Some(amount(1))), Err(Refusal::AlreadyRefunded));
        assert_eq!(all.status, Status::Succeeded, "a refunded intent stays succeeded");
    }

    #[test]
    fn statuses_and_refusals_read_as_the_processor_words() {
        for status in STATUSES {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("processing"), None);
        let refusal = Refusal::UnexpectedState(Status::Canceled);
        assert_eq!(refusal.explain("capture"), "cannot capture a payment intent whose status is canceled");
        assert_eq!(Refusal::AlreadyRefunded.code(), "charge_already_refunded");
        assert_eq!(Refusal::AmountTooLarge { requested: 2, available: 1 }.code(), "amount_too_large");
    }
}
