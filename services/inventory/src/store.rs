//! The inventory service's SQL, and only its own. Portable across SQLite and PostgreSQL.
//!
//! Counts change only through conditional statements (`... WHERE available >= $2`): the row's
//! lock, not an earlier read, decides whether units are free, so concurrent reservations of the
//! last units cannot both succeed. The table's CHECKs back that up.

use flotilla_chassis::db::{timestamp, timestamp_at};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, FromRow, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::reservation::{Line, State};

/// The columns of a `StockItem`, for `concat!` (queries are literals, never formatted).
macro_rules! item_columns {
    () => {
        "sku, product_id, available, reserved, committed, received, discontinued, version, updated_at"
    };
}

/// One SKU's counts: `available + reserved + committed = received`, always.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockItem {
    pub sku: String,
    pub product_id: Option<Uuid>,
    pub available: i64,
    pub reserved: i64,
    pub committed: i64,
    pub received: i64,
    pub discontinued: bool,
    pub version: i64,
    pub updated_at: OffsetDateTime,
}

/// Stock for a SKU the catalog just created: a new row with `initial` units, or a discontinued
/// SKU sold again under a new product. Nothing changes for a SKU already sold (a redelivered
/// event). True when the SKU is newly stocked.
pub async fn add_item(
    conn: &mut AnyConnection,
    sku: &str,
    product_id: Uuid,
    initial: i64,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    if let Some(existing) = item(conn, sku).await? {
        if existing.discontinued && existing.product_id != Some(product_id) {
            sqlx::query(
                "UPDATE stock_items SET product_id = $2, discontinued = 0, version = version + 1, updated_at = $3 \
                 WHERE sku = $1",
            )
            .bind(sku)
            .bind(product_id.to_string())
            .bind(timestamp(now))
            .execute(conn)
            .await?;
        }
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO stock_items (sku, product_id, available, reserved, committed, received, discontinued, version, updated_at) \
         VALUES ($1, $2, $3, 0, 0, $3, 0, 1, $4)",
    )
    .bind(sku)
    .bind(product_id.to_string())
    .bind(initial)
    .bind(timestamp(now))
    .execute(&mut *conn)
    .await?;
    if initial > 0 {
        record_movement(conn, sku, initial, "initial stock", "catalog", now).await?;
    }
    Ok(true)
}

/// The product is gone from the catalogue: its stock can no longer be reserved.
pub async fn discontinue(conn: &mut AnyConnection, product_id: Uuid, now: OffsetDateTime) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE stock_items SET discontinued = 1, version = version + 1, updated_at = $2 \
         WHERE product_id = $1 AND discontinued = 0",
    )
    .bind(product_id.to_string())
    .bind(timestamp(now))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

pub async fn item(conn: &mut AnyConnection, sku: &str) -> Result<Option<StockItem>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", item_columns!(), " FROM stock_items WHERE sku = $1"))
        .bind(sku)
        .fetch_optional(conn)
        .await
}

pub async fn get_item(pool: &AnyPool, sku: &str) -> Result<Option<StockItem>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", item_columns!(), " FROM stock_items WHERE sku = $1"))
        .bind(sku)
        .fetch_optional(pool)
        .await
}

/// A page of SKUs in SKU order, after `after`.
pub async fn list_items(pool: &AnyPool, after: Option<&str>, limit: u32) -> Result<Vec<StockItem>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", item_columns!(), " FROM stock_items WHERE sku > $1 ORDER BY sku LIMIT $2"))
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
}

/// Adds `delta` to the free and the received count, unless that would leave fewer than zero
/// free; `None` when the SKU is unknown or the units are not free.
pub async fn change_received(
    conn: &mut AnyConnection,
    sku: &str,
    delta: i64,
    now: OffsetDateTime,
) -> Result<Option<StockItem>, sqlx::Error> {
    sqlx::query_as(concat!(
        "UPDATE stock_items SET available = available + $2, received = received + $2, version = version + 1, \
         updated_at = $3 WHERE sku = $1 AND available + $2 >= 0 RETURNING ",
        item_columns!()
    ))
    .bind(sku)
    .bind(delta)
    .bind(timestamp(now))
    .fetch_optional(conn)
    .await
}

pub async fn record_movement(
    conn: &mut AnyConnection,
    sku: &str,
    delta: i64,
    reason: &str,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO stock_movements (id, sku, delta, reason, actor, at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(Uuid::now_v7().to_string())
        .bind(sku)
        .bind(delta)
        .bind(reason)
        .bind(actor)
        .bind(timestamp(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// How a reservation moves units of one SKU between the counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    /// Free to held, only if that many are free and the SKU is still sold.
    Hold,
    /// Held back to free.
    Release,
    /// Held to sold.
    Sell,
    /// Sold back to free.
    Return,
}

impl Move {
    fn sql(self) -> &'static str {
        match self {
            Self::Hold => {
                "UPDATE stock_items SET available = available - $2, reserved = reserved + $2, version = version + 1, \
                 updated_at = $3 WHERE sku = $1 AND available >= $2 AND discontinued = 0"
            }
            Self::Release => {
                "UPDATE stock_items SET available = available + $2, reserved = reserved - $2, version = version + 1, \
                 updated_at = $3 WHERE sku = $1 AND reserved >= $2"
            }
            Self::Sell => {
                "UPDATE stock_items SET committed = committed + $2, reserved = reserved - $2, version = version + 1, \
                 updated_at = $3 WHERE sku = $1 AND reserved >= $2"
            }
            Self::Return => {
                "UPDATE stock_items SET available = available + $2, committed = committed - $2, version = version + 1, \
                 updated_at = $3 WHERE sku = $1 AND committed >= $2"
            }
        }
    }
}

/// Moves `line`'s units; false when the counts do not allow it (for `Hold`: not free).
pub async fn move_units(
    conn: &mut AnyConnection,
    line: &Line,
    how: Move,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(how.sql())
        .bind(&line.sku)
        .bind(i64::from(line.quantity))
        .bind(timestamp(now))
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Units of `sku` free now; 0 for a SKU inventory does not stock or no longer sells.
pub async fn free_units(conn: &mut AnyConnection, sku: &str) -> Result<i64, sqlx::Error> {
    let free: Option<i64> = sqlx::query_scalar("SELECT available FROM stock_items WHERE sku = $1 AND discontinued = 0")
        .bind(sku)
        .fetch_optional(conn)
        .await?;
    Ok(free.unwrap_or(0))
}

/// An order's reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub order_id: Uuid,
    pub state: State,
    pub expires_at: Option<OffsetDateTime>,
    /// For a refused one: the shortages, as the JSON of the reply.
    pub shortages: Option<String>,
    pub lines: Vec<Line>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// Records a new reservation with its lines.
pub async fn insert_reservation(conn: &mut AnyConnection, reservation: &Reservation) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO reservations (order_id, state, expires_at, shortages, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(reservation.order_id.to_string())
    .bind(reservation.state.as_str())
    .bind(reservation.expires_at.map(timestamp))
    .bind(reservation.shortages.as_deref())
    .bind(timestamp(reservation.created_at))
    .bind(timestamp(reservation.updated_at))
    .execute(&mut *conn)
    .await?;
    for line in &reservation.lines {
        sqlx::query("INSERT INTO reservation_lines (order_id, sku, quantity) VALUES ($1, $2, $3)")
            .bind(reservation.order_id.to_string())
            .bind(&line.sku)
            .bind(i64::from(line.quantity))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn set_state(
    conn: &mut AnyConnection,
    order_id: Uuid,
    state: State,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE reservations SET state = $2, updated_at = $3 WHERE order_id = $1")
        .bind(order_id.to_string())
        .bind(state.as_str())
        .bind(timestamp(now))
        .execute(conn)
        .await?;
    Ok(())
}

/// The order's reservation with its lines, read in the caller's transaction.
pub async fn reservation(conn: &mut AnyConnection, order_id: Uuid) -> Result<Option<Reservation>, sqlx::Error> {
    let header: Option<ReservationRow> = sqlx::query_as(
        "SELECT order_id, state, expires_at, shortages, created_at, updated_at FROM reservations WHERE order_id = $1",
    )
    .bind(order_id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(ReservationRow(mut reservation)) = header else { return Ok(None) };
    let lines: Vec<(String, i64)> =
        sqlx::query_as("SELECT sku, quantity FROM reservation_lines WHERE order_id = $1 ORDER BY sku")
            .bind(order_id.to_string())
            .fetch_all(conn)
            .await?;
    reservation.lines = lines
        .into_iter()
        .map(|(sku, quantity)| {
            Ok(Line { sku, quantity: u32::try_from(quantity).map_err(|e| sqlx::Error::Decode(Box::new(e)))? })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok(Some(reservation))
}

struct ReservationRow(Reservation);

impl FromRow<'_, AnyRow> for ReservationRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
        let order_id: String = row.try_get("order_id")?;
        let state: String = row.try_get("state")?;
        let expires_at: Option<String> = row.try_get("expires_at")?;
        Ok(Self(Reservation {
            order_id: Uuid::parse_str(&order_id).map_err(|e| decode(Box::new(e)))?,
            state: State::parse(&state).ok_or_else(|| decode(format!("unknown reservation state {state}").into()))?,
            expires_at: expires_at
                .map(|text| flotilla_chassis::db::parse_timestamp(&text))
                .transpose()
                .map_err(|e| decode(Box::new(e)))?,
            shortages: row.try_get("shortages")?,
            lines: Vec::new(),
            created_at: timestamp_at(row, "created_at")?,
            updated_at: timestamp_at(row, "updated_at")?,
        }))
    }
}

impl FromRow<'_, AnyRow> for StockItem {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let product_id: Option<String> = row.try_get("product_id")?;
        let discontinued: i64 = row.try_get("discontinued")?;
        Ok(Self {
            sku: row.try_get("sku")?,
            product_id: product_id
                .map(|id| Uuid::parse_str(&id))
                .transpose()
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            available: row.try_get("available")?,
            reserved: row.try_get("reserved")?,
            committed: row.try_get("committed")?,
            received: row.try_get("received")?,
            discontinued: discontinued != 0,
            version: row.try_get("version")?,
            updated_at: timestamp_at(row, "updated_at")?,
        })
    }
}

/// A SKU's counts beside what its records say they must be, for `flotilla check`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockAudit {
    pub sku: String,
    pub available: i64,
    pub reserved: i64,
    pub committed: i64,
    pub received: i64,
    /// The sum of the SKU's receipts and adjustments.
    pub moved: i64,
    /// Units the held reservations hold...
    pub held: i64,
    /// ...and the committed ones.
    pub sold: i64,
}

pub async fn audit(pool: &AnyPool) -> Result<Vec<StockAudit>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT s.sku, s.available, s.reserved, s.committed, s.received, \
         (SELECT CAST(COALESCE(SUM(m.delta), 0) AS BIGINT) FROM stock_movements m WHERE m.sku = s.sku) AS moved, \
         (SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM reservation_lines l \
            JOIN reservations r ON r.order_id = l.order_id WHERE l.sku = s.sku AND r.state = 'held') AS held, \
         (SELECT CAST(COALESCE(SUM(l.quantity), 0) AS BIGINT) FROM reservation_lines l \
            JOIN reservations r ON r.order_id = l.order_id WHERE l.sku = s.sku AND r.state = 'committed') AS sold \
         FROM stock_items s ORDER BY s.sku",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(StockAudit {
                sku: row.try_get("sku")?,
                available: row.try_get("available")?,
                reserved: row.try_get("reserved")?,
                committed: row.try_get("committed")?,
                received: row.try_get("received")?,
                moved: row.try_get("moved")?,
                held: row.try_get("held")?,
                sold: row.try_get("sold")?,
            })
        })
        .collect()
}
