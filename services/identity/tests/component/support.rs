use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use flotilla_chassis::service::StartError;
use flotilla_testkit::{Backend, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const ADMIN_EMAIL: &str = "root@flotilla.test";
pub const ADMIN_PASSWORD: &str = "an admin password for tests";
pub const WEB_REDIRECT: &str = "http://127.0.0.1:9/callback";
pub const SERVICE_SECRET: &str = "service secret for tests";

/// The identity service as its own issuer, with a public web client, a confidential service
/// account and a configured administrator.
///
/// It names itself in its tokens, so it is told its port before it binds it: a port picked free
/// may be taken by another test before then, and is then picked again.
pub async fn identity(backend: Backend, extra: &[(&str, Value)]) -> TestApp {
    let mut attempts = 0;
    loop {
        attempts += 1;
        match flotilla_testkit::try_spawn(&flotilla_identity::SERVICE, backend, &settings(extra)).await {
            Ok(app) => return app,
            Err(error @ StartError::Bind { .. }) if attempts < 5 => eprintln!("{error}; choosing another port"),
            Err(error) => panic!("identity failed to start: {error}"),
        }
    }
}

/// The identity's settings on a port that was free a moment ago.
fn settings<'a>(extra: &[(&'a str, Value)]) -> Vec<(&'a str, Value)> {
    let port = flotilla_testkit::free_port();
    let mut settings = vec![
        ("services.identity.port", json!(port)),
        ("auth.issuer", json!(format!("http://127.0.0.1:{port}"))),
        ("auth.jwks_min_refresh_interval_ms", json!(100)),
        ("services.identity.admin", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
        (
            "services.identity.clients",
            json!({
                "web": {"redirect_uris": [WEB_REDIRECT], "grant_types": ["authorization_code", "refresh_token"]},
                "reporting": {
                    "secret": SERVICE_SECRET, "grant_types": ["client_credentials"],
                    "scopes": ["catalog.read"], "roles": ["service"]
                },
            }),
        ),
    ];
    settings.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    settings
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let challenge = B64.encode(Sha256::digest(verifier.as_bytes()));
    Pkce { verifier, challenge }
}

pub fn authorize_query(challenge: &str) -> Vec<(&'static str, String)> {
    vec![
        ("response_type", "code".into()),
        ("client_id", "web".into()),
        ("redirect_uri", WEB_REDIRECT.into()),
        ("scope", "openid email offline_access".into()),
        ("state", "state-123".into()),
        ("nonce", "nonce-456".into()),
        ("code_challenge", challenge.into()),
        ("code_challenge_method", "S256".into()),
    ]
}

/// A form page: its hidden fields and the CSRF cookie it set.
pub struct FormPage {
    pub fields: Vec<(String, String)>,
    pub cookie: String,
}

pub async fn open_form(app: &TestApp, path: &str, query: &[(&str, String)]) -> FormPage {
    let response = app.client.get(app.url(path)).query(query).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let html = response.text().await.unwrap();
    let fields = html
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').unwrap();
            let value = rest.split_once("value=\"").unwrap().1.split_once('"').unwrap().0;
            (name.to_owned(), unescape(value))
        })
        .collect();
    FormPage { fields, cookie }
}

fn unescape(html: &str) -> String {
    html.replace("&#43;", "+")
        .replace("&#x2b;", "+")
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub async fn submit(app: &TestApp, path: &str, page: &FormPage, email: &str, password: &str) -> reqwest::Response {
    submit_from(app, path, page, email, password, None).await
}

/// Where the gateway is, as identity is told embedded: its host is then a trusted proxy.
pub fn behind_gateway() -> (&'static str, Value) {
    ("services.gateway.url", json!("http://127.0.0.1:9"))
}

/// Submits a form as the gateway forwards a client's request: from loopback (the gateway's
/// address under [`behind_gateway`]) with `X-Forwarded-For: client`.
pub async fn submit_from(
    app: &TestApp,
    path: &str,
    page: &FormPage,
    email: &str,
    password: &str,
    client: Option<&str>,
) -> reqwest::Response {
    let mut form = page.fields.clone();
    form.push(("email".into(), email.into()));
    form.push(("password".into(), password.into()));
    let request = app.client.post(app.url(path)).header("cookie", &page.cookie).form(&form);
    forwarded_for(request, client).send().await.unwrap()
}

fn forwarded_for(request: reqwest::RequestBuilder, client: Option<&str>) -> reqwest::RequestBuilder {
    match client {
        Some(client) => request.header("x-forwarded-for", client),
        None => request,
    }
}

/// A page's HTML with the values that differ between two otherwise equal answers (the CSRF
/// value, the email typed) replaced by placeholders.
pub async fn page_text(response: reqwest::Response, page: &FormPage, email: &str) -> String {
    let csrf = page.fields.iter().find(|(name, _)| name == "csrf").map(|(_, value)| value.clone()).unwrap();
    response.text().await.unwrap().replace(&csrf, "CSRF").replace(email, "EMAIL")
}

pub fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

/// The query of a redirect's Location.
pub fn redirect_params(response: &reqwest::Response) -> HashMap<String, String> {
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(WEB_REDIRECT), "redirected to {location}");
    url::Url::parse(location).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

/// Signs in through the browser flow; returns the authorization code.
pub async fn sign_in(app: &TestApp, pkce: &Pkce, email: &str, password: &str) -> String {
    let page = open_form(app, "/oauth2/authorize", &authorize_query(&pkce.challenge)).await;
    let response = submit(app, "/oauth2/authorize", &page, email, password).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{}", response.text().await.unwrap());
    let params = redirect_params(&response);
    assert_eq!(params["state"], "state-123");
    assert_eq!(Some(&params["iss"]), app.config().settings.auth.issuer.as_ref());
    params["code"].clone()
}

pub async fn token_request(app: &TestApp, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = app.client.post(app.url("/oauth2/token")).form(form).send().await.unwrap();
    let status = response.status();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap())
}

pub async fn exchange(app: &TestApp, code: &str, verifier: &str) -> (StatusCode, Value) {
    token_request(
        app,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", WEB_REDIRECT),
            ("client_id", "web"),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn refresh(app: &TestApp, token: &str) -> (StatusCode, Value) {
    token_request(app, &[("grant_type", "refresh_token"), ("refresh_token", token), ("client_id", "web")]).await
}

pub async fn register(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    register_from(app, email, password, None).await
}

pub async fn register_from(app: &TestApp, email: &str, password: &str, client: Option<&str>) -> reqwest::Response {
    let request =
        app.client.post(app.url("/api/v1/identity/users")).json(&json!({"email": email, "password": password}));
    forwarded_for(request, client).send().await.unwrap()
}

/// A JWT's claims, read without verification (the tests verify separately).
pub fn claims(token: &str) -> Value {
    serde_json::from_slice(&B64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

pub fn header(token: &str) -> Value {
    serde_json::from_slice(&B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
}

/// A verifier configured as any service's: the identity service's issuer and the audience.
pub fn verifier(app: &TestApp) -> flotilla_chassis::auth::TokenVerifier {
    flotilla_chassis::auth::TokenVerifier::new("test", app.config().settings.auth.clone()).unwrap()
}
