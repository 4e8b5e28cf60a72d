//! The payments context's messages: authorize an order's payment, capture it, or give it back.
//!
//! Payments talks to the card processor on the order's behalf; every command names the order,
//! and payments keeps one payment per order, so a command sent again is answered from what the
//! payment already is and never charges twice.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Message, MessageInfo, MessageKind, Money};

pub(crate) const MESSAGES: &[fn() -> MessageInfo] = &[
    || MessageInfo::command::<AuthorizePaymentV1>(&["ordering"], "payments.commands"),
    || MessageInfo::reply::<PaymentAuthorizedV1, AuthorizePaymentV1>(&["ordering.checkout"]),
    || MessageInfo::reply::<PaymentDeclinedV1, AuthorizePaymentV1>(&["ordering.checkout"]),
    || MessageInfo::reply::<PaymentFailedV1, AuthorizePaymentV1>(&["ordering.checkout"]),
    || MessageInfo::command::<CapturePaymentV1>(&["ordering"], "payments.commands"),
    || MessageInfo::reply::<PaymentCapturedV1, CapturePaymentV1>(&["ordering.checkout"]),
    || MessageInfo::reply::<PaymentCaptureFailedV1, CapturePaymentV1>(&["ordering.checkout"]),
    || MessageInfo::command::<CancelPaymentV1>(&["ordering"], "payments.commands"),
    || MessageInfo::reply::<PaymentCancelledV1, CancelPaymentV1>(&["ordering.checkout"]),
];

/// Holds the order's amount on the customer's card, to be captured once the order is confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AuthorizePaymentV1 {
    pub order_id: Uuid,
    /// Whose order it is, so that only they (and admins) may look at its payment.
    #[schemars(length(min = 1, max = 255))]
    pub customer_id: String,
    pub amount: Money,
    /// What the processor charges: one of its test card numbers here. A live integration would
    /// carry the processor's token for a card the browser gave it, never a card number.
    pub payment_method: String,
}

impl Message for AuthorizePaymentV1 {
    const TYPE: &'static str = "flotilla.payments.authorize-payment.v1";
    const SUMMARY: &'static str = "Hold the order's amount on the customer's card.";
    const KIND: MessageKind = MessageKind::Command;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentAuthorizedV1 {
    pub order_id: Uuid,
    pub payment_id: Uuid,
    pub amount: Money,
}

impl Message for PaymentAuthorizedV1 {
    const TYPE: &'static str = "flotilla.payments.payment-authorized.v1";
    const SUMMARY: &'static str = "The amount is held on the card, ready to capture.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// The processor refused the card; nothing is held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentDeclinedV1 {
    pub order_id: Uuid,
    /// The processor's reason: `card_declined`, `insufficient_funds`, ...
    pub code: String,
}

impl Message for PaymentDeclinedV1 {
    const TYPE: &'static str = "flotilla.payments.payment-declined.v1";
    const SUMMARY: &'static str = "The card was declined; nothing is held.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// The processor could not be used (out of reach, refusing work, breaker open); it is known
/// not to have held anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentFailedV1 {
    pub order_id: Uuid,
    pub reason: String,
}

impl Message for PaymentFailedV1 {
    const TYPE: &'static str = "flotilla.payments.payment-failed.v1";
    const SUMMARY: &'static str = "The payment could not be made; nothing is held.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// Takes the authorized amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CapturePaymentV1 {
    pub order_id: Uuid,
}

impl Message for CapturePaymentV1 {
    const TYPE: &'static str = "flotilla.payments.capture-payment.v1";
    const SUMMARY: &'static str = "The order is confirmed: take the authorized amount.";
    const KIND: MessageKind = MessageKind::Command;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentCapturedV1 {
    pub order_id: Uuid,
    pub amount: Money,
}

impl Message for PaymentCapturedV1 {
    const TYPE: &'static str = "flotilla.payments.payment-captured.v1";
    const SUMMARY: &'static str = "The amount is taken.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// Nothing could be captured: the payment was never authorized, or its hold is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentCaptureFailedV1 {
    pub order_id: Uuid,
    pub reason: String,
}

impl Message for PaymentCaptureFailedV1 {
    const TYPE: &'static str = "flotilla.payments.payment-capture-failed.v1";
    const SUMMARY: &'static str = "Nothing was captured for the order.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

/// Gives the customer's money back, whatever the payment has got to: a hold is voided, a
/// capture refunded, and nothing happens when nothing was taken. Sent before the authorization
/// is done, it waits for it and then undoes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CancelPaymentV1 {
    pub order_id: Uuid,
}

impl Message for CancelPaymentV1 {
    const TYPE: &'static str = "flotilla.payments.cancel-payment.v1";
    const SUMMARY: &'static str = "The order is off: void or refund its payment.";
    const KIND: MessageKind = MessageKind::Command;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PaymentCancelledV1 {
    pub order_id: Uuid,
    /// `voided`, `refunded`, or `nothing` (no money was ever held).
    pub outcome: String,
    /// What went back to the card by refund (zero for a void or nothing).
    pub refunded: Money,
}

impl Message for PaymentCancelledV1 {
    const TYPE: &'static str = "flotilla.payments.payment-cancelled.v1";
    const SUMMARY: &'static str = "Nothing is held or taken for the order any more.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.order_id.to_string()
    }
}
