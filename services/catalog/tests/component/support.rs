use flotilla_testkit::{Backend, TestApp};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub const PRODUCTS: &str = "/api/v1/catalog/products";

pub async fn catalog(backend: Backend) -> TestApp {
    flotilla_testkit::spawn(&flotilla_catalog::SERVICE, backend, &[("services.catalog.seed", json!(false))]).await
}

pub fn product(sku: &str, name: &str) -> Value {
    json!({
        "sku": sku,
        "name": name,
        "description": "Pre-seasoned and ready for the oven.",
        "price": {"amount_minor": 3499, "currency": "EUR"},
        "category": "kitchen",
        "image": "/images/products/x.jpg",
        "attributes": {"weight_g": 2300, "material": "cast iron", "dishwasher_safe": false}
    })
}

pub async fn create(app: &TestApp, body: &Value) -> Value {
    let response = app.admin.post(app.url(PRODUCTS)).json(body).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

pub async fn list(app: &TestApp, query: &str) -> Value {
    let response = app.client.get(app.url(&format!("{PRODUCTS}{query}"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
    response.json().await.unwrap()
}

/// Every page of a listing, following cursors; panics on a loop.
pub async fn all_pages(app: &TestApp, query: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let separator = if query.is_empty() { "?" } else { "&" };
        let url = match &cursor {
            Some(c) => format!("{query}{separator}cursor={c}"),
            None => query.to_owned(),
        };
        let page = list(app, &url).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
    panic!("pagination did not end");
}

/// Asserts an RFC 9457 response of this status and problem type; returns the document.
pub async fn expect_problem(response: Response, status: StatusCode, slug: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], format!("urn:flotilla:problem:{slug}"), "{problem}");
    assert_eq!(problem["status"], status.as_u16());
    problem
}
