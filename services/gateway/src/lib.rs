//! The API gateway (port 8080): the single entry for browsers and API clients. It routes
//! `/api/v1/<context>/...` to the services with per-upstream timeouts, retries for idempotent
//! requests and circuit breakers; limits each client's rate; keeps browser sessions server-side
//! (`/auth/*`); and serves the combined OpenAPI document with Swagger UI.

mod bff;
mod docs;
pub mod domain;
mod edge;
mod events;
mod proxy;
mod session;
pub mod settings;
mod upstream;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::any;
use flotilla_chassis::auth::{OidcClient, TokenVerifier};
use flotilla_chassis::db::{Database, MigrationFile};
use flotilla_chassis::service::{BuildFuture, ServiceContext, ServiceDefinition, ServiceParts};
use governor::DefaultKeyedRateLimiter;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::settings::GatewaySettings;
use crate::upstream::{Breakers, Upstream};

/// Applied in order, never edited once released: a change is a new migration.
pub const MIGRATIONS: &[MigrationFile] =
    &[MigrationFile::portable(1, "browser sessions and sign-ins", include_str!("../migrations/0001_sessions.sql"))];

pub static SERVICE: ServiceDefinition = ServiceDefinition {
    name: "gateway",
    version: env!("CARGO_PKG_VERSION"),
    api_version: "1.0.0",
    default_port: 8080,
    public_api: false,
    migrations: MIGRATIONS,
    build,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Flotilla",
        description = "Every Flotilla API through the gateway. Browsers sign in at /auth/login and are \
            then authenticated by their session cookie (state changes also need X-CSRF-Token); API \
            clients send a bearer token from the identity provider."
    ),
    tags(
        (name = "session", description = "The browser session (backend-for-frontend)"),
        (name = "events", description = "The messages services exchange: AsyncAPI and JSON Schemas"),
    ),
)]
struct ApiDoc;

#[derive(Clone)]
pub(crate) struct GatewayState {
    pub db: Database,
    pub settings: Arc<GatewaySettings>,
    pub upstreams: Arc<BTreeMap<String, Arc<Upstream>>>,
    pub oidc: bff::Oidc,
    pub verifier: Arc<TokenVerifier>,
    pub limiter: Arc<DefaultKeyedRateLimiter<String>>,
    pub body_limit: usize,
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let mut settings: GatewaySettings = ctx.config.service(SERVICE.name)?;
        settings.public_url = ctx.config.settings.public_url.clone().ok_or("public_url: not set")?;
        let routes = settings.routes(&ctx.config.directory())?;
        settings.validate(&routes)?;
        let auth = &ctx.config.settings.auth;
        // No client-wide timeout: each upstream sets its own per attempt.
        let http = flotilla_chassis::outbound::builder().pool_max_idle_per_host(256).build()?;
        let upstreams: BTreeMap<String, Arc<Upstream>> =
            routes.iter().map(|route| (route.name.clone(), Arc::new(Upstream::new(route, http.clone())))).collect();
        let oidc = Arc::new(OidcClient::new(auth, &settings.client_id, settings.client_secret.clone())?);
        let limiter = Arc::new(edge::limiter(&settings));
        let (sweeper_db, sweeper_limiter) = (ctx.db.clone(), Arc::clone(&limiter));
        ctx.every(Duration::from_secs(60), move || {
            let (db, limiter) = (sweeper_db.clone(), Arc::clone(&sweeper_limiter));
            async move {
                if let Err(error) = session::sweep(&db, time::OffsetDateTime::now_utc()).await {
                    tracing::warn!(%error, "could not sweep expired sessions");
                }
                // Buckets of clients gone quiet are full again: forget them, or the map only grows.
                limiter.retain_recent();
                limiter.shrink_to_fit();
            }
        });
        let upstream_list: Vec<(String, String)> = routes.into_iter().map(|route| (route.name, route.url)).collect();
        let breakers = Breakers(Arc::new(upstreams.values().cloned().collect()));
        let settings = Arc::new(settings);
        let state = GatewayState {
            db: ctx.db.clone(),
            settings: Arc::clone(&settings),
            upstreams: Arc::new(upstreams),
            oidc,
            verifier: Arc::clone(&ctx.verifier),
            limiter,
            body_limit: ctx.config.settings.http.body_limit_bytes,
        };
        let entry = OpenApiRouter::with_openapi(ApiDoc::openapi())
            .merge(bff::router())
            .merge(events::router())
            .route("/api/v1/{*path}", any(proxy::proxy))
            .layer(axum::middleware::from_fn_with_state(state.clone(), edge::rate_limit))
            .with_state(state);
        let own = entry.get_openapi().clone();
        let mut api = entry.merge(OpenApiRouter::from(docs::swagger_ui())).layer(edge::cors(&settings));
        if settings.secure_cookies() {
            api = api.layer(axum::middleware::from_fn(edge::strict_transport));
        }
        let combined = Arc::new(docs::Combined::new(own, upstream_list)?);
        let mut parts = ServiceParts::new(api).with_check(Arc::new(breakers));
        parts.edge = true;
        parts.openapi_json = Some(axum::routing::get(move || Arc::clone(&combined).serve()));
        Ok(parts)
    })
}
