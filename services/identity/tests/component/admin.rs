//! The configured administrator: created on first start, and its password is the configured
//! one from then on, so that rotating its secret rotates the password.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

async fn a_rotated_admin_password_replaces_the_old_one_and_revokes_its_refresh_tokens(backend: Backend) {
    let app = identity(backend, &[]).await;
    let first = pkce();
    let code = sign_in(&app, &first, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (status, tokens) = exchange(&app, &code, &first.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");

    // Started again with the same secret: the session goes on.
    let app = app.restart().await;
    let (status, tokens) = refresh(&app, tokens["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "an unchanged password revokes nothing: {tokens}");
    let session = tokens["refresh_token"].as_str().unwrap().to_owned();

    let rotated = "a rotated admin password for tests";
    let app = app.restart_with(&[("services.identity.admin.password", json!(rotated))]).await;
    let (status, body) = refresh(&app, &session).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "what the old password obtained is revoked: {body}");
    let page = open_form(&app, "/oauth2/authorize", &authorize_query(&first.challenge)).await;
    let response = submit(&app, "/oauth2/authorize", &page, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_ne!(response.status(), StatusCode::SEE_OTHER, "the old password no longer signs in");
    let fresh = pkce();
    let code = sign_in(&app, &fresh, ADMIN_EMAIL, rotated).await;
    let (status, tokens) = exchange(&app, &code, &fresh.verifier).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert!(claims(tokens["access_token"].as_str().unwrap())["roles"].to_string().contains("admin"));
}

on_both_backends!(a_rotated_admin_password_replaces_the_old_one_and_revokes_its_refresh_tokens);
