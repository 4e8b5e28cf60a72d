//! The token matrix: a protected endpoint against every kind of caller that must not pass.
//! Missing and bad tokens must get 401 with a Bearer challenge; valid tokens without the role or
//! ownership must get 403; only the allowed caller passes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{TestApp, TestIssuer, client_with_token, tampered};

/// One protected operation, as a request the allowed caller gets `allowed` for.
pub struct Endpoint {
    pub method: Method,
    pub url: String,
    pub body: Option<Value>,
    pub if_match: Option<String>,
    pub allowed: StatusCode,
}

/// Every caller that must be refused, with the status it must get. `privileged` are the claims
/// of the caller who is allowed; the forgeries start from them.
pub fn refused_callers(issuer: &TestIssuer, privileged: &Value) -> Vec<(&'static str, Option<String>, StatusCode)> {
    let now = crate::now();
    let with = |changes: Value| {
        let mut claims = privileged.clone();
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        claims
    };
    let unauthorized = StatusCode::UNAUTHORIZED;
    vec![
        ("anonymous", None, unauthorized),
        (
            "expired",
            Some(issuer.sign(&with(json!({"iat": now - 600, "nbf": now - 600, "exp": now - 60})))),
            unauthorized,
        ),
        ("not yet valid", Some(issuer.sign(&with(json!({"nbf": now + 600, "exp": now + 1200})))), unauthorized),
        ("wrong audience", Some(issuer.sign(&with(json!({"aud": "someone-else"})))), unauthorized),
        ("wrong issuer", Some(issuer.sign(&with(json!({"iss": "https://evil.example"})))), unauthorized),
        ("no subject", Some(issuer.sign(&with(json!({"sub": null})))), unauthorized),
        ("alg none", Some(issuer.unsigned(privileged)), unauthorized),
        ("HS256 keyed with the public key", Some(issuer.hs256_with_public_key(privileged)), unauthorized),
        ("unknown key id", Some(issuer.sign_with_unpublished_key(privileged)), unauthorized),
        ("tampered signature", Some(tampered(&issuer.token("customer-1", &["customer"]))), unauthorized),
        ("not a JWT", Some("not-a-token".into()), unauthorized),
        ("another customer", Some(issuer.token("customer-1", &["customer"])), StatusCode::FORBIDDEN),
        ("no roles", Some(issuer.token("service-x", &[])), StatusCode::FORBIDDEN),
    ]
}

async fn call(client: &reqwest::Client, endpoint: &Endpoint) -> reqwest::Response {
    let mut request = client.request(endpoint.method.clone(), &endpoint.url);
    if let Some(body) = &endpoint.body {
        request = request.json(body);
    }
    if let Some(etag) = &endpoint.if_match {
        request = request.header("if-match", etag);
    }
    request.send().await.unwrap()
}

/// Every refused caller against every endpoint (nothing changes), then the allowed client
/// against each, in order.
pub async fn assert_token_matrix(app: &TestApp, endpoints: &[Endpoint], privileged: &Value, allowed: &reqwest::Client) {
    for (who, token, expected) in refused_callers(&app.issuer, privileged) {
        let client = match &token {
            Some(token) => client_with_token(token),
            None => app.client.clone(),
        };
        for endpoint in endpoints {
            let response = call(&client, endpoint).await;
            let what = format!("{who} on {} {}", endpoint.method, endpoint.url);
            assert_eq!(response.status(), expected, "{what}");
            assert_eq!(response.headers()["content-type"], "application/problem+json", "{what}");
            let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
            let problem: Value = response.json().await.unwrap();
            if expected == StatusCode::UNAUTHORIZED {
                let challenge = challenge.unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"));
                assert!(challenge.starts_with("Bearer realm=\"flotilla\""), "{what}: {challenge}");
                assert_eq!(challenge.contains("invalid_token"), token.is_some(), "{what}: {challenge}");
                assert_eq!(problem["type"], "urn:flotilla:problem:unauthenticated", "{what}");
            } else {
                assert_eq!(problem["type"], "urn:flotilla:problem:forbidden", "{what}");
            }
        }
    }
    for endpoint in endpoints {
        let response = call(allowed, endpoint).await;
        assert_eq!(response.status(), endpoint.allowed, "allowed caller on {} {}", endpoint.method, endpoint.url);
    }
}
