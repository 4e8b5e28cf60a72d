//! What the binary's process-level tests share: every registered service on a port of its own,
//! so that tests running at once never meet on a default port, and the whole system as a test
//! drives it. Each test binary uses part of it.

#![allow(dead_code)]

pub mod system;

use std::collections::BTreeMap;
use std::process::Command;

/// Every registered service, as `flotilla version` lists them.
pub fn services() -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_flotilla")).arg("version").output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `count` listeners on distinct free ports (each held until all are chosen, since a port
/// released at once may be the next one the kernel hands out), for a caller that holds them
/// until a child process that must be told its ports up front is about to bind them.
pub fn held_free_ports(count: usize) -> Vec<std::net::TcpListener> {
    (0..count).map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap()).collect()
}

/// An upstream that accepts every connection and hangs up before answering: it keeps its port,
/// so no other process can come to answer there, and every request to it fails at once.
pub fn hanging_up_upstream() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for connection in listener.incoming() {
            drop(connection);
        }
    });
    port
}

/// A free port for every service.
pub struct Ports {
    services: BTreeMap<String, u16>,
    /// The listeners that keep the ports taken until [`Ports::release`].
    held: Vec<std::net::TcpListener>,
}

impl Ports {
    /// The ports, already released.
    pub fn new() -> Self {
        let mut ports = Self::held();
        ports.release();
        ports
    }

    /// The ports, still bound here until [`Ports::release`]: no other test can take one between
    /// the choice and the moment the system is about to bind them.
    pub fn held() -> Self {
        let services = services();
        let held = held_free_ports(services.len());
        let ports = held.iter().map(|listener| listener.local_addr().unwrap().port());
        Self { services: services.into_iter().zip(ports).collect(), held }
    }

    /// Lets the ports go, for the process about to bind them; call it just before it starts.
    pub fn release(&mut self) {
        self.held.clear();
    }

    pub fn of(&self, service: &str) -> u16 {
        self.services[service]
    }

    pub fn all(&self) -> impl Iterator<Item = (&str, u16)> {
        self.services.iter().map(|(name, port)| (name.as_str(), *port))
    }

    /// The `FLOTILLA_...` variables that put the services on these ports, and the mail sink on
    /// whatever port it binds: notifications hands mail to the address it bound, and no test
    /// needs to know it, so no port is picked, released and bound again later by another.
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut variables: Vec<(String, String)> = self
            .all()
            // As a shell would spell them: `payment-provider` is `PAYMENT_PROVIDER`.
            .map(|(name, port)| {
                (format!("FLOTILLA_SERVICES__{}__PORT", name.to_uppercase().replace('-', "_")), port.to_string())
            })
            .collect();
        variables.push(("FLOTILLA_SERVICES__NOTIFICATIONS__SINK__PORT".into(), "0".into()));
        variables
    }
}
