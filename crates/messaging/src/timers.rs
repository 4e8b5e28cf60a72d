//! Durable timers: a message a service schedules to itself for a time ("release this reservation
//! in 15 minutes"), kept in the service's own database and fired through its outbox.
//!
//! Scheduling and cancelling are writes in the caller's unit of work, so a timer exists exactly
//! when the change that set it committed. The worker moves due timers into the outbox with one
//! `DELETE ... RETURNING` in a write transaction: of two replicas racing for a timer only one
//! deletes the row (PostgreSQL re-checks a row another transaction deleted; SQLite has one
//! writer), so a timer fires once, and a cancel that commits first means it never fires. The
//! message id is fixed when the timer is set, so even a fired copy seen twice is one message to
//! the bus and the inbox.

use std::time::Duration;

use flotilla_chassis::db::{Database, MigrationFile, timestamp};
use sqlx::{AnyConnection, Row as _};
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::outbox::{Outbox, Row};

/// The timers table as the migration with this version number in a service's list.
pub const fn migration(version: i64) -> MigrationFile {
    MigrationFile::portable(version, "messaging: durable timers", include_str!("../migrations/timers.sql"))
}

/// Timers moved into the outbox per transaction.
const BATCH: i64 = 256;

/// Sets (or moves) the timer `key` to fire `row` at `fire_at_ms`.
pub(crate) async fn schedule(
    conn: &mut AnyConnection,
    key: &str,
    fire_at_ms: i64,
    row: &Row,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO timers (timer_key, fire_at, message_id, message_type, headers, payload) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (timer_key) DO UPDATE SET fire_at = excluded.fire_at, \
         message_id = excluded.message_id, message_type = excluded.message_type, headers = excluded.headers, \
         payload = excluded.payload",
    )
    .bind(key)
    .bind(fire_at_ms)
    .bind(&row.message_id)
    .bind(&row.message_type)
    .bind(&row.headers)
    .bind(&row.payload)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the timer `key`; false when there was none (never set, cancelled, or already fired).
pub(crate) async fn cancel(conn: &mut AnyConnection, key: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM timers WHERE timer_key = $1").bind(key).execute(conn).await?;
    Ok(done.rows_affected() > 0)
}

/// Fires a service's due timers; one per replica, all safe together.
/// The keys of the timers set now whose key starts with `prefix`, for audits ("is every order
/// in progress watched by a timer?").
pub async fn keys(pool: &sqlx::AnyPool, prefix: &str) -> Result<std::collections::HashSet<String>, sqlx::Error> {
    let pattern = format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let keys: Vec<String> = sqlx::query_scalar("SELECT timer_key FROM timers WHERE timer_key LIKE $1 ESCAPE '\\'")
        .bind(pattern)
        .fetch_all(pool)
        .await?;
    Ok(keys.into_iter().collect())
}

pub struct TimerWorker {
    db: Database,
    outbox: Outbox,
    /// The longest it sleeps without looking: timers set by other replicas are seen this late.
    poll: Duration,
}

impl TimerWorker {
    pub fn new(db: Database, outbox: Outbox, poll: Duration) -> Self {
        Self { db, outbox, poll }
    }

    /// Fires timers as they come due until `stopping` is cancelled.
    pub async fn run(self, stopping: CancellationToken) {
        let changed = self.outbox.timers_signal();
        loop {
            let woken = changed.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let pause = match self.fire_due().await {
                Ok(Fired { next_in: Some(next_in), .. }) => next_in.min(self.poll),
                Ok(Fired { next_in: None, .. }) => self.poll,
                Err(error) => {
                    tracing::warn!(%error, "cannot fire due timers; will retry");
                    self.poll
                }
            };
            tokio::select! {
                () = stopping.cancelled() => break,
                () = &mut woken => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
        tracing::debug!("timer worker stopped");
    }

    /// Moves every due timer into the outbox.
    pub async fn fire_due(&self) -> Result<Fired, sqlx::Error> {
        let mut count = 0;
        loop {
            let now = now_ms();
            let mut tx = self.db.begin_write().await?;
            let mut due: Vec<(i64, Row)> = sqlx::query(
                "DELETE FROM timers WHERE timer_key IN \
                 (SELECT timer_key FROM timers WHERE fire_at <= $1 ORDER BY fire_at, timer_key LIMIT $2) \
                 RETURNING fire_at, message_id, message_type, headers, payload",
            )
            .bind(now)
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get("fire_at")?,
                    Row {
                        message_id: row.try_get("message_id")?,
                        message_type: row.try_get("message_type")?,
                        headers: row.try_get("headers")?,
                        payload: row.try_get("payload")?,
                        created_at: timestamp(time::OffsetDateTime::now_utc()),
                    },
                ))
            })
            .collect::<Result<_, sqlx::Error>>()?;
            // RETURNING has no order; the outbox publishes in insertion order.
            due.sort_by_key(|(fire_at, _)| *fire_at);
            for (_, row) in &due {
                row.insert(&mut tx).await?;
            }
            tx.commit().await?;
            if !due.is_empty() {
                crate::metrics::timers_fired(self.outbox.service(), due.len());
                self.outbox.committed();
            }
            count += due.len();
            if (due.len() as i64) < BATCH {
                break;
            }
        }
        let next: Option<i64> = sqlx::query_scalar("SELECT MIN(fire_at) FROM timers").fetch_one(self.db.pool()).await?;
        Ok(Fired { count, next_in: next.map(|at| Duration::from_millis(u64::try_from(at - now_ms()).unwrap_or(0))) })
    }
}

/// What one [`TimerWorker::fire_due`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fired {
    /// Timers this call moved into the outbox.
    pub count: usize,
    /// How long until the next timer is due; `None` when none is set.
    pub next_in: Option<Duration>,
}
