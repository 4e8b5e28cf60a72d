//! Client authentication and the client credentials grant for service accounts.

use base64::Engine;
use flotilla_testkit::Backend;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn service_accounts_get_tokens_with_their_roles_and_nothing_else() {
    let app = identity(Backend::Sqlite, &[]).await;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("reporting:{SERVICE_SECRET}"));
    let response = app
        .client
        .post(app.url("/oauth2/token"))
        .header("authorization", format!("Basic {basic}"))
        .form(&[("grant_type", "client_credentials"), ("scope", "catalog.read")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let tokens: Value = response.json().await.unwrap();
    assert!(tokens.get("refresh_token").is_none() && tokens.get("id_token").is_none());
    let caller = verifier(&app).verify(tokens["access_token"].as_str().unwrap()).await.unwrap();
    assert_eq!((caller.subject.as_str(), caller.client_id.as_deref()), ("reporting", Some("reporting")));
    assert!(caller.has_role("service") && caller.scopes.contains("catalog.read"));

    // A wrong secret, with Basic: 401 and a Basic challenge.
    let wrong = base64::engine::general_purpose::STANDARD.encode("reporting:guess");
    let response = app
        .client
        .post(app.url("/oauth2/token"))
        .header("authorization", format!("Basic {wrong}"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], r#"Basic realm="flotilla""#);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "invalid_client");

    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("grant_type", "client_credentials"), ("client_id", "reporting")], "invalid_client"),
        (&[("grant_type", "client_credentials"), ("client_id", "web")], "unauthorized_client"),
        (&[("grant_type", "client_credentials"), ("client_id", "nobody")], "invalid_client"),
        (&[("grant_type", "password"), ("client_id", "web")], "unsupported_grant_type"),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "reporting"),
                ("client_secret", SERVICE_SECRET),
                ("scope", "admin"),
            ],
            "invalid_scope",
        ),
    ];
    for (form, error) in cases {
        let (_, body) = token_request(&app, form).await;
        assert_eq!(body["error"], error, "{form:?}");
    }
    let json_body =
        app.client.post(app.url("/oauth2/token")).json(&serde_json::json!({"grant_type": "x"})).send().await.unwrap();
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json_body.json::<Value>().await.unwrap()["error"], "invalid_request");

    // The chassis helper services use for their own calls: fetched once, then reused.
    let tokens = flotilla_chassis::auth::ServiceTokens::new(
        &app.config().settings.auth,
        "reporting",
        SecretString::from(SERVICE_SECRET),
        Some("catalog.read"),
    )
    .unwrap();
    let first = tokens.token().await.unwrap();
    let second = tokens.token().await.unwrap();
    assert_eq!(first.expose_secret(), second.expose_secret());
    assert!(verifier(&app).verify(first.expose_secret()).await.unwrap().has_role("service"));
}
