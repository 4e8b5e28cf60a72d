//! Malformed and hostile input: every answer is a problem document, and nothing is written.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

on_both_backends!(malformed_bodies_get_problems_and_write_nothing, bad_paths_and_headers_get_problems);

async fn malformed_bodies_get_problems_and_write_nothing(backend: Backend) {
    let world = world(backend).await;
    let skillet = world.product("Skillet", 3499, "EUR").await;
    let alice = world.customer("alice");
    let id = skillet.product_id;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    // (case, body, status, problem type, field)
    let adds: Vec<(&str, String, StatusCode, &str, Option<&str>)> = vec![
        ("truncated JSON", r#"{"product_id": "#.into(), StatusCode::BAD_REQUEST, "malformed-body", None),
        ("not JSON", "product_id=1".into(), StatusCode::BAD_REQUEST, "malformed-body", None),
        ("empty body", String::new(), StatusCode::BAD_REQUEST, "malformed-body", None),
        (
            "trailing garbage",
            format!(r#"{{"product_id": "{id}", "quantity": 1}} x"#),
            StatusCode::BAD_REQUEST,
            "malformed-body",
            None,
        ),
        ("an array", "[]".into(), unprocessable, "validation", None),
        (
            "unknown field",
            json!({"product_id": id, "quantity": 1, "price": 1}).to_string(),
            unprocessable,
            "validation",
            None,
        ),
        ("no quantity", json!({"product_id": id}).to_string(), unprocessable, "validation", Some("/quantity")),
        ("no product", json!({"quantity": 1}).to_string(), unprocessable, "validation", Some("/product_id")),
        (
            "product not a UUID",
            json!({"product_id": "skillet", "quantity": 1}).to_string(),
            unprocessable,
            "validation",
            Some("/product_id"),
        ),
        (
            "quantity 0",
            json!({"product_id": id, "quantity": 0}).to_string(),
            unprocessable,
            "validation",
            Some("/quantity"),
        ),
        (
            "quantity 100",
            json!({"product_id": id, "quantity": 100}).to_string(),
            unprocessable,
            "validation",
            Some("/quantity"),
        ),
        (
            "quantity -1",
            json!({"product_id": id, "quantity": -1}).to_string(),
            unprocessable,
            "validation",
            Some("/quantity"),
        ),
        (
            "quantity \"x\"",
            json!({"product_id": id, "quantity": "x"}).to_string(),
            unprocessable,
            "validation",
            Some("/quantity"),
        ),
        (
            "quantity 1.5",
            json!({"product_id": id, "quantity": 1.5}).to_string(),
            unprocessable,
            "validation",
            Some("/quantity"),
        ),
        (
            "quantity too big for any integer",
            format!(r#"{{"product_id": "{id}", "quantity": 1e40}}"#),
            unprocessable,
            "validation",
            Some("/quantity"),
        ),
        (
            "quantity null",
            json!({"product_id": id, "quantity": null}).to_string(),
            unprocessable,
            "validation",
            Some("/quantity"),
        ),
    ];
    for (case, body, status, slug, field) in adds {
        let response = alice
            .post(world.items_url("alice"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{case}");
        let problem = expect_problem(response, status, slug).await;
        if let Some(field) = field {
            assert_eq!(flotilla_testkit::location(&problem["errors"][0]), field, "{case}: {problem}");
        }
    }
    let sets: Vec<(&str, String)> = vec![
        ("quantity 0", json!({"quantity": 0}).to_string()),
        ("quantity 100", json!({"quantity": 100}).to_string()),
        ("quantity -1", json!({"quantity": -1}).to_string()),
        ("quantity \"x\"", json!({"quantity": "x"}).to_string()),
        ("unknown field", json!({"quantity": 1, "product_id": id}).to_string()),
    ];
    for (case, body) in sets {
        let response = alice
            .put(world.item_url("alice", id))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let problem: Value = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
        assert!(!flotilla_testkit::location(&problem["errors"][0]).is_empty(), "{case}: {problem}");
    }
    let as_text = alice.post(world.items_url("alice")).header("content-type", "text/plain").body("{}").send().await;
    expect_problem(as_text.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type").await;
    let huge = "x".repeat(300_000);
    let too_big = alice.post(world.items_url("alice")).json(&json!({"product_id": id, "quantity": 1, "pad": huge}));
    expect_problem(too_big.send().await.unwrap(), StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;

    assert_eq!(world.stored_lines().await, 0, "no bad request wrote anything");
    let (basket, etag) = read(&alice, &world.basket_url("alice")).await;
    assert_eq!((basket["lines"].clone(), etag.as_str()), (json!([]), "\"0\""));
    world.stop().await;
}

async fn bad_paths_and_headers_get_problems(backend: Backend) {
    let world = world(backend).await;
    let alice = world.customer("alice");
    for product in ["not-a-uuid", "%00", "..%2F..%2Fmetrics", "123"] {
        let url = world.app.url(&format!("{BASKETS}/alice/items/{product}"));
        for request in [alice.put(&url).json(&json!({"quantity": 1})), alice.delete(&url)] {
            let response = request.send().await.unwrap();
            let problem = expect_problem(response, StatusCode::BAD_REQUEST, "invalid-parameter").await;
            assert!(problem["detail"].is_string(), "{product}: {problem}");
        }
    }
    // A customer id no issuer could have put in a token: refused as a parameter, not looked up.
    let long = "a".repeat(256);
    for customer in [long.as_str(), "al%0Aice"] {
        let response = alice.get(world.app.url(&format!("{BASKETS}/{customer}"))).send().await.unwrap();
        expect_problem(response, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    }
    let not_ascii =
        alice.delete(world.basket_url("alice")).header("if-match", "\"ü\"".as_bytes()).send().await.unwrap();
    expect_problem(not_ascii, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    let bad_key = alice
        .post(world.items_url("alice"))
        .header("idempotency-key", "")
        .json(&json!({"product_id": uuid::Uuid::now_v7(), "quantity": 1}))
        .send()
        .await
        .unwrap();
    expect_problem(bad_key, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    let wrong_method = alice.patch(world.basket_url("alice")).send().await.unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers()["content-type"], "application/problem+json");
    assert_eq!(world.stored_lines().await, 0);
    world.stop().await;
}
