//! The fault knobs: an outage and simulated errors answer without acting; `act_then_timeout`
//! acts and answers too late for a client's timeout; latency slows every call; bad knobs are
//! refused; configuration sets the knobs a start begins with.

use std::time::{Duration, Instant};

use flotilla_chassis::service::Application;
use flotilla_testkit::{Backend, TestDatabase, on_both_backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

on_both_backends!(
    an_outage_answers_503_and_does_nothing,
    an_error_rate_of_one_fails_every_call_without_acting,
    act_then_timeout_acts_although_the_client_times_out,
    latency_delays_simulated_calls_only,
    knobs_out_of_range_are_refused,
    configuration_sets_the_starting_knobs,
);

async fn an_outage_answers_503_and_does_nothing(backend: Backend) {
    let app = provider(backend).await;
    set_faults(&app, json!({"outage": true})).await;
    let body = intent_request(APPROVED, 100, "order-40");
    let down = post(&app, INTENTS, "outage-key", Some(body.clone())).await;
    assert_eq!(down.headers()["retry-after"], "1");
    assert_eq!(expect_problem(down, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await["code"], "simulated_outage");
    for path in [format!("{INTENTS}?reference=order-40"), format!("{INTENTS}/pi_x")] {
        expect_problem(get(&app, &path).await, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    }
    assert_eq!(get_json(&app, FAULTS).await["outage"], true, "the knobs stay reachable");
    assert_nothing_written(&app).await;

    set_faults(&app, json!({})).await;
    let up = post(&app, INTENTS, "outage-key", Some(body)).await;
    assert_eq!(up.status(), StatusCode::OK, "the key was not spent by the outage");
    assert!(up.headers().get("idempotent-replayed").is_none());
    assert_eq!(count(&app, "payment_intents").await, 1);
    app.stop().await;
}

async fn an_error_rate_of_one_fails_every_call_without_acting(backend: Backend) {
    let app = provider(backend).await;
    let intent = authorize(&app, 100, "order-41").await;
    set_faults(&app, json!({"error_rate": 1.0})).await;
    for _ in 0..5 {
        let failed = post(&app, INTENTS, "error-key", Some(intent_request(APPROVED, 100, "order-41"))).await;
        let problem = expect_problem(failed, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
        assert_eq!(problem["code"], "simulated_error");
    }
    let capture = post(&app, &format!("{INTENTS}/{}/capture", id(&intent)), &new_key(), None).await;
    expect_problem(capture, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    expect_problem(
        get(&app, &format!("{INTENTS}/{}", id(&intent))).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
    )
    .await;
    assert_eq!(get_json(&app, FAULTS).await["error_rate"], 1.0, "the knobs never fail");

    set_faults(&app, json!({"error_rate": 0.0})).await;
    assert_eq!(count(&app, "payment_intents").await, 1, "nothing created");
    assert_eq!(count(&app, "idempotency_keys").await, 1, "no key spent: only the first intent's");
    assert_eq!(get_json(&app, &format!("{INTENTS}/{}", id(&intent))).await, intent, "nothing captured");
    let retried = post(&app, INTENTS, "error-key", Some(intent_request(APPROVED, 100, "order-41"))).await;
    assert_eq!(retried.status(), StatusCode::OK, "a retry with the same key acts now");
    app.stop().await;
}

async fn act_then_timeout_acts_although_the_client_times_out(backend: Backend) {
    let app = provider(backend).await;
    set_faults(&app, json!({"act_then_timeout": 1, "hang_ms": 3000})).await;
    let impatient = flotilla_chassis::outbound::client(Duration::from_millis(500)).unwrap();
    let body = intent_request(APPROVED, 2100, "order-42");
    let error = impatient
        .post(app.url(INTENTS))
        .bearer_auth(API_KEY)
        .header("idempotency-key", "hung")
        .json(&body)
        .send()
        .await
        .unwrap_err();
    assert!(error.is_timeout(), "{error}");

    // "Did the provider act?": the reference says it did.
    let listed = get_json(&app, &format!("{INTENTS}?reference=order-42")).await;
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{listed}");
    assert_eq!((&data[0]["status"], &data[0]["amount"]), (&json!("requires_capture"), &json!(2100)));
    assert_eq!(get_json(&app, FAULTS).await["act_then_timeout"], 0, "the knob is spent");
    // A retry with the same key answers at once with what was done.
    let started = Instant::now();
    let retried = impatient
        .post(app.url(INTENTS))
        .bearer_auth(API_KEY)
        .header("idempotency-key", "hung")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(retried.headers()["idempotent-replayed"], "true");
    assert_eq!(retried.json::<Value>().await.unwrap(), data[0]);
    assert_eq!(count(&app, "payment_intents").await, 1);
    app.stop().await;
}

async fn latency_delays_simulated_calls_only(backend: Backend) {
    let app = provider(backend).await;
    set_faults(&app, json!({"latency_ms": 1500})).await;
    let started = Instant::now();
    let slow = get(&app, &format!("{INTENTS}?reference=order-43")).await;
    assert_eq!(slow.status(), StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(1500), "{:?}", started.elapsed());
    let started = Instant::now();
    assert_eq!(get_json(&app, FAULTS).await["latency_ms"], 1500);
    assert!(started.elapsed() < Duration::from_millis(1500), "the knobs are not delayed: {:?}", started.elapsed());
    set_faults(&app, json!({})).await;
    let started = Instant::now();
    get_json(&app, &format!("{INTENTS}?reference=order-43")).await;
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    app.stop().await;
}

async fn knobs_out_of_range_are_refused(backend: Backend) {
    let app = provider(backend).await;
    set_faults(&app, json!({"latency_ms": 5})).await;
    let cases = [
        (json!({"error_rate": 1.5}), "/error_rate"),
        (json!({"error_rate": -0.1}), "/error_rate"),
        (json!({"latency_ms": -1}), "/latency_ms"),
        (json!({"latency_ms": 60_001}), "/latency_ms"),
        (json!({"hang_ms": 60_001}), "/hang_ms"),
        (json!({"act_then_timeout": 2}), "/hang_ms"),
        (json!({"act_then_timeout": -1, "hang_ms": 10}), "/act_then_timeout"),
        (json!({"outage": "yes"}), "/outage"),
        (json!({"latency": 5}), ""),
    ];
    for (body, field) in cases {
        let response = merchant().put(app.url(FAULTS)).json(&body).send().await.unwrap();
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation").await;
        assert!(flotilla_testkit::location(&problem["errors"][0]).starts_with(field), "{body}: {problem}");
        assert!(!problem["errors"][0]["detail"].as_str().unwrap().is_empty());
    }
    let broken = merchant().put(app.url(FAULTS)).header("content-type", "application/json").body("{").send().await;
    expect_problem(broken.unwrap(), StatusCode::BAD_REQUEST, "malformed-body").await;
    let kept = get_json(&app, FAULTS).await;
    assert_eq!(kept, json!({"latency_ms": 5, "error_rate": 0.0, "act_then_timeout": 0, "hang_ms": 0, "outage": false}));
    app.stop().await;
}

async fn configuration_sets_the_starting_knobs(backend: Backend) {
    let app = provider_with(backend, &[("services.payment-provider.faults.outage", json!(true))]).await;
    let down = get(&app, &format!("{INTENTS}?reference=order-44")).await;
    expect_problem(down, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    assert_eq!(get_json(&app, FAULTS).await["outage"], true);
    app.stop().await;

    // Knobs out of range stop the start with the key to fix.
    let database = TestDatabase::new(backend).await;
    let config = database
        .config()
        .set("services.payment-provider.port", 0)
        .and_then(|c| c.set("services.payment-provider.faults.error_rate", 2.0))
        .and_then(|c| c.set("auth.issuer", "http://127.0.0.1:9"))
        .unwrap()
        .resolve_addresses(&[&flotilla_payment_provider::SERVICE])
        .unwrap();
    let error = Application::build(&flotilla_payment_provider::SERVICE, config).await.err().expect("refused");
    let message = error.to_string();
    assert!(message.contains("services.payment-provider.faults") && message.contains("/error_rate"), "{message}");
}
