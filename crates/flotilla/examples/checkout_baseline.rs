//! The baseline the checkout saga is measured against: the same business writes a checkout
//! makes (the order with its lines and timeline, the idempotency key, the reservation and its
//! stock held then sold, the payment authorized then captured, the basket emptied), as one
//! transaction per checkout, on the same PostgreSQL, from `--workers` connections for
//! `--seconds`. What a single-database monolith would do; the saga adds the outbox, inbox, bus,
//! timers and the calls to the processor on top.
//!
//! `cargo run --release --example checkout_baseline -- postgres://postgres@127.0.0.1:5432 16 10`
//! prints one JSON line: checkouts per second and per-checkout latency percentiles.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark reports setup failures by panicking

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection, Executor};

const SCHEMA: &[&str] = &[
    "CREATE TABLE orders (order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, status TEXT NOT NULL, \
     total_minor BIGINT NOT NULL, currency TEXT NOT NULL, lines TEXT NOT NULL, ship_to TEXT NOT NULL, \
     captured_minor BIGINT NOT NULL, version BIGINT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE order_timeline (order_id TEXT NOT NULL, seq BIGINT NOT NULL, at TEXT NOT NULL, status TEXT NOT NULL, \
     step TEXT NOT NULL, PRIMARY KEY (order_id, seq))",
    "CREATE TABLE idempotency_keys (scope TEXT NOT NULL, idempotency_key TEXT NOT NULL, fingerprint TEXT NOT NULL, \
     status BIGINT, body TEXT, created_at TEXT NOT NULL, PRIMARY KEY (scope, idempotency_key))",
    "CREATE TABLE stock_items (sku TEXT PRIMARY KEY, available BIGINT NOT NULL CHECK (available >= 0), \
     reserved BIGINT NOT NULL CHECK (reserved >= 0), committed BIGINT NOT NULL, version BIGINT NOT NULL)",
    "CREATE TABLE reservations (order_id TEXT PRIMARY KEY, state TEXT NOT NULL, created_at TEXT NOT NULL)",
    "CREATE TABLE reservation_lines (order_id TEXT NOT NULL, sku TEXT NOT NULL, quantity BIGINT NOT NULL, \
     PRIMARY KEY (order_id, sku))",
    "CREATE TABLE payments (order_id TEXT PRIMARY KEY, state TEXT NOT NULL, amount_minor BIGINT NOT NULL, \
     captured_minor BIGINT NOT NULL, intent_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE basket_lines (customer_id TEXT NOT NULL, product_id TEXT NOT NULL, quantity BIGINT NOT NULL, \
     PRIMARY KEY (customer_id, product_id))",
    "CREATE TABLE checkouts (order_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, at TEXT NOT NULL)",
];

const SKUS: usize = 120;

async fn checkout(pool: &AnyPool, worker: usize, n: u64) -> Result<(), sqlx::Error> {
    let order = uuid::Uuid::now_v7().to_string();
    let customer = format!("customer-{worker}");
    let sku = format!("SKU-{:04}", (n as usize * 7 + worker) % SKUS);
    let now = time::OffsetDateTime::now_utc().to_string();
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query(
        "INSERT INTO basket_lines (customer_id, product_id, quantity) VALUES ($1, $2, 1) ON CONFLICT DO NOTHING",
    )
    .bind(&customer)
    .bind(&sku)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO idempotency_keys (scope, idempotency_key, fingerprint, created_at) VALUES ($1, $2, 'f', $3)",
    )
    .bind(&customer)
    .bind(&order)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO orders (order_id, customer_id, status, total_minor, currency, lines, ship_to, captured_minor, version, \
         created_at, updated_at) VALUES ($1, $2, 'pending', 3499, 'EUR', '[]', '{}', 0, 1, $3, $3)",
    )
    .bind(&order)
    .bind(&customer)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    let held = sqlx::query(
        "UPDATE stock_items SET available = available - 1, reserved = reserved + 1, version = version + 1 \
         WHERE sku = $1 AND available >= 1",
    )
    .bind(&sku)
    .execute(&mut *tx)
    .await?;
    assert_eq!(held.rows_affected(), 1, "the baseline never runs out of stock");
    sqlx::query("INSERT INTO reservations (order_id, state, created_at) VALUES ($1, 'held', $2)")
        .bind(&order)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO reservation_lines (order_id, sku, quantity) VALUES ($1, $2, 1)")
        .bind(&order)
        .bind(&sku)
        .execute(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO payments (order_id, state, amount_minor, captured_minor, created_at, updated_at) VALUES ($1, 'authorized', 3499, 0, $2, $2)")
        .bind(&order)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE stock_items SET reserved = reserved - 1, committed = committed + 1, version = version + 1 WHERE sku = $1")
        .bind(&sku)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE reservations SET state = 'committed' WHERE order_id = $1")
        .bind(&order)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE payments SET state = 'captured', captured_minor = 3499, updated_at = $2 WHERE order_id = $1")
        .bind(&order)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    for (seq, status) in
        ["pending", "stock_reserved", "payment_authorized", "payment_authorized", "confirmed"].iter().enumerate()
    {
        sqlx::query("INSERT INTO order_timeline (order_id, seq, at, status, step) VALUES ($1, $2, $3, $4, 'step')")
            .bind(&order)
            .bind(seq as i64 + 1)
            .bind(&now)
            .bind(*status)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE orders SET status = 'confirmed', captured_minor = 3499, version = 6 WHERE order_id = $1")
        .bind(&order)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM basket_lines WHERE customer_id = $1").bind(&customer).execute(&mut *tx).await?;
    sqlx::query("INSERT INTO checkouts (order_id, customer_id, at) VALUES ($1, $2, $3)")
        .bind(&order)
        .bind(&customer)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

#[tokio::main]
async fn main() {
    sqlx::any::install_default_drivers();
    let mut args = std::env::args().skip(1);
    let server = args.next().unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".into());
    let workers: usize = args.next().map_or(16, |w| w.parse().expect("workers"));
    let seconds: u64 = args.next().map_or(10, |s| s.parse().expect("seconds"));
    let name = format!("checkout_baseline_{}", std::process::id());
    let admin =
        AnyPoolOptions::new().max_connections(1).connect(&format!("{server}/postgres")).await.expect("PostgreSQL");
    admin.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).await.expect("create the scratch database");
    let pool = AnyPoolOptions::new()
        .max_connections(u32::try_from(workers).expect("workers"))
        .connect(&format!("{server}/{name}"))
        .await
        .expect("the scratch database");
    for statement in SCHEMA {
        pool.execute(*statement).await.expect("schema");
    }
    for i in 0..SKUS {
        sqlx::query(
            "INSERT INTO stock_items (sku, available, reserved, committed, version) VALUES ($1, 100000000, 0, 0, 1)",
        )
        .bind(format!("SKU-{i:04}"))
        .execute(&pool)
        .await
        .expect("stock");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..workers {
        let (pool, stop) = (pool.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let began = Instant::now();
                checkout(&pool, worker, n).await.expect("a checkout");
                latencies.push(began.elapsed());
                n += 1;
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies: Vec<Duration> = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("worker"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let at =
        |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{{\"checkouts_per_s\": {:.1}, \"checkouts\": {}, \"workers\": {workers}, \"p50_ms\": {:.3}, \"p99_ms\": {:.3}}}",
        latencies.len() as f64 / elapsed,
        latencies.len(),
        at(0.5),
        at(0.99)
    );
    pool.close().await;
    admin
        .execute(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
        .await
        .expect("drop the scratch database");
}
