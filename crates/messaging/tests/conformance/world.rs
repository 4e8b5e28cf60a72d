//! One backend's world: a service database with the messaging tables, the bus, and probes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flotilla_chassis::db::{Database, MigrationFile};
use flotilla_chassis::telemetry::causality::Causality;
use flotilla_contracts::catalog::ProductDeletedV1;
use flotilla_contracts::{Message, MessageKind};
use flotilla_messaging::bus::Bus;
use flotilla_messaging::consumer::{ConsumerRuntime, RetryPolicy};
use flotilla_messaging::relay::{Relay, RelayOptions};
use flotilla_messaging::settings::BusSettings;
use flotilla_messaging::timers::TimerWorker;
use flotilla_messaging::{Consumer, Envelope, HandlerError, Outbox, RawMessage, UnitOfWork};
use flotilla_testkit::{Backend, NatsServer, TestDatabase};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub const SERVICE: &str = "testsvc";
/// The service that owns the test command and its reply.
pub const PEER: &str = "peer";

/// An event of the test service, which the probe publishes for every message it applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotedV1 {
    pub product_id: Uuid,
    pub version: i64,
}

impl Message for NotedV1 {
    const TYPE: &'static str = "flotilla.testsvc.noted.v1";
    const SUMMARY: &'static str = "The probe applied a message.";
    fn subject(&self) -> String {
        self.product_id.to_string()
    }
}

/// A command the peer owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PingV1 {
    pub n: i64,
}

impl Message for PingV1 {
    const TYPE: &'static str = "flotilla.peer.ping.v1";
    const SUMMARY: &'static str = "Asks the peer to answer.";
    const KIND: MessageKind = MessageKind::Command;
    fn subject(&self) -> String {
        self.n.to_string()
    }
}

/// The peer's reply to a ping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PongV1 {
    pub n: i64,
}

impl Message for PongV1 {
    const TYPE: &'static str = "flotilla.peer.pong.v1";
    const SUMMARY: &'static str = "The peer's answer.";
    const KIND: MessageKind = MessageKind::Reply;
    fn subject(&self) -> String {
        self.n.to_string()
    }
}

/// What the test service schedules to itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WakeV1 {
    pub n: i64,
}

impl Message for WakeV1 {
    const TYPE: &'static str = "flotilla.testsvc.wake.v1";
    const SUMMARY: &'static str = "A timer came due.";
    const KIND: MessageKind = MessageKind::Timer;
    fn subject(&self) -> String {
        self.n.to_string()
    }
}

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
    flotilla_messaging::timers::migration(3),
];

pub struct World {
    pub db: Database,
    pub settings: BusSettings,
    pub nats: Option<NatsServer>,
    pub data_dir: std::path::PathBuf,
    pub outbox: Outbox,
    pub stopping: CancellationToken,
    backend: Backend,
    _database: TestDatabase,
}

/// Another service on the same bus, with a database of its own.
pub struct Node {
    pub db: Database,
    pub outbox: Outbox,
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
            backend,
            _database: database,
        }
    }

    /// Another service `name` on this world's bus: its own database, outbox and relay.
    pub async fn node(&self, name: &'static str) -> Node {
        let database = TestDatabase::new(self.backend).await;
        let config = database.config();
        let db = Database::connect(name, &config.settings.database, &config.settings.data_dir).await.unwrap();
        db.migrate(name, MIGRATIONS).await.unwrap();
        let outbox = Outbox::new(name);
        let relay = Relay::new(name, db.clone(), self.bus().await, self.settings.relay_options(), &outbox);
        tokio::spawn(relay.run(self.stopping.clone()));
        Node { db, outbox, _database: database }
    }

    /// Runs `consumer` of `node` (or of the test service when `None`) until the world stops.
    pub async fn run_consumer(&self, node: Option<&Node>, consumer: Consumer) -> tokio::task::JoinHandle<()> {
        let (db, outbox) = node.map_or((&self.db, &self.outbox), |n| (&n.db, &n.outbox));
        let runtime =
            ConsumerRuntime::new(consumer, db.clone(), outbox.clone(), self.retry(), self.settings.ack_wait());
        tokio::spawn(runtime.run(self.bus().await, self.stopping.clone()))
    }

    /// A timer worker replica of the test service; it runs until the world stops or it is aborted.
    pub fn start_timers(&self) -> tokio::task::JoinHandle<()> {
        let worker = TimerWorker::new(self.db.clone(), self.outbox.clone(), Duration::from_millis(50));
        tokio::spawn(worker.run(self.stopping.clone()))
    }

    /// Puts `message` on the bus directly, as a relay would, bypassing the outbox.
    pub async fn publish_raw<M: Message>(&self, message: &M) -> RawMessage {
        let envelope = Envelope::new("elsewhere", message).unwrap();
        let raw = RawMessage {
            id: envelope.id.to_string(),
            address: envelope.address(),
            headers: envelope.headers(),
            payload: envelope.data,
        };
        self.bus().await.publish(std::slice::from_ref(&raw)).await.unwrap();
        raw
    }

    /// The test service's database configuration, for another replica's pool.
    pub fn config(&self) -> flotilla_chassis::Config {
        self._database.config()
    }

    pub async fn outbox_rows(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM outbox").fetch_one(self.db.pool()).await.unwrap()
    }

    pub async fn bus(&self) -> Arc<dyn Bus> {
        flotilla_messaging::service::connect(&self.settings, &self.data_dir, SERVICE).await.unwrap()
    }

    pub fn retry(&self) -> RetryPolicy {
        self.settings.retry_policy()
    }

    /// Starts a relay replica on its own bus connection; it runs until the world stops or the
    /// handle is aborted (the replica dies).
    pub async fn start_relay(&self) -> tokio::task::JoinHandle<()> {
        self.start_relay_with_batch(self.settings.relay_batch).await
    }

    /// A relay replica that publishes at most `batch` rows per round trip.
    pub async fn start_relay_with_batch(&self, batch: u32) -> tokio::task::JoinHandle<()> {
        let options = RelayOptions { batch, ..self.settings.relay_options() };
        let relay = Relay::new(SERVICE, self.db.clone(), self.bus().await, options, &self.outbox);
        tokio::spawn(relay.run(self.stopping.clone()))
    }

    /// Starts a replica of the consumer `name` with `probe` as its handler; aborting the handle
    /// kills just this replica, mid-flight if it is handling something.
    pub async fn start_consumer(&self, name: &str, probe: &Probe) -> tokio::task::JoinHandle<()> {
        let consumer = Consumer::new(SERVICE, name).on_with(Arc::new(probe.clone()), Probe::handle);
        self.run_consumer(None, consumer).await
    }

    /// Writes events into the outbox, each in its own unit of work, as a service would.
    pub async fn emit(&self, events: &[ProductDeletedV1]) -> Vec<Uuid> {
        let mut ids = Vec::new();
        for event in events {
            let mut work = UnitOfWork::begin(&self.db, &self.outbox).await.unwrap();
            ids.push(work.publish(event).await.unwrap());
            work.commit().await.unwrap();
        }
        ids
    }

    /// What the probe consumer `name` still has to finish on the bus (see `Bus::backlog`).
    pub async fn backlog(&self, name: &str) -> u64 {
        let spec = flotilla_messaging::ConsumerSpec {
            name: format!("{SERVICE}.{name}"),
            addresses: vec![ProductDeletedV1::TYPE.to_owned()],
            ack_wait: self.settings.ack_wait(),
        };
        self.bus().await.backlog(&spec).await.unwrap()
    }

    /// Waits until the probe consumer `name` has settled everything on the bus, so that no
    /// redelivery or duplicate can still arrive; fails after 30 s.
    pub async fn wait_settled(&self, name: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = self.backlog(name).await;
            if left == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "{name} still has {left} messages to settle after 30 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
    /// Publish a `NotedV1` in the handler's unit of work before applying.
    pub emit: bool,
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
            emit: false,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.state.lock().unwrap().attempts.clone()
    }

    /// Waits until the handler has been called at least once, or fails after 30 s.
    pub async fn wait_attempted(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.attempts().is_empty() {
            assert!(Instant::now() < deadline, "the handler never got a message within 30 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Probe {
    async fn handle(
        &self,
        message: ProductDeletedV1,
        envelope: &Envelope,
        work: &mut UnitOfWork,
    ) -> Result<(), HandlerError> {
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
        if self.emit {
            work.publish(&NotedV1 { product_id: message.product_id, version: message.version }).await?;
        }
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
            .execute(&mut **work)
            .await?;
        Ok(())
    }
}

/// Collects what a consumer received, whole, with the wall-clock time it was handled.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<(Envelope, time::OffsetDateTime)>>>);

impl Recorder {
    /// A consumer of the test service (or of `node`) that records every `M` it receives.
    pub async fn consume<M: Message>(&self, world: &World, node: Option<(&Node, &'static str)>) {
        let service = node.map_or(SERVICE, |(_, name)| name);
        let consumer = Consumer::new(service, "recorder").on_with(Arc::new(self.clone()), Recorder::record::<M>);
        world.run_consumer(node.map(|(n, _)| n), consumer).await;
    }

    async fn record<M: Message>(&self, _: M, envelope: &Envelope, _: &mut UnitOfWork) -> Result<(), HandlerError> {
        self.0.lock().unwrap().push((envelope.clone(), time::OffsetDateTime::now_utc()));
        Ok(())
    }

    pub fn received(&self) -> Vec<(Envelope, time::OffsetDateTime)> {
        self.0.lock().unwrap().clone()
    }

    /// Waits until `count` messages arrived, or fails after 30 s.
    pub async fn wait_for(&self, count: usize) -> Vec<(Envelope, time::OffsetDateTime)> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(Instant::now() < deadline, "only {} of {count} messages received within 30 s", received.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
