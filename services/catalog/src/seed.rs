//! The demo catalogue, loaded once into an empty dev database.

use flotilla_chassis::db::Database;
use flotilla_messaging::outbox::OutboxError;
use flotilla_messaging::{Outbox, UnitOfWork};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::api::ProductRequest;
use crate::domain::product::{self, Product};
use crate::events;
use crate::store::{self, StoreError};

const PRODUCTS: &str = include_str!("../seed/products.json");
const MARKER: &str = "demo-catalogue-loaded";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the demo catalogue is not valid JSON: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("demo product {sku} breaks a rule: {reason}")]
    Invalid { sku: String, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// Loads the demo products unless this database ever had them; returns how many it loaded.
/// The marker and the products commit together, so a crash mid-way loads them again next time.
pub async fn load_once(db: &Database, outbox: &Outbox) -> Result<usize, SeedError> {
    let requests: Vec<ProductRequest> = serde_json::from_str(PRODUCTS)?;
    let now = OffsetDateTime::now_utc();
    let mut products = Vec::with_capacity(requests.len());
    for request in requests {
        let sku = request.sku.clone();
        let draft = product::validate(request.into_input()).map_err(|violations| SeedError::Invalid {
            sku,
            reason: violations.iter().map(|v| format!("{} {}", v.field, v.message)).collect::<Vec<_>>().join("; "),
        })?;
        products.push(Product::new(Uuid::now_v7(), draft, now));
    }

    let mut work = UnitOfWork::begin(db, outbox).await?;
    if !store::mark_once(&mut work, MARKER, &store::timestamp(now)).await? {
        return Ok(0);
    }
    for product in &products {
        store::insert(&mut work, product).await?;
        // Seeded products are real products: consumers learn of them like of any other.
        work.publish(&events::created(product)).await?;
    }
    work.commit().await?;
    Ok(products.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalogue_is_valid_and_large_enough() {
        let requests: Vec<ProductRequest> = serde_json::from_str(PRODUCTS).unwrap();
        assert!(requests.len() >= 100, "{}", requests.len());
        let mut skus = std::collections::BTreeSet::new();
        for request in requests {
            assert!(skus.insert(request.sku.clone()), "duplicate {}", request.sku);
            product::validate(request.into_input()).unwrap();
        }
    }
}
