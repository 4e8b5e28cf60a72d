//! The delivery worker: sends pending notifications, outside any transaction, and records what
//! the relay made of each. It wakes when a recorded one commits and otherwise polls, so that
//! retries coming due and mail recorded by another replica are sent too.

use std::sync::Arc;
use std::time::Duration;

use flotilla_chassis::db::Database;
use time::OffsetDateTime;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::retry::{Next, RetryPolicy};
use crate::mailer::Mailer;
use crate::store::{self, Notification};

/// Due notifications listed at a time.
const BATCH: i64 = 20;
/// What a claim adds to the send deadline, so that it never runs out during a send.
const CLAIM_MARGIN: Duration = Duration::from_secs(10);

pub struct Worker {
    pub db: Database,
    pub mailer: Mailer,
    pub policy: RetryPolicy,
    pub poll: Duration,
    pub wake: Arc<Notify>,
}

impl Worker {
    pub async fn run(self, stopping: CancellationToken) {
        loop {
            let wait = match self.deliver_due(&stopping).await {
                Ok(next) => next.map_or(self.poll, |next| next.min(self.poll)),
                Err(error) => {
                    tracing::warn!(%error, "delivering notifications failed; trying again at the next poll");
                    self.poll
                }
            };
            tokio::select! {
                () = stopping.cancelled() => return,
                // Rung once a recording transaction committed.
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Sends everything due; returns how long until the next pending notification comes due.
    async fn deliver_due(&self, stopping: &CancellationToken) -> Result<Option<Duration>, sqlx::Error> {
        loop {
            let due = store::due(self.db.pool(), OffsetDateTime::now_utc(), BATCH).await?;
            if due.is_empty() {
                break;
            }
            for id in due {
                if stopping.is_cancelled() {
                    return Ok(None);
                }
                self.deliver(id).await?;
            }
        }
        let next = store::next_due(self.db.pool()).await?;
        Ok(next.map(|at| Duration::try_from(at - OffsetDateTime::now_utc()).unwrap_or(Duration::ZERO)))
    }

    async fn deliver(&self, id: Uuid) -> Result<(), sqlx::Error> {
        let now = OffsetDateTime::now_utc();
        let until = now + self.mailer.deadline() + CLAIM_MARGIN;
        let Some(claimed) = store::claim(self.db.pool(), id, now, until).await? else {
            return Ok(()); // another sender has it, or it is done
        };
        let outcome = self.mailer.send(&claimed).await;
        let now = OffsetDateTime::now_utc();
        let recorded = match outcome {
            Ok(()) => {
                tracing::info!(order_id = %claimed.order_id, milestone = claimed.milestone.as_str(),
                    attempts = claimed.attempts, "notification sent");
                store::mark_sent(self.db.pool(), &claimed, now).await?
            }
            Err(refused) => {
                let random = Uuid::new_v4().as_u128() as u64;
                match self.policy.after(refused.failure, claimed.attempts, random) {
                    Next::RetryAfter(delay) => {
                        tracing::info!(order_id = %claimed.order_id, milestone = claimed.milestone.as_str(),
                            attempts = claimed.attempts, retry_in_ms = delay.as_millis() as u64,
                            reason = %refused.reason, "notification not sent; will retry");
                        store::mark_retry(self.db.pool(), &claimed, now + delay, &refused.reason, now).await?
                    }
                    Next::GiveUp => {
                        tracing::warn!(order_id = %claimed.order_id, milestone = claimed.milestone.as_str(),
                            attempts = claimed.attempts, reason = %refused.reason, "notification failed; giving up");
                        store::mark_failed(self.db.pool(), &claimed, &refused.reason, now).await?
                    }
                }
            }
        };
        if !recorded {
            stale(&claimed);
        }
        Ok(())
    }
}

/// The claim ran out during the send and another attempt took over: that one records the outcome.
fn stale(claimed: &Notification) {
    tracing::warn!(order_id = %claimed.order_id, milestone = claimed.milestone.as_str(),
        "a delivery outlived its claim; its outcome is left to the attempt that took over");
}
