//! The authorize endpoint under bad input and attack: no open redirects, CSRF, lockout and rate
//! limits.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

fn with(query: &[(&'static str, String)], name: &'static str, value: Option<&str>) -> Vec<(&'static str, String)> {
    let mut changed: Vec<_> = query.iter().filter(|(n, _)| *n != name).cloned().collect();
    if let Some(value) = value {
        changed.push((name, value.to_owned()));
    }
    changed
}

async fn bad_authorize_requests_never_redirect_anywhere_unregistered(backend: Backend) {
    let app = identity(backend, &[]).await;
    let good = authorize_query(&pkce().challenge);
    // The client or the redirect URI is wrong: an error page here, no Location at all.
    for (name, value) in [
        ("client_id", None),
        ("client_id", Some("nobody")),
        ("redirect_uri", None),
        ("redirect_uri", Some("http://127.0.0.1:9/callback/")),
        ("redirect_uri", Some("http://127.0.0.1:9/callback?next=https://evil.example")),
        ("redirect_uri", Some("https://evil.example/callback")),
    ] {
        let response =
            app.client.get(app.url("/oauth2/authorize")).query(&with(&good, name, value)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{name}={value:?}");
        assert!(response.headers().get("location").is_none(), "{name}={value:?}");
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    }
    // Anything else wrong goes back to the registered redirect URI with an error and the state.
    for (name, value, error) in [
        ("response_type", Some("token"), "unsupported_response_type"),
        ("code_challenge", None, "invalid_request"),
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("code_challenge", Some("short"), "invalid_request"),
        ("scope", Some("openid admin"), "invalid_scope"),
        ("prompt", Some("none"), "login_required"),
    ] {
        let response =
            app.client.get(app.url("/oauth2/authorize")).query(&with(&good, name, value)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{name}={value:?}");
        let params = redirect_params(&response);
        assert_eq!((params["error"].as_str(), params["state"].as_str()), (error, "state-123"), "{name}={value:?}");
    }
    let twice = format!("{}?client_id=web&client_id=web", app.url("/oauth2/authorize"));
    assert_eq!(app.client.get(twice).send().await.unwrap().status(), StatusCode::BAD_REQUEST);

    // The form's hidden fields are checked again: an altered redirect URI is refused.
    register(&app, "eve@example.com", "eve's long password").await;
    let mut page = open_form(&app, "/oauth2/authorize", &good).await;
    for field in &mut page.fields {
        if field.0 == "redirect_uri" {
            field.1 = "https://evil.example/callback".into();
        }
    }
    let response = submit(&app, "/oauth2/authorize", &page, "eve@example.com", "eve's long password").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get("location").is_none());

    // Without the CSRF cookie, or with another value, the form is refused.
    let page = open_form(&app, "/oauth2/authorize", &good).await;
    let forged = FormPage { fields: page.fields.clone(), cookie: "flotilla_identity_csrf=forged".into() };
    let response = submit(&app, "/oauth2/authorize", &forged, "eve@example.com", "eve's long password").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

async fn repeated_failures_lock_the_account_for_a_while(backend: Backend) {
    let app = identity(backend, &[("services.identity.lockout_after_failures", json!(3))]).await;
    register(&app, "kim@example.com", "kim's real password").await;
    let challenge = pkce().challenge;
    for attempt in 0..3 {
        let page = open_form(&app, "/oauth2/authorize", &authorize_query(&challenge)).await;
        let response = submit(&app, "/oauth2/authorize", &page, "kim@example.com", "a wrong guess!!").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
        let html = response.text().await.unwrap();
        assert!(html.contains("The email or password is wrong."));
        assert!(!html.contains("a wrong guess"), "the password is never echoed");
    }
    let page = open_form(&app, "/oauth2/authorize", &authorize_query(&challenge)).await;
    let response = submit(&app, "/oauth2/authorize", &page, "kim@example.com", "kim's real password").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "locked even with the right password");
    assert!(response.text().await.unwrap().contains("locked"));
    // An unknown address gets the same answer as a wrong password.
    let page = open_form(&app, "/oauth2/authorize", &authorize_query(&challenge)).await;
    let response = submit(&app, "/oauth2/authorize", &page, "nobody@example.com", "whatever it is").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

on_both_backends!(
    bad_authorize_requests_never_redirect_anywhere_unregistered,
    repeated_failures_lock_the_account_for_a_while
);

#[tokio::test]
async fn attempts_from_one_address_are_rate_limited() {
    let app = identity(Backend::Sqlite, &[("services.identity.sign_in_per_minute", json!(3))]).await;
    let challenge = pkce().challenge;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let page = open_form(&app, "/oauth2/authorize", &authorize_query(&challenge)).await;
        statuses.push(submit(&app, "/oauth2/authorize", &page, "x@example.com", "some password here").await.status());
    }
    assert_eq!(statuses[..3], [StatusCode::UNAUTHORIZED; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    // The JSON registration shares the budget.
    let response = register(&app, "y@example.com", "another password!").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "60");
}

#[tokio::test]
async fn the_registration_form_creates_a_customer_and_signs_them_in() {
    let app = identity(Backend::Sqlite, &[]).await;
    let pkce = pkce();
    let page = open_form(&app, "/oauth2/register", &authorize_query(&pkce.challenge)).await;
    let short = submit(&app, "/oauth2/register", &page, "new@example.com", "short").await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let response = submit(&app, "/oauth2/register", &page, "new@example.com", "a long enough password").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let code = redirect_params(&response)["code"].clone();
    let (status, tokens) = exchange(&app, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["email"], "new@example.com");
    let again = submit(&app, "/oauth2/register", &page, "new@example.com", "a long enough password").await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
}
