//! One API description for everything behind the gateway: `/openapi.json` combines the
//! gateway's own document with each service's `/api/v1/<context>` operations, fetched from the
//! services (cached briefly); `/docs` is Swagger UI on it, its assets served from the binary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
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
        let mut combined = serde_json::to_value(&self.own).unwrap_or_default();
        combined["servers"] = json!([{"url": "/", "description": "The gateway"}]);
        at_the_edge(&mut combined);
        let mut missing = Vec::new();
        for (context, base) in &self.upstreams {
            match self.fetch(base).await {
                Ok(document) => merge(&mut combined, context, document),
                Err(error) => {
                    tracing::warn!(context, %error, "could not fetch a service's OpenAPI document");
                    missing.push(context.as_str());
                }
            }
        }
        if !missing.is_empty() {
            let note = format!("\n\nNot included just now (unreachable): {}.", missing.join(", "));
            let description = &mut combined["info"]["description"];
            *description = Value::String(format!("{}{note}", description.as_str().unwrap_or_default()));
        }
        serde_json::to_string_pretty(&combined).unwrap_or_default()
    }

    async fn fetch(&self, base: &str) -> Result<Value, String> {
        let url = format!("{}/openapi.json", base.trim_end_matches('/'));
        let response = self.http.get(&url).send().await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: status {}", response.status()));
        }
        let document: Value = response.json().await.map_err(|e| e.to_string())?;
        if !document["paths"].is_object() {
            return Err(format!("GET {url}: not an OpenAPI document"));
        }
        Ok(document)
    }
}

/// Adds `context`'s operations under `/api/v1/<context>` and the components they use to
/// `combined`. Documents are merged as JSON, not as a typed model: what a service may write is
/// whatever OpenAPI 3.1 allows, and a model that cannot read one schema back would drop the
/// whole service. A component whose name another service already uses for something else is
/// renamed after its context, and this document's references follow it.
fn merge(combined: &mut Value, context: &str, mut document: Value) {
    let prefix = format!("/api/v1/{context}");
    let mut renames = Vec::new();
    if let Some(kinds) = document.get("components").and_then(Value::as_object) {
        for (kind, entries) in kinds {
            for (name, entry) in entries.as_object().into_iter().flatten() {
                let taken = &combined["components"][kind][name];
                if !taken.is_null() && taken != entry {
                    renames.push((format!("#/components/{kind}/{name}"), kind.clone(), name.clone()));
                }
            }
        }
    }
    let owner = title_case(context);
    for (reference, kind, name) in &renames {
        let renamed = format!("{owner}{name}");
        rewrite_refs(&mut document, reference, &format!("#/components/{kind}/{renamed}"));
        if let Some(entries) = document["components"][kind].as_object_mut()
            && let Some(entry) = entries.remove(name)
        {
            entries.insert(renamed, entry);
        }
    }
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, mut item) in std::mem::take(paths) {
            if path == prefix || path.starts_with(&format!("{prefix}/")) {
                as_forwarded(&mut item);
                combined["paths"][path] = item;
            }
        }
    }
    if let Some(kinds) = document.get_mut("components").and_then(Value::as_object_mut) {
        for (kind, entries) in std::mem::take(kinds) {
            for (name, entry) in entries.as_object().into_iter().flatten() {
                combined["components"][&kind][name] = entry.clone();
            }
        }
    }
}

/// What the edge answers on every route before anything else: a token it refuses, a client over
/// its rate.
const EDGE_ANSWERS: [(&str, &str); 2] = [
    ("401", "The bearer token is not acceptable"),
    ("429", "This client is sending requests faster than allowed; see Retry-After"),
];

/// What the gateway adds to every operation it forwards: the edge's answers and its own (a path
/// it does not forward, an upstream that fails or is slow), and path parameters narrowed to
/// values that survive its path check (`domain::path`).
fn as_forwarded(item: &mut Value) {
    let answers = [
        ("400", "The path is not one the gateway forwards (a dot segment, a backslash, an encoded slash)"),
        ("502", "The service could not be reached"),
        ("503", "The service is failing, and the gateway is not calling it for now"),
        ("504", "The service did not answer in time"),
    ];
    for operation in operations(item) {
        for (status, description) in EDGE_ANSWERS.into_iter().chain(answers) {
            add_problem(operation, status, description);
        }
        for parameter in operation.get_mut("parameters").and_then(Value::as_array_mut).into_iter().flatten() {
            if parameter["in"] == "path" && parameter["schema"]["type"] == "string" {
                let original = parameter["schema"].take();
                parameter["schema"] = json!({"type": "string", "allOf": [original, {"pattern": FORWARDED_SEGMENT}]});
            }
        }
    }
}

/// The gateway's own operations pass the edge too.
fn at_the_edge(document: &mut Value) {
    for item in document["paths"].as_object_mut().into_iter().flat_map(|paths| paths.values_mut()) {
        for operation in operations(item) {
            for (status, description) in EDGE_ANSWERS {
                add_problem(operation, status, description);
            }
        }
    }
}

fn operations(item: &mut Value) -> impl Iterator<Item = &mut Value> {
    item.as_object_mut()
        .into_iter()
        .flat_map(|item| item.values_mut())
        .filter(|operation| operation.get("responses").is_some())
}

fn add_problem(operation: &mut Value, status: &str, description: &str) {
    let responses = &mut operation["responses"];
    if responses.get(status).is_none() {
        responses[status] = json!({"description": description, "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    }
}

/// One path segment the gateway forwards, however a client encodes it: not `.` or `..`, and no
/// slash, backslash, percent sign (a second decoding could make one of them) or control character.
const FORWARDED_SEGMENT: &str = r"^(?!\.\.?(;|$))[^\\/%\x00-\x1F\x7F]*$";

fn rewrite_refs(value: &mut Value, from: &str, to: &str) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if key == "$ref" && inner.as_str() == Some(from) {
                    *inner = Value::String(to.to_owned());
                } else {
                    rewrite_refs(inner, from, to);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite_refs(item, from, to)),
        _ => {}
    }
}

/// `payment-provider` → `PaymentProvider`.
fn title_case(context: &str) -> String {
    context
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::merge;

    fn committed() -> Vec<(String, Value)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api");
        let mut documents: Vec<(String, Value)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.to_string_lossy().ends_with(".openapi.json"))
            .map(|path| {
                let name = path.file_name().unwrap().to_string_lossy().trim_end_matches(".openapi.json").to_owned();
                (name, serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap())
            })
            .collect();
        documents.sort_by(|a, b| a.0.cmp(&b.0));
        documents
    }

    fn refs(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => map.iter().for_each(|(key, inner)| match (key.as_str(), inner.as_str()) {
                ("$ref", Some(target)) => found.push(target.to_owned()),
                _ => refs(inner, found),
            }),
            Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
            _ => {}
        }
    }

    #[test]
    fn every_service_document_is_combined_whole_and_every_reference_resolves() {
        let documents = committed();
        assert!(documents.len() >= 9, "{:?}", documents.iter().map(|d| &d.0).collect::<Vec<_>>());
        let mut combined = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}});
        for (context, document) in &documents {
            merge(&mut combined, context, document.clone());
        }
        for (context, document) in &documents {
            for path in document["paths"].as_object().unwrap().keys() {
                if path.starts_with(&format!("/api/v1/{context}/")) {
                    assert!(combined["paths"].get(path).is_some(), "{context}: {path} is missing");
                }
            }
        }
        let mut found = Vec::new();
        refs(&combined, &mut found);
        assert!(!found.is_empty());
        for reference in found {
            let pointer = reference.trim_start_matches('#');
            assert!(combined.pointer(pointer).is_some(), "{reference} does not resolve");
        }
    }

    #[test]
    fn a_name_two_services_use_for_different_things_is_kept_apart() {
        let document = |description: &str| {
            json!({"paths": {"/api/v1/x/a": {"get": {"responses": {"200": {"content": {"application/json":
                {"schema": {"$ref": "#/components/schemas/Item"}}}}}}}},
             "components": {"schemas": {"Item": {"type": "object", "description": description}}}})
        };
        let mut combined = json!({"paths": {}});
        merge(&mut combined, "catalog", document("a product").to_string().replace("/x/", "/catalog/").parse().unwrap());
        merge(&mut combined, "basket", document("a line").to_string().replace("/x/", "/basket/").parse().unwrap());
        assert_eq!(combined["components"]["schemas"]["Item"]["description"], "a product");
        assert_eq!(combined["components"]["schemas"]["BasketItem"]["description"], "a line");
        let schema = &combined["paths"]["/api/v1/basket/a"]["get"]["responses"]["200"]["content"]["application/json"];
        assert_eq!(schema["schema"]["$ref"], "#/components/schemas/BasketItem");
    }
}
