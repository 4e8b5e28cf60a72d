//! The ordering context's messages: the milestones of an order, published for whoever follows
//! orders (the basket empties itself, shipping ships, notifications write to the customer).
//! Each carries what its consumers need, so that none has to call back.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Message, MessageInfo, Money};

pub(crate) const MESSAGES: &[fn() -> MessageInfo] = &[
    || MessageInfo::event::<OrderPlacedV1>(&["basket.orders"]),
    || MessageInfo::event::<OrderConfirmedV1>(&["shipping.orders", "notifications.orders"]),
    || MessageInfo::event::<OrderRejectedV1>(&["notifications.orders"]),
    || MessageInfo::event::<OrderCancelledV1>(&["notifications.orders"]),
    || MessageInfo::event::<OrderShippedV1>(&["notifications.orders"]),
];

/// One product line of an order, priced when the order was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderLine {
    pub product_id: Uuid,
    pub sku: String,
    pub name: String,
    #[schemars(range(min = 1))]
    pub quantity: u32,
    pub unit_price: Money,
}

/// Where an order goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case.
    #[schemars(regex(pattern = r"^[A-Z]{2}$"))]
    pub country: String,
}

/// Who an order is for and how to reach them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Customer {
    /// The customer's subject (user id).
    #[schemars(length(min = 1, max = 255))]
    pub customer_id: String,
    #[schemars(email)]
    pub email: String,
}

/// A customer checked out: the order is accepted and its saga begins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderPlacedV1 {
    pub order_id: Uuid,
    pub customer: Customer,
    /// The basket's version the order was placed from: a basket changed since keeps its lines.
    #[schemars(range(min = 0))]
    pub basket_version: i64,
    pub lines: Vec<OrderLine>,
    pub total: Money,
}

impl Message for OrderPlacedV1 {
    const TYPE: &'static str = "flotilla.ordering.order-placed.v1";
    const SUMMARY: &'static str = "A customer checked out; the order is accepted.";
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// Stock is sold and payment captured: the order is to be shipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderConfirmedV1 {
    pub order_id: Uuid,
    pub customer: Customer,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub ship_to: Address,
}

impl Message for OrderConfirmedV1 {
    const TYPE: &'static str = "flotilla.ordering.order-confirmed.v1";
    const SUMMARY: &'static str = "The order is paid for and its stock sold; it is to be shipped.";
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// The order could not be fulfilled; whatever it held was given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderRejectedV1 {
    pub order_id: Uuid,
    pub customer: Customer,
    /// `out-of-stock`, `payment-declined`, `payment-failed` or `timed-out`.
    pub reason: String,
}

impl Message for OrderRejectedV1 {
    const TYPE: &'static str = "flotilla.ordering.order-rejected.v1";
    const SUMMARY: &'static str = "The order was rejected; nothing is held or charged for it.";
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// The customer cancelled before shipment; payment was voided or refunded, stock given back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderCancelledV1 {
    pub order_id: Uuid,
    pub customer: Customer,
    /// What went back to the customer's card (zero when the payment was only authorized).
    pub refunded: Money,
}

impl Message for OrderCancelledV1 {
    const TYPE: &'static str = "flotilla.ordering.order-cancelled.v1";
    const SUMMARY: &'static str = "The customer cancelled the order; nothing is charged for it.";
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// The carrier has the parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct OrderShippedV1 {
    pub order_id: Uuid,
    pub customer: Customer,
    pub carrier: String,
    pub tracking_number: String,
}

impl Message for OrderShippedV1 {
    const TYPE: &'static str = "flotilla.ordering.order-shipped.v1";
    const SUMMARY: &'static str = "The order left the warehouse with a carrier.";
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}
