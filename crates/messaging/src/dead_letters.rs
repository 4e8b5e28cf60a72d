//! Dead letters: messages a consumer gave up on, kept whole in the consumer's own database with
//! why and when, until an operator replays or discards them (`flotilla dlq`, the admin API).
//!
//! Replay is a request recorded on the row; the consumer that owns it picks it up, runs the
//! message through the same handler and inbox (same message id), and removes the row when it
//! succeeds, or records the new error and leaves it dead.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use flotilla_chassis::db::{Database, timestamp};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::bus::RawMessage;
use crate::envelope::{Headers, address_of};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// Not a CloudEvent of ours, not JSON, an unknown type, or a payload that breaks the schema.
    Undecodable,
    /// The handler said it will never accept this message.
    Rejected,
    /// Still failing after `bus.max_attempts` deliveries.
    Exhausted,
}

impl DeadLetterReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Undecodable => "undecodable",
            Self::Rejected => "rejected",
            Self::Exhausted => "exhausted",
        }
    }
}

/// One failed attempt.
#[derive(Debug, Clone)]
pub struct Failure {
    pub error: String,
    pub at: OffsetDateTime,
}

impl Failure {
    pub fn new(error: impl Into<String>) -> Self {
        // Errors end up in tables and logs; keep them bounded.
        let mut error: String = error.into();
        if error.len() > 2000 {
            let mut cut = 2000;
            while !error.is_char_boundary(cut) {
                cut -= 1;
            }
            error.truncate(cut);
        }
        Self { error, at: OffsetDateTime::now_utc() }
    }
}

/// A dead letter as operators see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0193a1f4-5b7c-7d2e-9f10-3a4b5c6d7e8f",
    "consumer": "basket.catalog-prices",
    "message_id": "0193a1f4-2a10-7c3d-8e4f-5a6b7c8d9e0f",
    "message_type": "flotilla.catalog.product-updated.v1",
    "reason": "exhausted",
    "attempts": 5,
    "first_error": "database is locked",
    "last_error": "database is locked",
    "first_failed_at": "2026-12-01T19:47:46Z",
    "last_failed_at": "2026-12-01T19:48:16Z",
    "state": "dead",
    "replays": 0,
    "headers": {
        "ce-id": "0193a1f4-2a10-7c3d-8e4f-5a6b7c8d9e0f", "ce-source": "/flotilla/catalog",
        "ce-type": "flotilla.catalog.product-updated.v1", "ce-specversion": "1.0",
        "content-type": "application/json"
    },
    "payload": {"product_id": "0193a1f3-9d2e-7f40-a1b2-c3d4e5f60718", "sku": "KIT-0001"},
    "payload_encoding": "json"
}))]
pub struct DeadLetter {
    /// The dead letter's own id, for replaying or discarding it.
    pub id: Uuid,
    /// The consumer that gave up on it (`<service>.<consumer>`).
    pub consumer: String,
    /// The message's id (CloudEvents `id`); a replay keeps it, so duplicates stay detectable.
    pub message_id: String,
    /// The message's CloudEvents `type`.
    pub message_type: String,
    /// `undecodable`, `rejected` or `exhausted`.
    pub reason: String,
    /// How many times the consumer tried it.
    pub attempts: i64,
    /// What went wrong the first time.
    pub first_error: String,
    /// What went wrong the last time.
    pub last_error: String,
    /// When it first failed (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub first_failed_at: String,
    /// When it last failed (RFC 3339, UTC).
    #[schema(format = DateTime)]
    pub last_failed_at: String,
    /// `dead`, or `replay-requested` until the consumer has tried it again.
    pub state: String,
    /// How many times an operator asked for it to be replayed.
    pub replays: i64,
    /// The message's CloudEvents attributes as they travelled.
    #[schema(value_type = HashMap<String, String>)]
    pub headers: Headers,
    /// The body: JSON when it is JSON, else the text, else base64 (see `payload_encoding`).
    pub payload: serde_json::Value,
    /// `json`, `text` or `base64`.
    pub payload_encoding: &'static str,
}

/// Which dead letters an operator means.
#[derive(Debug, Clone)]
pub enum Selector {
    One(Uuid),
    Consumer(String),
    All,
}

pub(crate) async fn record_failure(
    db: &Database,
    consumer: &str,
    message_id: &str,
    failure: &Failure,
) -> Result<(), sqlx::Error> {
    let at = timestamp(failure.at);
    sqlx::query(
        "INSERT INTO consumer_failures (consumer, message_id, attempts, first_error, first_failed_at, last_error, last_failed_at) \
         VALUES ($1, $2, 1, $3, $4, $3, $4) \
         ON CONFLICT (consumer, message_id) DO UPDATE SET attempts = consumer_failures.attempts + 1, \
         last_error = excluded.last_error, last_failed_at = excluded.last_failed_at",
    )
    .bind(consumer)
    .bind(message_id)
    .bind(&failure.error)
    .bind(at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Moves a message to dead letters, taking its first error from the recorded failed attempts.
pub(crate) async fn bury(
    db: &Database,
    consumer: &str,
    message: &RawMessage,
    reason: DeadLetterReason,
    last: &Failure,
    attempts: u32,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    let mut tx = db.begin_write().await?;
    let earlier = sqlx::query(
        "SELECT first_error, first_failed_at FROM consumer_failures WHERE consumer = $1 AND message_id = $2",
    )
    .bind(consumer)
    .bind(&message.id)
    .fetch_optional(&mut *tx)
    .await?;
    let last_at = timestamp(last.at);
    let (first_error, first_at) = match earlier {
        Some(row) => (row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?),
        None => (last.error.clone(), last_at.clone()),
    };
    let headers = serde_json::to_string(&message.headers).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query(
        "INSERT INTO dead_letters (id, consumer, message_id, message_type, headers, payload_base64, reason, attempts, \
         first_error, last_error, first_failed_at, last_failed_at, state, replays) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'dead', 0)",
    )
    .bind(id.to_string())
    .bind(consumer)
    .bind(&message.id)
    .bind(message.headers.get("ce-type").unwrap_or(&message.address))
    .bind(headers)
    .bind(BASE64.encode(&message.payload))
    .bind(reason.as_str())
    .bind(i64::from(attempts))
    .bind(first_error)
    .bind(&last.error)
    .bind(first_at)
    .bind(last_at)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM consumer_failures WHERE consumer = $1 AND message_id = $2")
        .bind(consumer)
        .bind(&message.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(id)
}

/// A dead letter whose replay was requested, with its message as it arrived.
pub(crate) struct ReplayRequest {
    pub id: String,
    pub message: RawMessage,
}

pub(crate) async fn take_replay_requests(db: &Database, consumer: &str) -> Result<Vec<ReplayRequest>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, message_id, message_type, headers, payload_base64 FROM dead_letters \
         WHERE consumer = $1 AND state = 'replay-requested' ORDER BY id LIMIT 100",
    )
    .bind(consumer)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let headers: String = row.try_get("headers")?;
            let headers: Headers = serde_json::from_str(&headers).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            let payload: String = row.try_get("payload_base64")?;
            let message_type: String = row.try_get("message_type")?;
            Ok(ReplayRequest {
                id: row.try_get("id")?,
                message: RawMessage {
                    id: row.try_get("message_id")?,
                    address: address_of(&headers).unwrap_or(message_type),
                    headers,
                    payload: BASE64.decode(payload).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                },
            })
        })
        .collect()
}

pub(crate) async fn replayed(db: &Database, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM dead_letters WHERE id = $1").bind(id).execute(db.pool()).await?;
    Ok(())
}

pub(crate) async fn replay_failed(db: &Database, id: &str, error: &str) -> Result<(), sqlx::Error> {
    let failure = Failure::new(error);
    sqlx::query(
        "UPDATE dead_letters SET state = 'dead', attempts = attempts + 1, replays = replays + 1, \
         last_error = $2, last_failed_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(&failure.error)
    .bind(timestamp(failure.at))
    .execute(db.pool())
    .await?;
    Ok(())
}

const COLUMNS: &str = "id, consumer, message_id, message_type, headers, payload_base64, reason, attempts, \
    first_error, last_error, first_failed_at, last_failed_at, state, replays";

/// Dead letters, oldest first, optionally of one consumer.
pub async fn list(db: &Database, consumer: Option<&str>, limit: i64) -> Result<Vec<DeadLetter>, sqlx::Error> {
    let rows = match consumer {
        Some(consumer) => {
            sqlx::query(AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM dead_letters WHERE consumer = $1 ORDER BY id LIMIT $2"
            )))
            .bind(consumer.to_owned())
            .bind(limit)
            .fetch_all(db.pool())
            .await?
        }
        None => {
            sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM dead_letters ORDER BY id LIMIT $1")))
                .bind(limit)
                .fetch_all(db.pool())
                .await?
        }
    };
    rows.iter().map(dead_letter_from_row).collect()
}

pub async fn get(db: &Database, id: Uuid) -> Result<Option<DeadLetter>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM dead_letters WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(dead_letter_from_row).transpose()
}

/// How many dead letters each consumer holds (those waiting for a replay included), for the
/// consumers that hold any.
pub async fn count_by_consumer(db: &Database) -> Result<HashMap<String, i64>, sqlx::Error> {
    let rows = sqlx::query("SELECT consumer, COUNT(*) AS held FROM dead_letters GROUP BY consumer")
        .fetch_all(db.pool())
        .await?;
    rows.iter().map(|row| Ok((row.try_get("consumer")?, row.try_get("held")?))).collect()
}

/// Asks the owning consumers to try the selected dead letters again; returns how many.
pub async fn request_replay(db: &Database, selector: &Selector) -> Result<u64, sqlx::Error> {
    let update = "UPDATE dead_letters SET state = 'replay-requested' WHERE state = 'dead'";
    execute_selected(db, update, selector).await
}

/// Deletes the selected dead letters for good; returns how many.
pub async fn discard(db: &Database, selector: &Selector) -> Result<u64, sqlx::Error> {
    execute_selected(db, "DELETE FROM dead_letters WHERE 1 = 1", selector).await
}

async fn execute_selected(db: &Database, statement: &str, selector: &Selector) -> Result<u64, sqlx::Error> {
    let done = match selector {
        Selector::One(id) => {
            sqlx::query(AssertSqlSafe(format!("{statement} AND id = $1")))
                .bind(id.to_string())
                .execute(db.pool())
                .await?
        }
        Selector::Consumer(consumer) => {
            sqlx::query(AssertSqlSafe(format!("{statement} AND consumer = $1")))
                .bind(consumer.clone())
                .execute(db.pool())
                .await?
        }
        Selector::All => sqlx::query(AssertSqlSafe(statement.to_owned())).execute(db.pool()).await?,
    };
    Ok(done.rows_affected())
}

fn dead_letter_from_row(row: &AnyRow) -> Result<DeadLetter, sqlx::Error> {
    let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
    let id: String = row.try_get("id")?;
    let headers: String = row.try_get("headers")?;
    let payload: String = row.try_get("payload_base64")?;
    let bytes = BASE64.decode(&payload).map_err(|e| decode(Box::new(e)))?;
    let (payload, payload_encoding) = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(json) => (json, "json"),
        Err(_) => match String::from_utf8(bytes) {
            Ok(text) => (serde_json::Value::String(text), "text"),
            Err(_) => (serde_json::Value::String(payload), "base64"),
        },
    };
    Ok(DeadLetter {
        id: Uuid::parse_str(&id).map_err(|e| decode(Box::new(e)))?,
        consumer: row.try_get("consumer")?,
        message_id: row.try_get("message_id")?,
        message_type: row.try_get("message_type")?,
        reason: row.try_get("reason")?,
        attempts: row.try_get("attempts")?,
        first_error: row.try_get("first_error")?,
        last_error: row.try_get("last_error")?,
        first_failed_at: row.try_get("first_failed_at")?,
        last_failed_at: row.try_get("last_failed_at")?,
        state: row.try_get("state")?,
        replays: row.try_get("replays")?,
        headers: serde_json::from_str(&headers).map_err(|e| decode(Box::new(e)))?,
        payload,
        payload_encoding,
    })
}
