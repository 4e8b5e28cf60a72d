//! A service as a value, and the application that runs one: bind, connect, migrate, build,
//! serve, and on cancellation drain and stop cleanly.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use axum::{Extension, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::auth::TokenVerifier;
use crate::config::{Config, ConfigError};
use crate::db::{Database, DbError, MigrationFile};
use crate::health::{DatabaseReachable, MigrationsApplied, Readiness, ReadinessCheck};
use crate::http::{ConnectionLimits, ServiceInfo, serve, service_router};
use crate::telemetry::Tracer;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type BuildFuture = Pin<Box<dyn Future<Output = Result<ServiceParts, BoxError>> + Send>>;

/// Everything the chassis needs to know to run a bounded context.
pub struct ServiceDefinition {
    pub name: &'static str,
    pub version: &'static str,
    /// The version of the service's API contract, its OpenAPI document's `info.version` (SemVer,
    /// apart from the crate's: ADR 0017). A breaking change to the document needs a new major one.
    pub api_version: &'static str,
    pub default_port: u16,
    /// Serves a public API under `/api/v1/<name>/`, which the gateway routes.
    pub public_api: bool,
    pub migrations: &'static [MigrationFile],
    /// Builds the service's routes (and, later, consumers and workers) on its own database.
    pub build: fn(ServiceContext) -> BuildFuture,
}

impl std::fmt::Debug for ServiceDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceDefinition").field("name", &self.name).field("version", &self.version).finish()
    }
}

/// What a service is given to build itself.
#[derive(Debug, Clone)]
pub struct ServiceContext {
    pub config: Config,
    pub db: Database,
    /// Cancelled when the service stops; background work must end when it is.
    pub stopping: CancellationToken,
    /// Background work (relays, consumers) spawned here is awaited, up to the shutdown deadline,
    /// before the database pool closes, so that no worker is cut off inside a transaction.
    pub tasks: TaskTracker,
    /// Verifies bearer tokens against `auth.issuer`; the `Caller` extractor uses the same one.
    pub verifier: Arc<TokenVerifier>,
    /// The service's spans, for work that runs outside a request (consumers, relays, workers).
    pub tracer: Tracer,
    /// The message types the service publishes, set once by its messaging when it starts, so
    /// that `/version` lists every contract version the service speaks.
    pub publishes: Arc<OnceLock<Vec<&'static str>>>,
}

/// What a service hands back: its API and any extra readiness checks.
pub struct ServiceParts {
    pub api: OpenApiRouter,
    pub checks: Vec<Arc<dyn ReadinessCheck>>,
    /// Serves `/openapi.json` instead of the service's own document (the gateway's combined one).
    pub openapi_json: Option<axum::routing::MethodRouter>,
    /// Clients reach this service directly (the gateway): see [`crate::http::ServiceInfo::edge`].
    pub edge: bool,
}

impl ServiceParts {
    pub fn new(api: OpenApiRouter) -> Self {
        Self { api, checks: Vec::new(), openapi_json: None, edge: false }
    }

    /// One more dependency `/readyz` reports on.
    pub fn with_check(mut self, check: Arc<dyn ReadinessCheck>) -> Self {
        self.checks.push(check);
        self
    }

    /// Adds what a library contributes (messaging's routes and bus check, say).
    pub fn merge(mut self, other: ServiceParts) -> Self {
        self.api = self.api.merge(other.api);
        self.checks.extend(other.checks);
        self.openapi_json = self.openapi_json.or(other.openapi_json);
        self.edge |= other.edge;
        self
    }
}

impl ServiceContext {
    /// Runs `job` now and then every `period` until the service stops, as tracked background
    /// work: shutdown waits for a run in progress instead of cutting it off.
    pub fn every<F, Fut>(&self, period: std::time::Duration, mut job: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let stopping = self.stopping.clone();
        self.tasks.spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stopping.cancelled() => return,
                    _ = ticks.tick() => job().await,
                }
            }
        });
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "{service} cannot listen on {addr}: {source} (is another process using the port? set services.{service}.port)"
    )]
    Bind { service: &'static str, addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("{service} cannot export traces: {source}")]
    Traces { service: &'static str, source: crate::telemetry::ExportSetupError },
    #[error("{service} cannot check tokens: {source}")]
    Auth { service: &'static str, source: crate::auth::SetupError },
    #[error("{service} failed to start: {source}")]
    Build { service: &'static str, source: BoxError },
    #[error("{service} stopped serving: {source}")]
    Serve { service: &'static str, source: std::io::Error },
}

/// A built service, bound to its port and ready to serve.
pub struct Application {
    definition: &'static ServiceDefinition,
    config: Config,
    listener: TcpListener,
    router: Router,
    /// The operational endpoints on a port of their own (`services.<name>.ops_port`).
    ops: Option<(TcpListener, Router)>,
    openapi: OpenApi,
    db: Database,
    readiness: Readiness,
    stopping: CancellationToken,
    tasks: TaskTracker,
    tracer: Tracer,
}

impl Application {
    pub async fn build(definition: &'static ServiceDefinition, config: Config) -> Result<Self, StartError> {
        let name = definition.name;
        let span = tracing::info_span!("service", service = name, version = definition.version);
        async move {
            let settings = &config.settings;
            let port = config.service_port(name, definition.default_port)?;
            let addr = SocketAddr::new(settings.http.host, port);
            let bind = |addr: SocketAddr| async move {
                TcpListener::bind(addr).await.map_err(|source| StartError::Bind { service: name, addr, source })
            };
            let listener = bind(addr).await?;
            let ops_listener = match config.service_ops_port(name)? {
                Some(port) => Some(bind(SocketAddr::new(settings.http.host, port)).await?),
                None => None,
            };

            let db = Database::connect(name, &settings.database, &settings.data_dir).await?;
            if settings.database.migrate_on_start {
                db.migrate(name, definition.migrations).await?;
            }
            crate::metrics::record_build_info(name, definition.version);
            crate::metrics::spawn_upkeep();

            let stopping = CancellationToken::new();
            let tasks = TaskTracker::new();
            let verifier = TokenVerifier::new(name, settings.auth.clone())
                .map(Arc::new)
                .map_err(|source| StartError::Auth { service: name, source })?;
            let tracer = crate::telemetry::tracer(name, definition.version, &settings.traces)
                .map_err(|source| StartError::Traces { service: name, source })?;
            let context = ServiceContext {
                config: config.clone(),
                db: db.clone(),
                stopping: stopping.clone(),
                tasks: tasks.clone(),
                verifier: verifier.clone(),
                tracer: tracer.clone(),
                publishes: Arc::default(),
            };
            let publishes = Arc::clone(&context.publishes);
            let parts =
                (definition.build)(context).await.map_err(|source| StartError::Build { service: name, source })?;

            let mut checks: Vec<Arc<dyn ReadinessCheck>> = vec![
                Arc::new(DatabaseReachable(db.clone())),
                Arc::new(MigrationsApplied { db: db.clone(), expected: definition.migrations.len() }),
            ];
            checks.extend(parts.checks);
            let readiness = Readiness::new(checks);
            let info = ServiceInfo {
                name,
                version: definition.version,
                api_version: definition.api_version,
                publishes: publishes.get().cloned().unwrap_or_default().into(),
                edge: parts.edge,
                tracer: tracer.clone(),
            };
            let routers = service_router(
                info,
                parts.api,
                readiness.clone(),
                &settings.http,
                parts.openapi_json,
                ops_listener.is_some(),
            );
            let router = routers.api.layer(Extension(verifier));
            let ops = ops_listener.zip(routers.ops);
            let openapi = routers.openapi;
            Ok(Self { definition, config, listener, router, ops, openapi, db, readiness, stopping, tasks, tracer })
        }
        .instrument(span)
        .await
    }

    pub fn name(&self) -> &'static str {
        self.definition.name
    }

    pub fn local_addr(&self) -> Result<SocketAddr, std::io::Error> {
        self.listener.local_addr()
    }

    /// Where the operational endpoints are served when they have a port of their own.
    pub fn ops_addr(&self) -> Option<SocketAddr> {
        self.ops.as_ref().and_then(|(listener, _)| listener.local_addr().ok())
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The service's OpenAPI document, as served at `/openapi.json`.
    pub fn openapi(&self) -> &OpenApi {
        &self.openapi
    }

    /// Serves until `stop` is cancelled, then: report unready, keep serving for the drain delay,
    /// stop accepting, let in-flight requests finish up to the deadline, stop background work,
    /// close the pool.
    pub async fn run_until_stopped(self, stop: CancellationToken) -> Result<(), StartError> {
        let name = self.definition.name;
        let http = self.config.settings.http.clone();
        let span = tracing::info_span!("service", service = name, version = self.definition.version);
        async move {
            let close = CancellationToken::new();
            let limits = ConnectionLimits {
                header_read_timeout: http.header_read_timeout(),
                max_connections: http.max_connections,
            };
            let api = serve(self.listener, self.router, limits, close.clone());
            let ops = self.ops.map(|(listener, router)| serve(listener, router, limits, close.clone()));
            let mut serving = tokio::spawn(async move {
                match ops {
                    Some(ops) => tokio::join!(api, ops).0,
                    None => api.await,
                }
            });

            let early_exit = tokio::select! {
                result = &mut serving => Some(result),
                () = stop.cancelled() => None,
            };
            if let Some(result) = early_exit {
                stop_background_work(&self.stopping, &self.tasks, http.shutdown_deadline()).await;
                self.db.close().await;
                self.tracer.shutdown(http.shutdown_deadline()).await;
                return result.map_err(|join| StartError::Serve { service: name, source: std::io::Error::other(join) });
            }

            self.readiness.start_draining();
            tracing::info!(drain_delay_ms = http.drain_delay_ms, "draining: reporting unready, still serving");
            tokio::time::sleep(http.drain_delay()).await;
            close.cancel();
            tracing::info!(
                deadline_ms = http.shutdown_deadline_ms,
                "closed to new connections; finishing in-flight requests"
            );
            match tokio::time::timeout(http.shutdown_deadline(), &mut serving).await {
                Ok(Ok(())) => tracing::info!("in-flight requests finished"),
                Ok(Err(error)) => tracing::error!(%error, "the server task failed while draining"),
                Err(_) => {
                    tracing::warn!("in-flight requests still running at the deadline; abandoning them");
                    serving.abort();
                }
            }
            stop_background_work(&self.stopping, &self.tasks, http.shutdown_deadline()).await;
            self.db.close().await;
            // Last: the spans of the work just finished are among those still queued.
            self.tracer.shutdown(http.shutdown_deadline()).await;
            tracing::info!("stopped");
            Ok(())
        }
        .instrument(span)
        .await
    }
}

async fn stop_background_work(stopping: &CancellationToken, tasks: &TaskTracker, deadline: std::time::Duration) {
    stopping.cancel();
    tasks.close();
    if tokio::time::timeout(deadline, tasks.wait()).await.is_err() {
        tracing::warn!(running = tasks.len(), "background work still running at the deadline; abandoning it");
    }
}

/// Connects to a service's database and applies its migrations, nothing else (`flotilla migrate`).
pub async fn migrate(definition: &ServiceDefinition, config: &Config) -> Result<Database, StartError> {
    let settings = &config.settings;
    let db = Database::connect(definition.name, &settings.database, &settings.data_dir).await?;
    db.migrate(definition.name, definition.migrations).await?;
    Ok(db)
}
