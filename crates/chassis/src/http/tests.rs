//! The stack's failure handling, on a router with deliberately misbehaving routes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;
use utoipa_axum::router::OpenApiRouter;

use super::{ServiceInfo, service_router};
use crate::config::Config;
use crate::health::{CheckFuture, Readiness, ReadinessCheck};

struct Failing;

impl ReadinessCheck for Failing {
    fn name(&self) -> &'static str {
        "database"
    }
    fn check(&self) -> CheckFuture {
        Box::pin(async { Err("connection refused".to_owned()) })
    }
}

fn router(concurrency_limit: usize, checks: Vec<Arc<dyn ReadinessCheck>>) -> axum::Router {
    let settings = Config::defaults()
        .and_then(|c| c.set("http.request_timeout_ms", 200))
        .and_then(|c| c.set("http.concurrency_limit", concurrency_limit))
        .unwrap()
        .settings
        .http;
    let api = OpenApiRouter::new()
        .route("/panic", axum::routing::get(|| async { panic!("deliberate") as &'static str }))
        .route("/slow", axum::routing::get(|| async { tokio::time::sleep(Duration::from_secs(5)).await }))
        .route("/wait", axum::routing::get(|| async { tokio::time::sleep(Duration::from_millis(150)).await }));
    let info = ServiceInfo {
        name: "probe",
        version: "0.0.0",
        api_version: "1.0.0",
        publishes: Arc::default(),
        edge: false,
        tracer: Default::default(),
    };
    service_router(info, api, Readiness::new(checks), &settings, None, false).api
}

async fn call(router: &axum::Router, path: &str) -> (StatusCode, Option<String>, serde_json::Value) {
    let response = router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let retry_after = response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, retry_after, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn a_panic_is_a_500_problem_and_the_service_keeps_serving() {
    let router = router(8, Vec::new());
    let (status, _, body) = call(&router, "/panic").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["type"], "urn:flotilla:problem:internal");
    assert!(!body.to_string().contains("deliberate"), "panic messages never reach clients");
    assert_eq!(call(&router, "/livez").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_request_over_its_time_is_abandoned_with_a_problem() {
    let (status, retry_after, body) = call(&router(8, Vec::new()), "/slow").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["type"], "urn:flotilla:problem:timeout");
    assert_eq!(retry_after.as_deref(), Some("1"));
}

#[tokio::test]
async fn excess_concurrency_is_shed_while_probes_still_answer() {
    let router = router(1, Vec::new());
    let busy = tokio::spawn({
        let router = router.clone();
        async move { call(&router, "/wait").await.0 }
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    let (status, retry_after, body) = call(&router, "/wait").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["type"], "urn:flotilla:problem:overloaded");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(call(&router, "/livez").await.0, StatusCode::OK, "probes bypass load shedding");
    assert_eq!(busy.await.unwrap(), StatusCode::OK, "the admitted request completes");
    assert_eq!(call(&router, "/wait").await.0, StatusCode::OK, "capacity returns");
}

#[tokio::test]
async fn readiness_names_the_failing_dependency() {
    let (status, _, body) = call(&router(8, vec![Arc::new(Failing)]), "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "unready");
    assert_eq!(
        body["checks"][0],
        serde_json::json!({"name": "database", "status": "fail", "detail": "connection refused"})
    );
}
