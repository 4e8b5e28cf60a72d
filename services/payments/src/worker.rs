//! The worker that takes queued commands to the provider, outside any database transaction,
//! and records each answer together with the reply to the command, in one unit of work.
//!
//! Money rules it keeps: every call carries an idempotency key derived from the payment, so a
//! call repeated after a lost answer is the same call to the provider; an authorization that
//! went unanswered is resolved by asking the provider for the order's intents before anything
//! else; and the circuit breaker makes authorizations fail fast (and the order be compensated)
//! while the provider is down, whereas captures and cancellations, which concern money already
//! held, wait for it. An operation runs in the trace of the command that queued it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla_chassis::breaker::{Admission, Breaker};
use flotilla_chassis::db::Database;
use flotilla_chassis::telemetry::causality::Causality;
use flotilla_chassis::telemetry::{SpanKind, Tracer};
use flotilla_messaging::consumer::RetryPolicy;
use flotilla_messaging::envelope::Headers;
use flotilla_messaging::{Envelope, Outbox, UnitOfWork};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::WorkerSettings;
use crate::domain::payment::{self, Answer, Call, CancelOutcome, Kind, State};
use crate::provider::{Intent, Provider, Reply};
use crate::store::{self, Operation, Payment};

const CALLS: &str = "payments_provider_calls_total";
/// The provider as a dependency in the shared breaker and retry series.
const PROVIDER: &str = "payment-provider";

pub struct Worker {
    db: Database,
    outbox: Outbox,
    provider: Provider,
    breaker: Mutex<Breaker>,
    settings: WorkerSettings,
    retry: RetryPolicy,
    wake: Arc<Notify>,
    tracer: Tracer,
}

/// The command `operation` answers, as it arrived.
fn command_of(operation: &Operation) -> Result<Envelope, WorkError> {
    let headers: Headers =
        serde_json::from_str(&operation.command_headers).map_err(|e| WorkError::Command(e.to_string()))?;
    Envelope::from_parts(&headers, operation.command_payload.clone().into_bytes())
        .map_err(|e| WorkError::Command(e.to_string()))
}

/// Where one attempt at an operation got to.
enum Step {
    /// The payment is settled for this command: record it and answer.
    Settled(Payment, Answer),
    /// The payment moved on (a void found it captured): record it and go again.
    Moved(Payment),
    /// Try again later. `uncertain`: the provider may have acted.
    Retry { uncertain: bool, breaker_open: bool, error: String },
}

impl Worker {
    pub fn new(
        db: Database,
        outbox: Outbox,
        provider: Provider,
        settings: WorkerSettings,
        wake: Arc<Notify>,
        tracer: Tracer,
    ) -> Self {
        metrics::describe_counter!(CALLS, "Calls payments made to the payment provider, by call and outcome.");
        let retry = RetryPolicy {
            max_attempts: settings.authorize_attempts,
            base: Duration::from_millis(settings.retry_base_ms),
            max: Duration::from_millis(settings.retry_max_ms),
        };
        let breaker = Mutex::new(Breaker::reporting(settings.breaker.policy(), crate::SERVICE.name, PROVIDER));
        Self { db, outbox, provider, breaker, settings, retry, wake, tracer }
    }

    pub async fn run(self: Arc<Self>, stopping: CancellationToken) {
        let poll = Duration::from_millis(self.settings.poll_ms);
        loop {
            let wait = match self.run_due().await {
                Ok(next) => next.unwrap_or(poll).min(poll),
                Err(error) => {
                    tracing::warn!(%error, "payment operations could not be read");
                    poll
                }
            };
            tokio::select! {
                () = stopping.cancelled() => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Runs every operation that is due, one per order at a time; returns how long until the
    /// next one is.
    async fn run_due(&self) -> Result<Option<Duration>, sqlx::Error> {
        loop {
            let due = store::due(self.db.pool(), now_ms(), self.settings.concurrency).await?;
            if due.is_empty() {
                break;
            }
            futures_util::future::join_all(due.into_iter().map(|operation| self.execute(operation))).await;
        }
        let next = store::next_due_ms(self.db.pool()).await?;
        Ok(next.map(|at| Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0))))
    }

    /// Runs `operation` as a part of the trace and correlation of the command that queued it,
    /// so that its calls to the processor and its reply show in the checkout's trace.
    async fn execute(&self, operation: Operation) {
        let command = command_of(&operation).ok();
        let span = self.tracer.start_remote(
            format!("payment {}", operation.kind.as_str()),
            SpanKind::Internal,
            command.as_ref().and_then(|command| command.traceparent.as_deref()),
        );
        let causality = Causality {
            trace: span.context().clone(),
            correlation_id: command
                .as_ref()
                .and_then(|command| command.correlation_id.clone())
                .unwrap_or_else(|| operation.order_id.to_string()),
            causation_id: command.map_or_else(|| operation.id.to_string(), |command| command.id.to_string()),
            tracer: self.tracer.clone(),
        };
        causality.scope(self.execute_traced(operation)).await;
    }

    async fn execute_traced(&self, operation: Operation) {
        if let Err(error) = self.attempt(&operation).await {
            tracing::warn!(%error, order_id = %operation.order_id, kind = operation.kind.as_str(), "payment operation not recorded");
            // Recorded nothing: try again after a pause rather than at once.
            let at = now_ms() + i64::try_from(self.retry.delay(operation.attempts + 1).as_millis()).unwrap_or(i64::MAX);
            let _ = store::retry_later(
                self.db.pool(),
                operation.id,
                operation.uncertain,
                at,
                &error.to_string(),
                OffsetDateTime::now_utc(),
            )
            .await;
        }
    }

    async fn attempt(&self, operation: &Operation) -> Result<(), WorkError> {
        let mut conn = self.db.pool().acquire().await?;
        let Some(mut current) = store::payment(&mut conn, operation.order_id).await? else {
            return Err(WorkError::Missing);
        };
        drop(conn);
        // A void that finds the payment captured becomes a refund: at most one such turn.
        for turn in 0..2 {
            // The refund of such a turn is a call of its own, not the void sent again.
            let retry = operation.attempts > 0 && turn == 0;
            let step = match payment::call_for(operation.kind, current.state) {
                None => Step::Settled(current.clone(), payment::answer(operation.kind, Some(current.state))),
                Some(call) => self.call(call, operation, &current, retry).await,
            };
            match step {
                Step::Settled(payment, answer) => return self.settle(operation, &payment, answer).await,
                Step::Moved(payment) => {
                    let mut work = UnitOfWork::begin(&self.db, &self.outbox).await?;
                    store::update(&mut work, &payment).await?;
                    work.commit().await?;
                    current = payment;
                }
                Step::Retry { uncertain, breaker_open, error } => {
                    let attempts = operation.attempts + 1;
                    let gives_up = operation.kind == Kind::Authorize
                        && payment::authorization_gives_up(
                            attempts,
                            self.settings.authorize_attempts,
                            uncertain,
                            breaker_open,
                        );
                    if gives_up {
                        let failed = Payment { state: State::Failed, detail: Some(error), ..current.clone() };
                        return self.settle(operation, &failed, Answer::NotAuthorized).await;
                    }
                    let at = now_ms() + i64::try_from(self.retry.delay(attempts).as_millis()).unwrap_or(i64::MAX);
                    tracing::info!(order_id = %operation.order_id, kind = operation.kind.as_str(), attempts, %error, "payment operation will be retried");
                    store::retry_later(self.db.pool(), operation.id, uncertain, at, &error, OffsetDateTime::now_utc())
                        .await?;
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// Records the settled payment with the reply to its command, once.
    async fn settle(&self, operation: &Operation, payment: &Payment, answer: Answer) -> Result<(), WorkError> {
        let command = command_of(operation)?;
        let now = OffsetDateTime::now_utc();
        let mut work = UnitOfWork::begin(&self.db, &self.outbox).await?;
        if !store::finish(&mut work, operation.id, now).await? {
            return Ok(());
        }
        let payment = Payment { updated_at: now, ..payment.clone() };
        store::update(&mut work, &payment).await?;
        crate::replies::send(&mut work, &command, operation.order_id, Some(&payment), answer).await?;
        work.commit().await?;
        Ok(())
    }

    /// Makes `call` unless the breaker refuses it; `retry`: an earlier attempt at the operation
    /// failed.
    async fn call(&self, call: Call, operation: &Operation, current: &Payment, retry: bool) -> Step {
        let admission = self.admit();
        if let Admission::Refused(_) = admission {
            metrics::counter!(CALLS, "service" => crate::SERVICE.name, "call" => call_name(call), "outcome" => "circuit_open").increment(1);
            let error = "the payment provider's circuit breaker is open".to_owned();
            return Step::Retry { uncertain: operation.uncertain, breaker_open: true, error };
        }
        if retry {
            flotilla_chassis::metrics::record_retry(crate::SERVICE.name, PROVIDER);
        }
        let step = match call {
            Call::Authorize => self.authorize(operation, current).await,
            Call::Capture => self.capture(current).await,
            Call::Void => self.void(current).await,
            Call::Refund => self.refund(current).await,
        };
        let (healthy, outcome) = match &step {
            Step::Settled(..) | Step::Moved(_) => (true, "done"),
            Step::Retry { uncertain: true, .. } => (false, "unknown"),
            Step::Retry { .. } => (false, "not_done"),
        };
        metrics::counter!(CALLS, "service" => crate::SERVICE.name, "call" => call_name(call), "outcome" => outcome)
            .increment(1);
        self.record(healthy, admission == Admission::Probe);
        step
    }

    async fn authorize(&self, operation: &Operation, current: &Payment) -> Step {
        let reference = current.order_id.to_string();
        if operation.uncertain {
            // An earlier attempt went unanswered: the provider's records say whether it acted.
            match self.provider.find(&reference).await {
                Reply::Done(intents) => {
                    if let Some(intent) = intents.into_iter().next() {
                        return authorized_or_declined(current, &intent);
                    }
                }
                other => return retry(other, true),
            }
        }
        let Some(card) = card_of(operation) else {
            return Step::Settled(
                Payment { state: State::Declined, detail: Some("invalid_number".into()), ..current.clone() },
                Answer::Declined,
            );
        };
        let key = format!("authorize:{}", current.payment_id);
        match self.provider.authorize(&key, current.amount_minor, &current.currency, &card, &reference).await {
            Reply::Done(intent) => authorized_or_declined(current, &intent),
            Reply::Refused { code, intent, .. } => match intent {
                Some(intent) => authorized_or_declined(current, &intent),
                None => {
                    let detail = Some(code.unwrap_or_else(|| "card_declined".into()));
                    Step::Settled(Payment { state: State::Declined, detail, ..current.clone() }, Answer::Declined)
                }
            },
            other => retry(other, operation.uncertain),
        }
    }

    async fn capture(&self, current: &Payment) -> Step {
        let Some(intent_id) = current.intent_id.as_deref() else { return missing_intent(current) };
        match self.provider.capture(&format!("capture:{}", current.payment_id), intent_id).await {
            Reply::Done(intent) => captured(current, &intent),
            // Refused: the intent is not capturable. What it is instead decides the answer.
            Reply::Refused { .. } => match self.provider.retrieve(intent_id).await {
                Reply::Done(intent) if intent.status == "succeeded" => captured(current, &intent),
                Reply::Done(intent) if intent.status == "canceled" => {
                    Step::Settled(Payment { state: State::Voided, ..current.clone() }, Answer::NotCaptured)
                }
                other => retry(other, false),
            },
            other => retry(other, false),
        }
    }

    async fn void(&self, current: &Payment) -> Step {
        let Some(intent_id) = current.intent_id.as_deref() else { return missing_intent(current) };
        match self.provider.void(&format!("void:{}", current.payment_id), intent_id).await {
            Reply::Done(_) => voided(current),
            Reply::Refused { .. } => match self.provider.retrieve(intent_id).await {
                Reply::Done(intent) if intent.status == "canceled" => voided(current),
                // Captured after all (an earlier capture's answer was lost): refund it instead.
                Reply::Done(intent) if intent.status == "succeeded" => Step::Moved(Payment {
                    state: State::Captured,
                    captured_minor: intent.amount_captured,
                    ..current.clone()
                }),
                other => retry(other, false),
            },
            other => retry(other, false),
        }
    }

    async fn refund(&self, current: &Payment) -> Step {
        let Some(intent_id) = current.intent_id.as_deref() else { return missing_intent(current) };
        let amount = current.captured_minor - current.refunded_minor;
        let refunded = |payment: &Payment, total: i64| {
            let payment = Payment { state: State::Refunded, refunded_minor: total, ..payment.clone() };
            Step::Settled(payment, Answer::Cancelled(CancelOutcome::Refunded))
        };
        if amount <= 0 {
            return refunded(current, current.refunded_minor);
        }
        match self.provider.refund(&format!("refund:{}", current.payment_id), intent_id, amount).await {
            Reply::Done(_) => refunded(current, current.captured_minor),
            Reply::Refused { .. } => match self.provider.retrieve(intent_id).await {
                Reply::Done(intent) if intent.amount_refunded >= intent.amount_captured => {
                    refunded(current, intent.amount_refunded)
                }
                other => retry(other, false),
            },
            other => retry(other, false),
        }
    }

    fn admit(&self) -> Admission {
        let Ok(mut breaker) = self.breaker.lock() else { return Admission::Refused(Duration::from_secs(1)) };
        breaker.admit(Instant::now())
    }

    fn record(&self, success: bool, probe: bool) {
        if let Ok(mut breaker) = self.breaker.lock() {
            breaker.record(success, probe, Instant::now());
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum WorkError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Outbox(#[from] flotilla_messaging::outbox::OutboxError),
    #[error("the command to answer cannot be read: {0}")]
    Command(String),
    #[error("the operation's payment is missing")]
    Missing,
}

fn authorized_or_declined(current: &Payment, intent: &Intent) -> Step {
    let with_intent = Payment { intent_id: Some(intent.id.clone()), ..current.clone() };
    match intent.status.as_str() {
        "requires_capture" => Step::Settled(Payment { state: State::Authorized, ..with_intent }, Answer::Authorized),
        "succeeded" => {
            let captured = Payment { state: State::Captured, captured_minor: intent.amount_captured, ..with_intent };
            Step::Settled(captured, Answer::Authorized)
        }
        _ => {
            let code = intent.last_error.as_ref().map_or("card_declined", |e| e.code.as_str()).to_owned();
            Step::Settled(Payment { state: State::Declined, detail: Some(code), ..with_intent }, Answer::Declined)
        }
    }
}

fn captured(current: &Payment, intent: &Intent) -> Step {
    let payment = Payment { state: State::Captured, captured_minor: intent.amount_captured, ..current.clone() };
    Step::Settled(payment, Answer::Captured)
}

fn voided(current: &Payment) -> Step {
    Step::Settled(Payment { state: State::Voided, ..current.clone() }, Answer::Cancelled(CancelOutcome::Voided))
}

/// An authorized payment without the provider's intent cannot happen through this code; say
/// so loudly and keep the operation for a person to look at.
fn missing_intent(current: &Payment) -> Step {
    let error = format!("payment {} is {} without a provider intent", current.payment_id, current.state.as_str());
    Step::Retry { uncertain: false, breaker_open: false, error }
}

fn retry<T>(reply: Reply<T>, uncertain: bool) -> Step {
    match reply {
        Reply::NotDone(error) => Step::Retry { uncertain, breaker_open: false, error },
        Reply::Unknown(error) => Step::Retry { uncertain: true, breaker_open: false, error },
        Reply::Refused { status, code, .. } => {
            let error = format!("the provider refused the call ({status}, {})", code.as_deref().unwrap_or("no code"));
            Step::Retry { uncertain, breaker_open: false, error }
        }
        Reply::Done(_) => Step::Retry { uncertain, breaker_open: false, error: "unexpected answer".into() },
    }
}

/// The card number of an authorization's command.
fn card_of(operation: &Operation) -> Option<String> {
    let command: flotilla_contracts::payments::AuthorizePaymentV1 =
        serde_json::from_str(&operation.command_payload).ok()?;
    crate::domain::card::normalize(&command.payment_method)
}

fn call_name(call: Call) -> &'static str {
    match call {
        Call::Authorize => "authorize",
        Call::Capture => "capture",
        Call::Void => "void",
        Call::Refund => "refund",
    }
}

fn now_ms() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}
