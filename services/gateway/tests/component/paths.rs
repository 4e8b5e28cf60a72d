//! What reaches a service through the gateway: only `/api/v1/<context>/...`, never a path that
//! the HTTP client would resolve to another one. Sent as raw request lines, since every client
//! library resolves dot segments before sending.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

on_both_backends!(
    dot_segments_and_separators_never_reach_a_service,
    operational_endpoints_can_leave_the_public_listener,
    an_unacceptable_bearer_token_is_refused_at_the_edge
);

/// Sends `target` as the request line's target, exactly as written; the status and body.
async fn raw_get(addr: std::net::SocketAddr, target: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer)
}

async fn dot_segments_and_separators_never_reach_a_service(backend: Backend) {
    let (upstream, url) = Upstream::start().await;
    let app = gateway(backend, &url, &[]).await;
    let absolute = format!("http://{}/api/v1/echo/../../metrics", app.addr);
    let refused = [
        "/api/v1/echo/../../../metrics",
        "/api/v1/echo/./x",
        "/api/v1/echo/%2e%2e/%2e%2e/admin/dead-letters",
        "/api/v1/echo/%2E%2E/%2E%2E/readyz",
        "/api/v1/echo/.%2e/.%2e/version",
        "/api/v1/echo/%252e%252e/x",
        "/api/v1/echo/..;/..;/events",
        "/api/v1/echo/..\\..\\metrics",
        "/api/v1/echo/%5c..%5c..%5cmetrics",
        "/api/v1/echo/..%2f..%2fmetrics",
        "/api/v1/echo/x%00",
        absolute.as_str(),
    ];
    for target in refused {
        let (status, answer) = raw_get(app.addr, target).await;
        assert_eq!(status, 400, "{target}: {answer}");
        assert!(answer.contains("application/problem+json") && answer.contains("invalid-parameter"), "{answer}");
    }
    assert_eq!(upstream.hits(), 0, "nothing refused reached the service");

    let (status, answer) = raw_get(app.addr, "/api/v1/echo/things/a.b?next=../x").await;
    assert_eq!(status, 200, "{answer}");
    let seen = &upstream.seen.lock().unwrap()[0];
    assert_eq!(seen["uri"], "/api/v1/echo/things/a.b?next=../x", "an ordinary path arrives as it was sent");
}

async fn operational_endpoints_can_leave_the_public_listener(backend: Backend) {
    let (_upstream, url) = Upstream::start().await;
    let app = gateway(backend, &url, &[("services.gateway.ops_port", json!(0))]).await;
    let ops = app.ops_addr.expect("the operational endpoints have a port of their own");
    for path in ["/livez", "/readyz", "/metrics", "/version"] {
        let public = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(public.status(), StatusCode::NOT_FOUND, "{path} is not on the public listener");
        let private = app.client.get(format!("http://{ops}{path}")).send().await.unwrap();
        assert_eq!(private.status(), StatusCode::OK, "{path} is on the operational port");
    }
    let document: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert!(document["paths"].get("/metrics").is_none(), "the public document describes only the public listener");
    let proxied = app.client.get(app.url("/api/v1/echo/x")).send().await.unwrap();
    assert_eq!(proxied.status(), StatusCode::OK);
}

async fn an_unacceptable_bearer_token_is_refused_at_the_edge(backend: Backend) {
    let (upstream, url) = Upstream::start().await;
    let app = gateway(backend, &url, &[]).await;
    let long = format!("Bearer {}", "a".repeat(16 * 1024));
    let forged = format!("Bearer {}.e30.c2ln", app.issuer.token("user-1", &[]).split('.').next().unwrap());
    for authorization in ["Bearer not-a-token", forged.as_str(), long.as_str()] {
        let response =
            app.client.get(app.url("/api/v1/echo/x")).header("authorization", authorization).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    }
    // A head far beyond any real token's size is not even read.
    let huge = format!("Bearer {}", "a".repeat(390 * 1024));
    let response = app.client.get(app.url("/api/v1/echo/x")).header("authorization", huge).send().await;
    assert!(response.is_err() || response.unwrap().status() == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(upstream.hits(), 0, "no unacceptable token was forwarded");
    // Other schemes are the service's to judge (client credentials at a token endpoint).
    let basic = app.client.get(app.url("/api/v1/echo/x")).basic_auth("client", Some("secret")).send().await.unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
}
