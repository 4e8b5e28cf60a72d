//! The simulator's SQL, and only its own. Portable across SQLite and PostgreSQL.

use flotilla_chassis::db::{timestamp, timestamp_at};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, FromRow, Row};
use time::OffsetDateTime;

use crate::domain::card::DeclineCode;
use crate::domain::intent::{Intent, Status};

/// A refund, which the simulator settles at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub payment_intent: String,
    pub amount: i64,
    pub created_at: OffsetDateTime,
}

/// `SELECT <the columns of an intent> <rest>`, as a literal, so that every query stays a static string.
macro_rules! select_intents {
    ($rest:literal) => {
        concat!(
            "SELECT id, status, amount, currency, amount_capturable, amount_captured, amount_refunded, reference, \
             last_error_code, created_at FROM payment_intents ",
            $rest
        )
    };
}

pub async fn insert_intent(conn: &mut AnyConnection, intent: &Intent) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO payment_intents (id, status, amount, currency, amount_capturable, amount_captured, \
         amount_refunded, reference, last_error_code, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(&intent.id)
    .bind(intent.status.as_str())
    .bind(intent.amount)
    .bind(&intent.currency)
    .bind(intent.amount_capturable)
    .bind(intent.amount_captured)
    .bind(intent.amount_refunded)
    .bind(&intent.reference)
    .bind(intent.last_error.map(DeclineCode::as_str))
    .bind(timestamp(intent.created_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// Reads an intent to change it, inside the caller's write transaction, so that two changes of
/// one intent happen one after the other. SQLite's write transaction already holds the database
/// lock; on PostgreSQL, a no-op UPDATE takes the row lock first (the portable spelling of
/// `SELECT ... FOR UPDATE`), and the SELECT after it sees what a competitor committed.
pub async fn lock_intent(conn: &mut AnyConnection, id: &str) -> Result<Option<Intent>, sqlx::Error> {
    let locked = sqlx::query("UPDATE payment_intents SET updated_at = updated_at WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if locked == 0 {
        return Ok(None);
    }
    sqlx::query_as(select_intents!("WHERE id = $1")).bind(id).fetch_optional(conn).await
}

/// Writes what an operation changed: the status and the amounts.
pub async fn update_intent(conn: &mut AnyConnection, intent: &Intent, now: OffsetDateTime) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE payment_intents SET status = $1, amount_capturable = $2, amount_captured = $3, \
         amount_refunded = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(intent.status.as_str())
    .bind(intent.amount_capturable)
    .bind(intent.amount_captured)
    .bind(intent.amount_refunded)
    .bind(timestamp(now))
    .bind(&intent.id)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_intent(pool: &AnyPool, id: &str) -> Result<Option<Intent>, sqlx::Error> {
    sqlx::query_as(select_intents!("WHERE id = $1")).bind(id).fetch_optional(pool).await
}

/// The oldest `limit` intents made for a merchant reference.
pub async fn intents_by_reference(pool: &AnyPool, reference: &str, limit: i64) -> Result<Vec<Intent>, sqlx::Error> {
    sqlx::query_as(select_intents!("WHERE reference = $1 ORDER BY created_at, id LIMIT $2"))
        .bind(reference)
        .bind(limit)
        .fetch_all(pool)
        .await
}

pub async fn insert_refund(conn: &mut AnyConnection, refund: &Refund) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO refunds (id, payment_intent, amount, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&refund.id)
        .bind(&refund.payment_intent)
        .bind(refund.amount)
        .bind(timestamp(refund.created_at))
        .execute(conn)
        .await?;
    Ok(())
}

/// The oldest `limit` refunds of an intent.
pub async fn refunds_of(pool: &AnyPool, payment_intent: &str, limit: i64) -> Result<Vec<Refund>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, payment_intent, amount, created_at FROM refunds WHERE payment_intent = $1 \
         ORDER BY created_at, id LIMIT $2",
    )
    .bind(payment_intent)
    .bind(limit)
    .fetch_all(pool)
    .await
}

fn decode_error(message: String) -> sqlx::Error {
    sqlx::Error::Decode(message.into())
}

/// A row of `payment_intents`; statuses and decline codes are TEXT in the portable schema.
impl FromRow<'_, AnyRow> for Intent {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let status: String = row.try_get("status")?;
        let last_error: Option<String> = row.try_get("last_error_code")?;
        let last_error = match last_error {
            None => None,
            Some(code) => {
                Some(DeclineCode::parse(&code).ok_or_else(|| decode_error(format!("unknown decline code {code}")))?)
            }
        };
        Ok(Self {
            id: row.try_get("id")?,
            status: Status::parse(&status).ok_or_else(|| decode_error(format!("unknown status {status}")))?,
            amount: row.try_get("amount")?,
            currency: row.try_get("currency")?,
            amount_capturable: row.try_get("amount_capturable")?,
            amount_captured: row.try_get("amount_captured")?,
            amount_refunded: row.try_get("amount_refunded")?,
            reference: row.try_get("reference")?,
            last_error,
            created_at: timestamp_at(row, "created_at")?,
        })
    }
}

impl FromRow<'_, AnyRow> for Refund {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.try_get("id")?,
            payment_intent: row.try_get("payment_intent")?,
            amount: row.try_get("amount")?,
            created_at: timestamp_at(row, "created_at")?,
        })
    }
}

/// Every intent, for `flotilla check` (which compares what the processor holds with what the
/// merchant's payments believe).
pub async fn audit(pool: &AnyPool) -> Result<Vec<Intent>, sqlx::Error> {
    sqlx::query_as(select_intents!("ORDER BY reference, created_at, id")).fetch_all(pool).await
}
