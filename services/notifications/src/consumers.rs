//! Message handlers. Each runs in a unit of work that already holds the inbox record of its
//! message: the notification it records commits with that record, or not at all. Nothing is sent
//! from here: mail cannot be rolled back, so it leaves only after the commit, from the delivery
//! worker.

use std::sync::Arc;

use flotilla_contracts::ordering::{OrderCancelledV1, OrderConfirmedV1, OrderRejectedV1, OrderShippedV1};
use flotilla_messaging::{Consumer, Envelope, HandlerError, UnitOfWork};
use time::OffsetDateTime;
use tokio::sync::Notify;

use crate::domain::notification::{self, Draft};
use crate::store;

/// What recording needs: the domain of the mails' Message-IDs, and the delivery worker's bell.
#[derive(Debug)]
pub struct Recording {
    pub domain: String,
    pub wake: Arc<Notify>,
}

/// `notifications.orders`: the ordering milestones a customer hears about.
pub fn orders(recording: Arc<Recording>) -> Consumer {
    Consumer::new(crate::SERVICE.name, "orders")
        .on_with(Arc::clone(&recording), confirmed)
        .on_with(Arc::clone(&recording), rejected)
        .on_with(Arc::clone(&recording), cancelled)
        .on_with(recording, shipped)
}

async fn confirmed(
    recording: &Recording,
    event: OrderConfirmedV1,
    _envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    record(recording, work, notification::confirmed(&event)).await
}

async fn rejected(
    recording: &Recording,
    event: OrderRejectedV1,
    _envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    record(recording, work, notification::rejected(&event)).await
}

async fn cancelled(
    recording: &Recording,
    event: OrderCancelledV1,
    _envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    record(recording, work, notification::cancelled(&event)).await
}

async fn shipped(
    recording: &Recording,
    event: OrderShippedV1,
    _envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    record(recording, work, notification::shipped(&event)).await
}

/// Records the notification unless the order already has one for this milestone (the event sent
/// again in a new envelope), and wakes the worker once it is committed.
async fn record(recording: &Recording, work: &mut UnitOfWork, draft: Draft) -> Result<(), HandlerError> {
    let message_id = notification::message_id(draft.order_id, draft.milestone, &recording.domain);
    if store::insert(work, &draft, &message_id, OffsetDateTime::now_utc()).await? {
        work.wake_after_commit(&recording.wake);
    } else {
        tracing::debug!(order_id = %draft.order_id, milestone = draft.milestone.as_str(), "already recorded");
    }
    Ok(())
}
