//! The whole system started as a person or an operator starts it (`flotilla run`, `flotilla
//! up`), and what a test does with it: customers who sign up, fill baskets and check out
//! through the gateway with real tokens, an admin, the processor's fault knobs, `flotilla check`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flotilla_testkit::{Backend, NatsServer, TestDatabase};
use reqwest::StatusCode;
use serde_json::{Value, json};

use flotilla_identity::headless::{self, SignIn};

use super::Ports;

pub const ADMIN_PASSWORD: &str = "admin pass phrase 91c2";
const PROVIDER_KEY: &str = "sk_test_flotilla_simulator";

/// The whole system as a test runs it: its own data directory, config and ports, its own
/// PostgreSQL databases (when distributed) that are dropped afterwards.
pub struct System {
    dir: tempfile::TempDir,
    pub ports: Ports,
    database: TestDatabase,
    nats: Option<NatsServer>,
    child: Option<Child>,
    pub http: reqwest::Client,
    /// `flotilla up`: every service its own process, with a NATS server of its own starting.
    up: bool,
}

impl Drop for System {
    /// A test that fails mid-way still leaves no process behind: SIGTERM first, since `flotilla
    /// up` stops the services it started (each in a process group of its own) only then, and
    /// SIGKILL would orphan them; SIGKILL if it has not stopped by the deadline.
    fn drop(&mut self) {
        let Some(child) = &mut self.child else { return };
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl System {
    /// `flotilla run`, embedded (SQLite and the embedded log) or on PostgreSQL and NATS.
    pub async fn new(backend: Backend) -> Self {
        let nats = (backend == Backend::Postgres).then(NatsServer::start);
        Self::with(TestDatabase::new(backend).await, nats, false)
    }

    /// `flotilla up` on PostgreSQL; it starts its own NATS.
    pub async fn up() -> Self {
        Self::with(TestDatabase::new(Backend::Postgres).await, None, true)
    }

    fn with(database: TestDatabase, nats: Option<NatsServer>, up: bool) -> Self {
        let system = Self {
            dir: tempfile::tempdir().unwrap(),
            ports: Ports::held(),
            database,
            nats,
            child: None,
            http: flotilla_chassis::outbound::builder().build().unwrap(),
            up,
        };
        std::fs::create_dir_all(system.dir.path().join("config")).unwrap();
        system
    }

    pub fn database_prefix(&self) -> &str {
        self.database.prefix()
    }

    pub fn url(&self, service: &str, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.ports.of(service))
    }

    pub fn gateway(&self, path: &str) -> String {
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
            .envs(std::env::var_os("FLOTILLA_NATS_SERVER").map(|server| ("FLOTILLA_NATS_SERVER", server)))
            .current_dir(self.dir.path());
        if self.up {
            command.env("FLOTILLA_DATABASE__URL", flotilla_testkit::postgres_server_url());
            command.env("FLOTILLA_DATABASE__DATABASE_PREFIX", self.database.prefix());
            command.env("FLOTILLA_DATABASE__BACKEND", "postgres");
        }
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

    pub fn log(&self) -> PathBuf {
        self.dir.path().join("flotilla.log")
    }

    /// Starts the system with `settings` as its dev.toml and waits until the gateway is ready.
    pub async fn start(&mut self, settings: &str) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log()).unwrap();
        let mut command = self.command(settings);
        if self.up {
            command.args(["up", "--database-prefix", self.database.prefix()]);
        } else {
            command.arg("run");
        }
        // Held since the system was made, so that no other test took one meanwhile; a restart
        // binds them again after the previous process let them go, which no test can hold for it.
        self.ports.release();
        let child = command.stdout(log.try_clone().unwrap()).stderr(log).stdin(Stdio::null()).spawn().unwrap();
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

    /// Stops the system with `signal` (as a terminal's Ctrl-C or an orchestrator would) and
    /// asserts that it stopped cleanly.
    pub fn stop_with(&mut self, signal: &str) {
        let mut child = self.child.take().unwrap();
        assert!(
            Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap().success()
        );
        assert!(
            child.wait().unwrap().success(),
            "flotilla stopped cleanly: {}",
            std::fs::read_to_string(self.log()).unwrap()
        );
    }

    pub fn stop(&mut self) {
        self.stop_with("TERM");
    }

    /// `flotilla <args>` with the system's configuration (as last started); returns (success,
    /// stdout + stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String) {
        self.cli_with_input(args, "")
    }

    /// As [`System::cli`], with `input` on standard input.
    pub fn cli_with_input(&self, args: &[&str], input: &str) -> (bool, String) {
        use std::io::Write;
        let settings = std::fs::read_to_string(self.dir.path().join("config/dev.toml")).unwrap_or_default();
        let mut child = self
            .command(&settings)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), text)
    }

    pub fn assert_consistent(&self) {
        let (ok, report) = self.cli(&["check", "--wait-s", "20"]);
        assert!(ok, "flotilla check found violations:\n{report}");
        assert!(report.contains("every invariant holds"), "{report}");
    }

    /// Sets the processor's fault knobs (all of them: those not given are off).
    pub async fn faults(&self, knobs: Value) {
        let url = self.url("payment-provider", "/v1/simulator/faults");
        let response = self.http.put(url).bearer_auth(PROVIDER_KEY).json(&knobs).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// A person's tokens from identity, signed in as an app would (the code flow with PKCE).
    pub async fn tokens(&self, email: &str, password: &str, scope: &str) -> Value {
        let redirect = self.gateway("/auth/callback");
        let identity = self.url("identity", "");
        let request =
            SignIn { identity: &identity, client_id: "gateway", redirect_uri: &redirect, scope, email, password };
        headless::sign_in(&self.http, request).await.unwrap()
    }

    /// A person's access token and subject.
    pub async fn token(&self, email: &str, password: &str) -> (String, String) {
        let tokens = self.tokens(email, password, "openid email").await;
        let token = tokens["access_token"].as_str().unwrap().to_owned();
        let subject = headless::subject_of(&token).unwrap();
        (token, subject)
    }

    pub async fn shopper(&self, email: &str) -> Shopper {
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

    pub async fn admin(&self) -> reqwest::Client {
        flotilla_testkit::client_with_token(&self.token("admin@flotilla.test", ADMIN_PASSWORD).await.0)
    }
}

pub struct Shopper {
    pub http: reqwest::Client,
    pub subject: String,
    pub email: String,
}

impl Shopper {
    /// Puts `quantity` of `product` in the basket (waiting for the basket to learn of it).
    pub async fn fill(&self, system: &System, product: &str, quantity: u32) {
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

    pub fn body(&self, card: &str) -> Value {
        json!({
            "ship_to": {"name": "Sam", "line1": "1 High Street", "city": "Leeds", "postal_code": "LS1 1AA", "country": "GB"},
            "contact_email": self.email,
            "payment_method": card,
        })
    }

    pub async fn checkout(&self, system: &System, key: &str, card: &str) -> reqwest::Response {
        let url = system.gateway("/api/v1/ordering/orders");
        self.http.post(url).header("idempotency-key", key).json(&self.body(card)).send().await.unwrap()
    }

    /// One of `product` into the basket and a checkout that is accepted; returns the order id
    /// once its lines have left the basket (the basket hears of the order by its event).
    pub async fn order(&self, system: &System, product: &str, card: &str) -> String {
        self.fill(system, product, 1).await;
        let accepted = self.checkout(system, &uuid::Uuid::now_v7().to_string(), card).await;
        assert_eq!(accepted.status(), StatusCode::ACCEPTED, "{}", accepted.text().await.unwrap());
        let order = accepted.json::<Value>().await.unwrap()["order_id"].as_str().unwrap().to_owned();
        self.emptied(system).await;
        order
    }

    pub async fn emptied(&self, system: &System) {
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
    pub async fn settles(&self, system: &System, order_id: &str, statuses: &[&str]) -> Value {
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
