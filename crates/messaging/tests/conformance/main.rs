//! The messaging conformance suite: one set of cases, run against both backends. The embedded bus
//! runs with a SQLite service database, NATS JetStream (a real nats-server) with PostgreSQL, as in
//! the two ways Flotilla runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;
mod world;

/// Generates one test per backend from `async fn case(kind: Kind)` functions.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { crate::cases::$name(crate::world::Kind::Embedded).await } )*
        }
        mod nats {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { crate::cases::$name(crate::world::Kind::Nats).await } )*
        }
    };
}

conformance!(
    delivers_each_subject_in_order,
    continues_the_producer_trace,
    redelivers_when_a_handler_dies_mid_flight,
    duplicates_take_effect_once,
    redelivery_backs_off,
    dead_letters_after_max_attempts_and_replays_after_a_fix,
    permanent_errors_go_straight_to_dead_letters,
    undecodable_messages_go_to_dead_letters_without_blocking,
    replicas_share_work_and_never_apply_twice,
    relay_loses_nothing_when_the_broker_goes_away,
    a_second_relay_takes_over_when_the_first_dies,
);
