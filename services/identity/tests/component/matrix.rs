//! The token matrix on identity's protected API: key rotation (admin only) and a user's record
//! (the user or an admin). Tokens come from the test issuer here, so that the forged ones can be
//! made; the service treats them exactly as its own.

use flotilla_testkit::matrix::{Endpoint, assert_token_matrix};
use flotilla_testkit::{Backend, client_with_token, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::register;

async fn token_matrix(backend: Backend) {
    let app = flotilla_testkit::spawn(&flotilla_identity::SERVICE, backend, &[]).await;
    let user: Value = register(&app, "owner@example.com", "the owner's password").await.json().await.unwrap();
    let user_url = app.url(&format!("/api/v1/identity/users/{}", user["id"].as_str().unwrap()));
    let endpoints = [
        Endpoint {
            method: Method::POST,
            url: app.url("/api/v1/identity/keys/rotate"),
            body: None,
            if_match: None,
            allowed: StatusCode::ACCEPTED,
        },
        Endpoint { method: Method::GET, url: user_url.clone(), body: None, if_match: None, allowed: StatusCode::OK },
    ];
    assert_token_matrix(&app, &endpoints, &app.issuer.claims("admin-1", &["admin"]), &app.admin).await;

    // The owner may read their own record, and nobody else's.
    let owner = client_with_token(&app.issuer.token(user["id"].as_str().unwrap(), &["customer"]));
    assert_eq!(owner.get(&user_url).send().await.unwrap().status(), StatusCode::OK);
    let other: Value = register(&app, "other@example.com", "another long password").await.json().await.unwrap();
    let other_url = app.url(&format!("/api/v1/identity/users/{}", other["id"].as_str().unwrap()));
    assert_eq!(owner.get(&other_url).send().await.unwrap().status(), StatusCode::FORBIDDEN);
}

on_both_backends!(token_matrix);
