//! The shipping context's messages: how a shipment progresses, and the command that stops one
//! before the carrier has it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Message, MessageInfo, MessageKind};

pub(crate) const MESSAGES: &[fn() -> MessageInfo] = &[
    || MessageInfo::event::<ShipmentStatusChangedV1>(&["ordering.checkout"]),
    || MessageInfo::command::<CancelShipmentV1>(&["ordering"], "shipping.cancellations"),
    || MessageInfo::reply::<ShipmentCancelledV1, CancelShipmentV1>(&["ordering.checkout"]),
    || MessageInfo::reply::<ShipmentNotCancellableV1, CancelShipmentV1>(&["ordering.checkout"]),
];

/// Where a shipment is. `label_created` until the carrier collects it (`dispatched`); only then
/// is the order shipped. `cancelled` only before dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    LabelCreated,
    Dispatched,
    InTransit,
    OutForDelivery,
    Delivered,
    Cancelled,
}

/// A shipment entered a new status: once for its label when the order's shipment is created,
/// once for each step the carrier takes, or once for its cancellation. The subject is the
/// shipment, so one shipment's statuses arrive in the order they happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShipmentStatusChangedV1 {
    pub shipment_id: Uuid,
    pub order_id: Uuid,
    pub status: ShipmentStatus,
    pub carrier: String,
    /// The carrier's number for the parcel, unique to the shipment and the same in every status.
    pub tracking_number: String,
    /// When the carrier reported it (RFC 3339, UTC).
    pub at: String,
}

impl Message for ShipmentStatusChangedV1 {
    const TYPE: &'static str = "flotilla.shipping.shipment-status-changed.v1";
    const SUMMARY: &'static str = "A shipment moved to a new tracking status.";
    fn subject(&self) -> String {
        self.shipment_id.to_string()
    }
}

/// Stops the order's shipment unless the carrier has it. Sent before the shipment exists, it
/// makes sure none is created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CancelShipmentV1 {
    pub order_id: Uuid,
}

impl Message for CancelShipmentV1 {
    const TYPE: &'static str = "flotilla.shipping.cancel-shipment.v1";
    const SUMMARY: &'static str = "The order is cancelled: do not ship it.";
    const KIND: MessageKind = MessageKind::Command;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// Nothing will be shipped for the order: its shipment was stopped before the carrier collected
/// it, was cancelled already, or does not exist and now never will.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShipmentCancelledV1 {
    pub order_id: Uuid,
}

impl Message for ShipmentCancelledV1 {
    const TYPE: &'static str = "flotilla.shipping.shipment-cancelled.v1";
    const SUMMARY: &'static str = "Nothing will be shipped for the order.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// The order's shipment goes ahead: the carrier collected it before the cancellation arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ShipmentNotCancellableV1 {
    pub order_id: Uuid,
    /// Where the shipment is: the carrier has it already.
    pub status: ShipmentStatus,
}

impl Message for ShipmentNotCancellableV1 {
    const TYPE: &'static str = "flotilla.shipping.shipment-not-cancellable.v1";
    const SUMMARY: &'static str = "Too late: the carrier has the order's parcel.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}
