//! The bus's Prometheus series. Publisher side carries `service`; consumer side carries `service`
//! and `consumer`; both carry `message_type` where one message is concerned. Names follow
//! OpenTelemetry's messaging conventions where they have one (`messaging.client.sent.messages`,
//! `messaging.client.consumed.messages`, `messaging.process.duration`).

use std::collections::HashMap;
use std::sync::{Arc, Once};
use std::time::Duration;

use flotilla_chassis::db::Database;

use crate::bus::{Bus, ConsumerSpec};

pub const SENT: &str = "messaging_client_sent_messages_total";
pub const RELAY_FAILURES: &str = "flotilla_outbox_relay_failures_total";
pub const OUTBOX_BACKLOG: &str = "flotilla_outbox_backlog_messages";
pub const OUTBOX_OLDEST: &str = "flotilla_outbox_oldest_pending_age_seconds";
pub const CONSUMED: &str = "messaging_client_consumed_messages_total";
pub const FAILED: &str = "flotilla_messages_failed_total";
pub const DEAD_LETTERED: &str = "flotilla_messages_dead_lettered_total";
pub const PROCESS_DURATION: &str = "messaging_process_duration_seconds";
pub const LAG: &str = "flotilla_message_lag_seconds";
pub const TIMERS_FIRED: &str = "flotilla_timers_fired_total";
pub const DEAD_LETTERS: &str = "flotilla_dead_letters";
pub const CONSUMER_BACKLOG: &str = "flotilla_consumer_backlog_messages";

/// How often [`ConsumerGauges`] are sampled by a running service, as the relay reports its
/// backlog.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

fn describe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(SENT, "Messages the outbox relay handed to the bus, by type.");
        metrics::describe_counter!(TIMERS_FIRED, "Durable timers that came due and moved into the outbox.");
        metrics::describe_counter!(RELAY_FAILURES, "Relay rounds that failed (bus or database away).");
        metrics::describe_gauge!(OUTBOX_BACKLOG, "Outbox rows not yet published.");
        metrics::describe_gauge!(
            OUTBOX_OLDEST,
            metrics::Unit::Seconds,
            "Age of the oldest unpublished outbox row; 0 when the outbox is empty."
        );
        metrics::describe_counter!(CONSUMED, "Messages a consumer finished: outcome handled or duplicate.");
        metrics::describe_counter!(FAILED, "Handler attempts that failed, transient or permanent.");
        metrics::describe_counter!(DEAD_LETTERED, "Messages moved to dead letters, by reason.");
        metrics::describe_histogram!(
            PROCESS_DURATION,
            metrics::Unit::Seconds,
            "Time to process one delivery: the handler and its transaction with the inbox record."
        );
        metrics::describe_gauge!(
            LAG,
            metrics::Unit::Seconds,
            "Time from a message's creation to its last handling by this consumer."
        );
        metrics::describe_gauge!(
            DEAD_LETTERS,
            "Dead letters the consumer holds now: neither replayed successfully nor discarded."
        );
        metrics::describe_gauge!(
            CONSUMER_BACKLOG,
            "Messages on the bus the consumer has not finished: not yet delivered, in flight, or waiting for a retry."
        );
    });
}

pub(crate) fn published(service: &'static str, message_type: &str) {
    describe();
    metrics::counter!(SENT, "service" => service, "message_type" => message_type.to_owned()).increment(1);
}

pub(crate) fn timers_fired(service: &'static str, count: usize) {
    describe();
    metrics::counter!(TIMERS_FIRED, "service" => service).increment(count as u64);
}

pub(crate) fn relay_failed(service: &'static str) {
    describe();
    metrics::counter!(RELAY_FAILURES, "service" => service).increment(1);
}

pub(crate) fn outbox_backlog(service: &'static str, rows: i64, oldest_age_seconds: f64) {
    describe();
    metrics::gauge!(OUTBOX_BACKLOG, "service" => service).set(rows as f64);
    metrics::gauge!(OUTBOX_OLDEST, "service" => service).set(oldest_age_seconds);
}

/// The labels of one consumer handling one message type.
#[derive(Debug, Clone)]
pub(crate) struct ConsumerLabels {
    pub service: &'static str,
    pub consumer: String,
    pub message_type: String,
}

impl ConsumerLabels {
    fn labels(&self) -> Vec<(&'static str, String)> {
        vec![
            ("service", self.service.to_owned()),
            ("consumer", self.consumer.clone()),
            ("message_type", self.message_type.clone()),
        ]
    }

    fn labels_with(&self, key: &'static str, value: &'static str) -> Vec<(&'static str, String)> {
        let mut labels = self.labels();
        labels.push((key, value.to_owned()));
        labels
    }

    pub fn consumed(&self, outcome: &'static str, took: Duration, lag: Duration) {
        describe();
        let labels = self.labels();
        metrics::counter!(CONSUMED, &self.labels_with("outcome", outcome)).increment(1);
        metrics::histogram!(PROCESS_DURATION, &labels).record(took.as_secs_f64());
        metrics::gauge!(LAG, &labels).set(lag.as_secs_f64());
    }

    pub fn failed(&self, kind: &'static str) {
        describe();
        metrics::counter!(FAILED, &self.labels_with("kind", kind)).increment(1);
    }

    pub fn dead_lettered(&self, reason: &'static str) {
        describe();
        metrics::counter!(DEAD_LETTERED, &self.labels_with("reason", reason)).increment(1);
    }
}

/// The gauges of what a service's consumers have left: their dead letters (from the service's
/// database) and their backlog (from the bus). Gauges, sampled, because neither is an event the
/// consumer sees: a stuck consumer handles nothing, so its lag stops moving, while its backlog
/// grows.
pub struct ConsumerGauges {
    service: &'static str,
    db: Database,
    bus: Arc<dyn Bus>,
    consumers: Vec<ConsumerSpec>,
}

impl ConsumerGauges {
    pub fn new(service: &'static str, db: Database, bus: Arc<dyn Bus>, consumers: Vec<ConsumerSpec>) -> Self {
        describe();
        Self { service, db, bus, consumers }
    }

    /// Sets both gauges of every consumer. A consumer with no dead letters reports 0, so that
    /// each consumer's series exists; a figure that cannot be read now leaves its gauge as it was.
    pub async fn sample(&self) {
        match crate::dead_letters::count_by_consumer(&self.db).await {
            Ok(counts) => self.set_dead_letters(&counts),
            Err(error) => tracing::debug!(service = self.service, %error, "cannot count dead letters"),
        }
        for spec in &self.consumers {
            match self.bus.backlog(spec).await {
                Ok(left) => {
                    let labels = [("service", self.service.to_owned()), ("consumer", spec.name.clone())];
                    metrics::gauge!(CONSUMER_BACKLOG, &labels).set(left as f64);
                }
                // Before its first subscription a consumer may not exist on the bus yet.
                Err(error) => tracing::debug!(consumer = %spec.name, %error, "cannot read a consumer's backlog"),
            }
        }
    }

    fn set_dead_letters(&self, counts: &HashMap<String, i64>) {
        for spec in &self.consumers {
            let held = counts.get(&spec.name).copied().unwrap_or(0);
            let labels = [("service", self.service.to_owned()), ("consumer", spec.name.clone())];
            metrics::gauge!(DEAD_LETTERS, &labels).set(held as f64);
        }
    }
}
