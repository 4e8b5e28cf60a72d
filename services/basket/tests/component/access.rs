//! Who may read and change a basket: its customer both, an administrator and a service account
//! with `basket.read` only read, everyone else nothing; the token matrix on every endpoint.

use flotilla_testkit::matrix::{Endpoint, assert_token_matrix};
use flotilla_testkit::{Backend, client_with_token, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

on_both_backends!(
    token_matrix,
    a_customer_reads_and_changes_only_their_own_basket,
    an_administrator_reads_any_basket_but_changes_none,
    a_service_account_reads_with_basket_read_and_never_writes,
);

/// The owner of the basket the matrix runs against: neither the matrix's "another customer"
/// (`customer-1`) nor its caller without roles (`service-x`).
const OWNER: &str = "customer-alice";

async fn token_matrix(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let endpoint = |method, url, body, allowed| Endpoint { method, url, body, if_match: None, allowed };
    let owner_claims = world.app.issuer.claims(OWNER, &["customer"]);
    let owner = client_with_token(&world.app.issuer.sign(&owner_claims));
    let changes = [
        endpoint(
            Method::POST,
            world.items_url(OWNER),
            Some(json!({"product_id": skillet.product_id, "quantity": 1})),
            StatusCode::OK,
        ),
        endpoint(Method::PUT, world.item_url(OWNER, skillet.product_id), Some(json!({"quantity": 3})), StatusCode::OK),
        endpoint(Method::DELETE, world.item_url(OWNER, skillet.product_id), None, StatusCode::OK),
        endpoint(Method::DELETE, world.basket_url(OWNER), None, StatusCode::NO_CONTENT),
        endpoint(Method::GET, world.basket_url(OWNER), None, StatusCode::OK),
    ];
    assert_token_matrix(&world.app, &changes, &owner_claims, &owner).await;
    let (basket, _) = read(&owner, &world.basket_url(OWNER)).await;
    // The owner's three changes and nothing else: clearing the emptied basket was no change.
    assert_eq!(basket["version"], 3, "{basket}");

    // Reading as an administrator, and as a service account: the forgeries of those tokens fail.
    let reads = [endpoint(Method::GET, world.basket_url(OWNER), None, StatusCode::OK)];
    let admin_claims = world.app.issuer.claims("admin-1", &["admin"]);
    assert_token_matrix(&world.app, &reads, &admin_claims, &world.app.admin).await;
    let ordering = world.service_claims("ordering", "basket.read");
    let ordering_client = client_with_token(&world.app.issuer.sign(&ordering));
    assert_token_matrix(&world.app, &reads, &ordering, &ordering_client).await;

    let dead_letters = [endpoint(Method::GET, world.app.url("/admin/dead-letters"), None, StatusCode::OK)];
    assert_token_matrix(&world.app, &dead_letters, &admin_claims, &world.app.admin).await;
    world.stop().await;
}

async fn a_customer_reads_and_changes_only_their_own_basket(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let (alice, bob) = (world.customer("alice"), world.customer("bob"));
    add(&alice, &world.items_url("alice"), skillet.product_id, 2).await;

    let attempts = [
        bob.get(world.basket_url("alice")),
        bob.post(world.items_url("alice")).json(&json!({"product_id": skillet.product_id, "quantity": 1})),
        bob.put(world.item_url("alice", skillet.product_id)).json(&json!({"quantity": 9})),
        bob.delete(world.item_url("alice", skillet.product_id)),
        bob.delete(world.basket_url("alice")),
    ];
    for attempt in attempts {
        expect_problem(attempt.send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
    }
    // A person's token with the service scope is still a person's.
    let mut scoped = world.app.issuer.claims("bob", &["customer"]);
    scoped["scope"] = json!("openid basket.read");
    let scoped = client_with_token(&world.app.issuer.sign(&scoped));
    expect_problem(scoped.get(world.basket_url("alice")).send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden")
        .await;
    // Refused before the body is read: a bad body from someone else is still a 403.
    let garbage = bob.post(world.items_url("alice")).header("content-type", "application/json").body("{");
    expect_problem(garbage.send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;

    let (basket, etag) = read(&alice, &world.basket_url("alice")).await;
    assert_eq!((line(&basket, skillet.product_id)["quantity"].clone(), etag.as_str()), (json!(2), "\"1\""));
    let (bobs, _) = read(&bob, &world.basket_url("bob")).await;
    assert_eq!(bobs["lines"], json!([]), "bob has a basket of his own");
    world.stop().await;
}

async fn an_administrator_reads_any_basket_but_changes_none(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let alice = world.customer("alice");
    let mine = add(&alice, &world.items_url("alice"), skillet.product_id, 2).await;
    let (seen, _) = read(&world.app.admin, &world.basket_url("alice")).await;
    assert_eq!(seen, mine);
    let change = world.app.admin.delete(world.basket_url("alice")).send().await.unwrap();
    expect_problem(change, StatusCode::FORBIDDEN, "forbidden").await;
    let add_for =
        world.app.admin.post(world.items_url("alice")).json(&json!({"product_id": skillet.product_id, "quantity": 1}));
    expect_problem(add_for.send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(read(&alice, &world.basket_url("alice")).await.0, mine);
    world.stop().await;
}

async fn a_service_account_reads_with_basket_read_and_never_writes(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let alice = world.customer("alice");
    let mine = add(&alice, &world.items_url("alice"), skillet.product_id, 2).await;

    let ordering = world.service_account("ordering", "basket.read");
    assert_eq!(read(&ordering, &world.basket_url("alice")).await.0, mine);
    let writes = [
        ordering.post(world.items_url("alice")).json(&json!({"product_id": skillet.product_id, "quantity": 1})),
        ordering.put(world.item_url("alice", skillet.product_id)).json(&json!({"quantity": 5})),
        ordering.delete(world.item_url("alice", skillet.product_id)),
        ordering.delete(world.basket_url("alice")),
        // Not even a basket under its own name: a service account is nobody's customer.
        ordering.post(world.items_url("ordering")).json(&json!({"product_id": skillet.product_id, "quantity": 1})),
    ];
    for write in writes {
        expect_problem(write.send().await.unwrap(), StatusCode::FORBIDDEN, "forbidden").await;
    }

    let unscoped = world.service_account("reporting", "openid");
    let refused = unscoped.get(world.basket_url("alice")).send().await.unwrap();
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.contains(r#"error="insufficient_scope""#) && challenge.contains("basket.read"), "{challenge}");
    expect_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let anonymous = world.app.client.get(world.basket_url("alice")).send().await.unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(read(&alice, &world.basket_url("alice")).await.0, mine);
    world.stop().await;
}
