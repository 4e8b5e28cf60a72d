use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use flotilla_contracts::Message;
use flotilla_contracts::catalog::{Money, ProductCreatedV1, ProductState};
use flotilla_contracts::inventory::{
    ReservationExpiredV1, ReservationLapsedV1, StockCommittedV1, StockReleasedV1, StockReservedV1, StockUnavailableV1,
};
use flotilla_testkit::{Backend, NatsServer, TestApp};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use flotilla_testkit::Peer;

pub const STOCK: &str = "/api/v1/inventory/stock";

/// The service on `backend`, on PostgreSQL with NATS JetStream as it runs distributed, with
/// `settings` on top. SKUs start with no stock unless a test says otherwise.
pub async fn service(backend: Backend, settings: &[(&str, Value)]) -> (TestApp, Option<NatsServer>) {
    let nats = (backend == Backend::Postgres).then(NatsServer::start);
    let mut all = vec![("services.inventory.initial_stock", json!(0)), ("bus.timer_poll_ms", json!(50))];
    all.extend(settings.iter().cloned());
    if let Some(nats) = &nats {
        all.push(("bus.backend", json!("nats")));
        all.push(("bus.nats.url", json!(nats.url())));
    }
    (flotilla_testkit::spawn(&flotilla_inventory::SERVICE, backend, &all).await, nats)
}

/// Where the test plays ordering: every reply inventory sends to ordering, and its event.
pub async fn ordering(app: &TestApp) -> Peer {
    let replies = [
        StockReservedV1::TYPE,
        StockUnavailableV1::TYPE,
        StockCommittedV1::TYPE,
        ReservationLapsedV1::TYPE,
        StockReleasedV1::TYPE,
    ];
    let mut addresses: Vec<String> = replies.iter().map(|t| flotilla_contracts::address(t, Some("ordering"))).collect();
    addresses.push(ReservationExpiredV1::TYPE.into());
    Peer::join(app, "ordering", addresses).await
}

pub fn product(sku: &str) -> ProductCreatedV1 {
    ProductCreatedV1 {
        product: ProductState {
            product_id: Uuid::now_v7(),
            version: 1,
            sku: sku.into(),
            name: format!("Product {sku}"),
            description: String::new(),
            price: Money { amount_minor: 1000, currency: "EUR".into() },
            category: "kitchen".into(),
            image: None,
            attributes: BTreeMap::new(),
        },
    }
}

/// Announces `sku` as the catalog would and waits until inventory stocks it.
pub async fn stocked(app: &TestApp, peer: &Peer, sku: &str) -> ProductCreatedV1 {
    let created = product(sku);
    peer.send("catalog", &created).await;
    let url = app.url(&format!("{STOCK}/{sku}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.client.get(&url).send().await.unwrap().status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "inventory never stocked {sku}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    created
}

/// Receives `quantity` units of `sku` as an admin.
pub async fn receive(app: &TestApp, sku: &str, quantity: i64) -> Value {
    let url = app.url(&format!("{STOCK}/{sku}/receipts"));
    let response = app.admin.post(url).json(&json!({ "quantity": quantity })).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// A SKU's counts as an admin sees them: (available, reserved, committed, received).
pub async fn counts(app: &TestApp, sku: &str) -> (i64, i64, i64, i64) {
    let page: Value = app.admin.get(app.url(STOCK)).send().await.unwrap().json().await.unwrap();
    let item = page["items"].as_array().unwrap().iter().find(|i| i["sku"] == sku).expect("the SKU is listed").clone();
    let n = |field: &str| item[field].as_i64().unwrap();
    (n("available"), n("reserved"), n("committed"), n("received"))
}

pub async fn reservation_state(app: &TestApp, order_id: Uuid) -> String {
    let url = app.url(&format!("/api/v1/inventory/reservations/{order_id}"));
    let reservation: Value = app.admin.get(url).send().await.unwrap().json().await.unwrap();
    reservation["state"].as_str().unwrap_or_default().to_owned()
}

/// Inventory's invariants, read straight from its database (as `flotilla check` reads them):
/// per SKU the counts add up to what was received and to the movements recorded, none is
/// negative, and the held and sold counts are what the reservations say.
pub async fn assert_conserved(app: &TestApp) {
    let settings = &app.config().settings;
    let db =
        flotilla_chassis::db::Database::connect("inventory", &settings.database, &settings.data_dir).await.unwrap();
    for sku in flotilla_inventory::store::audit(db.pool()).await.unwrap() {
        let name = &sku.sku;
        assert!(sku.available >= 0 && sku.reserved >= 0 && sku.committed >= 0, "{name}: a negative count");
        assert_eq!(sku.available + sku.reserved + sku.committed, sku.received, "{name}: the counts do not add up");
        assert_eq!(sku.received, sku.moved, "{name}: received is not what the movements say");
        assert_eq!(sku.reserved, sku.held, "{name}: reserved is not what the held reservations hold");
        assert_eq!(sku.committed, sku.sold, "{name}: committed is not what the committed reservations hold");
    }
    db.close().await;
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
