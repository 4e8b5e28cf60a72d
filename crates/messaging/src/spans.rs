//! The spans of a message's life, named and described by OpenTelemetry's messaging conventions:
//! `create` when a change emits it (inside the change's transaction), `send` when the relay hands
//! it to the bus, `process` when a consumer handles it. A message carries its `create` span's
//! context, so both the send and every handling are its children, in the trace of the work that
//! emitted it.

use flotilla_chassis::telemetry::causality::Causality;
use flotilla_chassis::telemetry::{Span, SpanKind, Tracer};

use crate::envelope::Envelope;

/// A unit of work's transaction, as a span that says how it ended.
pub(crate) struct Transaction {
    span: Span,
    tracer: Tracer,
    committed: bool,
}

impl Transaction {
    /// The span of a transaction begun for the current work; none outside any.
    /// With tracing off there is none, and messages carry the work's own context.
    pub(crate) fn begin(system: &str) -> Option<Self> {
        let causality = Causality::current().filter(|causality| causality.tracer.records())?;
        let mut span = causality.tracer.start_child("transaction", SpanKind::Client, &causality.trace);
        span.set("db.system.name", db_system(system));
        Some(Self { span, tracer: causality.tracer, committed: false })
    }

    /// The span of `envelope`'s creation inside this transaction; the message carries its context.
    pub(crate) fn create(&self, envelope: &mut Envelope, operation: &'static str) -> Span {
        let mut span = self.tracer.start_child(
            format!("create {}", envelope.message_type),
            SpanKind::Producer,
            self.span.context(),
        );
        if span.is_recording() {
            span.set("messaging.operation.type", "create");
            span.set("messaging.operation.name", operation);
            span.set("messaging.destination.name", envelope.message_type.clone());
            span.set("messaging.message.id", envelope.id.to_string());
        }
        envelope.traceparent = Some(span.context().traceparent());
        span
    }

    pub(crate) fn committed(mut self) {
        self.committed = true;
    }

    pub(crate) fn failed(mut self, error: &sqlx::Error) {
        self.span.fail("commit_failed", error.to_string());
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        // Dropped uncommitted is a rollback: the change and its messages are gone.
        let outcome = if self.committed { "committed" } else { "rolled_back" };
        self.span.set("flotilla.transaction.outcome", outcome);
    }
}

/// The semantic conventions' `db.system.name` for sqlx's backend name.
fn db_system(backend: &str) -> &'static str {
    match backend {
        "PostgreSQL" => "postgresql",
        "SQLite" => "sqlite",
        _ => "other_sql",
    }
}

/// The relay's hand-over of one message to the bus, a child of its creation.
pub(crate) fn send(
    tracer: &Tracer,
    system: &'static str,
    address: &str,
    headers: &crate::envelope::Headers,
) -> Option<Span> {
    // A message emitted outside any traced work starts no trace of its own here; with tracing
    // off, the relay makes no ids for every message it hands over.
    let parent = headers.get("ce-traceparent").filter(|_| tracer.records())?;
    let mut span = tracer.start_remote(format!("send {address}"), SpanKind::Producer, Some(parent));
    if span.is_recording() {
        span.set("messaging.system", system);
        span.set("messaging.operation.type", "send");
        span.set("messaging.destination.name", address.to_owned());
        if let Some(id) = headers.get("ce-id") {
            span.set("messaging.message.id", id.clone());
        }
    }
    Some(span)
}

/// A consumer's handling of `envelope`, continuing the trace the message carries.
pub(crate) fn process(tracer: &Tracer, consumer: &str, envelope: &Envelope) -> Span {
    let mut span = tracer.start_remote(
        format!("process {}", envelope.message_type),
        SpanKind::Consumer,
        envelope.traceparent.as_deref(),
    );
    if span.is_recording() {
        span.set("messaging.operation.type", "process");
        span.set("messaging.destination.name", envelope.message_type.clone());
        span.set("messaging.consumer.group.name", consumer.to_owned());
        span.set("messaging.message.id", envelope.id.to_string());
    }
    span
}
