//! Who sees an order: its customer and admins; and the stream of its steps.

use std::time::Duration;

use flotilla_contracts::inventory::{ReserveStockV1, StockUnavailableV1};
use flotilla_testkit::{Backend, on_both_backends};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::support::*;

on_both_backends!(only_the_customer_and_admins_see_an_order, the_stream_follows_the_order_to_its_end);

async fn only_the_customer_and_admins_see_an_order(backend: Backend) {
    let world = world(backend, &[]).await;
    let order_id = world.checkout(APPROVE).await;
    let url = world.app.url(&format!("{ORDERS}/{order_id}"));
    assert_eq!(world.customer.get(&url).send().await.unwrap().status(), StatusCode::OK);
    let other = flotilla_testkit::client_with_token(&world.app.issuer.token("customer-2", &["customer"]));
    for path in [url.clone(), format!("{url}/events")] {
        expect_problem(other.get(&path).send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
    }
    expect_problem(other.post(format!("{url}/cancel")).send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
    let theirs: Value = other.get(world.app.url(ORDERS)).send().await.unwrap().json().await.unwrap();
    assert_eq!(theirs["items"].as_array().unwrap().len(), 0, "a customer lists only their own");
    assert_eq!(world.app.admin.get(&url).send().await.unwrap().status(), StatusCode::OK);
    expect_problem(world.app.client.get(&url).send().await.unwrap(), StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let missing = world.customer.get(world.app.url(&format!("{ORDERS}/{}", Uuid::now_v7()))).send().await.unwrap();
    expect_problem(missing, StatusCode::NOT_FOUND, "not-found").await;
    for bad in ["not-a-uuid", "%00"] {
        let response = world.customer.get(world.app.url(&format!("{ORDERS}/{bad}"))).send().await.unwrap();
        expect_problem(response, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    }
    for query in ["limit=0", "limit=201", "status=lost", "after=x", "colour=red"] {
        let response = world.app.admin.get(world.app.url(&format!("{ORDERS}?{query}"))).send().await.unwrap();
        expect_problem(response, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    }
    world.stop().await;
}

async fn the_stream_follows_the_order_to_its_end(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order_id = world.checkout(APPROVE).await;
    let url = world.app.url(&format!("{ORDERS}/{order_id}/events"));
    let response = world.customer.get(&url).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (_, reserve) = world.next::<ReserveStockV1>().await;
    world.services.reply("inventory", &reserve, &StockUnavailableV1 { order_id, shortages: Vec::new() }).await;
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let read = async {
        while let Some(chunk) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read).await.expect("the stream ends with the order");
    let ids: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("id: ")).collect();
    assert_eq!(ids, ["1", "2"], "{text}");
    assert!(text.contains("\"status\":\"rejected\""), "{text}");
    // Resumed after the first entry, only the rest comes.
    let resumed = world.customer.get(&url).header("last-event-id", "1").send().await.unwrap().text().await.unwrap();
    assert_eq!(resumed.lines().filter_map(|l| l.strip_prefix("id: ")).collect::<Vec<_>>(), ["2"]);
    let bad = world.customer.get(&url).header("last-event-id", "x").send().await.unwrap();
    expect_problem(bad, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    world.stop().await;
}
