//! The payments bounded context: one payment per order, authorized, captured, voided or refunded
//! through an external card processor over HTTP. Commands arrive on the bus; the calls to the
//! processor happen in a worker outside any transaction, with idempotency keys, timeouts,
//! retries with backoff, a circuit breaker, and answers that are never guessed.

pub mod api;
mod consumers;
pub mod domain;
pub mod events;
mod provider;
mod replies;
pub mod store;
mod worker;

use std::sync::Arc;
use std::time::Duration;

use flotilla_chassis::breaker::BreakerSettings;
use flotilla_chassis::config::{ConfigError, Environment};
use flotilla_chassis::db::MigrationFile;
use flotilla_chassis::service::{BuildFuture, ServiceContext, ServiceDefinition, ServiceParts};
use secrecy::SecretString;
use serde::Deserialize;
use tokio::sync::Notify;

/// Applied in order, never edited once released: a change is a new migration.
pub const MIGRATIONS: &[MigrationFile] = &[
    MigrationFile::portable(1, "payments and their operations", include_str!("../migrations/0001_payments.sql")),
    flotilla_messaging::outbox::migration(2),
    flotilla_messaging::timers::migration(3),
];

pub static SERVICE: ServiceDefinition = ServiceDefinition {
    name: "payments",
    version: env!("CARGO_PKG_VERSION"),
    api_version: "1.0.0",
    default_port: 8086,
    public_api: true,
    migrations: MIGRATIONS,
    build,
};

/// The simulator's development key: the only default, and only in dev.
const DEV_API_KEY: &str = "sk_test_flotilla_simulator";

/// `services.payments.*` settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub provider: ProviderSettings,
    pub worker: WorkerSettings,
}

/// `services.payments.provider.*`: the card processor.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProviderSettings {
    /// Its API's base URL. Defaults to the payment-provider simulator's address.
    pub url: Option<String>,
    /// Its secret API key. Required outside dev; in dev it defaults to the simulator's.
    pub api_key: Option<SecretString>,
    /// The longest one call may take; an answer that does not come by then is "unknown".
    pub timeout_ms: u64,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self { url: None, api_key: None, timeout_ms: 2000 }
    }
}

/// `services.payments.worker.*`: how calls to the processor are made and retried.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// How often to look for due operations when nothing woke the worker.
    pub poll_ms: u64,
    /// Orders whose operations run at once.
    pub concurrency: u32,
    /// Attempts an authorization gets while the processor is known not to act, before the
    /// payment fails. Captures and cancellations are retried until they are done.
    pub authorize_attempts: u32,
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    pub breaker: BreakerSettings,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            poll_ms: 1000,
            concurrency: 16,
            authorize_attempts: 3,
            retry_base_ms: 200,
            retry_max_ms: 30_000,
            breaker: BreakerSettings::default(),
        }
    }
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let settings = ctx.config.service::<Settings>(SERVICE.name)?;
        let provider = provider(&ctx, &settings.provider)?;
        let wake = Arc::new(Notify::new());
        let consumers = vec![consumers::commands(Arc::clone(&wake))];
        let messaging = flotilla_messaging::start(&ctx, SERVICE.name, events::published(), consumers).await?;
        let worker = Arc::new(worker::Worker::new(
            ctx.db.clone(),
            messaging.outbox.clone(),
            provider,
            settings.worker,
            wake,
            ctx.tracer.clone(),
        ));
        ctx.tasks.spawn(worker.run(ctx.stopping.clone()));
        let api = api::router(ctx.db.clone());
        Ok(ServiceParts::new(api).merge(messaging.parts))
    })
}

fn provider(ctx: &ServiceContext, settings: &ProviderSettings) -> Result<provider::Provider, ConfigError> {
    let invalid = |key: &str, message: &str| ConfigError::Invalid {
        key: format!("services.payments.provider.{key}"),
        message: message.to_owned(),
    };
    let url = settings
        .url
        .clone()
        .or_else(|| ctx.config.service_url("payment-provider"))
        .ok_or_else(|| invalid("url", "is required: no payment-provider service runs to default to"))?;
    let api_key = match (&settings.api_key, ctx.config.settings.env) {
        (Some(key), _) => key.clone(),
        (None, Environment::Dev) => SecretString::from(DEV_API_KEY),
        (None, _) => {
            return Err(invalid(
                "api_key",
                "is required outside dev (set FLOTILLA_SERVICES__PAYMENTS__PROVIDER__API_KEY)",
            ));
        }
    };
    if settings.timeout_ms == 0 {
        return Err(invalid("timeout_ms", "must be at least 1"));
    }
    provider::Provider::new(&url, api_key, Duration::from_millis(settings.timeout_ms))
        .map_err(|e| invalid("url", &format!("no HTTP client for it: {e}")))
}
