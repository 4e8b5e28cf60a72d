//! Shipments on the bus: a confirmed order gets one shipment, which the simulated carrier walks
//! to the door on durable timers, publishing every status; the history reads back over HTTP.

use flotilla_contracts::shipping::{ShipmentStatus, ShipmentStatusChangedV1};
use flotilla_shipping::domain::tracking;
use flotilla_testkit::{Backend, on_both_backends};
use serde_json::{Value, json};

use crate::support::*;

on_both_backends!(
    a_confirmed_order_is_walked_to_the_door,
    a_repeated_confirmation_ships_once,
    the_walk_survives_a_restart,
);

fn status_name(status: ShipmentStatus) -> Value {
    serde_json::to_value(status).unwrap()
}

async fn a_confirmed_order_is_walked_to_the_door(backend: Backend) {
    let (app, _nats) = service(backend, 200, 100).await;
    let mut ordering = ordering(&app).await;
    let order = confirmed(CUSTOMER);
    ordering.send("ordering", &order).await;
    let mut events: Vec<ShipmentStatusChangedV1> = Vec::new();
    for _ in WALK {
        events.push(ordering.expect::<ShipmentStatusChangedV1>().await);
    }
    assert_eq!(events.iter().map(|e| e.status).collect::<Vec<_>>(), WALK, "every step, in order");
    let first = &events[0];
    assert_eq!(first.order_id, order.order_id);
    assert_eq!(first.carrier, "Flotilla Post");
    assert!(tracking::is_well_formed(&first.tracking_number), "{}", first.tracking_number);
    for event in &events {
        assert_eq!(
            (event.shipment_id, event.order_id, &event.tracking_number),
            (first.shipment_id, order.order_id, &first.tracking_number),
            "one shipment"
        );
    }
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at), "times only move on");
    settled(&ordering, carrier_consumer()).await;
    ordering.expect_silence(past(100)).await;

    let tracked = shipment(&app, &customer(&app, CUSTOMER), order.order_id).await;
    let history: Vec<Value> =
        events.iter().map(|e| json!({"status": status_name(e.status), "at": e.at.clone()})).collect();
    assert_eq!(
        tracked,
        json!({
            "shipment_id": first.shipment_id,
            "order_id": order.order_id,
            "status": "delivered",
            "carrier": "Flotilla Post",
            "tracking_number": first.tracking_number,
            "ship_to": {
                "name": "Ada Lovelace",
                "line1": "12 St James's Square",
                "line2": "Flat 3",
                "city": "London",
                "postal_code": "SW1Y 4JH",
                "country": "GB",
            },
            "history": history,
            "created_at": first.at,
        })
    );
    assert_eq!(stored(&app).await, (1, 0, 5, 0), "one shipment, five steps, no timer left");
    app.stop().await;
}

async fn a_repeated_confirmation_ships_once(backend: Backend) {
    let (app, _nats) = service(backend, NEVER, NEVER).await;
    let mut ordering = ordering(&app).await;
    let order = confirmed(CUSTOMER);
    let first = ordering.send("ordering", &order).await;
    // The same message again under another bus id (a lost acknowledgement), and the same order
    // confirmed in a new message (ordering's saga retrying).
    ordering.resend(&first).await;
    let again = ordering.send("ordering", &order).await;
    assert_ne!(again.id, first.id);
    let labelled = ordering.expect::<ShipmentStatusChangedV1>().await;
    assert_eq!((labelled.order_id, labelled.status), (order.order_id, ShipmentStatus::LabelCreated));
    settled(&ordering, orders_consumer()).await;
    ordering.expect_silence(std::time::Duration::from_millis(300)).await;
    assert_no_dead_letters(&app).await;
    assert_eq!(stored(&app).await, (1, 0, 1, 1), "one shipment, one history entry, one timer");
    let tracked = shipment(&app, &app.admin, order.order_id).await;
    assert_eq!(tracked["shipment_id"], json!(labelled.shipment_id));
    assert_eq!(tracked["tracking_number"], labelled.tracking_number);
    app.stop().await;
}

async fn the_walk_survives_a_restart(backend: Backend) {
    let (app, _nats) = service(backend, 100, 1500).await;
    let mut ordering = ordering(&app).await;
    let (order, labelled) = ship(&mut ordering, CUSTOMER).await;
    let dispatched = ordering.expect::<ShipmentStatusChangedV1>().await;
    assert_eq!(dispatched.status, ShipmentStatus::Dispatched);
    // The timer of the next step is set in the database; the process goes away before it fires.
    let app = app.restart().await;
    for status in &WALK[2..] {
        let event = ordering.expect::<ShipmentStatusChangedV1>().await;
        assert_eq!((event.shipment_id, event.status), (labelled.shipment_id, *status));
    }
    settled(&ordering, carrier_consumer()).await;
    ordering.expect_silence(past(100)).await;
    let tracked = shipment(&app, &app.admin, order.order_id).await;
    assert_eq!(tracked["status"], "delivered");
    let walked: Vec<&Value> = tracked["history"].as_array().unwrap().iter().map(|entry| &entry["status"]).collect();
    let expected: Vec<Value> = WALK.into_iter().map(status_name).collect();
    assert_eq!(walked, expected.iter().collect::<Vec<_>>());
    assert_eq!(stored(&app).await, (1, 0, 5, 0));
    app.stop().await;
}
