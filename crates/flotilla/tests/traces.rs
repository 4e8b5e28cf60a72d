//! One request that crosses the gateway, a service, the bus and a consumer arrives at an OTLP
//! receiver as one trace with the right parents, exported by `flotilla run` over OTLP/HTTP with
//! protobuf; a caller's "not sampled" is followed; logs carry the spans' ids; and the gateway's
//! `/admin/traces` shows the same trace from the process's own buffer. One checkout is one trace
//! too, across the gateway, ordering, the basket, the bus, inventory, payments and the processor.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::system::System;
use flotilla_testkit::Backend;
use flotilla_testkit::otlp::{CLIENT, CONSUMER, OtlpReceiver, PRODUCER, ReceivedSpan, SERVER};
use reqwest::StatusCode;
use serde_json::{Value, json};

const CREATED: &str = "flotilla.catalog.product-created.v1";

fn random_hex(bytes: usize) -> String {
    uuid::Uuid::new_v4().simple().to_string()[..bytes * 2].to_owned()
}

fn one<'a>(spans: &'a [ReceivedSpan], what: &str, matches: impl Fn(&ReceivedSpan) -> bool) -> &'a ReceivedSpan {
    let found: Vec<_> = spans.iter().filter(|span| matches(span)).collect();
    assert_eq!(found.len(), 1, "exactly one {what} in {spans:#?}");
    found[0]
}

/// `flotilla run` exporting to `receiver`, with a carrier that waits before collecting.
async fn exporting_system(receiver: &OtlpReceiver) -> System {
    let mut system = System::new(Backend::Sqlite).await;
    system
        .start(&format!(
            r#"
[log]
format = "json"
level = "info"

[services.identity]
admin.email = "admin@flotilla.test"

[services.shipping.carrier]
dispatch_after_ms = 60000

[traces]
otlp_endpoint = "{}"
export_interval_ms = 100
"#,
            receiver.url
        ))
        .await;
    system
}

fn consumed_by(spans: &[ReceivedSpan], service: &str) -> bool {
    spans.iter().any(|span| span.service == service && span.kind == CONSUMER)
        && spans.iter().any(|span| span.service == service && span.name == "transaction")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_through_gateway_service_bus_and_consumer_is_one_trace() {
    let receiver = OtlpReceiver::start().await;
    let mut system = exporting_system(&receiver).await;
    let admin = system.admin().await;
    let create = |sku: &str| json!({"sku": sku, "name": "Traced kettle", "price": {"amount_minor": 2599, "currency": "EUR"}, "category": "kitchen"});

    // First a request whose caller decided not to sample: nothing of it may be exported.
    let unsampled = random_hex(16);
    let response = admin
        .post(system.gateway("/api/v1/catalog/products"))
        .header("traceparent", format!("00-{unsampled}-{}-00", random_hex(8)))
        .json(&create("TRACE-0001"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let (trace_id, caller_span) = (random_hex(16), random_hex(8));
    let response = admin
        .post(system.gateway("/api/v1/catalog/products"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&create("TRACE-0002"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());

    let spans = receiver
        .trace(&trace_id, Duration::from_secs(30), |spans| {
            // Every process exports on its own schedule: wait for each span asserted below,
            // the gateway's too, which may arrive after the consumers'.
            let has = |service: &str, kind: i32| spans.iter().any(|span| span.service == service && span.kind == kind);
            has("gateway", SERVER)
                && has("gateway", CLIENT)
                && has("catalog", SERVER)
                && spans.iter().any(|span| span.service == "catalog" && span.name == "transaction")
                && consumed_by(spans, "inventory")
                && consumed_by(spans, "basket")
                && spans.iter().any(|span| span.name.starts_with("send "))
        })
        .await;

    let edge = one(&spans, "gateway server span", |s| s.service == "gateway" && s.kind == SERVER);
    assert_eq!(edge.parent_span_id, caller_span, "the caller's span is the gateway's parent");
    assert_eq!(edge.name, "POST /api/v1/{*path}");
    assert_eq!(edge.attributes["http.response.status_code"], "201");
    let call = one(&spans, "gateway client span", |s| s.service == "gateway" && s.kind == CLIENT);
    assert_eq!(call.parent_span_id, edge.span_id);
    let served = one(&spans, "catalog server span", |s| s.service == "catalog" && s.kind == SERVER);
    assert_eq!(served.parent_span_id, call.span_id, "the service's span is a child of the gateway's call");
    assert_eq!(served.name, "POST /api/v1/catalog/products");
    assert_eq!(served.attributes["http.route"], "/api/v1/catalog/products");
    let change = one(&spans, "catalog transaction", |s| s.service == "catalog" && s.name == "transaction");
    assert_eq!(change.parent_span_id, served.span_id);
    assert_eq!(change.attributes["flotilla.transaction.outcome"], "committed");
    assert_eq!(change.attributes["db.system.name"], "sqlite");
    let created = one(&spans, "the event's creation", |s| s.kind == PRODUCER && s.name == format!("create {CREATED}"));
    assert_eq!(created.service, "catalog");
    assert_eq!(created.parent_span_id, change.span_id, "the event is created inside the change's transaction");
    assert_eq!(created.attributes["messaging.destination.name"], CREATED);
    let sent = one(&spans, "the relay's send", |s| s.kind == PRODUCER && s.name.starts_with("send "));
    assert_eq!((sent.service.as_str(), sent.parent_span_id.as_str()), ("catalog", created.span_id.as_str()));
    assert_eq!(sent.attributes["messaging.system"], "flotilla_embedded");
    for consumer in ["inventory", "basket"] {
        let processed = one(&spans, "a consumer's processing", |s| s.service == consumer && s.kind == CONSUMER);
        assert_eq!(processed.parent_span_id, created.span_id, "{consumer} handles the message the catalog created");
        assert_eq!(processed.name, format!("process {CREATED}"));
        let applied = one(&spans, "the consumer's transaction", |s| s.service == consumer && s.name == "transaction");
        assert_eq!(applied.parent_span_id, processed.span_id);
    }
    assert!(spans.iter().all(|span| span.status != 2), "nothing failed: {spans:#?}");
    assert!(
        receiver.spans().iter().all(|span| span.trace_id != unsampled),
        "the trace its caller did not sample was exported"
    );

    // The logs name the same ids: the catalog's access line carries its server span's.
    let log = std::fs::read_to_string(system.log()).unwrap();
    let lines: Vec<Value> = log.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    assert!(
        lines.iter().any(|line| line["trace_id"] == trace_id.as_str()
            && line["span_id"] == served.span_id.as_str()
            && line["service"] == "catalog"
            && line["message"] == "request served"),
        "no catalog log line carries the exported span's ids"
    );

    // Without a collector: the process keeps the trace, and any service serves it to an admin.
    let kept: Value =
        admin.get(system.gateway(&format!("/admin/traces/{trace_id}"))).send().await.unwrap().json().await.unwrap();
    let kept_spans = kept["spans"].as_array().unwrap();
    for span in &spans {
        let same = kept_spans.iter().find(|kept| kept["span_id"] == span.span_id.as_str());
        let same = same.unwrap_or_else(|| panic!("{} ({}) is not in /admin/traces: {kept}", span.name, span.service));
        assert_eq!(same["service"], span.service.as_str());
        assert_eq!(same["parent_span_id"].as_str().unwrap_or(""), span.parent_span_id);
    }
    let listed: Value =
        admin.get(system.gateway("/admin/traces?limit=200")).send().await.unwrap().json().await.unwrap();
    let summary = listed["traces"].as_array().unwrap().iter().find(|t| t["trace_id"] == trace_id.as_str()).unwrap();
    assert_eq!(summary["root"], "POST /api/v1/{*path}");
    let anonymous = system.http.get(system.gateway("/admin/traces")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "traces are an admin's to read");
    let bad = admin.get(system.gateway("/admin/traces/not-a-trace")).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    system.stop();
}

/// The span `child`'s parent, which must be in `spans`.
fn parent_of<'a>(spans: &'a [ReceivedSpan], child: &ReceivedSpan) -> &'a ReceivedSpan {
    spans
        .iter()
        .find(|span| span.span_id == child.parent_span_id)
        .unwrap_or_else(|| panic!("the parent of {} ({}) is not in the trace", child.name, child.service))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_checkout_is_one_trace_across_gateway_ordering_bus_inventory_and_payments() {
    let receiver = OtlpReceiver::start().await;
    let mut system = exporting_system(&receiver).await;
    let page: Value =
        system.http.get(system.gateway("/api/v1/catalog/products?limit=1")).send().await.unwrap().json().await.unwrap();
    let product = page["items"][0]["id"].as_str().unwrap().to_owned();
    let shopper = system.shopper("traced@flotilla.test").await;
    shopper.fill(&system, &product, 1).await;

    let (trace_id, caller_span) = (random_hex(16), random_hex(8));
    let accepted = shopper
        .http
        .post(system.gateway("/api/v1/ordering/orders"))
        .header("idempotency-key", uuid::Uuid::now_v7().to_string())
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&shopper.body("4242424242424242"))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), StatusCode::ACCEPTED, "{}", accepted.text().await.unwrap());
    let order = accepted.json::<Value>().await.unwrap()["order_id"].as_str().unwrap().to_owned();
    shopper.settles(&system, &order, &["confirmed"]).await;

    // Confirmed means captured: the trace is whole once ordering has handled payments' answer
    // to the capture, itself sent after the processor's capture call.
    let captured = |spans: &[ReceivedSpan]| {
        spans.iter().any(|span| {
            span.service == "ordering"
                && span.kind == CONSUMER
                && span.name.contains("payment-captured")
                && spans.iter().any(|created| created.span_id == span.parent_span_id && created.service == "payments")
        })
    };
    // A span is exported when it ends, a child before its parent: wait until no span of the
    // work still in flight (shipping's, say) is missing its parent.
    let whole = |spans: &[ReceivedSpan]| {
        spans.iter().all(|span| {
            span.parent_span_id == caller_span || spans.iter().any(|parent| parent.span_id == span.parent_span_id)
        })
    };
    let spans = receiver.trace(&trace_id, Duration::from_secs(60), |spans| captured(spans) && whole(spans)).await;

    for span in &spans {
        if span.parent_span_id == caller_span {
            assert_eq!(
                (span.service.as_str(), span.kind),
                ("gateway", SERVER),
                "only the gateway's span is the caller's child"
            );
        } else {
            parent_of(&spans, span);
        }
    }
    let services: std::collections::BTreeSet<_> = spans.iter().map(|span| span.service.as_str()).collect();
    for service in ["gateway", "ordering", "basket", "inventory", "payments", "payment-provider"] {
        assert!(services.contains(service), "{service} has no span in the checkout's trace: {services:?}");
    }
    let checkout = one(&spans, "ordering's server span", |s| s.service == "ordering" && s.kind == SERVER);
    assert_eq!(checkout.name, "POST /api/v1/ordering/orders");
    assert_eq!(parent_of(&spans, checkout).service, "gateway");
    let basket = one(&spans, "the basket read", |s| s.service == "basket" && s.kind == SERVER);
    let read = parent_of(&spans, basket);
    assert_eq!((read.service.as_str(), read.kind), ("ordering", CLIENT), "ordering's call is the basket read's parent");
    assert_eq!(read.parent_span_id, checkout.span_id);
    for (consumer, sender) in [("inventory", "ordering"), ("payments", "ordering"), ("ordering", "inventory")] {
        assert!(
            spans.iter().any(|s| s.service == consumer
                && s.kind == CONSUMER
                && parent_of(&spans, s).service == sender
                && parent_of(&spans, s).kind == PRODUCER),
            "{consumer} handles a message {sender} created, in the trace"
        );
    }
    let processor = spans.iter().filter(|s| s.service == "payment-provider" && s.kind == SERVER);
    for served in processor {
        let call = parent_of(&spans, served);
        assert_eq!((call.service.as_str(), call.kind), ("payments", CLIENT), "{} is payments' call", served.name);
        let operation = parent_of(&spans, call);
        assert!(
            operation.name.starts_with("payment "),
            "a processor call is made by a payment operation: {}",
            operation.name
        );
    }

    system.stop();
}
