//! The ordering service's SQL, and only its own. Portable across SQLite and PostgreSQL.

use flotilla_chassis::db::{Sql, parse_timestamp, timestamp, timestamp_at};
use flotilla_contracts::ordering::{Address, OrderLine};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, FromRow, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::saga::{Ending, Phase, Reason, Saga, Status};

macro_rules! order_columns {
    () => {
        "order_id, customer_id, contact_email, status, phase, undo_stock, undo_payment, ending, reason, version, \
         total_minor, currency, lines, ship_to, payment_method, captured_minor, refunded_minor, carrier, \
         tracking_number, created_at, updated_at"
    };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub order_id: Uuid,
    pub customer_id: String,
    pub contact_email: String,
    pub saga: Saga,
    pub version: i64,
    pub total_minor: i64,
    pub currency: String,
    pub lines: Vec<OrderLine>,
    pub ship_to: Address,
    pub payment_method: Option<String>,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// The saga's columns: (ending, reason) as stored.
fn ending_columns(ending: Option<&Ending>) -> (Option<&'static str>, Option<&'static str>) {
    match ending {
        None => (None, None),
        Some(Ending::Cancelled) => (Some("cancelled"), None),
        Some(Ending::Rejected(reason)) => (Some("rejected"), Some(reason.as_str())),
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

pub async fn insert(conn: &mut AnyConnection, order: &Order) -> Result<(), sqlx::Error> {
    let (ending, reason) = ending_columns(order.saga.ending.as_ref());
    sqlx::query(concat!(
        "INSERT INTO orders (",
        order_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)"
    ))
    .bind(order.order_id.to_string())
    .bind(&order.customer_id)
    .bind(&order.contact_email)
    .bind(order.saga.status.as_str())
    .bind(order.saga.phase.as_str())
    .bind(i64::from(order.saga.undo_stock))
    .bind(i64::from(order.saga.undo_payment))
    .bind(ending)
    .bind(reason)
    .bind(order.version)
    .bind(order.total_minor)
    .bind(&order.currency)
    .bind(json(&order.lines)?)
    .bind(json(&order.ship_to)?)
    .bind(order.payment_method.as_deref())
    .bind(order.captured_minor)
    .bind(order.refunded_minor)
    .bind(order.carrier.as_deref())
    .bind(order.tracking_number.as_deref())
    .bind(timestamp(order.created_at))
    .bind(timestamp(order.updated_at))
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes the order's saga and what its steps learned, if nobody moved it since `expected`
/// (its version when read); false when someone did.
pub async fn update(conn: &mut AnyConnection, order: &Order, expected: i64) -> Result<bool, sqlx::Error> {
    let (ending, reason) = ending_columns(order.saga.ending.as_ref());
    let done = sqlx::query(
        "UPDATE orders SET status = $2, phase = $3, undo_stock = $4, undo_payment = $5, ending = $6, reason = $7, \
         version = $8, payment_method = $9, captured_minor = $10, refunded_minor = $11, carrier = $12, \
         tracking_number = $13, updated_at = $14 WHERE order_id = $1 AND version = $15",
    )
    .bind(order.order_id.to_string())
    .bind(order.saga.status.as_str())
    .bind(order.saga.phase.as_str())
    .bind(i64::from(order.saga.undo_stock))
    .bind(i64::from(order.saga.undo_payment))
    .bind(ending)
    .bind(reason)
    .bind(order.version)
    .bind(order.payment_method.as_deref())
    .bind(order.captured_minor)
    .bind(order.refunded_minor)
    .bind(order.carrier.as_deref())
    .bind(order.tracking_number.as_deref())
    .bind(timestamp(order.updated_at))
    .bind(expected)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn order(conn: &mut AnyConnection, order_id: Uuid) -> Result<Option<Order>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders WHERE order_id = $1"))
        .bind(order_id.to_string())
        .fetch_optional(conn)
        .await
}

pub async fn get(pool: &AnyPool, order_id: Uuid) -> Result<Option<Order>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", order_columns!(), " FROM orders WHERE order_id = $1"))
        .bind(order_id.to_string())
        .fetch_optional(pool)
        .await
}

/// A page of orders in id (creation) order after `after`, of one customer or of everyone.
pub async fn list(
    pool: &AnyPool,
    customer: Option<&str>,
    status: Option<Status>,
    after: Option<Uuid>,
    limit: u32,
) -> Result<Vec<Order>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        order_columns!(),
        " FROM orders WHERE ($1 = '' OR customer_id = $1) AND ($2 = '' OR status = $2) AND order_id > $3 \
         ORDER BY order_id LIMIT $4"
    ))
    .bind(customer.unwrap_or(""))
    .bind(status.map_or("", Status::as_str))
    .bind(after.map(|id| id.to_string()).unwrap_or_default())
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
}

/// One entry of an order's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: i64,
    pub at: OffsetDateTime,
    pub status: String,
    pub step: String,
    pub detail: Option<String>,
}

/// Adds entry `seq` to the order's timeline: the step taken at `at`, which left the order's saga
/// as `saga` (its public status and its phase).
pub async fn append(
    conn: &mut AnyConnection,
    order_id: Uuid,
    seq: i64,
    saga: &Saga,
    step: &str,
    detail: Option<&str>,
    at: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO order_timeline (order_id, seq, at, status, phase, step, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(order_id.to_string())
    .bind(seq)
    .bind(timestamp(at))
    .bind(saga.status.as_str())
    .bind(saga.phase.as_str())
    .bind(step)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// When the order last entered `phase`, its current one: the time of the first entry of the
/// latest run of timeline entries in it. `None` when that cannot be told, because an entry of
/// the run's start was written before entries recorded their phase.
pub async fn phase_entered_at(
    conn: &mut AnyConnection,
    order_id: Uuid,
    phase: Phase,
) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    let rows = sqlx::query("SELECT at, phase FROM order_timeline WHERE order_id = $1 ORDER BY seq DESC")
        .bind(order_id.to_string())
        .fetch_all(conn)
        .await?;
    let mut entered = None;
    for row in &rows {
        match row.try_get::<Option<String>, _>("phase")? {
            Some(recorded) if recorded == phase.as_str() => entered = Some(timestamp_at(row, "at")?),
            Some(_) => break,
            None => return Ok(None),
        }
    }
    Ok(entered)
}

/// When the oldest order whose saga has not ended was placed; `None` when every order has ended.
pub async fn oldest_open(pool: &AnyPool) -> Result<Option<OffsetDateTime>, sqlx::Error> {
    // By the open statuses, not "not ended", so that the status index reads only open orders.
    let mut sql = Sql::new("SELECT MIN(created_at) AS oldest FROM orders WHERE status IN (");
    sql.bind_list(Status::ALL.into_iter().filter(|s| !s.is_terminal()).map(Status::as_str)).push(")");
    let row = sql.into_query().fetch_one(pool).await?;
    row.try_get::<Option<String>, _>("oldest")?
        .map(|text| parse_timestamp(&text).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()
}

/// The order's timeline after entry `after`, in order.
pub async fn timeline(pool: &AnyPool, order_id: Uuid, after: i64) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT seq, at, status, step, detail FROM order_timeline WHERE order_id = $1 AND seq > $2 ORDER BY seq",
    )
    .bind(order_id.to_string())
    .bind(after)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Entry {
                seq: row.try_get("seq")?,
                at: timestamp_at(row, "at")?,
                status: row.try_get("status")?,
                step: row.try_get("step")?,
                detail: row.try_get("detail")?,
            })
        })
        .collect()
}

impl FromRow<'_, AnyRow> for Order {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let decode = |e: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::Decode(e);
        let order_id: String = row.try_get("order_id")?;
        let text = |column: &str| -> Result<String, sqlx::Error> { row.try_get(column) };
        let phase = text("phase")?;
        let status = text("status")?;
        let ending: Option<String> = row.try_get("ending")?;
        let reason: Option<String> = row.try_get("reason")?;
        let ending = match (ending.as_deref(), reason.as_deref()) {
            (None, _) => None,
            (Some("cancelled"), _) => Some(Ending::Cancelled),
            (Some("rejected"), Some(reason)) => {
                Some(Ending::Rejected(Reason::parse(reason).ok_or_else(|| decode(format!("reason {reason}").into()))?))
            }
            (Some(other), _) => return Err(decode(format!("ending {other}").into())),
        };
        let flag = |column: &str| -> Result<bool, sqlx::Error> { Ok(row.try_get::<i64, _>(column)? != 0) };
        Ok(Self {
            order_id: Uuid::parse_str(&order_id).map_err(|e| decode(Box::new(e)))?,
            customer_id: text("customer_id")?,
            contact_email: text("contact_email")?,
            saga: Saga {
                phase: Phase::parse(&phase).ok_or_else(|| decode(format!("phase {phase}").into()))?,
                undo_stock: flag("undo_stock")?,
                undo_payment: flag("undo_payment")?,
                ending,
                status: Status::parse(&status).ok_or_else(|| decode(format!("status {status}").into()))?,
            },
            version: row.try_get("version")?,
            total_minor: row.try_get("total_minor")?,
            currency: text("currency")?,
            lines: serde_json::from_str(&text("lines")?).map_err(|e| decode(Box::new(e)))?,
            ship_to: serde_json::from_str(&text("ship_to")?).map_err(|e| decode(Box::new(e)))?,
            payment_method: row.try_get("payment_method")?,
            captured_minor: row.try_get("captured_minor")?,
            refunded_minor: row.try_get("refunded_minor")?,
            carrier: row.try_get("carrier")?,
            tracking_number: row.try_get("tracking_number")?,
            created_at: timestamp_at(row, "created_at")?,
            updated_at: timestamp_at(row, "updated_at")?,
        })
    }
}

/// What `flotilla check` needs of every order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderAudit {
    pub order_id: Uuid,
    pub status: Status,
    pub phase: Phase,
    pub total_minor: i64,
    pub captured_minor: i64,
    /// Whether its step timer is set.
    pub timer_set: bool,
}

pub async fn audit(pool: &AnyPool) -> Result<Vec<OrderAudit>, sqlx::Error> {
    let timers = flotilla_messaging::timers::keys(pool, crate::saga::TIMER_PREFIX).await?;
    let rows = sqlx::query("SELECT order_id, status, phase, total_minor, captured_minor FROM orders ORDER BY order_id")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            let decode = |e: String| sqlx::Error::Decode(e.into());
            let order_id: String = row.try_get("order_id")?;
            let status: String = row.try_get("status")?;
            let phase: String = row.try_get("phase")?;
            Ok(OrderAudit {
                order_id: Uuid::parse_str(&order_id).map_err(|e| decode(e.to_string()))?,
                status: Status::parse(&status).ok_or_else(|| decode(format!("status {status}")))?,
                phase: Phase::parse(&phase).ok_or_else(|| decode(format!("phase {phase}")))?,
                total_minor: row.try_get("total_minor")?,
                captured_minor: row.try_get("captured_minor")?,
                timer_set: false,
            })
        })
        .map(|audit: Result<OrderAudit, sqlx::Error>| {
            audit.map(|a| OrderAudit { timer_set: timers.contains(&crate::saga::timer_key(a.order_id)), ..a })
        })
        .collect()
}
