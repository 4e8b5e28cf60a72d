//! Payments as the checkout saga uses them, against the real processor simulator: every command
//! answered to its sender, money moved exactly once, and the processor's records agreeing.

use std::time::Duration;

use flotilla_contracts::payments::{
    CancelPaymentV1, CapturePaymentV1, PaymentAuthorizedV1, PaymentCancelledV1, PaymentCaptureFailedV1,
    PaymentCapturedV1, PaymentDeclinedV1, PaymentFailedV1,
};
use flotilla_testkit::{Backend, on_both_backends};
use uuid::Uuid;

use crate::support::*;

on_both_backends!(
    authorized_captured_and_refunded,
    authorized_then_voided,
    declines_hold_nothing,
    a_resent_authorization_charges_once,
    a_cancellation_before_the_authorization_bars_it,
    a_cancellation_during_the_authorization_voids_it_afterwards,
    a_malformed_card_is_declined_without_a_call,
);

async fn authorized_captured_and_refunded(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order = Uuid::now_v7();
    let command = world.ordering.send("ordering", &authorize(order, APPROVE, 6998)).await;
    let reply = world.ordering.receive(1).await.remove(0);
    assert_eq!(reply.causation_id, Some(command.id.to_string()), "the answer is correlated to the command");
    let authorized: PaymentAuthorizedV1 = reply.decode().unwrap();
    assert_eq!((authorized.order_id, authorized.amount.amount_minor), (order, 6998));
    assert_eq!(world.payment(order).await["state"], "authorized");

    world.ordering.send("ordering", &CapturePaymentV1 { order_id: order }).await;
    assert_eq!(world.ordering.expect::<PaymentCapturedV1>().await.amount.amount_minor, 6998);
    world.ordering.send("ordering", &CapturePaymentV1 { order_id: order }).await;
    assert_eq!(world.ordering.expect::<PaymentCapturedV1>().await.amount.amount_minor, 6998, "answered again");

    world.ordering.send("ordering", &CancelPaymentV1 { order_id: order }).await;
    let cancelled = world.ordering.expect::<PaymentCancelledV1>().await;
    assert_eq!((cancelled.outcome.as_str(), cancelled.refunded.amount_minor), ("refunded", 6998));
    let intents = world.intents(order).await;
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(
        (intents[0]["amount_captured"].as_i64(), intents[0]["amount_refunded"].as_i64()),
        (Some(6998), Some(6998))
    );
    let payment = world.payment(order).await;
    assert_eq!(
        (payment["state"].as_str(), payment["refunded"]["amount_minor"].as_i64()),
        (Some("refunded"), Some(6998))
    );
    world.stop().await;
}

async fn authorized_then_voided(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order = Uuid::now_v7();
    world.ordering.send("ordering", &authorize(order, APPROVE, 1500)).await;
    world.ordering.expect::<PaymentAuthorizedV1>().await;
    world.ordering.send("ordering", &CancelPaymentV1 { order_id: order }).await;
    let cancelled = world.ordering.expect::<PaymentCancelledV1>().await;
    assert_eq!((cancelled.outcome.as_str(), cancelled.refunded.amount_minor), ("voided", 0));
    assert_eq!(world.intents(order).await[0]["status"], "canceled");
    world.ordering.send("ordering", &CapturePaymentV1 { order_id: order }).await;
    world.ordering.expect::<PaymentCaptureFailedV1>().await;
    assert_eq!(world.intents(order).await[0]["amount_captured"], 0, "nothing was ever taken");
    world.stop().await;
}

async fn declines_hold_nothing(backend: Backend) {
    let mut world = world(backend, &[]).await;
    for (card, code) in [(DECLINE, "card_declined"), (NO_FUNDS, "insufficient_funds")] {
        let order = Uuid::now_v7();
        world.ordering.send("ordering", &authorize(order, card, 1000)).await;
        assert_eq!(world.ordering.expect::<PaymentDeclinedV1>().await.code, code);
        world.ordering.send("ordering", &CapturePaymentV1 { order_id: order }).await;
        world.ordering.expect::<PaymentCaptureFailedV1>().await;
        world.ordering.send("ordering", &CancelPaymentV1 { order_id: order }).await;
        assert_eq!(world.ordering.expect::<PaymentCancelledV1>().await.outcome, "nothing");
        let payment = world.payment(order).await;
        assert_eq!((payment["state"].as_str(), payment["detail"].as_str()), (Some("declined"), Some(code)));
    }
    world.stop().await;
}

async fn a_resent_authorization_charges_once(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order = Uuid::now_v7();
    let first = world.ordering.send("ordering", &authorize(order, APPROVE, 2000)).await;
    world.ordering.resend(&first).await;
    world.ordering.send("ordering", &authorize(order, APPROVE, 2000)).await;
    // The duplicate envelope is dropped by the inbox; the second command is answered from state.
    world.ordering.expect::<PaymentAuthorizedV1>().await;
    world.ordering.expect::<PaymentAuthorizedV1>().await;
    world.ordering.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(world.intents(order).await.len(), 1, "one authorization at the processor");
    world.stop().await;
}

async fn a_cancellation_before_the_authorization_bars_it(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order = Uuid::now_v7();
    world.ordering.send("ordering", &CancelPaymentV1 { order_id: order }).await;
    assert_eq!(world.ordering.expect::<PaymentCancelledV1>().await.outcome, "nothing");
    world.ordering.send("ordering", &authorize(order, APPROVE, 2000)).await;
    let failed = world.ordering.expect::<PaymentFailedV1>().await;
    assert!(failed.reason.contains("cancelled"), "{failed:?}");
    assert!(world.intents(order).await.is_empty(), "the processor was never asked");
    world.stop().await;
}

async fn a_cancellation_during_the_authorization_voids_it_afterwards(backend: Backend) {
    let mut world = world(backend, &[]).await;
    // Slow enough that the cancellation arrives while the authorization is with the processor.
    world.faults(serde_json::json!({"latency_ms": 300})).await;
    let order = Uuid::now_v7();
    world.ordering.send("ordering", &authorize(order, APPROVE, 2500)).await;
    world.ordering.send("ordering", &CancelPaymentV1 { order_id: order }).await;
    world.ordering.expect::<PaymentAuthorizedV1>().await;
    assert_eq!(world.ordering.expect::<PaymentCancelledV1>().await.outcome, "voided");
    assert_eq!(world.intents(order).await[0]["status"], "canceled");
    world.stop().await;
}

async fn a_malformed_card_is_declined_without_a_call(backend: Backend) {
    let mut world = world(backend, &[]).await;
    let order = Uuid::now_v7();
    world.ordering.send("ordering", &authorize(order, "4242-not-a-card", 1000)).await;
    assert_eq!(world.ordering.expect::<PaymentDeclinedV1>().await.code, "invalid_number");
    assert!(world.intents(order).await.is_empty());
    world.stop().await;
}
