//! Events between services.
//!
//! A service writes its messages (events, commands, replies, timers) through a unit of work: into
//! an outbox table in the same transaction as its state change; a relay publishes them to the bus
//! in order; consumers handle each message in one unit of work with an inbox record of its id, so
//! a redelivered duplicate changes nothing and emits nothing. Failures are retried
//! with backoff and end in dead letters, which operators replay once the cause is fixed. The bus
//! is an embedded SQLite log or NATS JetStream, behind one trait and one conformance suite.

pub mod bus;
mod clock;
pub mod embedded;
pub mod envelope;
pub mod nats;

pub use bus::{Bus, BusError, ConsumerSpec, Delivery, RawMessage, Settle, Subscription};
pub use envelope::Envelope;
pub mod consumer;
pub mod dead_letters;
mod http;
pub mod metrics;
pub mod outbox;
pub mod relay;
pub mod service;
pub mod settings;
mod spans;
pub mod timers;
mod unit_of_work;

pub use consumer::{Consumer, Handler, HandlerError, StatefulHandler};
pub use outbox::Outbox;
pub use service::{MessagingParts, start};
pub use unit_of_work::UnitOfWork;
