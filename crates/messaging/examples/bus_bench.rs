//! Measures the bus against raw baselines in the same run, and prints ratios:
//!
//! - relay throughput: a pre-filled outbox drained to the bus, against raw publishing of as many
//!   messages (JetStream: async-nats, same server and stream settings, the same batch size; embedded:
//!   raw SQLite inserts into a file with the log's settings, the same batch per transaction);
//! - commit-to-consume latency at a steady rate: outbox commit to handler start, against raw
//!   JetStream publish-to-receive, or a raw single-row SQLite insert and commit.
//!
//! `cargo run --release -p flotilla-messaging --example bus_bench -- embedded|nats [messages] [rate]`
//! (nats starts its own nats-server and uses PostgreSQL as the service database; see
//! scripts/bench-bus.sh).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla_chassis::db::{Database, MigrationFile};
use flotilla_contracts::catalog::{Money, ProductDeletedV1, ProductPriceChangedV1};
use flotilla_messaging::consumer::{ConsumerRuntime, RetryPolicy};
use flotilla_messaging::relay::Relay;
use flotilla_messaging::settings::BusSettings;
use flotilla_messaging::{Consumer, Envelope, HandlerError, Outbox, UnitOfWork};
use flotilla_testkit::{Backend, NatsServer, TestDatabase};
use hdrhistogram::Histogram;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

const MIGRATIONS: &[MigrationFile] = &[flotilla_messaging::outbox::migration(1)];
const BATCH: usize = 256;

/// Records commit-to-consume latency.
async fn record_lag(
    lags: &Mutex<Histogram<u64>>,
    _: ProductPriceChangedV1,
    envelope: &Envelope,
    _: &mut UnitOfWork,
) -> Result<(), HandlerError> {
    let lag = OffsetDateTime::now_utc() - envelope.time;
    let micros = u64::try_from(lag.whole_microseconds()).unwrap_or(0).max(1);
    lags.lock().unwrap().record(micros).unwrap();
    Ok(())
}

fn event(n: usize) -> ProductDeletedV1 {
    ProductDeletedV1 { product_id: uuid::Uuid::now_v7(), version: n as i64, sku: format!("SKU-{n:06}") }
}

/// The latency phase uses another type than the throughput backlog, so its consumer starts
/// with nothing to catch up on.
fn price_changed(n: usize) -> ProductPriceChangedV1 {
    let price = |amount_minor| Money { amount_minor, currency: "EUR".into() };
    ProductPriceChangedV1 {
        product_id: uuid::Uuid::now_v7(),
        version: n as i64,
        previous_price: price(100),
        price: price(90),
    }
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()
}

fn ms(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backend = args.get(1).map_or("embedded", String::as_str).to_owned();
    let messages: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let rate: u64 = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(200);
    let nats = (backend == "nats").then(NatsServer::start);
    let database = TestDatabase::new(if nats.is_some() { Backend::Postgres } else { Backend::Sqlite }).await;
    let mut config = database.config().set("bus.relay_batch", BATCH).unwrap();
    if let Some(nats) = &nats {
        config = config.set("bus.backend", "nats").and_then(|c| c.set("bus.nats.url", nats.url())).unwrap();
    }
    let settings = BusSettings::from_config(&config).unwrap();
    let data_dir = config.settings.data_dir.clone();
    let db = Database::connect("bench", &config.settings.database, &data_dir).await.unwrap();
    db.migrate("bench", MIGRATIONS).await.unwrap();
    let bus = flotilla_messaging::service::connect(&settings, &data_dir, "bench").await.unwrap();

    // Raw baseline throughput.
    let raw_started = Instant::now();
    match &nats {
        Some(nats) => raw_jetstream_publish(&nats.url(), messages).await,
        None => raw_sqlite_inserts(&data_dir.join("raw.db"), messages).await,
    }
    let raw_rate = messages as f64 / raw_started.elapsed().as_secs_f64();

    // Relay throughput: fill the outbox (not timed), then drain it.
    let outbox = Outbox::new("bench");
    let mut work = UnitOfWork::begin(&db, &outbox).await.unwrap();
    for n in 0..messages {
        work.publish(&event(n)).await.unwrap();
    }
    work.commit().await.unwrap();
    let stopping = CancellationToken::new();
    let relay = Relay::new("bench", db.clone(), bus.clone(), settings.relay_options(), &outbox);
    let relay_started = Instant::now();
    tokio::spawn(relay.run(stopping.clone()));
    loop {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(db.pool()).await.unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let relay_rate = messages as f64 / relay_started.elapsed().as_secs_f64();

    // Commit-to-consume latency at a steady rate.
    let lags = Arc::new(Mutex::new(histogram()));
    let consumer = Consumer::new("bench", "lag").on_with(lags.clone(), record_lag);
    let retry = RetryPolicy { max_attempts: 5, base: Duration::from_millis(100), max: Duration::from_secs(1) };
    let runtime = ConsumerRuntime::new(consumer, db.clone(), outbox.clone(), retry, Duration::from_secs(30));
    tokio::spawn(runtime.run(bus.clone(), stopping.clone()));
    let samples = (rate * 10) as usize;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    for n in 0..samples {
        tick.tick().await;
        let mut work = UnitOfWork::begin(&db, &outbox).await.unwrap();
        work.publish(&price_changed(n)).await.unwrap();
        work.commit().await.unwrap();
    }
    while lags.lock().unwrap().len() < samples as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ours = lags.lock().unwrap().clone();
    let raw = match &nats {
        Some(nats) => raw_jetstream_latency(&nats.url(), samples, rate).await,
        None => raw_sqlite_commit_latency(&data_dir.join("raw.db"), samples, rate).await,
    };
    stopping.cancel();

    let baseline = if nats.is_some() { "raw JetStream" } else { "raw SQLite" };
    println!("backend: {backend}; {messages} messages, batch {BATCH}; latency at {rate}/s for 10 s");
    println!("| measure | flotilla | {baseline} | ratio |");
    println!("|---|---|---|---|");
    println!("| throughput (msg/s) | {relay_rate:.0} | {raw_rate:.0} | {:.2} |", relay_rate / raw_rate);
    for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
        let (a, b) = (ms(ours.value_at_quantile(q)), ms(raw.value_at_quantile(q)));
        println!("| latency {name} (ms) | {a:.2} | {b:.2} | {:.2} |", a / b);
    }
}

async fn raw_jetstream_publish(url: &str, messages: usize) {
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: "RAW".into(),
        subjects: vec!["raw.>".into()],
        storage: async_nats::jetstream::stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .unwrap();
    let payload = serde_json::to_vec(&event(0)).unwrap();
    for chunk in (0..messages).collect::<Vec<_>>().chunks(BATCH) {
        let mut acks = Vec::with_capacity(chunk.len());
        for _ in chunk {
            let publish = async_nats::jetstream::message::PublishMessage::build()
                .payload(payload.clone().into())
                .message_id(uuid::Uuid::now_v7().to_string());
            acks.push(js.send_publish("raw.bench", publish).await.unwrap());
        }
        for ack in acks {
            ack.await.unwrap();
        }
    }
}

async fn raw_jetstream_latency(url: &str, samples: usize, rate: u64) -> Histogram<u64> {
    use futures_util::StreamExt;
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream("RAW").await.unwrap();
    let consumer: async_nats::jetstream::consumer::PullConsumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("latency".into()),
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::New,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let received = tokio::spawn(async move {
        let mut histogram = histogram();
        for _ in 0..samples {
            let message = messages.next().await.unwrap().unwrap();
            let sent: i128 = String::from_utf8_lossy(&message.payload).parse().unwrap();
            let micros = (OffsetDateTime::now_utc().unix_timestamp_nanos() - sent) / 1000;
            histogram.record(u64::try_from(micros).unwrap_or(0).max(1)).unwrap();
            message.ack().await.unwrap();
        }
        histogram
    });
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    for _ in 0..samples {
        tick.tick().await;
        let sent = OffsetDateTime::now_utc().unix_timestamp_nanos().to_string();
        js.publish("raw.latency", sent.into()).await.unwrap().await.unwrap();
    }
    received.await.unwrap()
}

async fn raw_sqlite_pool(path: &std::path::Path) -> sqlx::SqlitePool {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let pool = SqlitePoolOptions::new().max_connections(1).connect_with(options).await.unwrap();
    sqlx::raw_sql("CREATE TABLE IF NOT EXISTS raw (seq INTEGER PRIMARY KEY, id TEXT UNIQUE, payload BLOB)")
        .execute(&pool)
        .await
        .unwrap();
    pool
}

async fn raw_sqlite_inserts(path: &std::path::Path, messages: usize) {
    let pool = raw_sqlite_pool(path).await;
    let payload = serde_json::to_vec(&event(0)).unwrap();
    for chunk in (0..messages).collect::<Vec<_>>().chunks(BATCH) {
        let mut tx = pool.begin().await.unwrap();
        for _ in chunk {
            sqlx::query("INSERT INTO raw (id, payload) VALUES (?1, ?2)")
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(&payload)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
}

async fn raw_sqlite_commit_latency(path: &std::path::Path, samples: usize, rate: u64) -> Histogram<u64> {
    let pool = raw_sqlite_pool(path).await;
    let payload = serde_json::to_vec(&event(0)).unwrap();
    let mut histogram = histogram();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    for _ in 0..samples {
        tick.tick().await;
        let started = Instant::now();
        sqlx::query("INSERT INTO raw (id, payload) VALUES (?1, ?2)")
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&payload)
            .execute(&pool)
            .await
            .unwrap();
        histogram.record(u64::try_from(started.elapsed().as_micros()).unwrap_or(0).max(1)).unwrap();
    }
    histogram
}
