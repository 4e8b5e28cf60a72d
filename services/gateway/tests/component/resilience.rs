//! Timeouts, retries only where they are safe, and the circuit breaker opening and closing.

use flotilla_testkit::{Backend, on_both_backends};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

on_both_backends!(
    idempotent_requests_are_retried_and_others_are_not,
    a_slow_upstream_is_cut_off_at_its_timeout,
    the_breaker_opens_on_a_failing_upstream_and_closes_when_it_recovers
);

async fn idempotent_requests_are_retried_and_others_are_not(backend: Backend) {
    let metrics = OwnMetrics::start();
    let retries = || metrics.value(r#"flotilla_retries_total{service="gateway",dependency="echo"}"#);
    let (upstream, url) = Upstream::start().await;
    let app = gateway(backend, &url, &[]).await;
    upstream.script(&[Reply::Status(503), Reply::Status(502)]);
    let response = app.client.get(app.url("/api/v1/echo/a")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "two failures, then the third attempt answers");
    assert_eq!(upstream.hits(), 3);
    assert_eq!(retries(), Some(2.0), "two retries counted");
    let attempts = metrics.value(r#"http_client_request_duration_seconds_count{service="gateway",upstream="echo"}"#);
    assert_eq!(attempts, Some(3.0), "every attempt timed");

    upstream.script(&[Reply::Status(503)]);
    let response = app.client.post(app.url("/api/v1/echo/b")).body("x").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "a POST is sent once");
    assert_eq!(upstream.hits(), 4);
    assert_eq!(retries(), Some(2.0), "and never retried");
}

async fn a_slow_upstream_is_cut_off_at_its_timeout(backend: Backend) {
    let (upstream, url) = Upstream::start().await;
    let app = gateway(backend, &url, &[]).await;
    upstream.script(&[Reply::Slow(Duration::from_secs(3))]);
    let response = app.client.post(app.url("/api/v1/echo/slow")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:flotilla:problem:upstream-timeout");
}

async fn breaker_detail(app: &flotilla_testkit::TestApp) -> String {
    let ready: Value = app.client.get(app.url("/readyz")).send().await.unwrap().json().await.unwrap();
    let check = ready["checks"].as_array().unwrap().iter().find(|c| c["name"] == "upstreams").unwrap().clone();
    assert_eq!(check["status"], "pass", "a failing upstream never makes the gateway unready");
    check["detail"].as_str().unwrap().to_owned()
}

async fn breaker_gauge(app: &flotilla_testkit::TestApp) -> String {
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    metrics
        .lines()
        .find(|l| l.starts_with("flotilla_circuit_breaker_state{service=\"gateway\",dependency=\"echo\"}"))
        .unwrap()
        .to_owned()
}

async fn the_breaker_opens_on_a_failing_upstream_and_closes_when_it_recovers(backend: Backend) {
    let (upstream, url) = Upstream::start().await;
    let app = gateway(backend, &url, &[]).await;
    assert_eq!(breaker_detail(&app).await, "echo: closed");
    // Three POSTs (never retried) that fail: three consecutive failures open the breaker.
    upstream.script(&[Reply::Status(500), Reply::Status(500), Reply::Status(500)]);
    for _ in 0..3 {
        let response = app.client.post(app.url("/api/v1/echo/x")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert_eq!(breaker_detail(&app).await, "echo: open");
    assert!(breaker_gauge(&app).await.ends_with(" 2"));

    // While open: refused at once, without calling the upstream.
    let before = upstream.hits();
    let refused = app.client.get(app.url("/api/v1/echo/x")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(upstream.hits(), before);

    // After open_ms one probe goes through; it succeeds, and the breaker closes.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let response = app.client.get(app.url("/api/v1/echo/x")).send().await.unwrap();
        if response.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "the breaker never let a probe through");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(breaker_detail(&app).await, "echo: closed");
    assert!(breaker_gauge(&app).await.ends_with(" 0"));
}
