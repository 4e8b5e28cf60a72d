//! The saga's inputs from the bus: the replies of inventory, payments and shipping, shipping's
//! progress, and the saga's own step timers. Each becomes one step of the order's saga.

use std::sync::Arc;

use flotilla_contracts::inventory::{
    ReservationExpiredV1, ReservationLapsedV1, StockCommittedV1, StockReleasedV1, StockReservedV1, StockUnavailableV1,
};
use flotilla_contracts::payments::{
    PaymentAuthorizedV1, PaymentCancelledV1, PaymentCaptureFailedV1, PaymentCapturedV1, PaymentDeclinedV1,
    PaymentFailedV1,
};
use flotilla_contracts::shipping::{
    ShipmentCancelledV1, ShipmentNotCancellableV1, ShipmentStatus, ShipmentStatusChangedV1,
};
use flotilla_messaging::{Consumer, Envelope, HandlerError, UnitOfWork};
use uuid::Uuid;

use crate::domain::saga::Input;
use crate::saga::{self, Facts, StepDueV1, Timeouts};

pub fn checkout(timeouts: Arc<Timeouts>) -> Consumer {
    let t = || Arc::clone(&timeouts);
    Consumer::new(crate::SERVICE.name, "checkout")
        .on_with(t(), async |t: &Timeouts, m: StockReservedV1, _: &Envelope, w: &mut UnitOfWork| {
            step(*t, w, m.order_id, Input::StockReserved, Facts::default()).await
        })
        .on_with(t(), stock_unavailable)
        .on_with(t(), async |t: &Timeouts, m: StockCommittedV1, _: &Envelope, w: &mut UnitOfWork| {
            step(*t, w, m.order_id, Input::StockCommitted, Facts::default()).await
        })
        .on_with(t(), async |t: &Timeouts, m: ReservationLapsedV1, _: &Envelope, w: &mut UnitOfWork| {
            step(*t, w, m.order_id, Input::ReservationLapsed, Facts::default()).await
        })
        .on_with(t(), async |t: &Timeouts, m: StockReleasedV1, _: &Envelope, w: &mut UnitOfWork| {
            step(*t, w, m.order_id, Input::StockReleased, Facts::default()).await
        })
        .on(reservation_expired)
        .on_with(t(), async |t: &Timeouts, m: PaymentAuthorizedV1, _: &Envelope, w: &mut UnitOfWork| {
            step(*t, w, m.order_id, Input::PaymentAuthorized, Facts::default()).await
        })
        .on_with(t(), async |t: &Timeouts, m: PaymentDeclinedV1, _: &Envelope, w: &mut UnitOfWork| {
            step(*t, w, m.order_id, Input::PaymentDeclined, Facts { detail: Some(m.code), ..Facts::default() }).await
        })
        .on_with(t(), async |t: &Timeouts, m: PaymentFailedV1, _: &Envelope, w: &mut UnitOfWork| {
            step(*t, w, m.order_id, Input::PaymentFailed, Facts { detail: Some(m.reason), ..Facts::default() }).await
        })
        .on_with(t(), async |t: &Timeouts, m: PaymentCapturedV1, _: &Envelope, w: &mut UnitOfWork| {
            let facts = Facts { captured_minor: Some(m.amount.amount_minor), ..Facts::default() };
            step(*t, w, m.order_id, Input::PaymentCaptured, facts).await
        })
        .on_with(t(), async |t: &Timeouts, m: PaymentCaptureFailedV1, _: &Envelope, w: &mut UnitOfWork| {
            step(*t, w, m.order_id, Input::PaymentCaptureFailed, Facts { detail: Some(m.reason), ..Facts::default() })
                .await
        })
        .on_with(t(), async |t: &Timeouts, m: PaymentCancelledV1, _: &Envelope, w: &mut UnitOfWork| {
            let facts =
                Facts { refunded_minor: Some(m.refunded.amount_minor), detail: Some(m.outcome), ..Facts::default() };
            step(*t, w, m.order_id, Input::PaymentCancelled, facts).await
        })
        .on_with(t(), shipment_status_changed)
        .on_with(t(), async |t: &Timeouts, m: ShipmentCancelledV1, _: &Envelope, w: &mut UnitOfWork| {
            step(*t, w, m.order_id, Input::ShipmentCancelled, Facts::default()).await
        })
        .on_with(t(), async |t: &Timeouts, m: ShipmentNotCancellableV1, _: &Envelope, w: &mut UnitOfWork| {
            step(*t, w, m.order_id, Input::ShipmentNotCancellable, Facts::default()).await
        })
        .on_with(t(), step_due)
}

async fn step(
    timeouts: Timeouts,
    work: &mut UnitOfWork,
    order_id: Uuid,
    input: Input,
    facts: Facts,
) -> Result<(), HandlerError> {
    saga::advance(work, timeouts, order_id, input, facts).await?;
    Ok(())
}

async fn stock_unavailable(
    timeouts: &Timeouts,
    reply: StockUnavailableV1,
    _envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    let short: Vec<String> =
        reply.shortages.iter().map(|s| format!("{} ({} of {})", s.sku, s.available, s.requested)).collect();
    let detail = (!short.is_empty()).then(|| format!("short: {}", short.join(", ")));
    step(*timeouts, work, reply.order_id, Input::StockUnavailable, Facts { detail, ..Facts::default() }).await
}

/// The saga needs no word of a lapsed hold: the hold outlives every step's timeout, and the
/// commit that would need it is answered `reservation-lapsed` anyway.
async fn reservation_expired(
    event: ReservationExpiredV1,
    _envelope: &Envelope,
    _work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    tracing::info!(order_id = %event.order_id, "an order's stock hold lapsed");
    Ok(())
}

async fn shipment_status_changed(
    timeouts: &Timeouts,
    event: ShipmentStatusChangedV1,
    _envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    let dispatched = matches!(
        event.status,
        ShipmentStatus::Dispatched
            | ShipmentStatus::InTransit
            | ShipmentStatus::OutForDelivery
            | ShipmentStatus::Delivered
    );
    if !dispatched {
        return Ok(());
    }
    let facts =
        Facts { carrier: Some(event.carrier), tracking_number: Some(event.tracking_number), ..Facts::default() };
    step(*timeouts, work, event.order_id, Input::ShipmentDispatched, facts).await
}

async fn step_due(
    timeouts: &Timeouts,
    due: StepDueV1,
    _envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    let Some(order) = crate::store::order(work, due.order_id).await? else { return Ok(()) };
    // Set for a step the saga has left: the step's answer came first.
    if order.version != due.version {
        return Ok(());
    }
    step(*timeouts, work, due.order_id, Input::TimedOut, Facts::default()).await
}
