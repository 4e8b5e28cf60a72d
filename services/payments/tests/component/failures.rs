//! The processor misbehaving: slow, down, or acting and then not answering. Each case ends with
//! the money right at the processor, and no outcome guessed.

use std::time::Duration;

use flotilla_contracts::payments::{CapturePaymentV1, PaymentAuthorizedV1, PaymentCapturedV1, PaymentFailedV1};
use flotilla_testkit::{Backend, on_both_backends};
use serde_json::json;
use uuid::Uuid;

use crate::support::*;

const CALLS: &str = "payments_provider_calls_total";

on_both_backends!(
    an_authorization_that_acted_then_timed_out_is_resolved_by_asking,
    a_capture_that_acted_then_timed_out_captures_once,
    a_slow_processor_times_out_then_recovers,
    an_outage_opens_the_breaker_and_authorizations_fail_fast,
);

async fn an_authorization_that_acted_then_timed_out_is_resolved_by_asking(backend: Backend) {
    let mut world = world(backend, &[]).await;
    // The processor authorizes, then answers after the client (500 ms) gave up.
    world.faults(json!({"act_then_timeout": 1, "hang_ms": 2000})).await;
    let order = Uuid::now_v7();
    world.ordering.send("ordering", &authorize(order, APPROVE, 4200)).await;
    let authorized = world.ordering.expect::<PaymentAuthorizedV1>().await;
    assert_eq!(authorized.amount.amount_minor, 4200);
    assert_eq!(world.intents(order).await.len(), 1, "asked, not authorized again");
    world.metric_reaches(CALLS, &[("call", "authorize"), ("outcome", "unknown")], 1.0).await;
    world.stop().await;
}

async fn a_capture_that_acted_then_timed_out_captures_once(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order = Uuid::now_v7();
    world.ordering.send("ordering", &authorize(order, APPROVE, 3100)).await;
    world.ordering.expect::<PaymentAuthorizedV1>().await;
    world.faults(json!({"act_then_timeout": 1, "hang_ms": 2000})).await;
    world.ordering.send("ordering", &CapturePaymentV1 { order_id: order }).await;
    assert_eq!(world.ordering.expect::<PaymentCapturedV1>().await.amount.amount_minor, 3100);
    let intents = world.intents(order).await;
    assert_eq!((intents.len(), intents[0]["amount_captured"].as_i64()), (1, Some(3100)));
    world.stop().await;
}

async fn a_slow_processor_times_out_then_recovers(backend: Backend) {
    let mut world = world(backend, &[("services.payments.worker.authorize_attempts", json!(50))]).await;
    world.faults(json!({"latency_ms": 1500})).await;
    let order = Uuid::now_v7();
    world.ordering.send("ordering", &authorize(order, APPROVE, 900)).await;
    world.metric_reaches(CALLS, &[("call", "authorize"), ("outcome", "unknown")], 2.0).await;
    world.metric_reaches("flotilla_retries_total", &[("dependency", "payment-provider")], 1.0).await;
    world.ordering.expect_silence(Duration::from_millis(100)).await;
    world.faults(json!({})).await;
    world.ordering.expect::<PaymentAuthorizedV1>().await;
    // A slow call may still have acted after the client left: the idempotency key makes every
    // attempt the same one, so the processor holds one intent however many were sent.
    assert_eq!(world.intents(order).await.len(), 1);
    world.stop().await;
}

async fn an_outage_opens_the_breaker_and_authorizations_fail_fast(backend: Backend) {
    let breaker = [
        ("services.payments.worker.breaker.consecutive_failures", json!(2)),
        ("services.payments.worker.breaker.open_ms", json!(500)),
    ];
    let mut world = world(backend, &breaker).await;
    world.faults(json!({"outage": true})).await;
    let orders: Vec<Uuid> = (0..4).map(|_| Uuid::now_v7()).collect();
    for order in &orders {
        world.ordering.send("ordering", &authorize(*order, APPROVE, 1000)).await;
    }
    for _ in &orders {
        let failed = world.ordering.expect::<PaymentFailedV1>().await;
        assert!(orders.contains(&failed.order_id));
    }
    world.metric_reaches(CALLS, &[("call", "authorize"), ("outcome", "circuit_open")], 1.0).await;
    // Its value is every payments' of this binary at once (they share `service`); the breaker's
    // own test follows the states.
    world.metric_reaches("flotilla_circuit_breaker_state", &[("dependency", "payment-provider")], 0.0).await;
    // The processor is back: nothing was held during the outage, and once the breaker lets a
    // probe through, payments go through again.
    world.faults(json!({})).await;
    for order in &orders {
        assert!(world.intents(*order).await.is_empty(), "nothing held during the outage");
        assert_eq!(world.payment(*order).await["state"], "failed");
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let order = Uuid::now_v7();
    world.ordering.send("ordering", &authorize(order, APPROVE, 1000)).await;
    world.ordering.expect::<PaymentAuthorizedV1>().await;
    world.stop().await;
}
