//! The catalog's events on the bus keep the basket's products current: prices that moved are
//! shown, deleted products become unavailable, and neither duplicates nor stale states change
//! anything. Embedded log on SQLite, NATS JetStream on PostgreSQL.

use flotilla_contracts::catalog::{ProductCreatedV1, ProductDeletedV1, ProductUpdatedV1};
use flotilla_messaging::RawMessage;
use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

on_both_backends!(
    a_price_change_is_shown_against_the_price_when_added,
    a_deleted_product_is_unavailable_and_can_only_be_removed,
    an_older_state_after_a_newer_one_changes_nothing,
    duplicates_change_nothing,
);

async fn a_price_change_is_shown_against_the_price_when_added(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let alice = world.customer("alice");
    add(&alice, &world.items_url("alice"), skillet.product_id, 2).await;

    let cheaper = state(skillet.product_id, 2, "Skillet, 26 cm", 2999, "EUR");
    world.publish(&ProductUpdatedV1 { product: cheaper }).await;
    world.settled().await;
    let (basket, etag) = read(&alice, &world.basket_url("alice")).await;
    let line = line(&basket, skillet.product_id);
    assert_eq!(line["name"], "Skillet, 26 cm", "names follow the catalog too");
    assert_eq!(line["unit_price"], json!({"amount_minor": 2999, "currency": "EUR"}));
    assert_eq!(line["price_when_added"], json!({"amount_minor": 3499, "currency": "EUR"}));
    assert_eq!(line["price_changed"], true);
    assert_eq!(basket["totals"], json!([{"amount_minor": 5998, "currency": "EUR"}]), "totals at today's price");
    assert_eq!(etag, "\"1\"", "the catalog's change is not a change of the basket");

    // Adding more keeps the price the line was added at: the warning stays until the line goes.
    let grown = add(&alice, &world.items_url("alice"), skillet.product_id, 1).await;
    assert_eq!(crate::support::line(&grown, skillet.product_id)["price_changed"], true);

    let back = state(skillet.product_id, 3, "Skillet, 26 cm", 3499, "EUR");
    world.publish(&ProductUpdatedV1 { product: back }).await;
    world.settled().await;
    let (basket, _) = read(&alice, &world.basket_url("alice")).await;
    assert_eq!(crate::support::line(&basket, skillet.product_id)["price_changed"], false);
    world.stop().await;
}

async fn a_deleted_product_is_unavailable_and_can_only_be_removed(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let pan = world.product("Pan", 1000, "EUR").await;
    let alice = world.customer("alice");
    add(&alice, &world.items_url("alice"), skillet.product_id, 1).await;
    add(&alice, &world.items_url("alice"), pan.product_id, 2).await;

    world.publish(&ProductDeletedV1 { product_id: skillet.product_id, version: 1, sku: skillet.sku.clone() }).await;
    world.settled().await;
    let (basket, _) = read(&alice, &world.basket_url("alice")).await;
    let gone = line(&basket, skillet.product_id);
    assert_eq!(
        (gone["available"].clone(), gone["name"].clone()),
        (json!(false), json!("Skillet")),
        "shown as it last was"
    );
    assert_eq!(
        basket["totals"],
        json!([{"amount_minor": 2000, "currency": "EUR"}]),
        "what cannot be bought costs nothing"
    );

    let more = alice
        .post(world.items_url("alice"))
        .json(&json!({"product_id": skillet.product_id, "quantity": 1}))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(more, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"][0], json!({"detail": "is no longer in the catalogue", "pointer": "#/product_id"}));
    let set =
        alice.put(world.item_url("alice", skillet.product_id)).json(&json!({"quantity": 3})).send().await.unwrap();
    expect_problem(set, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    // Another customer cannot start a line of it either.
    let bob = world.customer("bob");
    let bobs = bob.post(world.items_url("bob")).json(&json!({"product_id": skillet.product_id, "quantity": 1})).send();
    expect_problem(bobs.await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation").await;

    let removed = alice.delete(world.item_url("alice", skillet.product_id)).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::OK);
    let basket: Value = removed.json().await.unwrap();
    assert_eq!(basket["lines"].as_array().unwrap().len(), 1);

    // A deletion the basket hears of before the product itself leaves nothing to add.
    let unseen = Uuid::now_v7();
    world.publish(&ProductDeletedV1 { product_id: unseen, version: 4, sku: "KIT-GHOST".into() }).await;
    world.publish(&ProductCreatedV1 { product: state(unseen, 1, "Ghost", 100, "EUR") }).await;
    world.settled().await;
    let ghost = alice.post(world.items_url("alice")).json(&json!({"product_id": unseen, "quantity": 1})).send();
    let problem = expect_problem(ghost.await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"][0]["detail"], "is not in the catalogue");
    world.stop().await;
}

async fn an_older_state_after_a_newer_one_changes_nothing(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let alice = world.customer("alice");
    add(&alice, &world.items_url("alice"), skillet.product_id, 1).await;

    world.publish(&ProductUpdatedV1 { product: state(skillet.product_id, 3, "Skillet v3", 2500, "EUR") }).await;
    // Versions 2 and 1 arrive late, as a redelivery or a replay of an older log would bring them.
    world.publish(&ProductUpdatedV1 { product: state(skillet.product_id, 2, "Skillet v2", 9999, "EUR") }).await;
    world.publish(&ProductCreatedV1 { product: state(skillet.product_id, 1, "Skillet v1", 1, "EUR") }).await;
    world.settled().await;
    let (basket, _) = read(&alice, &world.basket_url("alice")).await;
    let line = line(&basket, skillet.product_id);
    assert_eq!((line["name"].clone(), line["unit_price"]["amount_minor"].clone()), (json!("Skillet v3"), json!(2500)));

    // The same holds for deletions: a state older than a deletion does not bring it back.
    world.publish(&ProductDeletedV1 { product_id: skillet.product_id, version: 4, sku: skillet.sku.clone() }).await;
    world.publish(&ProductUpdatedV1 { product: state(skillet.product_id, 4, "Skillet v4", 2000, "EUR") }).await;
    world.publish(&ProductUpdatedV1 { product: state(skillet.product_id, 3, "Skillet v3", 2500, "EUR") }).await;
    world.settled().await;
    let (basket, _) = read(&alice, &world.basket_url("alice")).await;
    let line = crate::support::line(&basket, skillet.product_id);
    assert_eq!((line["available"].clone(), line["name"].clone()), (json!(false), json!("Skillet v3")));
    world.stop().await;
}

async fn duplicates_change_nothing(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let alice = world.customer("alice");
    add(&alice, &world.items_url("alice"), skillet.product_id, 1).await;

    let update =
        world.publish(&ProductUpdatedV1 { product: state(skillet.product_id, 2, "Skillet v2", 2500, "EUR") }).await;
    world.publish(&ProductUpdatedV1 { product: state(skillet.product_id, 3, "Skillet v3", 2700, "EUR") }).await;
    // Version 2 again: under its own id (which the bus drops or the inbox ignores) and under a
    // new id, as a producer retrying after a lost acknowledgement would send it.
    let again = RawMessage { id: Uuid::now_v7().to_string(), ..update.clone() };
    world.publish_raw(&[update, again]).await;
    let created = ProductCreatedV1 { product: state(skillet.product_id, 1, "Skillet", 3499, "EUR") };
    world.publish(&created).await;
    world.settled().await;

    let (basket, etag) = read(&alice, &world.basket_url("alice")).await;
    let line = line(&basket, skillet.product_id);
    assert_eq!((line["name"].clone(), line["unit_price"]["amount_minor"].clone()), (json!("Skillet v3"), json!(2700)));
    assert_eq!((line["quantity"].clone(), etag.as_str()), (json!(1), "\"1\""));
    world.stop().await;
}
