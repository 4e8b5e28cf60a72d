//! The merchant's API key. This is not our services' OpenID Connect: a processor hands each
//! merchant a secret key, sent as a bearer credential on every call.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flotilla_chassis::{Problem, ProblemKind, secrets};
use secrecy::{ExposeSecret, SecretString};

/// The configured key, and the account it stands for.
#[derive(Clone)]
pub struct ApiKey {
    secret: Arc<SecretString>,
    account: Account,
}

/// Whose call this is: the digest of the API key, never the key itself, so that what is kept
/// per account (idempotency keys) holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account(pub String);

impl ApiKey {
    pub fn new(secret: Arc<SecretString>) -> Self {
        let account = Account(secrets::fingerprint(secret.expose_secret()));
        Self { secret, account }
    }
}

/// Lets a call through only with `Authorization: Bearer <the api key>`, and tells the handler
/// whose call it is.
pub async fn require_api_key(State(key): State<ApiKey>, mut request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, credential)| credential.trim());
    match presented {
        // Compared through digests: the time taken says nothing about how much of the key matched.
        Some(credential) if secrets::same(credential, key.secret.expose_secret()) => {
            request.extensions_mut().insert(key.account.clone());
            next.run(request).await
        }
        _ => Problem::new(ProblemKind::Unauthenticated)
            .with_detail("a valid API key is required: Authorization: Bearer <api key>")
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"payment-provider\""))
            .into_response(),
    }
}
