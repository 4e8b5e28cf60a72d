//! The inventory bounded context: stock per SKU, and the reservations that hold it for orders
//! until they are committed (sold), released, or lapse on a durable timer. Admins receive and
//! adjust stock; the catalog's events say which SKUs exist.
//!
//! Invariants, kept by conditional statements and backed by the schema's CHECKs: no count goes
//! below zero, and for every SKU `available + reserved + committed = received`.

pub mod api;
mod consumers;
pub mod domain;
pub mod events;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use flotilla_chassis::config::Environment;
use flotilla_chassis::db::MigrationFile;
use flotilla_chassis::service::{BuildFuture, ServiceContext, ServiceDefinition, ServiceParts};
use serde::Deserialize;

/// Applied in order, never edited once released: a change is a new migration.
pub const MIGRATIONS: &[MigrationFile] = &[
    MigrationFile::portable(1, "stock and reservations", include_str!("../migrations/0001_stock.sql")),
    MigrationFile::portable(2, "idempotency keys", flotilla_chassis::idempotency::TABLE_SQL),
    flotilla_messaging::outbox::migration(3),
    flotilla_messaging::timers::migration(4),
];

pub static SERVICE: ServiceDefinition = ServiceDefinition {
    name: "inventory",
    version: env!("CARGO_PKG_VERSION"),
    api_version: "1.0.0",
    default_port: 8085,
    public_api: true,
    migrations: MIGRATIONS,
    build,
};

/// `services.inventory.*` settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// How long a reservation holds its units unless committed or released first. Longer than
    /// any checkout takes: it is the safety net for an order whose saga never finishes.
    pub reservation_hold_s: u64,
    /// Units a SKU starts with when the catalog creates it. Defaults to 100 in dev (a store to
    /// try out), 0 elsewhere (stock is received).
    pub initial_stock: Option<u32>,
    /// The most SKUs one reservation may hold.
    pub max_lines: usize,
    /// The most units of one SKU one reservation may hold.
    pub max_units_per_line: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self { reservation_hold_s: 900, initial_stock: None, max_lines: 50, max_units_per_line: 1000 }
    }
}

impl Settings {
    pub fn hold(&self) -> Duration {
        Duration::from_secs(self.reservation_hold_s)
    }
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let mut settings = ctx.config.service::<Settings>(SERVICE.name)?;
        let dev = ctx.config.settings.env == Environment::Dev;
        settings.initial_stock.get_or_insert(if dev { 100 } else { 0 });
        let settings = Arc::new(settings);
        let consumers = vec![consumers::reservations(Arc::clone(&settings)), consumers::catalog_products(settings)];
        let messaging = flotilla_messaging::start(&ctx, SERVICE.name, events::published(), consumers).await?;
        let api = api::router(ctx.db.clone(), messaging.outbox);
        Ok(ServiceParts::new(api).merge(messaging.parts))
    })
}
