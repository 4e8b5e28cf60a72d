//! The process's last spans, kept in memory and served at `/admin/traces`: a trace's waterfall
//! with no collector installed. Embedded, every service runs in the process, so a trace is whole
//! here; distributed, a process holds its own service's part.
//!
//! Bounded by span count: the oldest span goes when a new one arrives at capacity. Keeping a span
//! costs a lock and a move; turning it into JSON happens only when someone asks.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::SystemTime;

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::{Array, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanProcessor};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Json, Path, Query};
use crate::problem::{Problem, ProblemKind};

struct Recorded {
    service: &'static str,
    span: SpanData,
}

struct Buffer {
    capacity: usize,
    spans: Mutex<VecDeque<Recorded>>,
}

/// One per process; the first service to keep spans sets its size.
static BUFFER: OnceLock<Buffer> = OnceLock::new();

fn buffer(capacity: usize) -> &'static Buffer {
    BUFFER.get_or_init(|| Buffer { capacity, spans: Mutex::new(VecDeque::with_capacity(capacity)) })
}

fn snapshot() -> Vec<(&'static str, SpanData)> {
    let Some(buffer) = BUFFER.get() else { return Vec::new() };
    let spans = buffer.spans.lock().unwrap_or_else(PoisonError::into_inner);
    spans.iter().map(|kept| (kept.service, kept.span.clone())).collect()
}

/// The span processor that keeps one service's finished spans in the process's buffer.
#[derive(Debug)]
pub(super) struct Keep {
    service: &'static str,
    buffer: &'static Buffer,
}

impl std::fmt::Debug for Buffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buffer").field("capacity", &self.capacity).finish()
    }
}

impl Keep {
    pub(super) fn new(service: &'static str, capacity: usize) -> Self {
        Self { service, buffer: buffer(capacity) }
    }
}

impl SpanProcessor for Keep {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let mut spans = self.buffer.spans.lock().unwrap_or_else(PoisonError::into_inner);
        if spans.len() >= self.buffer.capacity {
            spans.pop_front();
        }
        spans.push_back(Recorded { service: self.service, span });
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// A trace as the buffer holds it, newest first in a listing.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceSummary {
    /// The W3C trace id: 32 lower-case hexadecimal digits.
    #[schema(example = "4bf92f3577b34da6a3ce929d0e0e4736")]
    trace_id: String,
    /// The span without a parent here (the trace's entry), or the earliest span when its parent
    /// is elsewhere.
    #[schema(example = "POST /api/v1/catalog/products")]
    root: String,
    /// Every service with a span in it, in order of first appearance.
    services: Vec<String>,
    /// RFC 3339, UTC: when its earliest span started.
    started_at: String,
    /// From the earliest start to the latest end, in milliseconds.
    duration_ms: f64,
    /// How many of its spans this process keeps.
    spans: usize,
    /// Whether any span failed.
    error: bool,
}

/// The traces in the buffer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"traces": [{
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "root": "POST /api/v1/catalog/products",
    "services": ["gateway", "catalog", "basket"], "started_at": "2026-12-01T19:47:46.120Z",
    "duration_ms": 38.4, "spans": 9, "error": false
}]}))]
pub struct TraceList {
    /// Newest first.
    traces: Vec<TraceSummary>,
}

/// One trace, its spans ordered by start: enough to draw a waterfall.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "spans": [{
        "span_id": "00f067aa0ba902b7", "parent_span_id": null, "name": "POST /api/v1/catalog/products",
        "kind": "server", "service": "gateway", "start": "2026-12-01T19:47:46.120003511Z", "offset_us": 0,
        "duration_us": 38412, "status": "unset", "status_message": null,
        "attributes": {"http.request.method": "POST", "http.route": "/api/v1/{*path}", "http.response.status_code": 201}
    }]
}))]
pub struct Trace {
    /// The W3C trace id: 32 lower-case hexadecimal digits.
    trace_id: String,
    /// Ordered by start.
    spans: Vec<SpanView>,
}

/// One operation of a trace, as OpenTelemetry records it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SpanView {
    /// The span's id: 16 lower-case hexadecimal digits.
    span_id: String,
    /// Absent for the trace's entry span.
    parent_span_id: Option<String>,
    /// What it did, by OpenTelemetry's naming (`GET /api/v1/catalog/products/{id}`, `send catalog.product-created`).
    name: String,
    /// OpenTelemetry span kind: server, client, producer, consumer or internal.
    kind: String,
    /// The service that recorded it.
    service: String,
    /// RFC 3339, UTC, to the nanosecond.
    start: String,
    /// Microseconds from the trace's earliest start.
    offset_us: u64,
    /// How long it took, in microseconds.
    duration_us: u64,
    /// unset, ok or error.
    status: String,
    /// Why it failed, when its status is error.
    status_message: Option<String>,
    /// OpenTelemetry semantic-convention attributes (`http.route`, `messaging.destination.name`, ...).
    #[schema(value_type = Object)]
    attributes: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// At most this many traces, newest first (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

/// The admin-only routes every service serves over the process's buffer.
pub(crate) fn router() -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(list_traces))
        .routes(routes!(get_trace))
        .route_layer(axum::middleware::from_fn(crate::auth::admin_only))
}

/// Recent traces recorded by this process, newest first.
#[utoipa::path(get, path = "/admin/traces", tag = "traces", security(("bearer" = [])), params(ListQuery),
    responses(
        (status = 200, description = "Recent traces", body = TraceList),
        (status = 400, description = "Bad query", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_traces(Query(query): Query<ListQuery>) -> Result<Json<TraceList>, Problem> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(Problem::new(ProblemKind::InvalidParameter).with_detail("limit must be between 1 and 200"));
    }
    let limit = usize::try_from(limit).unwrap_or(50);
    Ok(Json(TraceList { traces: summaries(snapshot(), limit) }))
}

/// One trace's spans, as far as this process recorded them.
#[utoipa::path(get, path = "/admin/traces/{trace_id}", tag = "traces", security(("bearer" = [])),
    params(("trace_id" = String, Path, description = "W3C trace id: 32 lower-case hex digits", pattern = "^[0-9a-f]{32}$")),
    responses(
        (status = 200, description = "The trace", body = Trace),
        (status = 400, description = "Not a trace id", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No span of that trace is kept", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_trace(Path(trace_id): Path<String>) -> Result<Json<Trace>, Problem> {
    if trace_id.len() != 32 || !trace_id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(
            Problem::new(ProblemKind::InvalidParameter).with_detail("a trace id is 32 lower-case hexadecimal digits")
        );
    }
    let spans: Vec<_> =
        snapshot().into_iter().filter(|(_, span)| span.span_context.trace_id().to_string() == trace_id).collect();
    if spans.is_empty() {
        return Err(Problem::not_found(format!("no span of trace {trace_id} is kept here")));
    }
    Ok(Json(Trace { trace_id, spans: waterfall(spans) }))
}

fn summaries(spans: Vec<(&'static str, SpanData)>, limit: usize) -> Vec<TraceSummary> {
    let mut traces: Vec<(String, Vec<(&'static str, SpanData)>)> = Vec::new();
    for (service, span) in spans {
        let trace_id = span.span_context.trace_id().to_string();
        match traces.iter_mut().find(|(id, _)| *id == trace_id) {
            Some((_, members)) => members.push((service, span)),
            None => traces.push((trace_id, vec![(service, span)])),
        }
    }
    let mut out: Vec<TraceSummary> = traces.into_iter().map(|(trace_id, members)| summary(trace_id, members)).collect();
    out.sort_by(|a, b| b.started_at.cmp(&a.started_at));
    out.truncate(limit);
    out
}

fn summary(trace_id: String, mut members: Vec<(&'static str, SpanData)>) -> TraceSummary {
    members.sort_by_key(|(_, span)| span.start_time);
    let ids: Vec<SpanId> = members.iter().map(|(_, span)| span.span_context.span_id()).collect();
    let root = members
        .iter()
        .find(|(_, span)| span.parent_span_id == SpanId::INVALID || !ids.contains(&span.parent_span_id))
        .map(|(_, span)| span.name.to_string())
        .unwrap_or_default();
    let mut services: Vec<String> = Vec::new();
    for (service, _) in &members {
        if !services.iter().any(|known| known == service) {
            services.push((*service).to_owned());
        }
    }
    let start = members.iter().map(|(_, span)| span.start_time).min().unwrap_or(SystemTime::UNIX_EPOCH);
    let end = members.iter().map(|(_, span)| span.end_time).max().unwrap_or(start);
    TraceSummary {
        trace_id,
        root,
        services,
        started_at: rfc3339(start),
        duration_ms: end.duration_since(start).unwrap_or_default().as_secs_f64() * 1000.0,
        spans: members.len(),
        error: members.iter().any(|(_, span)| matches!(span.status, Status::Error { .. })),
    }
}

fn waterfall(mut spans: Vec<(&'static str, SpanData)>) -> Vec<SpanView> {
    spans.sort_by_key(|(_, span)| span.start_time);
    let origin = spans.first().map_or(SystemTime::UNIX_EPOCH, |(_, span)| span.start_time);
    let micros = |from: SystemTime, to: SystemTime| {
        u64::try_from(to.duration_since(from).unwrap_or_default().as_micros()).unwrap_or(u64::MAX)
    };
    spans
        .into_iter()
        .map(|(service, span)| {
            let (status, status_message) = match &span.status {
                Status::Unset => ("unset", None),
                Status::Ok => ("ok", None),
                Status::Error { description } => ("error", Some(description.to_string())),
            };
            SpanView {
                span_id: span.span_context.span_id().to_string(),
                parent_span_id: (span.parent_span_id != SpanId::INVALID).then(|| span.parent_span_id.to_string()),
                name: span.name.to_string(),
                kind: kind_name(&span.span_kind).to_owned(),
                service: service.to_owned(),
                start: rfc3339(span.start_time),
                offset_us: micros(origin, span.start_time),
                duration_us: micros(span.start_time, span.end_time),
                status: status.to_owned(),
                status_message,
                attributes: span.attributes.iter().map(|kv| (kv.key.to_string(), json(&kv.value))).collect(),
            }
        })
        .collect()
}

fn kind_name(kind: &SpanKind) -> &'static str {
    match kind {
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
        SpanKind::Internal => "internal",
    }
}

fn json(value: &Value) -> serde_json::Value {
    match value {
        Value::Bool(b) => (*b).into(),
        Value::I64(i) => (*i).into(),
        Value::F64(f) => (*f).into(),
        Value::String(s) => s.as_str().into(),
        Value::Array(Array::Bool(items)) => items.clone().into(),
        Value::Array(Array::I64(items)) => items.clone().into(),
        Value::Array(Array::F64(items)) => items.clone().into(),
        Value::Array(Array::String(items)) => items.iter().map(|s| s.as_str()).collect::<Vec<_>>().into(),
        other => other.to_string().into(),
    }
}

fn rfc3339(at: SystemTime) -> String {
    OffsetDateTime::from(at).format(&Rfc3339).unwrap_or_default()
}
