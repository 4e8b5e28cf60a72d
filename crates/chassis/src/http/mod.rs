//! The HTTP stack every service runs behind, and the operational endpoints it serves.
//!
//! Outermost first: observe (request id, trace context, span, metrics, access log) → security
//! headers → compression →
//! panic to 500 problem → body limit → for the API only: load shedding and a per-request timeout.
//! Probes and `/metrics` sit outside load shedding, so an overloaded service still answers them.
//! They are served on the API's port, or on a port of their own when one is configured.

mod client;
mod observe;
mod ops;
mod serve;
mod stack_responses;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::HttpSettings;
use crate::health::Readiness;
use crate::problem::{Problem, ProblemKind};

pub use client::{client_ip, cookie};
pub use observe::REQUEST_ID_HEADER;
pub(crate) use serve::{ConnectionLimits, serve};

/// What the stack needs to know about the service it fronts.
#[derive(Debug, Clone)]
pub struct ServiceInfo {
    pub name: &'static str,
    pub version: &'static str,
    /// The API contract's version, written into the document as `info.version`.
    pub api_version: &'static str,
    /// The message types it publishes, each ending in its contract's major version.
    pub publishes: Arc<[&'static str]>,
    /// Clients reach this service directly, not through a hop of ours, so a request id they send
    /// is not believed: the service makes its own and logs theirs beside it.
    pub edge: bool,
    pub tracer: crate::telemetry::Tracer,
}

/// A service's routers, wrapped in the stack, and its complete OpenAPI document.
pub struct ServiceRouters {
    pub api: Router,
    /// The operational endpoints, when they are to be served on a port of their own; otherwise
    /// `api` serves them too.
    pub ops: Option<Router>,
    pub openapi: OpenApi,
}

/// Wraps a service's API routes in the common stack and adds the operational endpoints, beside
/// the API or (`separate_ops`) in a router of their own.
pub fn service_router(
    info: ServiceInfo,
    api: OpenApiRouter,
    readiness: Readiness,
    settings: &HttpSettings,
    openapi_json: Option<axum::routing::MethodRouter>,
    separate_ops: bool,
) -> ServiceRouters {
    let (api, mut openapi) = api.merge(crate::telemetry::recent::router()).split_for_parts();
    openapi.info.version = info.api_version.to_owned();
    stack_responses::document(&mut openapi);
    openapi.merge(<ProblemSchemas as utoipa::OpenApi>::openapi());
    let (ops, ops_doc) = ops::router(info.clone(), readiness).split_for_parts();
    if !separate_ops {
        openapi.merge(ops_doc);
    }
    add_bearer_scheme(&mut openapi);
    public_means_no_security(&mut openapi);
    // Relative to the document: wherever it was fetched from serves what it describes.
    openapi.servers = Some(vec![utoipa::openapi::Server::new("/")]);
    let own_openapi = Arc::new(openapi.to_pretty_json().unwrap_or_default());

    let timeout = settings.request_timeout();
    let api =
        api.layer(middleware::from_fn(move |req: Request, next: Next| request_timeout(timeout, req, next))).layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
                    Problem::new(ProblemKind::Overloaded).with_retry_after(1)
                }))
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::new(settings.concurrency_limit)),
        );

    let serve_openapi =
        openapi_json.unwrap_or_else(|| axum::routing::get(move || ops::openapi_json(own_openapi.clone())));
    let api = api.route("/openapi.json", serve_openapi);
    let (api, ops) = if separate_ops { (api, Some(ops)) } else { (api.merge(ops), None) };
    let stack = |router: Router| {
        router
            .fallback(|| async { Problem::new(ProblemKind::NotFound).with_detail("no route matches this path") })
            .method_not_allowed_fallback(|| async { Problem::new(ProblemKind::MethodNotAllowed) })
            .layer(DefaultBodyLimit::max(settings.body_limit_bytes))
            .layer(CatchPanicLayer::custom(|_panic| {
                // The panic message is already on stderr through the panic hook; never send it out.
                tracing::error!("handler panicked");
                Problem::new(ProblemKind::Internal).into_response()
            }))
            .layer(CompressionLayer::new())
            .layer(middleware::map_response(security_headers))
            .layer(middleware::from_fn_with_state(info.clone(), observe::observe))
    };
    ServiceRouters { api: stack(api), ops: ops.map(stack), openapi }
}

/// Headers every response carries unless its handler chose its own (an HTML page's CSP): no
/// content sniffing, no framing, no referrer, and a CSP that lets a JSON response do nothing.
async fn security_headers(mut response: Response) -> Response {
    use axum::http::{HeaderValue, header};
    let headers = response.headers_mut();
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, "default-src 'none'; frame-ancestors 'none'"),
        (header::HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
    ];
    for (name, value) in defaults {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    response
}

/// `security(())` writes `[{}]`, "an empty requirement is enough"; OpenAPI's own way to say an
/// operation is public is `[]`, which linters and client generators read as public.
fn public_means_no_security(openapi: &mut OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        for operation in stack_responses::operations(item) {
            if let Some(security) = &mut operation.security
                && security.len() == 1
                && serde_json::to_value(&security[0]).is_ok_and(|value| value == serde_json::json!({}))
            {
                security.clear();
            }
        }
    }
}

/// The problem schemas that every document's error responses name.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(Problem, crate::problem::FieldViolation)))]
struct ProblemSchemas;

/// The `bearer` security scheme that protected operations name in `security(("bearer" = []))`.
fn add_bearer_scheme(openapi: &mut OpenApi) {
    use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
    let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
    openapi.components.get_or_insert_with(Default::default).add_security_scheme("bearer", SecurityScheme::Http(scheme));
}

async fn request_timeout(limit: Duration, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => Problem::new(ProblemKind::Timeout)
            .with_detail(format!("no response within {} ms", limit.as_millis()))
            .with_retry_after(1)
            .into_response(),
    }
}

#[cfg(test)]
mod tests;
