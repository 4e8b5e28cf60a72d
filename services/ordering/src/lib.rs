//! The ordering bounded context: checkout, and the saga that takes each order through stock,
//! payment and shipping, compensating whatever fails. It orchestrates by commands and replies
//! through its outbox and inbox, watches each step with a durable timer, and publishes the
//! order's milestones.

pub mod api;
mod basket;
mod consumers;
pub mod domain;
pub mod events;
mod metrics;
mod saga;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use flotilla_chassis::auth::ServiceTokens;
use flotilla_chassis::config::ConfigError;
use flotilla_chassis::db::MigrationFile;
use flotilla_chassis::service::{BuildFuture, ServiceContext, ServiceDefinition, ServiceParts};
use secrecy::SecretString;
use serde::Deserialize;

use crate::saga::Timeouts;

/// Applied in order, never edited once released: a change is a new migration.
pub const MIGRATIONS: &[MigrationFile] = &[
    MigrationFile::portable(1, "orders and their timelines", include_str!("../migrations/0001_orders.sql")),
    MigrationFile::portable(2, "idempotency keys", flotilla_chassis::idempotency::TABLE_SQL),
    flotilla_messaging::outbox::migration(3),
    flotilla_messaging::timers::migration(4),
    MigrationFile::portable(
        5,
        "the phase of each timeline entry",
        include_str!("../migrations/0005_timeline_phase.sql"),
    ),
];

pub static SERVICE: ServiceDefinition = ServiceDefinition {
    name: "ordering",
    version: env!("CARGO_PKG_VERSION"),
    api_version: "1.0.0",
    default_port: 8084,
    public_api: true,
    migrations: MIGRATIONS,
    build,
};

/// The service account ordering reads baskets as (a client-credentials client at the issuer).
pub const CLIENT_ID: &str = "ordering";

/// `services.ordering.*` settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// How long a forward step (reserve, authorize, commit, capture) may take before the order
    /// is compensated. Longer than payments' retries of an authorization.
    pub step_timeout_ms: u64,
    /// How long an undo may go unanswered before it is sent again.
    pub undo_retry_ms: u64,
    /// The secret of ordering's service account at the issuer. `flotilla run` and `flotilla up`
    /// make one up for each start; a deployment sets it from a secret store.
    pub client_secret: Option<SecretString>,
    /// The longest the basket may take to answer a checkout's read.
    pub basket_timeout_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self { step_timeout_ms: 30_000, undo_retry_ms: 10_000, client_secret: None, basket_timeout_ms: 2_000 }
    }
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let settings = ctx.config.service::<Settings>(SERVICE.name)?;
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            key: format!("services.ordering.{key}"),
            message: message.to_owned(),
        };
        if settings.step_timeout_ms == 0 || settings.undo_retry_ms == 0 || settings.basket_timeout_ms == 0 {
            return Err(invalid("step_timeout_ms", "timeouts must be at least 1 ms").into());
        }
        let secret = settings.client_secret.clone().ok_or_else(|| {
            invalid("client_secret", "is required: ordering reads baskets as its own service account")
        })?;
        let basket_url = ctx
            .config
            .service_url("basket")
            .ok_or_else(|| invalid("client_secret", "no basket service is configured to read baskets from"))?;
        let tokens = ServiceTokens::new(ctx.verifier.settings(), CLIENT_ID, secret, Some(basket::SCOPE))?;
        let basket = Arc::new(basket::BasketClient::new(
            &basket_url,
            tokens,
            Duration::from_millis(settings.basket_timeout_ms),
        )?);
        let timeouts = Timeouts {
            step: Duration::from_millis(settings.step_timeout_ms),
            undo_retry: Duration::from_millis(settings.undo_retry_ms),
        };
        let consumers = vec![consumers::checkout(Arc::new(timeouts))];
        let messaging = flotilla_messaging::start(&ctx, SERVICE.name, events::published(), consumers).await?;
        let db = ctx.db.clone();
        ctx.every(metrics::SAMPLE_EVERY, move || metrics::sample_oldest_open(db.clone()));
        let api = api::router(ctx.db.clone(), messaging.outbox, basket, timeouts);
        Ok(ServiceParts::new(api).merge(messaging.parts))
    })
}
