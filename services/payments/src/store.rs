//! The payments service's SQL, and only its own. Portable across SQLite and PostgreSQL.

use flotilla_chassis::db::{timestamp, timestamp_at};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, FromRow, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::payment::{Kind, State};

macro_rules! payment_columns {
    () => {
        "order_id, payment_id, customer_id, amount_minor, currency, state, intent_id, detail, captured_minor, \
         refunded_minor, created_at, updated_at"
    };
}

macro_rules! operation_columns {
    () => {
        "id, order_id, kind, attempts, uncertain, command_headers, command_payload"
    };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub order_id: Uuid,
    pub payment_id: Uuid,
    pub customer_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub state: State,
    pub intent_id: Option<String>,
    /// The decline code or failure reason.
    pub detail: Option<String>,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

pub async fn insert(conn: &mut AnyConnection, payment: &Payment) -> Result<(), sqlx::Error> {
    sqlx::query(concat!(
        "INSERT INTO payments (",
        payment_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
    ))
    .bind(payment.order_id.to_string())
    .bind(payment.payment_id.to_string())
    .bind(&payment.customer_id)
    .bind(payment.amount_minor)
    .bind(&payment.currency)
    .bind(payment.state.as_str())
    .bind(payment.intent_id.as_deref())
    .bind(payment.detail.as_deref())
    .bind(payment.captured_minor)
    .bind(payment.refunded_minor)
    .bind(timestamp(payment.created_at))
    .bind(timestamp(payment.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes what the provider's answer changed.
pub async fn update(conn: &mut AnyConnection, payment: &Payment) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payments SET state = $2, intent_id = $3, detail = $4, captured_minor = $5, refunded_minor = $6, \
         updated_at = $7 WHERE order_id = $1",
    )
    .bind(payment.order_id.to_string())
    .bind(payment.state.as_str())
    .bind(payment.intent_id.as_deref())
    .bind(payment.detail.as_deref())
    .bind(payment.captured_minor)
    .bind(payment.refunded_minor)
    .bind(timestamp(payment.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn payment(conn: &mut AnyConnection, order_id: Uuid) -> Result<Option<Payment>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", payment_columns!(), " FROM payments WHERE order_id = $1"))
        .bind(order_id.to_string())
        .fetch_optional(conn)
        .await
}

pub async fn get(pool: &AnyPool, order_id: Uuid) -> Result<Option<Payment>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", payment_columns!(), " FROM payments WHERE order_id = $1"))
        .bind(order_id.to_string())
        .fetch_optional(pool)
        .await
}

/// A command waiting for the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub id: Uuid,
    pub order_id: Uuid,
    pub kind: Kind,
    pub attempts: u32,
    pub uncertain: bool,
    pub command_headers: String,
    pub command_payload: String,
}

/// Whether the order has operations still waiting.
pub async fn busy(conn: &mut AnyConnection, order_id: Uuid) -> Result<bool, sqlx::Error> {
    let pending: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM payment_operations WHERE order_id = $1 AND state = 'pending' LIMIT 1")
            .bind(order_id.to_string())
            .fetch_optional(conn)
            .await?;
    Ok(pending.is_some())
}

pub async fn queue(conn: &mut AnyConnection, operation: &Operation, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payment_operations (id, order_id, kind, state, attempts, uncertain, next_attempt_ms, \
         command_headers, command_payload, created_at, updated_at) VALUES ($1, $2, $3, 'pending', 0, 0, 0, $4, $5, $6, $6)",
    )
    .bind(operation.id.to_string())
    .bind(operation.order_id.to_string())
    .bind(operation.kind.as_str())
    .bind(&operation.command_headers)
    .bind(&operation.command_payload)
    .bind(timestamp(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Operations due at `now_ms`, each the first still waiting of its order (an order's run one at
/// a time, in arrival order; ids are UUIDv7, so their order is arrival order).
pub async fn due(pool: &AnyPool, now_ms: i64, limit: u32) -> Result<Vec<Operation>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        operation_columns!(),
        " FROM payment_operations o WHERE o.state = 'pending' AND o.next_attempt_ms <= $1 \
         AND NOT EXISTS (SELECT 1 FROM payment_operations p WHERE p.order_id = o.order_id AND p.state = 'pending' AND p.id < o.id) \
         ORDER BY o.next_attempt_ms LIMIT $2"
    ))
    .bind(now_ms)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
}

/// The earliest time any operation waits for, in Unix milliseconds.
pub async fn next_due_ms(pool: &AnyPool) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT MIN(next_attempt_ms) FROM payment_operations WHERE state = 'pending'")
        .fetch_one(pool)
        .await
}

/// Marks the operation done and wipes the command it carried (an authorization's holds the card
/// number); false when another worker finished it first.
pub async fn finish(conn: &mut AnyConnection, id: Uuid, now: OffsetDateTime) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE payment_operations SET state = 'done', command_payload = '{}', updated_at = $2 \
         WHERE id = $1 AND state = 'pending'",
    )
    .bind(id.to_string())
    .bind(timestamp(now))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failed attempt and when to try again.
pub async fn retry_later(
    pool: &AnyPool,
    id: Uuid,
    uncertain: bool,
    next_attempt_ms: i64,
    error: &str,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_operations SET attempts = attempts + 1, uncertain = $2, next_attempt_ms = $3, last_error = $4, \
         updated_at = $5 WHERE id = $1 AND state = 'pending'",
    )
    .bind(id.to_string())
    .bind(i64::from(uncertain))
    .bind(next_attempt_ms)
    .bind(error)
    .bind(timestamp(now))
    .execute(pool)
    .await?;
    Ok(())
}

impl FromRow<'_, AnyRow> for Payment {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
        let uuid = |column: &str| -> Result<Uuid, sqlx::Error> {
            let text: String = row.try_get(column)?;
            Uuid::parse_str(&text).map_err(|e| decode(Box::new(e)))
        };
        let state: String = row.try_get("state")?;
        Ok(Self {
            order_id: uuid("order_id")?,
            payment_id: uuid("payment_id")?,
            customer_id: row.try_get("customer_id")?,
            amount_minor: row.try_get("amount_minor")?,
            currency: row.try_get("currency")?,
            state: State::parse(&state).ok_or_else(|| decode(format!("unknown payment state {state}").into()))?,
            intent_id: row.try_get("intent_id")?,
            detail: row.try_get("detail")?,
            captured_minor: row.try_get("captured_minor")?,
            refunded_minor: row.try_get("refunded_minor")?,
            created_at: timestamp_at(row, "created_at")?,
            updated_at: timestamp_at(row, "updated_at")?,
        })
    }
}

impl FromRow<'_, AnyRow> for Operation {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
        let uuid = |column: &str| -> Result<Uuid, sqlx::Error> {
            let text: String = row.try_get(column)?;
            Uuid::parse_str(&text).map_err(|e| decode(Box::new(e)))
        };
        let kind: String = row.try_get("kind")?;
        let attempts: i64 = row.try_get("attempts")?;
        let uncertain: i64 = row.try_get("uncertain")?;
        Ok(Self {
            id: uuid("id")?,
            order_id: uuid("order_id")?,
            kind: Kind::parse(&kind).ok_or_else(|| decode(format!("unknown operation {kind}").into()))?,
            attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            uncertain: uncertain != 0,
            command_headers: row.try_get("command_headers")?,
            command_payload: row.try_get("command_payload")?,
        })
    }
}

/// Every payment, for `flotilla check`.
pub async fn audit(pool: &AnyPool) -> Result<Vec<Payment>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", payment_columns!(), " FROM payments ORDER BY order_id")).fetch_all(pool).await
}
