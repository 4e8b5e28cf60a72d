//! Malformed and hostile input: every answer is a problem document.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use uuid::Uuid;

use crate::support::*;

on_both_backends!(bad_parameters_get_problems, an_unknown_order_is_a_not_found_problem);

async fn bad_parameters_get_problems(backend: Backend) {
    let (app, _nats) = service(backend, NEVER, NEVER).await;
    let cases = [
        (format!("{SHIPMENTS}/not-a-uuid"), None),
        (format!("{SHIPMENTS}/%00"), None),
        (format!("{SHIPMENTS}/{}x", Uuid::now_v7()), None),
        (format!("{SHIPMENTS}?limit=0"), Some("limit")),
        (format!("{SHIPMENTS}?limit=201"), Some("limit")),
        (format!("{SHIPMENTS}?limit=-1"), None),
        (format!("{SHIPMENTS}?limit=x"), None),
        (format!("{SHIPMENTS}?status=lost"), Some("status")),
        (format!("{SHIPMENTS}?status=Delivered"), Some("status")),
        (format!("{SHIPMENTS}?status="), Some("status")),
        (format!("{SHIPMENTS}?after=not-a-uuid"), Some("after")),
        (format!("{SHIPMENTS}?after=%27%20OR%201%3D1"), Some("after")),
        (format!("{SHIPMENTS}?colour=red"), None),
    ];
    for (path, field) in cases {
        let response = app.admin.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{path}");
        let problem = expect_problem(response, StatusCode::BAD_REQUEST, "invalid-parameter").await;
        if let Some(field) = field {
            assert_eq!(flotilla_testkit::location(&problem["errors"][0]), field, "{path}: {problem}");
        }
    }
    app.stop().await;
}

async fn an_unknown_order_is_a_not_found_problem(backend: Backend) {
    let (app, _nats) = service(backend, NEVER, NEVER).await;
    let unknown = app.url(&format!("{SHIPMENTS}/{}", Uuid::now_v7()));
    let problem =
        expect_problem(app.admin.get(&unknown).send().await.unwrap(), StatusCode::NOT_FOUND, "not-found").await;
    assert!(problem["detail"].as_str().unwrap().contains("no shipment"), "{problem}");
    // A customer is told the same: nothing says whether the order exists elsewhere.
    let response = customer(&app, CUSTOMER).get(&unknown).send().await.unwrap();
    expect_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    app.stop().await;
}
