//! `/livez`, `/readyz`, `/metrics`, `/version` and `/openapi.json`.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::ServiceInfo;
use crate::build_info::VersionInfo;
use crate::health::{Readiness, ReadinessReport};

#[derive(Clone)]
struct OpsState {
    info: ServiceInfo,
    readiness: Readiness,
}

impl OpsState {
    async fn report(&self) -> ReadinessReport {
        let report = self.readiness.report().await;
        crate::metrics::record_ready(self.info.name, report.status == "ready");
        report
    }
}

/// Every service's operations tag, so that no service declares it again.
#[derive(utoipa::OpenApi)]
#[openapi(tags((name = "operations", description = "Probes, metrics and version")))]
struct OpsDoc;

pub(super) fn router(info: ServiceInfo, readiness: Readiness) -> OpenApiRouter {
    OpenApiRouter::with_openapi(<OpsDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(livez))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(version))
        .with_state(OpsState { info, readiness })
}

/// The process is alive and answering.
#[utoipa::path(get, path = "/livez", tag = "operations", security(()), responses(
    (status = 200, description = "Alive", body = Object, example = json!({"status": "alive"})),
))]
async fn livez() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "alive" }))
}

/// The service can do its job: dependencies reachable, schema current, not draining.
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()), responses(
    (status = 200, description = "Ready", body = ReadinessReport),
    (status = 503, description = "Not ready; the failing checks say why", body = ReadinessReport, example = json!({
        "status": "unready",
        "checks": [{"name": "database", "status": "fail", "detail": "no answer within 2s"}]
    })),
))]
async fn readyz(State(state): State<OpsState>) -> impl IntoResponse {
    let report = state.report().await;
    let status = if report.status == "ready" { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(report))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "operations", security(()), responses(
    (status = 200, description = "Metrics in the Prometheus text format", content_type = "text/plain", example = json!(
        "# HELP flotilla_service_ready 1 while the service's readiness checks pass, 0 otherwise.\n\
         # TYPE flotilla_service_ready gauge\n\
         flotilla_service_ready{service=\"catalog\"} 1\n"
    )),
))]
async fn metrics(State(state): State<OpsState>) -> impl IntoResponse {
    // Readiness is evaluated for the scrape itself, so that Prometheus alone keeps the gauge
    // current even where nothing probes `/readyz`.
    state.report().await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], crate::metrics::render_for(state.info.name))
}

/// What runs here: product and service versions, git commit, build time.
#[utoipa::path(get, path = "/version", tag = "operations", security(()), responses((status = 200, description = "Version", body = VersionInfo)))]
async fn version(State(state): State<OpsState>) -> impl IntoResponse {
    Json(VersionInfo::new(state.info.name, state.info.version, state.info.api_version, &state.info.publishes))
}

pub(super) async fn openapi_json(document: Arc<String>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document.as_str().to_owned())
}
