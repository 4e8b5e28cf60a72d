//! The HTTP client every outgoing call uses: rustls on ring, the tree's one TLS stack, and the
//! traced send that makes each call a span of the work it is made for.

use std::time::Duration;

use crate::telemetry::SpanKind;
use crate::telemetry::causality::Causality;

/// How long a pooled connection may sit idle. Our servers close a keep-alive connection that
/// stays idle for `http.header_read_timeout_ms` (30 s by default); letting ours go well before
/// that keeps a request from being written into a connection the server is closing.
pub const POOL_IDLE: Duration = Duration::from_secs(15);

/// A client builder with ring installed as the process's rustls provider, which reqwest needs
/// because it is built without one of its own (see the workspace manifest).
pub fn builder() -> reqwest::ClientBuilder {
    // An Err means a provider is already installed, which is all this needs.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().pool_idle_timeout(POOL_IDLE)
}

/// A client with `timeout` per request (and per connection attempt).
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    builder().timeout(timeout).connect_timeout(timeout).build()
}

/// Sends `request` as a part of the current work: a client span (OpenTelemetry's HTTP client
/// conventions) whose context goes out as `traceparent`, so that the callee's span is its child.
/// Outside traced work it is a plain send.
pub async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, reqwest::Error> {
    let (client, request) = request.build_split();
    let mut request = request?;
    let Some(mut span) = Causality::span(request.method().as_str().to_owned(), SpanKind::Client) else {
        return client.execute(request).await;
    };
    if let Ok(value) = reqwest::header::HeaderValue::from_str(&span.context().traceparent()) {
        request.headers_mut().insert("traceparent", value);
    }
    if span.is_recording() {
        let url = request.url();
        span.set("http.request.method", request.method().as_str().to_owned());
        span.set("server.address", url.host_str().unwrap_or_default().to_owned());
        if let Some(port) = url.port_or_known_default() {
            span.set("server.port", i64::from(port));
        }
        // Scheme, host and path only: a query may carry what must not be recorded.
        span.set("url.full", format!("{}{}", url.origin().ascii_serialization(), url.path()));
    }
    let result = client.execute(request).await;
    match &result {
        Ok(response) => {
            let status = response.status();
            span.set("http.response.status_code", i64::from(status.as_u16()));
            if status.is_server_error() {
                span.fail(status.as_str().to_owned(), "the callee failed");
            }
        }
        Err(error) => {
            let kind = if error.is_timeout() {
                "timeout"
            } else if error.is_connect() {
                "connect"
            } else {
                "request"
            };
            span.fail(kind, error.to_string());
        }
    }
    result
}
