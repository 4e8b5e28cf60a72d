//! Message handlers. Each runs in a unit of work that already holds the inbox record of its
//! message: what it writes commits with that record, or not at all.

use flotilla_contracts::catalog::{ProductCreatedV1, ProductDeletedV1, ProductState, ProductUpdatedV1};
use flotilla_contracts::ordering::OrderPlacedV1;
use flotilla_messaging::{Consumer, Envelope, HandlerError, UnitOfWork};
use time::OffsetDateTime;

use crate::domain::money::Money;
use crate::store;

/// Keeps the read model of products current from the catalog's events. Every state event
/// carries the whole product, price included, so `product-price-changed` (published with the
/// `product-updated` of the same version) would tell nothing new and is not consumed.
pub fn catalog_products() -> Consumer {
    Consumer::new(crate::SERVICE.name, "catalog-products").on(product_created).on(product_updated).on(product_deleted)
}

/// Takes what an order bought out of the basket it was placed from, once per order.
pub fn orders() -> Consumer {
    Consumer::new(crate::SERVICE.name, "orders").on(order_placed)
}

async fn order_placed(event: OrderPlacedV1, _: &Envelope, work: &mut UnitOfWork) -> Result<(), HandlerError> {
    let customer = event.customer.customer_id;
    let now = OffsetDateTime::now_utc();
    if !store::record_checkout(work, event.order_id, &customer, now).await? {
        return Ok(());
    }
    let version = store::lock(work, &customer, now).await?;
    let basket = store::basket(work, &customer).await?.basket;
    let ordered: Vec<_> = event.lines.iter().map(|l| (l.product_id, i64::from(l.quantity))).collect();
    let edits = basket.check_out(&ordered);
    for edit in &edits {
        store::save(work, &customer, edit, version + 1, now).await?;
    }
    Ok(())
}

async fn product_created(event: ProductCreatedV1, _: &Envelope, work: &mut UnitOfWork) -> Result<(), HandlerError> {
    apply_state(&event.product, work).await
}

async fn product_updated(event: ProductUpdatedV1, _: &Envelope, work: &mut UnitOfWork) -> Result<(), HandlerError> {
    apply_state(&event.product, work).await
}

async fn product_deleted(event: ProductDeletedV1, _: &Envelope, work: &mut UnitOfWork) -> Result<(), HandlerError> {
    if !store::apply_deletion(work, event.product_id, &event.sku, event.version).await? {
        tracing::debug!(product_id = %event.product_id, version = event.version, "ignored a deletion older than the state held");
    }
    Ok(())
}

async fn apply_state(product: &ProductState, work: &mut UnitOfWork) -> Result<(), HandlerError> {
    // A price no basket could hold fails the same way every time: a dead letter, not a retry.
    let price = Money::price(product.price.amount_minor, &product.price.currency).map_err(|why| {
        HandlerError::Permanent(format!("product {} has an unusable price: {why}", product.product_id))
    })?;
    let state = store::ProductState {
        id: product.product_id,
        version: product.version,
        sku: product.sku.clone(),
        name: product.name.clone(),
        price,
    };
    if !store::apply_state(work, &state).await? {
        tracing::debug!(product_id = %state.id, version = state.version, "ignored a product state no newer than the one held");
    }
    Ok(())
}
