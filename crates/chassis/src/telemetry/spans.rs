//! Spans: a service's requests, outgoing calls, messages and transactions as parts of one trace.
//!
//! A [`Tracer`] belongs to one service (its OpenTelemetry resource names the service, even when
//! several share a process). With tracing on, the OpenTelemetry SDK makes the ids and the sampling
//! decision, and the span's [`TraceContext`] is read back from it, so that the ids in logs, in
//! `traceparent` headers and in exported spans are the same. With tracing off, ids are still made
//! and propagated, and nothing is recorded.

use std::borrow::Cow;
use std::time::Duration;

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};

use super::trace_context::{TraceContext, parse_traceparent};

pub use opentelemetry::trace::SpanKind;

/// Where one service's spans go. Cheap to clone.
#[derive(Clone, Default)]
pub struct Tracer {
    sdk: Option<(SdkTracer, SdkTracerProvider)>,
}

impl std::fmt::Debug for Tracer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracer").field("recording", &self.sdk.is_some()).finish()
    }
}

impl Tracer {
    /// Records nothing; trace ids are still made and passed on.
    pub fn off() -> Self {
        Self::default()
    }

    /// Whether spans are recorded at all; when not, work that exists only for spans (their names,
    /// ids nobody logs) can be skipped.
    pub fn records(&self) -> bool {
        self.sdk.is_some()
    }

    pub(crate) fn new(provider: SdkTracerProvider) -> Self {
        let tracer = provider.tracer("flotilla");
        Self { sdk: Some((tracer, provider)) }
    }

    /// A span that continues the trace of a caller's `traceparent`, or starts a trace.
    pub fn start_remote(&self, name: impl Into<Cow<'static, str>>, kind: SpanKind, traceparent: Option<&str>) -> Span {
        let Some((tracer, _)) = &self.sdk else {
            return Span { context: TraceContext::continue_or_start(traceparent), otel: None };
        };
        let parent = traceparent.and_then(parse_traceparent);
        let cx = match &parent {
            Some((trace_id, span_id, sampled)) => remote_parent(trace_id, span_id, *sampled),
            None => Context::new(),
        };
        let otel = tracer.span_builder(name).with_kind(kind).start_with_context(tracer, &cx);
        Span::recorded(otel, parent.map(|(_, span_id, _)| span_id))
    }

    /// A span of work done for `parent`, in its trace.
    pub fn start_child(&self, name: impl Into<Cow<'static, str>>, kind: SpanKind, parent: &TraceContext) -> Span {
        let Some((tracer, _)) = &self.sdk else {
            return Span { context: parent.child(), otel: None };
        };
        let cx = remote_parent(&parent.trace_id, &parent.span_id, parent.sampled);
        let otel = tracer.span_builder(name).with_kind(kind).start_with_context(tracer, &cx);
        Span::recorded(otel, Some(parent.span_id.clone()))
    }

    /// Exports what is still queued, for at most `deadline`. It blocks, so it runs on a thread of
    /// its own: the exporter's calls need the runtime's threads free.
    pub async fn shutdown(&self, deadline: Duration) {
        let Some((_, provider)) = self.sdk.clone() else { return };
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(deadline)).await;
        if let Ok(Err(error)) = flushed {
            tracing::warn!(%error, "spans still queued at shutdown were not all exported");
        }
    }
}

/// A parent known only by its ids: the SDK needs it as a context to sample and parent a span. A
/// parent of our own process is passed the same way, as the ids are all a child needs.
fn remote_parent(trace_id: &str, span_id: &str, sampled: bool) -> Context {
    let flags = if sampled { TraceFlags::SAMPLED } else { TraceFlags::default() };
    let context = SpanContext::new(
        TraceId::from_hex(trace_id).unwrap_or(TraceId::INVALID),
        SpanId::from_hex(span_id).unwrap_or(SpanId::INVALID),
        flags,
        true,
        TraceState::default(),
    );
    Context::new().with_remote_span_context(context)
}

/// One span in progress. It ends when dropped (the SDK's span ends itself), so early returns end it too.
pub struct Span {
    context: TraceContext,
    otel: Option<opentelemetry_sdk::trace::Span>,
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Span").field("context", &self.context).finish()
    }
}

impl Span {
    fn recorded(otel: opentelemetry_sdk::trace::Span, parent_span_id: Option<String>) -> Self {
        let ids = otel.span_context();
        let context = TraceContext {
            trace_id: ids.trace_id().to_string(),
            span_id: ids.span_id().to_string(),
            parent_span_id,
            sampled: ids.is_sampled(),
        };
        Self { context, otel: Some(otel) }
    }

    /// The span's ids: what logs carry and what calls made for it pass on as `traceparent`.
    pub fn context(&self) -> &TraceContext {
        &self.context
    }

    /// Whether attributes set now are kept: false when tracing is off or the trace not sampled,
    /// so that callers can skip building them.
    pub fn is_recording(&self) -> bool {
        self.otel.as_ref().is_some_and(|span| span.is_recording())
    }

    pub fn set(&mut self, key: &'static str, value: impl Into<Value>) {
        if let Some(span) = self.otel.as_mut().filter(|span| span.is_recording()) {
            span.set_attribute(KeyValue::new(key, value));
        }
    }

    /// Marks the span failed; `error_type` is the `error.type` attribute (a status code, an error
    /// class), `description` says what happened.
    pub fn fail(&mut self, error_type: impl Into<Value>, description: impl Into<Cow<'static, str>>) {
        if let Some(span) = self.otel.as_mut().filter(|span| span.is_recording()) {
            span.set_attribute(KeyValue::new("error.type", error_type));
            span.set_status(Status::error(description));
        }
    }
}
