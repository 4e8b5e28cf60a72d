//! Registration through the API: what it refuses, with problem details naming the field, and an
//! email that has an account answered exactly as a new one.

use flotilla_testkit::{Backend, client_with_token, on_both_backends};
use reqwest::StatusCode;
use serde_json::Value;

use crate::support::*;

async fn a_taken_email_is_answered_exactly_as_a_new_one(backend: Backend) {
    let app = identity(backend, &[]).await;
    let new = register(&app, "Ada@Example.com", "correct horse battery").await;
    assert_eq!(new.status(), StatusCode::CREATED);
    let new: Value = new.json().await.unwrap();
    let taken = register(&app, "ada@example.com", "another good password").await;
    assert_eq!(taken.status(), StatusCode::CREATED, "no 409 that tells a stranger the email has an account");
    let taken: Value = taken.json().await.unwrap();
    let keys = |body: &Value| body.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&taken), keys(&new));
    assert_eq!((&taken["email"], &taken["roles"]), (&new["email"], &new["roles"]));
    assert_ne!(taken["id"], new["id"]);
    // Nothing was made or changed: the id names no one, and the account keeps its password.
    let pkce = pkce();
    let code = sign_in(&app, &pkce, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (_, tokens) = exchange(&app, &code, &pkce.verifier).await;
    let admin = client_with_token(tokens["access_token"].as_str().unwrap());
    let missing = admin.get(app.url(&format!("/api/v1/identity/users/{}", taken["id"].as_str().unwrap())));
    assert_eq!(missing.send().await.unwrap().status(), StatusCode::NOT_FOUND);
    sign_in(&app, &pkce, "ada@example.com", "correct horse battery").await;
}

on_both_backends!(a_taken_email_is_answered_exactly_as_a_new_one);

#[tokio::test]
async fn blank_repeated_and_common_passwords_are_refused_with_the_field_named() {
    let app = identity(Backend::Sqlite, &[]).await;
    for (password, says) in [
        ("            ", "must not be only spaces"),
        ("zzzzzzzzzzzzzzzz", "must not be one character repeated"),
        ("QWERTY123456", "is one of the most common passwords"),
    ] {
        let response = register(&app, "pat@example.com", password).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{password:?}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "urn:flotilla:problem:validation");
        assert_eq!(flotilla_testkit::location(&problem["errors"][0]), "/password");
        assert!(problem["errors"][0]["detail"].as_str().unwrap().starts_with(says), "{problem}");
    }
    assert_eq!(register(&app, "pat@example.com", "no rules but length").await.status(), StatusCode::CREATED);
}
