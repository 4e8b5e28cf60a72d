//! Every way the saga compensates: what it undoes, in what order, and that an order ends only
//! when every undo is answered.

use flotilla_contracts::Message;
use flotilla_contracts::Money;
use flotilla_contracts::inventory::{
    CommitStockV1, ReleaseStockV1, ReservationLapsedV1, ReserveStockV1, Shortage, StockCommittedV1, StockReleasedV1,
    StockReservedV1, StockUnavailableV1,
};
use flotilla_contracts::ordering::{OrderCancelledV1, OrderPlacedV1, OrderRejectedV1};
use flotilla_contracts::payments::{
    AuthorizePaymentV1, CancelPaymentV1, CapturePaymentV1, PaymentAuthorizedV1, PaymentCancelledV1, PaymentCapturedV1,
    PaymentDeclinedV1,
};
use flotilla_contracts::shipping::{CancelShipmentV1, ShipmentCancelledV1, ShipmentNotCancellableV1, ShipmentStatus};
use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

on_both_backends!(
    no_stock_rejects,
    a_declined_payment_releases_the_stock_then_rejects,
    a_step_that_times_out_is_undone,
    a_lapsed_reservation_voids_the_payment,
    a_cancellation_before_confirmation_undoes_both,
    a_cancellation_after_confirmation_stops_the_shipment_then_refunds,
    a_cancellation_after_dispatch_is_refused,
);

fn eur(amount_minor: i64) -> Money {
    Money { amount_minor, currency: "EUR".into() }
}

fn reserved(order_id: Uuid) -> StockReservedV1 {
    StockReservedV1 { order_id, expires_at: "2030-01-01T00:00:00Z".into() }
}

/// Drives an accepted order to the authorization; returns the authorize command.
async fn to_authorizing(world: &mut World, order_id: Uuid) -> flotilla_messaging::Envelope {
    let (_, reserve) = world.next::<ReserveStockV1>().await;
    world.services.reply("inventory", &reserve, &reserved(order_id)).await;
    world.next::<AuthorizePaymentV1>().await.1
}

/// Drives an accepted order to confirmed.
async fn to_confirmed(world: &mut World, order_id: Uuid) {
    let authorize = to_authorizing(world, order_id).await;
    world
        .services
        .reply("payments", &authorize, &PaymentAuthorizedV1 { order_id, payment_id: Uuid::now_v7(), amount: eur(8248) })
        .await;
    let (_, commit) = world.next::<CommitStockV1>().await;
    world.services.reply("inventory", &commit, &StockCommittedV1 { order_id }).await;
    let (_, capture) = world.next::<CapturePaymentV1>().await;
    world.services.reply("payments", &capture, &PaymentCapturedV1 { order_id, amount: eur(8248) }).await;
    world.status_becomes(order_id, "confirmed").await;
}

/// Answers both undos (in whatever order they were sent) and checks nothing else was sent.
async fn answer_undos(world: &mut World, order_id: Uuid, refunded: i64) {
    let mut undos = world.next_n(2).await;
    undos.sort_by(|a, b| a.message_type.cmp(&b.message_type));
    assert_eq!(
        undos.iter().map(|e| e.message_type.as_str()).collect::<Vec<_>>(),
        [ReleaseStockV1::TYPE, CancelPaymentV1::TYPE]
    );
    world.services.reply("inventory", &undos[0], &StockReleasedV1 { order_id }).await;
    let outcome = if refunded > 0 { "refunded" } else { "voided" };
    let cancelled = PaymentCancelledV1 { order_id, outcome: outcome.into(), refunded: eur(refunded) };
    world.services.reply("payments", &undos[1], &cancelled).await;
}

async fn no_stock_rejects(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order_id = world.checkout(APPROVE).await;
    let (_, reserve) = world.next::<ReserveStockV1>().await;
    let shortages = vec![Shortage { sku: "KIT-0001".into(), requested: 2, available: 1 }];
    world.services.reply("inventory", &reserve, &StockUnavailableV1 { order_id, shortages }).await;
    world.events.expect::<OrderPlacedV1>().await;
    assert_eq!(world.events.expect::<OrderRejectedV1>().await.reason, "out-of-stock");
    let order = world.status_becomes(order_id, "rejected").await;
    assert_eq!(order["reason"], "out-of-stock");
    assert_eq!(order["timeline"][1]["detail"], "short: KIT-0001 (1 of 2)");
    world.settled().await;
    world.services.expect_silence(std::time::Duration::from_millis(200)).await;
    world.stop().await;
}

async fn a_declined_payment_releases_the_stock_then_rejects(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order_id = world.checkout(APPROVE).await;
    let authorize = to_authorizing(&mut world, order_id).await;
    world.services.reply("payments", &authorize, &PaymentDeclinedV1 { order_id, code: "card_declined".into() }).await;
    let (_, release) = world.next::<ReleaseStockV1>().await;
    world.settled().await;
    assert_eq!(world.order(order_id).await["status"], "stock_reserved", "not rejected before the stock is back");
    world.services.reply("inventory", &release, &StockReleasedV1 { order_id }).await;
    let order = world.status_becomes(order_id, "rejected").await;
    assert_eq!(order["reason"], "payment-declined");
    world.stop().await;
}

async fn a_step_that_times_out_is_undone(backend: Backend) {
    let settings = [("services.ordering.step_timeout_ms", json!(300)), ("services.ordering.undo_retry_ms", json!(300))];
    let mut world = world(backend, &settings).await;
    let order_id = world.checkout(APPROVE).await;
    let authorize = to_authorizing(&mut world, order_id).await;
    // Payments never answers in time: both the payment and the stock are undone.
    let mut undos = world.next_n(2).await;
    // Unanswered, the undos are sent again.
    undos.extend(world.next_n(2).await);
    assert!(undos.iter().all(|e| [ReleaseStockV1::TYPE, CancelPaymentV1::TYPE].contains(&e.message_type.as_str())));
    // The late authorization changes nothing; the undos' answers end the order.
    world
        .services
        .reply("payments", &authorize, &PaymentAuthorizedV1 { order_id, payment_id: Uuid::now_v7(), amount: eur(8248) })
        .await;
    let release = undos.iter().find(|e| e.message_type == ReleaseStockV1::TYPE).unwrap();
    let cancel = undos.iter().find(|e| e.message_type == CancelPaymentV1::TYPE).unwrap();
    world.services.reply("inventory", release, &StockReleasedV1 { order_id }).await;
    world
        .services
        .reply("payments", cancel, &PaymentCancelledV1 { order_id, outcome: "voided".into(), refunded: eur(0) })
        .await;
    let order = world.status_becomes(order_id, "rejected").await;
    assert_eq!(order["reason"], "timed-out");
    world.stop().await;
}

async fn a_lapsed_reservation_voids_the_payment(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order_id = world.checkout(APPROVE).await;
    let authorize = to_authorizing(&mut world, order_id).await;
    world
        .services
        .reply("payments", &authorize, &PaymentAuthorizedV1 { order_id, payment_id: Uuid::now_v7(), amount: eur(8248) })
        .await;
    let (_, commit) = world.next::<CommitStockV1>().await;
    world.services.reply("inventory", &commit, &ReservationLapsedV1 { order_id }).await;
    let (_, cancel) = world.next::<CancelPaymentV1>().await;
    world
        .services
        .reply("payments", &cancel, &PaymentCancelledV1 { order_id, outcome: "voided".into(), refunded: eur(0) })
        .await;
    assert_eq!(world.status_becomes(order_id, "rejected").await["reason"], "timed-out");
    world.stop().await;
}

async fn a_cancellation_before_confirmation_undoes_both(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order_id = world.checkout(APPROVE).await;
    to_authorizing(&mut world, order_id).await;
    let cancel = world.customer.post(world.app.url(&format!("{ORDERS}/{order_id}/cancel"))).send().await.unwrap();
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let again = world.customer.post(world.app.url(&format!("{ORDERS}/{order_id}/cancel"))).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::ACCEPTED, "asking again while it is cancelled is answered the same");
    answer_undos(&mut world, order_id, 0).await;
    world.events.expect::<OrderPlacedV1>().await;
    assert_eq!(world.events.expect::<OrderCancelledV1>().await.refunded, eur(0));
    world.status_becomes(order_id, "cancelled").await;
    world.settled().await;
    world.services.expect_silence(std::time::Duration::from_millis(200)).await;
    world.stop().await;
}

async fn a_cancellation_after_confirmation_stops_the_shipment_then_refunds(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order_id = world.checkout(APPROVE).await;
    to_confirmed(&mut world, order_id).await;
    let cancel = world.customer.post(world.app.url(&format!("{ORDERS}/{order_id}/cancel"))).send().await.unwrap();
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let (_, stop) = world.next::<CancelShipmentV1>().await;
    world.services.reply("shipping", &stop, &ShipmentCancelledV1 { order_id }).await;
    answer_undos(&mut world, order_id, 8248).await;
    let order = world.status_becomes(order_id, "cancelled").await;
    assert_eq!(
        (order["captured"]["amount_minor"].as_i64(), order["refunded"]["amount_minor"].as_i64()),
        (Some(8248), Some(8248))
    );
    world.stop().await;
}

async fn a_cancellation_after_dispatch_is_refused(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order_id = world.checkout(APPROVE).await;
    to_confirmed(&mut world, order_id).await;
    let cancel_url = world.app.url(&format!("{ORDERS}/{order_id}/cancel"));
    world.customer.post(&cancel_url).send().await.unwrap();
    let (_, stop) = world.next::<CancelShipmentV1>().await;
    let too_late = ShipmentNotCancellableV1 { order_id, status: ShipmentStatus::Dispatched };
    world.services.reply("shipping", &stop, &too_late).await;
    world.status_becomes(order_id, "shipped").await;
    let refused = world.customer.post(&cancel_url).send().await.unwrap();
    expect_problem(refused, StatusCode::CONFLICT, "conflict").await;
    world.settled().await;
    world.services.expect_silence(std::time::Duration::from_millis(200)).await;
    world.stop().await;
}
