//! The embedded bus: a durable log in one SQLite file (`<data_dir>/bus.db`), for `flotilla run`.
//!
//! An append-only `messages` table is the stream; each consumer has a position in it and a row
//! per delivery in flight (lease, attempt count, when it may be delivered again). Appends and
//! claims are transactions with `synchronous = FULL`, so whatever `publish` returned survives
//! `kill -9` and power loss. All services of one process share one log and wake each other
//! directly; other processes on the same file are seen by polling.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use tokio::sync::Notify;

use crate::bus::{Acknowledge, BoxFuture, Bus, BusError, ConsumerSpec, Delivery, RawMessage, Settle, Subscription};
use crate::clock::{millis, now_ms};
use crate::envelope::{Headers, context_of};

// `messages.message_type` holds the message's address (its type, or `<type>.to.<service>` for one
// addressed to a service): the name predates addressed messages and logs already exist with it.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    stream TEXT NOT NULL,
    message_type TEXT NOT NULL,
    headers TEXT NOT NULL,
    payload BLOB NOT NULL,
    stored_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS consumers (
    name TEXT PRIMARY KEY,
    next_seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    consumer TEXT NOT NULL,
    seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    available_at INTEGER NOT NULL,
    lease_until INTEGER,
    PRIMARY KEY (consumer, seq)
);
";

/// How the log waits and locks; from `bus.embedded` settings.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedOptions {
    /// How often a waiting consumer looks for work it was not woken for (other processes,
    /// redeliveries coming due).
    pub poll_interval: Duration,
    pub busy_timeout: Duration,
}

/// The log in one file. Cheap to clone; clones share the pool and the wake-up signal.
#[derive(Clone)]
pub struct EmbeddedBus {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlitePool,
    appended: Notify,
    options: EmbeddedOptions,
    path: PathBuf,
}

impl EmbeddedBus {
    /// Opens (creating if needed) the log at `path`. Opening the same file twice in one process
    /// returns the same log, so that services run together wake each other.
    pub async fn open(path: &Path, options: EmbeddedOptions) -> Result<Self, BusError> {
        static OPEN: Mutex<Vec<(PathBuf, Weak<Inner>)>> = Mutex::new(Vec::new());
        let key = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        if let Some(inner) = OPEN
            .lock()
            .map_err(|_| unavailable("the log registry is poisoned"))?
            .iter()
            .find(|(open, _)| *open == key)
            .and_then(|(_, inner)| inner.upgrade())
        {
            return Ok(Self { inner });
        }
        if let Some(dir) = key.parent() {
            std::fs::create_dir_all(dir).map_err(|e| unavailable(&format!("{}: {e}", dir.display())))?;
        }
        let connect = SqliteConnectOptions::new()
            .filename(&key)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(options.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(options.busy_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| unavailable(&format!("cannot open the event log {}: {e}", key.display())))?;
        sqlx::raw_sql(SCHEMA).execute(&pool).await.map_err(sql_error)?;
        let inner = Arc::new(Inner { pool, appended: Notify::new(), options, path: key.clone() });
        let mut open = OPEN.lock().map_err(|_| unavailable("the log registry is poisoned"))?;
        open.retain(|(_, inner)| inner.strong_count() > 0);
        open.push((key, Arc::downgrade(&inner)));
        Ok(Self { inner })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }
}

fn unavailable(message: &str) -> BusError {
    BusError::Unavailable(message.to_owned())
}

fn sql_error(error: sqlx::Error) -> BusError {
    BusError::Unavailable(format!("event log: {error}"))
}

impl Bus for EmbeddedBus {
    fn system(&self) -> &'static str {
        "flotilla_embedded"
    }

    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn publish<'a>(&'a self, messages: &'a [RawMessage]) -> BoxFuture<'a, Result<(), BusError>> {
        Box::pin(async move {
            if messages.is_empty() {
                return Ok(());
            }
            let mut tx = self.inner.pool.begin_with("BEGIN IMMEDIATE").await.map_err(sql_error)?;
            let stored_at = now_ms();
            for message in messages {
                let headers = serde_json::to_string(&message.headers).map_err(|e| BusError::Rejected(e.to_string()))?;
                sqlx::query(
                    "INSERT INTO messages (message_id, stream, message_type, headers, payload, stored_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (message_id) DO NOTHING",
                )
                .bind(&message.id)
                .bind(context_of(&message.address))
                .bind(&message.address)
                .bind(headers)
                .bind(&message.payload)
                .bind(stored_at)
                .execute(&mut *tx)
                .await
                .map_err(sql_error)?;
            }
            tx.commit().await.map_err(sql_error)?;
            self.inner.appended.notify_waiters();
            Ok(())
        })
    }

    fn subscribe<'a>(&'a self, spec: &'a ConsumerSpec) -> BoxFuture<'a, Result<Box<dyn Subscription>, BusError>> {
        Box::pin(async move {
            if spec.addresses.is_empty() {
                return Err(BusError::Rejected(format!("consumer {} subscribes to no message type", spec.name)));
            }
            // A new consumer starts at the beginning of the log, as a JetStream durable does.
            sqlx::query("INSERT INTO consumers (name, next_seq) VALUES (?1, 1) ON CONFLICT (name) DO NOTHING")
                .bind(&spec.name)
                .execute(&self.inner.pool)
                .await
                .map_err(sql_error)?;
            let subscription: Box<dyn Subscription> =
                Box::new(EmbeddedSubscription { bus: self.clone(), spec: spec.clone() });
            Ok(subscription)
        })
    }

    fn check(&self) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.inner.pool).await.map_err(sql_error)?;
            Ok(())
        })
    }

    fn backlog<'a>(&'a self, spec: &'a ConsumerSpec) -> BoxFuture<'a, Result<u64, BusError>> {
        Box::pin(async move {
            let mut query = QueryBuilder::<Sqlite>::new("SELECT (SELECT COUNT(*) FROM deliveries WHERE consumer = ");
            query.push_bind(&spec.name).push(") + (SELECT COUNT(*) FROM messages WHERE seq >= COALESCE((SELECT next_seq FROM consumers WHERE name = ");
            query.push_bind(&spec.name).push("), 1) AND message_type IN (");
            let mut addresses = query.separated(", ");
            for address in &spec.addresses {
                addresses.push_bind(address);
            }
            query.push("))");
            let count: i64 = query.build_query_scalar().fetch_one(&self.inner.pool).await.map_err(sql_error)?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
    }
}

struct EmbeddedSubscription {
    bus: EmbeddedBus,
    spec: ConsumerSpec,
}

impl Subscription for EmbeddedSubscription {
    fn next_batch(&mut self, max: usize, wait: Duration) -> BoxFuture<'_, Result<Vec<Delivery>, BusError>> {
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + wait;
            loop {
                // Registered before looking, so that an append between the look and the wait
                // still wakes us.
                let appended = self.bus.inner.appended.notified();
                tokio::pin!(appended);
                appended.as_mut().enable();
                let batch = self.claim(max).await?;
                let now = tokio::time::Instant::now();
                if !batch.is_empty() || now >= deadline {
                    return Ok(batch);
                }
                let nap = (deadline - now).min(self.bus.inner.options.poll_interval);
                let _ = tokio::time::timeout(nap, appended).await;
            }
        })
    }
}

impl EmbeddedSubscription {
    /// In one transaction: take back deliveries that are due again (retries, expired leases),
    /// then new messages past the consumer's position; lease them all.
    async fn claim(&self, max: usize) -> Result<Vec<Delivery>, BusError> {
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let name = &self.spec.name;
        let now = now_ms();
        let lease_until = now.saturating_add(millis(self.spec.ack_wait));
        let mut tx = self.bus.inner.pool.begin_with("BEGIN IMMEDIATE").await.map_err(sql_error)?;

        let due: Vec<(i64, i64)> = sqlx::query(
            "SELECT seq, attempts FROM deliveries WHERE consumer = ?1 AND available_at <= ?2 \
             AND (lease_until IS NULL OR lease_until <= ?2) ORDER BY seq LIMIT ?3",
        )
        .bind(name)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await
        .map_err(sql_error)?
        .iter()
        .map(|row| (row.get(0), row.get::<i64, _>(1) + 1))
        .collect();
        for (seq, _) in &due {
            sqlx::query(
                "UPDATE deliveries SET attempts = attempts + 1, lease_until = ?3 WHERE consumer = ?1 AND seq = ?2",
            )
            .bind(name)
            .bind(seq)
            .bind(lease_until)
            .execute(&mut *tx)
            .await
            .map_err(sql_error)?;
        }

        let mut claimed = due;
        let room = limit - i64::try_from(claimed.len()).unwrap_or(0);
        if room > 0 {
            let next_seq: i64 = sqlx::query_scalar("SELECT next_seq FROM consumers WHERE name = ?1")
                .bind(name)
                .fetch_one(&mut *tx)
                .await
                .map_err(sql_error)?;
            let mut query = QueryBuilder::<Sqlite>::new("SELECT seq FROM messages WHERE seq >= ");
            query.push_bind(next_seq).push(" AND message_type IN (");
            let mut types = query.separated(", ");
            for address in &self.spec.addresses {
                types.push_bind(address);
            }
            query.push(") ORDER BY seq LIMIT ").push_bind(room);
            let fresh: Vec<i64> = query.build_query_scalar().fetch_all(&mut *tx).await.map_err(sql_error)?;
            // Past the last match, or past everything when the log holds fewer matches than asked:
            // messages of other types are skipped once, not scanned again.
            let new_position = match fresh.last() {
                Some(last) if fresh.len() as i64 == room => last + 1,
                _ => {
                    let end: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM messages")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(sql_error)?;
                    end.map_or(next_seq, |end| (end + 1).max(next_seq))
                }
            };
            for seq in &fresh {
                sqlx::query(
                    "INSERT INTO deliveries (consumer, seq, attempts, available_at, lease_until) VALUES (?1, ?2, 1, ?3, ?4)",
                )
                .bind(name)
                .bind(seq)
                .bind(now)
                .bind(lease_until)
                .execute(&mut *tx)
                .await
                .map_err(sql_error)?;
            }
            sqlx::query("UPDATE consumers SET next_seq = ?2 WHERE name = ?1")
                .bind(name)
                .bind(new_position)
                .execute(&mut *tx)
                .await
                .map_err(sql_error)?;
            claimed.extend(fresh.into_iter().map(|seq| (seq, 1)));
        }

        let mut deliveries = Vec::with_capacity(claimed.len());
        for (seq, attempt) in claimed {
            let row = sqlx::query("SELECT message_id, message_type, headers, payload FROM messages WHERE seq = ?1")
                .bind(seq)
                .fetch_one(&mut *tx)
                .await
                .map_err(sql_error)?;
            let headers: String = row.get(2);
            deliveries.push(Delivery {
                message: RawMessage {
                    id: row.get(0),
                    address: row.get(1),
                    // Written by `publish` from a map, so it reads back; an empty map would only
                    // send the message to dead letters as undecodable, never lose it.
                    headers: serde_json::from_str::<Headers>(&headers).unwrap_or_default(),
                    payload: row.get(3),
                },
                attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
                acknowledger: Box::new(EmbeddedAck { bus: self.bus.clone(), consumer: name.clone(), seq }),
            });
        }
        tx.commit().await.map_err(sql_error)?;
        Ok(deliveries)
    }
}

struct EmbeddedAck {
    bus: EmbeddedBus,
    consumer: String,
    seq: i64,
}

impl Acknowledge for EmbeddedAck {
    fn settle(&self, outcome: Settle) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            let pool = &self.bus.inner.pool;
            match outcome {
                Settle::Ack => sqlx::query("DELETE FROM deliveries WHERE consumer = ?1 AND seq = ?2")
                    .bind(&self.consumer)
                    .bind(self.seq)
                    .execute(pool)
                    .await
                    .map_err(sql_error)?,
                Settle::Retry(delay) => sqlx::query(
                    "UPDATE deliveries SET available_at = ?3, lease_until = NULL WHERE consumer = ?1 AND seq = ?2",
                )
                .bind(&self.consumer)
                .bind(self.seq)
                .bind(now_ms().saturating_add(millis(delay)))
                .execute(pool)
                .await
                .map_err(sql_error)?,
            };
            Ok(())
        })
    }
}
