//! The payment-provider simulator: a stand-in for an external card processor, with a
//! Stripe-shaped API under `/v1` (payment intents with manual capture, refunds), authenticated by
//! an API key, idempotent as processors are, and with fault knobs that make it slow, failing,
//! down, or acting without answering in time. It is "external": no bus messages, and the gateway
//! does not route it.

mod api;
pub mod domain;
pub mod store;

use std::sync::Arc;

use flotilla_chassis::config::ConfigError;
use flotilla_chassis::db::MigrationFile;
use flotilla_chassis::service::{BuildFuture, ServiceContext, ServiceDefinition, ServiceParts};
use secrecy::SecretString;
use serde::Deserialize;

pub use api::FaultSettings;

/// Applied in order, never edited once released: a change is a new migration.
pub const MIGRATIONS: &[MigrationFile] = &[
    MigrationFile::portable(1, "payment intents and refunds", include_str!("../migrations/0001_payment_intents.sql")),
    MigrationFile::portable(2, "idempotency keys", flotilla_chassis::idempotency::TABLE_SQL),
];

pub static SERVICE: ServiceDefinition = ServiceDefinition {
    name: "payment-provider",
    version: env!("CARGO_PKG_VERSION"),
    api_version: "1.0.0",
    default_port: 8089,
    // A third party's API: clients call it directly, never through our gateway.
    public_api: false,
    migrations: MIGRATIONS,
    build,
};

/// The API key a development setup uses unless `services.payment-provider.api_key` says otherwise.
pub const DEV_API_KEY: &str = "sk_test_flotilla_simulator";

/// `services.payment-provider.*` settings.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The merchant's secret API key, sent as `Authorization: Bearer <key>`. A secret: set it
    /// from FLOTILLA_SERVICES__PAYMENT_PROVIDER__API_KEY or a mounted file outside development.
    pub api_key: SecretString,
    /// The fault knobs the simulator starts with (`PUT /v1/simulator/faults` changes them).
    pub faults: FaultSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self { api_key: SecretString::from(DEV_API_KEY), faults: FaultSettings::default() }
    }
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let settings = ctx.config.service::<Settings>(SERVICE.name)?;
        let faults = settings.faults.checked().map_err(|violations| ConfigError::Invalid {
            key: format!("services.{}.faults", SERVICE.name),
            message: violations.iter().map(|v| format!("{} {}", v.field, v.message)).collect::<Vec<_>>().join("; "),
        })?;
        let api = api::router(ctx.db.clone(), Arc::new(settings.api_key), faults);
        Ok(ServiceParts::new(api))
    })
}
