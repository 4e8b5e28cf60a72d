//! A customer's basket over HTTP: adding, growing, setting, removing and clearing lines, with
//! versions, `If-Match`, `Idempotency-Key` and the rules on what a basket may hold.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::*;

on_both_backends!(
    a_basket_is_filled_changed_and_cleared,
    a_stale_if_match_is_refused_and_changes_nothing,
    a_retried_add_is_applied_once,
    what_a_basket_may_hold_is_bounded,
);

async fn a_basket_is_filled_changed_and_cleared(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Cast-Iron Skillet", 3499, "EUR").await;
    let pan = world.product("Crepe Pan", 1250, "EUR").await;
    let alice = world.customer("alice");
    let url = world.basket_url("alice");

    let (empty, etag) = read(&alice, &url).await;
    assert_eq!(empty, json!({"customer_id": "alice", "lines": [], "totals": [], "version": 0}));
    assert_eq!(etag, "\"0\"");

    let basket = add(&alice, &world.items_url("alice"), skillet.product_id, 2).await;
    let first = line(&basket, skillet.product_id);
    assert_eq!(first["sku"], skillet.sku.as_str());
    assert_eq!(first["name"], "Cast-Iron Skillet");
    assert_eq!(first["quantity"], 2);
    assert_eq!(first["unit_price"], json!({"amount_minor": 3499, "currency": "EUR"}));
    assert_eq!(first["price_when_added"], first["unit_price"]);
    assert_eq!((first["price_changed"].clone(), first["available"].clone()), (json!(false), json!(true)));
    assert_eq!(first["line_total"], json!({"amount_minor": 6998, "currency": "EUR"}));
    assert_eq!(basket["version"], 1);

    let basket = add(&alice, &world.items_url("alice"), skillet.product_id, 3).await;
    assert_eq!(basket["lines"].as_array().unwrap().len(), 1, "adding again grows the line: {basket}");
    assert_eq!(line(&basket, skillet.product_id)["quantity"], 5);
    let basket = add(&alice, &world.items_url("alice"), pan.product_id, 1).await;
    assert_eq!(basket["totals"], json!([{"amount_minor": 5 * 3499 + 1250, "currency": "EUR"}]));
    let order: Vec<&str> = basket["lines"].as_array().unwrap().iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(order, ["Cast-Iron Skillet", "Crepe Pan"], "lines stay in the order they were added");

    let set =
        alice.put(world.item_url("alice", skillet.product_id)).json(&json!({"quantity": 1})).send().await.unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    assert_eq!(set.headers()["etag"], "\"4\"");
    let basket: Value = set.json().await.unwrap();
    assert_eq!(
        (line(&basket, skillet.product_id)["quantity"].clone(), basket["version"].clone()),
        (json!(1), json!(4))
    );
    // PUT is idempotent: the same quantity again is no change, and no new version.
    let again =
        alice.put(world.item_url("alice", skillet.product_id)).json(&json!({"quantity": 1})).send().await.unwrap();
    assert_eq!(again.json::<Value>().await.unwrap(), basket);
    // PUT of a product not yet in the basket adds its line.
    alice.delete(world.item_url("alice", pan.product_id)).send().await.unwrap();
    let put_new =
        alice.put(world.item_url("alice", pan.product_id)).json(&json!({"quantity": 7})).send().await.unwrap();
    assert_eq!(line(&put_new.json::<Value>().await.unwrap(), pan.product_id)["quantity"], 7);

    let removed = alice.delete(world.item_url("alice", pan.product_id)).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::OK);
    let basket: Value = removed.json().await.unwrap();
    assert_eq!(basket["lines"].as_array().unwrap().len(), 1);
    assert_eq!(basket["totals"], json!([{"amount_minor": 3499, "currency": "EUR"}]));
    let gone = alice.delete(world.item_url("alice", pan.product_id)).send().await.unwrap();
    expect_problem(gone, StatusCode::NOT_FOUND, "not-found").await;

    let cleared = alice.delete(&url).send().await.unwrap();
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    let cleared_etag = cleared.headers()["etag"].to_str().unwrap().to_owned();
    let (basket, etag) = read(&alice, &url).await;
    assert_eq!((basket["lines"].clone(), basket["totals"].clone()), (json!([]), json!([])));
    assert_eq!(etag, cleared_etag);
    assert_eq!(basket["version"], 8, "a cleared basket keeps counting, so an old ETag stays stale");
    let cleared_again = alice.delete(&url).send().await.unwrap();
    assert_eq!(
        (cleared_again.status(), cleared_again.headers()["etag"].to_str().unwrap()),
        (StatusCode::NO_CONTENT, etag.as_str())
    );
    assert_eq!(world.stored_lines().await, 0);
    world.stop().await;
}

async fn a_stale_if_match_is_refused_and_changes_nothing(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let alice = world.customer("alice");
    let (_, fresh) = read(&alice, &world.basket_url("alice")).await;
    let body = json!({"product_id": skillet.product_id, "quantity": 1});
    let added = alice.post(world.items_url("alice")).header("if-match", &fresh).json(&body).send().await.unwrap();
    assert_eq!(added.status(), StatusCode::OK, "the current version is admitted");
    let current = added.headers()["etag"].to_str().unwrap().to_owned();

    let stale = [
        alice.post(world.items_url("alice")).json(&body),
        alice.put(world.item_url("alice", skillet.product_id)).json(&json!({"quantity": 5})),
        alice.delete(world.item_url("alice", skillet.product_id)),
        alice.delete(world.basket_url("alice")),
    ];
    for request in stale {
        let response = request.header("if-match", &fresh).send().await.unwrap();
        expect_problem(response, StatusCode::PRECONDITION_FAILED, "precondition-failed").await;
    }
    let (basket, etag) = read(&alice, &world.basket_url("alice")).await;
    assert_eq!((etag, line(&basket, skillet.product_id)["quantity"].clone()), (current.clone(), json!(1)));

    let weak = alice.delete(world.basket_url("alice")).header("if-match", format!("W/{current}")).send().await.unwrap();
    expect_problem(weak, StatusCode::PRECONDITION_FAILED, "precondition-failed").await;
    let matching = alice.delete(world.basket_url("alice")).header("if-match", &current).send().await.unwrap();
    assert_eq!(matching.status(), StatusCode::NO_CONTENT);
    world.stop().await;
}

async fn a_retried_add_is_applied_once(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let alice = world.customer("alice");
    let post = |quantity: i64| {
        alice
            .post(world.items_url("alice"))
            .header("idempotency-key", "add-1")
            .json(&json!({"product_id": skillet.product_id, "quantity": quantity}))
            .send()
    };
    let first = post(2).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first_etag = first.headers()["etag"].clone();
    let first: Value = first.json().await.unwrap();
    let again = post(2).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["etag"], first_etag);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let (basket, _) = read(&alice, &world.basket_url("alice")).await;
    assert_eq!(
        (line(&basket, skillet.product_id)["quantity"].clone(), basket["version"].clone()),
        (json!(2), json!(1))
    );

    let other = post(3).await.unwrap();
    expect_problem(other, StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused").await;
    // Keys belong to their caller: another customer's same key is a request of its own.
    let bob = world.customer("bob");
    let bobs = bob
        .post(world.items_url("bob"))
        .header("idempotency-key", "add-1")
        .json(&json!({"product_id": skillet.product_id, "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!((bobs.status(), bobs.headers().get("idempotent-replayed")), (StatusCode::OK, None));
    let (basket, _) = read(&alice, &world.basket_url("alice")).await;
    assert_eq!(line(&basket, skillet.product_id)["quantity"], 2, "nothing more was added");
    world.stop().await;
}

async fn what_a_basket_may_hold_is_bounded(backend: Backend) {
    let world = world(backend).await;
    let alice = world.customer("alice");
    let items = world.items_url("alice");
    let skillet = world.product("Skillet", 3499, "EUR").await;
    add(&alice, &items, skillet.product_id, 98).await;
    let post = |product: Uuid, quantity: i64| {
        alice.post(&items).json(&json!({"product_id": product, "quantity": quantity})).send()
    };

    let over =
        expect_problem(post(skillet.product_id, 2).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation")
            .await;
    assert_eq!(flotilla_testkit::location(&over["errors"][0]), "/quantity", "{over}");
    assert!(over["errors"][0]["detail"].as_str().unwrap().contains("at most 99"), "{over}");
    assert_eq!(line(&add(&alice, &items, skillet.product_id, 1).await, skillet.product_id)["quantity"], 99);

    let dollars = world.product("Import Skillet", 4200, "USD").await;
    let currency =
        expect_problem(post(dollars.product_id, 1).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation")
            .await;
    assert_eq!(flotilla_testkit::location(&currency["errors"][0]), "/product_id", "{currency}");
    let by_put =
        alice.put(world.item_url("alice", dollars.product_id)).json(&json!({"quantity": 1})).send().await.unwrap();
    let by_put = expect_problem(by_put, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(flotilla_testkit::location(&by_put["errors"][0]), "product_id", "a product named in the path: {by_put}");

    let unknown =
        expect_problem(post(Uuid::now_v7(), 1).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(unknown["errors"][0], json!({"detail": "is not in the catalogue", "pointer": "#/product_id"}));

    for n in 1..MAX_LINES {
        let product = world.product(&format!("Spatula {n}"), 500, "EUR").await;
        add(&alice, &items, product.product_id, 1).await;
    }
    let one_more = world.product("Whisk", 300, "EUR").await;
    let full =
        expect_problem(post(one_more.product_id, 1).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "validation")
            .await;
    assert_eq!(flotilla_testkit::location(&full["errors"][0]), "/product_id", "{full}");
    assert!(full["errors"][0]["detail"].as_str().unwrap().contains(&format!("{MAX_LINES} lines")), "{full}");

    let (basket, _) = read(&alice, &world.basket_url("alice")).await;
    assert_eq!(basket["lines"].as_array().unwrap().len(), MAX_LINES);
    assert_eq!(basket["version"], 2 + i64::try_from(MAX_LINES).unwrap() - 1, "no refused change made a version");
    assert_eq!(world.stored_lines().await, i64::try_from(MAX_LINES).unwrap());
    world.stop().await;
}
