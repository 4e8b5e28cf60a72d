//! Per-request observability: request id, W3C trace context, the server span (exported when
//! tracing is on) and a log span carrying their ids, HTTP metrics labelled by route template, and
//! one access-log line.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::ServiceInfo;
use crate::metrics::HTTP_DURATION;
use crate::telemetry::causality::Causality;
use crate::telemetry::{SpanKind, Tracer};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

pub(super) async fn observe(State(info): State<ServiceInfo>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let sent =
        req.headers().get(&REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()).filter(|id| is_acceptable_request_id(id));
    // At the edge a client's id could collide with another's or be chosen to confuse whoever
    // reads the logs: it is kept beside ours, never in its place.
    let (request_id, client_request_id) = match sent {
        Some(id) if !info.edge => (id.to_owned(), None),
        sent => (uuid::Uuid::now_v7().to_string(), sent.map(str::to_owned)),
    };
    let method = req.method().as_str().to_owned();
    let route_label =
        req.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".into(), |p| p.as_str().to_owned());
    // Built once: the id goes on the request (for handlers) and back on the response.
    let request_id_header = HeaderValue::from_str(&request_id).ok();
    if let Some(value) = &request_id_header {
        req.headers_mut().insert(REQUEST_ID_HEADER, value.clone());
    }

    let traceparent = req.headers().get("traceparent").and_then(|v| v.to_str().ok());
    let matched = route_label != "unmatched";
    let operational = matches!(route_label.as_str(), "/livez" | "/readyz" | "/metrics");
    // Probes and scrapes arrive every few seconds and say nothing about the system's work: their
    // spans would crowd out the ones that do.
    let tracer = if operational { Tracer::off() } else { info.tracer.clone() };
    // OpenTelemetry's HTTP server span name: the method and the route template, never the raw path.
    let name = match (tracer.records(), matched) {
        (false, _) => String::new(),
        (true, true) => format!("{method} {route_label}"),
        (true, false) => method.clone(),
    };
    let mut server = tracer.start_remote(name, SpanKind::Server, traceparent);
    if server.is_recording() {
        server.set("http.request.method", method.clone());
        if matched {
            server.set("http.route", route_label.clone());
        }
        server.set("url.path", req.uri().path().to_owned());
        server.set("url.scheme", "http");
    }
    let trace = server.context().clone();
    let span = tracing::info_span!(
        "http_request",
        service = info.name,
        version = info.version,
        request_id = %request_id,
        client_request_id = client_request_id.as_deref(),
        trace_id = %trace.trace_id,
        span_id = %trace.span_id,
        method = %method,
        route = %route_label,
        subject = tracing::field::Empty,
    );
    let causality = Causality { trace, correlation_id: request_id.clone(), causation_id: request_id.clone(), tracer };
    let mut response = causality.scope(next.run(req)).instrument(span.clone()).await;
    let status = response.status();
    let elapsed = started.elapsed();
    server.set("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        server.fail(status.as_str().to_owned(), "server error");
    }
    drop(server);

    if let Some(value) = request_id_header {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let labels = [
        ("service", info.name.to_owned()),
        ("http_request_method", method),
        ("http_route", route_label.clone()),
        ("http_response_status_code", status.as_u16().to_string()),
    ];
    metrics::histogram!(HTTP_DURATION, &labels).record(elapsed.as_secs_f64());

    let _entered = span.enter();
    let duration_ms = elapsed.as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), duration_ms, "request failed");
    } else if operational {
        tracing::debug!(status = status.as_u16(), duration_ms, "request served");
    } else {
        tracing::info!(status = status.as_u16(), duration_ms, "request served");
    }
    response
}

// Propagated ids end up in logs and headers: keep them short and printable.
fn is_acceptable_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_must_be_short_and_printable() {
        assert!(super::is_acceptable_request_id("abc-123"));
        assert!(!super::is_acceptable_request_id(""));
        assert!(!super::is_acceptable_request_id("has space"));
        assert!(!super::is_acceptable_request_id(&"x".repeat(129)));
    }
}
