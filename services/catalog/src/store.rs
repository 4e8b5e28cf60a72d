//! The catalog's SQL, and only the catalog's. Portable across SQLite and PostgreSQL; queries with
//! optional parts are assembled with the chassis' `Sql`, which numbers the placeholders.

use flotilla_chassis::db::{AnyQuery, Sql, parse_timestamp};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, FromRow, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::cursor::Cursor;
use crate::domain::money::{Currency, Money};
use crate::domain::product::{Precondition, Product, ProductDraft};
use crate::domain::search;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a product with SKU {0} already exists")]
    DuplicateSku(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Which products a page holds.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub category: Option<String>,
    /// Search terms (all must match); ranks results when present.
    pub terms: Vec<String>,
    pub after: Option<Cursor>,
    pub limit: u32,
}

/// A listed product, with its search score when the list was a search.
#[derive(Debug, Clone)]
pub struct Listed {
    pub product: Product,
    pub score: Option<i64>,
}

#[derive(Debug)]
pub enum Outcome<T> {
    Done(T),
    NotFound,
    /// The product exists at another version than the caller expected.
    Stale {
        current: i64,
    },
}

pub use flotilla_chassis::db::timestamp;

pub async fn insert(conn: &mut AnyConnection, product: &Product) -> Result<(), StoreError> {
    let c = &product.content;
    let insert = sqlx::query(
        "INSERT INTO products (sku, name, description, price_amount_minor, price_currency, category, image, attributes,
                               id, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    );
    let result = bind_content(insert, c)
        .bind(product.id.to_string())
        .bind(product.version)
        .bind(timestamp(product.created_at))
        .bind(timestamp(product.updated_at))
        .execute(&mut *conn)
        .await;
    match result {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::DuplicateSku(c.sku.clone())),
        other => other.map(|_| ()).map_err(StoreError::from),
    }?;
    write_terms(conn, product).await
}

pub async fn get(pool: &AnyPool, id: Uuid) -> Result<Option<Product>, StoreError> {
    Ok(sqlx::query_as("SELECT * FROM products WHERE id = $1").bind(id.to_string()).fetch_optional(pool).await?)
}

/// Replaces the content of a product if its current version meets the precondition; returns the
/// product as it was and as it is now.
pub async fn replace(
    conn: &mut AnyConnection,
    id: Uuid,
    precondition: &Precondition,
    content: ProductDraft,
    now: OffsetDateTime,
) -> Result<Outcome<(Product, Product)>, StoreError> {
    let Some(current) = get_in(conn, id).await? else {
        return Ok(Outcome::NotFound);
    };
    if !precondition.admits(current.version) {
        return Ok(Outcome::Stale { current: current.version });
    }
    let next = current.replaced(content, now);
    let c = &next.content;
    // The version guard makes this safe even where the read above was not locked (PostgreSQL).
    let update = sqlx::query(
        "UPDATE products SET sku = $1, name = $2, description = $3, price_amount_minor = $4, price_currency = $5,
                             category = $6, image = $7, attributes = $8, version = $9, updated_at = $10
         WHERE id = $11 AND version = $12",
    );
    let updated = bind_content(update, c)
        .bind(next.version)
        .bind(timestamp(next.updated_at))
        .bind(id.to_string())
        .bind(current.version)
        .execute(&mut *conn)
        .await;
    let updated = match updated {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(StoreError::DuplicateSku(c.sku.clone()));
        }
        other => other?.rows_affected(),
    };
    if updated == 0 {
        return Ok(match get_in(conn, id).await? {
            None => Outcome::NotFound,
            Some(now_stored) => Outcome::Stale { current: now_stored.version },
        });
    }
    sqlx::query("DELETE FROM product_terms WHERE product_id = $1").bind(id.to_string()).execute(&mut *conn).await?;
    write_terms(conn, &next).await?;
    Ok(Outcome::Done((current, next)))
}

/// Deletes a product if its current version meets the precondition; returns what was deleted.
pub async fn delete(
    conn: &mut AnyConnection,
    id: Uuid,
    precondition: &Precondition,
) -> Result<Outcome<Product>, StoreError> {
    let Some(current) = get_in(conn, id).await? else {
        return Ok(Outcome::NotFound);
    };
    if !precondition.admits(current.version) {
        return Ok(Outcome::Stale { current: current.version });
    }
    let deleted = sqlx::query("DELETE FROM products WHERE id = $1 AND version = $2")
        .bind(id.to_string())
        .bind(current.version)
        .execute(&mut *conn)
        .await?;
    if deleted.rows_affected() == 1 {
        return Ok(Outcome::Done(current));
    }
    // Changed between our read and our delete (possible on PostgreSQL, where the read took no lock).
    Ok(match get_in(conn, id).await? {
        None => Outcome::NotFound,
        Some(now_stored) => Outcome::Stale { current: now_stored.version },
    })
}

pub async fn list(pool: &AnyPool, filter: &ListFilter) -> Result<Vec<Listed>, StoreError> {
    let mut sql = Sql::default();
    if filter.terms.is_empty() {
        sql.push("SELECT p.*, NULL AS score FROM products p WHERE 1 = 1");
    } else {
        sql.push("SELECT p.*, m.score FROM products p JOIN (SELECT product_id, CAST(SUM(weight) AS BIGINT) AS score, COUNT(*) AS hits FROM product_terms WHERE term IN (");
        sql.bind_list(filter.terms.iter().map(String::as_str));
        sql.push(") GROUP BY product_id) m ON m.product_id = p.id WHERE m.hits = ");
        sql.bind(filter.terms.len() as i64);
    }
    if let Some(category) = &filter.category {
        sql.push(" AND p.category = ");
        sql.bind(category.clone());
    }
    match filter.after {
        Some(Cursor::After(id)) => {
            sql.push(" AND p.id > ");
            sql.bind(id.to_string());
        }
        Some(Cursor::Ranked { score, id }) => {
            sql.push(" AND (m.score < ");
            sql.bind(score);
            sql.push(" OR (m.score = ");
            sql.bind(score);
            sql.push(" AND p.id > ");
            sql.bind(id.to_string());
            sql.push("))");
        }
        None => {}
    }
    sql.push(if filter.terms.is_empty() { " ORDER BY p.id LIMIT " } else { " ORDER BY m.score DESC, p.id LIMIT " });
    sql.bind(i64::from(filter.limit));

    let rows = sql.into_query().fetch_all(pool).await?;
    Ok(rows.iter().map(Listed::from_row).collect::<Result<_, _>>()?)
}

pub async fn categories(pool: &AnyPool) -> Result<Vec<(String, i64)>, StoreError> {
    let rows =
        sqlx::query("SELECT category, COUNT(*) AS product_count FROM products GROUP BY category ORDER BY category")
            .fetch_all(pool)
            .await?;
    rows.iter().map(|row| Ok((row.try_get("category")?, row.try_get("product_count")?))).collect()
}

/// Records a one-off fact; true only for the caller that recorded it first.
pub async fn mark_once(conn: &mut AnyConnection, key: &str, value: &str) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO catalog_meta (meta_key, meta_value) VALUES ($1, $2) ON CONFLICT (meta_key) DO NOTHING",
    )
    .bind(key)
    .bind(value)
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

async fn get_in(conn: &mut AnyConnection, id: Uuid) -> Result<Option<Product>, StoreError> {
    Ok(sqlx::query_as("SELECT * FROM products WHERE id = $1").bind(id.to_string()).fetch_optional(conn).await?)
}

// Bound per statement to stay far below SQLite's and PostgreSQL's parameter limits.
const TERM_ROWS_PER_INSERT: usize = 200;

async fn write_terms(conn: &mut AnyConnection, product: &Product) -> Result<(), StoreError> {
    let terms: Vec<(String, i64)> =
        search::index_terms(&product.content.name, &product.content.description).into_iter().collect();
    let id = product.id.to_string();
    for chunk in terms.chunks(TERM_ROWS_PER_INSERT) {
        let mut sql = Sql::default();
        sql.push("INSERT INTO product_terms (term, product_id, weight) VALUES ");
        for (i, (term, weight)) in chunk.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            sql.bind(term.clone());
            sql.push(", ");
            sql.bind(id.clone());
            sql.push(", ");
            sql.bind(*weight);
            sql.push(")");
        }
        sql.into_one_off_query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Binds a product's content as placeholders $1 to $8, in the column order both INSERT and
/// UPDATE list first.
fn bind_content<'q>(query: AnyQuery<'q>, c: &ProductDraft) -> AnyQuery<'q> {
    let attributes = serde_json::to_string(&c.attributes).unwrap_or_else(|_| "{}".into());
    query
        .bind(c.sku.clone())
        .bind(c.name.clone())
        .bind(c.description.clone())
        .bind(c.price.amount_minor)
        .bind(c.price.currency.code())
        .bind(c.category.clone())
        .bind(c.image.clone())
        .bind(attributes)
}

/// A row of `products`. A row this code cannot read back (a corrupt or hand-edited value) is a
/// decode error naming the product and the column.
impl FromRow<'_, AnyRow> for Product {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let id: String = row.try_get("id")?;
        let corrupt =
            |reason: String| sqlx::Error::Decode(format!("stored product {id} is unreadable: {reason}").into());
        let time = |column: &str| -> Result<OffsetDateTime, sqlx::Error> {
            let text: String = row.try_get(column)?;
            parse_timestamp(&text).map_err(|e| corrupt(format!("{column}: {e}")))
        };
        let currency: String = row.try_get("price_currency")?;
        let attributes: String = row.try_get("attributes")?;
        Ok(Product {
            id: Uuid::try_parse(&id).map_err(|e| corrupt(e.to_string()))?,
            content: ProductDraft {
                sku: row.try_get("sku")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                price: Money {
                    amount_minor: row.try_get("price_amount_minor")?,
                    currency: Currency::parse(&currency).ok_or_else(|| corrupt(format!("currency {currency}")))?,
                },
                category: row.try_get("category")?,
                image: row.try_get("image")?,
                attributes: serde_json::from_str(&attributes).map_err(|e| corrupt(format!("attributes: {e}")))?,
            },
            version: row.try_get("version")?,
            created_at: time("created_at")?,
            updated_at: time("updated_at")?,
        })
    }
}

impl FromRow<'_, AnyRow> for Listed {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self { product: Product::from_row(row)?, score: row.try_get("score")? })
    }
}
