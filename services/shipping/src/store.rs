//! The shipping service's SQL, and only its own. Portable across SQLite and PostgreSQL.
//!
//! A status changes only through a conditional statement (`... WHERE status = $from`): the row's
//! lock, not an earlier read, decides whether the move still applies, so a cancellation and the
//! carrier's step handled at once cannot both win.

use flotilla_chassis::db::{Sql, timestamp, timestamp_at};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::shipment::{Standing, Status};

/// The columns of a shipment row, for `concat!` (queries are literals, never formatted).
macro_rules! shipment_columns {
    () => {
        "order_id, shipment_id, status, customer_id, carrier, tracking_number, ship_to_name, ship_to_line1, \
         ship_to_line2, ship_to_city, ship_to_postal_code, ship_to_country, created_at, updated_at"
    };
}

/// Where a shipment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipTo {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipment {
    pub shipment_id: Uuid,
    pub order_id: Uuid,
    pub status: Status,
    /// The subject of the customer the order is for: who may track it.
    pub customer_id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub ship_to: ShipTo,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What is recorded for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Shipment(Box<Shipment>),
    /// Cancelled before it was confirmed here: it is never to be shipped.
    Tombstone,
}

impl Record {
    pub fn standing(record: Option<&Self>) -> Standing {
        match record {
            None => Standing::Unknown,
            Some(Self::Tombstone) => Standing::Barred,
            Some(Self::Shipment(shipment)) => Standing::Shipment(shipment.status),
        }
    }

    pub fn into_shipment(self) -> Option<Shipment> {
        match self {
            Self::Shipment(shipment) => Some(*shipment),
            Self::Tombstone => None,
        }
    }
}

/// One status a shipment entered, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingEvent {
    pub status: Status,
    pub at: OffsetDateTime,
}

/// What is recorded for `order_id`, read in the caller's transaction (or on a pooled connection).
pub async fn record(conn: &mut AnyConnection, order_id: Uuid) -> Result<Option<Record>, sqlx::Error> {
    let row: Option<RecordRow> =
        sqlx::query_as(concat!("SELECT ", shipment_columns!(), " FROM shipments WHERE order_id = $1"))
            .bind(order_id.to_string())
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|RecordRow(record)| record))
}

/// Whether some shipment has this tracking number already.
pub async fn tracking_number_taken(conn: &mut AnyConnection, tracking_number: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM shipments WHERE tracking_number = $1")
        .bind(tracking_number)
        .fetch_optional(conn)
        .await?;
    Ok(found.is_some())
}

/// Records a new shipment with the first entry of its history, unless something is recorded for
/// its order already (a tombstone or a shipment committed meanwhile); true when it was new.
pub async fn insert_shipment(conn: &mut AnyConnection, shipment: &Shipment) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(concat!(
        "INSERT INTO shipments (",
        shipment_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (order_id) DO NOTHING"
    ))
    .bind(shipment.order_id.to_string())
    .bind(shipment.shipment_id.to_string())
    .bind(shipment.status.as_str())
    .bind(&shipment.customer_id)
    .bind(&shipment.carrier)
    .bind(&shipment.tracking_number)
    .bind(&shipment.ship_to.name)
    .bind(&shipment.ship_to.line1)
    .bind(shipment.ship_to.line2.as_deref())
    .bind(&shipment.ship_to.city)
    .bind(&shipment.ship_to.postal_code)
    .bind(&shipment.ship_to.country)
    .bind(timestamp(shipment.created_at))
    .bind(timestamp(shipment.updated_at))
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    record_event(conn, shipment.shipment_id, shipment.status, shipment.created_at).await?;
    Ok(true)
}

/// Records that the order is cancelled before any shipment, unless something is recorded for it
/// already; true when the tombstone is new.
pub async fn insert_tombstone(
    conn: &mut AnyConnection,
    order_id: Uuid,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO shipments (order_id, status, created_at, updated_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id.to_string())
    .bind(Status::Cancelled.as_str())
    .bind(timestamp(now))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves the shipment from `from` to `to` and records it in its history, if it is still at
/// `from`; false when it is not (another message moved it first).
pub async fn move_status(
    conn: &mut AnyConnection,
    shipment_id: Uuid,
    from: Status,
    to: Status,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE shipments SET status = $3, updated_at = $4 WHERE shipment_id = $1 AND status = $2")
        .bind(shipment_id.to_string())
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(timestamp(now))
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    record_event(conn, shipment_id, to, now).await?;
    Ok(true)
}

async fn record_event(
    conn: &mut AnyConnection,
    shipment_id: Uuid,
    status: Status,
    at: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO tracking_events (shipment_id, status, step, at) VALUES ($1, $2, $3, $4)")
        .bind(shipment_id.to_string())
        .bind(status.as_str())
        .bind(status.step())
        .bind(timestamp(at))
        .execute(conn)
        .await?;
    Ok(())
}

/// The shipment's history, oldest first.
pub async fn history(conn: &mut AnyConnection, shipment_id: Uuid) -> Result<Vec<TrackingEvent>, sqlx::Error> {
    sqlx::query_as("SELECT status, at FROM tracking_events WHERE shipment_id = $1 ORDER BY step")
        .bind(shipment_id.to_string())
        .fetch_all(conn)
        .await
}

/// A page of shipments in id order (which is creation order: ids are UUIDv7), after `after`,
/// of `status` if given. Tombstones are not shipments and never listed.
pub async fn list(
    conn: &mut AnyConnection,
    status: Option<Status>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Shipment>, sqlx::Error> {
    let mut sql = Sql::new(concat!("SELECT ", shipment_columns!(), " FROM shipments WHERE shipment_id > "));
    sql.bind(after.map(|id| id.to_string()).unwrap_or_default());
    if let Some(status) = status {
        sql.push(" AND status = ").bind(status.as_str());
    }
    sql.push(" ORDER BY shipment_id LIMIT ").bind(i64::from(limit));
    let rows = sql.into_query().fetch_all(conn).await?;
    let records = rows.iter().map(RecordRow::from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(records.into_iter().filter_map(|RecordRow(record)| record.into_shipment()).collect())
}

struct RecordRow(Record);

impl FromRow<'_, AnyRow> for RecordRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let shipment_id: Option<String> = row.try_get("shipment_id")?;
        let Some(shipment_id) = shipment_id else { return Ok(Self(Record::Tombstone)) };
        let order_id: String = row.try_get("order_id")?;
        let status: String = row.try_get("status")?;
        let text = |column: &str| -> Result<String, sqlx::Error> {
            let value: Option<String> = row.try_get(column)?;
            value.ok_or_else(|| decode(format!("a shipment without {column}").into()))
        };
        Ok(Self(Record::Shipment(Box::new(Shipment {
            shipment_id: uuid(&shipment_id)?,
            order_id: uuid(&order_id)?,
            status: parse_status(&status)?,
            customer_id: text("customer_id")?,
            carrier: text("carrier")?,
            tracking_number: text("tracking_number")?,
            ship_to: ShipTo {
                name: text("ship_to_name")?,
                line1: text("ship_to_line1")?,
                line2: row.try_get("ship_to_line2")?,
                city: text("ship_to_city")?,
                postal_code: text("ship_to_postal_code")?,
                country: text("ship_to_country")?,
            },
            created_at: timestamp_at(row, "created_at")?,
            updated_at: timestamp_at(row, "updated_at")?,
        }))))
    }
}

impl FromRow<'_, AnyRow> for TrackingEvent {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let status: String = row.try_get("status")?;
        Ok(Self { status: parse_status(&status)?, at: timestamp_at(row, "at")? })
    }
}

fn decode(error: Box<dyn std::error::Error + Send + Sync>) -> sqlx::Error {
    sqlx::Error::Decode(error)
}

fn uuid(text: &str) -> Result<Uuid, sqlx::Error> {
    Uuid::parse_str(text).map_err(|e| decode(Box::new(e)))
}

fn parse_status(text: &str) -> Result<Status, sqlx::Error> {
    Status::parse(text).ok_or_else(|| decode(format!("unknown shipment status {text}").into()))
}
