//! The catalog on the bus: each change publishes its events through the outbox, in order, in the
//! request's trace; embedded log on SQLite, NATS JetStream on PostgreSQL, as in the two modes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_chassis::db::Database;
use flotilla_contracts::Message;
use flotilla_contracts::catalog::{ProductCreatedV1, ProductDeletedV1, ProductPriceChangedV1, ProductUpdatedV1};
use flotilla_messaging::consumer::{ConsumerRuntime, RetryPolicy};
use flotilla_messaging::settings::BusSettings;
use flotilla_messaging::{
    Bus, Consumer, ConsumerSpec, Envelope, HandlerError, Outbox, Settle, Subscription, UnitOfWork,
};
use flotilla_testkit::{Backend, NatsServer, TestApp, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::*;

on_both_backends!(
    changes_publish_their_events_in_order_and_in_the_request_trace,
    failed_changes_publish_nothing,
    serves_the_schemas_it_publishes,
    dead_letters_are_administered_over_http,
);

async fn catalog_on_the_bus(backend: Backend) -> (TestApp, Option<NatsServer>) {
    let nats = (backend == Backend::Postgres).then(NatsServer::start);
    let mut settings = vec![("services.catalog.seed", json!(false))];
    if let Some(nats) = &nats {
        settings.push(("bus.backend", json!("nats")));
        settings.push(("bus.nats.url", json!(nats.url())));
    }
    (flotilla_testkit::spawn(&flotilla_catalog::SERVICE, backend, &settings).await, nats)
}

async fn changes_publish_their_events_in_order_and_in_the_request_trace(backend: Backend) {
    let (app, _nats) = catalog_on_the_bus(backend).await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace_id}-00f067aa0ba902b7-01");

    let created: Value = app
        .admin
        .post(app.url(PRODUCTS))
        .header("traceparent", &traceparent)
        .json(&product("EV-001", "Evented skillet"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let url = app.url(&format!("{PRODUCTS}/{id}"));
    let mut cheaper = product("EV-001", "Evented skillet");
    cheaper["price"]["amount_minor"] = json!(2999);
    let put = |body: Value, etag: &str| app.admin.put(&url).header("if-match", etag).json(&body).send();
    let response = put(cheaper.clone(), "\"1\"").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    cheaper["name"] = json!("Evented skillet, renamed");
    assert_eq!(put(cheaper, "\"2\"").await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.admin.delete(&url).send().await.unwrap().status(), StatusCode::NO_CONTENT);

    // Exactly these, and nothing more: everything the outbox held is on the bus and read.
    let mut published = Published::open(&app).await;
    let envelopes = published.everything().await;
    assert_eq!(
        types(&envelopes),
        [
            ProductCreatedV1::TYPE,
            ProductUpdatedV1::TYPE,
            ProductPriceChangedV1::TYPE,
            ProductUpdatedV1::TYPE,
            ProductDeletedV1::TYPE
        ]
    );
    assert!(envelopes.iter().all(|e| e.subject == id && e.source == "/flotilla/catalog"));
    let first = &envelopes[0];
    assert!(first.traceparent.as_deref().is_some_and(|t| t.contains(trace_id)), "{:?}", first.traceparent);
    assert!(first.correlation_id.is_some());
    let change: ProductPriceChangedV1 = envelopes[2].decode().unwrap();
    assert_eq!((change.previous_price.amount_minor, change.price.amount_minor, change.version), (3499, 2999, 2));
    let gone: ProductDeletedV1 = envelopes[4].decode().unwrap();
    assert_eq!((gone.version, gone.sku.as_str()), (3, "EV-001"));

    let ready: Value = app.client.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    let bus = ready["checks"].as_array().unwrap().iter().find(|c| c["name"] == "bus").unwrap().clone();
    assert_eq!(bus["status"], "pass");
    published.close().await;
    app.stop().await;
}

/// Every change the API refuses (404, 409, 412, 422, 428) publishes nothing: its event would only
/// be written in the transaction the refusal rolls back.
async fn failed_changes_publish_nothing(backend: Backend) {
    let (app, _nats) = catalog_on_the_bus(backend).await;
    let mut published = Published::open(&app).await;
    let kept = create(&app, &product("FAIL-001", "Kept")).await;
    create(&app, &product("FAIL-002", "Other")).await;
    let kept_url = app.url(&format!("{PRODUCTS}/{}", kept["id"].as_str().unwrap()));
    let renamed = app.admin.put(&kept_url).header("if-match", "\"1\"").json(&product("FAIL-001", "Kept, renamed"));
    assert_eq!(renamed.send().await.unwrap().status(), StatusCode::OK);
    let kept: Value = app.client.get(&kept_url).send().await.unwrap().json().await.unwrap();
    // What succeeded is out first, so that anything read later came from a failure.
    assert_eq!(
        types(&published.everything().await),
        [ProductCreatedV1::TYPE, ProductCreatedV1::TYPE, ProductUpdatedV1::TYPE]
    );

    let missing_url = app.url(&format!("{PRODUCTS}/{}", uuid::Uuid::now_v7()));
    let mut invalid = product("FAIL-003", "Invalid");
    invalid["price"]["amount_minor"] = json!(-1);
    let change = product("FAIL-001", "Changed");
    let post = |body: &Value| app.admin.post(app.url(PRODUCTS)).json(body);
    let put = |url: &str, etag: &str, body: &Value| app.admin.put(url).header("if-match", etag).json(body);
    let refused = [
        ("POST of a taken SKU", post(&product("FAIL-002", "Twin")), StatusCode::CONFLICT, "conflict"),
        ("POST of an invalid product", post(&invalid), StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        ("PUT to a missing product", put(&missing_url, "\"1\"", &change), StatusCode::NOT_FOUND, "not-found"),
        (
            "PUT taking another product's SKU",
            put(&kept_url, "\"2\"", &product("FAIL-002", "Kept")),
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            "PUT with a stale If-Match",
            put(&kept_url, "\"1\"", &change),
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
        ),
        (
            "PUT of an invalid product",
            put(&kept_url, "\"2\"", &invalid),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "PUT without If-Match",
            app.admin.put(&kept_url).json(&change),
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
        ),
        ("DELETE of a missing product", app.admin.delete(&missing_url), StatusCode::NOT_FOUND, "not-found"),
        (
            "DELETE with a stale If-Match",
            app.admin.delete(&kept_url).header("if-match", "\"1\""),
            StatusCode::PRECONDITION_FAILED,
            "precondition-failed",
        ),
    ];
    for (what, request, status, slug) in refused {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{what}");
        expect_problem(response, status, slug).await;
    }

    let after = published.everything().await;
    assert!(after.is_empty(), "refused changes published {:?}", types(&after));
    let unchanged: Value = app.client.get(&kept_url).send().await.unwrap().json().await.unwrap();
    assert_eq!(unchanged, kept, "no refused change changed the product");
    assert_eq!(all_pages(&app, "").await.len(), 2, "no refused change created a product");
    published.close().await;
    app.stop().await;
}

fn types(envelopes: &[Envelope]) -> Vec<&str> {
    envelopes.iter().map(|e| e.message_type.as_str()).collect()
}

/// What the catalog publishes, read as a fresh durable consumer would, next to the catalog's own
/// database, whose outbox table says what is still to be published.
struct Published {
    db: Database,
    bus: Arc<dyn Bus>,
    spec: ConsumerSpec,
    subscription: Box<dyn Subscription>,
}

impl Published {
    async fn open(app: &TestApp) -> Self {
        let config = app.config();
        let db = Database::connect("catalog", &config.settings.database, &config.settings.data_dir).await.unwrap();
        let settings = BusSettings::from_config(config).unwrap();
        let bus = flotilla_messaging::service::connect(&settings, &config.settings.data_dir, "test").await.unwrap();
        let spec = ConsumerSpec {
            name: "test.reader".into(),
            addresses: flotilla_catalog::events::published().iter().map(|m| m.message_type.to_owned()).collect(),
            ack_wait: Duration::from_secs(30),
        };
        let subscription = bus.subscribe(&spec).await.unwrap();
        Self { db, bus, spec, subscription }
    }

    /// Every event not read yet, in order: waits until the catalog's outbox table is empty (the
    /// relay deletes a row once the bus has it), then reads until the bus has nothing more for
    /// this reader, delivered or not.
    async fn everything(&mut self) -> Vec<Envelope> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let pending: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(self.db.pool()).await.unwrap();
            if pending == 0 {
                break;
            }
            assert!(Instant::now() < deadline, "{pending} events still in the catalog's outbox after 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut envelopes = Vec::new();
        loop {
            let batch = self.subscription.next_batch(64, Duration::from_millis(100)).await.unwrap();
            let empty = batch.is_empty();
            for delivery in batch {
                envelopes
                    .push(Envelope::from_parts(&delivery.message.headers, delivery.message.payload.clone()).unwrap());
                delivery.settle(Settle::Ack).await.unwrap();
            }
            if empty && self.bus.backlog(&self.spec).await.unwrap() == 0 {
                return envelopes;
            }
            assert!(Instant::now() < deadline, "the bus still holds events for the reader after 30 s");
        }
    }

    async fn close(self) {
        self.db.close().await;
    }
}

async fn serves_the_schemas_it_publishes(backend: Backend) {
    let (app, _nats) = catalog_on_the_bus(backend).await;
    let listed: Value = app.client.get(app.url("/events")).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 4);
    let path = listed[0]["schema"].as_str().unwrap();
    let schema: Value = app.client.get(app.url(path)).send().await.unwrap().json().await.unwrap();
    let expected = flotilla_contracts::find(listed[0]["type"].as_str().unwrap()).unwrap().schema;
    assert_eq!(schema, expected);
    let missing = app.client.get(app.url("/events/flotilla.basket.nothing.v1/schema")).send().await.unwrap();
    expect_problem(missing, StatusCode::NOT_FOUND, "not-found").await;
    app.stop().await;
}

/// Rejects every message: the way to a real dead letter in the catalog's database.
async fn reject(_: ProductDeletedV1, _: &Envelope, _: &mut UnitOfWork) -> Result<(), HandlerError> {
    Err(HandlerError::Permanent("not today".into()))
}

async fn dead_letters_are_administered_over_http(backend: Backend) {
    let (app, _nats) = catalog_on_the_bus(backend).await;
    let config = app.config().clone();
    let db = Database::connect("catalog", &config.settings.database, &config.settings.data_dir).await.unwrap();
    let settings = BusSettings::from_config(&config).unwrap();
    let bus = flotilla_messaging::service::connect(&settings, &config.settings.data_dir, "test").await.unwrap();
    let consumer = Consumer::new("catalog", "rejecter").on(reject);
    let retry = RetryPolicy { max_attempts: 2, base: Duration::from_millis(50), max: Duration::from_millis(50) };
    let stopping = CancellationToken::new();
    let running = tokio::spawn(
        ConsumerRuntime::new(consumer, db.clone(), Outbox::new("catalog"), retry, Duration::from_secs(5))
            .run(bus, stopping.clone()),
    );

    let created = create(&app, &product("DL-001", "Doomed")).await;
    let url = app.url(&format!("{PRODUCTS}/{}", created["id"].as_str().unwrap()));
    assert_eq!(app.admin.delete(&url).send().await.unwrap().status(), StatusCode::NO_CONTENT);

    let letters_url = app.url("/admin/dead-letters");
    let deadline = Instant::now() + Duration::from_secs(30);
    let letters = loop {
        let letters: Value = app.admin.get(&letters_url).send().await.unwrap().json().await.unwrap();
        if !letters.as_array().unwrap().is_empty() {
            break letters;
        }
        assert!(Instant::now() < deadline, "no dead letter within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let letter = &letters[0];
    assert_eq!((letter["consumer"].as_str(), letter["reason"].as_str()), (Some("catalog.rejecter"), Some("rejected")));
    let one = app.url(&format!("/admin/dead-letters/{}", letter["id"].as_str().unwrap()));
    let shown: Value = app.admin.get(&one).send().await.unwrap().json().await.unwrap();
    assert_eq!(shown["payload"]["sku"], "DL-001");

    let replay = app.admin.post(format!("{one}/replay")).send().await.unwrap();
    assert_eq!(replay.status(), StatusCode::ACCEPTED);
    let again = app.admin.post(format!("{one}/replay")).send().await.unwrap();
    expect_problem(again, StatusCode::NOT_FOUND, "not-found").await;
    let neither = app.admin.post(app.url("/admin/dead-letters/discard")).json(&json!({})).send().await.unwrap();
    expect_problem(neither, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let bad_limit = app.admin.get(format!("{letters_url}?limit=0")).send().await.unwrap();
    expect_problem(bad_limit, StatusCode::BAD_REQUEST, "invalid-parameter").await;

    // The replay fails again (the handler still rejects), so the letter is dead once more; discard it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let shown: Value = app.admin.get(&one).send().await.unwrap().json().await.unwrap();
        if shown["replays"] == 1 && shown["state"] == "dead" {
            break;
        }
        assert!(Instant::now() < deadline, "the replay was never attempted: {shown}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let discarded = app
        .admin
        .post(app.url("/admin/dead-letters/discard"))
        .json(&json!({"consumer": "catalog.rejecter"}))
        .send()
        .await
        .unwrap();
    assert_eq!(discarded.json::<Value>().await.unwrap()["affected"], 1);
    expect_problem(app.admin.delete(&one).send().await.unwrap(), StatusCode::NOT_FOUND, "not-found").await;

    stopping.cancel();
    running.await.unwrap();
    db.close().await;
    app.stop().await;
}
