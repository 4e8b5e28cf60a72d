use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use flotilla_contracts::Message;
use flotilla_contracts::inventory::{CommitStockV1, ReleaseStockV1, ReserveStockV1};
use flotilla_contracts::ordering::{
    OrderCancelledV1, OrderConfirmedV1, OrderPlacedV1, OrderRejectedV1, OrderShippedV1,
};
use flotilla_contracts::payments::{AuthorizePaymentV1, CancelPaymentV1, CapturePaymentV1};
use flotilla_contracts::shipping::CancelShipmentV1;
use flotilla_messaging::Envelope;
use flotilla_testkit::{Backend, NatsServer, Peer, TestApp};
use reqwest::Response;
use serde_json::{Value, json};
use uuid::Uuid;

pub const ORDERS: &str = "/api/v1/ordering/orders";
pub const CUSTOMER: &str = "customer-1";
pub const APPROVE: &str = "4242424242424242";

/// The baskets the stand-in basket service answers with, and the tokens it was called with.
#[derive(Default)]
pub struct Baskets {
    pub lines: Mutex<HashMap<String, Value>>,
    pub calls: Mutex<Vec<Option<String>>>,
}

/// Ordering on `backend`; the test plays the services around it.
pub struct World {
    pub app: TestApp,
    /// Inventory, payments and shipping: what ordering sends them arrives here.
    pub services: Peer,
    /// Ordering's events, as a follower of orders sees them.
    pub events: Peer,
    pub baskets: Arc<Baskets>,
    pub customer: reqwest::Client,
    basket_server: tokio::task::JoinHandle<()>,
    _nats: Option<NatsServer>,
}

/// The basket service's read of a basket as the stand-in serves it: it insists on a bearer
/// token, as the real one does, and records which one it got.
async fn basket(
    State(baskets): State<Arc<Baskets>>,
    Path(customer): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<Value>) {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    baskets.calls.lock().unwrap().push(token.clone());
    if token.is_none() {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({})));
    }
    let lines = baskets.lines.lock().unwrap().get(&customer).cloned().unwrap_or(json!([]));
    (StatusCode::OK, axum::Json(json!({"version": 3, "lines": lines})))
}

pub async fn world(backend: Backend, settings: &[(&str, Value)]) -> World {
    let baskets = Arc::new(Baskets::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let basket_url = format!("http://{}", listener.local_addr().unwrap());
    let router =
        axum::Router::new().route("/api/v1/basket/baskets/{customer}", get(basket)).with_state(Arc::clone(&baskets));
    let basket_server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let nats = (backend == Backend::Postgres).then(NatsServer::start);
    let mut all = vec![
        ("services.ordering.client_secret", json!(flotilla_testkit::CLIENT_SECRET)),
        ("services.basket.url", json!(basket_url)),
        ("services.basket.port", json!(0)),
        ("services.basket.public_api", json!(true)),
        ("bus.timer_poll_ms", json!(50)),
    ];
    all.extend(settings.iter().cloned());
    if let Some(nats) = &nats {
        all.push(("bus.backend", json!("nats")));
        all.push(("bus.nats.url", json!(nats.url())));
    }
    let app = flotilla_testkit::spawn(&flotilla_ordering::SERVICE, backend, &all).await;
    let commands = [
        ReserveStockV1::TYPE,
        CommitStockV1::TYPE,
        ReleaseStockV1::TYPE,
        AuthorizePaymentV1::TYPE,
        CapturePaymentV1::TYPE,
        CancelPaymentV1::TYPE,
        CancelShipmentV1::TYPE,
    ];
    let services = Peer::join(&app, "others", commands.iter().map(|t| (*t).to_owned()).collect()).await;
    let events = [
        OrderPlacedV1::TYPE,
        OrderConfirmedV1::TYPE,
        OrderRejectedV1::TYPE,
        OrderCancelledV1::TYPE,
        OrderShippedV1::TYPE,
    ];
    let events = Peer::join(&app, "follower", events.iter().map(|t| (*t).to_owned()).collect()).await;
    let customer = flotilla_testkit::client_with_token(&app.issuer.token(CUSTOMER, &["customer"]));
    World { app, services, events, baskets, customer, basket_server, _nats: nats }
}

pub fn checkout_body(card: &str) -> Value {
    json!({
        "ship_to": {"name": "Ada Lovelace", "line1": "12 St James Square", "city": "London", "postal_code": "SW1Y 4JH", "country": "GB"},
        "contact_email": "ada@example.com",
        "payment_method": card,
    })
}

impl World {
    pub async fn stop(self) {
        self.basket_server.abort();
        self.app.stop().await;
    }

    /// Puts two lines (2 × 34.99 and 1 × 12.50 EUR) in the customer's basket.
    pub fn fill_basket(&self) {
        let lines = json!([
            {"product_id": Uuid::now_v7(), "sku": "KIT-0001", "name": "Skillet", "quantity": 2,
             "unit_price": {"amount_minor": 3499, "currency": "EUR"}, "available": true},
            {"product_id": Uuid::now_v7(), "sku": "KIT-0002", "name": "Whisk", "quantity": 1,
             "unit_price": {"amount_minor": 1250, "currency": "EUR"}, "available": true},
        ]);
        self.baskets.lines.lock().unwrap().insert(CUSTOMER.into(), lines);
    }

    pub async fn checkout_with(&self, key: &str, body: &Value) -> Response {
        self.customer.post(self.app.url(ORDERS)).header("idempotency-key", key).json(body).send().await.unwrap()
    }

    /// A checkout of a filled basket that is accepted; returns the order id.
    pub async fn checkout(&self, card: &str) -> Uuid {
        self.fill_basket();
        let response = self.checkout_with(&Uuid::now_v7().to_string(), &checkout_body(card)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{}", response.text().await.unwrap());
        let order: Value = response.json().await.unwrap();
        order["order_id"].as_str().unwrap().parse().unwrap()
    }

    /// The next command ordering sends, which must be of type `M`, with its envelope.
    pub async fn next<M: Message>(&mut self) -> (M, Envelope) {
        let envelope = self.services.receive(1).await.remove(0);
        assert_eq!(envelope.message_type, M::TYPE, "{}", String::from_utf8_lossy(&envelope.data));
        (envelope.decode().unwrap(), envelope)
    }

    /// The next commands, in any order, as (type, envelope).
    pub async fn next_n(&mut self, count: usize) -> Vec<Envelope> {
        self.services.receive(count).await
    }

    pub async fn order(&self, order_id: Uuid) -> Value {
        self.app.admin.get(self.app.url(&format!("{ORDERS}/{order_id}"))).send().await.unwrap().json().await.unwrap()
    }

    /// Waits until the order has `status`.
    pub async fn status_becomes(&self, order_id: Uuid, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let order = self.order(order_id).await;
            if order["status"] == status {
                return order;
            }
            assert!(Instant::now() < deadline, "the order never became {status}: {order}");
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }

    /// Waits until ordering has handled everything sent to it so far.
    pub async fn settled(&self) {
        // What the saga's consumer reads: every message the registry routes to it, and its timer.
        let mut addresses: Vec<String> = flotilla_contracts::registry()
            .into_iter()
            .filter(|info| info.receivers.contains(&"ordering.checkout"))
            .map(|info| flotilla_contracts::address(info.message_type, info.kind.is_addressed().then_some("ordering")))
            .collect();
        addresses.push(flotilla_contracts::address("flotilla.ordering.step-due.v1", Some("ordering")));
        addresses.sort();
        self.services.settled("ordering.checkout", &addresses).await;
    }
}

/// Asserts an RFC 9457 response of this status and problem type; returns the document.
pub async fn expect_problem(response: Response, status: StatusCode, slug: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], format!("urn:flotilla:problem:{slug}"), "{problem}");
    problem
}

pub use flotilla_testkit::OwnMetrics;
