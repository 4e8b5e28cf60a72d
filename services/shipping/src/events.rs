//! The shipping service's published language, translated from its state, and the timer it sets
//! itself for the simulated carrier.

use flotilla_chassis::db::timestamp;
use flotilla_contracts::shipping::{ShipmentStatus, ShipmentStatusChangedV1};
use flotilla_contracts::{Message, MessageInfo, MessageKind, registry};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::shipment::Status;
use crate::store::Shipment;

/// What this service sends, for `/events` and the AsyncAPI document.
pub fn published() -> Vec<MessageInfo> {
    registry().into_iter().filter(|info| info.is_sent_by(crate::SERVICE.name)).collect()
}

/// The carrier is due to take a shipment's next step. Private to shipping: it never leaves the
/// service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CarrierStepDueV1 {
    pub order_id: Uuid,
    /// Where the shipment was when the step was planned: a timer that finds it elsewhere (a
    /// cancellation got there first) is stale and does nothing.
    pub from: ShipmentStatus,
}

impl Message for CarrierStepDueV1 {
    const TYPE: &'static str = "flotilla.shipping.carrier-step-due.v1";
    const SUMMARY: &'static str = "The carrier's next step for a shipment came due.";
    const KIND: MessageKind = MessageKind::Timer;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// The carrier's timer of an order's shipment: one per shipment, so a cancellation finds it.
pub fn carrier_timer(order_id: Uuid) -> String {
    format!("carrier:{order_id}")
}

pub fn status_changed(shipment: &Shipment, status: Status, at: OffsetDateTime) -> ShipmentStatusChangedV1 {
    ShipmentStatusChangedV1 {
        shipment_id: shipment.shipment_id,
        order_id: shipment.order_id,
        status: to_contract(status),
        carrier: shipment.carrier.clone(),
        tracking_number: shipment.tracking_number.clone(),
        at: timestamp(at),
    }
}

pub fn to_contract(status: Status) -> ShipmentStatus {
    match status {
        Status::LabelCreated => ShipmentStatus::LabelCreated,
        Status::Dispatched => ShipmentStatus::Dispatched,
        Status::InTransit => ShipmentStatus::InTransit,
        Status::OutForDelivery => ShipmentStatus::OutForDelivery,
        Status::Delivered => ShipmentStatus::Delivered,
        Status::Cancelled => ShipmentStatus::Cancelled,
    }
}

pub fn from_contract(status: ShipmentStatus) -> Status {
    match status {
        ShipmentStatus::LabelCreated => Status::LabelCreated,
        ShipmentStatus::Dispatched => Status::Dispatched,
        ShipmentStatus::InTransit => Status::InTransit,
        ShipmentStatus::OutForDelivery => Status::OutForDelivery,
        ShipmentStatus::Delivered => Status::Delivered,
        ShipmentStatus::Cancelled => Status::Cancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_means_the_same_on_the_wire() {
        for status in Status::ALL {
            assert_eq!(from_contract(to_contract(status)), status);
            let wire = serde_json::to_value(to_contract(status)).unwrap();
            assert_eq!(wire, status.as_str(), "the contract spells it as the service stores it");
        }
    }
}
