//! Malformed and hostile input: every answer is a problem document, and nothing is written.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

on_both_backends!(
    malformed_creates_get_problems_and_write_nothing,
    malformed_captures_and_refunds_change_nothing,
    bad_paths_get_problems
);

fn with(field: &str, value: Value) -> String {
    let mut body = intent_request(APPROVED, 100, "order-50");
    body[field] = value;
    body.to_string()
}

fn without(field: &str) -> String {
    let mut body = intent_request(APPROVED, 100, "order-50");
    body.as_object_mut().unwrap().remove(field);
    body.to_string()
}

async fn malformed_creates_get_problems_and_write_nothing(backend: Backend) {
    let app = provider(backend).await;
    let unknown = {
        let mut body = intent_request(APPROVED, 100, "order-50");
        body["customer"] = json!("cus_1");
        body.to_string()
    };
    let validation = StatusCode::UNPROCESSABLE_ENTITY;
    let cases: Vec<(&str, String, StatusCode, &str, &str)> = vec![
        ("truncated JSON", r#"{"amount": 1"#.into(), StatusCode::BAD_REQUEST, "malformed-body", ""),
        ("not JSON", "amount=1".into(), StatusCode::BAD_REQUEST, "malformed-body", ""),
        ("empty body", String::new(), StatusCode::BAD_REQUEST, "malformed-body", ""),
        ("trailing data", format!("{} x", with("amount", json!(1))), StatusCode::BAD_REQUEST, "malformed-body", ""),
        ("an array", "[]".into(), validation, "validation", ""),
        ("unknown field", unknown, validation, "validation", ""),
        ("amount as text", with("amount", json!("100")), validation, "validation", "/amount"),
        ("amount zero", with("amount", json!(0)), validation, "validation", "/amount"),
        ("amount negative", with("amount", json!(-100)), validation, "validation", "/amount"),
        ("amount fractional", with("amount", json!(1.5)), validation, "validation", "/amount"),
        ("amount overflowing", r#"{"amount": 99999999999999999999}"#.into(), validation, "validation", "/amount"),
        ("currency lower case", with("currency", json!("eur")), validation, "validation", "/currency"),
        ("currency too long", with("currency", json!("EURO")), validation, "validation", "/currency"),
        ("no currency", without("currency"), validation, "validation", "/currency"),
        (
            "card with spaces",
            with("card_number", json!("4242 4242 4242 4242")),
            validation,
            "validation",
            "/card_number",
        ),
        ("card too short", with("card_number", json!("424242424242424")), validation, "validation", "/card_number"),
        ("card failing Luhn", with("card_number", json!("4242424242424241")), validation, "validation", "/card_number"),
        (
            "card as a number",
            with("card_number", json!(4242424242424242_i64)),
            validation,
            "validation",
            "/card_number",
        ),
        ("no reference", without("reference"), validation, "validation", "/reference"),
        ("blank reference", with("reference", json!("  ")), validation, "validation", "/reference"),
        ("long reference", with("reference", json!("r".repeat(101))), validation, "validation", "/reference"),
        ("control in reference", with("reference", json!("a\u{0}b")), validation, "validation", "/reference"),
        ("automatic capture", with("capture_method", json!("automatic")), validation, "validation", "/capture_method"),
        ("no capture method", without("capture_method"), validation, "validation", "/capture_method"),
    ];
    for (case, body, status, slug, field) in cases {
        let response = merchant()
            .post(app.url(INTENTS))
            .header("idempotency-key", new_key())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{case}");
        let problem = expect_problem(response, status, slug).await;
        if !field.is_empty() {
            assert_eq!(flotilla_testkit::location(&problem["errors"][0]), field, "{case}: {problem}");
        }
    }
    // Every broken rule is named at once.
    let mut all_wrong = intent_request("1234", 0, "");
    all_wrong["currency"] = json!("usd");
    let problem =
        expect_problem(post(&app, INTENTS, &new_key(), Some(all_wrong)).await, validation, "validation").await;
    let fields: Vec<String> = problem["errors"].as_array().unwrap().iter().map(flotilla_testkit::location).collect();
    assert_eq!(fields, ["/amount", "/currency", "/reference", "/card_number"], "{problem}");

    let form = merchant()
        .post(app.url(INTENTS))
        .header("idempotency-key", new_key())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("amount=1")
        .send()
        .await
        .unwrap();
    expect_problem(form, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type").await;
    let mut huge = intent_request(APPROVED, 100, "order-50");
    huge["padding"] = json!("x".repeat(300_000));
    let too_big = post(&app, INTENTS, &new_key(), Some(huge)).await;
    expect_problem(too_big, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    assert_nothing_written(&app).await;
    app.stop().await;
}

async fn malformed_captures_and_refunds_change_nothing(backend: Backend) {
    let app = provider(backend).await;
    let intent = authorize(&app, 100, "order-51").await;
    let keys = count(&app, "idempotency_keys").await;
    let capture = format!("{INTENTS}/{}/capture", id(&intent));
    let cancel = format!("{INTENTS}/{}/cancel", id(&intent));
    let cases = [
        (capture.as_str(), json!({"amount_to_capture": 0}), "/amount_to_capture"),
        (capture.as_str(), json!({"amount_to_capture": -5}), "/amount_to_capture"),
        (capture.as_str(), json!({"amount_to_capture": "all"}), "/amount_to_capture"),
        (capture.as_str(), json!({"amount": 50}), ""),
        (cancel.as_str(), json!({"cancellation_reason": "duplicate"}), ""),
        (REFUNDS, json!({"amount": 10}), "/payment_intent"),
        (REFUNDS, json!({"payment_intent": id(&intent), "amount": 0}), "/amount"),
        (REFUNDS, json!({"payment_intent": id(&intent), "reason": "x"}), ""),
    ];
    for (path, body, field) in cases {
        let response = post(&app, path, &new_key(), Some(body.clone())).await;
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
        assert!(flotilla_testkit::location(&problem["errors"][0]).starts_with(field), "{path} {body}: {problem}");
    }
    // A body must say it is JSON; an empty one may say nothing.
    let untyped = merchant().post(app.url(&capture)).header("idempotency-key", new_key()).body("{}").send().await;
    expect_problem(untyped.unwrap(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type").await;
    let broken = merchant()
        .post(app.url(&cancel))
        .header("idempotency-key", new_key())
        .header("content-type", "application/json");
    expect_problem(broken.body("{").send().await.unwrap(), StatusCode::BAD_REQUEST, "malformed-body").await;
    let huge = json!({"amount_to_capture": 1, "padding": "x".repeat(300_000)});
    expect_problem(
        post(&app, &capture, &new_key(), Some(huge)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
    )
    .await;

    assert_eq!(get_json(&app, &format!("{INTENTS}/{}", id(&intent))).await, intent, "unchanged");
    assert_eq!(count(&app, "refunds").await, 0);
    assert_eq!(count(&app, "idempotency_keys").await, keys, "no key spent on a bad request");
    app.stop().await;
}

async fn bad_paths_get_problems(backend: Backend) {
    let app = provider(backend).await;
    for path in ["not-an-id", "%00", "..%2F..%2Fmetrics", "pi_%27%20OR%20%271%27%3D%271"] {
        let response = get(&app, &format!("{INTENTS}/{path}")).await;
        assert!(response.status().is_client_error(), "{path}: {}", response.status());
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    }
    for query in ["?reference=%00", "?reference=a%0Ab"] {
        let response = get(&app, &format!("{INTENTS}{query}")).await;
        expect_problem(response, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    }
    for query in ["?payment_intent=%00", "?payment_intent=re_0198c2d3e4f5a6b7c8d9e0f1a2b3c4d5"] {
        let response = get(&app, &format!("{REFUNDS}{query}")).await;
        expect_problem(response, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    }
    for path in [format!("{INTENTS}/%00/capture"), format!("{INTENTS}/%00/cancel")] {
        let response = post(&app, &path, &new_key(), None).await;
        expect_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    }
    let nul = post(&app, REFUNDS, &new_key(), Some(json!({"payment_intent": "pi_\u{0}"}))).await;
    expect_problem(nul, StatusCode::NOT_FOUND, "not-found").await;
    assert_nothing_written(&app).await;
    let nowhere = get(&app, "/v1/charges").await;
    expect_problem(nowhere, StatusCode::NOT_FOUND, "not-found").await;
    let wrong_method = merchant().delete(app.url(INTENTS)).send().await.unwrap();
    expect_problem(wrong_method, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed").await;
    app.stop().await;
}
