//! Message handlers. Each runs in a unit of work that already holds the inbox record of its
//! message: what it writes and emits commits with that record, or not at all.
//!
//! Every message is applied to what is recorded for its order as it stands, so one delivered
//! twice, late, or after another that overtook it changes nothing. Where two messages about one
//! order are handled at once, the conditional write of the second fails and it is retried
//! (a transient error) against the state the first left.

use std::sync::Arc;

use flotilla_contracts::ordering::OrderConfirmedV1;
use flotilla_contracts::shipping::{CancelShipmentV1, ShipmentCancelledV1, ShipmentNotCancellableV1};
use flotilla_messaging::{Consumer, Envelope, HandlerError, UnitOfWork};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Settings;
use crate::domain::shipment::{self, OnCancel, OnConfirmed, Status};
use crate::domain::tracking;
use crate::events::{self, CarrierStepDueV1, carrier_timer};
use crate::store::{self, Record, ShipTo, Shipment};

/// Tracking numbers tried before giving up for now. With eight serial digits a clash is rare (one
/// chance in 10^8 for each shipment there is); several in a row mean something else is wrong.
const TRACKING_ATTEMPTS: usize = 8;

pub fn orders(settings: Arc<Settings>) -> Consumer {
    Consumer::new(crate::SERVICE.name, "orders").on_with(settings, order_confirmed)
}

pub fn cancellations() -> Consumer {
    Consumer::new(crate::SERVICE.name, "cancellations").on(cancel_shipment)
}

pub fn carrier(settings: Arc<Settings>) -> Consumer {
    Consumer::new(crate::SERVICE.name, "carrier").on_with(settings, carrier_step)
}

/// A confirmed order gets its shipment, labelled, and the carrier is told when to collect it.
async fn order_confirmed(
    settings: &Settings,
    event: OrderConfirmedV1,
    _envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    let order_id = event.order_id;
    let existing = store::record(work, order_id).await?;
    if shipment::on_confirmed(Record::standing(existing.as_ref())) == OnConfirmed::Ignore {
        return Ok(());
    }
    let now = OffsetDateTime::now_utc();
    let shipment_id = Uuid::now_v7();
    let address = event.ship_to;
    let shipment = Shipment {
        shipment_id,
        order_id,
        status: Status::LabelCreated,
        customer_id: event.customer.customer_id,
        carrier: settings.carrier.name.clone(),
        tracking_number: free_tracking_number(work, shipment_id).await?,
        ship_to: ShipTo {
            name: address.name,
            line1: address.line1,
            line2: address.line2,
            city: address.city,
            postal_code: address.postal_code,
            country: address.country,
        },
        created_at: now,
        updated_at: now,
    };
    if !store::insert_shipment(work, &shipment).await? {
        // A cancellation or a copy of this event was committed since the read: it decides.
        return Err(HandlerError::Transient(format!("order {order_id} changed while its shipment was created")));
    }
    work.publish(&events::status_changed(&shipment, Status::LabelCreated, now)).await?;
    plan_next_step(settings, work, order_id, Status::LabelCreated, now).await
}

/// A tracking number no other shipment has: the first from the shipment's own id, then from
/// fresh ones.
async fn free_tracking_number(work: &mut UnitOfWork, shipment_id: Uuid) -> Result<String, HandlerError> {
    let seeds = std::iter::once(shipment_id).chain(std::iter::repeat_with(Uuid::now_v7));
    for seed in seeds.take(TRACKING_ATTEMPTS) {
        let candidate = tracking::number(seed);
        if !store::tracking_number_taken(work, &candidate).await? {
            return Ok(candidate);
        }
    }
    Err(HandlerError::Transient(format!("no free tracking number in {TRACKING_ATTEMPTS} attempts")))
}

/// Sets the carrier's timer for the step after `current`, unless the walk is over.
async fn plan_next_step(
    settings: &Settings,
    work: &mut UnitOfWork,
    order_id: Uuid,
    current: Status,
    now: OffsetDateTime,
) -> Result<(), HandlerError> {
    let Some((_, delay)) = settings.carrier().next_step(current) else { return Ok(()) };
    let due = time::Duration::try_from(delay)
        .ok()
        .and_then(|delay| now.checked_add(delay))
        .ok_or_else(|| HandlerError::Permanent(format!("the carrier's delay {delay:?} is out of range")))?;
    let timer = CarrierStepDueV1 { order_id, from: events::to_contract(current) };
    work.schedule(&carrier_timer(order_id), due, &timer).await?;
    Ok(())
}

/// The carrier takes the shipment's next step, and plans the one after.
async fn carrier_step(
    settings: &Settings,
    timer: CarrierStepDueV1,
    _envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    let order_id = timer.order_id;
    let from = events::from_contract(timer.from);
    let Some(shipment) = store::record(work, order_id).await?.and_then(Record::into_shipment) else {
        return Ok(());
    };
    // Stale: a cancellation (or an earlier copy of this step) moved the shipment on.
    let Some(next) = from.next().filter(|_| shipment.status == from) else { return Ok(()) };
    let now = OffsetDateTime::now_utc();
    advance(work, &shipment, next, now).await?;
    work.publish(&events::status_changed(&shipment, next, now)).await?;
    plan_next_step(settings, work, order_id, next, now).await
}

/// Holds the order's parcel back if the carrier does not have it yet, and answers either way.
async fn cancel_shipment(
    command: CancelShipmentV1,
    envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    let order_id = command.order_id;
    let existing = store::record(work, order_id).await?;
    let now = OffsetDateTime::now_utc();
    let changed = |what: &str| HandlerError::Transient(format!("order {order_id} changed while {what}"));
    match shipment::on_cancel(Record::standing(existing.as_ref())) {
        OnCancel::Cancel => {
            let Some(shipment) = existing.and_then(Record::into_shipment) else {
                return Err(changed("its shipment was read"));
            };
            advance(work, &shipment, Status::Cancelled, now).await?;
            work.cancel(&carrier_timer(order_id)).await?;
            work.publish(&events::status_changed(&shipment, Status::Cancelled, now)).await?;
        }
        OnCancel::Bar => {
            if !store::insert_tombstone(work, order_id, now).await? {
                return Err(changed("it was barred from shipping"));
            }
        }
        OnCancel::AnswerCancelled => {}
        OnCancel::AnswerNotCancellable(status) => {
            let status = events::to_contract(status);
            work.reply(envelope, &ShipmentNotCancellableV1 { order_id, status }).await?;
            return Ok(());
        }
    }
    work.reply(envelope, &ShipmentCancelledV1 { order_id }).await?;
    Ok(())
}

/// Moves `shipment` from the status it was read at to `to`. A move the state machine forbids is a
/// broken invariant (a person must look: a dead letter); one that finds the shipment moved since
/// the read is retried against the state now recorded.
async fn advance(
    work: &mut UnitOfWork,
    shipment: &Shipment,
    to: Status,
    now: OffsetDateTime,
) -> Result<(), HandlerError> {
    let from = shipment.status;
    if !from.can_become(to) {
        return Err(HandlerError::Permanent(format!(
            "shipment {} cannot move from {} to {}",
            shipment.shipment_id,
            from.as_str(),
            to.as_str()
        )));
    }
    if !store::move_status(work, shipment.shipment_id, from, to, now).await? {
        return Err(HandlerError::Transient(format!(
            "shipment {} moved from {} while it was moving to {}",
            shipment.shipment_id,
            from.as_str(),
            to.as_str()
        )));
    }
    Ok(())
}
