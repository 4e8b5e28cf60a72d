//! Published by the catalog: what happened to products. Each event carries the product's full
//! state after the change (state transfer), so a consumer never has to call back for details.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::Money;
use crate::{Message, MessageInfo};

pub(crate) const MESSAGES: &[fn() -> MessageInfo] = &[
    || MessageInfo::event::<ProductCreatedV1>(&["basket.catalog-products", "inventory.catalog-products"]),
    || MessageInfo::event::<ProductUpdatedV1>(&["basket.catalog-products"]),
    || MessageInfo::event::<ProductPriceChangedV1>(&[]),
    || MessageInfo::event::<ProductDeletedV1>(&["basket.catalog-products", "inventory.catalog-products"]),
];

/// A product attribute: text, a whole number or a yes/no.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AttributeValue {
    Flag(bool),
    Integer(i64),
    Text(String),
}

/// A product as it stands after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProductState {
    pub product_id: Uuid,
    /// Grows by one with every change; a consumer can ignore a state older than one it has.
    #[schemars(range(min = 1))]
    pub version: i64,
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price: Money,
    pub category: String,
    pub image: Option<String>,
    pub attributes: BTreeMap<String, AttributeValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProductCreatedV1 {
    #[serde(flatten)]
    pub product: ProductState,
}

impl Message for ProductCreatedV1 {
    const TYPE: &'static str = "flotilla.catalog.product-created.v1";
    const SUMMARY: &'static str = "A product was added to the catalogue.";
    fn subject(&self) -> String {
        self.product.product_id.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProductUpdatedV1 {
    #[serde(flatten)]
    pub product: ProductState,
}

impl Message for ProductUpdatedV1 {
    const TYPE: &'static str = "flotilla.catalog.product-updated.v1";
    const SUMMARY: &'static str = "A product's content was replaced; the event carries the new state.";
    fn subject(&self) -> String {
        self.product.product_id.to_string()
    }
}

/// Published together with `product-updated` when the change moved the price, for consumers that
/// care only about prices (baskets re-pricing their lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProductPriceChangedV1 {
    pub product_id: Uuid,
    #[schemars(range(min = 1))]
    pub version: i64,
    pub previous_price: Money,
    pub price: Money,
}

impl Message for ProductPriceChangedV1 {
    const TYPE: &'static str = "flotilla.catalog.product-price-changed.v1";
    const SUMMARY: &'static str = "A product's price changed.";
    fn subject(&self) -> String {
        self.product_id.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProductDeletedV1 {
    pub product_id: Uuid,
    /// The version that was deleted.
    #[schemars(range(min = 1))]
    pub version: i64,
    pub sku: String,
}

impl Message for ProductDeletedV1 {
    const TYPE: &'static str = "flotilla.catalog.product-deleted.v1";
    const SUMMARY: &'static str = "A product was removed from the catalogue.";
    fn subject(&self) -> String {
        self.product_id.to_string()
    }
}
