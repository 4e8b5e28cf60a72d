//! Answers to ordering's commands, from the payment as it stands. One place builds them, so the
//! consumer (answering at once) and the worker (answering once the provider has) say the same.

use flotilla_contracts::Money;
use flotilla_contracts::payments::{
    PaymentAuthorizedV1, PaymentCancelledV1, PaymentCaptureFailedV1, PaymentCapturedV1, PaymentDeclinedV1,
    PaymentFailedV1,
};
use flotilla_messaging::outbox::OutboxError;
use flotilla_messaging::{Envelope, UnitOfWork};
use uuid::Uuid;

use crate::domain::payment::{Answer, CancelOutcome, State};
use crate::store::Payment;

/// Replies `answer` to `command` for the order's `payment` (`None`: it has none).
pub async fn send(
    work: &mut UnitOfWork,
    command: &Envelope,
    order_id: Uuid,
    payment: Option<&Payment>,
    answer: Answer,
) -> Result<(), OutboxError> {
    let money = |amount_minor: i64| Money {
        amount_minor,
        currency: payment.map_or_else(|| NO_CURRENCY.to_owned(), |p| p.currency.clone()),
    };
    let detail = payment.and_then(|p| p.detail.clone());
    match answer {
        Answer::Authorized => {
            let (payment_id, amount) = payment.map_or((Uuid::nil(), 0), |p| (p.payment_id, p.amount_minor));
            work.reply(command, &PaymentAuthorizedV1 { order_id, payment_id, amount: money(amount) }).await?;
        }
        Answer::Declined => {
            let code = detail.unwrap_or_else(|| "card_declined".into());
            work.reply(command, &PaymentDeclinedV1 { order_id, code }).await?;
        }
        Answer::NotAuthorized => {
            let reason = match payment.map(|p| p.state) {
                Some(State::Failed) => detail.unwrap_or_else(|| "the payment provider could not be used".into()),
                _ => "the payment was cancelled before it was authorized".into(),
            };
            work.reply(command, &PaymentFailedV1 { order_id, reason }).await?;
        }
        Answer::Captured => {
            let captured = payment.map_or(0, |p| p.captured_minor);
            work.reply(command, &PaymentCapturedV1 { order_id, amount: money(captured) }).await?;
        }
        Answer::NotCaptured => {
            let state = payment.map_or("none", |p| p.state.as_str());
            let reason = format!("the payment is {state}, not authorized");
            work.reply(command, &PaymentCaptureFailedV1 { order_id, reason }).await?;
        }
        Answer::Cancelled(outcome) => {
            let refunded = if outcome == CancelOutcome::Refunded { payment.map_or(0, |p| p.refunded_minor) } else { 0 };
            let reply = PaymentCancelledV1 { order_id, outcome: outcome.as_str().into(), refunded: money(refunded) };
            work.reply(command, &reply).await?;
        }
    }
    Ok(())
}

/// ISO 4217's code for "no currency", for the amounts of an order that never had a payment.
pub const NO_CURRENCY: &str = "XXX";
