//! What the embedded bus promises across `kill -9`: every change the catalog acknowledged reaches
//! the event log exactly once, whether its event was still in the outbox or already in the log
//! when the process died.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn serve_catalog(data_dir: &Path, port: u16, issuer: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .env_clear()
        .env("FLOTILLA_AUTH__ISSUER", issuer)
        .env("FLOTILLA_DATA_DIR", data_dir)
        .env("FLOTILLA_SERVICES__CATALOG__PORT", port.to_string())
        .env("FLOTILLA_SERVICES__CATALOG__SEED", "false")
        .env("FLOTILLA_LOG__LEVEL", "warn")
        .args(["serve", "catalog"])
        .current_dir(data_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn request(port: u16, head: &str, body: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "{head}\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn wait_ready(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !request(port, "GET /readyz HTTP/1.1", "").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
        assert!(Instant::now() < deadline, "not ready within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn create_product(port: u16, n: usize, token: &str) -> String {
    let body = format!(
        r#"{{"sku":"KILL-{n:04}","name":"Product {n}","description":"d","price":{{"amount_minor":100,"currency":"EUR"}},"category":"kitchen","attributes":{{}}}}"#
    );
    let head = format!("POST /api/v1/catalog/products HTTP/1.1\r\nAuthorization: Bearer {token}");
    let response = request(port, &head, &body).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let json = &response[response.find("\r\n\r\n").unwrap() + 4..];
    let value: serde_json::Value = serde_json::from_str(json).unwrap();
    value["id"].as_str().unwrap().to_owned()
}

async fn created_events_in_log(data_dir: &Path) -> Vec<(String, String)> {
    use sqlx::Connection;
    let path = data_dir.join("bus.db");
    if !path.is_file() {
        return Vec::new();
    }
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display())).await.unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT message_id, json_extract(headers, '$.\"ce-subject\"') FROM messages WHERE message_type = 'flotilla.catalog.product-created.v1'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    rows
}

// Two workers: the requests below block one, and the catalog's key fetch needs the test issuer,
// which runs on this runtime, to answer meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_event_and_duplicates_none() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let issuer = flotilla_testkit::TestIssuer::start().await;
    let token = issuer.token("durability-admin", &["admin"]);
    let mut first = serve_catalog(dir.path(), port, issuer.issuer());
    wait_ready(port);
    let products: BTreeSet<String> = (0..60).map(|n| create_product(port, n, &token)).collect();
    // No grace: the relay is mid-stream, some events still in the outbox.
    first.kill().unwrap();
    first.wait().unwrap();
    let before_restart = created_events_in_log(dir.path()).await.len();

    let mut second = serve_catalog(dir.path(), port, issuer.issuer());
    wait_ready(port);
    let deadline = Instant::now() + Duration::from_secs(30);
    let events = loop {
        let events = created_events_in_log(dir.path()).await;
        if events.len() >= products.len() || Instant::now() > deadline {
            break events;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    second.kill().unwrap();
    second.wait().unwrap();

    let ids: BTreeSet<&String> = events.iter().map(|(id, _)| id).collect();
    let subjects: BTreeSet<String> = events.iter().map(|(_, subject)| subject.clone()).collect();
    assert_eq!(ids.len(), events.len(), "an event is in the log twice");
    assert_eq!(
        subjects, products,
        "every acknowledged product has its event ({before_restart} were in before the restart)"
    );
}
