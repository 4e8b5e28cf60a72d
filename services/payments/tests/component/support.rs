use std::time::{Duration, Instant};

use flotilla_contracts::payments::{
    AuthorizePaymentV1, PaymentAuthorizedV1, PaymentCancelledV1, PaymentCaptureFailedV1, PaymentCapturedV1,
    PaymentDeclinedV1, PaymentFailedV1,
};
use flotilla_contracts::{Message, Money};
use flotilla_testkit::{Backend, NatsServer, Peer, TestApp};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

pub const APPROVE: &str = "4242424242424242";
pub const DECLINE: &str = "4000000000000002";
pub const NO_FUNDS: &str = "4000000000009995";
const API_KEY: &str = "sk_test_flotilla_simulator";

/// Payments on `backend` and the processor simulator it calls; the test plays ordering.
pub struct World {
    pub app: TestApp,
    pub provider: TestApp,
    pub ordering: Peer,
    _nats: Option<NatsServer>,
}

pub async fn world(backend: Backend, settings: &[(&str, Value)]) -> World {
    // The processor is someone else's system: it keeps its own SQLite database whatever the backend.
    let provider = flotilla_testkit::spawn(&flotilla_payment_provider::SERVICE, Backend::Sqlite, &[]).await;
    let nats = (backend == Backend::Postgres).then(NatsServer::start);
    let mut all = vec![
        ("services.payments.provider.url", json!(provider.url(""))),
        ("services.payments.provider.timeout_ms", json!(500)),
        ("services.payments.worker.retry_base_ms", json!(20)),
        ("services.payments.worker.retry_max_ms", json!(200)),
        ("services.payments.worker.poll_ms", json!(100)),
    ];
    all.extend(settings.iter().cloned());
    if let Some(nats) = &nats {
        all.push(("bus.backend", json!("nats")));
        all.push(("bus.nats.url", json!(nats.url())));
    }
    let app = flotilla_testkit::spawn(&flotilla_payments::SERVICE, backend, &all).await;
    let replies = [
        PaymentAuthorizedV1::TYPE,
        PaymentDeclinedV1::TYPE,
        PaymentFailedV1::TYPE,
        PaymentCapturedV1::TYPE,
        PaymentCaptureFailedV1::TYPE,
        PaymentCancelledV1::TYPE,
    ];
    let addresses = replies.iter().map(|t| flotilla_contracts::address(t, Some("ordering"))).collect();
    let ordering = Peer::join(&app, "ordering", addresses).await;
    World { app, provider, ordering, _nats: nats }
}

impl World {
    pub async fn stop(self) {
        self.app.stop().await;
        self.provider.stop().await;
    }

    /// Sets the simulator's fault knobs (all of them: those not given are off).
    pub async fn faults(&self, knobs: Value) {
        let response = self
            .provider
            .client
            .put(self.provider.url("/v1/simulator/faults"))
            .bearer_auth(API_KEY)
            .json(&knobs)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
    }

    /// The processor's intents for the order, as it records them.
    pub async fn intents(&self, order_id: Uuid) -> Vec<Value> {
        let url = self.provider.url(&format!("/v1/payment_intents?reference={order_id}&limit=100"));
        let list: Value =
            self.provider.client.get(url).bearer_auth(API_KEY).send().await.unwrap().json().await.unwrap();
        list["data"].as_array().unwrap().clone()
    }

    /// The payment of the order as an admin sees it.
    pub async fn payment(&self, order_id: Uuid) -> Value {
        let url = self.app.url(&format!("/api/v1/payments/orders/{order_id}"));
        self.app.admin.get(url).send().await.unwrap().json().await.unwrap()
    }

    /// Waits until the payments service's series `name` with these `labels` reaches `at_least`.
    pub async fn metric_reaches(&self, name: &str, labels: &[(&str, &str)], at_least: f64) {
        let wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = self.app.client.get(self.app.url("/metrics")).send().await.unwrap().text().await.unwrap();
            let value = text
                .lines()
                .find(|line| line.starts_with(&format!("{name}{{")) && wanted.iter().all(|l| line.contains(l.as_str())))
                .and_then(|line| line.rsplit(' ').next())
                .and_then(|v| v.parse::<f64>().ok());
            if value.is_some_and(|v| v >= at_least) {
                return;
            }
            assert!(Instant::now() < deadline, "{name}{labels:?} never reached {at_least}: {value:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub fn authorize(order_id: Uuid, card: &str, amount_minor: i64) -> AuthorizePaymentV1 {
    AuthorizePaymentV1 {
        order_id,
        customer_id: "customer-1".into(),
        amount: Money { amount_minor, currency: "EUR".into() },
        payment_method: card.into(),
    }
}

/// Asserts an RFC 9457 response of this status and problem type; returns the document.
pub async fn expect_problem(response: Response, status: StatusCode, slug: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], format!("urn:flotilla:problem:{slug}"), "{problem}");
    problem
}
