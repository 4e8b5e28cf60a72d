//! `flotilla up` as an operator runs it: every service its own OS process on its own PostgreSQL
//! database, NATS JetStream started for it. A customer buys through the gateway; a service
//! killed with SIGKILL is started again and the next order goes through; Ctrl-C (SIGINT) stops
//! every process it started; `flotilla check` finds the system consistent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::system::System;

const SETTINGS: &str = r#"
[log]
format = "json"
level = "info"

[services.identity]
admin.email = "admin@flotilla.test"

[services.shipping.carrier]
dispatch_after_ms = 200
step_ms = 100
"#;

/// The process ids `flotilla up` printed for each service, latest last.
fn pids(log: &str, service: &str) -> Vec<u32> {
    log.lines()
        .filter(|line| line.split_whitespace().next() == Some(service))
        .filter_map(|line| line.rsplit_once("pid ").and_then(|(_, pid)| pid.trim().parse().ok()))
        .collect()
}

fn alive(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_every_service_in_its_own_process_restarts_the_dead_and_stops_them_all() {
    let mut system = System::up().await;
    system.start(SETTINGS).await;
    let log_file = system.log();
    let log = || std::fs::read_to_string(&log_file).unwrap();
    let started = log();
    assert!(started.contains("started nats-server (JetStream"), "{started}");
    let services = common::services();
    let mut all = Vec::new();
    for service in &services {
        let pid = *pids(&started, service).first().unwrap_or_else(|| panic!("no pid for {service}: {started}"));
        assert!(alive(pid), "{service}");
        all.push(pid);
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), services.len(), "a process per service");

    let ada = system.shopper("ada@example.com").await;
    let url = system.gateway("/api/v1/catalog/products?limit=1");
    let page: serde_json::Value = system.http.get(url).send().await.unwrap().json().await.unwrap();
    let product = page["items"][0]["id"].as_str().unwrap().to_owned();
    let first = ada.order(&system, &product, "4242424242424242").await;
    ada.settles(&system, &first, &["shipped"]).await;

    // Inventory dies without a chance to clean up; up starts it again.
    let inventory = pids(&log(), "inventory")[0];
    assert!(std::process::Command::new("kill").args(["-KILL", &inventory.to_string()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let restarted = loop {
        if let Some(pid) = pids(&log(), "inventory").into_iter().find(|pid| *pid != inventory) {
            break pid;
        }
        assert!(Instant::now() < deadline, "inventory was not restarted: {}", log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(alive(restarted));
    let second = ada.order(&system, &product, "4242424242424242").await;
    ada.settles(&system, &second, &["shipped"]).await;

    system.stop_with("INT");
    let after = log();
    for service in &services {
        for pid in pids(&after, service) {
            assert!(!alive(pid), "{service} (pid {pid}) outlived up");
        }
    }
    assert!(!after.contains("exiting without draining"), "each service was stopped once: {after}");
    assert!(after.contains(&format!("stopping {} services", services.len())), "{after}");
    system.assert_consistent();
}
