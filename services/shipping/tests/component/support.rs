use std::time::Duration;

use flotilla_contracts::Message;
use flotilla_contracts::Money;
use flotilla_contracts::ordering::{Address, Customer, OrderConfirmedV1, OrderLine};
use flotilla_contracts::shipping::{
    CancelShipmentV1, ShipmentCancelledV1, ShipmentNotCancellableV1, ShipmentStatus, ShipmentStatusChangedV1,
};
use flotilla_shipping::events::CarrierStepDueV1;
use flotilla_testkit::{Backend, NatsServer, TestApp, client_with_token};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use flotilla_testkit::Peer;

pub const SHIPMENTS: &str = "/api/v1/shipping/shipments";

/// The customer the test's orders are for (not `customer-1`: the token matrix's "another
/// customer").
pub const CUSTOMER: &str = "customer-7";

/// Every status the carrier walks through, in order.
pub const WALK: [ShipmentStatus; 5] = [
    ShipmentStatus::LabelCreated,
    ShipmentStatus::Dispatched,
    ShipmentStatus::InTransit,
    ShipmentStatus::OutForDelivery,
    ShipmentStatus::Delivered,
];

/// The service on `backend`, on PostgreSQL with NATS JetStream as it runs distributed, with a
/// carrier that collects after `dispatch_after_ms` and steps every `step_ms`.
pub async fn service(backend: Backend, dispatch_after_ms: u64, step_ms: u64) -> (TestApp, Option<NatsServer>) {
    let nats = (backend == Backend::Postgres).then(NatsServer::start);
    let mut settings = vec![
        ("services.shipping.carrier.dispatch_after_ms", json!(dispatch_after_ms)),
        ("services.shipping.carrier.step_ms", json!(step_ms)),
        ("bus.timer_poll_ms", json!(50)),
    ];
    if let Some(nats) = &nats {
        settings.push(("bus.backend", json!("nats")));
        settings.push(("bus.nats.url", json!(nats.url())));
    }
    (flotilla_testkit::spawn(&flotilla_shipping::SERVICE, backend, &settings).await, nats)
}

/// A carrier that never collects within a test: shipments stay `label_created`.
pub const NEVER: u64 = 600_000;

/// Where the test plays ordering: shipping's events, and every reply shipping sends to ordering.
pub async fn ordering(app: &TestApp) -> Peer {
    let mut addresses: Vec<String> = [ShipmentCancelledV1::TYPE, ShipmentNotCancellableV1::TYPE]
        .iter()
        .map(|t| flotilla_contracts::address(t, Some("ordering")))
        .collect();
    addresses.push(ShipmentStatusChangedV1::TYPE.into());
    Peer::join(app, "ordering", addresses).await
}

/// Shipping's consumers with what they read, to wait until one has settled.
pub fn orders_consumer() -> (&'static str, Vec<String>) {
    ("shipping.orders", vec![OrderConfirmedV1::TYPE.into()])
}

pub fn cancellations_consumer() -> (&'static str, Vec<String>) {
    ("shipping.cancellations", vec![CancelShipmentV1::TYPE.into()])
}

pub fn carrier_consumer() -> (&'static str, Vec<String>) {
    ("shipping.carrier", vec![flotilla_contracts::address(CarrierStepDueV1::TYPE, Some("shipping"))])
}

pub async fn settled(peer: &Peer, consumer: (&'static str, Vec<String>)) {
    peer.settled(consumer.0, &consumer.1).await;
}

/// An order as ordering confirms it, for `customer`.
pub fn confirmed(customer: &str) -> OrderConfirmedV1 {
    let price = Money { amount_minor: 1250, currency: "GBP".into() };
    OrderConfirmedV1 {
        order_id: Uuid::now_v7(),
        customer: Customer { customer_id: customer.into(), email: format!("{customer}@example.com") },
        lines: vec![OrderLine {
            product_id: Uuid::now_v7(),
            sku: "MUG-1".into(),
            name: "Mug".into(),
            quantity: 2,
            unit_price: price.clone(),
        }],
        total: Money { amount_minor: 2500, currency: "GBP".into() },
        ship_to: Address {
            name: "Ada Lovelace".into(),
            line1: "12 St James's Square".into(),
            line2: Some("Flat 3".into()),
            city: "London".into(),
            postal_code: "SW1Y 4JH".into(),
            country: "GB".into(),
        },
    }
}

/// A client with the token of `customer`.
pub fn customer(app: &TestApp, customer: &str) -> reqwest::Client {
    client_with_token(&app.issuer.token(customer, &["customer"]))
}

/// The order's shipment as `client` reads it; fails unless 200.
pub async fn shipment(app: &TestApp, client: &reqwest::Client, order_id: Uuid) -> Value {
    let response = client.get(app.url(&format!("{SHIPMENTS}/{order_id}"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// Sends the confirmation of a new order and waits for its first status; returns both.
pub async fn ship(peer: &mut Peer, customer: &str) -> (OrderConfirmedV1, ShipmentStatusChangedV1) {
    let order = confirmed(customer);
    peer.send("ordering", &order).await;
    let labelled = peer.expect::<ShipmentStatusChangedV1>().await;
    assert_eq!((labelled.order_id, labelled.status), (order.order_id, ShipmentStatus::LabelCreated));
    (order, labelled)
}

/// The service's database, read directly: (shipments, tombstones, tracking events, timers set).
pub async fn stored(app: &TestApp) -> (i64, i64, i64, i64) {
    let settings = &app.config().settings;
    let db = flotilla_chassis::db::Database::connect("shipping", &settings.database, &settings.data_dir).await.unwrap();
    let count = |sql: &'static str| {
        let pool = db.pool().clone();
        async move { sqlx::query_scalar::<_, i64>(sql).fetch_one(&pool).await.unwrap() }
    };
    let counts = (
        count("SELECT COUNT(*) FROM shipments WHERE shipment_id IS NOT NULL").await,
        count("SELECT COUNT(*) FROM shipments WHERE shipment_id IS NULL").await,
        count("SELECT COUNT(*) FROM tracking_events").await,
        count("SELECT COUNT(*) FROM timers").await,
    );
    db.close().await;
    counts
}

/// Asserts that every message was applied: none failed its way to the dead letters.
pub async fn assert_no_dead_letters(app: &TestApp) {
    let letters: Value = app.admin.get(app.url("/admin/dead-letters")).send().await.unwrap().json().await.unwrap();
    assert_eq!(letters, json!([]), "dead letters");
}

/// Long enough for a timer that should not fire to have fired.
pub fn past(ms: u64) -> Duration {
    Duration::from_millis(ms + 500)
}

/// Asserts an RFC 9457 response of this status and problem type; returns the document.
pub async fn expect_problem(response: Response, status: StatusCode, slug: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], format!("urn:flotilla:problem:{slug}"), "{problem}");
    assert_eq!(problem["status"], status.as_u16());
    problem
}
