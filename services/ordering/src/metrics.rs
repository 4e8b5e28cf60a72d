//! Ordering's Prometheus series: how orders end, how long each saga step takes, and how old the
//! oldest unfinished saga is. Recorded here, in the shell, from what the domain decided.

use std::sync::Once;
use std::time::Duration;

use flotilla_chassis::db::Database;
use flotilla_chassis::metrics::SAGA_STEP_DURATION;
use time::OffsetDateTime;

use crate::domain::saga::{Ending, Phase, Reason, Saga, Status};

const ORDERS: &str = "flotilla_orders_total";
const OLDEST_OPEN: &str = "flotilla_saga_oldest_open_age_seconds";

/// How often the age of the oldest open saga is sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(5);

fn describe() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        metrics::describe_counter!(
            ORDERS,
            "Orders whose saga ended, by outcome (shipped, rejected, cancelled) and, for rejections, reason."
        );
        metrics::describe_gauge!(
            OLDEST_OPEN,
            metrics::Unit::Seconds,
            "Age of the oldest order whose saga has not ended (not shipped, rejected or cancelled); 0 when none."
        );
    });
}

/// The saga left `phase`, which it had entered at `entered`, at `left`.
pub fn step_left(phase: Phase, entered: OffsetDateTime, left: OffsetDateTime) {
    describe();
    let took = (left - entered).as_seconds_f64().max(0.0);
    metrics::histogram!(SAGA_STEP_DURATION, "service" => crate::SERVICE.name, "step" => phase.as_str()).record(took);
}

/// The saga reached `saga`; counts the order once if that is an end.
pub fn reached(saga: &Saga) {
    let outcome = match saga.status {
        Status::Shipped => "shipped",
        Status::Rejected => "rejected",
        Status::Cancelled => "cancelled",
        Status::Pending | Status::StockReserved | Status::PaymentAuthorized | Status::Confirmed => return,
    };
    let reason = match &saga.ending {
        Some(Ending::Rejected(reason)) if saga.status == Status::Rejected => reason_label(*reason),
        _ => "",
    };
    describe();
    metrics::counter!(ORDERS, "service" => crate::SERVICE.name, "outcome" => outcome, "reason" => reason).increment(1);
}

/// Label values are snake_case, where the published reason is kebab-case.
fn reason_label(reason: Reason) -> &'static str {
    match reason {
        Reason::OutOfStock => "out_of_stock",
        Reason::PaymentDeclined => "payment_declined",
        Reason::PaymentFailed => "payment_failed",
        Reason::TimedOut => "timed_out",
    }
}

/// Sets the age of the oldest open saga, from the orders table (so it survives restarts and
/// agrees across replicas); an unreadable database leaves the gauge as it was.
pub async fn sample_oldest_open(db: Database) {
    describe();
    match crate::store::oldest_open(db.pool()).await {
        Ok(oldest) => {
            let age = oldest.map_or(0.0, |placed| (OffsetDateTime::now_utc() - placed).as_seconds_f64().max(0.0));
            metrics::gauge!(OLDEST_OPEN, "service" => crate::SERVICE.name).set(age);
        }
        Err(error) => tracing::debug!(%error, "cannot read the oldest open order"),
    }
}
