//! One backend's world: a service database with the messaging tables, the bus, and probes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla_chassis::db::{Database, MigrationFile};
use flotilla_chassis::telemetry::causality::Causality;
use flotilla_contracts::Message;
use flotilla_contracts::catalog::ProductDeletedV1;
use flotilla_messaging::bus::{BoxFuture, Bus};
use flotilla_messaging::consumer::{ConsumerRuntime, RetryPolicy};
use flotilla_messaging::relay::Relay;
use flotilla_messaging::settings::BusSettings;
use flotilla_messaging::{Consumer, Envelope, Handle, HandlerError, Outbox};
use flotilla_testkit::{Backend, NatsServer, TestDatabase};
use sqlx::{AnyConnection, Row};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const SERVICE: &str = "testsvc";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Embedded,
    Nats,
}

const MIGRATIONS: &[MigrationFile] = &[
    flotilla_messaging::outbox::migration(1),
    MigrationFile::portable(
        2,
        "what handlers applied",
        "CREATE TABLE applied (message_id TEXT NOT NULL, subject TEXT NOT NULL, version BIGINT NOT NULL)",
    ),
];

pub struct World {
    pub db: Database,
    pub settings: BusSettings,
    pub nats: Option<NatsServer>,
    pub data_dir: std::path::PathBuf,
    pub outbox: Outbox,
    pub stopping: CancellationToken,
    _database: TestDatabase,
}

impl World {
    pub async fn new(kind: Kind) -> Self {
        let backend = match kind {
            Kind::Embedded => Backend::Sqlite,
            Kind::Nats => Backend::Postgres,
        };
        let database = TestDatabase::new(backend).await;
        let nats = (kind == Kind::Nats).then(NatsServer::start);
        let mut config = database
            .config()
            .set("bus.ack_wait_ms", 1500)
            .and_then(|c| c.set("bus.max_attempts", 3))
            .and_then(|c| c.set("bus.retry_base_ms", 200))
            .and_then(|c| c.set("bus.retry_max_ms", 800))
            .and_then(|c| c.set("bus.relay_poll_ms", 50))
            .and_then(|c| c.set("bus.relay_backoff_max_ms", 200))
            .and_then(|c| c.set("bus.relay_lease_ms", 1000))
            .and_then(|c| c.set("bus.embedded.poll_ms", 20))
            .and_then(|c| c.set("bus.embedded.busy_timeout_ms", 100))
            .and_then(|c| c.set("bus.nats.request_timeout_ms", 1000))
            .unwrap();
        if let Some(nats) = &nats {
            config = config.set("bus.backend", "nats").and_then(|c| c.set("bus.nats.url", nats.url())).unwrap();
        }
        let settings = BusSettings::from_config(&config).unwrap();
        let data_dir = config.settings.data_dir.clone();
        let db = Database::connect(SERVICE, &config.settings.database, &data_dir).await.unwrap();
        db.migrate(SERVICE, MIGRATIONS).await.unwrap();
        Self {
            db,
            settings,
            nats,
            data_dir,
            outbox: Outbox::new(SERVICE),
            stopping: CancellationToken::new(),
            _database: database,
        }
    }

    pub async fn bus(&self) -> Arc<dyn Bus> {
        flotilla_messaging::service::connect(&self.settings, &self.data_dir, SERVICE).await.unwrap()
    }

    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.settings.max_attempts,
            base: Duration::from_millis(self.settings.retry_base_ms),
            max: Duration::from_millis(self.settings.retry_max_ms),
        }
    }

    /// Starts a relay replica on its own bus connection; it runs until the world stops or the
    /// handle is aborted (the replica dies).
    pub async fn start_relay(&self) -> tokio::task::JoinHandle<()> {
        let relay = Relay::new(SERVICE, self.db.clone(), self.bus().await, self.settings.relay_options(), &self.outbox);
        tokio::spawn(relay.run(self.stopping.clone()))
    }

    /// Starts a replica of the consumer `name` with `probe` as its handler; aborting the handle
    /// kills just this replica, mid-flight if it is handling something.
    pub async fn start_consumer(&self, name: &str, probe: &Probe) -> tokio::task::JoinHandle<()> {
        let consumer = Consumer::new(SERVICE, name).on::<ProductDeletedV1, _>(probe.clone());
        let runtime = ConsumerRuntime::new(consumer, self.db.clone(), self.retry(), self.settings.ack_wait());
        tokio::spawn(runtime.run(self.bus().await, self.stopping.clone()))
    }

    /// Writes events into the outbox, each in its own transaction, as a service would.
    pub async fn emit(&self, events: &[ProductDeletedV1]) -> Vec<Uuid> {
        let mut ids = Vec::new();
        for event in events {
            let mut tx = self.db.begin_write().await.unwrap();
            ids.push(self.outbox.add(&mut tx, event).await.unwrap());
            tx.commit().await.unwrap();
            self.outbox.committed();
        }
        ids
    }

    /// Rows the handlers committed, as (message_id, subject, version).
    pub async fn applied(&self) -> Vec<(String, String, i64)> {
        sqlx::query("SELECT message_id, subject, version FROM applied")
            .fetch_all(self.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1), row.get(2)))
            .collect()
    }

    /// Waits until `count` rows are applied, or fails after 30 s.
    pub async fn wait_applied(&self, count: usize) -> Vec<(String, String, i64)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let applied = self.applied().await;
            if applied.len() >= count {
                return applied;
            }
            assert!(Instant::now() < deadline, "only {} of {count} messages applied within 30 s", applied.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        self.stopping.cancel();
    }
}

pub fn deleted(product: Uuid, version: i64) -> ProductDeletedV1 {
    ProductDeletedV1 { product_id: product, version, sku: format!("SKU-{version}") }
}

/// What the handler does with the next attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    /// Fail transiently this many times per message, then apply.
    FailFirst(u32),
    FailPermanently,
    /// Never return (the process "dies" while handling).
    Hang,
}

/// One handling attempt as the handler saw it.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub message_id: Uuid,
    pub subject: String,
    pub version: i64,
    pub at: Instant,
    pub trace_id: Option<String>,
}

#[derive(Clone)]
pub struct Probe {
    state: Arc<Mutex<ProbeState>>,
    pub delay: Duration,
}

struct ProbeState {
    mode: Mode,
    attempts: Vec<Attempt>,
    failures: HashMap<Uuid, u32>,
}

impl Probe {
    pub fn new(mode: Mode) -> Self {
        Self {
            state: Arc::new(Mutex::new(ProbeState { mode, attempts: Vec::new(), failures: HashMap::new() })),
            delay: Duration::ZERO,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.state.lock().unwrap().attempts.clone()
    }
}

impl Handle<ProductDeletedV1> for Probe {
    fn handle<'a>(
        &'a self,
        message: ProductDeletedV1,
        envelope: &'a Envelope,
        conn: &'a mut AnyConnection,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let mode = {
                let mut state = self.state.lock().unwrap();
                state.attempts.push(Attempt {
                    message_id: envelope.id,
                    subject: envelope.subject.clone(),
                    version: message.version,
                    at: Instant::now(),
                    trace_id: Causality::current().map(|c| c.trace.trace_id),
                });
                let mode = state.mode;
                if let Mode::FailFirst(times) = mode {
                    let failed = state.failures.entry(envelope.id).or_default();
                    if *failed < times {
                        *failed += 1;
                        return Err(HandlerError::Transient(format!("attempt {failed} failed on purpose")));
                    }
                }
                mode
            };
            match mode {
                Mode::FailPermanently => return Err(HandlerError::Permanent("never acceptable".into())),
                Mode::Hang => std::future::pending::<()>().await,
                Mode::Apply | Mode::FailFirst(_) => {}
            }
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            sqlx::query("INSERT INTO applied (message_id, subject, version) VALUES ($1, $2, $3)")
                .bind(envelope.id.to_string())
                .bind(message.subject())
                .bind(message.version)
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }
}
