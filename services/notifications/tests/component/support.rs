use std::time::{Duration, Instant};

use flotilla_contracts::Message;
use flotilla_contracts::Money;
use flotilla_contracts::ordering::{
    Address, Customer, OrderCancelledV1, OrderConfirmedV1, OrderLine, OrderRejectedV1, OrderShippedV1,
};
use flotilla_testkit::{Backend, NatsServer, TestApp};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use flotilla_testkit::Peer;

pub const ORDERS: &str = "/api/v1/notifications/orders";
pub const SINK: &str = "/api/v1/notifications/sink/messages";

/// The service on `backend`, on PostgreSQL with NATS JetStream as it runs distributed, with
/// `settings` on top of quick polls and retries and a sink on any free port.
pub async fn service(backend: Backend, settings: &[(&str, Value)]) -> (TestApp, Option<NatsServer>) {
    let nats = (backend == Backend::Postgres).then(NatsServer::start);
    let mut all = vec![
        ("services.notifications.sink.port", json!(0)),
        ("services.notifications.poll_interval_ms", json!(100)),
        ("services.notifications.retry.base_ms", json!(100)),
        ("services.notifications.retry.max_ms", json!(300)),
        ("services.notifications.smtp.timeout_ms", json!(5000)),
    ];
    all.extend(settings.iter().cloned());
    if let Some(nats) = &nats {
        all.push(("bus.backend", json!("nats")));
        all.push(("bus.nats.url", json!(nats.url())));
    }
    (flotilla_testkit::spawn(&flotilla_notifications::SERVICE, backend, &all).await, nats)
}

/// Where the test plays ordering.
pub async fn ordering(app: &TestApp) -> Peer {
    Peer::connect(app, "ordering").await
}

/// Waits until the `notifications.orders` consumer has settled all that ordering sent.
pub async fn settled(peer: &Peer) {
    let mut addresses: Vec<String> =
        [OrderConfirmedV1::TYPE, OrderRejectedV1::TYPE, OrderCancelledV1::TYPE, OrderShippedV1::TYPE]
            .iter()
            .map(|t| flotilla_contracts::address(t, None))
            .collect();
    addresses.sort();
    peer.settled("notifications.orders", &addresses).await;
}

pub fn customer(id: &str) -> Customer {
    Customer { customer_id: id.into(), email: format!("{id}@example.com") }
}

pub fn eur(amount_minor: i64) -> Money {
    Money { amount_minor, currency: "EUR".into() }
}

pub fn confirmed(order_id: Uuid, customer: Customer) -> OrderConfirmedV1 {
    OrderConfirmedV1 {
        order_id,
        customer,
        lines: vec![
            OrderLine {
                product_id: Uuid::now_v7(),
                sku: "KET-1".into(),
                name: "Kettle".into(),
                quantity: 2,
                unit_price: eur(3499),
            },
            OrderLine {
                product_id: Uuid::now_v7(),
                sku: "MUG-2".into(),
                name: "Mug".into(),
                quantity: 1,
                unit_price: eur(550),
            },
        ],
        total: eur(7548),
        ship_to: Address {
            name: "Ada Lovelace".into(),
            line1: "12 St James's Square".into(),
            line2: None,
            city: "London".into(),
            postal_code: "SW1Y 4JH".into(),
            country: "GB".into(),
        },
    }
}

pub fn shipped(order_id: Uuid, customer: Customer) -> OrderShippedV1 {
    OrderShippedV1 { order_id, customer, carrier: "DHL".into(), tracking_number: "JD014600006281230".into() }
}

/// A client with `subject`'s customer token from the app's issuer.
pub fn customer_client(app: &TestApp, subject: &str) -> reqwest::Client {
    flotilla_testkit::client_with_token(&app.issuer.token(subject, &["customer"]))
}

/// An order's notifications as an admin sees them.
pub async fn notifications(app: &TestApp, order_id: Uuid) -> Vec<Value> {
    let response = app.admin.get(app.url(&format!("{ORDERS}/{order_id}"))).send().await.unwrap();
    if response.status() == StatusCode::NOT_FOUND {
        return Vec::new();
    }
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Waits until `order_id` has `count` notifications and each satisfies `done`; returns them.
pub async fn wait_for(app: &TestApp, order_id: Uuid, count: usize, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = notifications(app, order_id).await;
        if found.len() == count && found.iter().all(&done) {
            return found;
        }
        assert!(Instant::now() < deadline, "order {order_id} never got there: {found:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |n: &Value| n["status"] == status
}

/// What the sink received, as an admin sees it.
pub async fn sink_messages(app: &TestApp) -> Vec<Value> {
    let response = app.admin.get(app.url(SINK)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Waits until the sink holds `count` messages; returns them.
pub async fn wait_for_sink(app: &TestApp, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let messages = sink_messages(app).await;
        if messages.len() >= count {
            return messages;
        }
        assert!(Instant::now() < deadline, "the sink has {} of {count} messages", messages.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
