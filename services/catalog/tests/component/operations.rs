use std::time::{Duration, Instant};

use flotilla_testkit::{Backend, TestApp, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, Executor};

use crate::support::*;

on_both_backends!(
    probes_report_live_ready_and_version,
    metrics_count_requests_by_route_template,
    readiness_fails_until_migrations_are_applied,
    a_scrape_alone_keeps_the_ready_gauge_current,
    responses_are_compressed_on_request,
);

async fn readiness_fails_until_migrations_are_applied(backend: Backend) {
    let settings = [("services.catalog.seed", json!(false)), ("database.migrate_on_start", json!(false))];
    let app = flotilla_testkit::spawn(&flotilla_catalog::SERVICE, backend, &settings).await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = ready.json().await.unwrap();
    let migrations = ready["checks"].as_array().unwrap().iter().find(|c| c["name"] == "migrations").unwrap();
    assert_eq!(migrations["status"], "fail");
    let expected = format!("0 of {}", flotilla_catalog::MIGRATIONS.len());
    assert!(migrations["detail"].as_str().unwrap().contains(&expected), "{migrations}");

    let db = flotilla_chassis::service::migrate(&flotilla_catalog::SERVICE, app.config()).await.unwrap();
    db.close().await;
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    app.stop().await;
}

/// Scrapes until the catalog's `flotilla_service_ready` says `wanted`. Every catalog of this
/// binary writes the one series, each when it is scraped; a scrape sets it and reads it back at
/// once, so another test's scrape can only rarely come between: hence a few tries.
async fn ready_gauge_becomes(app: &TestApp, wanted: &str) {
    let series = r#"flotilla_service_ready{service="catalog"} "#;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        let value = text.lines().find_map(|line| line.strip_prefix(series)).map(str::to_owned);
        if value.as_deref() == Some(wanted) {
            return;
        }
        assert!(Instant::now() < deadline, "flotilla_service_ready is {value:?}, not {wanted}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_scrape_alone_keeps_the_ready_gauge_current(backend: Backend) {
    let settings = [("services.catalog.seed", json!(false)), ("database.migrate_on_start", json!(false))];
    let app = flotilla_testkit::spawn(&flotilla_catalog::SERVICE, backend, &settings).await;
    ready_gauge_becomes(&app, "0").await;
    let db = flotilla_chassis::service::migrate(&flotilla_catalog::SERVICE, app.config()).await.unwrap();
    db.close().await;
    ready_gauge_becomes(&app, "1").await;

    if backend == Backend::Postgres {
        // The database stops: it takes no new connection and cuts the open ones.
        let name = format!("{}catalog", app.config().settings.database.database_prefix);
        let server = format!("{}/postgres", flotilla_testkit::postgres_server_url());
        let mut admin = sqlx::AnyConnection::connect(&server).await.unwrap();
        let allow = |allowed: bool| format!("ALTER DATABASE \"{name}\" WITH ALLOW_CONNECTIONS {allowed}");
        admin.execute(sqlx::raw_sql(AssertSqlSafe(allow(false)))).await.unwrap();
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(&name)
            .execute(&mut admin)
            .await
            .unwrap();
        ready_gauge_becomes(&app, "0").await;
        admin.execute(sqlx::raw_sql(AssertSqlSafe(allow(true)))).await.unwrap();
        ready_gauge_becomes(&app, "1").await;
    }
    app.stop().await;
}

async fn responses_are_compressed_on_request(backend: Backend) {
    let app = catalog(backend).await;
    for i in 0..5 {
        create(&app, &product(&format!("GZ-{i:03}"), "Compressible product name")).await;
    }
    let url = app.url(&format!("{PRODUCTS}?limit=5"));
    let gzipped = app.client.get(&url).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let plain = app.client.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    app.stop().await;
}

async fn probes_report_live_ready_and_version(backend: Backend) {
    let app = catalog(backend).await;
    assert_eq!(app.client.get(app.url("/livez")).send().await.unwrap().status(), StatusCode::OK);

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    let checks: Vec<&str> = ready["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(checks, ["database", "migrations", "bus"]);

    let version: Value = app.client.get(app.url("/version")).send().await.unwrap().json().await.unwrap();
    assert_eq!(version["product"], "flotilla");
    assert_eq!(version["service"], "catalog");
    for key in ["product_version", "service_version", "git_commit", "build_time"] {
        assert!(version[key].as_str().is_some_and(|v| !v.is_empty()), "{key}: {version}");
    }
    let document: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(version["api_version"], document["info"]["version"], "/version names the API contract it serves");
    assert_eq!(version["api_version"], flotilla_catalog::SERVICE.api_version);
    let published: Vec<Value> =
        flotilla_catalog::events::published().iter().map(|info| Value::from(info.message_type)).collect();
    assert!(!published.is_empty());
    assert_eq!(version["message_contracts"], Value::Array(published), "/version names every contract it publishes");

    let response = app.client.get(app.url("/livez")).header("x-request-id", "req-123").send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-123", "a caller's request id is propagated");
    let response = app.client.get(app.url("/livez")).send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"].len(), 36, "a missing request id is generated");

    expect_problem(app.client.get(app.url("/nowhere")).send().await.unwrap(), StatusCode::NOT_FOUND, "not-found").await;
    let patch = app.client.patch(app.url(PRODUCTS)).send().await.unwrap();
    expect_problem(patch, StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed").await;
    app.stop().await;
}

async fn metrics_count_requests_by_route_template(backend: Backend) {
    let app = catalog(backend).await;
    let id = uuid::Uuid::now_v7();
    for _ in 0..3 {
        app.client.get(app.url(&format!("{PRODUCTS}/{id}"))).send().await.unwrap();
    }
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("http_server_request_duration_seconds_count{")
                && l.contains(r#"http_request_method="GET""#)
                && l.contains(r#"http_route="/api/v1/catalog/products/{id}""#)
                && l.contains(r#"http_response_status_code="404""#)
                && l.contains(r#"service="catalog""#)
        })
        .unwrap_or_else(|| panic!("no request counter for the route template in:\n{text}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(!text.contains(&id.to_string()), "ids never become label values");
    for name in [
        "http_server_request_duration_seconds_bucket",
        "flotilla_build_info",
        "process_resident_memory_bytes",
        "process_open_fds",
        "process_cpu_seconds_total",
    ] {
        assert!(text.contains(name), "{name} missing");
    }
    app.stop().await;
}
