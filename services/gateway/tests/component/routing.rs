//! Routing, what crosses the gateway, and the combined API description.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

on_both_backends!(
    forwards_with_request_id_trace_and_token_but_no_cookies,
    security_headers_are_on_every_response,
    the_combined_document_and_swagger_ui_are_served_locally,
    malformed_cookies_and_oversized_headers_get_a_clean_4xx,
    the_event_contracts_are_served_with_their_examples
);

async fn forwards_with_request_id_trace_and_token_but_no_cookies(backend: Backend) {
    let (upstream, url) = Upstream::start().await;
    let app = gateway(backend, &url, &[]).await;
    let token = app.issuer.token("user-1", &["customer"]);
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = app
        .client
        .post(app.url("/api/v1/echo/things?x=1"))
        .header("authorization", format!("Bearer {token}"))
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .header("x-request-id", "req-42")
        .header("cookie", "flotilla_session=abc; other=1")
        .header("x-forwarded-for", "6.6.6.6")
        .header("content-type", "application/json")
        .body(r#"{"a":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The edge makes its own request id; the client's is only logged beside it.
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&request_id).is_ok(), "{request_id}");
    assert!(response.headers().get("set-cookie").is_none(), "an upstream's cookies stop at the gateway");
    let seen: Value = response.json().await.unwrap();
    assert_eq!((seen["method"].as_str(), seen["uri"].as_str()), (Some("POST"), Some("/api/v1/echo/things?x=1")));
    assert_eq!(seen["body"], r#"{"a":1}"#);
    let headers = &seen["headers"];
    assert_eq!(headers["authorization"], format!("Bearer {token}"));
    assert_eq!(headers["x-request-id"], request_id.as_str(), "the service continues the edge's id");
    let traceparent = headers["traceparent"].as_str().unwrap();
    assert!(traceparent.starts_with(&format!("00-{trace_id}-")), "{traceparent}");
    assert!(!traceparent.contains("00f067aa0ba902b7"), "the gateway's own span is the parent");
    assert!(headers.get("cookie").is_none(), "cookies never reach services");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1", "a client's own X-Forwarded-For is not believed");
    assert_eq!(upstream.hits(), 1);

    let unknown = app.client.get(app.url("/api/v1/nowhere/x")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(unknown.headers()["content-type"], "application/problem+json");
}

async fn security_headers_are_on_every_response(backend: Backend) {
    let (_upstream, url) = Upstream::start().await;
    let app = gateway(backend, &url, &[]).await;
    for path in ["/livez", "/api/v1/echo/x", "/api/v1/nowhere", "/auth/session", "/openapi.json"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert!(headers.contains_key("content-security-policy"), "{path}");
    }
}

async fn the_combined_document_and_swagger_ui_are_served_locally(backend: Backend) {
    let (_upstream, url) = Upstream::start().await;
    let app = gateway(backend, &url, &[]).await;
    let doc: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.contains_key("/auth/login") && paths.contains_key("/auth/session"), "{:?}", paths.keys());
    // The echo upstream serves no OpenAPI document: the combined one says so and still serves.
    assert!(doc["info"]["description"].as_str().unwrap().contains("echo"));
    let page = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    assert!(!html.contains("unpkg.com") && !html.contains("cdn"), "no asset comes from a CDN");
    let initializer = app.client.get(app.url("/docs/swagger-initializer.js")).send().await.unwrap();
    assert_eq!(initializer.status(), StatusCode::OK);
    assert!(initializer.text().await.unwrap().contains("/openapi.json"));
}

async fn malformed_cookies_and_oversized_headers_get_a_clean_4xx(backend: Backend) {
    let (_upstream, url) = Upstream::start().await;
    let app = gateway(backend, &url, &[]).await;
    for cookie in ["flotilla_session=%%%", "flotilla_session=", "flotilla_session", "=;;=", &"a=b; ".repeat(500)] {
        let response = app.client.get(app.url("/auth/session")).header("cookie", cookie).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{cookie:.40}");
        let forwarded = app.client.post(app.url("/api/v1/echo/x")).header("cookie", cookie).send().await.unwrap();
        assert_eq!(forwarded.status(), StatusCode::OK, "an unknown session is just no session: {cookie:.40}");
        let seen: Value = forwarded.json().await.unwrap();
        assert!(seen["headers"].get("authorization").is_none());
    }
    let enormous = "x".repeat(1024 * 1024);
    let response = app.client.get(app.url("/auth/session")).header("x-padding", enormous).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

async fn the_event_contracts_are_served_with_their_examples(backend: Backend) {
    let (_upstream, url) = Upstream::start().await;
    let app = gateway(backend, &url, &[]).await;
    let document: Value = app.client.get(app.url("/events/asyncapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(document["asyncapi"], "3.0.0");
    let placed = &document["components"]["messages"]["flotilla.ordering.order-placed.v1"];
    assert!(placed["examples"][0]["payload"]["order_id"].is_string(), "{placed}");
    let schema = app.client.get(app.url("/events/schemas/flotilla.ordering.order-placed.v1")).send().await.unwrap();
    assert_eq!(schema.status(), StatusCode::OK);
    let schema: Value = schema.json().await.unwrap();
    assert_eq!(schema["properties"]["total"]["properties"]["amount_minor"]["minimum"], 0);
    let unknown = app.client.get(app.url("/events/schemas/flotilla.nowhere.nothing.v1")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(unknown.headers()["content-type"], "application/problem+json");
}
