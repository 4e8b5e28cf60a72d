//! Spans without a collector, and with one that never answers: the buffer behind `/admin/traces`
//! holds a request's spans, and an export that hangs holds up no request and no shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use flotilla_testkit::Backend;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn random_hex(bytes: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..bytes * 2].to_owned()
}

#[tokio::test]
async fn a_request_is_kept_for_admin_traces_with_no_collector() {
    let app = flotilla_testkit::spawn(&flotilla_catalog::SERVICE, Backend::Sqlite, &[]).await;
    let trace_id = random_hex(16);
    let listed = app
        .client
        .get(app.url("/api/v1/catalog/products?limit=1"))
        .header("traceparent", format!("00-{trace_id}-{}-01", random_hex(8)))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);

    // The span is kept once the response is on its way; ask until it is there.
    let mut kept = None;
    for _ in 0..100 {
        let response = app.admin.get(app.url(&format!("/admin/traces/{trace_id}"))).send().await.unwrap();
        if response.status() == StatusCode::OK {
            kept = Some(response.json::<Value>().await.unwrap());
            break;
        }
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let kept = kept.expect("the request's trace is kept");
    let server = &kept["spans"][0];
    assert_eq!(server["name"], "GET /api/v1/catalog/products");
    assert_eq!((server["kind"].as_str(), server["service"].as_str()), (Some("server"), Some("catalog")));
    assert_eq!(server["attributes"]["http.response.status_code"], 200);

    let probes = app.admin.get(app.url("/admin/traces?limit=200")).send().await.unwrap().json::<Value>().await.unwrap();
    assert!(
        probes["traces"]
            .as_array()
            .unwrap()
            .iter()
            .all(|trace| !["GET /readyz", "GET /livez", "GET /metrics"].contains(&trace["root"].as_str().unwrap())),
        "probes and scrapes are not traced"
    );
    let too_many = app.admin.get(app.url("/admin/traces?limit=201")).send().await.unwrap();
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn a_collector_that_never_answers_holds_up_no_request_and_no_shutdown() {
    // Accepts connections and never answers: the worst collector there is.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    let settings = [
        ("traces.otlp_endpoint", json!(endpoint)),
        ("traces.export_batch", json!(4)),
        ("traces.export_queue", json!(8)),
        ("traces.export_interval_ms", json!(10)),
        ("traces.export_timeout_ms", json!(600_000)),
        ("http.shutdown_deadline_ms", json!(500)),
    ];
    let app = flotilla_testkit::spawn(&flotilla_catalog::SERVICE, Backend::Sqlite, &settings).await;
    for _ in 0..200 {
        let response = app.client.get(app.url("/api/v1/catalog/products?limit=1")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    for _ in 0..200 {
        if accepted.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(accepted.load(Ordering::SeqCst) > 0, "the exporter tried the collector");
    // An export that will never finish is abandoned at the shutdown deadline; the bound here
    // only turns a hang into a failure.
    tokio::time::timeout(Duration::from_secs(60), app.stop()).await.expect("the service stopped");
}
