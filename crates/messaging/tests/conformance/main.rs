//! The messaging conformance suite: one set of cases, run against both backends. The embedded bus
//! runs with a SQLite service database, NATS JetStream (a real nats-server) with PostgreSQL, as in
//! the two ways Flotilla runs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cases;
mod flows;
mod gauges;
mod world;

/// Generates one test per backend from `async fn case(kind: Kind)` functions in `cases`, `flows`
/// or `gauges`.
macro_rules! conformance {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod embedded {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { crate::$module::$name(crate::world::Kind::Embedded).await } )*
        }
        mod nats {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { crate::$module::$name(crate::world::Kind::Nats).await } )*
        }
    };
}

conformance!(
    cases::delivers_each_subject_in_order,
    cases::continues_the_producer_trace,
    cases::redelivers_when_a_handler_dies_mid_flight,
    cases::duplicates_take_effect_once,
    cases::redelivery_backs_off,
    cases::dead_letters_after_max_attempts_and_replays_after_a_fix,
    cases::permanent_errors_go_straight_to_dead_letters,
    cases::undecodable_messages_go_to_dead_letters_without_blocking,
    cases::replicas_share_work_and_never_apply_twice,
    cases::relay_loses_nothing_when_the_broker_goes_away,
    cases::a_second_relay_takes_over_when_the_first_dies,
    cases::the_backlog_counts_what_a_consumer_has_left,
    cases::a_relay_dying_mid_backlog_hands_over_without_loss_duplicates_or_disorder,
    flows::a_handler_emits_in_its_transaction_and_a_duplicate_emits_nothing,
    flows::a_crash_between_commit_and_publish_loses_nothing,
    flows::commands_reach_their_owner_and_replies_return_to_the_sender,
    flows::timers_fire_once_at_their_time_unless_cancelled,
    flows::timers_fire_after_a_restart,
    flows::two_replicas_fire_each_timer_once,
    flows::a_timer_handler_can_schedule_the_next,
    gauges::a_dead_letter_is_gauged_until_it_is_replayed,
    gauges::a_stuck_consumer_has_a_backlog_until_it_moves_again,
);
