use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_contracts::Message;
use flotilla_contracts::catalog::{Money, ProductCreatedV1, ProductDeletedV1, ProductState, ProductUpdatedV1};
use flotilla_messaging::settings::BusSettings;
use flotilla_messaging::{Bus, ConsumerSpec, Envelope, RawMessage};
use flotilla_testkit::{Backend, NatsServer, TestApp, client_with_token};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

pub const BASKETS: &str = "/api/v1/basket/baskets";
/// Small, so that a full basket is quick to reach; the quantity bound keeps its default of 99.
pub const MAX_LINES: usize = 3;

/// The basket service on a real database and bus, and the catalog's side of that bus.
pub struct World {
    pub app: TestApp,
    bus: Arc<dyn Bus>,
    nats: Option<NatsServer>,
}

/// The service on `backend`: SQLite with the embedded log, or PostgreSQL with NATS JetStream, as
/// it runs distributed.
pub async fn world(backend: Backend) -> World {
    let nats = (backend == Backend::Postgres).then(NatsServer::start);
    let mut settings = vec![("services.basket.max_lines", json!(MAX_LINES))];
    if let Some(nats) = &nats {
        settings.push(("bus.backend", json!("nats")));
        settings.push(("bus.nats.url", json!(nats.url())));
    }
    let app = flotilla_testkit::spawn(&flotilla_basket::SERVICE, backend, &settings).await;
    let bus_settings = BusSettings::from_config(app.config()).unwrap();
    let bus = flotilla_messaging::service::connect(&bus_settings, &app.config().settings.data_dir, "catalog-double")
        .await
        .unwrap();
    World { app, bus, nats }
}

impl World {
    pub async fn stop(self) {
        self.app.stop().await;
        drop(self.nats);
    }

    pub fn basket_url(&self, customer: &str) -> String {
        self.app.url(&format!("{BASKETS}/{customer}"))
    }

    pub fn items_url(&self, customer: &str) -> String {
        self.app.url(&format!("{BASKETS}/{customer}/items"))
    }

    pub fn item_url(&self, customer: &str, product: Uuid) -> String {
        self.app.url(&format!("{BASKETS}/{customer}/items/{product}"))
    }

    /// A client with a customer's token for `subject`.
    pub fn customer(&self, subject: &str) -> reqwest::Client {
        client_with_token(&self.app.issuer.token(subject, &["customer"]))
    }

    /// A client-credentials token: the subject is the client, with these scopes.
    pub fn service_account(&self, client_id: &str, scope: &str) -> reqwest::Client {
        client_with_token(&self.app.issuer.sign(&self.service_claims(client_id, scope)))
    }

    pub fn service_claims(&self, client_id: &str, scope: &str) -> Value {
        let mut claims = self.app.issuer.claims(client_id, &[]);
        claims["client_id"] = json!(client_id);
        claims["scope"] = json!(scope);
        claims
    }

    /// Publishes `message` as the catalog would, and returns what went on the bus.
    pub async fn publish<M: Message>(&self, message: &M) -> RawMessage {
        let envelope = Envelope::new("catalog", message).unwrap();
        let raw = RawMessage {
            id: envelope.id.to_string(),
            address: envelope.address(),
            headers: envelope.headers(),
            payload: envelope.data.clone(),
        };
        self.publish_raw(std::slice::from_ref(&raw)).await;
        raw
    }

    pub async fn publish_raw(&self, messages: &[RawMessage]) {
        self.bus.publish(messages).await.unwrap();
    }

    /// Waits until the basket's catalog consumer has settled everything published so far, so that
    /// no redelivery can still change anything; fails after 30 s.
    pub async fn settled(&self) {
        let spec = ConsumerSpec {
            name: "basket.catalog-products".into(),
            addresses: [ProductCreatedV1::TYPE, ProductDeletedV1::TYPE, ProductUpdatedV1::TYPE]
                .map(str::to_owned)
                .to_vec(),
            ack_wait: Duration::from_secs(30),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // Before the service has subscribed, NATS knows no such consumer: not settled yet.
            let left = self.bus.backlog(&spec).await;
            if matches!(left, Ok(0)) {
                return;
            }
            assert!(Instant::now() < deadline, "the catalog consumer has not settled after 30 s: {left:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A product the catalog created, once the basket knows it.
    pub async fn product(&self, name: &str, amount_minor: i64, currency: &str) -> ProductState {
        let product = state(Uuid::now_v7(), 1, name, amount_minor, currency);
        self.publish(&ProductCreatedV1 { product: product.clone() }).await;
        self.settled().await;
        product
    }

    /// How many basket lines the service's database holds, read directly.
    pub async fn stored_lines(&self) -> i64 {
        let settings = &self.app.config().settings;
        let db =
            flotilla_chassis::db::Database::connect("basket", &settings.database, &settings.data_dir).await.unwrap();
        let count = sqlx::query_scalar("SELECT COUNT(*) FROM basket_lines").fetch_one(db.pool()).await.unwrap();
        db.close().await;
        count
    }
}

/// A product's state as the catalog publishes it.
pub fn state(id: Uuid, version: i64, name: &str, amount_minor: i64, currency: &str) -> ProductState {
    ProductState {
        product_id: id,
        version,
        sku: format!("KIT-{}", &id.simple().to_string()[24..]).to_uppercase(),
        name: name.into(),
        description: "Pre-seasoned and ready for the oven.".into(),
        price: Money { amount_minor, currency: currency.into() },
        category: "kitchen".into(),
        image: None,
        attributes: BTreeMap::new(),
    }
}

/// The basket as `client` reads it, with its ETag.
pub async fn read(client: &reqwest::Client, url: &str) -> (Value, String) {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    (response.json().await.unwrap(), etag)
}

/// Adds `quantity` of `product` and returns the basket after it.
pub async fn add(client: &reqwest::Client, url: &str, product: Uuid, quantity: i64) -> Value {
    let response = client.post(url).json(&json!({"product_id": product, "quantity": quantity})).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// The line of `product` in `basket`.
pub fn line(basket: &Value, product: Uuid) -> &Value {
    let id = product.to_string();
    basket["lines"].as_array().unwrap().iter().find(|l| l["product_id"] == id.as_str()).unwrap_or_else(|| {
        panic!("no line for {id} in {basket}");
    })
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
