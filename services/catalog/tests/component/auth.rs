//! The token matrix: every protected catalog endpoint against every kind of caller. Only an
//! administrator's valid token gets through; a bad or missing token is 401 with a Bearer
//! challenge, a valid token without the role is 403.

use flotilla_testkit::{Backend, TestApp, client_with_token, on_both_backends, tampered};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PRODUCTS, catalog, create, expect_problem, product};

/// One protected operation, as a request an administrator would have answered with `allowed`.
struct Endpoint {
    method: Method,
    url: String,
    body: Option<Value>,
    etag: Option<String>,
    allowed: StatusCode,
}

async fn endpoints(app: &TestApp) -> Vec<Endpoint> {
    let replaced = create(app, &product("MX-PUT", "Replace me")).await;
    let deleted = create(app, &product("MX-DEL", "Delete me")).await;
    let at = |p: &Value| app.url(&format!("{PRODUCTS}/{}", p["id"].as_str().unwrap()));
    vec![
        Endpoint {
            method: Method::POST,
            url: app.url(PRODUCTS),
            body: Some(product("MX-NEW", "Created")),
            etag: None,
            allowed: StatusCode::CREATED,
        },
        Endpoint {
            method: Method::PUT,
            url: at(&replaced),
            body: Some(product("MX-PUT", "Replaced")),
            etag: Some("\"1\"".into()),
            allowed: StatusCode::OK,
        },
        Endpoint { method: Method::DELETE, url: at(&deleted), body: None, etag: None, allowed: StatusCode::NO_CONTENT },
        Endpoint {
            method: Method::GET,
            url: app.url("/admin/dead-letters"),
            body: None,
            etag: None,
            allowed: StatusCode::OK,
        },
        Endpoint {
            method: Method::POST,
            url: app.url("/admin/dead-letters/discard"),
            body: Some(json!({"all": true})),
            etag: None,
            allowed: StatusCode::OK,
        },
    ]
}

async fn call(client: &reqwest::Client, endpoint: &Endpoint) -> reqwest::Response {
    let mut request = client.request(endpoint.method.clone(), &endpoint.url);
    if let Some(body) = &endpoint.body {
        request = request.json(body);
    }
    if let Some(etag) = &endpoint.etag {
        request = request.header("if-match", etag);
    }
    request.send().await.unwrap()
}

async fn token_matrix(backend: Backend) {
    let app = catalog(backend).await;
    let issuer = &app.issuer;
    let now = flotilla_testkit::now();
    let admin_claims = issuer.claims("admin-1", &["admin"]);
    let with = |changes: Value| {
        let mut claims = admin_claims.clone();
        for (name, value) in changes.as_object().unwrap() {
            claims[name] = value.clone();
        }
        claims
    };
    let denied: Vec<(&str, Option<String>, StatusCode)> = vec![
        ("anonymous", None, StatusCode::UNAUTHORIZED),
        (
            "expired",
            Some(issuer.sign(&with(json!({"iat": now - 600, "nbf": now - 600, "exp": now - 60})))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "not yet valid",
            Some(issuer.sign(&with(json!({"nbf": now + 600, "exp": now + 1200})))),
            StatusCode::UNAUTHORIZED,
        ),
        ("wrong audience", Some(issuer.sign(&with(json!({"aud": "someone-else"})))), StatusCode::UNAUTHORIZED),
        ("wrong issuer", Some(issuer.sign(&with(json!({"iss": "https://evil.example"})))), StatusCode::UNAUTHORIZED),
        ("no subject", Some(issuer.sign(&with(json!({"sub": null})))), StatusCode::UNAUTHORIZED),
        ("alg none", Some(issuer.unsigned(&admin_claims)), StatusCode::UNAUTHORIZED),
        (
            "HS256 keyed with the public key",
            Some(issuer.hs256_with_public_key(&admin_claims)),
            StatusCode::UNAUTHORIZED,
        ),
        ("unknown key id", Some(issuer.sign_with_unpublished_key(&admin_claims)), StatusCode::UNAUTHORIZED),
        ("tampered signature", Some(tampered(&issuer.token("customer-1", &["customer"]))), StatusCode::UNAUTHORIZED),
        ("not a JWT", Some("not-a-token".into()), StatusCode::UNAUTHORIZED),
        ("customer", Some(issuer.token("customer-1", &["customer"])), StatusCode::FORBIDDEN),
        ("no roles", Some(issuer.token("service-x", &[])), StatusCode::FORBIDDEN),
    ];
    let endpoints = endpoints(&app).await;
    for (who, token, expected) in &denied {
        let client = match token {
            Some(token) => client_with_token(token),
            None => app.client.clone(),
        };
        for endpoint in &endpoints {
            let response = call(&client, endpoint).await;
            let what = format!("{who} on {} {}", endpoint.method, endpoint.url);
            assert_eq!(response.status(), *expected, "{what}");
            let challenge = response.headers().get("www-authenticate").map(|v| v.to_str().unwrap().to_owned());
            if *expected == StatusCode::UNAUTHORIZED {
                let challenge = challenge.unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"));
                assert!(challenge.starts_with("Bearer realm=\"flotilla\""), "{what}: {challenge}");
                assert_eq!(challenge.contains("invalid_token"), token.is_some(), "{what}: {challenge}");
                expect_problem(response, *expected, "unauthenticated").await;
            } else {
                expect_problem(response, *expected, "forbidden").await;
            }
        }
    }
    // Nothing above changed anything; the administrator's token does, in order.
    for endpoint in &endpoints {
        let response = call(&app.admin, endpoint).await;
        assert_eq!(response.status(), endpoint.allowed, "admin on {} {}", endpoint.method, endpoint.url);
    }
    // Reads stay public, and a token does not change what they return.
    for client in [&app.client, &app.admin] {
        assert_eq!(client.get(app.url(PRODUCTS)).send().await.unwrap().status(), StatusCode::OK);
    }
}

async fn a_token_within_the_leeway_is_still_accepted(backend: Backend) {
    let app = catalog(backend).await;
    let now = flotilla_testkit::now();
    let mut claims = app.issuer.claims("admin-2", &["admin"]);
    // Expired 3 s ago and valid from 3 s ahead: within the 10 s leeway for clock skew.
    claims["exp"] = json!(now - 3);
    claims["nbf"] = json!(now + 3);
    let client = client_with_token(&app.issuer.sign(&claims));
    let response = client.post(app.url(PRODUCTS)).json(&product("LEEWAY-1", "Skewed")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

on_both_backends!(token_matrix, a_token_within_the_leeway_is_still_accepted);

#[tokio::test]
async fn an_unreachable_issuer_is_503_not_401() {
    // An issuer's address with nothing listening once it is dropped.
    let gone = flotilla_testkit::TestIssuer::start().await;
    let issuer = gone.issuer().to_owned();
    let token = gone.token("admin-3", &["admin"]);
    drop(gone);
    let app = flotilla_testkit::spawn(
        &flotilla_catalog::SERVICE,
        Backend::Sqlite,
        &[("services.catalog.seed", json!(false)), ("auth.issuer", json!(issuer))],
    )
    .await;
    let response = client_with_token(&token)
        .post(app.url(PRODUCTS))
        .json(&product("DOWN-1", "Unverifiable"))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert!(problem["detail"].as_str().unwrap().contains("issuer"), "{problem}");
}
