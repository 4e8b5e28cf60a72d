//! The unit of work: a service's write transaction together with the messages the change emits.
//!
//! API handlers begin one; message handlers are given one that already holds the inbox record of
//! the message they handle. Everything written through it (state, events, commands, replies,
//! timers) commits together or not at all, and committing wakes the relay and the timer worker.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use flotilla_chassis::db::Database;
use flotilla_contracts::{Message, MessageKind};
use sqlx::{Any, AnyConnection, Transaction};
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::envelope::Envelope;
use crate::outbox::{Outbox, OutboxError, Row};
use crate::spans;
use crate::timers;

pub struct UnitOfWork {
    tx: Transaction<'static, Any>,
    outbox: Outbox,
    emitted: bool,
    timers_changed: bool,
    /// The service's own workers with work from this change, woken once it is committed.
    wake: Vec<Arc<Notify>>,
    /// Its span, when it is part of traced work.
    span: Option<spans::Transaction>,
}

impl std::fmt::Debug for UnitOfWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnitOfWork").field("service", &self.outbox.service()).field("emitted", &self.emitted).finish()
    }
}

impl UnitOfWork {
    /// Begins a write transaction on the service's database (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(db: &Database, outbox: &Outbox) -> Result<Self, sqlx::Error> {
        Ok(Self::on(db.begin_write().await?, outbox))
    }

    pub(crate) fn on(tx: Transaction<'static, Any>, outbox: &Outbox) -> Self {
        let span = spans::Transaction::begin(tx.backend_name());
        Self { tx, outbox: outbox.clone(), emitted: false, timers_changed: false, wake: Vec::new(), span }
    }

    /// Publishes an event of this service's context to whoever subscribes.
    pub async fn publish<M: Message>(&mut self, event: &M) -> Result<Uuid, OutboxError> {
        const { assert!(matches!(M::KIND, MessageKind::Event), "publish takes events") };
        self.emit(Envelope::new(self.outbox.service(), event)?, "publish").await
    }

    /// Sends a command to the context that owns its type; its reply comes back to this service.
    pub async fn send<M: Message>(&mut self, command: &M) -> Result<Uuid, OutboxError> {
        const { assert!(matches!(M::KIND, MessageKind::Command), "send takes commands") };
        self.emit(Envelope::new(self.outbox.service(), command)?, "send").await
    }

    /// Answers `command` (as received by a handler): the reply goes to its sender only, caused by
    /// it and in its correlation.
    pub async fn reply<M: Message>(&mut self, command: &Envelope, reply: &M) -> Result<Uuid, OutboxError> {
        const { assert!(matches!(M::KIND, MessageKind::Reply), "reply takes replies") };
        self.emit(Envelope::reply_to(self.outbox.service(), command, reply)?, "reply").await
    }

    /// Sets the timer `key` to deliver `message` to this service at `at` (or moves it there if
    /// it is set already). It fires once, after restarts and across replicas, unless cancelled.
    pub async fn schedule<M: Message>(
        &mut self,
        key: &str,
        at: OffsetDateTime,
        message: &M,
    ) -> Result<Uuid, OutboxError> {
        const { assert!(matches!(M::KIND, MessageKind::Timer), "schedule takes timer messages") };
        let service = self.outbox.service();
        let mut envelope = Envelope::new(service, message)?;
        envelope.recipient = Some(service.to_owned());
        // The occurrence a timer reports is its coming due.
        envelope.time = at;
        // Rounded up: a timer never fires before its time.
        let fire_at_ms = i64::try_from((at.unix_timestamp_nanos() + 999_999).div_euclid(1_000_000)).unwrap_or(i64::MAX);
        let _created = self.span.as_ref().map(|tx| tx.create(&mut envelope, "schedule"));
        timers::schedule(&mut self.tx, key, fire_at_ms, &Row::of(&envelope)?).await?;
        self.timers_changed = true;
        Ok(envelope.id)
    }

    /// Cancels the timer `key`; false when it is not set (never set, cancelled, or fired).
    pub async fn cancel(&mut self, key: &str) -> Result<bool, sqlx::Error> {
        let cancelled = timers::cancel(&mut self.tx, key).await?;
        self.timers_changed |= cancelled;
        Ok(cancelled)
    }

    /// Wakes `worker` once this change is committed (never before: it would find nothing), for
    /// a service's own background work that this change queued.
    pub fn wake_after_commit(&mut self, worker: &Arc<Notify>) {
        self.wake.push(Arc::clone(worker));
    }

    async fn emit(&mut self, mut envelope: Envelope, operation: &'static str) -> Result<Uuid, OutboxError> {
        let _created = self.span.as_ref().map(|tx| tx.create(&mut envelope, operation));
        Row::of(&envelope)?.insert(&mut self.tx).await?;
        self.emitted = true;
        Ok(envelope.id)
    }

    /// Commits the change with its messages, then wakes whoever has work from it.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        if let Err(error) = self.tx.commit().await {
            if let Some(span) = self.span {
                span.failed(&error);
            }
            return Err(error);
        }
        if let Some(span) = self.span {
            span.committed();
        }
        if self.emitted {
            self.outbox.committed();
        }
        if self.timers_changed {
            self.outbox.timers_changed();
        }
        for worker in self.wake {
            worker.notify_one();
        }
        Ok(())
    }
}

/// The transaction's connection, for the service's own SQL.
impl Deref for UnitOfWork {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl DerefMut for UnitOfWork {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}
