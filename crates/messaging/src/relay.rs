//! The relay: publishes a service's outbox to the bus, oldest first, and deletes what the bus has
//! accepted.
//!
//! Replicas of a service compete for a lease so that one relay publishes at a time; when its
//! holder dies the lease runs out and another takes over, so no row is stuck. Two relays may still
//! overlap briefly (a holder paused past its lease): both publish the same rows, the bus drops the
//! second copy by message id, and consumers' inboxes catch anything past the bus's window.

use std::sync::Arc;
use std::time::Duration;

use flotilla_chassis::db::{Database, Sql, parse_timestamp};
use sqlx::Row;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::bus::{Bus, RawMessage};
use crate::clock::{millis, now_ms};
use crate::envelope::{Headers, address_of};
use crate::metrics;
use crate::outbox::Outbox;
use crate::spans;
use flotilla_chassis::telemetry::Tracer;

#[derive(Debug, Clone, Copy)]
pub struct RelayOptions {
    pub batch: u32,
    /// How long a replica's claim to publish lasts unless renewed: the longest a dead holder can
    /// keep the outbox waiting.
    pub lease: Duration,
    pub poll: Duration,
    pub backoff_max: Duration,
}

pub struct Relay {
    service: &'static str,
    db: Database,
    bus: Arc<dyn Bus>,
    tracer: Tracer,
    options: RelayOptions,
    committed: Arc<Notify>,
    holder: String,
    lease_until: Option<tokio::time::Instant>,
}

#[derive(Debug, thiserror::Error)]
enum RelayError {
    #[error("outbox: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Bus(#[from] crate::bus::BusError),
}

impl Relay {
    pub fn new(service: &'static str, db: Database, bus: Arc<dyn Bus>, options: RelayOptions, outbox: &Outbox) -> Self {
        let holder = uuid::Uuid::new_v4().to_string();
        let tracer = outbox.tracer().clone();
        Self { service, db, bus, tracer, options, committed: outbox.wake_signal(), holder, lease_until: None }
    }

    /// Publishes until `stopping` is cancelled.
    pub async fn run(mut self, stopping: CancellationToken) {
        let mut backoff = self.options.poll;
        loop {
            let wake = self.committed.clone();
            let woken = wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let pause = match self.round().await {
                Ok(()) => {
                    backoff = self.options.poll;
                    self.options.poll
                }
                Err(error) => {
                    metrics::relay_failed(self.service);
                    tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "outbox relay cannot publish; will retry");
                    let pause = backoff;
                    backoff = (backoff * 2).min(self.options.backoff_max);
                    pause
                }
            };
            tokio::select! {
                () = stopping.cancelled() => break,
                () = &mut woken => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::debug!("outbox relay stopped");
    }

    /// Publishes everything pending, if this replica holds the lease.
    async fn round(&mut self) -> Result<(), RelayError> {
        if !self.hold_lease().await? {
            return Ok(());
        }
        loop {
            let batch = self.pending().await?;
            if batch.is_empty() {
                break;
            }
            let (positions, messages): (Vec<i64>, Vec<RawMessage>) = batch.into_iter().unzip();
            let system = self.bus.system();
            let mut sends: Vec<_> = messages
                .iter()
                .filter_map(|message| spans::send(&self.tracer, system, &message.address, &message.headers))
                .collect();
            if let Err(error) = self.bus.publish(&messages).await {
                for span in &mut sends {
                    span.fail("publish_failed", error.to_string());
                }
                return Err(error.into());
            }
            drop(sends);
            self.delete(&positions).await?;
            for message in &messages {
                metrics::published(self.service, message.headers.get("ce-type").unwrap_or(&message.address));
            }
            if positions.len() < self.options.batch as usize {
                break;
            }
        }
        self.report_backlog().await
    }

    /// Takes or renews the lease when less than half of it is left; true while this replica holds it.
    async fn hold_lease(&mut self) -> Result<bool, sqlx::Error> {
        let now = tokio::time::Instant::now();
        if self.lease_until.is_some_and(|until| until > now + self.options.lease / 2) {
            return Ok(true);
        }
        let wall = now_ms();
        let expires = wall.saturating_add(millis(self.options.lease));
        let mut tx = self.db.begin_write().await?;
        sqlx::query(
            "INSERT INTO outbox_lease (name, holder, expires_at) VALUES ('relay', $1, 0) ON CONFLICT (name) DO NOTHING",
        )
        .bind(&self.holder)
        .execute(&mut *tx)
        .await?;
        let taken = sqlx::query(
            "UPDATE outbox_lease SET holder = $1, expires_at = $2 WHERE name = 'relay' AND (holder = $1 OR expires_at < $3)",
        )
        .bind(&self.holder)
        .bind(expires)
        .bind(wall)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        tx.commit().await?;
        self.lease_until = taken.then_some(now + self.options.lease);
        Ok(taken)
    }

    async fn pending(&self) -> Result<Vec<(i64, RawMessage)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT position, message_id, message_type, headers, payload FROM outbox ORDER BY position LIMIT $1",
        )
        .bind(i64::from(self.options.batch))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let headers: String = row.try_get("headers")?;
                let headers =
                    serde_json::from_str::<Headers>(&headers).map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
                let payload: String = row.try_get("payload")?;
                let message_type: String = row.try_get("message_type")?;
                let message = RawMessage {
                    id: row.try_get("message_id")?,
                    address: address_of(&headers).unwrap_or(message_type),
                    headers,
                    payload: payload.into_bytes(),
                };
                Ok((row.try_get("position")?, message))
            })
            .collect()
    }

    async fn delete(&self, positions: &[i64]) -> Result<(), sqlx::Error> {
        // By exact position, not by range: on PostgreSQL a lower position can commit after a
        // higher one was read, and a range would delete it unpublished.
        let mut sql = Sql::new("DELETE FROM outbox WHERE position IN (");
        sql.bind_list(positions.iter().copied()).push(")");
        sql.into_one_off_query().execute(self.db.pool()).await?;
        Ok(())
    }

    async fn report_backlog(&self) -> Result<(), RelayError> {
        let row = sqlx::query("SELECT COUNT(*) AS backlog, MIN(created_at) AS oldest FROM outbox")
            .fetch_one(self.db.pool())
            .await?;
        let backlog: i64 = row.try_get("backlog")?;
        let oldest: Option<String> = row.try_get("oldest")?;
        let age = oldest
            .and_then(|t| parse_timestamp(&t).ok())
            .map_or(0.0, |t| (OffsetDateTime::now_utc() - t).as_seconds_f64().max(0.0));
        metrics::outbox_backlog(self.service, backlog, age);
        Ok(())
    }
}
