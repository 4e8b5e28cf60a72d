//! What the embedded bus promises across `kill -9`: every change the catalog acknowledged reaches
//! the event log exactly once, whether its event was still in the outbox or already in the log
//! when the process died.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sqlx::Connection;

const CREATED: &str = "flotilla.catalog.product-created.v1";

/// `flotilla serve catalog` on port 0; returns the process and the port it bound, read from the
/// address it prints, so that no port is picked, released and bound again later by another test.
fn serve_catalog(data_dir: &Path, issuer: &str) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .env_clear()
        .env("FLOTILLA_AUTH__ISSUER", issuer)
        .env("FLOTILLA_DATA_DIR", data_dir)
        .env("FLOTILLA_SERVICES__CATALOG__PORT", "0")
        .env("FLOTILLA_SERVICES__CATALOG__SEED", "false")
        .env("FLOTILLA_LOG__LEVEL", "warn")
        // The killed process's relay lease is what the restarted one waits out before it publishes.
        .env("FLOTILLA_BUS__RELAY_LEASE_MS", "1000")
        .args(["serve", "catalog"])
        .current_dir(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, bound) = mpsc::channel();
    // Reads the whole output, so that the child never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let port = line
                .split_whitespace()
                .skip_while(|word| *word != "catalog")
                .find_map(|word| word.strip_prefix("http://127.0.0.1:"))
                .and_then(|port| port.parse::<u16>().ok());
            if let Some(port) = port {
                let _ = sender.send(port);
            }
        }
    });
    let port = bound.recv_timeout(Duration::from_secs(30)).expect("the catalog printed no address within 30 s");
    (child, port)
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

/// The product-created events in the log, as (subject, payload).
async fn created_events_in_log(data_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let path = data_dir.join("bus.db");
    if !path.is_file() {
        return Vec::new();
    }
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display())).await.unwrap();
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT json_extract(headers, '$.\"ce-subject\"'), payload FROM messages WHERE message_type = $1",
    )
    .bind(CREATED)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    rows
}

/// The product-created events still in the catalog's outbox.
async fn created_events_in_outbox(data_dir: &Path) -> i64 {
    let path = data_dir.join("catalog.db");
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", path.display())).await.unwrap();
    let count = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE message_type = $1")
        .bind(CREATED)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    count
}

async fn wait_for(what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "{what} within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many times each key occurs.
fn counts<K: Ord>(keys: impl IntoIterator<Item = K>) -> BTreeMap<K, usize> {
    let mut counts = BTreeMap::new();
    for key in keys {
        *counts.entry(key).or_default() += 1;
    }
    counts
}

/// Holds a write lock on the event log until dropped: the relay cannot publish meanwhile, while
/// the catalog still acknowledges changes (the outbox is in its own database).
async fn hold_write_lock(path: &Path) -> sqlx::SqliteConnection {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE").execute(&mut conn).await.unwrap();
    conn
}

// Two workers: the requests below block one, and the catalog's key fetch needs the test issuer,
// which runs on this runtime, to answer meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_event_and_duplicates_none() {
    const PUBLISHED: usize = 30;
    const PENDING: usize = 30;
    let dir = tempfile::tempdir().unwrap();
    let issuer = flotilla_testkit::TestIssuer::start().await;
    let token = issuer.token("durability-admin", &["admin"]);
    let (mut first, port) = serve_catalog(dir.path(), issuer.issuer());
    wait_ready(port);
    let mut products: Vec<String> = (0..PUBLISHED).map(|n| create_product(port, n, &token)).collect();
    // These events are in the log when the process dies...
    wait_for("the first events reached the log", async || created_events_in_log(dir.path()).await.len() >= PUBLISHED)
        .await;
    // ...and these still in the outbox: the relay cannot publish them before the kill.
    let lock = hold_write_lock(&dir.path().join("bus.db")).await;
    products.extend((PUBLISHED..PUBLISHED + PENDING).map(|n| create_product(port, n, &token)));
    // No grace.
    first.kill().unwrap();
    first.wait().unwrap();
    let in_log = created_events_in_log(dir.path()).await.len();
    let in_outbox = created_events_in_outbox(dir.path()).await;
    assert_eq!(in_log, PUBLISHED, "the events in the log at the kill");
    assert_eq!(in_outbox, PENDING as i64, "the events still in the outbox at the kill");
    lock.close().await.unwrap();

    let (mut second, port) = serve_catalog(dir.path(), issuer.issuer());
    wait_ready(port);
    // Once the outbox is empty the relay has nothing left to publish: no event can come later.
    wait_for("the outbox emptied", async || created_events_in_outbox(dir.path()).await == 0).await;
    let events = created_events_in_log(dir.path()).await;
    second.kill().unwrap();
    second.wait().unwrap();

    // Counted per product and per payload, not by message id, which the log keeps unique anyway:
    // a product whose event was published twice under two ids shows as 2.
    let per_product = counts(events.iter().map(|(subject, _)| subject.as_str()));
    let wrong: Vec<(&str, usize)> = products
        .iter()
        .map(|product| (product.as_str(), per_product.get(product.as_str()).copied().unwrap_or(0)))
        .filter(|(_, events)| *events != 1)
        .collect();
    assert!(wrong.is_empty(), "acknowledged products without exactly one event (product, events): {wrong:?}");
    assert_eq!(per_product.values().sum::<usize>(), products.len(), "events of products never acknowledged");
    let copies = counts(events.iter().map(|(_, payload)| payload)).into_values().filter(|n| *n > 1).count();
    assert_eq!(copies, 0, "an event's payload is in the log twice");
}
