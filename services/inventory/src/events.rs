//! The inventory service's published language, and the timer it sets itself.

use flotilla_contracts::{Message, MessageInfo, MessageKind, registry};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What this service sends, for `/events` and the AsyncAPI document.
pub fn published() -> Vec<MessageInfo> {
    registry().into_iter().filter(|info| info.is_sent_by(crate::SERVICE.name)).collect()
}

/// A reservation's hold comes due. Private to inventory: it never leaves the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HoldDueV1 {
    pub order_id: Uuid,
}

impl Message for HoldDueV1 {
    const TYPE: &'static str = "flotilla.inventory.hold-due.v1";
    const SUMMARY: &'static str = "A reservation's hold came due.";
    const KIND: MessageKind = MessageKind::Timer;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// The timer of an order's hold: one per order, so setting it again moves it.
pub fn hold_timer(order_id: Uuid) -> String {
    format!("hold:{order_id}")
}
