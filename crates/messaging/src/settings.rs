//! `bus.*` configuration: which backend, and how patient to be with it and with failing handlers.

use std::time::Duration;

use flotilla_chassis::Config;
use flotilla_chassis::config::ConfigError;
use secrecy::SecretString;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusBackend {
    /// A SQLite log in the data directory; for one machine with nothing installed.
    Embedded,
    /// NATS JetStream at `bus.nats.url`.
    Nats,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BusSettings {
    pub backend: BusBackend,
    /// Deliveries of one message before it goes to dead letters.
    pub max_attempts: u32,
    /// How long a delivery may stay unacknowledged before another replica gets it: longer than
    /// any handler runs.
    pub ack_wait_ms: u64,
    /// Redelivery delay after the first failure; doubles per attempt, with jitter, up to the max.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Outbox rows published per round trip.
    pub relay_batch: u32,
    /// How often an idle relay looks for rows written by other replicas.
    pub relay_poll_ms: u64,
    /// How long one replica's relay may publish before renewing its lease; also how long a dead
    /// replica can hold up the outbox before another takes over.
    pub relay_lease_ms: u64,
    /// The longest pause between attempts while the bus is away.
    pub relay_backoff_max_ms: u64,
    /// The longest the timer worker sleeps without looking: how late a timer set by another
    /// replica can fire (this replica's own are seen at once).
    pub timer_poll_ms: u64,
    pub embedded: EmbeddedSettings,
    pub nats: NatsSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedSettings {
    /// The log's file, relative to `data_dir`.
    pub file: String,
    pub poll_ms: u64,
    pub busy_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsSettings {
    /// May carry credentials (`nats://user:password@host:4222`), so it never prints.
    pub url: SecretString,
    pub duplicate_window_s: u64,
    pub max_age_hours: u64,
    pub replicas: usize,
    pub request_timeout_ms: u64,
}

impl Default for BusSettings {
    fn default() -> Self {
        Self {
            backend: BusBackend::Embedded,
            max_attempts: 5,
            ack_wait_ms: 30_000,
            retry_base_ms: 500,
            retry_max_ms: 60_000,
            relay_batch: 256,
            relay_poll_ms: 250,
            relay_lease_ms: 10_000,
            relay_backoff_max_ms: 5_000,
            timer_poll_ms: 500,
            embedded: EmbeddedSettings::default(),
            nats: NatsSettings::default(),
        }
    }
}

impl Default for EmbeddedSettings {
    fn default() -> Self {
        Self { file: "bus.db".into(), poll_ms: 100, busy_timeout_ms: 5_000 }
    }
}

impl Default for NatsSettings {
    fn default() -> Self {
        Self {
            url: SecretString::from("nats://127.0.0.1:4222"),
            duplicate_window_s: 120,
            max_age_hours: 24 * 7,
            replicas: 1,
            request_timeout_ms: 5_000,
        }
    }
}

impl BusSettings {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let settings: Self = config.section("bus")?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("bus.max_attempts", u64::from(self.max_attempts)),
            ("bus.ack_wait_ms", self.ack_wait_ms),
            ("bus.retry_base_ms", self.retry_base_ms),
            ("bus.relay_batch", u64::from(self.relay_batch)),
            ("bus.relay_poll_ms", self.relay_poll_ms),
            ("bus.relay_lease_ms", self.relay_lease_ms),
            ("bus.relay_backoff_max_ms", self.relay_backoff_max_ms),
            ("bus.timer_poll_ms", self.timer_poll_ms),
            ("bus.embedded.poll_ms", self.embedded.poll_ms),
            ("bus.nats.duplicate_window_s", self.nats.duplicate_window_s),
            ("bus.nats.replicas", self.nats.replicas as u64),
            ("bus.nats.request_timeout_ms", self.nats.request_timeout_ms),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(invalid(key, "found 0, expected a positive number"));
            }
        }
        if self.retry_max_ms < self.retry_base_ms {
            return Err(invalid("bus.retry_max_ms", "must be at least bus.retry_base_ms"));
        }
        if self.embedded.file.is_empty() || self.embedded.file.contains(['?', '#', '%']) {
            return Err(invalid("bus.embedded.file", "expected a file name without ?, # or %"));
        }
        Ok(())
    }

    pub fn ack_wait(&self) -> Duration {
        Duration::from_millis(self.ack_wait_ms)
    }

    pub fn timer_poll(&self) -> Duration {
        Duration::from_millis(self.timer_poll_ms)
    }

    pub fn retry_policy(&self) -> crate::consumer::RetryPolicy {
        crate::consumer::RetryPolicy {
            max_attempts: self.max_attempts,
            base: Duration::from_millis(self.retry_base_ms),
            max: Duration::from_millis(self.retry_max_ms),
        }
    }

    pub fn relay_options(&self) -> crate::relay::RelayOptions {
        crate::relay::RelayOptions {
            batch: self.relay_batch,
            lease: Duration::from_millis(self.relay_lease_ms),
            poll: Duration::from_millis(self.relay_poll_ms),
            backoff_max: Duration::from_millis(self.relay_backoff_max_ms),
        }
    }
}

fn invalid(key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid { key: key.into(), message: message.into() }
}
