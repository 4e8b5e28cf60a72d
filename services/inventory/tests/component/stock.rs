//! Stock over HTTP: SKUs arrive with the catalog's events; admins receive and adjust them, and
//! anyone may ask what is free.

use flotilla_contracts::catalog::ProductDeletedV1;
use flotilla_testkit::matrix::{Endpoint, assert_token_matrix};
use flotilla_testkit::{Backend, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::*;

on_both_backends!(
    receipts_and_adjustments_move_the_counts,
    a_new_sku_starts_with_the_configured_stock_once,
    a_retried_receipt_receives_once,
    a_deleted_product_is_discontinued,
    token_matrix,
);

async fn receipts_and_adjustments_move_the_counts(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let peer = ordering(&app).await;
    stocked(&app, &peer, "MUG-1").await;
    let free: Value = app.client.get(app.url(&format!("{STOCK}/MUG-1"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(free, json!({"sku": "MUG-1", "available": 0, "discontinued": false}));

    let level = receive(&app, "MUG-1", 10).await;
    assert_eq!((level["available"].as_i64(), level["received"].as_i64()), (Some(10), Some(10)));
    let adjust = |delta: i64| {
        app.admin
            .post(app.url(&format!("{STOCK}/MUG-1/adjustments")))
            .json(&json!({"delta": delta, "reason": "stock-take"}))
            .send()
    };
    let level: Value = adjust(-3).await.unwrap().json().await.unwrap();
    assert_eq!((level["available"].as_i64(), level["received"].as_i64()), (Some(7), Some(7)));
    let too_many = expect_problem(adjust(-8).await.unwrap(), StatusCode::CONFLICT, "conflict").await;
    assert!(too_many["detail"].as_str().unwrap().contains("only 7 units"), "{too_many}");
    assert_eq!(counts(&app, "MUG-1").await, (7, 0, 0, 7), "a refused adjustment changes nothing");

    let unknown = app.admin.post(app.url(&format!("{STOCK}/NOPE/receipts"))).json(&json!({"quantity": 1})).send();
    expect_problem(unknown.await.unwrap(), StatusCode::NOT_FOUND, "not-found").await;
    let unknown = app.client.get(app.url(&format!("{STOCK}/NOPE"))).send().await.unwrap();
    expect_problem(unknown, StatusCode::NOT_FOUND, "not-found").await;
    assert_conserved(&app).await;
    app.stop().await;
}

async fn a_new_sku_starts_with_the_configured_stock_once(backend: Backend) {
    let (app, _nats) = service(backend, &[("services.inventory.initial_stock", json!(5))]).await;
    let peer = ordering(&app).await;
    let created = stocked(&app, &peer, "PAN-1").await;
    assert_eq!(counts(&app, "PAN-1").await, (5, 0, 0, 5));
    // The same event delivered again, and a later one for a product with the same SKU, add nothing.
    let again = peer.send("catalog", &created).await;
    peer.resend(&again).await;
    peer.send("catalog", &product("PAN-1")).await;
    stocked(&app, &peer, "PAN-2").await;
    assert_eq!(counts(&app, "PAN-1").await, (5, 0, 0, 5));
    assert_conserved(&app).await;
    app.stop().await;
}

async fn a_retried_receipt_receives_once(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let peer = ordering(&app).await;
    stocked(&app, &peer, "CUP-1").await;
    let post = |quantity: i64| {
        app.admin
            .post(app.url(&format!("{STOCK}/CUP-1/receipts")))
            .header("idempotency-key", "delivery-7")
            .json(&json!({"quantity": quantity, "note": "delivery 7"}))
            .send()
    };
    let first: Value = post(4).await.unwrap().json().await.unwrap();
    let again = post(4).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    expect_problem(post(5).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused").await;
    assert_eq!(counts(&app, "CUP-1").await, (4, 0, 0, 4));
    assert_conserved(&app).await;
    app.stop().await;
}

async fn a_deleted_product_is_discontinued(backend: Backend) {
    let (app, _nats) = service(backend, &[("services.inventory.initial_stock", json!(3))]).await;
    let peer = ordering(&app).await;
    let created = stocked(&app, &peer, "OLD-1").await;
    let deleted = ProductDeletedV1 { product_id: created.product.product_id, version: 2, sku: "OLD-1".into() };
    peer.send("catalog", &deleted).await;
    let url = app.url(&format!("{STOCK}/OLD-1"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let free: Value = app.client.get(&url).send().await.unwrap().json().await.unwrap();
        if free["discontinued"] == true {
            assert_eq!(free["available"], 3, "the units stay counted");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never discontinued");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.stop().await;
}

async fn token_matrix(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let peer = ordering(&app).await;
    stocked(&app, &peer, "KEY-1").await;
    let post = |path: &str, body: Value| Endpoint {
        method: Method::POST,
        url: app.url(&format!("{STOCK}/KEY-1/{path}")),
        body: Some(body),
        if_match: None,
        allowed: StatusCode::OK,
    };
    let get = |url: String| Endpoint { method: Method::GET, url, body: None, if_match: None, allowed: StatusCode::OK };
    let endpoints = [
        post("receipts", json!({"quantity": 2})),
        post("adjustments", json!({"delta": 1, "reason": "found"})),
        get(app.url(STOCK)),
        get(app.url("/admin/dead-letters")),
    ];
    assert_token_matrix(&app, &endpoints, &app.issuer.claims("admin-1", &["admin"]), &app.admin).await;
    app.stop().await;
}
