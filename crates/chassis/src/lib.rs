//! The chassis: what every Flotilla service gets without writing it again.
//!
//! Configuration, telemetry, metrics, the HTTP stack with its probes, RFC 9457 errors, graceful
//! shutdown and the per-service database. A service crate supplies a [`service::ServiceDefinition`];
//! the chassis turns it into a running [`service::Application`].

pub mod auth;
pub mod breaker;
pub mod build_info;
pub mod config;
pub mod db;
pub mod extract;
pub mod health;
pub mod http;
pub mod idempotency;
pub mod metrics;
mod objects_only;
pub mod outbound;
pub mod page;
pub mod problem;
pub mod schema;
pub mod secrets;
pub mod service;
pub mod shutdown;
pub mod telemetry;

pub use config::Config;
pub use problem::{FieldViolation, Problem, ProblemKind};
pub use service::{Application, ServiceContext, ServiceDefinition, ServiceParts};
