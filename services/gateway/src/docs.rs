//! One API description for everything behind the gateway: `/openapi.json` combines the
//! gateway's own document with each service's `/api/v1/<context>` operations, fetched from the
//! services (cached briefly); `/docs` is Swagger UI on it, its assets served from the binary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::Mutex;
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

const CACHE_FOR: Duration = Duration::from_secs(30);

pub struct Combined {
    own: OpenApi,
    upstreams: Vec<(String, String)>,
    http: reqwest::Client,
    cached: Mutex<Option<(Instant, Arc<String>)>>,
}

impl Combined {
    /// `upstreams` are (context, base URL) pairs.
    pub fn new(own: OpenApi, upstreams: Vec<(String, String)>) -> Result<Self, reqwest::Error> {
        Ok(Self {
            own,
            upstreams,
            http: flotilla_chassis::outbound::client(Duration::from_secs(2))?,
            cached: Mutex::new(None),
        })
    }

    pub async fn serve(self: Arc<Self>) -> Response {
        let document = {
            let mut cached = self.cached.lock().await;
            match cached.as_ref() {
                Some((at, document)) if at.elapsed() < CACHE_FOR => Arc::clone(document),
                _ => {
                    let document = Arc::new(self.build().await);
                    *cached = Some((Instant::now(), Arc::clone(&document)));
                    document
                }
            }
        };
        let mut response = (*document).clone().into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }

    async fn build(&self) -> String {
        let mut combined = self.own.clone();
        let mut missing = Vec::new();
        for (context, base) in &self.upstreams {
            match self.fetch(base).await {
                Ok(mut document) => {
                    let prefix = format!("/api/v1/{context}");
                    document.paths.paths.retain(|path, _| path == &prefix || path.starts_with(&format!("{prefix}/")));
                    document.tags = None;
                    combined.merge(document);
                }
                Err(error) => {
                    tracing::warn!(context, %error, "could not fetch a service's OpenAPI document");
                    missing.push(context.as_str());
                }
            }
        }
        if !missing.is_empty() {
            let note = format!("\n\nNot included just now (unreachable): {}.", missing.join(", "));
            combined.info.description = Some(format!("{}{note}", combined.info.description.unwrap_or_default()));
        }
        combined.to_pretty_json().unwrap_or_default()
    }

    async fn fetch(&self, base: &str) -> Result<OpenApi, String> {
        let url = format!("{}/openapi.json", base.trim_end_matches('/'));
        let response = self.http.get(&url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: status {}", response.status()));
        }
        response.json().await.map_err(|e| e.to_string())
    }
}

/// Swagger UI at `/docs`, pointed at the combined document; its own CSP allows its scripts.
pub fn swagger_ui() -> axum::Router {
    let ui: axum::Router = SwaggerUi::new("/docs").config(Config::new(["/openapi.json"])).into();
    ui.layer(axum::middleware::map_response(|mut response: Response| async move {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
            ),
        );
        response
    }))
}
