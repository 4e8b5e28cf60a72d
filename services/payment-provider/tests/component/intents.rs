//! Payment intents and refunds over HTTP: authorize, capture, cancel, refund, and every refusal
//! of the state machine, as a merchant sees them.

use flotilla_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

on_both_backends!(
    an_approved_intent_is_captured_and_refunded,
    a_partial_capture_releases_the_rest,
    declined_cards_answer_402_with_the_intent,
    cancel_releases_only_an_authorization,
    a_captured_intent_is_not_captured_again,
    refunds_never_exceed_what_was_captured,
    intents_are_found_by_id_and_by_reference,
    intents_survive_a_restart,
);

async fn an_approved_intent_is_captured_and_refunded(backend: Backend) {
    let app = provider(backend).await;
    let intent = authorize(&app, 2500, "order-1").await;
    assert!(id(&intent).starts_with("pi_") && id(&intent).len() == 35, "{intent}");
    assert_eq!(intent["status"], "requires_capture");
    assert_eq!(intent["currency"], "EUR");
    assert_eq!(intent["reference"], "order-1");
    assert_eq!(
        (&intent["amount"], &intent["amount_capturable"], &intent["amount_captured"], &intent["amount_refunded"]),
        (&json!(2500), &json!(2500), &json!(0), &json!(0))
    );
    assert_eq!(intent["last_error"], Value::Null);
    assert!(
        time::OffsetDateTime::parse(
            intent["created_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339
        )
        .is_ok()
    );
    assert_eq!(get_json(&app, &format!("{INTENTS}/{}", id(&intent))).await, intent, "retrieved as created");

    // No body: capture all that is authorized.
    let response = post(&app, &format!("{INTENTS}/{}/capture", id(&intent)), &new_key(), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let succeeded: Value = response.json().await.unwrap();
    assert_eq!(succeeded["status"], "succeeded");
    assert_eq!((&succeeded["amount_captured"], &succeeded["amount_capturable"]), (&json!(2500), &json!(0)));

    let first = post(&app, REFUNDS, &new_key(), Some(json!({"payment_intent": id(&intent), "amount": 1000}))).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    assert!(id(&first).starts_with("re_"), "{first}");
    assert_eq!(
        (&first["payment_intent"], &first["amount"], &first["status"]),
        (&intent["id"], &json!(1000), &json!("succeeded"))
    );
    // No amount: refund all that is left.
    let rest = post(&app, REFUNDS, &new_key(), Some(json!({"payment_intent": id(&intent)}))).await;
    assert_eq!(rest.status(), StatusCode::OK);
    assert_eq!(rest.json::<Value>().await.unwrap()["amount"], 1500);

    let now = get_json(&app, &format!("{INTENTS}/{}", id(&intent))).await;
    assert_eq!((&now["status"], &now["amount_refunded"]), (&json!("succeeded"), &json!(2500)));
    let refunds = get_json(&app, &format!("{REFUNDS}?payment_intent={}", id(&intent))).await;
    let amounts: Vec<&Value> = refunds["data"].as_array().unwrap().iter().map(|r| &r["amount"]).collect();
    assert_eq!(amounts, [&json!(1000), &json!(1500)], "oldest first: {refunds}");
    assert_eq!(refunds["has_more"], false);
    assert_eq!(refunds["data"][0], first);

    let again = post(&app, REFUNDS, &new_key(), Some(json!({"payment_intent": id(&intent)}))).await;
    let problem = expect_problem(again, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(problem["code"], "charge_already_refunded");
    assert_eq!(count(&app, "refunds").await, 2);
    app.stop().await;
}

async fn a_partial_capture_releases_the_rest(backend: Backend) {
    let app = provider(backend).await;
    let intent = authorize(&app, 1000, "order-2").await;
    let capture = format!("{INTENTS}/{}/capture", id(&intent));
    let too_much = post(&app, &capture, &new_key(), Some(json!({"amount_to_capture": 1001}))).await;
    let problem = expect_problem(too_much, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(problem["code"], "amount_too_large");
    assert_eq!(problem["payment_intent"]["status"], "requires_capture", "still capturable: {problem}");

    let response = post(&app, &capture, &new_key(), Some(json!({"amount_to_capture": 600}))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let part: Value = response.json().await.unwrap();
    assert_eq!(
        (&part["status"], &part["amount"], &part["amount_captured"], &part["amount_capturable"]),
        (&json!("succeeded"), &json!(1000), &json!(600), &json!(0))
    );
    let over = post(&app, REFUNDS, &new_key(), Some(json!({"payment_intent": id(&intent), "amount": 601}))).await;
    assert_eq!(expect_problem(over, StatusCode::CONFLICT, "conflict").await["code"], "amount_too_large");
    app.stop().await;
}

async fn declined_cards_answer_402_with_the_intent(backend: Backend) {
    let app = provider(backend).await;
    for (card, code) in [(DECLINED, "card_declined"), (INSUFFICIENT_FUNDS, "insufficient_funds")] {
        let response = post(&app, INTENTS, &new_key(), Some(intent_request(card, 700, "order-3"))).await;
        let problem = expect_problem(response, StatusCode::PAYMENT_REQUIRED, "card-declined").await;
        assert_eq!(problem["code"], code, "{problem}");
        let intent = &problem["payment_intent"];
        assert_eq!(intent["status"], "requires_payment_method", "{problem}");
        assert_eq!(intent["last_error"], json!({"code": code}));
        assert_eq!((&intent["amount"], &intent["amount_capturable"]), (&json!(700), &json!(0)));
        assert_eq!(&get_json(&app, &format!("{INTENTS}/{}", id(intent))).await, intent, "the declined intent is kept");

        let capture = post(&app, &format!("{INTENTS}/{}/capture", id(intent)), &new_key(), None).await;
        let refused = expect_problem(capture, StatusCode::CONFLICT, "conflict").await;
        assert_eq!(refused["code"], "payment_intent_unexpected_state");
        let cancel = post(&app, &format!("{INTENTS}/{}/cancel", id(intent)), &new_key(), None).await;
        expect_problem(cancel, StatusCode::CONFLICT, "conflict").await;
    }
    // Any other well-formed number approves.
    let other = post(&app, INTENTS, &new_key(), Some(intent_request("5555555555554444", 700, "order-3"))).await;
    assert_eq!(other.json::<Value>().await.unwrap()["status"], "requires_capture");
    let listed = get_json(&app, &format!("{INTENTS}?reference=order-3")).await;
    let statuses: Vec<&Value> = listed["data"].as_array().unwrap().iter().map(|i| &i["status"]).collect();
    assert_eq!(
        statuses,
        [&json!("requires_payment_method"), &json!("requires_payment_method"), &json!("requires_capture")]
    );
    app.stop().await;
}

async fn cancel_releases_only_an_authorization(backend: Backend) {
    let app = provider(backend).await;
    let intent = authorize(&app, 900, "order-4").await;
    let cancel = format!("{INTENTS}/{}/cancel", id(&intent));
    let response = post(&app, &cancel, &new_key(), Some(json!({}))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let canceled: Value = response.json().await.unwrap();
    assert_eq!((&canceled["status"], &canceled["amount_capturable"]), (&json!("canceled"), &json!(0)));

    let capture = post(&app, &format!("{INTENTS}/{}/capture", id(&intent)), &new_key(), None).await;
    let problem = expect_problem(capture, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(problem["code"], "payment_intent_unexpected_state");
    assert_eq!(problem["payment_intent"], canceled);
    let twice = post(&app, &cancel, &new_key(), None).await;
    expect_problem(twice, StatusCode::CONFLICT, "conflict").await;

    let succeeded = captured(&app, 900, "order-4").await;
    let late = post(&app, &format!("{INTENTS}/{}/cancel", id(&succeeded)), &new_key(), None).await;
    assert_eq!(expect_problem(late, StatusCode::CONFLICT, "conflict").await["code"], "payment_intent_unexpected_state");
    let unknown = post(&app, &format!("{INTENTS}/pi_nothing/cancel"), &new_key(), None).await;
    assert_eq!(expect_problem(unknown, StatusCode::NOT_FOUND, "not-found").await["code"], "resource_missing");
    assert_eq!(get_json(&app, &format!("{INTENTS}/{}", id(&succeeded))).await, succeeded, "unchanged");
    app.stop().await;
}

async fn a_captured_intent_is_not_captured_again(backend: Backend) {
    let app = provider(backend).await;
    let succeeded = captured(&app, 1200, "order-5").await;
    let again = post(&app, &format!("{INTENTS}/{}/capture", id(&succeeded)), &new_key(), None).await;
    let problem = expect_problem(again, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(problem["code"], "payment_intent_unexpected_state");
    assert_eq!(problem["payment_intent"], succeeded, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("succeeded"), "{problem}");
    assert_eq!(get_json(&app, &format!("{INTENTS}/{}", id(&succeeded))).await["amount_captured"], 1200);
    app.stop().await;
}

async fn refunds_never_exceed_what_was_captured(backend: Backend) {
    let app = provider(backend).await;
    let uncaptured = authorize(&app, 500, "order-6").await;
    let early = post(&app, REFUNDS, &new_key(), Some(json!({"payment_intent": id(&uncaptured)}))).await;
    assert_eq!(
        expect_problem(early, StatusCode::CONFLICT, "conflict").await["code"],
        "payment_intent_unexpected_state"
    );

    let succeeded = captured(&app, 500, "order-6").await;
    let refund = |amount: Value| refund(&app, id(&succeeded), amount);
    let over = expect_problem(refund(json!(501)).await, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(over["code"], "amount_too_large");
    assert_eq!(over["payment_intent"]["amount_refunded"], 0);
    for bad in [json!(0), json!(-1)] {
        let problem = expect_problem(refund(bad).await, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
        assert_eq!(flotilla_testkit::location(&problem["errors"][0]), "/amount");
    }
    assert_eq!(refund(json!(300)).await.status(), StatusCode::OK);
    let over_total = expect_problem(refund(json!(201)).await, StatusCode::CONFLICT, "conflict").await;
    assert_eq!(over_total["code"], "amount_too_large", "300 + 201 > 500");
    assert_eq!(refund(json!(200)).await.status(), StatusCode::OK);
    let unknown = post(&app, REFUNDS, &new_key(), Some(json!({"payment_intent": "pi_unknown"}))).await;
    assert_eq!(expect_problem(unknown, StatusCode::NOT_FOUND, "not-found").await["code"], "resource_missing");

    assert_eq!(count(&app, "refunds").await, 2);
    assert_eq!(get_json(&app, &format!("{INTENTS}/{}", id(&succeeded))).await["amount_refunded"], 500);
    app.stop().await;
}

async fn intents_are_found_by_id_and_by_reference(backend: Backend) {
    let app = provider(backend).await;
    let missing = get(&app, &format!("{INTENTS}/pi_0198c2d3e4f5a6b7c8d9e0f1a2b3c4d5")).await;
    assert_eq!(expect_problem(missing, StatusCode::NOT_FOUND, "not-found").await["code"], "resource_missing");

    // Well-formed ids that name nothing: looked up, answered 404, and no key is spent on them.
    let unknown = "pi_0198c2d3e4f5a6b7c8d9e0f1a2b3c4d5";
    let keys = count(&app, "idempotency_keys").await;
    for (path, body) in [
        (format!("{INTENTS}/{unknown}/capture"), None),
        (format!("{INTENTS}/{unknown}/cancel"), None),
        (REFUNDS.to_owned(), Some(json!({"payment_intent": unknown}))),
    ] {
        let response = post(&app, &path, "unknown-intent", body).await;
        assert_eq!(expect_problem(response, StatusCode::NOT_FOUND, "not-found").await["code"], "resource_missing");
    }
    assert_eq!(count(&app, "idempotency_keys").await, keys);
    let none = get_json(&app, &format!("{REFUNDS}?payment_intent={unknown}")).await;
    assert_eq!(none, json!({"data": [], "has_more": false}));

    let mut created = Vec::new();
    for n in 0..3 {
        created.push(authorize(&app, 100 + n, "order-7").await);
    }
    authorize(&app, 999, "order-8").await;
    let listed = get_json(&app, &format!("{INTENTS}?reference=order-7")).await;
    assert_eq!(listed["data"], json!(created), "only that reference's, oldest first");
    assert_eq!(listed["has_more"], false);
    let page = get_json(&app, &format!("{INTENTS}?reference=order-7&limit=2")).await;
    assert_eq!((page["data"].as_array().unwrap().len(), &page["has_more"]), (2, &json!(true)));
    let none = get_json(&app, &format!("{INTENTS}?reference=order-9")).await;
    assert_eq!(none, json!({"data": [], "has_more": false}));
    // Looked up exactly, so a reference with spaces or symbols is found again.
    let odd = authorize(&app, 5, "Order #10 / ü").await;
    let found = get_json(&app, &format!("{INTENTS}?reference=Order%20%2310%20%2F%20%C3%BC")).await;
    assert_eq!(found["data"], json!([odd]));

    for query in
        ["", "?limit=5", "?reference=order-7&limit=0", "?reference=order-7&limit=101", "?reference=x&colour=red"]
    {
        let response = get(&app, &format!("{INTENTS}{query}")).await;
        expect_problem(response, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    }
    let no_intent = get(&app, REFUNDS).await;
    expect_problem(no_intent, StatusCode::BAD_REQUEST, "invalid-parameter").await;
    app.stop().await;
}

async fn intents_survive_a_restart(backend: Backend) {
    let app = provider(backend).await;
    let intent = authorize(&app, 4200, "order-11").await;
    let app = app.restart().await;
    assert_eq!(get_json(&app, &format!("{INTENTS}/{}", id(&intent))).await, intent);
    let response = post(&app, &format!("{INTENTS}/{}/capture", id(&intent)), &new_key(), None).await;
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "succeeded", "capturable after the restart");
    app.stop().await;
}

async fn refund(app: &flotilla_testkit::TestApp, intent: &str, amount: Value) -> reqwest::Response {
    post(app, REFUNDS, &new_key(), Some(json!({"payment_intent": intent, "amount": amount}))).await
}
