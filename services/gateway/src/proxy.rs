//! `/api/v1/<context>/...` to the context's service. The caller's bearer token passes through;
//! a browser's session cookie is exchanged for the session's access token (with a CSRF check on
//! state changes). Request id and trace context go upstream; cookies and the client's own
//! forwarding headers do not.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use flotilla_chassis::http::{REQUEST_ID_HEADER, client_ip};
use flotilla_chassis::telemetry::SpanKind;
use flotilla_chassis::telemetry::causality::Causality;
use flotilla_chassis::telemetry::trace_context::TraceContext;
use flotilla_chassis::{Problem, ProblemKind};

use crate::GatewayState;
use crate::bff;
use crate::domain::{forwarding, path};
use crate::edge::ResolvedSession;
use crate::upstream::Outgoing;

pub async fn proxy(
    State(state): State<GatewayState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    match forward(state, peer, request).await {
        Ok(response) => response,
        Err(problem) => problem.into_response(),
    }
}

async fn forward(state: GatewayState, peer: SocketAddr, request: Request) -> Result<Response, Problem> {
    let (mut parts, body) = request.into_parts();
    let context = path::context(parts.uri.path()).map_err(|refusal| match refusal {
        path::Refusal::NotRouted => Problem::not_found(refusal.describe()),
        refusal => Problem::invalid_parameter("path", refusal.describe()),
    })?;
    let path_and_query = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let upstream = state
        .upstreams
        .get(context)
        .cloned()
        .ok_or_else(|| Problem::not_found(format!("no service is reachable under /api/v1/{context}")))?;

    let mut headers = HeaderMap::with_capacity(parts.headers.len() + 6);
    for (name, value) in &parts.headers {
        if !forwarding::drop_request_header(name.as_str()) {
            headers.append(name.clone(), value.clone());
        }
    }
    if !parts.headers.contains_key(header::AUTHORIZATION)
        && let Some(ResolvedSession(Some(current))) = parts.extensions.remove::<ResolvedSession>()
    {
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe && !bff::csrf_ok(&parts.headers, &current.session) {
            return Err(Problem::new(ProblemKind::Forbidden)
                .with_detail("a state change with the session cookie needs the session's CSRF token in X-CSRF-Token"));
        }
        let token = bff::access_token(&state, &current).await?;
        let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|e| Problem::internal(&e))?;
        value.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, value);
    }
    let body = axum::body::to_bytes(body, state.body_limit).await.map_err(|_| {
        Problem::new(ProblemKind::PayloadTooLarge).with_detail(format!("the body exceeds {} bytes", state.body_limit))
    })?;
    // The exchange with the service, retries included, is one client span: the service's server
    // span is its child.
    let mut call = Causality::span(parts.method.as_str().to_owned(), SpanKind::Client);
    if let Some(span) = call.as_mut().filter(|span| span.is_recording()) {
        span.set("http.request.method", parts.method.as_str().to_owned());
        span.set("server.address", context.to_owned());
        span.set("url.path", parts.uri.path().to_owned());
    }
    forwarding_headers(&state, peer, &parts.headers, &mut headers, call.as_ref().map(|span| span.context()));
    let response = upstream.send(Outgoing { method: parts.method, path_and_query, headers, body }).await;
    if let Some(span) = call.as_mut() {
        let status = response.status();
        span.set("http.response.status_code", i64::from(status.as_u16()));
        if status.is_server_error() {
            span.fail(status.as_str().to_owned(), "the service or the gateway's call to it failed");
        }
    }
    Ok(response)
}

/// `X-Forwarded-*` as the gateway sees the request, the request id, and the trace context with
/// the gateway's client span (`call`) as the parent of the service's.
fn forwarding_headers(
    state: &GatewayState,
    peer: SocketAddr,
    incoming: &HeaderMap,
    outgoing: &mut HeaderMap,
    call: Option<&TraceContext>,
) {
    let client = client_ip(peer, incoming, &state.settings.trusted_proxies);
    let mut set = |name: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            outgoing.insert(name, value);
        }
    };
    set(HeaderName::from_static("x-forwarded-for"), &client.to_string());
    set(HeaderName::from_static("x-forwarded-proto"), if state.settings.secure_cookies() { "https" } else { "http" });
    if let Some(host) = incoming.get(header::HOST).and_then(|h| h.to_str().ok()) {
        set(HeaderName::from_static("x-forwarded-host"), host);
    }
    if let Some(causality) = Causality::current() {
        set(REQUEST_ID_HEADER, &causality.correlation_id);
    }
    if let Some(call) = call {
        set(HeaderName::from_static("traceparent"), &call.traceparent());
    }
}
