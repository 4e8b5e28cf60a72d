//! The basket bounded context: one basket per customer, its lines priced from a local read model
//! of the catalog that the catalog's events keep current, so that no request waits on the catalog.

mod access;
pub mod api;
mod consumers;
pub mod domain;
pub mod events;
pub mod store;

use flotilla_chassis::config::ConfigError;
use flotilla_chassis::db::MigrationFile;
use flotilla_chassis::service::{BuildFuture, ServiceContext, ServiceDefinition, ServiceParts};
use serde::Deserialize;

use crate::domain::basket::Limits;

/// Applied in order, never edited once released: a change is a new migration.
pub const MIGRATIONS: &[MigrationFile] = &[
    MigrationFile::portable(1, "baskets and the product read model", include_str!("../migrations/0001_baskets.sql")),
    MigrationFile::portable(2, "idempotency keys", flotilla_chassis::idempotency::TABLE_SQL),
    flotilla_messaging::outbox::migration(3),
    flotilla_messaging::timers::migration(4),
];

pub static SERVICE: ServiceDefinition = ServiceDefinition {
    name: "basket",
    version: env!("CARGO_PKG_VERSION"),
    api_version: "1.0.0",
    default_port: 8083,
    public_api: true,
    migrations: MIGRATIONS,
    build,
};

/// `services.basket.*` settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The most of one product a basket line may hold.
    pub max_quantity: i64,
    /// The most lines (distinct products) a basket may hold.
    pub max_lines: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self { max_quantity: 99, max_lines: 50 }
    }
}

impl Settings {
    pub fn limits(&self) -> Result<Limits, ConfigError> {
        Limits::new(self.max_quantity, self.max_lines)
            .map_err(|message| ConfigError::Invalid { key: format!("services.{}", SERVICE.name), message })
    }
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let limits = ctx.config.service::<Settings>(SERVICE.name)?.limits()?;
        let consumers = vec![consumers::catalog_products(), consumers::orders()];
        let messaging = flotilla_messaging::start(&ctx, SERVICE.name, events::published(), consumers).await?;
        let api = api::router(ctx.db.clone(), messaging.outbox, limits);
        Ok(ServiceParts::new(api).merge(messaging.parts))
    })
}
