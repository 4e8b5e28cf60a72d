//! Consumers: a durable subscription, and a runtime that hands each message to its typed handler
//! inside one unit of work together with an inbox record of the message id, so that what the
//! handler changes and emits commits with that record or not at all.
//!
//! The runtime decides every delivery's fate: handled or a duplicate (acknowledged), failed for
//! now (redelivered with exponential backoff and jitter), or given up on (dead letters: a message
//! that cannot be decoded, a permanent error, or one past `bus.max_attempts`). A bad message never
//! stops the consumer, and nothing is dropped without a dead letter.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_chassis::config::DatabaseBackend;
use flotilla_chassis::db::{Database, timestamp};
use flotilla_chassis::telemetry::causality::Causality;
use flotilla_contracts::Message;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::bus::{BoxFuture, Bus, ConsumerSpec, Delivery, RawMessage, Settle};
use crate::dead_letters::{self, DeadLetterReason, Failure};
use crate::envelope::{DecodeError, Envelope};
use crate::metrics::ConsumerLabels;
use crate::outbox::{Outbox, OutboxError};
use crate::spans;
use crate::unit_of_work::UnitOfWork;

/// Why a handler did not apply a message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth trying again later (a dependency away, a lock timeout).
    #[error("{0}")]
    Transient(String),
    /// Will fail the same way every time (a rule the message breaks); straight to dead letters.
    #[error("{0}")]
    Permanent(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        Self::Transient(format!("database: {error}"))
    }
}

impl From<OutboxError> for HandlerError {
    fn from(error: OutboxError) -> Self {
        match error {
            OutboxError::Database(error) => error.into(),
            // The same message would fail to encode every time.
            OutboxError::Encode(error) => Self::Permanent(format!("cannot encode a message to emit: {error}")),
        }
    }
}

/// A message handler that needs no state of its own: any
/// `async fn(M, &Envelope, &mut UnitOfWork) -> Result<(), HandlerError>`, or an async closure of
/// that shape. It runs inside the consumer's unit of work: every write and every message it emits
/// goes through `work`, so that it commits together with the inbox record, or not at all.
pub trait Handler<'a, M>: Send + Sync + 'static {
    type Future: Future<Output = Result<(), HandlerError>> + Send + 'a;
    fn call(&self, message: M, envelope: &'a Envelope, work: &'a mut UnitOfWork) -> Self::Future;
}

impl<'a, M, F, Fut> Handler<'a, M> for F
where
    F: Fn(M, &'a Envelope, &'a mut UnitOfWork) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'a,
{
    type Future = Fut;
    fn call(&self, message: M, envelope: &'a Envelope, work: &'a mut UnitOfWork) -> Fut {
        self(message, envelope, work)
    }
}

/// A handler with state shared by its deliveries (settings, a client):
/// `async fn(&S, M, &Envelope, &mut UnitOfWork) -> Result<(), HandlerError>`.
pub trait StatefulHandler<'a, S: 'a, M>: Send + Sync + 'static {
    type Future: Future<Output = Result<(), HandlerError>> + Send + 'a;
    fn call(&self, state: &'a S, message: M, envelope: &'a Envelope, work: &'a mut UnitOfWork) -> Self::Future;
}

impl<'a, S: 'a, M, F, Fut> StatefulHandler<'a, S, M> for F
where
    F: Fn(&'a S, M, &'a Envelope, &'a mut UnitOfWork) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'a,
{
    type Future = Fut;
    fn call(&self, state: &'a S, message: M, envelope: &'a Envelope, work: &'a mut UnitOfWork) -> Fut {
        self(state, message, envelope, work)
    }
}

/// What a route makes of a delivery: not decodable as its type, or the handler's result.
type Routed = Result<Result<(), HandlerError>, DecodeError>;

/// A handler with its message type erased, so that one consumer can route several types.
type Route = Arc<dyn for<'a> Fn(&'a Envelope, &'a mut UnitOfWork) -> BoxFuture<'a, Routed> + Send + Sync>;

/// A named consumer and the message types it handles.
pub struct Consumer {
    service: &'static str,
    name: String,
    routes: HashMap<&'static str, Route>,
    addresses: Vec<String>,
}

impl Consumer {
    /// `name` is unique within the service; the durable name is `<service>.<name>`.
    pub fn new(service: &'static str, name: &str) -> Self {
        Self { service, name: format!("{service}.{name}"), routes: HashMap::new(), addresses: Vec::new() }
    }

    /// Handles `M` with `handler`. Events and commands are received by type; replies and timers
    /// only when addressed to this service.
    pub fn on<M: Message, H: for<'a> Handler<'a, M>>(self, handler: H) -> Self {
        let handler = Arc::new(handler);
        self.route::<M>(Arc::new(move |envelope, work| {
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let message = envelope.decode::<M>()?;
                Ok(handler.call(message, envelope, work).await)
            })
        }))
    }

    /// Handles `M` with `handler`, which is given `state` with every delivery.
    pub fn on_with<S, M, H>(self, state: Arc<S>, handler: H) -> Self
    where
        S: Send + Sync + 'static,
        M: Message,
        H: for<'a> StatefulHandler<'a, S, M>,
    {
        let handler = Arc::new(handler);
        self.route::<M>(Arc::new(move |envelope, work| {
            let (handler, state) = (Arc::clone(&handler), Arc::clone(&state));
            Box::pin(async move {
                let message = envelope.decode::<M>()?;
                Ok(handler.call(&state, message, envelope, work).await)
            })
        }))
    }

    fn route<M: Message>(mut self, route: Route) -> Self {
        let recipient = M::KIND.is_addressed().then_some(self.service);
        self.routes.insert(M::TYPE, route);
        self.addresses.push(flotilla_contracts::address(M::TYPE, recipient));
        self.addresses.sort();
        self.addresses.dedup();
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// What it subscribes to (see [`crate::RawMessage::address`]).
    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }
}

/// A batch split into one lane per subject (the aggregate a message is about), each lane in
/// delivery order, the lanes in the order their first message came.
fn by_subject(deliveries: Vec<Delivery>) -> Vec<Vec<Delivery>> {
    let mut lanes: Vec<(String, Vec<Delivery>)> = Vec::new();
    for delivery in deliveries {
        let subject = delivery.message.headers.get("ce-subject").cloned().unwrap_or_default();
        match lanes.iter_mut().find(|(s, _)| *s == subject) {
            Some((_, lane)) => lane.push(delivery),
            None => lanes.push((subject, vec![delivery])),
        }
    }
    lanes.into_iter().map(|(_, lane)| lane).collect()
}

/// How often a consumer looks for dead letters an operator asked to replay.
const REPLAY_CHECK: Duration = Duration::from_secs(1);

/// How patient a consumer is; from `bus.*` settings.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// Full jitter over an exponential ceiling: replicas that failed together retry apart.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let ceiling = self.base.saturating_mul(1 << exponent).min(self.max);
        // Half fixed, half random, so a retry is never immediate.
        let random = uuid::Uuid::new_v4().as_u128() as u64 % 1_000;
        ceiling / 2 + ceiling / 2 * u32::try_from(random).unwrap_or(0) / 1_000
    }
}

/// What happened to one message in the handler's transaction.
#[derive(Debug)]
pub(crate) enum Outcome {
    Handled,
    Duplicate,
    Failed(HandlerError),
    Undecodable(DecodeError),
}

/// A consumer bound to its database, ready to run against a bus.
#[derive(Clone)]
pub struct ConsumerRuntime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    consumer: Consumer,
    db: Database,
    outbox: Outbox,
    retry: RetryPolicy,
    ack_wait: Duration,
}

impl ConsumerRuntime {
    pub fn new(consumer: Consumer, db: Database, outbox: Outbox, retry: RetryPolicy, ack_wait: Duration) -> Self {
        Self { inner: Arc::new(RuntimeInner { consumer, db, outbox, retry, ack_wait }) }
    }

    pub fn name(&self) -> &str {
        &self.inner.consumer.name
    }

    pub fn spec(&self) -> ConsumerSpec {
        ConsumerSpec {
            name: self.inner.consumer.name.clone(),
            addresses: self.inner.consumer.addresses.clone(),
            ack_wait: self.inner.ack_wait,
        }
    }

    /// Consumes until `stopping` is cancelled: subscribes (retrying while the bus is away),
    /// handles deliveries in order, and picks up dead letters an operator asked to replay.
    pub async fn run(self, bus: Arc<dyn Bus>, stopping: CancellationToken) {
        let spec = self.spec();
        let mut pause = Duration::from_millis(100);
        let mut subscription = loop {
            match bus.subscribe(&spec).await {
                Ok(subscription) => break subscription,
                Err(error) => {
                    tracing::warn!(consumer = %spec.name, %error, "cannot subscribe yet; retrying");
                    tokio::select! {
                        () = stopping.cancelled() => return,
                        () = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        };
        let mut last_replay_check: Option<Instant> = None;
        while !stopping.is_cancelled() {
            if last_replay_check.is_none_or(|at| at.elapsed() >= REPLAY_CHECK) {
                self.replay_requested().await;
                last_replay_check = Some(Instant::now());
            }
            // Fetching is not raced against anything but shutdown: a claim cut off half-way would
            // only come back after the ack wait.
            let batch = tokio::select! {
                () = stopping.cancelled() => break,
                batch = subscription.next_batch(64, REPLAY_CHECK) => batch,
            };
            match batch {
                Ok(deliveries) => {
                    // A delivery is finished even when stopping: its handler may be mid-write.
                    if self.inner.db.backend() == DatabaseBackend::Sqlite {
                        // One writer: concurrent handlers would only queue on its lock, and its
                        // busy handler sleeps while they wait.
                        for delivery in deliveries {
                            self.deliver(delivery).await;
                        }
                    } else {
                        // Messages about different subjects are independent and handled at
                        // once; those about one subject in the order they came.
                        let this = &self;
                        let lanes = by_subject(deliveries).into_iter().map(|lane| async move {
                            for delivery in lane {
                                this.deliver(delivery).await;
                            }
                        });
                        futures_util::future::join_all(lanes).await;
                    }
                }
                Err(error) => {
                    tracing::warn!(consumer = %spec.name, %error, "cannot fetch messages; retrying");
                    tokio::select! {
                        () = stopping.cancelled() => break,
                        () = tokio::time::sleep(REPLAY_CHECK) => {}
                    }
                }
            }
        }
        tracing::debug!(consumer = %spec.name, "consumer stopped");
    }

    /// Handles one delivery from the bus and settles it.
    pub async fn deliver(&self, delivery: Delivery) {
        let settle = self.decide(&delivery.message, delivery.attempt).await;
        if let Err(error) = delivery.settle(settle).await {
            // Unsettled, it comes back after the ack wait; the inbox makes that harmless.
            tracing::warn!(consumer = %self.name(), message_id = %delivery.message.id, %error, "cannot settle a delivery");
        }
    }

    async fn decide(&self, message: &RawMessage, attempt: u32) -> Settle {
        let retry = self.inner.retry;
        let labels = ConsumerLabels {
            service: self.inner.consumer.service,
            consumer: self.inner.consumer.name.clone(),
            message_type: message.headers.get("ce-type").unwrap_or(&message.address).clone(),
        };
        if attempt > retry.max_attempts {
            // Only a handler that died without settling gets here: the last attempt never reported.
            let failure = Failure::new(format!("delivered {attempt} times without finishing; the handler may crash"));
            return self.give_up(message, DeadLetterReason::Exhausted, failure, attempt, &labels).await;
        }
        match self.process(message).await {
            Outcome::Handled | Outcome::Duplicate => Settle::Ack,
            Outcome::Undecodable(error) => {
                labels.failed("undecodable");
                self.give_up(message, DeadLetterReason::Undecodable, Failure::new(error.to_string()), attempt, &labels)
                    .await
            }
            Outcome::Failed(HandlerError::Permanent(error)) => {
                labels.failed("permanent");
                self.give_up(message, DeadLetterReason::Rejected, Failure::new(error), attempt, &labels).await
            }
            Outcome::Failed(HandlerError::Transient(error)) => {
                labels.failed("transient");
                if attempt >= retry.max_attempts {
                    return self
                        .give_up(message, DeadLetterReason::Exhausted, Failure::new(error), attempt, &labels)
                        .await;
                }
                let delay = retry.delay(attempt);
                tracing::warn!(consumer = %self.name(), message_id = %message.id, attempt, retry_in_ms = delay.as_millis() as u64, %error, "handler failed; will retry");
                if let Err(db_error) =
                    dead_letters::record_failure(&self.inner.db, self.name(), &message.id, &Failure::new(error)).await
                {
                    tracing::warn!(%db_error, "cannot record a failed attempt");
                }
                Settle::Retry(delay)
            }
        }
    }

    async fn give_up(
        &self,
        message: &RawMessage,
        reason: DeadLetterReason,
        failure: Failure,
        attempt: u32,
        labels: &ConsumerLabels,
    ) -> Settle {
        match dead_letters::bury(&self.inner.db, self.name(), message, reason, &failure, attempt).await {
            Ok(id) => {
                labels.dead_lettered(reason.as_str());
                tracing::error!(consumer = %self.name(), message_id = %message.id, dead_letter = %id, reason = reason.as_str(), error = %failure.error, "message moved to dead letters");
                Settle::Ack
            }
            Err(error) => {
                // Not buried means not given up: keep it on the bus and try again later.
                tracing::error!(consumer = %self.name(), message_id = %message.id, %error, "cannot write a dead letter; keeping the message");
                Settle::Retry(self.inner.retry.max)
            }
        }
    }

    /// Runs the handler for `message` in one transaction with its inbox record.
    pub(crate) async fn process(&self, message: &RawMessage) -> Outcome {
        let envelope = match Envelope::from_parts(&message.headers, message.payload.clone()) {
            Ok(envelope) => envelope,
            Err(error) => return Outcome::Undecodable(error),
        };
        let Some(route) = self.inner.consumer.routes.get(envelope.message_type.as_str()).cloned() else {
            return Outcome::Undecodable(DecodeError::UnknownType(envelope.message_type));
        };
        let mut process = spans::process(self.inner.outbox.tracer(), self.name(), &envelope);
        let trace = process.context().clone();
        let span = tracing::info_span!(
            "message",
            service = self.inner.consumer.service,
            consumer = %self.name(),
            message_id = %envelope.id,
            message_type = %envelope.message_type,
            trace_id = %trace.trace_id,
            span_id = %trace.span_id,
        );
        let causality = Causality {
            trace,
            correlation_id: envelope.correlation_id.clone().unwrap_or_else(|| envelope.id.to_string()),
            causation_id: envelope.id.to_string(),
            tracer: self.inner.outbox.tracer().clone(),
        };
        let labels = ConsumerLabels {
            service: self.inner.consumer.service,
            consumer: self.inner.consumer.name.clone(),
            message_type: envelope.message_type.clone(),
        };
        let started = Instant::now();
        let outcome = causality.scope(self.apply(&route, &envelope)).instrument(span.clone()).await;
        let lag = (OffsetDateTime::now_utc() - envelope.time).try_into().unwrap_or_default();
        match &outcome {
            Outcome::Handled => labels.consumed("handled", started.elapsed(), lag),
            Outcome::Duplicate => labels.consumed("duplicate", started.elapsed(), lag),
            Outcome::Failed(error) => process.fail("handler_failed", error.to_string()),
            Outcome::Undecodable(error) => process.fail("undecodable", error.to_string()),
        }
        drop(process);
        let _entered = span.enter();
        tracing::debug!(outcome = ?outcome, "message processed");
        outcome
    }

    async fn apply(&self, route: &Route, envelope: &Envelope) -> Outcome {
        let mut work = match UnitOfWork::begin(&self.inner.db, &self.inner.outbox).await {
            Ok(work) => work,
            Err(error) => return Outcome::Failed(error.into()),
        };
        let first_time = sqlx::query(
            "INSERT INTO inbox (consumer, message_id, processed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (consumer, message_id) DO NOTHING",
        )
        .bind(self.name())
        .bind(envelope.id.to_string())
        .bind(timestamp(OffsetDateTime::now_utc()))
        .execute(&mut *work)
        .await;
        match first_time {
            Ok(done) if done.rows_affected() == 0 => return Outcome::Duplicate,
            Ok(_) => {}
            Err(error) => return Outcome::Failed(error.into()),
        }
        match route(envelope, &mut work).await {
            Err(error) => Outcome::Undecodable(error),
            Ok(Err(error)) => Outcome::Failed(error),
            Ok(Ok(())) => {
                let cleared = sqlx::query("DELETE FROM consumer_failures WHERE consumer = $1 AND message_id = $2")
                    .bind(self.name())
                    .bind(envelope.id.to_string())
                    .execute(&mut *work)
                    .await;
                match cleared {
                    Err(error) => Outcome::Failed(error.into()),
                    Ok(_) => match work.commit().await {
                        Ok(()) => Outcome::Handled,
                        Err(error) => Outcome::Failed(error.into()),
                    },
                }
            }
        }
    }

    /// Dead letters an operator asked to replay: each gets one more attempt, outside the bus.
    async fn replay_requested(&self) {
        let requested = match dead_letters::take_replay_requests(&self.inner.db, self.name()).await {
            Ok(requested) => requested,
            Err(error) => {
                tracing::warn!(consumer = %self.name(), %error, "cannot read replay requests");
                return;
            }
        };
        for letter in requested {
            let outcome = self.process(&letter.message).await;
            let result = match outcome {
                Outcome::Handled | Outcome::Duplicate => {
                    tracing::info!(consumer = %self.name(), dead_letter = %letter.id, "replayed dead letter handled");
                    dead_letters::replayed(&self.inner.db, &letter.id).await
                }
                Outcome::Failed(error) => {
                    dead_letters::replay_failed(&self.inner.db, &letter.id, &error.to_string()).await
                }
                Outcome::Undecodable(error) => {
                    dead_letters::replay_failed(&self.inner.db, &letter.id, &error.to_string()).await
                }
            };
            if let Err(error) = result {
                tracing::warn!(consumer = %self.name(), dead_letter = %letter.id, %error, "cannot record a replay");
            }
        }
    }
}
