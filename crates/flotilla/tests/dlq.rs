//! `flotilla dlq` on real dead letters: a consumer on the catalog's database rejects a message
//! from the embedded bus, and the binary lists, shows, replays (after the fix) and discards it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use flotilla_chassis::Config;
use flotilla_chassis::db::Database;
use flotilla_contracts::Message;
use flotilla_contracts::catalog::ProductDeletedV1;
use flotilla_messaging::consumer::{ConsumerRuntime, RetryPolicy};
use flotilla_messaging::dead_letters;
use flotilla_messaging::settings::BusSettings;
use flotilla_messaging::{Consumer, Envelope, HandlerError, Outbox, RawMessage, UnitOfWork};
use tokio_util::sync::CancellationToken;

fn dlq(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .env_clear()
        .env("FLOTILLA_DATA_DIR", data_dir)
        .current_dir(data_dir)
        .arg("dlq")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Rejects every message until fixed.
#[derive(Default)]
struct Warehouse {
    fixed: AtomicBool,
    handled: AtomicUsize,
}

async fn handle(
    warehouse: &Warehouse,
    _: ProductDeletedV1,
    _: &Envelope,
    _: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    if !warehouse.fixed.load(Ordering::SeqCst) {
        return Err(HandlerError::Permanent("no warehouse knows this SKU".into()));
    }
    warehouse.handled.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

async fn until<F: AsyncFn() -> bool>(what: &str, condition: F) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !condition().await {
        assert!(Instant::now() < deadline, "{what} did not happen within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_show_replay_and_discard_a_real_dead_letter() {
    let dir = tempfile::tempdir().unwrap();
    let migrated = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .env_clear()
        .env("FLOTILLA_DATA_DIR", dir.path())
        .args(["migrate", "catalog"])
        .output()
        .unwrap();
    stdout(&migrated);
    assert_eq!(stdout(&dlq(dir.path(), &["list"])).trim(), "no dead letters");

    let config = Config::defaults().unwrap().set("data_dir", dir.path()).unwrap();
    let db = Database::connect("catalog", &config.settings.database, dir.path()).await.unwrap();
    let bus = flotilla_messaging::service::connect(&BusSettings::default(), dir.path(), "test").await.unwrap();
    let handler = Arc::new(Warehouse::default());
    let consumer = Consumer::new("catalog", "dlq-test").on_with(handler.clone(), handle);
    let retry = RetryPolicy { max_attempts: 3, base: Duration::from_millis(50), max: Duration::from_millis(100) };
    let stopping = CancellationToken::new();
    let runtime = ConsumerRuntime::new(consumer, db.clone(), Outbox::new("catalog"), retry, Duration::from_secs(5));
    let running = tokio::spawn(runtime.run(bus.clone(), stopping.clone()));

    let publish = async |sku: &str| {
        let event = ProductDeletedV1 { product_id: uuid::Uuid::now_v7(), version: 1, sku: sku.into() };
        let envelope = Envelope::new("catalog", &event).unwrap();
        let message = RawMessage {
            id: envelope.id.to_string(),
            address: ProductDeletedV1::TYPE.into(),
            headers: envelope.headers(),
            payload: envelope.data,
        };
        bus.publish(&[message]).await.unwrap();
    };
    let dead_letter_count = async || dead_letters::list(&db, None, 10).await.unwrap().len();

    publish("KIT-404").await;
    until("a dead letter", async || dead_letter_count().await == 1).await;
    let letter = dead_letters::list(&db, None, 10).await.unwrap().remove(0);
    let id = letter.id.to_string();

    let listed = stdout(&dlq(dir.path(), &["list"]));
    assert!(listed.contains(&id) && listed.contains("catalog.dlq-test") && listed.contains("rejected"), "{listed}");
    assert!(listed.contains("no warehouse knows this SKU"), "{listed}");
    let shown: serde_json::Value = serde_json::from_str(&stdout(&dlq(dir.path(), &["show", &id]))).unwrap();
    assert_eq!(shown["message_type"], ProductDeletedV1::TYPE);
    assert_eq!(shown["payload"]["sku"], "KIT-404");
    assert_eq!(shown["headers"]["ce-id"], letter.message_id);

    let missing = dlq(dir.path(), &["show", &uuid::Uuid::now_v7().to_string()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no dead letter"));
    assert_eq!(dlq(dir.path(), &["replay"]).status.code(), Some(2), "a selection is required");
    assert_eq!(dlq(dir.path(), &["list", "--consumer", "nosuch.consumer"]).status.code(), Some(1));

    // The cause is fixed; the operator replays; the running consumer handles it and the letter goes.
    handler.fixed.store(true, Ordering::SeqCst);
    assert!(stdout(&dlq(dir.path(), &["replay", &id])).contains("replay requested for 1"));
    until("the replay", async || dead_letter_count().await == 0).await;
    assert_eq!(handler.handled.load(Ordering::SeqCst), 1);

    handler.fixed.store(false, Ordering::SeqCst);
    publish("KIT-405").await;
    until("a second dead letter", async || dead_letter_count().await == 1).await;
    assert!(stdout(&dlq(dir.path(), &["discard", "--consumer", "catalog.dlq-test"])).contains("discarded 1"));
    assert_eq!(stdout(&dlq(dir.path(), &["list"])).trim(), "no dead letters");

    stopping.cancel();
    running.await.unwrap();
}
