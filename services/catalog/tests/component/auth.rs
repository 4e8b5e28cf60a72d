//! The token matrix (`flotilla_testkit::matrix`) on every protected catalog endpoint: only an
//! administrator's valid token gets through.

use flotilla_testkit::matrix::{Endpoint, assert_token_matrix};
use flotilla_testkit::{Backend, TestApp, client_with_token, on_both_backends};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PRODUCTS, catalog, create, expect_problem, product};

async fn endpoints(app: &TestApp) -> Vec<Endpoint> {
    let replaced = create(app, &product("MX-PUT", "Replace me")).await;
    let deleted = create(app, &product("MX-DEL", "Delete me")).await;
    let at = |p: &Value| app.url(&format!("{PRODUCTS}/{}", p["id"].as_str().unwrap()));
    let endpoint = |method, url, body, if_match: Option<&str>, allowed| Endpoint {
        method,
        url,
        body,
        if_match: if_match.map(str::to_owned),
        allowed,
    };
    vec![
        endpoint(Method::POST, app.url(PRODUCTS), Some(product("MX-NEW", "Created")), None, StatusCode::CREATED),
        endpoint(Method::PUT, at(&replaced), Some(product("MX-PUT", "Replaced")), Some("\"1\""), StatusCode::OK),
        endpoint(Method::DELETE, at(&deleted), None, None, StatusCode::NO_CONTENT),
        endpoint(Method::GET, app.url("/admin/dead-letters"), None, None, StatusCode::OK),
        endpoint(
            Method::POST,
            app.url("/admin/dead-letters/discard"),
            Some(json!({"all": true})),
            None,
            StatusCode::OK,
        ),
    ]
}

async fn token_matrix(backend: Backend) {
    let app = catalog(backend).await;
    let endpoints = endpoints(&app).await;
    assert_token_matrix(&app, &endpoints, &app.issuer.claims("admin-1", &["admin"]), &app.admin).await;
    // Reads stay public, and a token does not change what they return; but a token that is sent
    // must be acceptable, never silently taken as anonymous (docs/auth.md).
    let some = app.client.get(app.url(PRODUCTS)).send().await.unwrap().json::<Value>().await.unwrap();
    let one = app.url(&format!("{PRODUCTS}/{}", some["items"][0]["id"].as_str().unwrap()));
    for url in [app.url(PRODUCTS), one, app.url("/api/v1/catalog/categories")] {
        for client in [&app.client, &app.admin] {
            assert_eq!(client.get(&url).send().await.unwrap().status(), StatusCode::OK, "{url}");
        }
        let forged = client_with_token(&format!("{}x", app.issuer.token("admin-1", &["admin"])));
        let refused = forged.get(&url).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED, "{url}");
        expect_problem(refused, StatusCode::UNAUTHORIZED, "unauthenticated").await;
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
