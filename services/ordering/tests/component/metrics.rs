//! What ordering tells operators: each order counted once when its saga ends, with how it ended;
//! the time spent in each step, from the timeline; the age of the oldest unfinished saga.

use flotilla_contracts::inventory::{ReleaseStockV1, ReserveStockV1, StockReleasedV1, StockReservedV1};
use flotilla_contracts::payments::{AuthorizePaymentV1, PaymentDeclinedV1};
use flotilla_testkit::{Backend, on_both_backends};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::*;

on_both_backends!(an_order_that_ends_is_counted_once_with_its_outcome_and_its_steps_timed);

const OLDEST_OPEN: &str = r#"flotilla_saga_oldest_open_age_seconds{service="ordering"}"#;

fn at(entry: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(entry["at"].as_str().unwrap(), &Rfc3339).unwrap()
}

async fn an_order_that_ends_is_counted_once_with_its_outcome_and_its_steps_timed(backend: Backend) {
    let metrics = OwnMetrics::start();
    let mut world = world(backend, &[]).await;
    let order_id = world.checkout(APPROVE).await;
    metrics.becomes(OLDEST_OPEN, |age| age > 0.0).await;

    let (_, reserve) = world.next::<ReserveStockV1>().await;
    let reserved = StockReservedV1 { order_id, expires_at: "2030-01-01T00:00:00Z".into() };
    world.services.reply("inventory", &reserve, &reserved).await;
    let (_, authorize) = world.next::<AuthorizePaymentV1>().await;
    let declined = PaymentDeclinedV1 { order_id, code: "card_declined".into() };
    let declined = world.services.reply("payments", &authorize, &declined).await;
    let (_, release) = world.next::<ReleaseStockV1>().await;
    let released = world.services.reply("inventory", &release, &StockReleasedV1 { order_id }).await;
    let order = world.status_becomes(order_id, "rejected").await;
    // The same answers again, as a redelivery and as a second answer: the order ended once.
    world.services.resend(&released).await;
    world.services.resend(&declined).await;
    world.services.reply("inventory", &release, &StockReleasedV1 { order_id }).await;
    world.settled().await;

    assert_eq!(
        metrics.samples("flotilla_orders_total"),
        [(r#"service="ordering",outcome="rejected",reason="payment_declined""#.to_owned(), 1.0)]
    );
    // One observation per phase the saga left, none for the phase it ended in.
    let mut steps = metrics.samples("flotilla_saga_step_duration_seconds_count");
    steps.sort_by(|a, b| a.0.cmp(&b.0));
    let expected =
        ["authorizing", "reserving", "undoing"].map(|step| (format!(r#"service="ordering",step="{step}""#), 1.0));
    assert_eq!(steps, expected);
    // Measured between the timeline's entries: accepted, reserved, declined, released.
    let timeline = order["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 4, "{timeline:?}");
    for (step, from, to) in [("reserving", 0, 1), ("authorizing", 1, 2), ("undoing", 2, 3)] {
        let sum =
            metrics.value(&format!(r#"flotilla_saga_step_duration_seconds_sum{{service="ordering",step="{step}"}}"#));
        let between = (at(&timeline[to]) - at(&timeline[from])).as_seconds_f64();
        assert!(sum.is_some_and(|sum| (sum - between).abs() < 0.001), "{step}: {sum:?}, the timeline says {between}");
    }
    metrics.becomes(OLDEST_OPEN, |age| age == 0.0).await;
    // Messaging samples its consumers beside: nothing dead, nothing left.
    let consumer = r#"service="ordering",consumer="ordering.checkout""#;
    assert_eq!(metrics.value(&format!("flotilla_dead_letters{{{consumer}}}")), Some(0.0));
    metrics.becomes(&format!("flotilla_consumer_backlog_messages{{{consumer}}}"), |left| left == 0.0).await;
    world.stop().await;
}
