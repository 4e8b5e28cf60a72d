//! Each milestone ordering publishes becomes exactly one mail to the order's customer, whatever
//! is sent again: the same envelope under a new bus id (the inbox), or a new envelope for the
//! same milestone (the UNIQUE order and milestone).

use flotilla_contracts::ordering::{OrderCancelledV1, OrderRejectedV1};
use flotilla_testkit::{Backend, on_both_backends};
use serde_json::Value;
use uuid::Uuid;

use crate::support::*;

on_both_backends!(each_milestone_mails_its_customer_exactly_once);

fn message_to<'a>(messages: &'a [Value], subject: &str) -> &'a Value {
    let matching: Vec<&Value> = messages.iter().filter(|m| m["subject"] == subject).collect();
    assert_eq!(matching.len(), 1, "one mail with subject {subject:?}: {messages:#?}");
    matching[0]
}

async fn each_milestone_mails_its_customer_exactly_once(backend: Backend) {
    let (app, _nats) = service(backend, &[]).await;
    let peer = ordering(&app).await;
    let (shipped_order, rejected_order, cancelled_order) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let ada = customer("ada");
    let envelopes = vec![
        peer.send("ordering", &confirmed(shipped_order, ada.clone())).await,
        peer.send("ordering", &shipped(shipped_order, ada.clone())).await,
        peer.send(
            "ordering",
            &OrderRejectedV1 { order_id: rejected_order, customer: customer("bob"), reason: "out-of-stock".into() },
        )
        .await,
        peer.send(
            "ordering",
            &OrderCancelledV1 { order_id: cancelled_order, customer: ada.clone(), refunded: eur(6998) },
        )
        .await,
    ];
    // Everything again: each envelope under a new bus id, and each milestone in a new envelope.
    for envelope in &envelopes {
        peer.resend(envelope).await;
    }
    peer.send("ordering", &confirmed(shipped_order, ada.clone())).await;
    peer.send("ordering", &shipped(shipped_order, ada.clone())).await;
    peer.send(
        "ordering",
        &OrderRejectedV1 { order_id: rejected_order, customer: customer("bob"), reason: "out-of-stock".into() },
    )
    .await;
    peer.send("ordering", &OrderCancelledV1 { order_id: cancelled_order, customer: ada.clone(), refunded: eur(6998) })
        .await;
    settled(&peer).await;

    let mine = wait_for(&app, shipped_order, 2, is("sent")).await;
    assert_eq!(mine[0]["milestone"], "confirmed");
    assert_eq!(mine[1]["milestone"], "shipped");
    for notification in &mine {
        assert_eq!(notification["recipient"], "ada@example.com");
        assert_eq!(notification["attempts"], 1);
        assert!(notification["sent_at"].is_string(), "{notification}");
    }
    wait_for(&app, rejected_order, 1, is("sent")).await;
    wait_for(&app, cancelled_order, 1, is("sent")).await;

    let messages = sink_messages(&app).await;
    assert_eq!(messages.len(), 4, "one mail per order and milestone, none for a resend: {messages:#?}");
    for message in &messages {
        assert_eq!(message["from"], "orders@flotilla.localhost");
    }

    let confirmation = message_to(&messages, &format!("Your order {shipped_order} is confirmed"));
    assert_eq!(confirmation["to"], serde_json::json!(["ada@example.com"]));
    assert_eq!(confirmation["message_id"], format!("<order-confirmed.{shipped_order}@flotilla.localhost>"));
    let body = confirmation["body"].as_str().unwrap();
    assert!(body.contains(&shipped_order.to_string()), "{body}");
    assert!(body.contains("2 x Kettle (KET-1) at 34.99 EUR: 69.98 EUR"), "{body}");
    assert!(body.contains("1 x Mug (MUG-2) at 5.50 EUR: 5.50 EUR"), "{body}");
    assert!(body.contains("Total: 75.48 EUR"), "{body}");

    let shipment = message_to(&messages, &format!("Your order {shipped_order} has shipped"));
    assert_eq!(shipment["message_id"], format!("<order-shipped.{shipped_order}@flotilla.localhost>"));
    let body = shipment["body"].as_str().unwrap();
    assert!(body.contains("Carrier: DHL\nTracking number: JD014600006281230\n"), "{body}");

    let rejection = message_to(&messages, &format!("Your order {rejected_order} could not be completed"));
    assert_eq!(rejection["to"], serde_json::json!(["bob@example.com"]));
    assert!(rejection["body"].as_str().unwrap().contains("some of its items are out of stock (out-of-stock)"));

    let cancellation = message_to(&messages, &format!("Your order {cancelled_order} is cancelled"));
    assert!(cancellation["body"].as_str().unwrap().contains("Refunded to your card: 69.98 EUR."));
    app.stop().await;
}
