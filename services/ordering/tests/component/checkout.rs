//! The checkout request: idempotent by key, validated field by field, refused for what cannot
//! be bought, and the basket read with a token.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

on_both_backends!(
    the_same_key_returns_the_same_order,
    bad_checkouts_are_problems_and_accept_nothing,
    the_basket_is_read_with_a_service_token,
);

async fn the_same_key_returns_the_same_order(backend: Backend) {
    let world = world(backend, &[]).await;
    world.fill_basket();
    let body = checkout_body(APPROVE);
    let first = world.checkout_with("checkout-1", &body).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    let first: Value = first.json().await.unwrap();
    assert_eq!(location, format!("{ORDERS}/{}", first["order_id"].as_str().unwrap()));
    let again = world.checkout_with("checkout-1", &body).await;
    assert_eq!(
        (again.status(), again.headers()["idempotent-replayed"].to_str().unwrap()),
        (StatusCode::ACCEPTED, "true")
    );
    assert_eq!(again.json::<Value>().await.unwrap()["order_id"], first["order_id"]);
    let other = world.checkout_with("checkout-1", &checkout_body("4000000000000002")).await;
    expect_problem(other, StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused").await;
    let listed: Value = world.customer.get(world.app.url(ORDERS)).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "one order");
    world.stop().await;
}

async fn bad_checkouts_are_problems_and_accept_nothing(backend: Backend) {
    let world = world(backend, &[]).await;
    let no_key = world.customer.post(world.app.url(ORDERS)).json(&checkout_body(APPROVE)).send().await.unwrap();
    expect_problem(no_key, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    let empty = world.checkout_with("empty", &checkout_body(APPROVE)).await;
    let problem = expect_problem(empty, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    assert_eq!(problem["errors"][0]["detail"], "the basket is empty");
    world.fill_basket();
    let mut bad = checkout_body("42");
    bad["ship_to"]["country"] = json!("gb");
    bad["contact_email"] = json!("ada");
    let problem =
        expect_problem(world.checkout_with("bad", &bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let fields: Vec<String> = problem["errors"].as_array().unwrap().iter().map(flotilla_testkit::location).collect();
    assert_eq!(fields, ["/ship_to/country", "/contact_email", "/payment_method"]);
    let mut extra = checkout_body(APPROVE);
    extra["total"] = json!(1);
    expect_problem(world.checkout_with("extra", &extra).await, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
    let truncated = world
        .customer
        .post(world.app.url(ORDERS))
        .header("idempotency-key", "t")
        .header("content-type", "application/json")
        .body("{\"ship_to\":")
        .send()
        .await
        .unwrap();
    expect_problem(truncated, StatusCode::BAD_REQUEST, "malformed-body").await;
    let service = flotilla_testkit::client_with_token(&world.app.issuer.sign(&json!({
        "iss": world.app.issuer.issuer(), "sub": "shipping", "client_id": "shipping", "aud": "flotilla",
        "iat": flotilla_testkit::now(), "exp": flotilla_testkit::now() + 60, "scope": "", "roles": [],
    })));
    let refused = service
        .post(world.app.url(ORDERS))
        .header("idempotency-key", "s")
        .json(&checkout_body(APPROVE))
        .send()
        .await
        .unwrap();
    expect_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let anonymous = world
        .app
        .client
        .post(world.app.url(ORDERS))
        .header("idempotency-key", "a")
        .json(&checkout_body(APPROVE))
        .send()
        .await
        .unwrap();
    expect_problem(anonymous, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    let listed: Value = world.app.admin.get(world.app.url(ORDERS)).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"], json!([]), "nothing was accepted");
    world.stop().await;
}

async fn the_basket_is_read_with_a_service_token(backend: Backend) {
    let world = world(backend, &[]).await;
    world.checkout(APPROVE).await;
    let calls = world.baskets.calls.lock().unwrap().clone();
    let token = calls[0].as_deref().unwrap().strip_prefix("Bearer ").unwrap().to_owned();
    let claims: Value = {
        use base64::Engine;
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    assert_eq!((claims["sub"].as_str(), claims["client_id"].as_str()), (Some("ordering"), Some("ordering")));
    assert_eq!(claims["scope"], "basket.read");
    world.stop().await;
}
