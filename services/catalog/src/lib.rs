//! The catalog bounded context: products with prices, categories and attributes; browsing,
//! full-text search, and admin operations to create, replace and delete them.

pub mod api;
pub mod domain;
pub mod events;
mod seed;
pub mod store;

use flotilla_chassis::config::Environment;
use flotilla_chassis::db::{Database, MigrationFile};
use flotilla_chassis::service::{BuildFuture, ServiceContext, ServiceDefinition, ServiceParts};
use serde::Deserialize;

/// Applied in order, never edited once released: a change is a new migration.
pub const MIGRATIONS: &[MigrationFile] = &[
    MigrationFile::portable(1, "products and search terms", include_str!("../migrations/0001_products.sql")),
    MigrationFile::portable(2, "idempotency keys", flotilla_chassis::idempotency::TABLE_SQL),
    flotilla_messaging::outbox::migration(3),
    flotilla_messaging::timers::migration(4),
];

pub static SERVICE: ServiceDefinition = ServiceDefinition {
    name: "catalog",
    version: env!("CARGO_PKG_VERSION"),
    api_version: "1.0.0",
    default_port: 8082,
    public_api: true,
    migrations: MIGRATIONS,
    build,
};

/// `services.catalog.*` settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogSettings {
    /// Load the demo catalogue into an empty database once. Defaults to on in dev, off elsewhere.
    seed: Option<bool>,
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let settings: CatalogSettings = ctx.config.service(SERVICE.name)?;
        let messaging = flotilla_messaging::start(&ctx, SERVICE.name, events::published(), Vec::new()).await?;
        if settings.seed.unwrap_or(ctx.config.settings.env == Environment::Dev) {
            // On a pool of its own, closed afterwards: the one big write of the service's life
            // would otherwise leave its page and statement caches resident in an idle pool.
            let settings = &ctx.config.settings;
            let db = Database::connect(SERVICE.name, &settings.database, &settings.data_dir).await?;
            let loaded = seed::load_once(&db, &messaging.outbox).await;
            db.close().await;
            let loaded = loaded?;
            if loaded > 0 {
                tracing::info!(products = loaded, "loaded the demo catalogue");
            }
        }
        Ok(ServiceParts::new(api::router(ctx.db.clone(), messaging.outbox)).merge(messaging.parts))
    })
}
