//! Ordering's commands. Each is answered at once when the payment's state answers it, or
//! queued for the worker when it needs the provider: the handler never calls out while it holds
//! the database transaction.

use std::sync::Arc;

use flotilla_contracts::Message;
use flotilla_contracts::payments::{AuthorizePaymentV1, CancelPaymentV1, CapturePaymentV1, PaymentDeclinedV1};
use flotilla_messaging::{Consumer, Envelope, HandlerError, UnitOfWork};
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::domain::card;
use crate::domain::payment::{self, Kind, OnArrival, State};
use crate::replies::{self, NO_CURRENCY};
use crate::store::{self, Operation, Payment};

/// The worker to wake once a queued operation is committed.
pub struct Worker(pub Arc<Notify>);

pub fn commands(worker: Arc<Notify>) -> Consumer {
    let worker = Arc::new(Worker(worker));
    Consumer::new(crate::SERVICE.name, "commands")
        .on_with(Arc::clone(&worker), authorize)
        .on_with(Arc::clone(&worker), capture)
        .on_with(worker, cancel)
}

async fn authorize(
    worker: &Worker,
    command: AuthorizePaymentV1,
    envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    let order_id = command.order_id;
    if command.amount.amount_minor <= 0 || !is_currency(&command.amount.currency) {
        return Err(HandlerError::Permanent(format!(
            "{}: the amount must be positive, in an ISO 4217 currency",
            AuthorizePaymentV1::TYPE
        )));
    }
    let arrival = arrive(work, Kind::Authorize, order_id).await?;
    if arrival.0 != OnArrival::StartAuthorizing {
        return settle(worker, work, envelope, Kind::Authorize, order_id, arrival).await;
    }
    let now = OffsetDateTime::now_utc();
    let mut payment = Payment {
        order_id,
        payment_id: Uuid::now_v7(),
        customer_id: command.customer_id.clone(),
        amount_minor: command.amount.amount_minor,
        currency: command.amount.currency.clone(),
        state: State::Authorizing,
        intent_id: None,
        detail: None,
        captured_minor: 0,
        refunded_minor: 0,
        created_at: now,
        updated_at: now,
    };
    if card::normalize(&command.payment_method).is_none() {
        // The customer's typo, not the sender's bug: a decline the order can be rejected for.
        payment.state = State::Declined;
        payment.detail = Some("invalid_number".into());
        store::insert(work, &payment).await?;
        work.reply(envelope, &PaymentDeclinedV1 { order_id, code: "invalid_number".into() }).await?;
        return Ok(());
    }
    store::insert(work, &payment).await?;
    enqueue(worker, work, envelope, Kind::Authorize, order_id, now).await
}

async fn capture(
    worker: &Worker,
    command: CapturePaymentV1,
    envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    let arrival = arrive(work, Kind::Capture, command.order_id).await?;
    settle(worker, work, envelope, Kind::Capture, command.order_id, arrival).await
}

async fn cancel(
    worker: &Worker,
    command: CancelPaymentV1,
    envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    let order_id = command.order_id;
    let arrival = arrive(work, Kind::Cancel, order_id).await?;
    if arrival.0 == OnArrival::RecordCancelled {
        let now = OffsetDateTime::now_utc();
        let tombstone = Payment {
            order_id,
            payment_id: Uuid::now_v7(),
            customer_id: String::new(),
            amount_minor: 0,
            currency: NO_CURRENCY.into(),
            state: State::Cancelled,
            intent_id: None,
            detail: None,
            captured_minor: 0,
            refunded_minor: 0,
            created_at: now,
            updated_at: now,
        };
        store::insert(work, &tombstone).await?;
        let answer = payment::answer(Kind::Cancel, Some(State::Cancelled));
        replies::send(work, envelope, order_id, Some(&tombstone), answer).await?;
        return Ok(());
    }
    settle(worker, work, envelope, Kind::Cancel, order_id, arrival).await
}

/// What the arrival of `kind` for the order means, with the payment it was decided on.
async fn arrive(
    work: &mut UnitOfWork,
    kind: Kind,
    order_id: Uuid,
) -> Result<(OnArrival, Option<Payment>), HandlerError> {
    let payment = store::payment(work, order_id).await?;
    let busy = store::busy(work, order_id).await?;
    Ok((payment::on_arrival(kind, payment.as_ref().map(|p| p.state), busy), payment))
}

/// Answers now, or queues the command for the worker.
async fn settle(
    worker: &Worker,
    work: &mut UnitOfWork,
    envelope: &Envelope,
    kind: Kind,
    order_id: Uuid,
    (arrival, payment): (OnArrival, Option<Payment>),
) -> Result<(), HandlerError> {
    match arrival {
        OnArrival::Answer(answer) => {
            replies::send(work, envelope, order_id, payment.as_ref(), answer).await?;
            Ok(())
        }
        OnArrival::Queue => enqueue(worker, work, envelope, kind, order_id, OffsetDateTime::now_utc()).await,
        OnArrival::StartAuthorizing | OnArrival::RecordCancelled => {
            Err(HandlerError::Permanent(format!("{} cannot start or cancel a payment", kind.as_str())))
        }
    }
}

async fn enqueue(
    worker: &Worker,
    work: &mut UnitOfWork,
    envelope: &Envelope,
    kind: Kind,
    order_id: Uuid,
    now: OffsetDateTime,
) -> Result<(), HandlerError> {
    let headers = serde_json::to_string(&envelope.headers()).map_err(|e| HandlerError::Permanent(e.to_string()))?;
    let payload = String::from_utf8(envelope.data.clone()).map_err(|e| HandlerError::Permanent(e.to_string()))?;
    let operation = Operation {
        id: Uuid::now_v7(),
        order_id,
        kind,
        attempts: 0,
        uncertain: false,
        command_headers: headers,
        command_payload: payload,
    };
    store::queue(work, &operation, now).await?;
    work.wake_after_commit(&worker.0);
    Ok(())
}

fn is_currency(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}
