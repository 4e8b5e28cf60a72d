//! The shipping bounded context: one shipment per confirmed order, walked by a simulated carrier
//! from its label to the customer's door on durable timers, publishing every status, and held
//! back when the order is cancelled before the carrier collects it. Customers track their own
//! shipments; admins see them all.
//!
//! Invariants, kept by keying everything on the order and by conditional status changes: an order
//! has at most one shipment, an order cancelled before it was confirmed here never gets one, and
//! a shipment only ever moves along the state machine in `domain::shipment`.

pub mod api;
mod consumers;
pub mod domain;
pub mod events;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use flotilla_chassis::config::ConfigError;
use flotilla_chassis::db::MigrationFile;
use flotilla_chassis::service::{BuildFuture, ServiceContext, ServiceDefinition, ServiceParts};
use serde::Deserialize;

use crate::domain::shipment::Carrier;

/// Applied in order, never edited once released: a change is a new migration.
pub const MIGRATIONS: &[MigrationFile] = &[
    MigrationFile::portable(1, "shipments", include_str!("../migrations/0001_shipments.sql")),
    flotilla_messaging::outbox::migration(2),
    flotilla_messaging::timers::migration(3),
];

pub static SERVICE: ServiceDefinition = ServiceDefinition {
    name: "shipping",
    version: env!("CARGO_PKG_VERSION"),
    api_version: "1.0.0",
    default_port: 8087,
    public_api: true,
    migrations: MIGRATIONS,
    build,
};

/// No simulated step waits longer than a week: beyond that a setting is a typo.
const MAX_DELAY_MS: u64 = 7 * 24 * 60 * 60 * 1000;
const MAX_CARRIER_NAME_CHARS: usize = 64;

/// `services.shipping.*` settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub carrier: CarrierSettings,
}

/// `services.shipping.carrier.*`: the simulated carrier.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CarrierSettings {
    /// The carrier's name, on every shipment created from now on.
    pub name: String,
    /// From the label to collection: how long an order can still be cancelled.
    pub dispatch_after_ms: u64,
    /// Between each later step (in transit, out for delivery, delivered).
    pub step_ms: u64,
}

impl Default for CarrierSettings {
    fn default() -> Self {
        // Slow enough to watch a demo order move, and to cancel one before it is collected.
        Self { name: "Flotilla Post".into(), dispatch_after_ms: 10_000, step_ms: 5_000 }
    }
}

impl Settings {
    pub fn carrier(&self) -> Carrier {
        Carrier {
            dispatch_after: Duration::from_millis(self.carrier.dispatch_after_ms),
            step: Duration::from_millis(self.carrier.step_ms),
        }
    }

    /// Refuses settings that would only fail later, one shipment at a time.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: &str| ConfigError::Invalid {
            key: format!("services.shipping.carrier.{key}"),
            message: message.to_owned(),
        };
        let name = &self.carrier.name;
        if name.trim().is_empty() || name.chars().count() > MAX_CARRIER_NAME_CHARS || name.chars().any(char::is_control)
        {
            return Err(invalid("name", "must be 1 to 64 characters, none of them control characters"));
        }
        for (key, ms) in [("dispatch_after_ms", self.carrier.dispatch_after_ms), ("step_ms", self.carrier.step_ms)] {
            if ms > MAX_DELAY_MS {
                return Err(invalid(key, "must be at most a week (604800000)"));
            }
        }
        Ok(())
    }
}

fn build(ctx: ServiceContext) -> BuildFuture {
    Box::pin(async move {
        let settings = ctx.config.service::<Settings>(SERVICE.name)?;
        settings.validate()?;
        let settings = Arc::new(settings);
        let consumers =
            vec![consumers::orders(Arc::clone(&settings)), consumers::cancellations(), consumers::carrier(settings)];
        let messaging = flotilla_messaging::start(&ctx, SERVICE.name, events::published(), consumers).await?;
        let api = api::router(ctx.db.clone());
        Ok(ServiceParts::new(api).merge(messaging.parts))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_bad_carriers_are_refused() {
        assert!(Settings::default().validate().is_ok());
        let with = |name: &str, dispatch_after_ms: u64| Settings {
            carrier: CarrierSettings { name: name.into(), dispatch_after_ms, step_ms: 0 },
        };
        assert!(with("Flotilla Post", 0).validate().is_ok(), "a carrier may be instant");
        assert!(with(" ", 1).validate().is_err());
        assert!(with(&"x".repeat(65), 1).validate().is_err());
        assert!(with("a\nb", 1).validate().is_err());
        assert!(with("Flotilla Post", MAX_DELAY_MS + 1).validate().is_err());
    }
}
