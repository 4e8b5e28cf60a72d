//! Message handlers. Each runs in a unit of work that already holds the inbox record of its
//! message: what it writes and emits commits with that record, or not at all.
//!
//! Every command is answered from the order's reservation as it stands, so one sent twice, late,
//! or after another that overtook it, changes nothing and gets the answer the state gives.

use std::sync::Arc;

use flotilla_chassis::db::timestamp;
use flotilla_contracts::catalog::{ProductCreatedV1, ProductDeletedV1};
use flotilla_contracts::inventory::{
    CommitStockV1, ReleaseStockV1, ReservationExpiredV1, ReservationLapsedV1, ReserveStockV1, Shortage,
    StockCommittedV1, StockReleasedV1, StockReservedV1, StockUnavailableV1,
};
use flotilla_messaging::{Consumer, Envelope, HandlerError, UnitOfWork};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Settings;
use crate::domain::reservation::{self, Line, OnCommit, OnRelease, OnReserve, State};
use crate::events::{HoldDueV1, hold_timer};
use crate::store::{self, Move, Reservation};

pub fn reservations(settings: Arc<Settings>) -> Consumer {
    Consumer::new(crate::SERVICE.name, "reservations").on_with(settings, reserve).on(commit).on(release).on(hold_due)
}

pub fn catalog_products(settings: Arc<Settings>) -> Consumer {
    Consumer::new(crate::SERVICE.name, "catalog-products").on_with(settings, product_created).on(product_deleted)
}

async fn reserve(
    settings: &Settings,
    command: ReserveStockV1,
    envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    let order_id = command.order_id;
    let existing = store::reservation(work, order_id).await?;
    match reservation::on_reserve(existing.as_ref().map(|r| r.state)) {
        OnReserve::AnswerReserved => {
            let expires_at = existing.and_then(|r| r.expires_at).map(timestamp).unwrap_or_default();
            work.reply(envelope, &StockReservedV1 { order_id, expires_at }).await?;
        }
        OnReserve::AnswerRefused => {
            let shortages = existing.and_then(|r| r.shortages).map(|json| serde_json::from_str(&json)).transpose();
            let shortages = shortages.map_err(|e| HandlerError::Permanent(format!("stored shortages: {e}")))?;
            work.reply(envelope, &StockUnavailableV1 { order_id, shortages: shortages.unwrap_or_default() }).await?;
        }
        OnReserve::AnswerGone => {
            work.reply(envelope, &StockUnavailableV1 { order_id, shortages: Vec::new() }).await?;
        }
        OnReserve::Try => {
            let requested = command.lines.into_iter().map(|line| (line.sku, line.quantity));
            let lines = reservation::lines(requested, settings.max_lines, settings.max_units_per_line)
                .map_err(|e| HandlerError::Permanent(e.to_string()))?;
            let now = OffsetDateTime::now_utc();
            if hold_all(work, &lines, now).await? {
                let expires_at = now + settings.hold();
                let held = Reservation {
                    state: State::Held,
                    expires_at: Some(expires_at),
                    ..new_reservation(order_id, lines, now)
                };
                store::insert_reservation(work, &held).await?;
                work.schedule(&hold_timer(order_id), expires_at, &HoldDueV1 { order_id }).await?;
                work.reply(envelope, &StockReservedV1 { order_id, expires_at: timestamp(expires_at) }).await?;
            } else {
                let shortages = shortages(work, &lines).await?;
                let json = serde_json::to_string(&shortages).map_err(|e| HandlerError::Permanent(e.to_string()))?;
                let refused = Reservation { shortages: Some(json), ..new_reservation(order_id, lines, now) };
                store::insert_reservation(work, &refused).await?;
                work.reply(envelope, &StockUnavailableV1 { order_id, shortages }).await?;
            }
        }
    }
    Ok(())
}

fn new_reservation(order_id: Uuid, lines: Vec<Line>, now: OffsetDateTime) -> Reservation {
    Reservation {
        order_id,
        state: State::Refused,
        expires_at: None,
        shortages: None,
        lines,
        created_at: now,
        updated_at: now,
    }
}

/// Holds every line or none: a line that is not free undoes the ones held before it, inside
/// the same transaction (which also holds the inbox record, so it cannot simply roll back).
async fn hold_all(work: &mut UnitOfWork, lines: &[Line], now: OffsetDateTime) -> Result<bool, HandlerError> {
    for (index, line) in lines.iter().enumerate() {
        if !store::move_units(work, line, Move::Hold, now).await? {
            for held in &lines[..index] {
                move_or_fail(work, held, Move::Release, now).await?;
            }
            return Ok(false);
        }
    }
    Ok(true)
}

/// The lines that are short, as the free counts stand now (under the locks this transaction took).
async fn shortages(work: &mut UnitOfWork, lines: &[Line]) -> Result<Vec<Shortage>, HandlerError> {
    let mut shortages = Vec::new();
    for line in lines {
        let free = store::free_units(work, &line.sku).await?;
        if free < i64::from(line.quantity) {
            let available = u32::try_from(free).unwrap_or(u32::MAX);
            shortages.push(Shortage { sku: line.sku.clone(), requested: line.quantity, available });
        }
    }
    if shortages.is_empty() {
        // The short SKU's units were freed between the attempt and the count: try again.
        return Err(HandlerError::Transient("stock changed while reserving".into()));
    }
    Ok(shortages)
}

/// Moves units the reservation's own counts say are there; if they are not, the counts are
/// broken, and the message must wait for a person (a dead letter), not be retried.
async fn move_or_fail(work: &mut UnitOfWork, line: &Line, how: Move, now: OffsetDateTime) -> Result<(), HandlerError> {
    if store::move_units(work, line, how, now).await? {
        return Ok(());
    }
    Err(HandlerError::Permanent(format!(
        "SKU {}: the counts do not hold the {} units to {how:?}",
        line.sku, line.quantity
    )))
}

async fn move_lines(work: &mut UnitOfWork, lines: &[Line], how: Move, now: OffsetDateTime) -> Result<(), HandlerError> {
    for line in lines {
        move_or_fail(work, line, how, now).await?;
    }
    Ok(())
}

async fn commit(command: CommitStockV1, envelope: &Envelope, work: &mut UnitOfWork) -> Result<(), HandlerError> {
    let order_id = command.order_id;
    let existing = store::reservation(work, order_id).await?;
    match reservation::on_commit(existing.as_ref().map(|r| r.state)) {
        OnCommit::Commit => {
            let now = OffsetDateTime::now_utc();
            move_lines(work, &existing.map(|r| r.lines).unwrap_or_default(), Move::Sell, now).await?;
            store::set_state(work, order_id, State::Committed, now).await?;
            work.cancel(&hold_timer(order_id)).await?;
            work.reply(envelope, &StockCommittedV1 { order_id }).await?;
        }
        OnCommit::AnswerCommitted => {
            work.reply(envelope, &StockCommittedV1 { order_id }).await?;
        }
        OnCommit::AnswerLapsed => {
            work.reply(envelope, &ReservationLapsedV1 { order_id }).await?;
        }
    }
    Ok(())
}

async fn release(command: ReleaseStockV1, envelope: &Envelope, work: &mut UnitOfWork) -> Result<(), HandlerError> {
    let order_id = command.order_id;
    let existing = store::reservation(work, order_id).await?;
    let now = OffsetDateTime::now_utc();
    let give_back = match reservation::on_release(existing.as_ref().map(|r| r.state)) {
        OnRelease::ReleaseHeld => Some(Move::Release),
        OnRelease::ReturnSold => Some(Move::Return),
        OnRelease::RecordRelease => {
            let tombstone = Reservation { state: State::Released, ..new_reservation(order_id, Vec::new(), now) };
            store::insert_reservation(work, &tombstone).await?;
            None
        }
        OnRelease::AnswerReleased => None,
    };
    if let Some(how) = give_back {
        move_lines(work, &existing.map(|r| r.lines).unwrap_or_default(), how, now).await?;
        store::set_state(work, order_id, State::Released, now).await?;
        work.cancel(&hold_timer(order_id)).await?;
    }
    work.reply(envelope, &StockReleasedV1 { order_id }).await?;
    Ok(())
}

async fn hold_due(timer: HoldDueV1, _envelope: &Envelope, work: &mut UnitOfWork) -> Result<(), HandlerError> {
    let order_id = timer.order_id;
    let Some(held) = store::reservation(work, order_id).await? else { return Ok(()) };
    if !reservation::expires(Some(held.state)) {
        return Ok(());
    }
    let now = OffsetDateTime::now_utc();
    move_lines(work, &held.lines, Move::Release, now).await?;
    store::set_state(work, order_id, State::Expired, now).await?;
    work.publish(&ReservationExpiredV1 { order_id }).await?;
    Ok(())
}

async fn product_created(
    settings: &Settings,
    event: ProductCreatedV1,
    _envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    let product = event.product;
    let initial = i64::from(settings.initial_stock.unwrap_or(0));
    store::add_item(work, &product.sku, product.product_id, initial, OffsetDateTime::now_utc()).await?;
    Ok(())
}

async fn product_deleted(
    event: ProductDeletedV1,
    _envelope: &Envelope,
    work: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    store::discontinue(work, event.product_id, OffsetDateTime::now_utc()).await?;
    Ok(())
}
