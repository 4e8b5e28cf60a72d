//! Idempotency as processors offer it: a retry gets the first answer (a decline included), a key
//! reused with another request is refused, and one key sent many times at once acts once.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::support::*;

on_both_backends!(
    a_retry_gets_the_first_answer_and_acts_once,
    a_retried_decline_replays_the_same_402,
    a_key_reused_with_another_request_is_refused,
    keys_are_scoped_per_endpoint,
    every_post_needs_an_idempotency_key,
    one_key_sent_at_once_acts_once,
    competing_captures_of_one_intent_let_one_win,
);

const RACERS: usize = 8;
/// Enough that, without the row lock, several captures overlap and win on PostgreSQL (checked:
/// with 8 they seldom overlap on a small machine).
const CAPTURERS: usize = 32;

async fn a_retry_gets_the_first_answer_and_acts_once(backend: Backend) {
    let app = provider(backend).await;
    let body = intent_request(APPROVED, 1500, "order-20");
    let first = post(&app, INTENTS, "create-1", Some(body.clone())).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotent-replayed").is_none(), "a first answer is not a replay");
    let first: Value = first.json().await.unwrap();
    let again = post(&app, INTENTS, "create-1", Some(body)).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    assert_eq!(count(&app, "payment_intents").await, 1);

    // Capture and refund replay the same way, and do not act twice.
    let capture = format!("{INTENTS}/{}/capture", id(&first));
    let captured: Value = post(&app, &capture, "capture-1", None).await.json().await.unwrap();
    let replayed = post(&app, &capture, "capture-1", None).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(replayed.json::<Value>().await.unwrap(), captured);
    let refund = json!({"payment_intent": id(&first), "amount": 100});
    let refunded: Value = post(&app, REFUNDS, "refund-1", Some(refund.clone())).await.json().await.unwrap();
    let replayed = post(&app, REFUNDS, "refund-1", Some(refund)).await;
    assert_eq!(replayed.status(), StatusCode::OK);
    assert_eq!(replayed.json::<Value>().await.unwrap(), refunded);
    assert_eq!(count(&app, "refunds").await, 1);
    assert_eq!(get_json(&app, &format!("{INTENTS}/{}", id(&first))).await["amount_refunded"], 100);
    app.stop().await;
}

async fn a_retried_decline_replays_the_same_402(backend: Backend) {
    let app = provider(backend).await;
    let body = intent_request(INSUFFICIENT_FUNDS, 800, "order-21");
    let first = post(&app, INTENTS, "decline-1", Some(body.clone())).await;
    let first = expect_problem(first, StatusCode::PAYMENT_REQUIRED, "card-declined").await;
    let again = post(&app, INTENTS, "decline-1", Some(body)).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = expect_problem(again, StatusCode::PAYMENT_REQUIRED, "card-declined").await;
    assert_eq!(again, first, "the same document, the same intent");
    assert_eq!(count(&app, "payment_intents").await, 1);

    // A refusal is a result too: replayed, even after the state that caused it is gone.
    let intent = authorize(&app, 300, "order-21").await;
    let capture = format!("{INTENTS}/{}/capture", id(&intent));
    let too_much = Some(json!({"amount_to_capture": 301}));
    let refused =
        expect_problem(post(&app, &capture, "capture-2", too_much.clone()).await, StatusCode::CONFLICT, "conflict")
            .await;
    let replayed = post(&app, &capture, "capture-2", too_much).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_problem(replayed, StatusCode::CONFLICT, "conflict").await, refused);
    app.stop().await;
}

async fn a_key_reused_with_another_request_is_refused(backend: Backend) {
    let app = provider(backend).await;
    let first = post(&app, INTENTS, "reused", Some(intent_request(APPROVED, 1000, "order-22"))).await;
    assert_eq!(first.status(), StatusCode::OK);
    for other in [
        intent_request(APPROVED, 1001, "order-22"),
        intent_request("5555555555554444", 1000, "order-22"),
        intent_request(APPROVED, 1000, "order-23"),
    ] {
        let response = post(&app, INTENTS, "reused", Some(other)).await;
        expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused").await;
    }
    // On capture, the intent is part of the request: the same key on another intent is refused.
    let (a, b) = (authorize(&app, 10, "order-24").await, authorize(&app, 10, "order-24").await);
    assert_eq!(
        post(&app, &format!("{INTENTS}/{}/capture", id(&a)), "capture-key", None).await.status(),
        StatusCode::OK
    );
    let other = post(&app, &format!("{INTENTS}/{}/capture", id(&b)), "capture-key", None).await;
    expect_problem(other, StatusCode::UNPROCESSABLE_ENTITY, "idempotency-key-reused").await;
    assert_eq!(get_json(&app, &format!("{INTENTS}/{}", id(&b))).await["status"], "requires_capture");
    assert_eq!(count(&app, "payment_intents").await, 3);
    app.stop().await;
}

async fn keys_are_scoped_per_endpoint(backend: Backend) {
    let app = provider(backend).await;
    let created = post(&app, INTENTS, "shared", Some(intent_request(APPROVED, 50, "order-25"))).await;
    let created: Value = created.json().await.unwrap();
    let captured = post(&app, &format!("{INTENTS}/{}/capture", id(&created)), "shared", None).await;
    assert_eq!(captured.status(), StatusCode::OK);
    assert!(captured.headers().get("idempotent-replayed").is_none(), "another endpoint, another key");
    let refunded = post(&app, REFUNDS, "shared", Some(json!({"payment_intent": id(&created)}))).await;
    assert_eq!(refunded.json::<Value>().await.unwrap()["amount"], 50);
    app.stop().await;
}

async fn every_post_needs_an_idempotency_key(backend: Backend) {
    let app = provider(backend).await;
    let intent = authorize(&app, 700, "order-26").await;
    let before = count(&app, "idempotency_keys").await;
    let posts = [
        (INTENTS.to_owned(), Some(intent_request(APPROVED, 700, "order-26"))),
        (format!("{INTENTS}/{}/capture", id(&intent)), None),
        (format!("{INTENTS}/{}/cancel", id(&intent)), None),
        (REFUNDS.to_owned(), Some(json!({"payment_intent": id(&intent)}))),
    ];
    for (path, body) in posts {
        let mut request = merchant().post(app.url(&path));
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let problem = expect_problem(response, StatusCode::BAD_REQUEST, "invalid-parameter").await;
        assert!(problem["detail"].as_str().unwrap().contains("Idempotency-Key"), "{path}: {problem}");
        let blank = merchant().post(app.url(&path)).header("idempotency-key", "").send().await.unwrap();
        expect_problem(blank, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    }
    assert_eq!(count(&app, "payment_intents").await, 1);
    assert_eq!(count(&app, "idempotency_keys").await, before);
    assert_eq!(get_json(&app, &format!("{INTENTS}/{}", id(&intent))).await, intent, "untouched");
    app.stop().await;
}

async fn one_key_sent_at_once_acts_once(backend: Backend) {
    let app = provider(backend).await;
    let mut racing = JoinSet::new();
    for _ in 0..RACERS {
        let (client, url) = (merchant(), app.url(INTENTS));
        racing.spawn(async move {
            let body = intent_request(APPROVED, 333, "order-27");
            let response = client.post(&url).header("idempotency-key", "race").json(&body).send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        });
    }
    let answers: Vec<(StatusCode, Value)> = racing.join_all().await;
    let ids: std::collections::BTreeSet<&str> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::OK, "every sender gets the one answer: {body}");
            id(body)
        })
        .collect();
    assert_eq!(ids.len(), 1, "one intent, answered to every sender: {ids:?}");
    assert_eq!(count(&app, "payment_intents").await, 1);
    assert_eq!(count(&app, "idempotency_keys").await, 1);
    app.stop().await;
}

/// Different keys, one intent: the row is locked for the change, so one capture wins and the
/// others see it captured (on PostgreSQL they would otherwise both read `requires_capture`).
async fn competing_captures_of_one_intent_let_one_win(backend: Backend) {
    let app = provider(backend).await;
    let intent = authorize(&app, 444, "order-28").await;
    let mut racing = JoinSet::new();
    for n in 0..CAPTURERS {
        let (client, url) = (merchant(), app.url(&format!("{INTENTS}/{}/capture", id(&intent))));
        racing.spawn(async move {
            let response = client.post(&url).header("idempotency-key", format!("capture-{n}")).send().await.unwrap();
            response.status()
        });
    }
    let statuses: Vec<StatusCode> = racing.join_all().await;
    let won = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let lost = statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count();
    assert_eq!((won, lost), (1, CAPTURERS - 1), "{statuses:?}");
    let now = get_json(&app, &format!("{INTENTS}/{}", id(&intent))).await;
    assert_eq!((&now["status"], &now["amount_captured"]), (&json!("succeeded"), &json!(444)));
    app.stop().await;
}
