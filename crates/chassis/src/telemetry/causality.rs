//! What caused the work in progress: its trace, and the ids that tie a business flow together.
//!
//! The HTTP middleware and the message consumer set it for the work they run; code that emits
//! messages (the outbox), calls out or opens a transaction reads it, so that a request, the calls
//! and events it causes and their handlers show as one trace and one correlation.

use std::borrow::Cow;
use std::future::Future;

use super::spans::{Span, SpanKind, Tracer};
use super::trace_context::TraceContext;

#[derive(Debug, Clone)]
pub struct Causality {
    /// The span the work runs in.
    pub trace: TraceContext,
    /// The same for every request and message of one flow: the first request id.
    pub correlation_id: String,
    /// The request or message that directly caused the current work.
    pub causation_id: String,
    /// Where the spans of this work go: the service's.
    pub tracer: Tracer,
}

tokio::task_local! {
    static CURRENT: Causality;
}

impl Causality {
    /// The causality of the work this task is doing, if it runs inside [`Causality::scope`].
    pub fn current() -> Option<Self> {
        CURRENT.try_with(Clone::clone).ok()
    }

    /// A span for a part of the current work (a call out, a transaction), if there is current work.
    pub fn span(name: impl Into<Cow<'static, str>>, kind: SpanKind) -> Option<Span> {
        CURRENT.try_with(|current| current.tracer.start_child(name, kind, &current.trace)).ok()
    }

    /// Runs `work` with this as its causality.
    pub async fn scope<F: Future>(self, work: F) -> F::Output {
        CURRENT.scope(self, work).await
    }
}
