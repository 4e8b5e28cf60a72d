//! The cases of units of work, commands and replies, and durable timers: what a saga step needs.

use std::time::Duration;

use flotilla_chassis::db::Database;
use flotilla_chassis::telemetry::causality::Causality;
use flotilla_chassis::telemetry::trace_context::TraceContext;
use flotilla_messaging::timers::TimerWorker;
use flotilla_messaging::{Consumer, Envelope, HandlerError, Outbox, RawMessage, UnitOfWork};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::world::{Kind, Mode, NotedV1, PEER, PingV1, PongV1, Probe, Recorder, SERVICE, WakeV1, World, deleted};

const CONSUMER: &str = "probe";

fn versions(received: &[(Envelope, OffsetDateTime)]) -> Vec<i64> {
    received.iter().map(|(e, _)| e.decode::<NotedV1>().unwrap().version).collect()
}

pub async fn a_handler_emits_in_its_transaction_and_a_duplicate_emits_nothing(kind: Kind) {
    let world = World::new(kind).await;
    let noted = Recorder::default();
    noted.consume::<NotedV1>(&world, None).await;
    let mut probe = Probe::new(Mode::Apply);
    probe.emit = true;
    world.start_consumer(CONSUMER, &probe).await;
    world.start_relay().await;

    let product = Uuid::now_v7();
    let first = world.publish_raw(&deleted(product, 1)).await;
    // The same message once more under another bus id: only the consumer's inbox can tell.
    world.bus().await.publish(&[RawMessage { id: Uuid::now_v7().to_string(), ..first.clone() }]).await.unwrap();
    // A later message on the same subject is handled after the duplicate, and its event is
    // published after anything the duplicate emitted: once it arrives, nothing else can.
    world.publish_raw(&deleted(product, 2)).await;

    let received = noted.wait_for(2).await;
    assert_eq!(versions(&received), [1, 2], "one event per message applied, none for the duplicate");
    assert_eq!(received[0].0.causation_id.as_deref(), Some(first.id.as_str()), "caused by the handled message");
    assert_eq!(world.applied().await.len(), 2);
}

pub async fn a_crash_between_commit_and_publish_loses_nothing(kind: Kind) {
    let world = World::new(kind).await;
    let mut probe = Probe::new(Mode::Apply);
    probe.emit = true;
    world.start_consumer(CONSUMER, &probe).await;
    // No relay runs: the service dies after the handler committed and before anything is published.
    world.publish_raw(&deleted(Uuid::now_v7(), 1)).await;
    world.wait_applied(1).await;
    assert_eq!(world.outbox_rows().await, 1, "the event committed with the change, waiting in the outbox");

    // The service is back: its new relay publishes what the dead one never did.
    let noted = Recorder::default();
    noted.consume::<NotedV1>(&world, None).await;
    world.start_relay().await;
    assert_eq!(versions(&noted.wait_for(1).await), [1]);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while world.outbox_rows().await > 0 {
        assert!(std::time::Instant::now() < deadline, "the published row never left the outbox");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn answer_ping(ping: PingV1, command: &Envelope, work: &mut UnitOfWork) -> Result<(), HandlerError> {
    work.reply(command, &PongV1 { n: ping.n }).await?;
    Ok(())
}

async fn send_pings(db: &Database, outbox: &Outbox, pings: &[i64]) -> Vec<Uuid> {
    let mut work = UnitOfWork::begin(db, outbox).await.unwrap();
    let mut ids = Vec::new();
    for n in pings {
        ids.push(work.send(&PingV1 { n: *n }).await.unwrap());
    }
    work.commit().await.unwrap();
    ids
}

pub async fn commands_reach_their_owner_and_replies_return_to_the_sender(kind: Kind) {
    let world = World::new(kind).await;
    let peer = world.node(PEER).await;
    world.run_consumer(Some(&peer), Consumer::new(PEER, "pings").on(answer_ping)).await;
    let pongs = Recorder::default();
    pongs.consume::<PongV1>(&world, None).await;
    // Another service that also takes pongs: it must get only the ones addressed to it.
    let bystander = world.node("bystander").await;
    let overheard = Recorder::default();
    overheard.consume::<PongV1>(&world, Some((&bystander, "bystander"))).await;
    world.start_relay().await;

    let trace = TraceContext::continue_or_start(None);
    let causality = Causality {
        trace: trace.clone(),
        correlation_id: "checkout-7".into(),
        causation_id: "req-1".into(),
        tracer: Default::default(),
    };
    let ids = causality.scope(send_pings(&world.db, &world.outbox, &[1, 2, 3])).await;

    // Each ping is its own subject, so the replies may come in any order (order holds per
    // subject, `delivers_each_subject_in_order`): match them up by number.
    let mut replies = pongs.wait_for(3).await;
    replies.sort_by_key(|(reply, _)| reply.decode::<PongV1>().unwrap().n);
    for ((reply, _), (id, n)) in replies.iter().zip(ids.iter().zip([1, 2, 3])) {
        assert_eq!(reply.decode::<PongV1>().unwrap().n, n, "one reply per command");
        assert_eq!(reply.causation_id, Some(id.to_string()), "correlated to its command");
        assert_eq!(reply.correlation_id.as_deref(), Some("checkout-7"), "in the sender's flow");
        assert_eq!((reply.source.as_str(), reply.recipient.as_deref()), ("/flotilla/peer", Some(SERVICE)));
        assert!(reply.traceparent.as_deref().is_some_and(|t| t.contains(&trace.trace_id)), "in the sender's trace");
    }
    // The bystander's own ping is answered after the others: once its pong arrives, any pong
    // wrongly delivered to it would have arrived first.
    send_pings(&bystander.db, &bystander.outbox, &[99]).await;
    let heard = overheard.wait_for(1).await;
    assert_eq!(heard.len(), 1);
    assert_eq!(heard[0].0.decode::<PongV1>().unwrap().n, 99, "a reply reaches its sender only");
    assert_eq!(pongs.received().len(), 3);
}

/// Schedules `(key, delay from now, n)` timers in one unit of work; returns when each is due.
async fn schedule(world: &World, timers: &[(&str, Duration, i64)]) -> Vec<OffsetDateTime> {
    let now = OffsetDateTime::now_utc();
    let mut work = UnitOfWork::begin(&world.db, &world.outbox).await.unwrap();
    let mut due = Vec::new();
    for (key, delay, n) in timers {
        let at = now + *delay;
        work.schedule(key, at, &WakeV1 { n: *n }).await.unwrap();
        due.push(at);
    }
    work.commit().await.unwrap();
    due
}

fn woken(received: &[(Envelope, OffsetDateTime)]) -> Vec<i64> {
    received.iter().map(|(e, _)| e.decode::<WakeV1>().unwrap().n).collect()
}

async fn timers_left(world: &World) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM timers").fetch_one(world.db.pool()).await.unwrap()
}

pub async fn timers_fire_once_at_their_time_unless_cancelled(kind: Kind) {
    let world = World::new(kind).await;
    let wakes = Recorder::default();
    wakes.consume::<WakeV1>(&world, None).await;
    world.start_relay().await;
    world.start_timers();

    let ms = Duration::from_millis;
    // Spaced widely enough that the cancel below commits long before the cancelled one is due.
    let due = schedule(&world, &[("first", ms(300), 1), ("cancelled", ms(1000), 2), ("moved", ms(2000), 3)]).await;
    let mut work = UnitOfWork::begin(&world.db, &world.outbox).await.unwrap();
    assert!(work.cancel("cancelled").await.unwrap());
    assert!(!work.cancel("never-set").await.unwrap());
    work.commit().await.unwrap();
    // Setting a timer again moves it: it fires once, at the new time, with the new message.
    let moved = schedule(&world, &[("moved", ms(1300), 4)]).await[0];

    let received = wakes.wait_for(2).await;
    assert_eq!(woken(&received), [1, 4]);
    for ((envelope, handled_at), at) in received.iter().zip([due[0], moved]) {
        assert!(*handled_at >= at, "fired early: due {at}, handled {handled_at}");
        assert_eq!(envelope.recipient.as_deref(), Some(SERVICE), "a timer is a message to oneself");
    }
    assert_eq!(timers_left(&world).await, 0);
    let mut work = UnitOfWork::begin(&world.db, &world.outbox).await.unwrap();
    assert!(!work.cancel("first").await.unwrap(), "a fired timer is no longer set");
    work.commit().await.unwrap();
    // The cancelled timer was due before the moved one: had it fired, it would have arrived first.
    assert_eq!(woken(&wakes.received()), [1, 4]);
}

pub async fn timers_fire_after_a_restart(kind: Kind) {
    let world = World::new(kind).await;
    let wakes = Recorder::default();
    wakes.consume::<WakeV1>(&world, None).await;
    world.start_relay().await;
    let ms = Duration::from_millis;
    // The replica that set the timers dies before they are due, and is down while they come due.
    let dying = world.start_timers();
    let due = schedule(&world, &[("during-downtime", ms(100), 1), ("after-restart", ms(800), 2)]).await;
    dying.abort();
    let _ = dying.await;
    // The first is due while no worker runs: it is still set, unfired, once its time has passed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while OffsetDateTime::now_utc() <= due[0] {
        assert!(std::time::Instant::now() < deadline, "the clock never reached {}", due[0]);
        tokio::time::sleep(ms(10)).await;
    }
    assert_eq!(timers_left(&world).await, 2, "nothing fires while no worker runs");
    assert!(wakes.received().is_empty(), "nothing fires while no worker runs");

    world.start_timers();
    assert_eq!(woken(&wakes.wait_for(2).await), [1, 2]);
    assert_eq!(timers_left(&world).await, 0);
}

pub async fn two_replicas_fire_each_timer_once(kind: Kind) {
    let world = World::new(kind).await;
    const TIMERS: usize = 600;
    let keys: Vec<String> = (0..TIMERS).map(|n| format!("t-{n}")).collect();
    let timers: Vec<(&str, Duration, i64)> =
        keys.iter().enumerate().map(|(n, key)| (key.as_str(), Duration::ZERO, n as i64)).collect();
    schedule(&world, &timers).await;

    // Two replicas with pools of their own race for the same due timers.
    let replica = || async {
        let config = world.config();
        let db = Database::connect(SERVICE, &config.settings.database, &config.settings.data_dir).await.unwrap();
        TimerWorker::new(db, world.outbox.clone(), Duration::from_millis(50))
    };
    let (a, b) = (replica().await, replica().await);
    let drain = async |worker: TimerWorker| {
        let mut fired = 0;
        loop {
            let round = worker.fire_due().await.unwrap();
            fired += round.count;
            if round.next_in.is_none() {
                return fired;
            }
        }
    };
    let (fired_a, fired_b) = tokio::join!(drain(a), drain(b));
    assert_eq!(fired_a + fired_b, TIMERS, "every timer fired exactly once: {fired_a} + {fired_b}");
    assert_eq!(world.outbox_rows().await, TIMERS as i64);

    let wakes = Recorder::default();
    wakes.consume::<WakeV1>(&world, None).await;
    world.start_relay().await;
    let mut seen = woken(&wakes.wait_for(TIMERS).await);
    seen.sort_unstable();
    assert_eq!(seen, (0..TIMERS as i64).collect::<Vec<_>>());
}

/// A timer's handler may set the next one: a retry loop without a process holding it in memory.
pub async fn a_timer_handler_can_schedule_the_next(kind: Kind) {
    async fn again(wake: WakeV1, _: &Envelope, work: &mut UnitOfWork) -> Result<(), HandlerError> {
        if wake.n < 3 {
            let at = OffsetDateTime::now_utc() + Duration::from_millis(50);
            work.schedule("loop", at, &WakeV1 { n: wake.n + 1 }).await?;
        }
        Ok(())
    }
    let world = World::new(kind).await;
    let wakes = Recorder::default();
    world.run_consumer(None, Consumer::new(SERVICE, "looper").on(again)).await;
    wakes.consume::<WakeV1>(&world, None).await;
    world.start_relay().await;
    world.start_timers();
    schedule(&world, &[("loop", Duration::ZERO, 1)]).await;
    assert_eq!(woken(&wakes.wait_for(3).await), [1, 2, 3]);
}
