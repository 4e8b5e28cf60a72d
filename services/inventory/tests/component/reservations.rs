//! Reservations on the bus, as the checkout saga uses them: every command is answered to its
//! sender from the order's reservation, so resends, late arrivals and overtaking change nothing,
//! and the counts stay conserved after each case.

use std::time::Duration;

use flotilla_contracts::inventory::{
    CommitStockV1, ReleaseStockV1, ReservationExpiredV1, ReservationLapsedV1, ReserveStockV1, Shortage,
    StockCommittedV1, StockLine, StockReleasedV1, StockReservedV1, StockUnavailableV1,
};
use flotilla_testkit::{Backend, on_both_backends};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

on_both_backends!(
    a_reservation_is_held_committed_and_returned,
    a_shortage_holds_nothing,
    a_resent_reserve_holds_once,
    a_release_that_overtakes_its_reserve_bars_it,
    an_unclaimed_hold_expires,
    concurrent_orders_for_the_last_units,
    a_malformed_command_is_a_dead_letter,
);

fn reserve(order_id: Uuid, lines: &[(&str, u32)]) -> ReserveStockV1 {
    ReserveStockV1 {
        order_id,
        lines: lines.iter().map(|(sku, quantity)| StockLine { sku: (*sku).into(), quantity: *quantity }).collect(),
    }
}

async fn a_reservation_is_held_committed_and_returned(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let mut ordering = ordering(&app).await;
    for sku in ["A-1", "B-1"] {
        stocked(&app, &ordering, sku).await;
        receive(&app, sku, 10).await;
    }
    let order = Uuid::now_v7();
    let command = ordering.send("ordering", &reserve(order, &[("B-1", 1), ("A-1", 2), ("A-1", 1)])).await;
    let reply = ordering.receive(1).await.remove(0);
    assert_eq!(reply.causation_id, Some(command.id.to_string()), "correlated to the command");
    assert_eq!(reply.decode::<StockReservedV1>().unwrap().order_id, order);
    assert_eq!(counts(&app, "A-1").await, (7, 3, 0, 10), "repeated SKUs are added together");
    assert_eq!(reservation_state(&app, order).await, "held");

    ordering.send("ordering", &CommitStockV1 { order_id: order }).await;
    ordering.expect::<StockCommittedV1>().await;
    assert_eq!(counts(&app, "A-1").await, (7, 0, 3, 10));
    ordering.send("ordering", &CommitStockV1 { order_id: order }).await;
    ordering.expect::<StockCommittedV1>().await;
    assert_eq!(counts(&app, "A-1").await, (7, 0, 3, 10), "committing twice sells once");
    assert_conserved(&app).await;

    // A cancellation after payment gives the sold units back to stock.
    ordering.send("ordering", &ReleaseStockV1 { order_id: order }).await;
    ordering.expect::<StockReleasedV1>().await;
    assert_eq!(counts(&app, "A-1").await, (10, 0, 0, 10));
    assert_eq!(counts(&app, "B-1").await, (10, 0, 0, 10));
    ordering.send("ordering", &CommitStockV1 { order_id: order }).await;
    ordering.expect::<ReservationLapsedV1>().await;
    assert_conserved(&app).await;
    app.stop().await;
}

async fn a_shortage_holds_nothing(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let mut ordering = ordering(&app).await;
    for (sku, units) in [("A-2", 5), ("B-2", 1)] {
        stocked(&app, &ordering, sku).await;
        receive(&app, sku, units).await;
    }
    stocked(&app, &ordering, "C-2").await;
    // A-2 is held first, then B-2 and C-2 fall short: A-2's hold must be undone.
    let order = Uuid::now_v7();
    ordering.send("ordering", &reserve(order, &[("A-2", 2), ("B-2", 2), ("C-2", 1), ("Z-UNKNOWN", 1)])).await;
    let refused = ordering.expect::<StockUnavailableV1>().await;
    let short = |sku: &str, requested, available| Shortage { sku: sku.into(), requested, available };
    assert_eq!(refused.shortages, vec![short("B-2", 2, 1), short("C-2", 1, 0), short("Z-UNKNOWN", 1, 0)]);
    assert_eq!(counts(&app, "A-2").await, (5, 0, 0, 5), "nothing stays held");
    assert_eq!(reservation_state(&app, order).await, "refused");
    // Asked again (a saga's retry), it is answered the same, even though stock arrived since.
    receive(&app, "B-2", 5).await;
    ordering.send("ordering", &reserve(order, &[("A-2", 2), ("B-2", 2)])).await;
    assert_eq!(ordering.expect::<StockUnavailableV1>().await, refused);
    assert_conserved(&app).await;
    app.stop().await;
}

async fn a_resent_reserve_holds_once(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let mut ordering = ordering(&app).await;
    stocked(&app, &ordering, "A-3").await;
    receive(&app, "A-3", 4).await;
    let order = Uuid::now_v7();
    let first = ordering.send("ordering", &reserve(order, &[("A-3", 2)])).await;
    ordering.resend(&first).await;
    let resent = ordering.send("ordering", &reserve(order, &[("A-3", 2)])).await;
    let reserved = ordering.expect::<StockReservedV1>().await;
    assert_eq!(ordering.expect::<StockReservedV1>().await, reserved, "the new command gets the same answer");
    assert_ne!(resent.id, first.id);
    ordering.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(counts(&app, "A-3").await, (2, 2, 0, 4), "held once");
    assert_conserved(&app).await;
    app.stop().await;
}

async fn a_release_that_overtakes_its_reserve_bars_it(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let mut ordering = ordering(&app).await;
    stocked(&app, &ordering, "A-4").await;
    receive(&app, "A-4", 4).await;
    let order = Uuid::now_v7();
    ordering.send("ordering", &ReleaseStockV1 { order_id: order }).await;
    ordering.expect::<StockReleasedV1>().await;
    ordering.send("ordering", &reserve(order, &[("A-4", 1)])).await;
    let late = ordering.expect::<StockUnavailableV1>().await;
    assert!(late.shortages.is_empty(), "{late:?}");
    assert_eq!(counts(&app, "A-4").await, (4, 0, 0, 4), "the late reservation holds nothing");
    assert_eq!(reservation_state(&app, order).await, "released");
    assert_conserved(&app).await;
    app.stop().await;
}

async fn an_unclaimed_hold_expires(backend: Backend) {
    let (app, _nats) = service(backend, &[("services.inventory.reservation_hold_s", json!(1))]).await;
    let mut ordering = ordering(&app).await;
    stocked(&app, &ordering, "A-5").await;
    receive(&app, "A-5", 3).await;
    let order = Uuid::now_v7();
    ordering.send("ordering", &reserve(order, &[("A-5", 3)])).await;
    ordering.expect::<StockReservedV1>().await;
    assert_eq!(counts(&app, "A-5").await, (0, 3, 0, 3));
    // The durable timer fires after a second and gives the units back.
    let expired = ordering.expect::<ReservationExpiredV1>().await;
    assert_eq!(expired.order_id, order);
    assert_eq!(counts(&app, "A-5").await, (3, 0, 0, 3));
    assert_eq!(reservation_state(&app, order).await, "expired");
    ordering.send("ordering", &CommitStockV1 { order_id: order }).await;
    ordering.expect::<ReservationLapsedV1>().await;
    assert_conserved(&app).await;
    app.stop().await;
}

async fn concurrent_orders_for_the_last_units(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let mut ordering = ordering(&app).await;
    stocked(&app, &ordering, "LAST-1").await;
    receive(&app, "LAST-1", 5).await;
    let orders: Vec<Uuid> = (0..12).map(|_| Uuid::now_v7()).collect();
    let sends = orders.iter().map(|order| {
        let peer = &ordering;
        async move { peer.send("ordering", &reserve(*order, &[("LAST-1", 1)])).await }
    });
    futures_util::future::join_all(sends).await;
    let replies = ordering.receive(orders.len()).await;
    let won =
        replies.iter().filter(|r| r.message_type == <StockReservedV1 as flotilla_contracts::Message>::TYPE).count();
    assert_eq!(won, 5, "exactly the units there are");
    assert_eq!(counts(&app, "LAST-1").await, (0, 5, 0, 5));
    assert_conserved(&app).await;
    app.stop().await;
}

async fn a_malformed_command_is_a_dead_letter(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let mut ordering = ordering(&app).await;
    stocked(&app, &ordering, "A-6").await;
    receive(&app, "A-6", 2).await;
    let order = Uuid::now_v7();
    ordering.send("ordering", &reserve(order, &[("A-6", 0)])).await;
    let letters = app.url("/admin/dead-letters");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let letter = loop {
        let listed: Value = app.admin.get(&letters).send().await.unwrap().json().await.unwrap();
        if let Some(letter) = listed.as_array().and_then(|letters| letters.first()).cloned() {
            break letter;
        }
        assert!(std::time::Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        (letter["consumer"].as_str(), letter["reason"].as_str()),
        (Some("inventory.reservations"), Some("rejected"))
    );
    assert!(letter["last_error"].as_str().unwrap().contains("quantity must be at least 1"), "{letter}");
    ordering.expect_silence(Duration::from_millis(300)).await;
    assert_eq!(counts(&app, "A-6").await, (2, 0, 0, 2));
    app.stop().await;
}
