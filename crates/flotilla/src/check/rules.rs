//! The system's invariants, as rules over one snapshot of every service's records. Pure: the
//! snapshot is taken elsewhere, so every rule is tested here on hand-made records.

use std::collections::{BTreeMap, BTreeSet};

/// An order as ordering records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    /// pending, stock_reserved, payment_authorized, confirmed, shipped, rejected, cancelled.
    pub status: String,
    /// The saga still has steps that a timer must watch.
    pub in_progress: bool,
    pub timer_set: bool,
    pub total_minor: i64,
    /// What the order's saga learnt was captured.
    pub captured_minor: i64,
}

/// A SKU's counts beside what its records say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stock {
    pub sku: String,
    pub available: i64,
    pub reserved: i64,
    pub committed: i64,
    pub received: i64,
    pub moved: i64,
    pub held: i64,
    pub sold: i64,
}

/// A processor's payment intent for an order (its `reference`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub order_id: String,
    pub id: String,
    /// requires_payment_method, requires_capture, succeeded, canceled.
    pub status: String,
    pub captured: i64,
    pub refunded: i64,
}

/// A notification as notifications records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub order_id: String,
    pub milestone: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub orders: Vec<Order>,
    pub stock: Vec<Stock>,
    pub intents: Vec<Intent>,
    pub notifications: Vec<Notification>,
}

/// Every broken invariant, one sentence each.
pub fn violations(snapshot: &Snapshot) -> Vec<String> {
    let mut found = Vec::new();
    orders_are_terminal_or_timed(snapshot, &mut found);
    stock_is_conserved(snapshot, &mut found);
    money_matches_the_outcome(snapshot, &mut found);
    notifications_match_milestones(snapshot, &mut found);
    found
}

fn orders_are_terminal_or_timed(snapshot: &Snapshot, found: &mut Vec<String>) {
    for order in snapshot.orders.iter().filter(|o| o.in_progress && !o.timer_set) {
        found.push(format!("order {} is {} and in progress, but no timer watches it", order.id, order.status));
    }
}

fn stock_is_conserved(snapshot: &Snapshot, found: &mut Vec<String>) {
    for s in &snapshot.stock {
        let sku = &s.sku;
        if s.available < 0 || s.reserved < 0 || s.committed < 0 {
            found.push(format!("SKU {sku} has a negative count ({} / {} / {})", s.available, s.reserved, s.committed));
        }
        if s.available + s.reserved + s.committed != s.received {
            found.push(format!(
                "SKU {sku}: available {} + reserved {} + committed {} is not the {} received",
                s.available, s.reserved, s.committed, s.received
            ));
        }
        if s.received != s.moved {
            found.push(format!(
                "SKU {sku}: {} received, but its receipts and adjustments add to {}",
                s.received, s.moved
            ));
        }
        if s.reserved != s.held {
            found.push(format!("SKU {sku}: {} reserved, but the held reservations hold {}", s.reserved, s.held));
        }
        if s.committed != s.sold {
            found.push(format!("SKU {sku}: {} committed, but the committed reservations hold {}", s.committed, s.sold));
        }
    }
}

fn money_matches_the_outcome(snapshot: &Snapshot, found: &mut Vec<String>) {
    let mut intents: BTreeMap<&str, Vec<&Intent>> = BTreeMap::new();
    for intent in &snapshot.intents {
        intents.entry(intent.order_id.as_str()).or_default().push(intent);
    }
    let orders: BTreeSet<&str> = snapshot.orders.iter().map(|o| o.id.as_str()).collect();
    for (order_id, held) in &intents {
        if !orders.contains(order_id) {
            found.push(format!("the processor holds {} intent(s) for {order_id}, which is no order", held.len()));
        }
    }
    for order in &snapshot.orders {
        let held = intents.get(order.id.as_str()).map(Vec::as_slice).unwrap_or_default();
        let captures: Vec<&&Intent> = held.iter().filter(|i| i.captured > 0).collect();
        let net: i64 = held.iter().map(|i| i.captured - i.refunded).sum();
        match order.status.as_str() {
            "confirmed" | "shipped" if captures.len() != 1 || net != order.total_minor => {
                found.push(format!(
                    "order {} is {} for {}, but the processor captured {} time(s), {net} net",
                    order.id,
                    order.status,
                    order.total_minor,
                    captures.len()
                ));
            }
            "rejected" | "cancelled" => {
                if net != 0 {
                    found.push(format!("order {} is {}, but {net} stays captured", order.id, order.status));
                }
                if held.iter().any(|i| i.status == "requires_capture") {
                    found.push(format!(
                        "order {} is {}, but an authorization still holds the card",
                        order.id, order.status
                    ));
                }
            }
            _ => {}
        }
    }
}

/// The milestones an order's status proves it reached.
fn reached(order: &Order) -> &'static [&'static str] {
    match order.status.as_str() {
        "confirmed" => &["confirmed"],
        "shipped" => &["confirmed", "shipped"],
        "rejected" => &["rejected"],
        // Cancelled after it was confirmed (and paid), it was confirmed too.
        "cancelled" if order.captured_minor > 0 => &["confirmed", "cancelled"],
        "cancelled" => &["cancelled"],
        _ => &[],
    }
}

fn notifications_match_milestones(snapshot: &Snapshot, found: &mut Vec<String>) {
    let mut sent: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for n in &snapshot.notifications {
        *sent.entry((n.order_id.as_str(), n.milestone.as_str())).or_default() += 1;
    }
    let orders: BTreeMap<&str, &Order> = snapshot.orders.iter().map(|o| (o.id.as_str(), o)).collect();
    for ((order_id, milestone), count) in &sent {
        if *count > 1 {
            found.push(format!("order {order_id} was notified of {milestone} {count} times"));
        }
        match orders.get(order_id) {
            None => found.push(format!("a {milestone} notification for {order_id}, which is no order")),
            Some(order) if !reached(order).contains(milestone) => {
                found.push(format!("order {order_id} is {}, yet its customer was told {milestone}", order.status))
            }
            Some(_) => {}
        }
    }
    for order in &snapshot.orders {
        for milestone in reached(order) {
            if !sent.contains_key(&(order.id.as_str(), *milestone)) {
                found.push(format!("order {} reached {milestone}, and no notification says so", order.id));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, status: &str, total: i64) -> Order {
        let in_progress = !matches!(status, "confirmed" | "shipped" | "rejected" | "cancelled");
        Order {
            id: id.into(),
            status: status.into(),
            in_progress,
            timer_set: in_progress,
            total_minor: total,
            captured_minor: 0,
        }
    }

    fn intent(order_id: &str, status: &str, captured: i64, refunded: i64) -> Intent {
        Intent { order_id: order_id.into(), id: format!("pi_{order_id}"), status: status.into(), captured, refunded }
    }

    fn notified(order_id: &str, milestones: &[&str]) -> Vec<Notification> {
        milestones.iter().map(|m| Notification { order_id: order_id.into(), milestone: (*m).into() }).collect()
    }

    fn consistent() -> Snapshot {
        let mut notifications = notified("o1", &["confirmed", "shipped"]);
        notifications.extend(notified("o2", &["rejected"]));
        notifications.extend(notified("o4", &["confirmed", "cancelled"]));
        Snapshot {
            orders: vec![
                order("o1", "shipped", 500),
                order("o2", "rejected", 300),
                order("o3", "stock_reserved", 200),
                Order { captured_minor: 700, ..order("o4", "cancelled", 700) },
            ],
            stock: vec![Stock {
                sku: "A".into(),
                available: 5,
                reserved: 2,
                committed: 3,
                received: 10,
                moved: 10,
                held: 2,
                sold: 3,
            }],
            intents: vec![
                intent("o1", "succeeded", 500, 0),
                intent("o2", "canceled", 0, 0),
                intent("o4", "succeeded", 700, 700),
            ],
            notifications,
        }
    }

    #[test]
    fn a_consistent_system_has_no_violation() {
        assert_eq!(violations(&consistent()), Vec::<String>::new());
    }

    #[test]
    fn each_broken_invariant_is_reported() {
        type Breaks = Box<dyn Fn(&mut Snapshot)>;
        let cases: Vec<(&str, Breaks)> = vec![
            ("no timer watches", Box::new(|s| s.orders[2].timer_set = false)),
            ("negative count", Box::new(|s| s.stock[0].available = -1)),
            ("is not the 11 received", Box::new(|s| s.stock[0].received = 11)),
            ("held reservations hold", Box::new(|s| s.stock[0].held = 1)),
            ("captured 2 time(s)", Box::new(|s| s.intents.push(intent("o1", "succeeded", 500, 0)))),
            ("captured 0 time(s), 0 net", Box::new(|s| s.intents[0].captured = 0)),
            ("500 stays captured", Box::new(|s| s.intents.push(intent("o2", "succeeded", 500, 0)))),
            ("still holds the card", Box::new(|s| s.intents[1].status = "requires_capture".into())),
            ("which is no order", Box::new(|s| s.intents.push(intent("o9", "succeeded", 1, 0)))),
            ("notified of shipped 2 times", Box::new(|s| s.notifications.extend(notified("o1", &["shipped"])))),
            (
                "yet its customer was told confirmed",
                Box::new(|s| s.notifications.extend(notified("o2", &["confirmed"]))),
            ),
            ("no notification says so", Box::new(|s| s.notifications.retain(|n| n.milestone != "rejected"))),
        ];
        for (expected, breaks) in cases {
            let mut snapshot = consistent();
            breaks(&mut snapshot);
            let found = violations(&snapshot);
            assert!(found.iter().any(|v| v.contains(expected)), "{expected}: {found:?}");
        }
    }
}
