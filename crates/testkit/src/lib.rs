//! Test harness: run a real service on a free port against a fresh database of either backend.
//!
//! PostgreSQL comes from `TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`). When
//! it cannot be reached the test fails with a message saying so: it never passes by skipping.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a harness reports setup failures by panicking

mod issuer;
pub mod matrix;
mod nats;
pub mod otlp;
mod own_metrics;
mod peer;

pub use issuer::{CLIENT_SECRET, TestIssuer, now, tampered};
pub use nats::NatsServer;
pub use own_metrics::OwnMetrics;
pub use peer::Peer;

use std::net::SocketAddr;
use std::sync::Arc;

use flotilla_chassis::Config;
use flotilla_chassis::service::{Application, ServiceDefinition, StartError};
use serde_json::Value;
use sqlx::{Any, AssertSqlSafe, Connection, Executor};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates one test per backend from `async fn name(backend: Backend)` functions.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name($crate::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::$name($crate::Backend::Postgres).await } )*
        }
    };
}

pub fn postgres_server_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.into())
}

/// A database that lives as long as the test: a temporary directory or a PostgreSQL database.
pub struct TestDatabase {
    backend: Backend,
    data_dir: tempfile::TempDir,
    prefix: String,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Self {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let prefix = format!("t{}_", uuid::Uuid::new_v4().simple());
        if backend == Backend::Postgres {
            let url = format!("{}/postgres", postgres_server_url());
            sqlx::any::install_default_drivers();
            if let Err(error) = sqlx::AnyConnection::connect(&url).await {
                panic!(
                    "PostgreSQL is required by this test and is not reachable at {url}: {error}. \
                     Start it, or point TEST_POSTGRES_URL at a server where the user may create databases."
                );
            }
        }
        Self { backend, data_dir, prefix }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The prefix of every database this test creates (`database.database_prefix`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Configuration pointing a service at this database.
    pub fn config(&self) -> Config {
        let mut config = Config::defaults()
            .and_then(|c| c.set("data_dir", self.data_dir.path()))
            .and_then(|c| c.set("database.database_prefix", &self.prefix))
            .expect("test configuration");
        if self.backend == Backend::Postgres {
            config = config
                .set("database.url", postgres_server_url())
                .and_then(|c| c.set("database.backend", "postgres"))
                .expect("test configuration");
        }
        config
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.backend != Backend::Postgres {
            return;
        }
        let prefix = self.prefix.clone();
        // Drop runs outside any async context we could await in; a helper thread with its own
        // runtime drops every database this test created (one per service).
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async move {
                let mut conn =
                    sqlx::AnyConnection::connect(&format!("{}/postgres", postgres_server_url())).await.ok()?;
                let names: Vec<String> =
                    sqlx::query_scalar::<Any, String>("SELECT datname FROM pg_database WHERE datname LIKE $1")
                        .bind(format!("{prefix}%"))
                        .fetch_all(&mut conn)
                        .await
                        .ok()?;
                for name in names {
                    // Names are generated above from a UUID and a service name: safe to quote.
                    let _ = conn
                        .execute(sqlx::raw_sql(AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))))
                        .await;
                }
                Some(())
            })
        });
        let _ = cleanup.join();
    }
}

/// A running service.
pub struct TestApp {
    pub addr: SocketAddr,
    /// Where the probes, `/metrics` and `/version` are when `services.<name>.ops_port` is set.
    pub ops_addr: Option<SocketAddr>,
    /// Sends no credentials.
    pub client: reqwest::Client,
    /// Sends an admin's access token from `issuer` with every request.
    pub admin: reqwest::Client,
    /// The issuer whose tokens the service accepts (unless the test pointed `auth.*` elsewhere).
    pub issuer: Arc<TestIssuer>,
    definition: &'static ServiceDefinition,
    config: Config,
    stop: CancellationToken,
    serving: JoinHandle<Result<(), StartError>>,
    database: TestDatabase,
}

/// Starts `definition` on a free port with a fresh `backend` database, accepting tokens from a
/// fresh [`TestIssuer`], with the given settings layered on top.
pub async fn spawn(definition: &'static ServiceDefinition, backend: Backend, settings: &[(&str, Value)]) -> TestApp {
    try_spawn(definition, backend, settings)
        .await
        .unwrap_or_else(|e| panic!("{} failed to start: {e}", definition.name))
}

/// As [`spawn`], returning why the service did not start: a test that must choose the service's
/// port itself (a [`free_port`]) can choose again when another process took it meanwhile
/// ([`StartError::Bind`]).
pub async fn try_spawn(
    definition: &'static ServiceDefinition,
    backend: Backend,
    settings: &[(&str, Value)],
) -> Result<TestApp, StartError> {
    let database = TestDatabase::new(backend).await;
    let issuer = Arc::new(TestIssuer::start().await);
    let mut config = database.config().set(&format!("services.{}.port", definition.name), 0).expect("port");
    for (key, value) in issuer.settings().iter().map(|(k, v)| (*k, v)).chain(settings.iter().map(|(k, v)| (*k, v))) {
        config = config.set(key, value).unwrap_or_else(|e| panic!("test setting {key}: {e}"));
    }
    let config = config.resolve_addresses(&[definition]).expect("addresses");
    try_start(definition, config, database, issuer).await
}

/// Asserts that `docs/api/<service>.openapi.json` is the document `app` serves; with
/// `UPDATE_CONTRACTS=1` it rewrites the file first, for a reviewed change to be committed.
pub async fn assert_committed_openapi(app: &TestApp) {
    let name = app.definition.name;
    let committed = format!("{}/../../docs/api/{name}.openapi.json", env!("CARGO_MANIFEST_DIR"));
    let served: Value = app.client.get(app.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(served["openapi"], "3.1.0");
    let served = format!("{}\n", serde_json::to_string_pretty(&served).unwrap());
    if std::env::var_os("UPDATE_CONTRACTS").is_some() {
        std::fs::write(&committed, &served).unwrap();
    }
    assert!(
        std::fs::read_to_string(&committed).unwrap_or_default() == served,
        "docs/api/{name}.openapi.json differs from the API the code serves; review the change, then run \
         `UPDATE_CONTRACTS=1 cargo test -p flotilla-{name} --test component contract` and commit the file"
    );
}

/// Where one of a problem's `errors` points, as the service named it: the body's JSON Pointer
/// (`/price/currency`, from RFC 9457's `#/price/currency`) or a parameter's name.
pub fn location(violation: &Value) -> String {
    match (violation["pointer"].as_str(), violation["parameter"].as_str()) {
        (Some(pointer), _) => pointer.strip_prefix('#').unwrap_or(pointer).to_owned(),
        (None, Some(parameter)) => parameter.to_owned(),
        (None, None) => panic!("a violation names neither a pointer nor a parameter: {violation}"),
    }
}

/// A port that was free a moment ago, for a service that must know its address before it
/// starts (an issuer names itself in its tokens).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// A client that sends `token` as its bearer token, and follows no redirects.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).expect("token header");
    value.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, value);
    flotilla_chassis::outbound::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client")
}

async fn start(
    definition: &'static ServiceDefinition,
    config: Config,
    database: TestDatabase,
    issuer: Arc<TestIssuer>,
) -> TestApp {
    try_start(definition, config, database, issuer)
        .await
        .unwrap_or_else(|e| panic!("{} failed to start: {e}", definition.name))
}

async fn try_start(
    definition: &'static ServiceDefinition,
    config: Config,
    database: TestDatabase,
    issuer: Arc<TestIssuer>,
) -> Result<TestApp, StartError> {
    let app = Application::build(definition, config.clone()).await?;
    let addr = app.local_addr().expect("bound address");
    let ops_addr = app.ops_addr();
    let stop = CancellationToken::new();
    let serving = tokio::spawn(app.run_until_stopped(stop.clone()));
    let client =
        flotilla_chassis::outbound::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let admin = client_with_token(&issuer.token("test-admin", &["admin"]));
    Ok(TestApp { addr, ops_addr, client, admin, issuer, definition, config, stop, serving, database })
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Stops the service gracefully and waits until it has.
    pub async fn stop(self) -> TestDatabase {
        self.stop.cancel();
        self.serving.await.expect("service task").expect("service stopped cleanly");
        self.database
    }

    /// Stops the service and starts it again on the same database, as a process restart would.
    pub async fn restart(self) -> TestApp {
        self.restart_with(&[]).await
    }

    /// As [`TestApp::restart`], with `settings` layered on the configuration first: a rotated
    /// secret, say.
    pub async fn restart_with(self, settings: &[(&str, Value)]) -> TestApp {
        let definition = self.definition;
        let mut config = self.config.clone();
        for (key, value) in settings {
            config = config.set(key, value.clone()).unwrap_or_else(|e| panic!("test setting {key}: {e}"));
        }
        let issuer = Arc::clone(&self.issuer);
        let database = self.stop().await;
        start(definition, config, database, issuer).await
    }
}
