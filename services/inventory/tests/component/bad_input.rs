//! Malformed and hostile input: every answer is a problem document, and nothing is written.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

on_both_backends!(malformed_bodies_get_problems_and_change_nothing, bad_parameters_get_problems);

async fn malformed_bodies_get_problems_and_change_nothing(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let peer = ordering(&app).await;
    stocked(&app, &peer, "BAD-1").await;
    receive(&app, "BAD-1", 3).await;
    let receipts = app.url(&format!("{STOCK}/BAD-1/receipts"));
    let adjustments = app.url(&format!("{STOCK}/BAD-1/adjustments"));
    let cases: Vec<(&str, &str, String, StatusCode, &str)> = vec![
        ("truncated JSON", &receipts, r#"{"quantity": 1"#.into(), StatusCode::BAD_REQUEST, "malformed-body"),
        ("not JSON", &receipts, "quantity=1".into(), StatusCode::BAD_REQUEST, "malformed-body"),
        ("empty body", &receipts, String::new(), StatusCode::BAD_REQUEST, "malformed-body"),
        ("an array", &receipts, "[]".into(), StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        ("zero", &receipts, json!({"quantity": 0}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        ("negative", &receipts, json!({"quantity": -5}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        (
            "too many",
            &receipts,
            json!({"quantity": 1_000_001}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        ("a fraction", &receipts, json!({"quantity": 1.5}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        (
            "beyond i64",
            &receipts,
            r#"{"quantity": 99999999999999999999}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        ("text", &receipts, json!({"quantity": "3"}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        (
            "unknown field",
            &receipts,
            json!({"quantity": 1, "available": 9}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "a blank note",
            &receipts,
            json!({"quantity": 1, "note": " "}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        ("no delta", &adjustments, json!({"reason": "x"}).to_string(), StatusCode::UNPROCESSABLE_ENTITY, "validation"),
        (
            "zero delta",
            &adjustments,
            json!({"delta": 0, "reason": "x"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "no reason",
            &adjustments,
            json!({"delta": 1, "reason": ""}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "i64::MIN",
            &adjustments,
            json!({"delta": i64::MIN, "reason": "x"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            "a control character",
            &adjustments,
            json!({"delta": 1, "reason": "a\u{0}b"}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
    ];
    for (case, url, body, status, slug) in cases {
        let response = app.admin.post(url).header("content-type", "application/json").body(body).send().await.unwrap();
        assert_eq!(response.status(), status, "{case}");
        expect_problem(response, status, slug).await;
    }
    let huge = "x".repeat(300_000);
    let too_big = app.admin.post(&receipts).json(&json!({ "quantity": 1, "note": huge })).send().await.unwrap();
    expect_problem(too_big, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large").await;
    assert_eq!(counts(&app, "BAD-1").await, (3, 0, 0, 3), "no bad request changed anything");
    assert_conserved(&app).await;
    app.stop().await;
}

async fn bad_parameters_get_problems(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let long = "S".repeat(65);
    let paths = [
        format!("{STOCK}/{long}"),
        format!("{STOCK}/%00"),
        format!("{STOCK}?limit=0"),
        format!("{STOCK}?limit=201"),
        format!("{STOCK}?limit=x"),
        format!("{STOCK}?after={long}"),
        format!("{STOCK}?colour=red"),
        "/api/v1/inventory/reservations/not-a-uuid".into(),
    ];
    for path in paths {
        let response = app.admin.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    }
    let missing = app.admin.get(app.url(&format!("/api/v1/inventory/reservations/{}", uuid::Uuid::now_v7())));
    expect_problem(missing.send().await.unwrap(), StatusCode::NOT_FOUND, "not-found").await;
    app.stop().await;
}
