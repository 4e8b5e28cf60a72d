//! The consumer gauges a service samples: the dead letters each consumer holds and what it has
//! left on the bus. Each case uses consumer names of its own, as the process has one recorder
//! that every test of this binary records into.

use std::time::{Duration, Instant};

use flotilla_contracts::Message;
use flotilla_contracts::catalog::ProductDeletedV1;
use flotilla_messaging::ConsumerSpec;
use flotilla_messaging::dead_letters::{self, Selector};
use flotilla_messaging::metrics::ConsumerGauges;
use uuid::Uuid;

use crate::world::{Kind, Mode, Probe, SERVICE, World, deleted};

fn spec(world: &World, name: &str) -> ConsumerSpec {
    ConsumerSpec {
        name: format!("{SERVICE}.{name}"),
        addresses: vec![ProductDeletedV1::TYPE.to_owned()],
        ack_wait: world.settings.ack_wait(),
    }
}

/// The value of `gauge` for the test service's consumer `name`, as its `/metrics` would serve it.
fn gauge(gauge: &str, name: &str) -> Option<f64> {
    let series = format!("{gauge}{{service=\"{SERVICE}\",consumer=\"{SERVICE}.{name}\"}} ");
    flotilla_chassis::metrics::render_for(SERVICE).lines().find_map(|line| line.strip_prefix(&series)?.parse().ok())
}

/// Samples until `gauge` of consumer `name` is `wanted`; fails after 30 s.
async fn sampled(gauges: &ConsumerGauges, gauge_name: &str, name: &str, wanted: f64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        gauges.sample().await;
        let value = gauge(gauge_name, name);
        if value == Some(wanted) {
            return;
        }
        assert!(Instant::now() < deadline, "{gauge_name} of {name} is {value:?}, not {wanted}, after 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn a_dead_letter_is_gauged_until_it_is_replayed(kind: Kind) {
    // Series recorded before the recorder exists are lost.
    flotilla_chassis::metrics::handle();
    let world = World::new(kind).await;
    world.emit(&[deleted(Uuid::now_v7(), 1)]).await;
    world.start_relay().await;
    let probe = Probe::new(Mode::FailPermanently);
    world.start_consumer("gauged-dead", &probe).await;
    let gauges = ConsumerGauges::new(
        SERVICE,
        world.db.clone(),
        world.bus().await,
        vec![spec(&world, "gauged-dead"), spec(&world, "gauged-clean")],
    );

    sampled(&gauges, "flotilla_dead_letters", "gauged-dead", 1.0).await;
    assert_eq!(gauge("flotilla_dead_letters", "gauged-clean"), Some(0.0), "a consumer with none reports 0");
    let letter = dead_letters::list(&world.db, Some(&format!("{SERVICE}.gauged-dead")), 10).await.unwrap().remove(0);

    // A replay that fails again leaves it dead; one that succeeds removes it.
    dead_letters::request_replay(&world.db, &Selector::One(letter.id)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while dead_letters::get(&world.db, letter.id).await.unwrap().is_some_and(|l| l.replays == 0) {
        assert!(Instant::now() < deadline, "the replay was not attempted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gauges.sample().await;
    assert_eq!(gauge("flotilla_dead_letters", "gauged-dead"), Some(1.0), "still dead after a failed replay");
    probe.set_mode(Mode::Apply);
    dead_letters::request_replay(&world.db, &Selector::One(letter.id)).await.unwrap();
    sampled(&gauges, "flotilla_dead_letters", "gauged-dead", 0.0).await;
    assert_eq!(world.applied().await.len(), 1);
}

pub async fn a_stuck_consumer_has_a_backlog_until_it_moves_again(kind: Kind) {
    flotilla_chassis::metrics::handle();
    let world = World::new(kind).await;
    world.emit(&(1..=3).map(|v| deleted(Uuid::now_v7(), v)).collect::<Vec<_>>()).await;
    world.start_relay().await;
    let stuck = Probe::new(Mode::Hang);
    let replica = world.start_consumer("gauged-stuck", &stuck).await;
    stuck.wait_attempted().await;
    let gauges = ConsumerGauges::new(SERVICE, world.db.clone(), world.bus().await, vec![spec(&world, "gauged-stuck")]);
    // Handling nothing, it moves no lag gauge; its backlog says what it holds and what waits.
    sampled(&gauges, "flotilla_consumer_backlog_messages", "gauged-stuck", 3.0).await;

    replica.abort();
    let _ = replica.await;
    world.start_consumer("gauged-stuck", &Probe::new(Mode::Apply)).await;
    world.wait_applied(3).await;
    sampled(&gauges, "flotilla_consumer_backlog_messages", "gauged-stuck", 0.0).await;
}
