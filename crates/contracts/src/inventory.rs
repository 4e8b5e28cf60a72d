//! The inventory context's messages: the commands that hold, commit and release stock for an
//! order, their replies, and the event of a reservation that lapsed unclaimed.
//!
//! Every command names the order it is for, and inventory keeps one reservation per order, so a
//! command sent again (a retry, a replay) is answered from the reservation's state and changes
//! nothing.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Message, MessageInfo, MessageKind};

pub(crate) const MESSAGES: &[fn() -> MessageInfo] = &[
    || MessageInfo::command::<ReserveStockV1>(&["ordering"], "inventory.reservations"),
    || MessageInfo::reply::<StockReservedV1, ReserveStockV1>(&["ordering.checkout"]),
    || MessageInfo::reply::<StockUnavailableV1, ReserveStockV1>(&["ordering.checkout"]),
    || MessageInfo::command::<CommitStockV1>(&["ordering"], "inventory.reservations"),
    || MessageInfo::reply::<StockCommittedV1, CommitStockV1>(&["ordering.checkout"]),
    || MessageInfo::reply::<ReservationLapsedV1, CommitStockV1>(&["ordering.checkout"]),
    || MessageInfo::command::<ReleaseStockV1>(&["ordering"], "inventory.reservations"),
    || MessageInfo::reply::<StockReleasedV1, ReleaseStockV1>(&["ordering.checkout"]),
    || MessageInfo::event::<ReservationExpiredV1>(&["ordering.checkout"]),
];

/// Units of one SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockLine {
    pub sku: String,
    #[schemars(range(min = 1))]
    pub quantity: u32,
}

/// Holds stock for an order: all lines or none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReserveStockV1 {
    pub order_id: Uuid,
    pub lines: Vec<StockLine>,
}

impl Message for ReserveStockV1 {
    const TYPE: &'static str = "flotilla.inventory.reserve-stock.v1";
    const SUMMARY: &'static str = "Hold these units for this order, all of them or none.";
    const KIND: MessageKind = MessageKind::Command;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockReservedV1 {
    pub order_id: Uuid,
    /// When the hold lapses unless committed first (RFC 3339, UTC).
    #[schemars(extend("format" = "date-time"))]
    pub expires_at: String,
}

impl Message for StockReservedV1 {
    const TYPE: &'static str = "flotilla.inventory.stock-reserved.v1";
    const SUMMARY: &'static str = "Every unit asked for is held for the order.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// A SKU that could not be held in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Shortage {
    pub sku: String,
    #[schemars(range(min = 1))]
    pub requested: u32,
    /// Units free when the reservation was tried (0 for a SKU inventory does not stock).
    pub available: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockUnavailableV1 {
    pub order_id: Uuid,
    /// Empty when the order's reservation was released before this command arrived.
    pub shortages: Vec<Shortage>,
}

impl Message for StockUnavailableV1 {
    const TYPE: &'static str = "flotilla.inventory.stock-unavailable.v1";
    const SUMMARY: &'static str = "Nothing is held: at least one SKU lacks the units asked for.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// Turns the order's hold into a sale: the units leave the stock for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CommitStockV1 {
    pub order_id: Uuid,
}

impl Message for CommitStockV1 {
    const TYPE: &'static str = "flotilla.inventory.commit-stock.v1";
    const SUMMARY: &'static str = "The order is paid for: its held units are sold.";
    const KIND: MessageKind = MessageKind::Command;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockCommittedV1 {
    pub order_id: Uuid,
}

impl Message for StockCommittedV1 {
    const TYPE: &'static str = "flotilla.inventory.stock-committed.v1";
    const SUMMARY: &'static str = "The order's units are sold.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReservationLapsedV1 {
    pub order_id: Uuid,
}

impl Message for ReservationLapsedV1 {
    const TYPE: &'static str = "flotilla.inventory.reservation-lapsed.v1";
    const SUMMARY: &'static str = "Nothing to commit: the order holds no stock (never held, released or expired).";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// Gives the order's units back: a hold is released, a sale is returned to stock. Sent before
/// the reservation arrives, it makes sure that reservation is never held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReleaseStockV1 {
    pub order_id: Uuid,
}

impl Message for ReleaseStockV1 {
    const TYPE: &'static str = "flotilla.inventory.release-stock.v1";
    const SUMMARY: &'static str = "The order will not be fulfilled: give its units back.";
    const KIND: MessageKind = MessageKind::Command;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StockReleasedV1 {
    pub order_id: Uuid,
}

impl Message for StockReleasedV1 {
    const TYPE: &'static str = "flotilla.inventory.stock-released.v1";
    const SUMMARY: &'static str = "The order holds no stock any more.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// A hold that was neither committed nor released in time went back to stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReservationExpiredV1 {
    pub order_id: Uuid,
}

impl Message for ReservationExpiredV1 {
    const TYPE: &'static str = "flotilla.inventory.reservation-expired.v1";
    const SUMMARY: &'static str = "An order's hold lapsed and its units went back to stock.";
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}
