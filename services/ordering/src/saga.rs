//! Runs the saga: applies a step of `domain::saga` to a stored order inside a unit of work, and
//! turns its decisions into the commands, events, timer and timeline entry that commit with it,
//! and into its metrics: the time spent in the phase it leaves, and the order's end.

use std::time::Duration;

use flotilla_contracts::Money;
use flotilla_contracts::inventory::{CommitStockV1, ReleaseStockV1, ReserveStockV1, StockLine};
use flotilla_contracts::ordering::{Customer, OrderCancelledV1, OrderConfirmedV1, OrderRejectedV1, OrderShippedV1};
use flotilla_contracts::payments::{AuthorizePaymentV1, CancelPaymentV1, CapturePaymentV1};
use flotilla_contracts::shipping::CancelShipmentV1;
use flotilla_contracts::{Message, MessageKind};
use flotilla_messaging::outbox::OutboxError;
use flotilla_messaging::{HandlerError, UnitOfWork};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::saga::{self, Command, Input, Phase, Publish, Timer};
use crate::metrics;
use crate::store::{self, Order};

/// The step of an order came due. Private to ordering: it never leaves the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StepDueV1 {
    pub order_id: Uuid,
    /// The order's version when the timer was set: a timer for an older step is stale.
    pub version: i64,
}

impl Message for StepDueV1 {
    const TYPE: &'static str = "flotilla.ordering.step-due.v1";
    const SUMMARY: &'static str = "An order's saga step took too long.";
    const KIND: MessageKind = MessageKind::Timer;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// How long the saga waits.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For each forward step's reply.
    pub step: Duration,
    /// Before an unanswered undo is sent again.
    pub undo_retry: Duration,
}

/// What a step learned besides the input itself.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    pub captured_minor: Option<i64>,
    pub refunded_minor: Option<i64>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    /// What the timeline should add (a decline code, a failure reason).
    pub detail: Option<String>,
}

/// Applies `input` to the order; `Ok(None)` when the order does not exist or its saga does not
/// expect the input (a duplicate, a late or overtaken reply): nothing changes then.
pub async fn advance(
    work: &mut UnitOfWork,
    timeouts: Timeouts,
    order_id: Uuid,
    input: Input,
    facts: Facts,
) -> Result<Option<Order>, HandlerError> {
    let Some(mut order) = store::order(work, order_id).await? else {
        tracing::warn!(%order_id, ?input, "a message for an order ordering does not have");
        return Ok(None);
    };
    let Some(transition) = saga::step(&order.saga, input) else {
        tracing::debug!(%order_id, ?input, phase = order.saga.phase.as_str(), "ignored: the saga does not expect it");
        return Ok(None);
    };
    let now = OffsetDateTime::now_utc();
    // Read before this step's entry joins the timeline, which then says when the phase began.
    let left = order.saga.phase;
    let entered =
        if transition.saga.phase == left { None } else { store::phase_entered_at(work, order_id, left).await? };
    let expected = order.version;
    order.version += 1;
    order.saga = transition.saga;
    order.updated_at = now;
    order.captured_minor = facts.captured_minor.unwrap_or(order.captured_minor);
    order.refunded_minor = facts.refunded_minor.unwrap_or(order.refunded_minor);
    order.carrier = facts.carrier.or(order.carrier);
    order.tracking_number = facts.tracking_number.or(order.tracking_number);
    for command in &transition.send {
        send(work, &mut order, *command).await?;
    }
    if let Some(event) = transition.publish {
        publish(work, &order, event).await?;
    }
    match transition.timer {
        Timer::Set => {
            let wait = if matches!(order.saga.phase, Phase::Undoing | Phase::StoppingShipment) {
                timeouts.undo_retry
            } else {
                timeouts.step
            };
            schedule(work, &order, now + wait).await?;
        }
        Timer::Cancel => {
            work.cancel(&timer_key(order_id)).await?;
        }
    }
    let detail = facts.detail.as_deref();
    store::append(work, order_id, order.version, &order.saga, transition.note, detail, now).await?;
    // Read and written in one transaction; under PostgreSQL a concurrent step of the same
    // order commits first and this one is retried on the new state.
    if !store::update(work, &order, expected).await? {
        return Err(HandlerError::Transient(format!("order {order_id} moved on while this step ran")));
    }
    // Recorded once nothing of the step can fail but its commit. A redelivery cannot count it
    // again: the inbox drops a duplicate, and the saga takes no step after an end.
    if let Some(entered) = entered {
        metrics::step_left(left, entered, now);
    }
    metrics::reached(&order.saga);
    Ok(Some(order))
}

/// Sets the order's step timer (one per order: setting it moves it).
pub async fn schedule(work: &mut UnitOfWork, order: &Order, at: OffsetDateTime) -> Result<(), OutboxError> {
    let due = StepDueV1 { order_id: order.order_id, version: order.version };
    work.schedule(&timer_key(order.order_id), at, &due).await?;
    Ok(())
}

/// Every order's step timer is keyed `saga:<order id>`.
pub const TIMER_PREFIX: &str = "saga:";

pub fn timer_key(order_id: Uuid) -> String {
    format!("{TIMER_PREFIX}{order_id}")
}

pub fn customer(order: &Order) -> Customer {
    Customer { customer_id: order.customer_id.clone(), email: order.contact_email.clone() }
}

fn money(order: &Order, amount_minor: i64) -> Money {
    Money { amount_minor, currency: order.currency.clone() }
}

/// Sends `command` for the order. The card number leaves with the authorization and is not
/// kept.
pub async fn send(work: &mut UnitOfWork, order: &mut Order, command: Command) -> Result<(), HandlerError> {
    let order_id = order.order_id;
    match command {
        Command::ReserveStock => {
            let lines = order.lines.iter().map(|l| StockLine { sku: l.sku.clone(), quantity: l.quantity }).collect();
            work.send(&ReserveStockV1 { order_id, lines }).await?
        }
        Command::AuthorizePayment => {
            let payment_method = order
                .payment_method
                .take()
                .ok_or_else(|| HandlerError::Permanent(format!("order {order_id}: no card to authorize")))?;
            let amount = money(order, order.total_minor);
            work.send(&AuthorizePaymentV1 { order_id, customer_id: order.customer_id.clone(), amount, payment_method })
                .await?
        }
        Command::CommitStock => work.send(&CommitStockV1 { order_id }).await?,
        Command::CapturePayment => work.send(&CapturePaymentV1 { order_id }).await?,
        Command::ReleaseStock => work.send(&ReleaseStockV1 { order_id }).await?,
        Command::CancelPayment => work.send(&CancelPaymentV1 { order_id }).await?,
        Command::CancelShipment => work.send(&CancelShipmentV1 { order_id }).await?,
    };
    Ok(())
}

async fn publish(work: &mut UnitOfWork, order: &Order, event: Publish) -> Result<(), OutboxError> {
    let order_id = order.order_id;
    match event {
        Publish::Confirmed => {
            let confirmed = OrderConfirmedV1 {
                order_id,
                customer: customer(order),
                lines: order.lines.clone(),
                total: money(order, order.total_minor),
                ship_to: order.ship_to.clone(),
            };
            work.publish(&confirmed).await?
        }
        Publish::Shipped => {
            let shipped = OrderShippedV1 {
                order_id,
                customer: customer(order),
                carrier: order.carrier.clone().unwrap_or_default(),
                tracking_number: order.tracking_number.clone().unwrap_or_default(),
            };
            work.publish(&shipped).await?
        }
        Publish::Rejected(reason) => {
            let rejected = OrderRejectedV1 { order_id, customer: customer(order), reason: reason.as_str().to_owned() };
            work.publish(&rejected).await?
        }
        Publish::Cancelled => {
            let refunded = money(order, order.refunded_minor);
            work.publish(&OrderCancelledV1 { order_id, customer: customer(order), refunded }).await?
        }
    };
    Ok(())
}
