//! The bus: what a backend must do. Two implement it: the embedded SQLite log and NATS JetStream.
//! Everything above (outbox relay, consumers, dead letters) is written once against this trait.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use crate::envelope::Headers;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A message as the bus stores it: where it goes, headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// The broker's de-duplication key: the CloudEvents id.
    pub id: String,
    /// The routing subject: the CloudEvents type, plus `.to.<service>` for a message addressed to
    /// one service ([`flotilla_contracts::address`]). Its context segment names the stream.
    pub address: String,
    pub headers: Headers,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker cannot be reached or refused the operation for now; retrying later may succeed.
    #[error("the message bus is unavailable: {0}")]
    Unavailable(String),
    /// A request the broker will never accept (a bad consumer definition, say).
    #[error("the message bus rejected the request: {0}")]
    Rejected(String),
}

/// A durable, named consumer: which message types it wants and how long a delivery may stay
/// unacknowledged before the bus hands it to another replica.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// `<service>.<consumer>`; replicas with the same name share the work.
    pub name: String,
    /// The addresses it reads (see [`RawMessage::address`]).
    pub addresses: Vec<String>,
    pub ack_wait: Duration,
}

/// How a delivery ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Done (handled, a duplicate, or dead-lettered by us): never deliver again.
    Ack,
    /// Failed for now: deliver again, not before the delay.
    Retry(Duration),
}

/// Settles one delivery with the backend it came from.
pub trait Acknowledge: Send + Sync {
    fn settle(&self, outcome: Settle) -> BoxFuture<'_, Result<(), BusError>>;
}

/// One delivery of a message to a consumer.
pub struct Delivery {
    pub message: RawMessage,
    /// 1 on the first delivery; counts every delivery, including ones whose handler died.
    pub attempt: u32,
    pub acknowledger: Box<dyn Acknowledge>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").field("message", &self.message.id).field("attempt", &self.attempt).finish()
    }
}

impl Delivery {
    pub async fn settle(&self, outcome: Settle) -> Result<(), BusError> {
        self.acknowledger.settle(outcome).await
    }
}

/// A consumer's stream of deliveries.
pub trait Subscription: Send {
    /// Up to `max` deliveries, waiting at most `wait` for the first; empty when none came.
    fn next_batch(&mut self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Delivery>, BusError>>;
}

pub trait Bus: Send + Sync + 'static {
    /// `embedded` or `nats`, for logs, metrics and readiness details.
    fn backend(&self) -> &'static str;

    /// Stores the messages durably, in order, before returning. A message whose id the bus has
    /// already stored is accepted and dropped (de-duplication), so publishing again is always safe.
    fn publish<'a>(&'a self, messages: &'a [RawMessage]) -> BoxFuture<'a, Result<(), BusError>>;

    /// Creates the durable consumer if needed and attaches to it.
    fn subscribe<'a>(&'a self, spec: &'a ConsumerSpec) -> BoxFuture<'a, Result<Box<dyn Subscription>, BusError>>;

    /// What the bus is, as OpenTelemetry's `messaging.system` attribute says it.
    fn system(&self) -> &'static str;

    /// Whether the bus can take publishes now (for `/readyz`).
    fn check(&self) -> BoxFuture<'_, Result<(), BusError>>;

    /// How much of the bus the consumer still has to finish: messages not yet delivered to it
    /// plus deliveries not yet settled (in flight or waiting to be retried). Zero means nothing
    /// more will reach it until something new is published.
    fn backlog<'a>(&'a self, spec: &'a ConsumerSpec) -> BoxFuture<'a, Result<u64, BusError>>;
}
