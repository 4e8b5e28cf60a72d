//! Per-client rate limits and CORS by configuration.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

on_both_backends!(each_client_has_its_own_token_bucket, cors_answers_only_configured_origins);

async fn each_client_has_its_own_token_bucket(backend: Backend) {
    let (_upstream, url) = Upstream::start().await;
    let app = gateway(
        backend,
        &url,
        &[("services.gateway.rate_limit_per_second", json!(1)), ("services.gateway.rate_limit_burst", json!(2))],
    )
    .await;
    let statuses = |client: reqwest::Client| {
        let url = app.url("/api/v1/echo/x");
        async move {
            let mut statuses = Vec::new();
            for _ in 0..3 {
                statuses.push(client.get(&url).send().await.unwrap());
            }
            statuses
        }
    };
    let anonymous = statuses(app.client.clone()).await;
    assert_eq!(anonymous[..2].iter().map(|r| r.status()).collect::<Vec<_>>(), [StatusCode::OK; 2]);
    assert_eq!(anonymous[2].status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(anonymous[2].headers().contains_key("retry-after"));
    // Authenticated callers are keyed by subject, not by their (shared) address.
    let alice = statuses(flotilla_testkit::client_with_token(&app.issuer.token("alice", &[]))).await;
    assert_eq!(alice[0].status(), StatusCode::OK);
    assert_eq!(alice[2].status(), StatusCode::TOO_MANY_REQUESTS);
    let bob = statuses(flotilla_testkit::client_with_token(&app.issuer.token("bob", &[]))).await;
    assert_eq!(bob[0].status(), StatusCode::OK);
}

async fn cors_answers_only_configured_origins(backend: Backend) {
    let (_upstream, url) = Upstream::start().await;
    let app =
        gateway(backend, &url, &[("services.gateway.cors_allowed_origins", json!(["https://shop.example"]))]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/echo/x"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type, x-csrf-token")
            .send()
    };
    let allowed = preflight("https://shop.example").await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://shop.example");
    assert_eq!(allowed.headers()["access-control-allow-credentials"], "true");
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none());
}
