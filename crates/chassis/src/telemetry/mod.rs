//! Logs and traces.
//!
//! Logs: readable text in dev, one JSON object per line in staging and prod. Every line carries
//! timestamp, level, service, version and message; inside a request or a message's handling it
//! also carries request_id, trace_id and span_id, the ids of the span it happened in.
//!
//! Traces: each service's [`Tracer`] records spans for requests, outgoing calls, messages and
//! transactions (`spans.rs`), exports them over OTLP and keeps the last ones for `/admin/traces`
//! as configured (`export.rs`, `recent.rs`).

pub mod causality;
mod export;
mod json;
pub(crate) mod recent;
pub mod spans;
pub mod trace_context;

pub use export::{ExportSetupError, tracer};
pub use json::JsonLayer;
pub use spans::{Span, SpanKind, Tracer};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{Environment, LogFormat, LogSettings};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("log filter `{0}` is not valid")]
    Filter(String),
    #[error("a global logger is already installed")]
    AlreadyInstalled,
}

/// Installs the process-wide subscriber. `RUST_LOG` wins over `log.level` when set.
pub fn init(settings: &LogSettings, env: Environment) -> Result<(), TelemetryError> {
    let directive = std::env::var("RUST_LOG").unwrap_or_else(|_| settings.level.clone());
    let filter = EnvFilter::try_new(&directive).map_err(|_| TelemetryError::Filter(directive.clone()))?;
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => env != Environment::Dev,
    };
    let registry = tracing_subscriber::registry().with(filter);
    let result = if json {
        registry.with(JsonLayer::new(std::io::stdout)).try_init()
    } else {
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        registry.with(tracing_subscriber::fmt::layer().compact().with_target(false).with_ansi(ansi)).try_init()
    };
    result.map_err(|_| TelemetryError::AlreadyInstalled)
}
