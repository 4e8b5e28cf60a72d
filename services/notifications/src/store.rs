//! The notifications service's SQL, and only its own. Portable across SQLite and PostgreSQL.
//!
//! A delivery is claimed by a conditional update (`... WHERE status = 'pending' AND
//! next_attempt_at <= now`) that moves `next_attempt_at` to the end of the claim: of two replicas
//! that saw the same due row, exactly one updates it, and a sender that dies mid-send leaves a
//! row that comes due again when its claim runs out. Outcomes are recorded only by the claim's
//! holder (`attempts` still what it claimed).

use flotilla_chassis::db::{Database, timestamp, timestamp_at};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, FromRow, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::notification::{Draft, Milestone, Status};

/// The columns of a `Notification`, for `concat!` (queries are literals, never formatted).
macro_rules! notification_columns {
    () => {
        "id, order_id, milestone, customer_id, recipient, subject, body, message_id, status, attempts, \
         next_attempt_at, last_error, sent_at, created_at"
    };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: Uuid,
    pub order_id: Uuid,
    pub milestone: Milestone,
    pub customer_id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub message_id: String,
    pub status: Status,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    pub last_error: Option<String>,
    pub sent_at: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
}

/// Records `draft` as a pending notification due now, unless its order and milestone has one;
/// true when it was new.
pub async fn insert(
    conn: &mut AnyConnection,
    draft: &Draft,
    message_id: &str,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(concat!(
        "INSERT INTO notifications (id, order_id, milestone, customer_id, recipient, subject, body, message_id, ",
        "status, attempts, next_attempt_at, created_at, updated_at) ",
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9, $9) ",
        "ON CONFLICT (order_id, milestone) DO NOTHING"
    ))
    .bind(Uuid::now_v7().to_string())
    .bind(draft.order_id.to_string())
    .bind(draft.milestone.as_str())
    .bind(&draft.customer_id)
    .bind(&draft.recipient)
    .bind(&draft.subject)
    .bind(&draft.body)
    .bind(message_id)
    .bind(timestamp(now))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// An order's notifications, in the order they were recorded.
pub async fn for_order(pool: &AnyPool, order_id: Uuid) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        notification_columns!(),
        " FROM notifications WHERE order_id = $1 ORDER BY created_at, id"
    ))
    .bind(order_id.to_string())
    .fetch_all(pool)
    .await
}

/// Pending notifications due at `now`, the longest waiting first.
pub async fn due(pool: &AnyPool, now: OffsetDateTime, limit: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    let ids: Vec<String> = sqlx::query_scalar(concat!(
        "SELECT id FROM notifications WHERE status = 'pending' AND next_attempt_at <= $1 ",
        "ORDER BY next_attempt_at, id LIMIT $2"
    ))
    .bind(timestamp(now))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    ids.iter().map(|id| Uuid::parse_str(id).map_err(|e| sqlx::Error::Decode(Box::new(e)))).collect()
}

/// When the next pending notification comes due, if any is pending.
pub async fn next_due(pool: &AnyPool) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    let next: Option<String> =
        sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM notifications WHERE status = 'pending'")
            .fetch_one(pool)
            .await?;
    next.map(|text| flotilla_chassis::db::parse_timestamp(&text).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()
}

/// Claims `id` for one attempt until `until`, counting the attempt; `None` when it is not due
/// any more (sent, given up on, or claimed by another sender since it was listed).
pub async fn claim(
    pool: &AnyPool,
    id: Uuid,
    now: OffsetDateTime,
    until: OffsetDateTime,
) -> Result<Option<Notification>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = $3, updated_at = $2 ",
        "WHERE id = $1 AND status = 'pending' AND next_attempt_at <= $2 RETURNING ",
        notification_columns!()
    ))
    .bind(id.to_string())
    .bind(timestamp(now))
    .bind(timestamp(until))
    .fetch_optional(pool)
    .await
}

/// The relay accepted the claimed attempt.
pub async fn mark_sent(pool: &AnyPool, claimed: &Notification, now: OffsetDateTime) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(concat!(
        "UPDATE notifications SET status = 'sent', sent_at = $3, last_error = NULL, updated_at = $3 ",
        "WHERE id = $1 AND status = 'pending' AND attempts = $2"
    ))
    .bind(claimed.id.to_string())
    .bind(i64::from(claimed.attempts))
    .bind(timestamp(now))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The claimed attempt failed; try again at `at`.
pub async fn mark_retry(
    pool: &AnyPool,
    claimed: &Notification,
    at: OffsetDateTime,
    error: &str,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(concat!(
        "UPDATE notifications SET next_attempt_at = $3, last_error = $4, updated_at = $5 ",
        "WHERE id = $1 AND status = 'pending' AND attempts = $2"
    ))
    .bind(claimed.id.to_string())
    .bind(i64::from(claimed.attempts))
    .bind(timestamp(at))
    .bind(error)
    .bind(timestamp(now))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The claimed attempt failed and was the last.
pub async fn mark_failed(
    pool: &AnyPool,
    claimed: &Notification,
    error: &str,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(concat!(
        "UPDATE notifications SET status = 'failed', last_error = $3, updated_at = $4 ",
        "WHERE id = $1 AND status = 'pending' AND attempts = $2"
    ))
    .bind(claimed.id.to_string())
    .bind(i64::from(claimed.attempts))
    .bind(error)
    .bind(timestamp(now))
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A row of `notifications`; ids and times are TEXT in the portable schema.
impl FromRow<'_, AnyRow> for Notification {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let decode = |e: String| sqlx::Error::Decode(e.into());
        let milestone: String = row.try_get("milestone")?;
        let status: String = row.try_get("status")?;
        let attempts: i64 = row.try_get("attempts")?;
        let sent_at: Option<String> = row.try_get("sent_at")?;
        Ok(Self {
            id: uuid_at(row, "id")?,
            order_id: uuid_at(row, "order_id")?,
            milestone: Milestone::parse(&milestone).ok_or_else(|| decode(format!("milestone {milestone}")))?,
            customer_id: row.try_get("customer_id")?,
            recipient: row.try_get("recipient")?,
            subject: row.try_get("subject")?,
            body: row.try_get("body")?,
            message_id: row.try_get("message_id")?,
            status: Status::parse(&status).ok_or_else(|| decode(format!("status {status}")))?,
            attempts: u32::try_from(attempts).map_err(|e| decode(e.to_string()))?,
            next_attempt_at: timestamp_at(row, "next_attempt_at")?,
            last_error: row.try_get("last_error")?,
            sent_at: sent_at
                .map(|t| flotilla_chassis::db::parse_timestamp(&t).map_err(|e| decode(e.to_string())))
                .transpose()?,
            created_at: timestamp_at(row, "created_at")?,
        })
    }
}

fn uuid_at(row: &AnyRow, column: &str) -> Result<Uuid, sqlx::Error> {
    let text: String = row.try_get(column)?;
    Uuid::parse_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A message the sink received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkMessage {
    pub id: Uuid,
    pub from: String,
    pub to: Vec<String>,
    pub subject: Option<String>,
    pub message_id: Option<String>,
    pub body: String,
    pub size_bytes: i64,
    pub received_at: OffsetDateTime,
}

/// Keeps `message`, and of all kept only the newest `keep`.
pub async fn insert_sink_message(db: &Database, message: &SinkMessage, keep: u32) -> Result<(), sqlx::Error> {
    // A write transaction from the start (BEGIN IMMEDIATE on SQLite): a read upgraded to a write
    // could fail against the consumers' and the worker's writes.
    let mut tx = db.begin_write().await?;
    sqlx::query(concat!(
        "INSERT INTO sink_messages (id, mail_from, rcpt_to, subject, message_id, body, size_bytes, received_at) ",
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(message.id.to_string())
    .bind(&message.from)
    .bind(message.to.join("\n"))
    .bind(message.subject.as_deref())
    .bind(message.message_id.as_deref())
    .bind(&message.body)
    .bind(message.size_bytes)
    .bind(timestamp(message.received_at))
    .execute(&mut *tx)
    .await?;
    // UUIDv7 ids sort by arrival.
    sqlx::query("DELETE FROM sink_messages WHERE id NOT IN (SELECT id FROM sink_messages ORDER BY id DESC LIMIT $1)")
        .bind(i64::from(keep))
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// What the sink keeps, oldest first.
pub async fn sink_messages(pool: &AnyPool) -> Result<Vec<SinkMessage>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT id, mail_from, rcpt_to, subject, message_id, body, size_bytes, received_at ",
        "FROM sink_messages ORDER BY id"
    ))
    .fetch_all(pool)
    .await
}

impl FromRow<'_, AnyRow> for SinkMessage {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let to: String = row.try_get("rcpt_to")?;
        Ok(Self {
            id: uuid_at(row, "id")?,
            from: row.try_get("mail_from")?,
            to: to.lines().map(str::to_owned).collect(),
            subject: row.try_get("subject")?,
            message_id: row.try_get("message_id")?,
            body: row.try_get("body")?,
            size_bytes: row.try_get("size_bytes")?,
            received_at: timestamp_at(row, "received_at")?,
        })
    }
}

/// Every notification, for `flotilla check`.
pub async fn audit(pool: &AnyPool) -> Result<Vec<Notification>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", notification_columns!(), " FROM notifications ORDER BY order_id, milestone"))
        .fetch_all(pool)
        .await
}
