//! What each order milestone tells the customer: one mail per order and milestone, its subject
//! and plain-text body rendered from the event alone (no call back to ordering).

use std::fmt::Write as _;

use flotilla_contracts::ordering::{OrderCancelledV1, OrderConfirmedV1, OrderLine, OrderRejectedV1, OrderShippedV1};
use uuid::Uuid;

use super::money;

/// The milestones a customer hears about. Stored by `as_str`, which must therefore never change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Milestone {
    Confirmed,
    Rejected,
    Cancelled,
    Shipped,
}

impl Milestone {
    pub const ALL: [Milestone; 4] = [Self::Confirmed, Self::Rejected, Self::Cancelled, Self::Shipped];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Shipped => "shipped",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == text)
    }
}

/// Where a notification is on its way to the customer. Stored by `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Recorded, not yet accepted by the relay (waiting for its first or next attempt).
    Pending,
    /// The relay accepted it.
    Sent,
    /// Given up on: a permanent refusal, or too many attempts.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Sent, Self::Failed].into_iter().find(|s| s.as_str() == text)
    }
}

/// A notification as a milestone event describes it, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub order_id: Uuid,
    pub milestone: Milestone,
    /// Whose order it is (the token subject that may read it back).
    pub customer_id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

/// The `Message-ID` of an order's milestone mail: the same every time it is sent, so that a mail
/// sent twice (a crash after the relay accepted it but before it was marked sent) carries one id
/// that mail systems and clients recognise as the same message.
pub fn message_id(order_id: Uuid, milestone: Milestone, domain: &str) -> String {
    format!("<order-{}.{order_id}@{domain}>", milestone.as_str())
}

/// The domain part of an address such as `Shop <orders@shop.example>`; `localhost` when it has none.
pub fn domain_of(address: &str) -> &str {
    let address = address.trim().trim_end_matches('>');
    match address.rsplit_once('@') {
        Some((_, domain)) if !domain.is_empty() => domain,
        _ => "localhost",
    }
}

const SIGNATURE: &str = "\nThank you for shopping with Flotilla.\n";

pub fn confirmed(event: &OrderConfirmedV1) -> Draft {
    // Lines stay short of 78 characters, so that plain ASCII travels as 7bit, unencoded.
    let mut body =
        format!("Hello,\n\nyour order {} is confirmed:\nit is paid for and will be shipped soon.\n\n", event.order_id);
    for line in &event.lines {
        body.push_str(&line_text(line));
    }
    let _ = writeln!(body, "\nTotal: {}", money::format(&event.total));
    body.push_str(SIGNATURE);
    Draft {
        order_id: event.order_id,
        milestone: Milestone::Confirmed,
        customer_id: event.customer.customer_id.clone(),
        recipient: event.customer.email.clone(),
        subject: format!("Your order {} is confirmed", event.order_id),
        body,
    }
}

pub fn rejected(event: &OrderRejectedV1) -> Draft {
    let body = format!(
        "Hello,\n\nwe are sorry: your order {}\ncould not be completed because {} ({}).\n\
         Nothing was charged for it.\n{SIGNATURE}",
        event.order_id,
        reason_text(&event.reason),
        event.reason,
    );
    Draft {
        order_id: event.order_id,
        milestone: Milestone::Rejected,
        customer_id: event.customer.customer_id.clone(),
        recipient: event.customer.email.clone(),
        subject: format!("Your order {} could not be completed", event.order_id),
        body,
    }
}

pub fn cancelled(event: &OrderCancelledV1) -> Draft {
    let refund = if event.refunded.amount_minor == 0 {
        "Nothing was charged: the payment was released.".to_owned()
    } else {
        format!("Refunded to your card: {}.", money::format(&event.refunded))
    };
    let body = format!("Hello,\n\nyour order {} is cancelled, as you asked.\n{refund}\n{SIGNATURE}", event.order_id);
    Draft {
        order_id: event.order_id,
        milestone: Milestone::Cancelled,
        customer_id: event.customer.customer_id.clone(),
        recipient: event.customer.email.clone(),
        subject: format!("Your order {} is cancelled", event.order_id),
        body,
    }
}

pub fn shipped(event: &OrderShippedV1) -> Draft {
    let body = format!(
        "Hello,\n\nyour order {} is on its way.\nCarrier: {}\nTracking number: {}\n{SIGNATURE}",
        event.order_id,
        one_line(&event.carrier),
        one_line(&event.tracking_number),
    );
    Draft {
        order_id: event.order_id,
        milestone: Milestone::Shipped,
        customer_id: event.customer.customer_id.clone(),
        recipient: event.customer.email.clone(),
        subject: format!("Your order {} has shipped", event.order_id),
        body,
    }
}

/// "2 x Kettle (KET-1) at 34.99 EUR: 69.98 EUR". The line total is left out when it would
/// overflow, rather than printed wrong.
fn line_text(line: &OrderLine) -> String {
    let each = money::format(&line.unit_price);
    let total = line.unit_price.amount_minor.checked_mul(i64::from(line.quantity)).map(|amount_minor| {
        money::format(&flotilla_contracts::Money { amount_minor, currency: line.unit_price.currency.clone() })
    });
    let (name, sku) = (one_line(&line.name), one_line(&line.sku));
    match total {
        Some(total) => format!("  {} x {name} ({sku}) at {each}: {total}\n", line.quantity),
        None => format!("  {} x {name} ({sku}) at {each}\n", line.quantity),
    }
}

/// What a rejection reason code means to a customer; an unknown code is shown as it is.
fn reason_text(reason: &str) -> String {
    match reason {
        "out-of-stock" => "some of its items are out of stock".into(),
        "payment-declined" => "the payment was declined".into(),
        "payment-failed" => "the payment could not be processed".into(),
        "timed-out" => "it could not be completed in time".into(),
        other => format!("of \"{}\"", one_line(other)),
    }
}

/// Text from another service, kept on one line so that it cannot reshape the mail.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use flotilla_contracts::Money;
    use flotilla_contracts::ordering::{Address, Customer};

    use super::*;

    fn customer() -> Customer {
        Customer { customer_id: "user-1".into(), email: "ada@example.com".into() }
    }

    fn eur(amount_minor: i64) -> Money {
        Money { amount_minor, currency: "EUR".into() }
    }

    #[test]
    fn a_confirmation_lists_the_lines_and_the_total() {
        let order_id = Uuid::now_v7();
        let event = OrderConfirmedV1 {
            order_id,
            customer: customer(),
            lines: vec![OrderLine {
                product_id: Uuid::now_v7(),
                sku: "KET-1".into(),
                name: "Kettle".into(),
                quantity: 2,
                unit_price: eur(3499),
            }],
            total: eur(6998),
            ship_to: Address {
                name: "Ada".into(),
                line1: "1 Main St".into(),
                line2: None,
                city: "Paris".into(),
                postal_code: "75001".into(),
                country: "FR".into(),
            },
        };
        let draft = confirmed(&event);
        assert_eq!(draft.milestone, Milestone::Confirmed);
        assert_eq!((draft.recipient.as_str(), draft.customer_id.as_str()), ("ada@example.com", "user-1"));
        assert_eq!(draft.subject, format!("Your order {order_id} is confirmed"));
        assert!(draft.body.contains(&order_id.to_string()), "{}", draft.body);
        assert!(draft.body.contains("  2 x Kettle (KET-1) at 34.99 EUR: 69.98 EUR\n"), "{}", draft.body);
        assert!(draft.body.contains("Total: 69.98 EUR"), "{}", draft.body);
    }

    #[test]
    fn a_line_whose_total_overflows_is_shown_without_it() {
        let line = OrderLine {
            product_id: Uuid::now_v7(),
            sku: "BIG".into(),
            name: "Big\r\nBcc: x".into(),
            quantity: 3,
            unit_price: eur(i64::MAX / 2),
        };
        let each = money::format(&line.unit_price);
        assert_eq!(line_text(&line), format!("  3 x Big  Bcc: x (BIG) at {each}\n"), "no total, and no new lines");
    }

    #[test]
    fn a_rejection_says_why_in_words_and_by_code() {
        let event =
            OrderRejectedV1 { order_id: Uuid::now_v7(), customer: customer(), reason: "payment-declined".into() };
        let draft = rejected(&event);
        assert!(draft.body.contains("the payment was declined (payment-declined)"), "{}", draft.body);
        let odd = OrderRejectedV1 { reason: "gremlins".into(), ..event };
        assert!(rejected(&odd).body.contains("\"gremlins\""));
    }

    #[test]
    fn a_cancellation_states_the_refund_or_that_nothing_was_charged() {
        let event = OrderCancelledV1 { order_id: Uuid::now_v7(), customer: customer(), refunded: eur(1250) };
        assert!(cancelled(&event).body.contains("Refunded to your card: 12.50 EUR."));
        let voided = OrderCancelledV1 { refunded: eur(0), ..event };
        assert!(cancelled(&voided).body.contains("Nothing was charged"));
    }

    #[test]
    fn a_shipment_names_the_carrier_and_tracking_number() {
        let event = OrderShippedV1 {
            order_id: Uuid::now_v7(),
            customer: customer(),
            carrier: "DHL".into(),
            tracking_number: "JD0123".into(),
        };
        let draft = shipped(&event);
        assert!(draft.body.contains("Carrier: DHL\nTracking number: JD0123\n"), "{}", draft.body);
        assert_eq!(draft.milestone, Milestone::Shipped);
    }

    #[test]
    fn message_ids_are_stable_per_order_and_milestone() {
        let order_id = Uuid::now_v7();
        let id = message_id(order_id, Milestone::Shipped, "shop.example");
        assert_eq!(id, message_id(order_id, Milestone::Shipped, "shop.example"));
        assert_ne!(id, message_id(order_id, Milestone::Confirmed, "shop.example"));
        assert_eq!(id, format!("<order-shipped.{order_id}@shop.example>"));
    }

    #[test]
    fn the_domain_comes_from_the_sender_address() {
        assert_eq!(domain_of("Shop <orders@shop.example>"), "shop.example");
        assert_eq!(domain_of("orders@shop.example"), "shop.example");
        assert_eq!(domain_of("nobody"), "localhost");
    }

    #[test]
    fn milestones_and_states_round_trip_through_their_stored_names() {
        for milestone in Milestone::ALL {
            assert_eq!(Milestone::parse(milestone.as_str()), Some(milestone));
        }
        for status in [Status::Pending, Status::Sent, Status::Failed] {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Milestone::parse("placed"), None);
    }
}
