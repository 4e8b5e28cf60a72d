//! The merchant's API key: every `/v1` call needs it, compared exactly; the operational
//! endpoints do not.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::*;

on_both_backends!(every_v1_call_without_the_api_key_is_refused, the_development_key_is_the_default);

async fn every_v1_call_without_the_api_key_is_refused(backend: Backend) {
    let app = provider(backend).await;
    let intent = authorize(&app, 100, "order-30").await;
    let before = (count(&app, "payment_intents").await, count(&app, "idempotency_keys").await);
    let calls = [
        (Method::POST, INTENTS.to_owned(), Some(intent_request(APPROVED, 100, "order-31"))),
        (Method::GET, format!("{INTENTS}/{}", id(&intent)), None),
        (Method::GET, format!("{INTENTS}?reference=order-30"), None),
        (Method::POST, format!("{INTENTS}/{}/capture", id(&intent)), None),
        (Method::POST, format!("{INTENTS}/{}/cancel", id(&intent)), None),
        (Method::POST, REFUNDS.to_owned(), Some(json!({"payment_intent": id(&intent)}))),
        (Method::GET, format!("{REFUNDS}?payment_intent={}", id(&intent)), None),
        (Method::GET, FAULTS.to_owned(), None),
        (Method::PUT, FAULTS.to_owned(), Some(json!({"outage": true}))),
    ];
    let wrong_key = format!("{API_KEY}x");
    let credentials: [Option<&str>; 6] = [
        None,
        Some(&wrong_key),
        Some(&API_KEY[..API_KEY.len() - 1]),
        Some(flotilla_payment_provider::DEV_API_KEY),
        Some(""),
        Some("Basic c2tfdGVzdDo="),
    ];
    for (method, path, body) in &calls {
        for credential in credentials {
            let mut request = app.client.request(method.clone(), app.url(path)).header("idempotency-key", new_key());
            request = match credential {
                Some(basic) if basic.starts_with("Basic ") => request.header("authorization", basic),
                Some(key) => request.header("authorization", format!("Bearer {key}")),
                None => request,
            };
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{method} {path} with {credential:?}");
            assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
            expect_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        }
    }
    assert_eq!((count(&app, "payment_intents").await, count(&app, "idempotency_keys").await), before);
    assert_eq!(get_json(&app, FAULTS).await["outage"], false, "no unauthenticated PUT took effect");
    assert_eq!(get_json(&app, &format!("{INTENTS}/{}", id(&intent))).await, intent);

    // The scheme is case-insensitive, as HTTP says; the key is not.
    let lower = app.client.get(app.url(FAULTS)).header("authorization", format!("bearer {API_KEY}")).send().await;
    assert_eq!(lower.unwrap().status(), StatusCode::OK);
    let upper = app.client.get(app.url(FAULTS)).bearer_auth(API_KEY.to_uppercase()).send().await.unwrap();
    assert_eq!(upper.status(), StatusCode::UNAUTHORIZED);
    // The chassis' endpoints are the operator's, not the merchant's: no key.
    for path in ["/livez", "/readyz", "/version", "/openapi.json"] {
        assert_eq!(app.client.get(app.url(path)).send().await.unwrap().status(), StatusCode::OK, "{path}");
    }
    app.stop().await;
}

async fn the_development_key_is_the_default(backend: Backend) {
    let app = flotilla_testkit::spawn(&flotilla_payment_provider::SERVICE, backend, &[]).await;
    let client = flotilla_testkit::client_with_token(flotilla_payment_provider::DEV_API_KEY);
    let response = client.get(app.url(&format!("{INTENTS}?reference=any"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let other = merchant().get(app.url(&format!("{INTENTS}?reference=any"))).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED, "only the configured key");
    app.stop().await;
}
