//! The catalog on the bus: each change publishes its events through the outbox, in order, in the
//! request's trace; embedded log on SQLite, NATS JetStream on PostgreSQL, as in the two modes.

use std::time::{Duration, Instant};

use flotilla_chassis::db::Database;
use flotilla_contracts::Message;
use flotilla_contracts::catalog::{ProductCreatedV1, ProductDeletedV1, ProductPriceChangedV1, ProductUpdatedV1};
use flotilla_messaging::consumer::{ConsumerRuntime, RetryPolicy};
use flotilla_messaging::settings::BusSettings;
use flotilla_messaging::{Consumer, ConsumerSpec, Envelope, HandlerError, Outbox, Settle, UnitOfWork};
use flotilla_testkit::{Backend, NatsServer, TestApp, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::*;

on_both_backends!(
    changes_publish_their_events_in_order_and_in_the_request_trace,
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

    let envelopes = consume(&app, 5).await;
    let types: Vec<&str> = envelopes.iter().map(|e| e.message_type.as_str()).collect();
    assert_eq!(
        types,
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

    // Nothing is left behind in the outbox, and the metrics say so.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("messaging_client_sent_messages_total{service=\"catalog\""), "{metrics}");
    let ready: Value = app.client.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    let bus = ready["checks"].as_array().unwrap().iter().find(|c| c["name"] == "bus").unwrap().clone();
    assert_eq!(bus["status"], "pass");
    app.stop().await;
}

/// Reads `count` messages from the catalog's bus as a fresh durable consumer would.
async fn consume(app: &TestApp, count: usize) -> Vec<Envelope> {
    let settings = BusSettings::from_config(app.config()).unwrap();
    let bus = flotilla_messaging::service::connect(&settings, &app.config().settings.data_dir, "test").await.unwrap();
    let spec = ConsumerSpec {
        name: "test.reader".into(),
        addresses: flotilla_catalog::events::published().iter().map(|m| m.message_type.to_owned()).collect(),
        ack_wait: Duration::from_secs(30),
    };
    let mut subscription = bus.subscribe(&spec).await.unwrap();
    let mut envelopes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while envelopes.len() < count {
        assert!(Instant::now() < deadline, "only {} of {count} events arrived", envelopes.len());
        for delivery in subscription.next_batch(count, Duration::from_millis(500)).await.unwrap() {
            envelopes.push(Envelope::from_parts(&delivery.message.headers, delivery.message.payload.clone()).unwrap());
            delivery.settle(Settle::Ack).await.unwrap();
        }
    }
    envelopes
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
