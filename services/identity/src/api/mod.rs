//! The provider's HTTP surface. OpenID Connect endpoints live where discovery says
//! (`/.well-known/openid-configuration`, `/oauth2/*`) and follow their RFCs' shapes; the
//! service's own API is under `/api/v1/identity` with problem+json errors.

mod authorize;
mod oauth_error;
mod pages;
mod token;
mod users;

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flotilla_chassis::db::Database;
use flotilla_chassis::http::client_ip;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::json;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::domain::throttle::retry_after_seconds;
use crate::keys::KeyRing;
use crate::settings::IdentitySettings;
use crate::throttle::Throttle;
use crate::tokens::Minter;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flotilla identity",
        description = "An OpenID Connect provider. The OAuth 2.0 and OpenID Connect endpoints \
            (authorize, token, revoke, userinfo, JWKS) are listed in the discovery document at \
            /.well-known/openid-configuration and follow their specifications; this document covers the \
            service's own API."
    ),
    tags((name = "identity", description = "Users and signing keys")),
)]
struct ApiDoc;

/// What slows sign-in and registration down.
#[derive(Clone)]
pub struct Limits {
    /// Sign-in and registration attempts per client address, in this replica's memory.
    pub attempts: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    /// Failed sign-ins, in the database.
    pub throttle: Throttle,
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub db: Database,
    pub settings: Arc<IdentitySettings>,
    pub minter: Minter,
    pub limits: Limits,
    /// Set the CSRF cookie `Secure` when the issuer is served over https.
    pub secure_cookies: bool,
}

impl AppState {
    pub fn issuer(&self) -> &str {
        &self.minter.issuer
    }

    /// The client's address: the peer's, or X-Forwarded-For's when the peer is a trusted proxy.
    fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        client_ip(peer, headers, self.settings.trusted_proxies())
    }

    /// Takes one attempt from the client's budget; when it is spent, the whole seconds until
    /// the next attempt is allowed, for `Retry-After`.
    fn take_attempt(&self, client: IpAddr) -> Result<(), u64> {
        let attempts = &self.limits.attempts;
        attempts.check_key(&client).map_err(|refused| {
            tracing::warn!(client_ip = %client, "sign-in and registration attempts rate-limited");
            let wait = refused.wait_time_from(attempts.clock().now());
            retry_after_seconds(wait.try_into().unwrap_or(time::Duration::MAX))
        })
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer().trim_end_matches('/'))
    }
}

/// Sign-in and registration attempts per client address.
pub fn attempt_limiter(settings: &IdentitySettings) -> Arc<DefaultKeyedRateLimiter<IpAddr>> {
    let per_minute = NonZeroU32::new(settings.sign_in_per_minute).unwrap_or(NonZeroU32::MIN);
    Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute)))
}

pub fn router(
    db: Database,
    settings: Arc<IdentitySettings>,
    minter: Minter,
    keys: Arc<KeyRing>,
    limits: Limits,
) -> OpenApiRouter {
    let secure_cookies = minter.issuer.starts_with("https://");
    let state = AppState { db, settings, minter, limits, secure_cookies };
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/oauth2/jwks", get(move || jwks(Arc::clone(&keys))))
        .merge(authorize::router())
        .merge(token::router())
        .merge(users::router())
        .with_state(state)
}

/// OpenID Connect Discovery 1.0 §3.
async fn discovery(State(state): State<AppState>) -> Response {
    let document = json!({
        "issuer": state.issuer(),
        "authorization_endpoint": state.endpoint("/oauth2/authorize"),
        "token_endpoint": state.endpoint("/oauth2/token"),
        "userinfo_endpoint": state.endpoint("/oauth2/userinfo"),
        "jwks_uri": state.endpoint("/oauth2/jwks"),
        "revocation_endpoint": state.endpoint("/oauth2/revoke"),
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "email", "email_verified", "roles", "scope", "client_id"],
        "authorization_response_iss_parameter_supported": true,
    });
    cacheable(Json(document).into_response())
}

async fn jwks(keys: Arc<KeyRing>) -> Response {
    cacheable(Json((*keys.jwks()).clone()).into_response())
}

/// Public documents that verifiers may cache briefly; a rotation is published `prepublish`
/// ahead, far longer than this.
fn cacheable(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60"));
    response
}
