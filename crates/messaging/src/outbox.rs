//! The transactional outbox: messages are rows written in the same transaction as the change they
//! describe, so a change is never committed without its messages nor a message sent for a change
//! that rolled back. The relay moves them to the bus. Services write them through a
//! [`UnitOfWork`](crate::UnitOfWork).

use std::sync::Arc;

use flotilla_chassis::Problem;
use flotilla_chassis::db::{MigrationFile, timestamp};
use flotilla_chassis::telemetry::Tracer;
use sqlx::AnyConnection;
use tokio::sync::Notify;

use crate::envelope::Envelope;

/// The messaging tables (outbox, relay lease, inbox, failures, dead letters) as the migration with
/// this version number in a service's list.
pub const fn migration(version: i64) -> MigrationFile {
    MigrationFile {
        version,
        description: "messaging: outbox, inbox and dead letters",
        sql: concat!(include_str!("../migrations/outbox.sqlite.sql"), include_str!("../migrations/common.sql")),
        postgres_sql: Some(concat!(
            include_str!("../migrations/outbox.postgres.sql"),
            include_str!("../migrations/common.sql")
        )),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("cannot encode the message: {0}")]
    Encode(#[from] serde_json::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<OutboxError> for Problem {
    fn from(error: OutboxError) -> Self {
        match error {
            OutboxError::Database(error) => Problem::database(&error),
            other => Problem::internal(&other),
        }
    }
}

/// A service's messaging handle: who it is, and how it wakes its relay and its timer worker after
/// a commit. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    service: &'static str,
    committed: Arc<Notify>,
    timers_changed: Arc<Notify>,
    tracer: Tracer,
}

impl Outbox {
    pub fn new(service: &'static str) -> Self {
        Self {
            service,
            committed: Arc::new(Notify::new()),
            timers_changed: Arc::new(Notify::new()),
            tracer: Tracer::off(),
        }
    }

    /// Where the relay's and the consumers' spans go (the service's tracer).
    pub fn with_tracer(mut self, tracer: Tracer) -> Self {
        self.tracer = tracer;
        self
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    pub(crate) fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    /// Tells this process's relay that outbox rows committed, so that it publishes now instead
    /// of at its next poll.
    pub(crate) fn committed(&self) {
        self.committed.notify_one();
    }

    /// Tells the timer worker that the schedule changed, so that it looks at the next due time.
    pub(crate) fn timers_changed(&self) {
        self.timers_changed.notify_one();
    }

    pub(crate) fn wake_signal(&self) -> Arc<Notify> {
        self.committed.clone()
    }

    pub(crate) fn timers_signal(&self) -> Arc<Notify> {
        self.timers_changed.clone()
    }
}

/// One outbox row, as a unit of work or a fired timer writes it.
pub(crate) struct Row {
    pub message_id: String,
    pub message_type: String,
    /// The envelope's headers, JSON-encoded.
    pub headers: String,
    pub payload: String,
    pub created_at: String,
}

impl Row {
    pub(crate) fn of(envelope: &Envelope) -> Result<Self, serde_json::Error> {
        Ok(Self {
            message_id: envelope.id.to_string(),
            message_type: envelope.message_type.clone(),
            headers: serde_json::to_string(&envelope.headers())?,
            // `Envelope::new` serialised a Rust value to JSON, which is UTF-8.
            payload: String::from_utf8_lossy(&envelope.data).into_owned(),
            created_at: timestamp(envelope.time),
        })
    }

    /// Writes the row on `conn`, inside the caller's transaction.
    pub(crate) async fn insert(&self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO outbox (message_id, message_type, headers, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&self.message_id)
        .bind(&self.message_type)
        .bind(&self.headers)
        .bind(&self.payload)
        .bind(&self.created_at)
        .execute(conn)
        .await?;
        Ok(())
    }
}
