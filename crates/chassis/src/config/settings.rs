//! The typed shape of the configuration shared by every service, and its validation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::{ConfigError, Environment};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub env: Environment,
    pub data_dir: PathBuf,
    /// Where browsers and API clients reach the system (the gateway, or a load balancer in front
    /// of it); the gateway's URL unless set.
    #[serde(default)]
    pub public_url: Option<String>,
    pub log: LogSettings,
    pub traces: TraceSettings,
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub auth: crate::auth::AuthSettings,
    /// Per-service sections; each service extracts and validates its own (see `Config::service`).
    #[serde(default)]
    pub services: BTreeMap<String, serde::de::IgnoredAny>,
    /// The message bus; the messaging crate extracts and validates it (see `Config::section`).
    #[serde(default)]
    pub bus: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Auto,
    Json,
    Pretty,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

/// Spans: which are kept (sampling), where they go (an OTLP collector, the in-memory buffer that
/// `/admin/traces` serves), and how export is bounded so that it never holds up a request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSettings {
    /// An OTLP/HTTP traces endpoint (`http://collector:4318/v1/traces`); empty exports nothing.
    pub otlp_endpoint: String,
    /// The share of new traces recorded; a caller's sampling decision is always followed.
    pub sample_ratio: f64,
    /// The last spans this process keeps in memory for `/admin/traces`; 0 keeps none.
    pub keep_recent_spans: usize,
    /// Finished spans waiting for export; beyond this they are dropped, never waited for.
    pub export_queue: usize,
    pub export_batch: usize,
    pub export_interval_ms: u64,
    /// One export (with the exporter's retries) gives up after this long.
    pub export_timeout_ms: u64,
}

impl TraceSettings {
    pub fn exporting(&self) -> bool {
        !self.otlp_endpoint.trim().is_empty()
    }

    pub fn export_interval(&self) -> Duration {
        Duration::from_millis(self.export_interval_ms)
    }

    pub fn export_timeout(&self) -> Duration {
        Duration::from_millis(self.export_timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub host: std::net::IpAddr,
    pub request_timeout_ms: u64,
    pub body_limit_bytes: usize,
    pub concurrency_limit: usize,
    /// A request head (request line and headers) must arrive within this long, and so must the
    /// next one on a keep-alive connection: slow or idle clients cannot hold connections.
    pub header_read_timeout_ms: u64,
    /// Open connections per listener; at the cap, new ones wait to be accepted.
    pub max_connections: usize,
    pub drain_delay_ms: u64,
    pub shutdown_deadline_ms: u64,
}

impl HttpSettings {
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }
    pub fn drain_delay(&self) -> Duration {
        Duration::from_millis(self.drain_delay_ms)
    }
    pub fn shutdown_deadline(&self) -> Duration {
        Duration::from_millis(self.shutdown_deadline_ms)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseBackend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    Off,
    Normal,
    Full,
    Extra,
}

impl SqliteSynchronous {
    pub fn pragma_value(self) -> &'static str {
        match self {
            Self::Off => "OFF",
            Self::Normal => "NORMAL",
            Self::Full => "FULL",
            Self::Extra => "EXTRA",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub backend: DatabaseBackend,
    /// The PostgreSQL server (no database name): each service gets `<database_prefix><service>` on it.
    /// A secret, because it usually carries a password.
    pub url: Option<SecretString>,
    pub database_prefix: String,
    pub max_connections: u32,
    pub acquire_timeout_ms: u64,
    pub migrate_on_start: bool,
    pub sqlite_synchronous: SqliteSynchronous,
    pub sqlite_busy_timeout_ms: u64,
    /// Each SQLite connection's page cache. Embedded, ten services keep up to
    /// `max_connections` each, so SQLite's 2 MiB default would cost the process ~150 MiB under
    /// load; the operating system caches the files anyway.
    pub sqlite_cache_kib: u32,
}

impl Settings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("http.request_timeout_ms", self.http.request_timeout_ms),
            ("http.body_limit_bytes", self.http.body_limit_bytes as u64),
            ("http.concurrency_limit", self.http.concurrency_limit as u64),
            ("http.header_read_timeout_ms", self.http.header_read_timeout_ms),
            ("http.max_connections", self.http.max_connections as u64),
            ("http.shutdown_deadline_ms", self.http.shutdown_deadline_ms),
            ("database.max_connections", u64::from(self.database.max_connections)),
            ("database.acquire_timeout_ms", self.database.acquire_timeout_ms),
            ("database.sqlite_cache_kib", u64::from(self.database.sqlite_cache_kib)),
            ("traces.export_queue", self.traces.export_queue as u64),
            ("traces.export_batch", self.traces.export_batch as u64),
            ("traces.export_interval_ms", self.traces.export_interval_ms),
            ("traces.export_timeout_ms", self.traces.export_timeout_ms),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(invalid(key, "found 0, expected a positive number"));
            }
        }
        if self.database.backend == DatabaseBackend::Postgres && self.database.url.is_none() {
            return Err(invalid(
                "database.url",
                "missing, expected a PostgreSQL server URL such as postgres://user@host:5432 because database.backend is \"postgres\"",
            ));
        }
        if !(0.0..=1.0).contains(&self.traces.sample_ratio) {
            return Err(invalid(
                "traces.sample_ratio",
                &format!("found {}, expected a number from 0 to 1", self.traces.sample_ratio),
            ));
        }
        if self.traces.export_batch > self.traces.export_queue {
            return Err(invalid(
                "traces.export_batch",
                &format!(
                    "found {}, expected at most traces.export_queue ({})",
                    self.traces.export_batch, self.traces.export_queue
                ),
            ));
        }
        if self.traces.exporting() {
            let endpoint = self.traces.otlp_endpoint.trim();
            let usable = url::Url::parse(endpoint).is_ok_and(|url| {
                matches!(url.scheme(), "http" | "https") && url.host().is_some() && url.query().is_none()
            });
            if !usable {
                return Err(invalid(
                    "traces.otlp_endpoint",
                    &format!("found \"{endpoint}\", expected an http(s) URL such as http://collector:4318/v1/traces"),
                ));
            }
        }
        if let Some(url) = &self.public_url {
            super::addresses::check_base_url("public_url", url)?;
        }
        self.auth.validate().map_err(|message| match message.split_once(": ") {
            Some((key, rest)) => invalid(key, rest),
            None => invalid("auth", &message),
        })?;
        let prefix = &self.database.database_prefix;
        let prefix_ok = prefix.len() <= 40
            && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && prefix.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if !prefix_ok {
            return Err(invalid(
                "database.database_prefix",
                &format!("found \"{prefix}\", expected up to 40 characters of a-z, 0-9 and _, starting with a letter"),
            ));
        }
        let data_dir = self.data_dir.to_string_lossy();
        if data_dir.contains(['?', '#', '%']) {
            return Err(invalid("data_dir", &format!("found \"{data_dir}\", which must not contain ?, # or %")));
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(invalid(
                "log.level",
                &format!(
                    "found \"{}\", expected a level such as info or a filter such as info,sqlx=warn",
                    self.log.level
                ),
            ));
        }
        Ok(())
    }
}

fn invalid(key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid { key: key.into(), message: message.into() }
}
