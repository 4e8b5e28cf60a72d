//! The basket service's SQL, and only its own. Portable across SQLite and PostgreSQL.

use flotilla_chassis::db::timestamp;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::basket::{Basket, Edit, Entry, Line, Product};
use crate::domain::money::Money;

/// A basket with the version it is stored at (0 for one never changed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub version: i64,
    pub basket: Basket,
}

/// A product's state from a catalog event, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductState {
    pub id: Uuid,
    pub version: i64,
    pub sku: String,
    pub name: String,
    pub price: Money,
}

/// The basket of `customer_id` with its products as they are now. One statement, so that the
/// version and the lines come from one snapshot.
pub async fn basket(conn: &mut AnyConnection, customer_id: &str) -> Result<Stored, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT b.version, l.product_id, l.quantity, l.added_amount_minor, l.added_currency,
                p.sku, p.name, p.price_amount_minor, p.price_currency, p.deleted
         FROM baskets b
         LEFT JOIN basket_lines l ON l.customer_id = b.customer_id
         LEFT JOIN products p ON p.product_id = l.product_id
         WHERE b.customer_id = $1
         ORDER BY l.added_at, l.product_id",
    )
    .bind(customer_id)
    .fetch_all(conn)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(Stored { version: 0, basket: Basket::default() });
    };
    let version = first.try_get("version")?;
    let mut entries = Vec::with_capacity(rows.len());
    for row in &rows {
        let product_id: Option<String> = row.try_get("product_id")?;
        let Some(product_id) = product_id else { continue };
        let id = uuid(&product_id)?;
        let line = Line {
            product_id: id,
            quantity: row.try_get("quantity")?,
            price_when_added: Money {
                amount_minor: row.try_get("added_amount_minor")?,
                currency: row.try_get("added_currency")?,
            },
        };
        let product = product_of(id, row)?
            .ok_or_else(|| decode_error(format!("basket line of {product_id} has no product state")))?;
        entries.push(Entry { line, product });
    }
    Ok(Stored { version, basket: Basket { entries } })
}

/// Locks the basket of `customer_id` for the rest of the transaction (creating it empty) and
/// returns its version: concurrent changes of one basket queue here instead of racing.
pub async fn lock(conn: &mut AnyConnection, customer_id: &str, now: OffsetDateTime) -> Result<i64, sqlx::Error> {
    // The upsert's no-op update is what takes the row lock on PostgreSQL (a plain read would
    // not); SQLite already holds the database's write lock (`BEGIN IMMEDIATE`).
    sqlx::query_scalar(
        "INSERT INTO baskets (customer_id, version, updated_at) VALUES ($1, 0, $2)
         ON CONFLICT (customer_id) DO UPDATE SET version = baskets.version
         RETURNING version",
    )
    .bind(customer_id)
    .bind(timestamp(now))
    .fetch_one(conn)
    .await
}

/// Stores `edit` and moves the basket to `version`; the basket must be locked.
pub async fn save(
    conn: &mut AnyConnection,
    customer_id: &str,
    edit: &Edit,
    version: i64,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    match edit {
        Edit::Put(line) => {
            sqlx::query(
                "INSERT INTO basket_lines (customer_id, product_id, quantity, added_amount_minor, added_currency, added_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (customer_id, product_id) DO UPDATE SET quantity = excluded.quantity",
            )
            .bind(customer_id)
            .bind(line.product_id.to_string())
            .bind(line.quantity)
            .bind(line.price_when_added.amount_minor)
            .bind(&line.price_when_added.currency)
            .bind(timestamp(now))
            .execute(&mut *conn)
            .await?;
        }
        Edit::Remove(product_id) => {
            sqlx::query("DELETE FROM basket_lines WHERE customer_id = $1 AND product_id = $2")
                .bind(customer_id)
                .bind(product_id.to_string())
                .execute(&mut *conn)
                .await?;
        }
        Edit::Clear => {
            sqlx::query("DELETE FROM basket_lines WHERE customer_id = $1")
                .bind(customer_id)
                .execute(&mut *conn)
                .await?;
        }
        Edit::Unchanged => return Ok(()),
    }
    sqlx::query("UPDATE baskets SET version = $1, updated_at = $2 WHERE customer_id = $3")
        .bind(version)
        .bind(timestamp(now))
        .bind(customer_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records that `order_id` was placed from the basket of `customer_id`; false when it was
/// recorded before (the event came again).
pub async fn record_checkout(
    conn: &mut AnyConnection,
    order_id: Uuid,
    customer_id: &str,
    now: OffsetDateTime,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO checkouts (order_id, customer_id, at) VALUES ($1, $2, $3) ON CONFLICT (order_id) DO NOTHING",
    )
    .bind(order_id.to_string())
    .bind(customer_id)
    .bind(timestamp(now))
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The product as the read model holds it; `None` if the catalog never told of it (a deletion
/// seen before any state leaves nothing to show either).
pub async fn product(conn: &mut AnyConnection, id: Uuid) -> Result<Option<Product>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT sku, name, price_amount_minor, price_currency, deleted FROM products WHERE product_id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => product_of(id, &row),
        None => Ok(None),
    }
}

/// Applies a product's state unless the read model holds the same or a newer version (or its
/// deletion); true when applied. The version guard is in the statement, so that redelivered and
/// reordered events change nothing however consumers interleave.
pub async fn apply_state(conn: &mut AnyConnection, state: &ProductState) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO products (product_id, sku, name, price_amount_minor, price_currency, version, deleted)
         VALUES ($1, $2, $3, $4, $5, $6, 0)
         ON CONFLICT (product_id) DO UPDATE SET sku = excluded.sku, name = excluded.name,
             price_amount_minor = excluded.price_amount_minor, price_currency = excluded.price_currency,
             version = excluded.version, deleted = 0
         WHERE products.version < excluded.version",
    )
    .bind(state.id.to_string())
    .bind(&state.sku)
    .bind(&state.name)
    .bind(state.price.amount_minor)
    .bind(&state.price.currency)
    .bind(state.version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a product deleted at `version` unless a newer state is held; true when applied. The
/// deleted version is the last state there was, so a state of that same version is older.
pub async fn apply_deletion(conn: &mut AnyConnection, id: Uuid, sku: &str, version: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO products (product_id, sku, version, deleted) VALUES ($1, $2, $3, 1)
         ON CONFLICT (product_id) DO UPDATE SET version = excluded.version, deleted = 1
         WHERE products.version < excluded.version OR (products.version = excluded.version AND products.deleted = 0)",
    )
    .bind(id.to_string())
    .bind(sku)
    .bind(version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The product columns of `row`; `None` for a tombstone, which has nothing to show.
fn product_of(id: Uuid, row: &AnyRow) -> Result<Option<Product>, sqlx::Error> {
    let name: Option<String> = row.try_get("name")?;
    let amount: Option<i64> = row.try_get("price_amount_minor")?;
    let currency: Option<String> = row.try_get("price_currency")?;
    let (Some(name), Some(amount), Some(currency)) = (name, amount, currency) else {
        return Ok(None);
    };
    let deleted: i64 = row.try_get("deleted")?;
    Ok(Some(Product {
        id,
        sku: row.try_get("sku")?,
        name,
        price: Money { amount_minor: amount, currency },
        available: deleted == 0,
    }))
}

fn uuid(text: &str) -> Result<Uuid, sqlx::Error> {
    Uuid::parse_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn decode_error(message: String) -> sqlx::Error {
    sqlx::Error::Decode(message.into())
}
