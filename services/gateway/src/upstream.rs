//! One service behind the gateway: a timeout per attempt, retries for idempotent requests with
//! exponential backoff and jitter, and a circuit breaker that fails fast while it is down.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use flotilla_chassis::health::{CheckFuture, ReadinessCheck};
use flotilla_chassis::{Problem, ProblemKind};

use crate::domain::forwarding;
use crate::settings::Route;
use flotilla_chassis::breaker::{Admission, Breaker, State};

const REQUESTS: &str = "flotilla_gateway_upstream_requests_total";
/// OpenTelemetry's `http.client.request.duration`: one observation per request sent, so a
/// retried request is observed once per attempt.
const DURATION: &str = "http_client_request_duration_seconds";
pub(crate) const RATE_LIMITED: &str = "flotilla_gateway_rate_limited_total";

fn describe() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(REQUESTS, "Requests the gateway sent upstream, by upstream and outcome.");
        metrics::describe_histogram!(
            DURATION,
            metrics::Unit::Seconds,
            "Time from sending one attempt upstream to its response headers (or its failure), by upstream."
        );
        metrics::describe_counter!(RATE_LIMITED, "Requests refused with 429 because a client exceeded its rate.");
    });
}

pub struct Upstream {
    pub name: String,
    base: String,
    timeout: Duration,
    retries: usize,
    breaker: Mutex<Breaker>,
    http: reqwest::Client,
}

/// A request ready to go upstream: the body is buffered (within the body limit) so that an
/// idempotent request can be sent again.
pub struct Outgoing {
    pub method: Method,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Upstream {
    pub fn new(route: &Route, http: reqwest::Client) -> Self {
        describe();
        let settings = &route.settings;
        Self {
            name: route.name.clone(),
            base: route.url.trim_end_matches('/').to_owned(),
            timeout: Duration::from_millis(settings.timeout_ms),
            retries: settings.retries,
            breaker: Mutex::new(Breaker::reporting(settings.breaker.policy(), crate::SERVICE.name, &route.name)),
            http,
        }
    }

    pub fn state(&self) -> State {
        self.breaker.lock().map(|b| b.state()).unwrap_or(State::Open)
    }

    fn admit(&self) -> Admission {
        match self.breaker.lock() {
            Ok(mut breaker) => breaker.admit(Instant::now()),
            Err(_) => Admission::Allowed,
        }
    }

    fn record(&self, success: bool, probe: bool) {
        let Ok(mut breaker) = self.breaker.lock() else { return };
        let before = breaker.state();
        breaker.record(success, probe, Instant::now());
        let after = breaker.state();
        drop(breaker);
        if before != after {
            tracing::warn!(upstream = %self.name, from = before.as_str(), to = after.as_str(), "circuit breaker changed state");
        }
    }

    /// Sends `request`, retrying when that is safe, and answers with the upstream's response or
    /// a problem saying why there is none.
    pub async fn send(&self, request: Outgoing) -> Response {
        let idempotent = forwarding::idempotent(request.method.as_str());
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(25))
            .with_max_delay(Duration::from_millis(500))
            .with_max_times(if idempotent { self.retries } else { 0 })
            .with_jitter()
            .build();
        let mut retry = false;
        loop {
            let probe = match self.admit() {
                Admission::Allowed => false,
                Admission::Probe => true,
                Admission::Refused(wait) => {
                    metrics::counter!(REQUESTS, "service" => crate::SERVICE.name, "upstream" => self.name.clone(), "outcome" => "circuit_open")
                        .increment(1);
                    return Problem::new(ProblemKind::Unavailable)
                        .with_detail(format!(
                            "the {} service is failing; the gateway is not calling it for now",
                            self.name
                        ))
                        .with_retry_after(wait.as_secs().max(1))
                        .into_response();
                }
            };
            if retry {
                flotilla_chassis::metrics::record_retry(crate::SERVICE.name, &self.name);
            }
            let started = Instant::now();
            let result = self
                .http
                .request(request.method.clone(), format!("{}{}", self.base, request.path_and_query))
                .headers(request.headers.clone())
                .body(request.body.clone())
                .timeout(self.timeout)
                .send()
                .await;
            metrics::histogram!(DURATION, "service" => crate::SERVICE.name, "upstream" => self.name.clone())
                .record(started.elapsed().as_secs_f64());
            let retryable = match &result {
                Ok(response) => matches!(
                    response.status(),
                    StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT
                ),
                Err(_) => true,
            };
            let outcome = match &result {
                Ok(response) if response.status().is_server_error() => "server_error",
                Ok(_) => "ok",
                Err(e) if e.is_timeout() => "timeout",
                Err(_) => "unreachable",
            };
            metrics::counter!(REQUESTS, "service" => crate::SERVICE.name, "upstream" => self.name.clone(), "outcome" => outcome).increment(1);
            self.record(outcome == "ok", probe);
            if retryable && let Some(delay) = backoff.next() {
                tracing::info!(upstream = %self.name, outcome, delay_ms = delay.as_millis() as u64, "retrying an idempotent request");
                tokio::time::sleep(delay).await;
                retry = true;
                continue;
            }
            return match result {
                Ok(response) => relay(response),
                Err(error) if error.is_timeout() => Problem::new(ProblemKind::UpstreamTimeout)
                    .with_detail(format!(
                        "the {} service did not answer within {} ms",
                        self.name,
                        self.timeout.as_millis()
                    ))
                    .into_response(),
                Err(error) => {
                    tracing::warn!(upstream = %self.name, %error, "upstream unreachable");
                    Problem::new(ProblemKind::BadGateway)
                        .with_detail(format!("the {} service could not be reached", self.name))
                        .into_response()
                }
            };
        }
    }
}

/// The upstream's response, streamed back without the headers that stop at the gateway.
fn relay(upstream: reqwest::Response) -> Response {
    let status = upstream.status();
    let mut headers = HeaderMap::with_capacity(upstream.headers().len());
    for (name, value) in upstream.headers() {
        if !forwarding::drop_response_header(name.as_str()) {
            headers.append(name.clone(), value.clone());
        }
    }
    let mut response = Response::new(Body::from_stream(upstream.bytes_stream()));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// `/readyz` detail: every upstream's breaker. It never fails the gateway's readiness: one
/// failing context must not take the entry to all the others out of the load balancer.
pub struct Breakers(pub Arc<Vec<Arc<Upstream>>>);

impl ReadinessCheck for Breakers {
    fn name(&self) -> &'static str {
        "upstreams"
    }

    fn check(&self) -> CheckFuture {
        Box::pin(async { Ok(()) })
    }

    fn detail(&self) -> Option<String> {
        Some(self.0.iter().map(|u| format!("{}: {}", u.name, u.state().as_str())).collect::<Vec<_>>().join(", "))
    }
}
