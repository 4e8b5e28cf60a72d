//! Malformed and hostile input: every answer is a problem document.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

on_both_backends!(bad_paths_get_problems, a_disabled_sink_is_a_404_problem);

async fn bad_paths_get_problems(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    for path in ["not-a-uuid", "%00", "..%2F..%2Fmetrics", "123", &"f".repeat(300)] {
        let response = app.admin.get(app.url(&format!("{ORDERS}/{path}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    }
    let not_a_uuid = app.admin.get(app.url(&format!("{ORDERS}/not-a-uuid"))).send().await.unwrap();
    expect_problem(not_a_uuid, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    let wrong_method = app.admin.post(app.url(SINK)).json(&json!({})).send().await.unwrap();
    assert_eq!(wrong_method.headers()["content-type"], "application/problem+json");
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    app.stop().await;
}

async fn a_disabled_sink_is_a_404_problem(backend: Backend) {
    // No sink needs a relay; nothing is sent in this test, so one that is not there will do.
    let port = flotilla_testkit::free_port();
    let (app, _nats) = service(
        backend,
        &[
            ("services.notifications.sink.enabled", json!(false)),
            ("services.notifications.smtp.host", json!("127.0.0.1")),
            ("services.notifications.smtp.port", json!(port)),
            ("services.notifications.smtp.tls", json!("none")),
        ],
    )
    .await;
    let response = app.admin.get(app.url(SINK)).send().await.unwrap();
    expect_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    app.stop().await;
}
