//! Key rotation while tokens are in flight: a new key is published before it signs, tokens of
//! the old key keep verifying until they expire, then the old key is withdrawn.

use std::time::{Duration, Instant};

use base64::Engine;
use flotilla_testkit::{Backend, client_with_token, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

async fn service_token(app: &flotilla_testkit::TestApp) -> String {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("reporting:{SERVICE_SECRET}"));
    let response = app
        .client
        .post(app.url("/oauth2/token"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    response.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
}

async fn published_kids(app: &flotilla_testkit::TestApp) -> Vec<String> {
    let jwks: Value = app.client.get(app.url("/oauth2/jwks")).send().await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

async fn rotation_keeps_tokens_in_flight_valid(backend: Backend) {
    let settings = [
        ("services.identity.key_prepublish_s", json!(1)),
        ("services.identity.access_token_ttl_s", json!(3)),
        ("services.identity.id_token_ttl_s", json!(3)),
        ("auth.leeway_s", json!(0)),
    ];
    let app = identity(backend, &settings).await;
    let verifier = verifier(&app);
    let old_token = service_token(&app).await;
    let old_kid = header(&old_token)["kid"].as_str().unwrap().to_owned();
    verifier.verify(&old_token).await.unwrap();

    // Only an admin may rotate.
    let rotate = app.url("/api/v1/identity/keys/rotate");
    assert_eq!(client_with_token(&old_token).post(&rotate).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let pkce = pkce();
    let code = sign_in(&app, &pkce, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (_, tokens) = exchange(&app, &code, &pkce.verifier).await;
    let admin = client_with_token(tokens["access_token"].as_str().unwrap());
    let response = admin.post(&rotate).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    // Published at once, before it signs anything. A token minted now is the one in flight:
    // minted after the slow admin sign-in, so that its lifetime covers only the rotation.
    let kids = published_kids(&app).await;
    assert_eq!(kids.len(), 2);
    let in_flight = service_token(&app).await;
    assert_eq!(header(&in_flight)["kid"], old_kid, "the new key does not sign yet");

    let deadline = Instant::now() + Duration::from_secs(15);
    let new_token = loop {
        let token = service_token(&app).await;
        if header(&token)["kid"] != old_kid {
            break token;
        }
        assert!(Instant::now() < deadline, "the new key never began to sign");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The verifier has only the old key cached; the unknown kid makes it refetch.
    verifier.verify(&new_token).await.unwrap();
    verifier.verify(&in_flight).await.unwrap();

    // Once every token of the old key has expired, the key is withdrawn.
    let deadline = Instant::now() + Duration::from_secs(15);
    while published_kids(&app).await.contains(&old_kid) {
        assert!(Instant::now() < deadline, "the old key was never withdrawn");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(published_kids(&app).await.len(), 1);
}

on_both_backends!(rotation_keeps_tokens_in_flight_valid);
