use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use flotilla_testkit::{Backend, TestApp};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// How the upstream answers its next requests; once the script is used up it answers 200.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    Slow(Duration),
}

/// A real HTTP server standing in for a service: it records what reached it and answers as the
/// test scripts it to.
#[derive(Clone, Default)]
pub struct Upstream {
    pub seen: Arc<Mutex<Vec<Value>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl Upstream {
    pub async fn start() -> (Self, String) {
        let upstream = Self::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let handler = upstream.clone();
        let app = axum::Router::new().fallback(move |request: Request| {
            let handler = handler.clone();
            async move { handler.answer(request).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (upstream, url)
    }

    pub fn script(&self, replies: &[Reply]) {
        self.script.lock().unwrap().extend(replies.iter().copied());
    }

    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    async fn answer(&self, request: Request) -> Response {
        let headers: serde_json::Map<String, Value> = request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), json!(v.to_str().unwrap_or_default())))
            .collect();
        let method = request.method().to_string();
        let uri = request.uri().to_string();
        let body = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap();
        let record = json!({"method": method, "uri": uri, "headers": headers, "body": String::from_utf8_lossy(&body)});
        self.seen.lock().unwrap().push(record.clone());
        let next = self.script.lock().unwrap().pop_front();
        match next {
            Some(Reply::Status(code)) => StatusCode::from_u16(code).unwrap().into_response(),
            Some(Reply::Slow(delay)) => {
                tokio::time::sleep(delay).await;
                axum::Json(record).into_response()
            }
            None => {
                let mut response = axum::Json(record).into_response();
                response.headers_mut().insert("set-cookie", "upstream=1".parse().unwrap());
                response
            }
        }
    }
}

/// The gateway with one upstream, `echo`, behind `/api/v1/echo`.
pub async fn gateway(backend: Backend, upstream_url: &str, extra: &[(&str, Value)]) -> TestApp {
    let mut settings = vec![(
        "services.gateway.upstreams",
        json!({"echo": {
            "url": upstream_url, "timeout_ms": 500, "retries": 2,
            "breaker": {"consecutive_failures": 3, "open_ms": 400, "half_open_probes": 1}
        }}),
    )];
    settings.extend(extra.iter().map(|(k, v)| (*k, v.clone())));
    flotilla_testkit::spawn(&flotilla_gateway::SERVICE, backend, &settings).await
}

pub use flotilla_testkit::OwnMetrics;
