//! Every way a checkout can go wrong, through the gateway with real tokens, against the whole
//! system (`flotilla run`, embedded and on PostgreSQL with NATS): out of stock, a declined card,
//! a processor that is slow and recovers, one that is down (the breaker opens and orders fail
//! fast), one that acts and then times out, cancellations before and after confirmation, one key
//! sent twice, many customers for the last units, and a step dead-lettered, fixed and replayed.
//! Each ends with `flotilla check` finding every invariant intact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::system::System;
use flotilla_testkit::Backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

const APPROVE: &str = "4242424242424242";
const DECLINE: &str = "4000000000000002";

/// Fast enough for a test: short provider timeouts and retries, a breaker that opens after two
/// failures, a carrier that waits a moment before collecting (so that a confirmed order can
/// still be cancelled).
const SETTINGS: &str = r#"
[log]
format = "json"
level = "info"

[services.identity]
admin.email = "admin@flotilla.test"
sign_in_per_minute = 10000

[services.payments.provider]
timeout_ms = 400

[services.payments.worker]
poll_ms = 100
retry_base_ms = 50
retry_max_ms = 300
breaker.consecutive_failures = 2
breaker.open_ms = 1000

[services.ordering]
step_timeout_ms = 60000
undo_retry_ms = 2000

[services.shipping.carrier]
dispatch_after_ms = 1500
step_ms = 100
"#;

/// The first `count` products of the demo catalogue.
async fn products(system: &System, count: usize) -> Vec<(String, String)> {
    let url = system.gateway(&format!("/api/v1/catalog/products?limit={count}"));
    let page: Value = system.http.get(url).send().await.unwrap().json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().into(), p["sku"].as_str().unwrap().into()))
        .collect()
}

/// Sets `sku`'s free units to `units` with an admin's adjustment.
async fn set_stock(system: &System, admin: &reqwest::Client, sku: &str, units: i64) {
    let free: Value = system
        .http
        .get(system.gateway(&format!("/api/v1/inventory/stock/{sku}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let delta = units - free["available"].as_i64().unwrap();
    if delta != 0 {
        let url = system.gateway(&format!("/api/v1/inventory/stock/{sku}/adjustments"));
        let adjusted = admin.post(url).json(&json!({"delta": delta, "reason": "test set-up"})).send().await.unwrap();
        assert_eq!(adjusted.status(), StatusCode::OK, "{}", adjusted.text().await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_ends_consistent_embedded() {
    every_failure_ends_consistent(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_ends_consistent_on_postgres_and_nats() {
    every_failure_ends_consistent(Backend::Postgres).await;
}

async fn every_failure_ends_consistent(backend: Backend) {
    let mut system = System::new(backend).await;
    system.start(SETTINGS).await;
    let admin = system.admin().await;
    let ada = system.shopper("ada@example.com").await;
    let catalogue = products(&system, 4).await;
    let (product, sku) = &catalogue[0];

    // The same key twice: the same order; with another body: refused.
    ada.fill(&system, product, 1).await;
    let first = ada.checkout(&system, "ada-1", APPROVE).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    ada.emptied(&system).await;
    // Sent again once the basket is empty: still the first order, not a refusal.
    let again: Value = ada.checkout(&system, "ada-1", APPROVE).await.json().await.unwrap();
    assert_eq!(again["order_id"], first["order_id"]);
    assert_eq!(ada.checkout(&system, "ada-1", DECLINE).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let happy = ada.settles(&system, first["order_id"].as_str().unwrap(), &["shipped"]).await;
    assert_eq!(happy["timeline"].as_array().unwrap().last().unwrap()["status"], "shipped");

    // A declined card: the stock is given back, the order rejected.
    let declined = ada.order(&system, product, DECLINE).await;
    assert_eq!(ada.settles(&system, &declined, &["rejected"]).await["reason"], "payment-declined");

    // Out of stock.
    set_stock(&system, &admin, sku, 0).await;
    let short = ada.order(&system, product, APPROVE).await;
    assert_eq!(ada.settles(&system, &short, &["rejected"]).await["reason"], "out-of-stock");
    set_stock(&system, &admin, sku, 50).await;

    // The processor acts and then does not answer in time: resolved by asking it, charged once.
    system.faults(json!({"act_then_timeout": 2, "hang_ms": 1500})).await;
    let unanswered = ada.order(&system, product, APPROVE).await;
    ada.settles(&system, &unanswered, &["confirmed", "shipped"]).await;
    system.faults(json!({})).await;

    // A slow processor: unanswered calls are retried with the same key until it recovers.
    system.faults(json!({"latency_ms": 1000})).await;
    let slow = ada.order(&system, product, APPROVE).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(ada.settles(&system, &slow, &["stock_reserved"]).await["status"], "stock_reserved");
    system.faults(json!({})).await;
    ada.settles(&system, &slow, &["confirmed", "shipped"]).await;

    // The processor is down: the breaker opens, orders fail fast and their stock is given back.
    system.faults(json!({"outage": true})).await;
    let mut down = Vec::new();
    for _ in 0..3 {
        down.push(ada.order(&system, product, APPROVE).await);
    }
    for order in &down {
        assert_eq!(ada.settles(&system, order, &["rejected"]).await["reason"], "payment-failed");
    }
    let metrics = system.http.get(system.url("payments", "/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("outcome=\"circuit_open\""), "the breaker opened: {metrics}");
    system.faults(json!({})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Cancelled before it is confirmed, and after (before the carrier collects it): nothing held.
    let early = ada.order(&system, product, APPROVE).await;
    let cancel = |order: &str| system.gateway(&format!("/api/v1/ordering/orders/{order}/cancel"));
    let cancelled = ada.http.post(cancel(&early)).send().await.unwrap();
    assert!([StatusCode::ACCEPTED, StatusCode::CONFLICT].contains(&cancelled.status()));
    ada.settles(&system, &early, &["cancelled", "shipped"]).await;
    let late = ada.order(&system, product, APPROVE).await;
    ada.settles(&system, &late, &["confirmed"]).await;
    assert_eq!(ada.http.post(cancel(&late)).send().await.unwrap().status(), StatusCode::ACCEPTED);
    let refunded = ada.settles(&system, &late, &["cancelled"]).await;
    assert_eq!(refunded["refunded"]["amount_minor"], refunded["total"]["amount_minor"]);

    // Eight customers check out at once for the last three units: exactly three are confirmed.
    let (last, last_sku) = &catalogue[1];
    set_stock(&system, &admin, last_sku, 3).await;
    let mut crowd = Vec::new();
    for i in 0..8 {
        crowd.push(system.shopper(&format!("shopper{i}@example.com")).await);
    }
    let racing = crowd.iter().map(|shopper| shopper.order(&system, last, APPROVE));
    let raced: Vec<String> = futures_util::future::join_all(racing).await;
    let mut outcomes = Vec::new();
    for (shopper, order) in crowd.iter().zip(&raced) {
        let settled = shopper.settles(&system, order, &["confirmed", "shipped", "rejected"]).await;
        outcomes.push(settled["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(outcomes.iter().filter(|s| *s != "rejected").count(), 3, "{outcomes:?}");
    let free: Value = system
        .http
        .get(system.gateway(&format!("/api/v1/inventory/stock/{last_sku}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(free["available"], 0);

    system.assert_consistent();
    system.stop();
}

/// A step whose handler keeps failing goes to dead letters; once the cause is fixed (here a
/// limit set too low) and the letter replayed, the order completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_step_replayed_after_the_fix_completes_the_order() {
    let mut system = System::new(Backend::Sqlite).await;
    let too_strict = format!("{SETTINGS}\n[services.inventory]\nmax_units_per_line = 1\n");
    system.start(&too_strict).await;
    let ada = system.shopper("ada@example.com").await;
    let (product, _) = products(&system, 1).await.remove(0);
    ada.fill(&system, &product, 2).await;
    let accepted = ada.checkout(&system, "dlq-1", APPROVE).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let order = accepted.json::<Value>().await.unwrap()["order_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !system.cli(&["dlq", "list", "--consumer", "inventory.reservations"]).1.contains("reserve-stock") {
        assert!(Instant::now() < deadline, "the reservation never reached the dead letters");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ada.settles(&system, &order, &["pending"]).await["status"], "pending", "waiting, under its timer");
    system.stop();

    // The fix: the default limit. Then the replay, and the saga carries on.
    system.start(SETTINGS).await;
    let (ok, replayed) = system.cli(&["dlq", "replay", "--consumer", "inventory.reservations"]);
    assert!(ok, "{replayed}");
    ada.settles(&system, &order, &["shipped"]).await;
    system.assert_consistent();
    system.stop();
}
