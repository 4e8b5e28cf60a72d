//! The authorize endpoint under bad input and attack: no open redirects, CSRF, throttling
//! without lockout, answers that do not tell which emails have accounts, and rate limits.

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

/// Five wrong passwords used to lock the account for everyone: any stranger could lock anyone
/// out. Now they slow the address they came from, for that account, and no one else.
async fn failures_from_one_address_slow_that_address_and_lock_no_one_out(backend: Backend) {
    let app =
        identity(backend, &[behind_gateway(), ("services.identity.throttle.pair.base_delay_s", json!(600))]).await;
    register(&app, "kim@example.com", "kim's real password").await;
    let (stranger, kim) = (Some("203.0.113.66"), Some("198.51.100.7"));
    let challenge = pkce().challenge;
    for attempt in 0..5 {
        let page = open_form(&app, "/oauth2/authorize", &authorize_query(&challenge)).await;
        let response =
            submit_from(&app, "/oauth2/authorize", &page, "kim@example.com", "a wrong guess!!", stranger).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "attempt {attempt}");
        let html = response.text().await.unwrap();
        assert!(html.contains("The email or password is wrong."));
        assert!(!html.contains("a wrong guess"), "the password is never echoed");
    }
    // The stranger's next attempt waits, even with the right password.
    let page = open_form(&app, "/oauth2/authorize", &authorize_query(&challenge)).await;
    let response =
        submit_from(&app, "/oauth2/authorize", &page, "kim@example.com", "kim's real password", stranger).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=600).contains(&retry_after(&response)));
    assert!(response.text().await.unwrap().contains("Too many failed attempts. Try again in 10 minutes."));
    // Kim, from her own address, signs in at once.
    let page = open_form(&app, "/oauth2/authorize", &authorize_query(&challenge)).await;
    let response = submit_from(&app, "/oauth2/authorize", &page, "kim@example.com", "kim's real password", kim).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "not locked out by the stranger");
    assert!(redirect_params(&response).contains_key("code"));
}

/// Whether an email has an account must not show: a wrong password and an unknown email get the
/// same page, and so does the throttled attempt that follows, with `Retry-After` for both.
async fn known_and_unknown_emails_get_the_same_answers(backend: Backend) {
    let app = identity(
        backend,
        &[
            ("services.identity.throttle.pair.after_failures", json!(2)),
            ("services.identity.throttle.pair.base_delay_s", json!(600)),
        ],
    )
    .await;
    register(&app, "kim@example.com", "kim's real password").await;
    let challenge = pkce().challenge;
    let mut answers = Vec::new();
    for email in ["kim@example.com", "nobody@example.com"] {
        let mut seen = Vec::new();
        for _ in 0..3 {
            let page = open_form(&app, "/oauth2/authorize", &authorize_query(&challenge)).await;
            let response = submit(&app, "/oauth2/authorize", &page, email, "a wrong guess!!").await;
            let status = response.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                assert!((1..=600).contains(&retry_after(&response)), "{email}");
            }
            seen.push((status, page_text(response, &page, email).await));
        }
        answers.push(seen);
    }
    let statuses: Vec<_> = answers[0].iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS]);
    assert_eq!(answers[0], answers[1], "a known and an unknown email are answered alike");
    // A malformed email is one more unknown one.
    let page = open_form(&app, "/oauth2/authorize", &authorize_query(&challenge)).await;
    let response = submit(&app, "/oauth2/authorize", &page, "not an email", "a wrong guess!!").await;
    assert_eq!((response.status(), page_text(response, &page, "not an email").await), answers[0][0]);
}

on_both_backends!(
    bad_authorize_requests_never_redirect_anywhere_unregistered,
    failures_from_one_address_slow_that_address_and_lock_no_one_out,
    known_and_unknown_emails_get_the_same_answers,
);

#[tokio::test]
async fn attempts_from_one_address_are_rate_limited() {
    let app = identity(Backend::Sqlite, &[("services.identity.sign_in_per_minute", json!(3))]).await;
    let challenge = pkce().challenge;
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..4 {
        let page = open_form(&app, "/oauth2/authorize", &authorize_query(&challenge)).await;
        let response = submit(&app, "/oauth2/authorize", &page, "x@example.com", "some password here").await;
        statuses.push(response.status());
        last = Some(response);
    }
    assert_eq!(statuses[..3], [StatusCode::UNAUTHORIZED; 3]);
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS);
    // A third of a minute until the next attempt is allowed (three a minute).
    assert!((1..=20).contains(&retry_after(&last.unwrap())));
    // The JSON registration shares the budget.
    let response = register(&app, "y@example.com", "another password!").await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!((1..=20).contains(&retry_after(&response)));
}

/// Behind the gateway, identity saw one address, the gateway's: twenty registrations from one
/// client and every other client got 429. The gateway's host is now a trusted proxy, so the
/// limit applies to each client.
#[tokio::test]
async fn the_gateway_s_forwarded_for_is_believed_so_limits_apply_per_client() {
    let app = identity(Backend::Sqlite, &[behind_gateway()]).await;
    let busy = Some("203.0.113.5");
    let mut registered = 0;
    // Twenty a minute: the budget refills one every three seconds while this runs.
    let refused = loop {
        let response =
            register_from(&app, &format!("busy{registered}@example.com"), "a long enough password", busy).await;
        if response.status() != StatusCode::CREATED {
            break response;
        }
        registered += 1;
        assert!(registered <= 40, "the busy client was never limited");
    };
    assert!(registered >= 20, "refused after {registered}");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(retry_after(&refused) >= 1);
    let other = register_from(&app, "other@example.com", "a long enough password", Some("198.51.100.9")).await;
    assert_eq!(other.status(), StatusCode::CREATED, "another client is not held back by the first");
}

/// Registering shows the sign-in form, whether or not the email already had an account: the
/// answer does not say which (ADR 0014), and the account that existed keeps its password.
#[tokio::test]
async fn the_registration_form_answers_alike_for_a_new_and_a_taken_email() {
    let app = identity(Backend::Sqlite, &[]).await;
    let pkce = pkce();
    let page = open_form(&app, "/oauth2/register", &authorize_query(&pkce.challenge)).await;
    let short = submit(&app, "/oauth2/register", &page, "new@example.com", "short").await;
    assert_eq!(short.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let common = submit(&app, "/oauth2/register", &page, "new@example.com", "1qaz2wsx3edc").await;
    assert_eq!(common.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(common.text().await.unwrap().contains("The password is one of the most common passwords"));

    let new = submit(&app, "/oauth2/register", &page, "new@example.com", "a long enough password").await;
    assert_eq!(new.status(), StatusCode::OK);
    let new = page_text(new, &page, "new@example.com").await;
    assert!(new.contains("Your account is ready. Sign in with your new password."));
    assert!(new.contains("action=\"/oauth2/authorize\""), "the sign-in form");
    let taken = submit(&app, "/oauth2/register", &page, "new@example.com", "somebody else's password").await;
    assert_eq!(taken.status(), StatusCode::OK);
    assert_eq!(page_text(taken, &page, "new@example.com").await, new);

    let code = sign_in(&app, &pkce, "new@example.com", "a long enough password").await;
    let (status, tokens) = exchange(&app, &code, &pkce.verifier).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(claims(tokens["id_token"].as_str().unwrap())["email"], "new@example.com");
    let page = open_form(&app, "/oauth2/authorize", &authorize_query(&pkce.challenge)).await;
    let response = submit(&app, "/oauth2/authorize", &page, "new@example.com", "somebody else's password").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "the second registration changed nothing");
}
