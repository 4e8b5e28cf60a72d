//! A token issuer for tests: a real HTTP server on loopback that publishes discovery and a JWKS,
//! and signs whatever claims a test asks for, including the broken and hostile ones a token
//! matrix needs (expired, wrong audience, `alg: none`, HS256 keyed with the public key...).
//!
//! Services under test verify against it exactly as they would against the identity service or
//! an external provider: by issuer URL and audience. The identity service's own tokens are
//! tested end to end in the system tests.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use flotilla_chassis::auth::SigningKey;
use serde_json::{Value, json};
use tokio::net::TcpListener;

pub const AUDIENCE: &str = "flotilla";
/// The secret every service account has at the test issuer: the client credentials grant
/// issues a token to any client id that presents it, and to no other.
pub const CLIENT_SECRET: &str = "test-client-secret";

pub struct TestIssuer {
    issuer: String,
    key: SigningKey,
    /// Signs tokens whose `kid` the JWKS never lists.
    unpublished: SigningKey,
    serving: tokio::task::JoinHandle<()>,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

impl TestIssuer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the test issuer");
        let issuer = format!("http://{}", listener.local_addr().expect("issuer address"));
        let key = SigningKey::generate_es256().expect("test key");
        let unpublished = SigningKey::generate_es256().expect("test key");
        let discovery = Arc::new(json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/jwks"),
            "token_endpoint": format!("{issuer}/token"),
            // No browser signs in here; the endpoint is named because discovery requires one.
            "authorization_endpoint": format!("{issuer}/authorize"),
            "id_token_signing_alg_values_supported": ["ES256"],
        }));
        let jwks = Arc::new(json!({"keys": [key.public_jwk()]}));
        let minter = Arc::new(Minter {
            issuer: issuer.clone(),
            key: SigningKey::from_pkcs8(key.algorithm(), key.pkcs8()).expect("the same key"),
        });
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(move || async move { Json((*discovery).clone()) }))
            .route("/jwks", get(move || async move { Json((*jwks).clone()) }))
            .route(
                "/token",
                post(move |headers: HeaderMap, body: String| async move { minter.token(&headers, &body) }),
            );
        let serving = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { issuer, key, unpublished, serving }
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The published signing key.
    pub fn public_jwk(&self) -> &Value {
        self.key.public_jwk()
    }

    /// The settings that point a service at this issuer.
    pub fn settings(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("auth.issuer", json!(self.issuer)),
            ("auth.audience", json!(AUDIENCE)),
            ("auth.jwks_min_refresh_interval_ms", json!(200)),
        ]
    }

    /// Valid access-token claims for `subject` with `roles`, good for an hour (longer than any test).
    pub fn claims(&self, subject: &str, roles: &[&str]) -> Value {
        let now = now();
        json!({
            "iss": self.issuer, "sub": subject, "aud": AUDIENCE,
            "iat": now, "nbf": now, "exp": now + 3600,
            "jti": uuid::Uuid::now_v7().to_string(), "scope": "openid", "roles": roles,
            "client_id": "test-client",
        })
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.key.sign("at+jwt", claims).expect("sign")
    }

    pub fn token(&self, subject: &str, roles: &[&str]) -> String {
        self.sign(&self.claims(subject, roles))
    }

    /// Correctly signed, but with a key the issuer never published.
    pub fn sign_with_unpublished_key(&self, claims: &Value) -> String {
        self.unpublished.sign("at+jwt", claims).expect("sign")
    }

    /// `alg: none`, no signature: the oldest JWT attack.
    pub fn unsigned(&self, claims: &Value) -> String {
        let header = json!({"alg": "none", "typ": "at+jwt", "kid": self.key.kid()});
        format!("{}.{}.", encode(&header), encode(claims))
    }

    /// HS256 keyed with the published public key: algorithm confusion, which fools verifiers that
    /// let the token pick the algorithm.
    pub fn hs256_with_public_key(&self, claims: &Value) -> String {
        let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": self.key.kid()});
        let input = format!("{}.{}", encode(&header), encode(claims));
        let secret = self.key.public_jwk().to_string();
        let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()), input.as_bytes());
        format!("{input}.{}", B64.encode(tag.as_ref()))
    }
}

/// The token endpoint's client credentials grant, as a service account's client uses it.
struct Minter {
    issuer: String,
    key: SigningKey,
}

impl Minter {
    fn token(&self, headers: &HeaderMap, body: &str) -> (StatusCode, Json<Value>) {
        let refuse = |status, error: &str| (status, Json(json!({ "error": error })));
        let form: std::collections::HashMap<&str, &str> =
            body.split('&').filter_map(|pair| pair.split_once('=')).collect();
        if form.get("grant_type") != Some(&"client_credentials") {
            return refuse(StatusCode::BAD_REQUEST, "unsupported_grant_type");
        }
        let credentials = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
            .and_then(|v| String::from_utf8(v).ok());
        let Some((client_id, secret)) = credentials.as_deref().and_then(|c| c.split_once(':')) else {
            return refuse(StatusCode::UNAUTHORIZED, "invalid_client");
        };
        if secret != CLIENT_SECRET {
            return refuse(StatusCode::UNAUTHORIZED, "invalid_client");
        }
        let scope = form.get("scope").map(|s| s.replace("%20", " ").replace('+', " ")).unwrap_or_default();
        let now = now();
        let claims = json!({
            "iss": self.issuer, "sub": client_id, "aud": AUDIENCE, "client_id": client_id,
            "iat": now, "nbf": now, "exp": now + 300, "jti": uuid::Uuid::now_v7().to_string(),
            "scope": scope, "roles": [],
        });
        let token = self.key.sign("at+jwt", &claims).expect("sign");
        (StatusCode::OK, Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 300})))
    }
}

/// A valid token whose claims were changed after signing (`roles` set to admin).
pub fn tampered(token: &str) -> String {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap());
    let mut claims: Value = serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
    claims["roles"] = json!(["admin"]);
    format!("{header}.{}.{signature}", encode(&claims))
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn encode(value: &Value) -> String {
    B64.encode(serde_json::to_vec(value).unwrap())
}
