//! Changes of one basket at once, on both backends: none is lost without `If-Match`, exactly one
//! wins with it, and one `Idempotency-Key` sent many times at once adds once.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::support::*;

on_both_backends!(
    concurrent_adds_are_all_counted,
    competing_changes_of_one_version_let_exactly_one_win,
    one_idempotency_key_sent_at_once_adds_once
);

const RACERS: usize = 8;

async fn concurrent_adds_are_all_counted(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let alice = world.customer("alice");
    let mut racing = JoinSet::new();
    for _ in 0..RACERS {
        let (client, url) = (alice.clone(), world.items_url("alice"));
        let body = json!({"product_id": skillet.product_id, "quantity": 1});
        racing.spawn(async move { client.post(&url).json(&body).send().await.unwrap().status() });
    }
    let statuses = racing.join_all().await;
    assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
    let (basket, _) = read(&alice, &world.basket_url("alice")).await;
    assert_eq!(line(&basket, skillet.product_id)["quantity"], RACERS, "{basket}");
    assert_eq!(basket["version"], RACERS, "one version per change");
    world.stop().await;
}

async fn competing_changes_of_one_version_let_exactly_one_win(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let alice = world.customer("alice");
    let (_, etag) = read(&alice, &world.basket_url("alice")).await;
    let mut racing = JoinSet::new();
    for n in 1..=RACERS {
        let (client, url, etag) = (alice.clone(), world.item_url("alice", skillet.product_id), etag.clone());
        racing.spawn(async move {
            client.put(&url).header("if-match", etag).json(&json!({"quantity": n})).send().await.unwrap().status()
        });
    }
    let statuses = racing.join_all().await;
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let lost = statuses.iter().filter(|s| **s == StatusCode::PRECONDITION_FAILED).count();
    assert_eq!((won, lost), (1, RACERS - 1), "{statuses:?}");
    let (basket, _) = read(&alice, &world.basket_url("alice")).await;
    assert_eq!(basket["version"], 1, "one change applied: {basket}");
    world.stop().await;
}

async fn one_idempotency_key_sent_at_once_adds_once(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let alice = world.customer("alice");
    let mut racing = JoinSet::new();
    for _ in 0..RACERS {
        let (client, url) = (alice.clone(), world.items_url("alice"));
        let body = json!({"product_id": skillet.product_id, "quantity": 2});
        racing.spawn(async move {
            let response = client.post(&url).header("idempotency-key", "race-key").json(&body).send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        });
    }
    let answers = racing.join_all().await;
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::OK, "every sender gets the one response: {body}");
        assert_eq!(body, &answers[0].1);
    }
    let (basket, _) = read(&alice, &world.basket_url("alice")).await;
    assert_eq!(
        (line(&basket, skillet.product_id)["quantity"].clone(), basket["version"].clone()),
        (json!(2), json!(1))
    );
    world.stop().await;
}
