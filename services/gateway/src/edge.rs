//! What every request through the gateway passes first: the per-client rate limit, then the
//! browser session lookup (kept for the proxy), CORS by configuration.

use std::net::SocketAddr;
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, OptionalFromRequestParts, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flotilla_chassis::auth::Caller;
use flotilla_chassis::http::client_ip;
use flotilla_chassis::{Problem, ProblemKind};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::GatewayState;
use crate::bff::{self, Current};
use crate::settings::GatewaySettings;

/// The browser session found for this request (or none), handed from the edge to the proxy.
#[derive(Clone)]
pub struct ResolvedSession(pub Option<std::sync::Arc<Current>>);

pub fn limiter(settings: &GatewaySettings) -> DefaultKeyedRateLimiter<String> {
    let rate = NonZeroU32::new(settings.rate_limit_per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(settings.rate_limit_burst).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
}

/// A token bucket per client: the verified subject of the bearer token or session, else the
/// client address (X-Forwarded-For believed only from trusted proxies). A bearer token that is
/// present and not acceptable is refused here, as every service would refuse it (docs/auth.md),
/// once the address's bucket has paid for it.
pub async fn rate_limit(
    State(state): State<GatewayState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let mut refused = None;
    let key = if has_bearer(&parts.headers) {
        match <Caller as OptionalFromRequestParts<()>>::from_request_parts(&mut parts, &()).await {
            Ok(caller) => caller.map(|caller| format!("sub:{}", caller.subject)),
            Err(problem) => {
                refused = Some(problem);
                None
            }
        }
    } else {
        let current = match bff::current(&state, &parts.headers).await {
            Ok(current) => current.map(std::sync::Arc::new),
            Err(problem) => return problem.into_response(),
        };
        let key = current.as_ref().map(|c| format!("sub:{}", c.session.subject));
        parts.extensions.insert(ResolvedSession(current));
        key
    };
    let key = key.unwrap_or_else(|| format!("ip:{}", client_ip(peer, &parts.headers, &state.settings.trusted_proxies)));
    if let Err(not_until) = state.limiter.check_key(&key) {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
        metrics::counter!(crate::upstream::RATE_LIMITED, "service" => crate::SERVICE.name).increment(1);
        return Problem::new(ProblemKind::RateLimited)
            .with_detail("this client is sending requests faster than allowed")
            .with_retry_after(wait.as_secs().max(1))
            .into_response();
    }
    if let Some(problem) = refused {
        return problem.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Whether the request names a bearer token; other schemes (a client's Basic credentials at the
/// token endpoint) are the service's to judge.
fn has_bearer(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().get(..7))
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"bearer "))
}

/// CORS for the configured origins only (none by default: the storefront is same-origin). The
/// session cookie may accompany such requests, so the origins must be ones the operator trusts.
pub fn cors(settings: &GatewaySettings) -> CorsLayer {
    let origins: Vec<HeaderValue> =
        settings.cors_allowed_origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            header::HeaderName::from_static("idempotency-key"),
            header::HeaderName::from_static(bff::CSRF_HEADER),
            header::HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            header::HeaderName::from_static("x-request-id"),
        ])
        .allow_credentials(true)
        .max_age(std::time::Duration::from_secs(600))
}

/// HSTS when browsers reach the gateway over https.
pub async fn strict_transport(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    response
}
