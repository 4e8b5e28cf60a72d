//! Every way a checkout can go wrong, through the gateway with real tokens, against the whole
//! system (`flotilla run`, embedded and on PostgreSQL with NATS): out of stock, a declined card,
//! a processor that is slow and recovers, one that is down (the breaker opens and orders fail
//! fast), one that acts and then times out, cancellations before and after confirmation, one key
//! sent twice, many customers for the last units, and a step dead-lettered, fixed and replayed.
//! Each ends with `flotilla check` finding every invariant intact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Ports;
use flotilla_testkit::{Backend, NatsServer, TestDatabase};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ADMIN_PASSWORD: &str = "admin pass phrase 91c2";
const PROVIDER_KEY: &str = "sk_test_flotilla_simulator";
const APPROVE: &str = "4242424242424242";
const DECLINE: &str = "4000000000000002";

/// Fast enough for a test: short provider timeouts and retries, a breaker that opens after two
/// failures, a carrier that waits a moment before collecting (so that a confirmed order can
/// still be cancelled).
const SETTINGS: &str = r#"
[log]
format = "json"
level = "info"

[services.identity]
admin.email = "admin@flotilla.test"
sign_in_per_minute = 10000

[services.payments.provider]
timeout_ms = 400

[services.payments.worker]
poll_ms = 100
retry_base_ms = 50
retry_max_ms = 300
breaker.consecutive_failures = 2
breaker.open_ms = 1000

[services.ordering]
step_timeout_ms = 60000
undo_retry_ms = 2000

[services.shipping.carrier]
dispatch_after_ms = 1500
step_ms = 100
"#;

struct System {
    dir: tempfile::TempDir,
    ports: Ports,
    database: TestDatabase,
    nats: Option<NatsServer>,
    child: Option<Child>,
    http: reqwest::Client,
}

impl Drop for System {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child
            && matches!(child.try_wait(), Ok(None))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl System {
    async fn new(backend: Backend) -> Self {
        let nats = (backend == Backend::Postgres).then(NatsServer::start);
        let system = Self {
            dir: tempfile::tempdir().unwrap(),
            ports: Ports::new(),
            database: TestDatabase::new(backend).await,
            nats,
            child: None,
            http: flotilla_chassis::outbound::builder().build().unwrap(),
        };
        std::fs::create_dir_all(system.dir.path().join("config")).unwrap();
        system
    }

    fn url(&self, service: &str, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports.of(service))
    }

    fn gateway(&self, path: &str) -> String {
        self.url("gateway", path)
    }

    fn command(&self, settings: &str) -> Command {
        std::fs::write(self.dir.path().join("config/dev.toml"), settings).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        command
            .env_clear()
            .env("FLOTILLA_DATA_DIR", self.dir.path().join("data"))
            .env("FLOTILLA_CONFIG_DIR", self.dir.path().join("config"))
            .env("FLOTILLA_SERVICES__IDENTITY__ADMIN__PASSWORD", ADMIN_PASSWORD)
            .envs(self.ports.environment())
            .current_dir(self.dir.path());
        if let Some(nats) = &self.nats {
            command
                .env("FLOTILLA_DATABASE__BACKEND", "postgres")
                .env("FLOTILLA_DATABASE__URL", flotilla_testkit::postgres_server_url())
                .env("FLOTILLA_DATABASE__DATABASE_PREFIX", self.database.prefix())
                .env("FLOTILLA_BUS__BACKEND", "nats")
                .env("FLOTILLA_BUS__NATS__URL", nats.url());
        }
        command
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("flotilla.log")
    }

    async fn start(&mut self, settings: &str) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log()).unwrap();
        let child = self
            .command(settings)
            .arg("run")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("flotilla exited with {status}: {}", std::fs::read_to_string(self.log()).unwrap());
            }
            let ready = self.http.get(self.gateway("/readyz")).send().await;
            if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            assert!(Instant::now() < deadline, "not ready within 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn stop(&mut self) {
        let mut child = self.child.take().unwrap();
        assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
        assert!(child.wait().unwrap().success(), "flotilla stopped cleanly");
    }

    /// `flotilla <args>` with the system's configuration; returns (success, stdout + stderr).
    fn cli(&self, args: &[&str]) -> (bool, String) {
        let output = self.command(SETTINGS).args(args).output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), text)
    }

    fn assert_consistent(&self) {
        let (ok, report) = self.cli(&["check", "--wait-s", "20"]);
        assert!(ok, "flotilla check found violations:\n{report}");
        assert!(report.contains("every invariant holds"), "{report}");
    }

    /// Sets the processor's fault knobs (all of them: those not given are off).
    async fn faults(&self, knobs: Value) {
        let url = self.url("payment-provider", "/v1/simulator/faults");
        let response = self.http.put(url).bearer_auth(PROVIDER_KEY).json(&knobs).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// A person's access token from identity (password sign-in through the code flow with PKCE).
    async fn token(&self, email: &str, password: &str) -> (String, String) {
        use base64::Engine;
        use sha2::Digest;
        let verifier = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let challenge =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        let redirect = self.gateway("/auth/callback");
        let browser =
            flotilla_chassis::outbound::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let authorize = self.url("identity", "/oauth2/authorize");
        let query = [
            ("response_type", "code"),
            ("client_id", "gateway"),
            ("redirect_uri", redirect.as_str()),
            ("scope", "openid email"),
            ("state", "s"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let page = browser.get(&authorize).query(&query).send().await.unwrap();
        let cookies: Vec<String> = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect();
        let mut form = hidden_fields(&page.text().await.unwrap());
        form.push(("email".into(), email.into()));
        form.push(("password".into(), password.into()));
        let signed_in = browser.post(&authorize).header("cookie", cookies.join("; ")).form(&form).send().await.unwrap();
        let back = signed_in.headers()["location"].to_str().unwrap().to_owned();
        let code = url::Url::parse(&back).unwrap().query_pairs().find(|(k, _)| k == "code").unwrap().1.into_owned();
        let tokens: Value = self
            .http
            .post(self.url("identity", "/oauth2/token"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", redirect.as_str()),
                ("client_id", "gateway"),
                ("code_verifier", verifier.as_str()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = tokens["access_token"].as_str().unwrap().to_owned();
        let claims = token.split('.').nth(1).unwrap();
        let claims: Value =
            serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        (token, claims["sub"].as_str().unwrap().to_owned())
    }

    async fn shopper(&self, email: &str) -> Shopper {
        let password = "shopper pass phrase 5e1d";
        let registered = self
            .http
            .post(self.gateway("/api/v1/identity/users"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), StatusCode::CREATED, "{}", registered.text().await.unwrap());
        let (token, subject) = self.token(email, password).await;
        Shopper { http: flotilla_testkit::client_with_token(&token), subject, email: email.into() }
    }

    async fn admin(&self) -> reqwest::Client {
        flotilla_testkit::client_with_token(&self.token("admin@flotilla.test", ADMIN_PASSWORD).await.0)
    }
}

fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').unwrap();
            let value = rest.split_once("value=\"").unwrap().1.split_once('"').unwrap().0;
            let value = value.replace("&#43;", "+").replace("&#x2f;", "/").replace("&#x27;", "'").replace("&amp;", "&");
            (name.to_owned(), value)
        })
        .collect()
}

struct Shopper {
    http: reqwest::Client,
    subject: String,
    email: String,
}

impl Shopper {
    /// Puts `quantity` of `product` in the basket (waiting for the basket to learn of it).
    async fn fill(&self, system: &System, product: &str, quantity: u32) {
        let url = system.gateway(&format!("/api/v1/basket/baskets/{}/items/{product}", self.subject));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let put = self.http.put(&url).json(&json!({ "quantity": quantity })).send().await.unwrap();
            if put.status() == StatusCode::OK {
                return;
            }
            assert_eq!(put.status(), StatusCode::UNPROCESSABLE_ENTITY, "{}", put.text().await.unwrap());
            assert!(Instant::now() < deadline, "the basket never learnt of {product}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn body(&self, card: &str) -> Value {
        json!({
            "ship_to": {"name": "Sam", "line1": "1 High Street", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
            "contact_email": self.email,
            "payment_method": card,
        })
    }

    async fn checkout(&self, system: &System, key: &str, card: &str) -> reqwest::Response {
        let url = system.gateway("/api/v1/ordering/orders");
        self.http.post(url).header("idempotency-key", key).json(&self.body(card)).send().await.unwrap()
    }

    /// One of `product` into the basket and a checkout that is accepted; returns the order id
    /// once its lines have left the basket (the basket hears of the order by its event).
    async fn order(&self, system: &System, product: &str, card: &str) -> String {
        self.fill(system, product, 1).await;
        let accepted = self.checkout(system, &uuid::Uuid::now_v7().to_string(), card).await;
        assert_eq!(accepted.status(), StatusCode::ACCEPTED, "{}", accepted.text().await.unwrap());
        let order = accepted.json::<Value>().await.unwrap()["order_id"].as_str().unwrap().to_owned();
        self.emptied(system).await;
        order
    }

    async fn emptied(&self, system: &System) {
        let url = system.gateway(&format!("/api/v1/basket/baskets/{}", self.subject));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let basket: Value = self.http.get(&url).send().await.unwrap().json().await.unwrap();
            if basket["lines"] == json!([]) {
                return;
            }
            assert!(Instant::now() < deadline, "the order's lines never left the basket: {basket}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the order's status is one of `statuses`; returns the order.
    async fn settles(&self, system: &System, order_id: &str, statuses: &[&str]) -> Value {
        let url = system.gateway(&format!("/api/v1/ordering/orders/{order_id}"));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let order: Value = self.http.get(&url).send().await.unwrap().json().await.unwrap();
            if statuses.iter().any(|s| order["status"] == *s) {
                return order;
            }
            assert!(Instant::now() < deadline, "order never became {statuses:?}: {order}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The first `count` products of the demo catalogue.
async fn products(system: &System, count: usize) -> Vec<(String, String)> {
    let url = system.gateway(&format!("/api/v1/catalog/products?limit={count}"));
    let page: Value = system.http.get(url).send().await.unwrap().json().await.unwrap();
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().into(), p["sku"].as_str().unwrap().into()))
        .collect()
}

/// Sets `sku`'s free units to `units` with an admin's adjustment.
async fn set_stock(system: &System, admin: &reqwest::Client, sku: &str, units: i64) {
    let free: Value = system
        .http
        .get(system.gateway(&format!("/api/v1/inventory/stock/{sku}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let delta = units - free["available"].as_i64().unwrap();
    if delta != 0 {
        let url = system.gateway(&format!("/api/v1/inventory/stock/{sku}/adjustments"));
        let adjusted = admin.post(url).json(&json!({"delta": delta, "reason": "test set-up"})).send().await.unwrap();
        assert_eq!(adjusted.status(), StatusCode::OK, "{}", adjusted.text().await.unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_ends_consistent_embedded() {
    every_failure_ends_consistent(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_ends_consistent_on_postgres_and_nats() {
    every_failure_ends_consistent(Backend::Postgres).await;
}

async fn every_failure_ends_consistent(backend: Backend) {
    let mut system = System::new(backend).await;
    system.start(SETTINGS).await;
    let admin = system.admin().await;
    let ada = system.shopper("ada@example.com").await;
    let catalogue = products(&system, 4).await;
    let (product, sku) = &catalogue[0];

    // The same key twice: the same order; with another body: refused.
    ada.fill(&system, product, 1).await;
    let first = ada.checkout(&system, "ada-1", APPROVE).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first: Value = first.json().await.unwrap();
    ada.emptied(&system).await;
    // Sent again once the basket is empty: still the first order, not a refusal.
    let again: Value = ada.checkout(&system, "ada-1", APPROVE).await.json().await.unwrap();
    assert_eq!(again["order_id"], first["order_id"]);
    assert_eq!(ada.checkout(&system, "ada-1", DECLINE).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let happy = ada.settles(&system, first["order_id"].as_str().unwrap(), &["shipped"]).await;
    assert_eq!(happy["timeline"].as_array().unwrap().last().unwrap()["status"], "shipped");

    // A declined card: the stock is given back, the order rejected.
    let declined = ada.order(&system, product, DECLINE).await;
    assert_eq!(ada.settles(&system, &declined, &["rejected"]).await["reason"], "payment-declined");

    // Out of stock.
    set_stock(&system, &admin, sku, 0).await;
    let short = ada.order(&system, product, APPROVE).await;
    assert_eq!(ada.settles(&system, &short, &["rejected"]).await["reason"], "out-of-stock");
    set_stock(&system, &admin, sku, 50).await;

    // The processor acts and then does not answer in time: resolved by asking it, charged once.
    system.faults(json!({"act_then_timeout": 2, "hang_ms": 1500})).await;
    let unanswered = ada.order(&system, product, APPROVE).await;
    ada.settles(&system, &unanswered, &["confirmed", "shipped"]).await;
    system.faults(json!({})).await;

    // A slow processor: unanswered calls are retried with the same key until it recovers.
    system.faults(json!({"latency_ms": 1000})).await;
    let slow = ada.order(&system, product, APPROVE).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(ada.settles(&system, &slow, &["stock_reserved"]).await["status"], "stock_reserved");
    system.faults(json!({})).await;
    ada.settles(&system, &slow, &["confirmed", "shipped"]).await;

    // The processor is down: the breaker opens, orders fail fast and their stock is given back.
    system.faults(json!({"outage": true})).await;
    let mut down = Vec::new();
    for _ in 0..3 {
        down.push(ada.order(&system, product, APPROVE).await);
    }
    for order in &down {
        assert_eq!(ada.settles(&system, order, &["rejected"]).await["reason"], "payment-failed");
    }
    let metrics = system.http.get(system.url("payments", "/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("outcome=\"circuit_open\""), "the breaker opened: {metrics}");
    system.faults(json!({})).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Cancelled before it is confirmed, and after (before the carrier collects it): nothing held.
    let early = ada.order(&system, product, APPROVE).await;
    let cancel = |order: &str| system.gateway(&format!("/api/v1/ordering/orders/{order}/cancel"));
    let cancelled = ada.http.post(cancel(&early)).send().await.unwrap();
    assert!([StatusCode::ACCEPTED, StatusCode::CONFLICT].contains(&cancelled.status()));
    ada.settles(&system, &early, &["cancelled", "shipped"]).await;
    let late = ada.order(&system, product, APPROVE).await;
    ada.settles(&system, &late, &["confirmed"]).await;
    assert_eq!(ada.http.post(cancel(&late)).send().await.unwrap().status(), StatusCode::ACCEPTED);
    let refunded = ada.settles(&system, &late, &["cancelled"]).await;
    assert_eq!(refunded["refunded"]["amount_minor"], refunded["total"]["amount_minor"]);

    // Eight customers check out at once for the last three units: exactly three are confirmed.
    let (last, last_sku) = &catalogue[1];
    set_stock(&system, &admin, last_sku, 3).await;
    let mut crowd = Vec::new();
    for i in 0..8 {
        crowd.push(system.shopper(&format!("shopper{i}@example.com")).await);
    }
    let racing = crowd.iter().map(|shopper| shopper.order(&system, last, APPROVE));
    let raced: Vec<String> = futures_util::future::join_all(racing).await;
    let mut outcomes = Vec::new();
    for (shopper, order) in crowd.iter().zip(&raced) {
        let settled = shopper.settles(&system, order, &["confirmed", "shipped", "rejected"]).await;
        outcomes.push(settled["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(outcomes.iter().filter(|s| *s != "rejected").count(), 3, "{outcomes:?}");
    let free: Value = system
        .http
        .get(system.gateway(&format!("/api/v1/inventory/stock/{last_sku}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(free["available"], 0);

    system.assert_consistent();
    system.stop();
}

/// A step whose handler keeps failing goes to dead letters; once the cause is fixed (here a
/// limit set too low) and the letter replayed, the order completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_lettered_step_replayed_after_the_fix_completes_the_order() {
    let mut system = System::new(Backend::Sqlite).await;
    let too_strict = format!("{SETTINGS}\n[services.inventory]\nmax_units_per_line = 1\n");
    system.start(&too_strict).await;
    let ada = system.shopper("ada@example.com").await;
    let (product, _) = products(&system, 1).await.remove(0);
    ada.fill(&system, &product, 2).await;
    let accepted = ada.checkout(&system, "dlq-1", APPROVE).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let order = accepted.json::<Value>().await.unwrap()["order_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !system.cli(&["dlq", "list", "--consumer", "inventory.reservations"]).1.contains("reserve-stock") {
        assert!(Instant::now() < deadline, "the reservation never reached the dead letters");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ada.settles(&system, &order, &["pending"]).await["status"], "pending", "waiting, under its timer");
    system.stop();

    // The fix: the default limit. Then the replay, and the saga carries on.
    system.start(SETTINGS).await;
    let (ok, replayed) = system.cli(&["dlq", "replay", "--consumer", "inventory.reservations"]);
    assert!(ok, "{replayed}");
    ada.settles(&system, &order, &["shipped"]).await;
    system.assert_consistent();
    system.stop();
}
