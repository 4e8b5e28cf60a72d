//! The cases. Each builds its own world: nothing is shared between tests.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use flotilla_chassis::telemetry::causality::Causality;
use flotilla_chassis::telemetry::trace_context::TraceContext;
use flotilla_contracts::Message;
use flotilla_contracts::catalog::ProductDeletedV1;
use flotilla_messaging::dead_letters::{self, DeadLetter, Selector};
use flotilla_messaging::{Envelope, RawMessage};
use uuid::Uuid;

use crate::world::{Kind, Mode, Probe, World, deleted};

const CONSUMER: &str = "probe";

async fn wait_dead_letters(world: &World, count: usize) -> Vec<DeadLetter> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let letters = dead_letters::list(&world.db, None, 100).await.unwrap();
        if letters.len() >= count {
            return letters;
        }
        assert!(Instant::now() < deadline, "only {} of {count} dead letters within 30 s", letters.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Events about three products, interleaved, each product's versions 1..=n in order.
fn interleaved(products: &[Uuid], versions: i64) -> Vec<ProductDeletedV1> {
    (1..=versions).flat_map(|v| products.iter().map(move |p| deleted(*p, v))).collect()
}

fn assert_in_order_per_subject(applied: &[(String, String, i64)]) {
    let mut last: BTreeMap<&str, i64> = BTreeMap::new();
    for (_, subject, version) in applied {
        let previous = last.insert(subject, *version).unwrap_or(0);
        assert!(*version > previous, "{subject}: version {version} handled after {previous}");
    }
}

fn assert_once_each(applied: &[(String, String, i64)], expected: usize) {
    let distinct: HashSet<&String> = applied.iter().map(|(id, _, _)| id).collect();
    assert_eq!(distinct.len(), expected, "every message applied");
    assert_eq!(applied.len(), expected, "no message applied twice");
}

pub async fn delivers_each_subject_in_order(kind: Kind) {
    let world = World::new(kind).await;
    let products = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
    world.emit(&interleaved(&products, 20)).await;
    world.start_relay().await;
    let probe = Probe::new(Mode::Apply);
    world.start_consumer(CONSUMER, &probe).await;
    world.wait_applied(60).await;
    // The probe saw attempts in handling order; the table's order is not guaranteed.
    let seen: Vec<_> = probe.attempts().into_iter().map(|a| (a.message_id.to_string(), a.subject, a.version)).collect();
    assert_in_order_per_subject(&seen);
    assert_once_each(&world.applied().await, 60);
}

pub async fn continues_the_producer_trace(kind: Kind) {
    let world = World::new(kind).await;
    let trace = TraceContext::continue_or_start(None);
    let causality = Causality {
        trace: trace.clone(),
        correlation_id: "order-42".into(),
        causation_id: "req-1".into(),
        tracer: Default::default(),
    };
    let ids = causality.scope(world.emit(&[deleted(Uuid::now_v7(), 1)])).await;
    world.start_relay().await;
    let probe = Probe::new(Mode::Apply);
    world.start_consumer(CONSUMER, &probe).await;
    world.wait_applied(1).await;
    let attempt = probe.attempts().remove(0);
    assert_eq!(attempt.message_id, ids[0]);
    assert_eq!(attempt.trace_id.as_deref(), Some(trace.trace_id.as_str()), "the handler runs in the producer's trace");
}

pub async fn redelivers_when_a_handler_dies_mid_flight(kind: Kind) {
    let world = World::new(kind).await;
    world.emit(&[deleted(Uuid::now_v7(), 1)]).await;
    world.start_relay().await;
    let dying = Probe::new(Mode::Hang);
    let replica = world.start_consumer(CONSUMER, &dying).await;
    dying.wait_attempted().await;
    replica.abort();
    let _ = replica.await;

    let healthy = Probe::new(Mode::Apply);
    world.start_consumer(CONSUMER, &healthy).await;
    let applied = world.wait_applied(1).await;
    assert_eq!(applied[0].0, dying.attempts()[0].message_id.to_string(), "the same message, delivered again");
    world.wait_settled(CONSUMER).await;
    assert_once_each(&world.applied().await, 1);
}

pub async fn duplicates_take_effect_once(kind: Kind) {
    let world = World::new(kind).await;
    let bus = world.bus().await;
    let event = deleted(Uuid::now_v7(), 1);
    let envelope = Envelope::new("testsvc", &event).unwrap();
    let message = RawMessage {
        id: envelope.id.to_string(),
        address: ProductDeletedV1::TYPE.into(),
        headers: envelope.headers(),
        payload: envelope.data.clone(),
    };
    // The same message three times: the bus drops the copies by id.
    bus.publish(&[message.clone(), message.clone()]).await.unwrap();
    bus.publish(std::slice::from_ref(&message)).await.unwrap();
    // And once more under another bus id, as if re-published after the bus forgot the first:
    // only the consumer's inbox can catch this one.
    bus.publish(&[RawMessage { id: Uuid::now_v7().to_string(), ..message.clone() }]).await.unwrap();

    let probe = Probe::new(Mode::Apply);
    world.start_consumer(CONSUMER, &probe).await;
    world.wait_applied(1).await;
    // Every copy, the inbox's too, has been delivered and settled: none can come later.
    world.wait_settled(CONSUMER).await;
    assert_once_each(&world.applied().await, 1);
    assert!(probe.attempts().len() <= 1, "the inbox skips a duplicate before the handler runs");
}

pub async fn redelivery_backs_off(kind: Kind) {
    let world = World::new(kind).await;
    world.emit(&[deleted(Uuid::now_v7(), 1)]).await;
    world.start_relay().await;
    let probe = Probe::new(Mode::FailFirst(2));
    world.start_consumer(CONSUMER, &probe).await;
    world.wait_applied(1).await;
    let at: Vec<Instant> = probe.attempts().iter().map(|a| a.at).collect();
    assert_eq!(at.len(), 3, "two failures, then success");
    // retry_base_ms = 200 with half of each delay fixed: at least 100 ms, then at least 200 ms.
    let (first, second) = (at[1] - at[0], at[2] - at[1]);
    assert!(first >= Duration::from_millis(100), "first retry after {first:?}");
    assert!(second >= Duration::from_millis(200), "second retry after {second:?}, not backed off");
    // The recorded failures are cleared once the message is handled.
    assert!(dead_letters::list(&world.db, None, 10).await.unwrap().is_empty());
}

pub async fn dead_letters_after_max_attempts_and_replays_after_a_fix(kind: Kind) {
    let world = World::new(kind).await;
    let ids = world.emit(&[deleted(Uuid::now_v7(), 1)]).await;
    world.start_relay().await;
    let probe = Probe::new(Mode::FailFirst(u32::MAX));
    world.start_consumer(CONSUMER, &probe).await;

    let letter = wait_dead_letters(&world, 1).await.remove(0);
    assert_eq!(letter.message_id, ids[0].to_string());
    assert_eq!(letter.consumer, "testsvc.probe");
    assert_eq!(letter.reason, "exhausted");
    assert_eq!(letter.attempts, 3, "bus.max_attempts");
    assert_eq!(letter.first_error, "attempt 1 failed on purpose");
    assert_eq!(letter.last_error, "attempt 3 failed on purpose");
    assert_eq!(letter.headers["ce-type"], ProductDeletedV1::TYPE);
    assert_eq!(letter.payload["version"], 1);
    assert_eq!(probe.attempts().len(), 3);
    assert!(world.applied().await.is_empty());

    // The cause is fixed; an operator replays.
    probe.set_mode(Mode::Apply);
    assert_eq!(dead_letters::request_replay(&world.db, &Selector::One(letter.id)).await.unwrap(), 1);
    let applied = world.wait_applied(1).await;
    assert_eq!(applied[0].0, ids[0].to_string(), "replayed with the same message id");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !dead_letters::list(&world.db, None, 10).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "a replayed dead letter is removed once handled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn permanent_errors_go_straight_to_dead_letters(kind: Kind) {
    let world = World::new(kind).await;
    world.emit(&[deleted(Uuid::now_v7(), 1)]).await;
    world.start_relay().await;
    let probe = Probe::new(Mode::FailPermanently);
    world.start_consumer(CONSUMER, &probe).await;
    let letter = wait_dead_letters(&world, 1).await.remove(0);
    assert_eq!((letter.reason.as_str(), letter.attempts), ("rejected", 1));
    assert_eq!(letter.last_error, "never acceptable");

    // A replay that fails again leaves the letter dead, with the new attempt counted.
    dead_letters::request_replay(&world.db, &Selector::Consumer("testsvc.probe".into())).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let letter = dead_letters::get(&world.db, letter.id).await.unwrap().unwrap();
        if letter.replays == 1 {
            assert_eq!((letter.state.as_str(), letter.attempts), ("dead", 2));
            break;
        }
        assert!(Instant::now() < deadline, "the replay was not attempted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(probe.attempts().len(), 2);
}

pub async fn undecodable_messages_go_to_dead_letters_without_blocking(kind: Kind) {
    let world = World::new(kind).await;
    let bus = world.bus().await;
    let good = Envelope::new("testsvc", &deleted(Uuid::now_v7(), 1)).unwrap();
    let raw = |headers, payload: &[u8]| RawMessage {
        id: Uuid::now_v7().to_string(),
        address: ProductDeletedV1::TYPE.into(),
        headers,
        payload: payload.to_vec(),
    };
    let mut no_id = good.headers();
    no_id.remove("ce-id");
    let mut other_id = good.headers();
    other_id.insert("ce-id".into(), Uuid::now_v7().to_string());
    let mut third_id = good.headers();
    third_id.insert("ce-id".into(), Uuid::now_v7().to_string());
    bus.publish(&[
        raw(other_id, b"\xff\xfe not json"),
        raw(no_id, &good.data),
        raw(third_id, br#"{"product_id": "not-a-uuid", "version": 1, "sku": "x"}"#),
        raw(good.headers(), &good.data),
    ])
    .await
    .unwrap();

    let probe = Probe::new(Mode::Apply);
    world.start_consumer(CONSUMER, &probe).await;
    world.wait_applied(1).await;
    let letters = wait_dead_letters(&world, 3).await;
    assert!(letters.iter().all(|l| l.reason == "undecodable" && l.attempts == 1));
    let errors: Vec<&str> = letters.iter().map(|l| l.last_error.as_str()).collect();
    assert!(errors[0].starts_with("the payload is not JSON"), "{errors:?}");
    assert_eq!(letters[0].payload_encoding, "base64", "bytes that are not text are kept exactly");
    assert_eq!(errors[1], "header ce-id is missing");
    assert!(errors[2].starts_with("the payload does not match the schema"), "{errors:?}");
    assert_eq!(probe.attempts().len(), 1, "only the good message reached the handler");
}

pub async fn replicas_share_work_and_never_apply_twice(kind: Kind) {
    let world = World::new(kind).await;
    let products: Vec<Uuid> = (0..10).map(|_| Uuid::now_v7()).collect();
    world.emit(&interleaved(&products, 20)).await;
    let (mut first, mut second) = (Probe::new(Mode::Apply), Probe::new(Mode::Apply));
    // Slow enough that neither replica drains the stream alone.
    first.delay = Duration::from_millis(2);
    second.delay = Duration::from_millis(2);
    world.start_consumer(CONSUMER, &first).await;
    world.start_consumer(CONSUMER, &second).await;
    world.start_relay().await;
    world.wait_applied(200).await;
    world.wait_settled(CONSUMER).await;
    assert_once_each(&world.applied().await, 200);
    let (a, b) = (first.attempts().len(), second.attempts().len());
    assert!(a > 0 && b > 0, "both replicas took part: {a} and {b}");
}

pub async fn relay_loses_nothing_when_the_broker_goes_away(kind: Kind) {
    let mut world = World::new(kind).await;
    world.start_relay().await;
    let probe = Probe::new(Mode::Apply);
    world.start_consumer(CONSUMER, &probe).await;
    let products: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
    let events = interleaved(&products, 60);
    let (before, after) = events.split_at(100);
    world.emit(before).await;

    match kind {
        Kind::Nats => {
            let nats = world.nats.as_mut().unwrap();
            nats.kill();
            // Written while the server is down: they wait in the outbox.
            world.emit(&after[..100]).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            world.nats.as_mut().unwrap().start_again();
        }
        Kind::Embedded => {
            // The embedded log is "away" while another process holds its write lock.
            let blocker = hold_write_lock(&world.data_dir.join(&world.settings.embedded.file)).await;
            world.emit(&after[..100]).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            drop(blocker);
        }
    }
    world.emit(&after[100..]).await;
    world.wait_applied(300).await;
    world.wait_settled(CONSUMER).await;
    assert_once_each(&world.applied().await, 300);
    let seen: Vec<_> = probe.attempts().into_iter().map(|a| (a.message_id.to_string(), a.subject, a.version)).collect();
    assert_in_order_per_subject(&seen);
}

pub async fn a_second_relay_takes_over_when_the_first_dies(kind: Kind) {
    let world = World::new(kind).await;
    let probe = Probe::new(Mode::Apply);
    world.start_consumer(CONSUMER, &probe).await;
    let product = Uuid::now_v7();
    let first = world.start_relay().await;
    world.emit(&(1..=20).map(|v| deleted(product, v)).collect::<Vec<_>>()).await;
    world.wait_applied(20).await;

    // A second replica waits while the first holds the lease; then the first dies.
    let _second = world.start_relay().await;
    first.abort();
    let _ = first.await;
    world.emit(&(21..=40).map(|v| deleted(product, v)).collect::<Vec<_>>()).await;
    world.wait_applied(40).await;
    world.wait_settled(CONSUMER).await;
    assert_once_each(&world.applied().await, 40);
    let seen: Vec<_> = probe.attempts().into_iter().map(|a| (a.message_id.to_string(), a.subject, a.version)).collect();
    assert_in_order_per_subject(&seen);
}

/// Holds an exclusive lock on the SQLite file until dropped.
async fn hold_write_lock(path: &std::path::Path) -> sqlx::SqliteConnection {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE").execute(&mut conn).await.unwrap();
    conn
}

pub async fn the_backlog_counts_what_a_consumer_has_left(kind: Kind) {
    let world = World::new(kind).await;
    world.emit(&(1..=3).map(|v| deleted(Uuid::now_v7(), v)).collect::<Vec<_>>()).await;
    world.start_relay().await;
    let stuck = Probe::new(Mode::Hang);
    let replica = world.start_consumer(CONSUMER, &stuck).await;
    stuck.wait_attempted().await;
    assert_eq!(world.backlog(CONSUMER).await, 3, "one in flight, two waiting: none settled");
    replica.abort();
    let _ = replica.await;
    world.start_consumer(CONSUMER, &Probe::new(Mode::Apply)).await;
    world.wait_applied(3).await;
    world.wait_settled(CONSUMER).await;
    assert_once_each(&world.applied().await, 3);
}

pub async fn a_relay_dying_mid_backlog_hands_over_without_loss_duplicates_or_disorder(kind: Kind) {
    let world = World::new(kind).await;
    let products: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
    world.emit(&interleaved(&products, 120)).await;
    let probe = Probe::new(Mode::Apply);
    world.start_consumer(CONSUMER, &probe).await;
    // Small batches, so that the holder dies with most of the backlog still to publish.
    let first = world.start_relay_with_batch(10).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while world.outbox_rows().await == 600 {
        assert!(Instant::now() < deadline, "the first relay published nothing");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    // A second live replica waits on the lease; the holder is killed while the backlog drains.
    let _second = world.start_relay_with_batch(10).await;
    first.abort();
    let _ = first.await;
    let left = world.outbox_rows().await;
    assert!(left > 0, "the first relay finished before it was killed; nothing was handed over");
    world.wait_applied(600).await;
    world.wait_settled(CONSUMER).await;
    assert_once_each(&world.applied().await, 600);
    let seen: Vec<_> = probe.attempts().into_iter().map(|a| (a.message_id.to_string(), a.subject, a.version)).collect();
    assert_in_order_per_subject(&seen);
}
