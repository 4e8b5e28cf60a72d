//! Cancellations as ordering sends them: answered to ordering from the order's shipment as it
//! stands, so a resend, a late command or one that overtakes the order changes nothing.

use flotilla_contracts::Message;
use flotilla_contracts::shipping::{
    CancelShipmentV1, ShipmentCancelledV1, ShipmentNotCancellableV1, ShipmentStatus, ShipmentStatusChangedV1,
};
use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;

use crate::support::*;

on_both_backends!(
    a_cancellation_before_collection_stops_the_carrier,
    a_cancellation_after_collection_is_too_late,
    a_cancellation_that_overtakes_the_order_bars_it,
);

/// Long enough to cancel in, short enough to wait out.
const WINDOW_MS: u64 = 2000;

async fn a_cancellation_before_collection_stops_the_carrier(backend: Backend) {
    let (app, _nats) = service(backend, WINDOW_MS, 100).await;
    let mut ordering = ordering(&app).await;
    let (order, labelled) = ship(&mut ordering, CUSTOMER).await;
    let cancel = CancelShipmentV1 { order_id: order.order_id };
    let command = ordering.send("ordering", &cancel).await;
    let answers = ordering.receive(2).await;
    let event = answers.iter().find(|e| e.message_type == ShipmentStatusChangedV1::TYPE).expect("a status event");
    let event: ShipmentStatusChangedV1 = event.decode().unwrap();
    assert_eq!((event.shipment_id, event.status), (labelled.shipment_id, ShipmentStatus::Cancelled));
    let reply = answers.iter().find(|e| e.message_type == ShipmentCancelledV1::TYPE).expect("a reply");
    assert_eq!(reply.causation_id, Some(command.id.to_string()), "correlated to the command");
    assert_eq!(reply.decode::<ShipmentCancelledV1>().unwrap().order_id, order.order_id);
    assert_eq!(stored(&app).await, (1, 0, 2, 0), "the carrier's timer is gone");

    // Sent again (resent, then as a new command): answered cancelled, nothing else happens.
    ordering.resend(&command).await;
    ordering.send("ordering", &cancel).await;
    assert_eq!(ordering.expect::<ShipmentCancelledV1>().await.order_id, order.order_id);
    settled(&ordering, cancellations_consumer()).await;
    // The carrier would have collected the parcel by now.
    ordering.expect_silence(past(WINDOW_MS)).await;
    let tracked = shipment(&app, &app.admin, order.order_id).await;
    assert_eq!(tracked["status"], "cancelled");
    let walked: Vec<&str> =
        tracked["history"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(walked, ["label_created", "cancelled"]);
    assert_eq!(stored(&app).await, (1, 0, 2, 0));
    assert_no_dead_letters(&app).await;
    app.stop().await;
}

async fn a_cancellation_after_collection_is_too_late(backend: Backend) {
    let (app, _nats) = service(backend, 100, NEVER).await;
    let mut ordering = ordering(&app).await;
    let (order, _) = ship(&mut ordering, CUSTOMER).await;
    assert_eq!(ordering.expect::<ShipmentStatusChangedV1>().await.status, ShipmentStatus::Dispatched);
    let cancel = CancelShipmentV1 { order_id: order.order_id };
    let command = ordering.send("ordering", &cancel).await;
    let refused = ordering.receive(1).await.remove(0);
    assert_eq!(refused.causation_id, Some(command.id.to_string()));
    assert_eq!(
        refused.decode::<ShipmentNotCancellableV1>().unwrap(),
        ShipmentNotCancellableV1 { order_id: order.order_id, status: ShipmentStatus::Dispatched }
    );
    ordering.send("ordering", &cancel).await;
    assert_eq!(ordering.expect::<ShipmentNotCancellableV1>().await.status, ShipmentStatus::Dispatched);
    settled(&ordering, cancellations_consumer()).await;
    ordering.expect_silence(std::time::Duration::from_millis(300)).await;
    assert_eq!(shipment(&app, &app.admin, order.order_id).await["status"], "dispatched", "still on its way");
    assert_eq!(stored(&app).await, (1, 0, 2, 1), "the carrier's next step is still planned");
    app.stop().await;
}

async fn a_cancellation_that_overtakes_the_order_bars_it(backend: Backend) {
    let (app, _nats) = service(backend, 100, 100).await;
    let mut ordering = ordering(&app).await;
    let order = confirmed(CUSTOMER);
    let cancel = CancelShipmentV1 { order_id: order.order_id };
    ordering.send("ordering", &cancel).await;
    assert_eq!(ordering.expect::<ShipmentCancelledV1>().await.order_id, order.order_id);
    assert_eq!(stored(&app).await, (0, 1, 0, 0), "a tombstone, no shipment");

    // The confirmation arrives late: nothing is shipped, nothing is published.
    ordering.send("ordering", &order).await;
    settled(&ordering, orders_consumer()).await;
    ordering.send("ordering", &cancel).await;
    assert_eq!(ordering.expect::<ShipmentCancelledV1>().await.order_id, order.order_id, "answered again");
    settled(&ordering, cancellations_consumer()).await;
    ordering.expect_silence(past(100)).await;
    assert_no_dead_letters(&app).await;
    assert_eq!(stored(&app).await, (0, 1, 0, 0));
    let missing = app.admin.get(app.url(&format!("{SHIPMENTS}/{}", order.order_id))).send().await.unwrap();
    expect_problem(missing, StatusCode::NOT_FOUND, "not-found").await;

    // Other orders ship as before.
    let (other, _) = ship(&mut ordering, CUSTOMER).await;
    assert_ne!(other.order_id, order.order_id);
    app.stop().await;
}
