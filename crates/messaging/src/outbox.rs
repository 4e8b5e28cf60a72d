//! The transactional outbox: events are rows written in the same transaction as the change they
//! describe, so a change is never committed without its events nor an event sent for a change
//! that rolled back. The relay moves them to the bus.

use std::sync::Arc;

use flotilla_chassis::db::{MigrationFile, timestamp};
use flotilla_contracts::Message;
use sqlx::AnyConnection;
use tokio::sync::Notify;
use uuid::Uuid;

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

/// A service's handle for emitting events. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbox {
    service: &'static str,
    committed: Arc<Notify>,
}

impl Outbox {
    pub fn new(service: &'static str) -> Self {
        Self { service, committed: Arc::new(Notify::new()) }
    }

    /// Writes `message` into the outbox on `conn`, which must be inside the transaction that makes
    /// the change it describes. Returns the message id.
    pub async fn add<M: Message>(&self, conn: &mut AnyConnection, message: &M) -> Result<Uuid, OutboxError> {
        let envelope = Envelope::new(self.service, message)?;
        let headers = serde_json::to_string(&envelope.headers())?;
        // `Envelope::new` serialised a Rust value to JSON, which is UTF-8.
        let payload = String::from_utf8_lossy(&envelope.data);
        sqlx::query(
            "INSERT INTO outbox (message_id, message_type, headers, payload, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(envelope.id.to_string())
        .bind(M::TYPE)
        .bind(headers)
        .bind(payload.into_owned())
        .bind(timestamp(envelope.time))
        .execute(conn)
        .await?;
        Ok(envelope.id)
    }

    /// Tells this process's relay that a transaction with outbox rows committed, so that it
    /// publishes now instead of at its next poll. Call after commit; forgetting only adds latency.
    pub fn committed(&self) {
        self.committed.notify_one();
    }

    pub(crate) fn wake_signal(&self) -> Arc<Notify> {
        self.committed.clone()
    }
}
