use std::sync::atomic::{AtomicUsize, Ordering};

use flotilla_testkit::{Backend, TestApp};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

pub const INTENTS: &str = "/v1/payment_intents";
pub const REFUNDS: &str = "/v1/refunds";
pub const FAULTS: &str = "/v1/simulator/faults";

/// The key the tests configure: not the development default, so that the setting is what counts.
pub const API_KEY: &str = "sk_test_component_tests";

pub const APPROVED: &str = "4242424242424242";
pub const DECLINED: &str = "4000000000000002";
pub const INSUFFICIENT_FUNDS: &str = "4000000000009995";

/// The simulator on `backend`, with `API_KEY` and these settings on top. No bus: it has none.
pub async fn provider_with(backend: Backend, settings: &[(&str, Value)]) -> TestApp {
    let mut all = vec![("services.payment-provider.api_key", json!(API_KEY))];
    all.extend(settings.iter().cloned());
    flotilla_testkit::spawn(&flotilla_payment_provider::SERVICE, backend, &all).await
}

pub async fn provider(backend: Backend) -> TestApp {
    provider_with(backend, &[]).await
}

/// A client of the merchant's: sends `API_KEY` with every call.
pub fn merchant() -> Client {
    flotilla_testkit::client_with_token(API_KEY)
}

/// A fresh idempotency key.
pub fn new_key() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!("key-{}-{}", uuid::Uuid::now_v7().simple(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// POSTs `body` (JSON, unless `None`) under the idempotency key `key`.
pub async fn post(app: &TestApp, path: &str, key: &str, body: Option<Value>) -> Response {
    let request = merchant().post(app.url(path)).header("idempotency-key", key);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

pub fn intent_request(card: &str, amount: i64, reference: &str) -> Value {
    json!({"amount": amount, "currency": "EUR", "card_number": card, "reference": reference, "capture_method": "manual"})
}

/// Creates an intent that must be authorized; returns it.
pub async fn authorize(app: &TestApp, amount: i64, reference: &str) -> Value {
    let response = post(app, INTENTS, &new_key(), Some(intent_request(APPROVED, amount, reference))).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Authorizes and captures all of `amount`; returns the succeeded intent.
pub async fn captured(app: &TestApp, amount: i64, reference: &str) -> Value {
    let intent = authorize(app, amount, reference).await;
    let response = post(app, &format!("{INTENTS}/{}/capture", id(&intent)), &new_key(), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

pub fn id(object: &Value) -> &str {
    object["id"].as_str().unwrap()
}

pub async fn get(app: &TestApp, path: &str) -> Response {
    merchant().get(app.url(path)).send().await.unwrap()
}

pub async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = get(app, path).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Sets the fault knobs; they must be accepted.
pub async fn set_faults(app: &TestApp, faults: Value) {
    let response = merchant().put(app.url(FAULTS)).json(&faults).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
}

/// How many rows `table` of the service's database holds, read directly.
pub async fn count(app: &TestApp, table: &str) -> i64 {
    let settings = &app.config().settings;
    let db = flotilla_chassis::db::Database::connect("payment-provider", &settings.database, &settings.data_dir)
        .await
        .unwrap();
    let sql = match table {
        "payment_intents" => "SELECT COUNT(*) FROM payment_intents",
        "refunds" => "SELECT COUNT(*) FROM refunds",
        "idempotency_keys" => "SELECT COUNT(*) FROM idempotency_keys",
        other => panic!("no table {other} is counted"),
    };
    let count = sqlx::query_scalar(sql).fetch_one(db.pool()).await.unwrap();
    db.close().await;
    count
}

/// Asserts that nothing at all was written: no intent, no refund, no idempotency key.
pub async fn assert_nothing_written(app: &TestApp) {
    for table in ["payment_intents", "refunds", "idempotency_keys"] {
        assert_eq!(count(app, table).await, 0, "{table} is empty");
    }
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
