//! The saga's forward path, step by step, as the other services answer it; and answers that
//! come twice, late or out of turn, which change nothing.

use std::time::Duration;

use flotilla_contracts::Money;
use flotilla_contracts::inventory::{CommitStockV1, ReserveStockV1, StockCommittedV1, StockReservedV1};
use flotilla_contracts::ordering::{OrderConfirmedV1, OrderPlacedV1, OrderShippedV1};
use flotilla_contracts::payments::{AuthorizePaymentV1, CapturePaymentV1, PaymentAuthorizedV1, PaymentCapturedV1};
use flotilla_contracts::shipping::{ShipmentStatus, ShipmentStatusChangedV1};
use flotilla_testkit::{Backend, on_both_backends};
use uuid::Uuid;

use crate::support::*;

on_both_backends!(an_order_goes_from_checkout_to_shipped, duplicate_and_out_of_turn_replies_change_nothing);

fn eur(amount_minor: i64) -> Money {
    Money { amount_minor, currency: "EUR".into() }
}

async fn an_order_goes_from_checkout_to_shipped(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order_id = world.checkout(APPROVE).await;
    let placed = world.events.expect::<OrderPlacedV1>().await;
    assert_eq!((placed.order_id, placed.total.amount_minor, placed.basket_version), (order_id, 8248, 3));
    assert_eq!(world.order(order_id).await["status"], "pending");

    let (reserve, command) = world.next::<ReserveStockV1>().await;
    assert_eq!(
        reserve.lines.iter().map(|l| (l.sku.as_str(), l.quantity)).collect::<Vec<_>>(),
        [("KIT-0001", 2), ("KIT-0002", 1)]
    );
    world
        .services
        .reply("inventory", &command, &StockReservedV1 { order_id, expires_at: "2030-01-01T00:00:00Z".into() })
        .await;
    let (authorize, command) = world.next::<AuthorizePaymentV1>().await;
    assert_eq!(
        (authorize.amount, authorize.payment_method.as_str(), authorize.customer_id.as_str()),
        (eur(8248), APPROVE, CUSTOMER)
    );
    assert_eq!(world.order(order_id).await["status"], "stock_reserved");
    let payment_id = Uuid::now_v7();
    world.services.reply("payments", &command, &PaymentAuthorizedV1 { order_id, payment_id, amount: eur(8248) }).await;
    let (_, command) = world.next::<CommitStockV1>().await;
    assert_eq!(world.order(order_id).await["status"], "payment_authorized");
    world.services.reply("inventory", &command, &StockCommittedV1 { order_id }).await;
    let (_, command) = world.next::<CapturePaymentV1>().await;
    world.services.reply("payments", &command, &PaymentCapturedV1 { order_id, amount: eur(8248) }).await;

    let confirmed = world.events.expect::<OrderConfirmedV1>().await;
    assert_eq!(
        (confirmed.order_id, confirmed.ship_to.country.as_str(), confirmed.customer.email.as_str()),
        (order_id, "GB", "ada@example.com")
    );
    let order = world.status_becomes(order_id, "confirmed").await;
    assert_eq!(order["captured"]["amount_minor"], 8248);

    let dispatched = ShipmentStatusChangedV1 {
        shipment_id: Uuid::now_v7(),
        order_id,
        status: ShipmentStatus::Dispatched,
        carrier: "Flotilla Post".into(),
        tracking_number: "FP123456785GB".into(),
        at: "2026-12-01T12:00:00Z".into(),
    };
    world.services.send("shipping", &dispatched).await;
    let shipped = world.events.expect::<OrderShippedV1>().await;
    assert_eq!(shipped.tracking_number, "FP123456785GB");
    let order = world.status_becomes(order_id, "shipped").await;
    let steps: Vec<&str> =
        order["timeline"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(
        steps,
        ["pending", "stock_reserved", "payment_authorized", "payment_authorized", "confirmed", "shipped"]
    );
    assert!(order["timeline"].as_array().unwrap().iter().all(|e| e["at"].as_str().is_some_and(|at| at.ends_with('Z'))));
    world.stop().await;
}

async fn duplicate_and_out_of_turn_replies_change_nothing(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order_id = world.checkout(APPROVE).await;
    let (_, reserve) = world.next::<ReserveStockV1>().await;
    // A capture answer before anything was authorized: out of turn.
    world.services.reply("payments", &reserve, &PaymentCapturedV1 { order_id, amount: eur(8248) }).await;
    let reserved = StockReservedV1 { order_id, expires_at: "2030-01-01T00:00:00Z".into() };
    let first = world.services.reply("inventory", &reserve, &reserved).await;
    world.services.resend(&first).await;
    world.services.reply("inventory", &reserve, &reserved).await;
    world.next::<AuthorizePaymentV1>().await;
    world.settled().await;
    world.services.expect_silence(Duration::from_millis(300)).await;
    let order = world.order(order_id).await;
    assert_eq!((order["status"].as_str(), order["timeline"].as_array().unwrap().len()), (Some("stock_reserved"), 2));
    // A reply for an order ordering never took is dropped, not a dead letter.
    world.services.reply("inventory", &reserve, &StockReservedV1 { order_id: Uuid::now_v7(), ..reserved }).await;
    world.settled().await;
    let letters: serde_json::Value =
        world.app.admin.get(world.app.url("/admin/dead-letters")).send().await.unwrap().json().await.unwrap();
    assert_eq!(letters, serde_json::json!([]));
    world.stop().await;
}
