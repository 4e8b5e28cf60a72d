//! Consumers: a durable subscription, and a runtime that hands each message to its typed handler
//! inside one database transaction together with an inbox record of the message id.
//!
//! The runtime decides every delivery's fate: handled or a duplicate (acknowledged), failed for
//! now (redelivered with exponential backoff and jitter), or given up on (dead letters: a message
//! that cannot be decoded, a permanent error, or one past `bus.max_attempts`). A bad message never
//! stops the consumer, and nothing is dropped without a dead letter.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_chassis::db::{Database, timestamp};
use flotilla_chassis::telemetry::causality::Causality;
use flotilla_chassis::telemetry::trace_context::TraceContext;
use flotilla_contracts::Message;
use sqlx::AnyConnection;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::bus::{BoxFuture, Bus, ConsumerSpec, Delivery, RawMessage, Settle};
use crate::dead_letters::{self, DeadLetterReason, Failure};
use crate::envelope::{DecodeError, Envelope};
use crate::metrics::ConsumerLabels;

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

/// Applies one message type. Runs inside the consumer's transaction: every write goes through
/// `conn`, so that it commits together with the inbox record, or not at all.
pub trait Handle<M: Message>: Send + Sync + 'static {
    fn handle<'a>(
        &'a self,
        message: M,
        envelope: &'a Envelope,
        conn: &'a mut AnyConnection,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;
}

/// A handler with its message type erased, so that one consumer can route several types.
trait Route: Send + Sync {
    fn route<'a>(
        &'a self,
        envelope: &'a Envelope,
        conn: &'a mut AnyConnection,
    ) -> BoxFuture<'a, Result<Result<(), HandlerError>, DecodeError>>;
}

struct Typed<M, H> {
    handler: H,
    _message: std::marker::PhantomData<fn() -> M>,
}

impl<M: Message, H: Handle<M>> Route for Typed<M, H> {
    fn route<'a>(
        &'a self,
        envelope: &'a Envelope,
        conn: &'a mut AnyConnection,
    ) -> BoxFuture<'a, Result<Result<(), HandlerError>, DecodeError>> {
        Box::pin(async move {
            let message = envelope.decode::<M>()?;
            Ok(self.handler.handle(message, envelope, conn).await)
        })
    }
}

/// A named consumer and the message types it handles.
pub struct Consumer {
    service: &'static str,
    name: String,
    routes: HashMap<&'static str, Arc<dyn Route>>,
}

impl Consumer {
    /// `name` is unique within the service; the durable name is `<service>.<name>`.
    pub fn new(service: &'static str, name: &str) -> Self {
        Self { service, name: format!("{service}.{name}"), routes: HashMap::new() }
    }

    pub fn on<M: Message, H: Handle<M>>(mut self, handler: H) -> Self {
        self.routes.insert(M::TYPE, Arc::new(Typed { handler, _message: std::marker::PhantomData }));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn message_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self.routes.keys().map(|t| (*t).to_owned()).collect();
        types.sort();
        types
    }
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
    retry: RetryPolicy,
    ack_wait: Duration,
}

impl ConsumerRuntime {
    pub fn new(consumer: Consumer, db: Database, retry: RetryPolicy, ack_wait: Duration) -> Self {
        Self { inner: Arc::new(RuntimeInner { consumer, db, retry, ack_wait }) }
    }

    pub fn name(&self) -> &str {
        &self.inner.consumer.name
    }

    pub fn spec(&self) -> ConsumerSpec {
        ConsumerSpec {
            name: self.inner.consumer.name.clone(),
            message_types: self.inner.consumer.message_types(),
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
                    for delivery in deliveries {
                        // A delivery is finished even when stopping: its handler may be mid-write.
                        self.deliver(delivery).await;
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
            message_type: message.message_type.clone(),
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
        let trace = TraceContext::continue_or_start(envelope.traceparent.as_deref());
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
        };
        let labels = ConsumerLabels {
            service: self.inner.consumer.service,
            consumer: self.inner.consumer.name.clone(),
            message_type: envelope.message_type.clone(),
        };
        let started = Instant::now();
        let outcome = causality.scope(self.apply(route.as_ref(), &envelope)).instrument(span.clone()).await;
        let lag = (OffsetDateTime::now_utc() - envelope.time).try_into().unwrap_or_default();
        match &outcome {
            Outcome::Handled => labels.consumed("handled", started.elapsed(), lag),
            Outcome::Duplicate => labels.consumed("duplicate", started.elapsed(), lag),
            Outcome::Failed(_) | Outcome::Undecodable(_) => {}
        }
        let _entered = span.enter();
        tracing::debug!(outcome = ?outcome, "message processed");
        outcome
    }

    async fn apply(&self, route: &dyn Route, envelope: &Envelope) -> Outcome {
        let mut tx = match self.inner.db.begin_write().await {
            Ok(tx) => tx,
            Err(error) => return Outcome::Failed(error.into()),
        };
        let first_time = sqlx::query(
            "INSERT INTO inbox (consumer, message_id, processed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (consumer, message_id) DO NOTHING",
        )
        .bind(self.name())
        .bind(envelope.id.to_string())
        .bind(timestamp(OffsetDateTime::now_utc()))
        .execute(&mut *tx)
        .await;
        match first_time {
            Ok(done) if done.rows_affected() == 0 => return Outcome::Duplicate,
            Ok(_) => {}
            Err(error) => return Outcome::Failed(error.into()),
        }
        match route.route(envelope, &mut tx).await {
            Err(error) => Outcome::Undecodable(error),
            Ok(Err(error)) => Outcome::Failed(error),
            Ok(Ok(())) => {
                let cleared = sqlx::query("DELETE FROM consumer_failures WHERE consumer = $1 AND message_id = $2")
                    .bind(self.name())
                    .bind(envelope.id.to_string())
                    .execute(&mut *tx)
                    .await;
                match cleared {
                    Err(error) => Outcome::Failed(error.into()),
                    Ok(_) => match tx.commit().await {
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
