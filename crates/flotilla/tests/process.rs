//! The real binary as an operator runs it: start-up errors, graceful shutdown under load, and
//! metrics that Prometheus tooling accepts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::free_port;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn flotilla(data_dir: &Path, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flotilla"));
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("FLOTILLA_DATA_DIR", data_dir)
        .env("FLOTILLA_SERVICES__CATALOG__PORT", port.to_string())
        .env("FLOTILLA_LOG__FORMAT", "json")
        .current_dir(data_dir);
    command
}

/// Kills the child when a test ends early, so a failed assertion never leaves a server behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn wait_ready(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("flotilla exited early with {status}");
        }
        if http_get(port, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("not ready within 30 s");
}

fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

fn sigterm(child: &Child) {
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
}

/// SIGTERM while a request is half-sent and others keep arriving: readiness turns 503 at once,
/// requests keep being served through the drain delay, the half-sent one completes, exit code 0.
#[test]
fn sigterm_drains_without_failing_in_flight_requests() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // The write below needs an admin token; the issuer answers from this runtime's workers.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let issuer = runtime.block_on(flotilla_testkit::TestIssuer::start());
    let token = issuer.token("drain-admin", &["admin"]);
    let mut child = flotilla(dir.path(), port)
        .args(["serve", "catalog"])
        .env("FLOTILLA_AUTH__ISSUER", issuer.issuer())
        .env("FLOTILLA_HTTP__DRAIN_DELAY_MS", "1500")
        .env("FLOTILLA_SERVICES__CATALOG__SEED", "false")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_ready(port, &mut child);
    let mut child = Running(child);

    // An in-flight request: headers and half the body sent before the signal.
    let body = r#"{"sku":"SIG-1","name":"Drained","price":{"amount_minor":100,"currency":"EUR"},"category":"tests"}"#;
    let (first, second) = body.split_at(body.len() / 2);
    let mut in_flight = TcpStream::connect(("127.0.0.1", port)).unwrap();
    in_flight.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        in_flight,
        "POST /api/v1/catalog/products HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    in_flight.flush().unwrap();
    std::thread::sleep(Duration::from_millis(100));

    // Steady traffic from another thread, on fresh connections, across the signal.
    let traffic = std::thread::spawn(move || {
        let mut served_after_signal = 0;
        let until = Instant::now() + Duration::from_millis(1200);
        while Instant::now() < until {
            let response = http_get(port, "/api/v1/catalog/products?limit=1").expect("served during the drain");
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
            served_after_signal += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
        served_after_signal
    });
    std::thread::sleep(Duration::from_millis(50));
    sigterm(&child.0);
    std::thread::sleep(Duration::from_millis(100));
    let readiness = http_get(port, "/readyz").expect("still answering while draining");
    assert!(readiness.starts_with("HTTP/1.1 503"), "{readiness}");
    assert!(readiness.contains("draining"), "{readiness}");
    assert!(traffic.join().unwrap() > 10, "requests kept being served through the drain delay");

    // Past the drain delay the listener closes; the in-flight request still completes.
    std::thread::sleep(Duration::from_millis(600));
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "no new connections after the drain");
    in_flight.write_all(second.as_bytes()).unwrap();
    let mut response = String::new();
    in_flight.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");

    let status = child.0.wait().unwrap();
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let output = flotilla(dir.path(), port).args(["serve", "catalog"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("services.catalog.port"), "{stderr}");
}

#[test]
fn bad_configuration_names_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = flotilla(dir.path(), free_port())
        .args(["serve", "catalog"])
        .env("FLOTILLA_HTTP__REQUEST_TIMEOUT_MS", "soon")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("request_timeout_ms") && stderr.contains("FLOTILLA_HTTP__REQUEST_TIMEOUT_MS"), "{stderr}");

    let output = flotilla(dir.path(), free_port()).args(["--env", "production", "run"]).output().unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("dev, staging, prod"));
}

#[test]
fn an_unreachable_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let closed = free_port();
    let output = flotilla(dir.path(), free_port())
        .args(["serve", "catalog"])
        .env("FLOTILLA_DATABASE__BACKEND", "postgres")
        .env("FLOTILLA_DATABASE__URL", format!("postgres://nobody:secret-password@127.0.0.1:{closed}"))
        .env("FLOTILLA_DATABASE__ACQUIRE_TIMEOUT_MS", "1000")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot reach the database of catalog"), "the error is on stderr: {stderr}");
    // The logs go to stdout, the error to stderr: the password reaches neither.
    assert!(!stdout.contains("secret-password"), "the password reached stdout: {stdout}");
    assert!(!stderr.contains("secret-password"), "the password reached stderr: {stderr}");
}

#[test]
fn an_unknown_service_is_refused_with_the_choices() {
    let dir = tempfile::tempdir().unwrap();
    let output = flotilla(dir.path(), free_port()).args(["serve", "nosuch"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("catalog"));
}

#[test]
fn migrate_then_version() {
    let dir = tempfile::tempdir().unwrap();
    let output = flotilla(dir.path(), free_port()).args(["migrate", "catalog"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let expected = format!("catalog: {} migrations applied", flotilla_catalog::MIGRATIONS.len());
    assert!(String::from_utf8_lossy(&output.stdout).contains(&expected));
    let output = flotilla(dir.path(), free_port()).arg("version").output().unwrap();
    let version = String::from_utf8_lossy(&output.stdout);
    assert!(version.starts_with("flotilla "), "{version}");
    // Every version there is: the product's, each service's and its API's, each message's.
    let catalog = format!(
        "  catalog          {} api {}",
        flotilla_catalog::SERVICE.version,
        flotilla_catalog::SERVICE.api_version
    );
    assert!(version.lines().any(|line| line.split_whitespace().eq(catalog.split_whitespace())), "{version}");
    for message in flotilla_contracts::registry() {
        assert!(version.contains(message.message_type), "{} is not listed: {version}", message.message_type);
    }
}

/// Every port of the embedded system, after traffic through every service (a request to each, a
/// breaker that opens, the catalog's published events), serves metrics
/// that `promtool check metrics` accepts, and no series is served by two ports: a Prometheus
/// scraping each service counts each series once. promtool comes from Debian's `prometheus`
/// package, which scripts/test installs; without it this test fails rather than passing unchecked.
/// A reader that stops early (`flotilla version | head -1`) ends the output, not in a panic.
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .arg("version")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"), "{output:?}");
}

#[test]
fn every_port_passes_promtool_and_serves_only_its_own_series() {
    let Ok(promtool) = which("promtool") else {
        panic!("promtool is required (apt-get install prometheus); scripts/test installs it");
    };
    let dir = tempfile::tempdir().unwrap();
    let all = common::Ports::new();
    let ports: Vec<(&str, u16)> = all.all().collect();
    let port = |name: &str| all.of(name);
    let hanging_up = common::hanging_up_upstream();
    let mut command = flotilla(dir.path(), port("catalog"));
    command.envs(all.environment());
    let ghost = "FLOTILLA_SERVICES__GATEWAY__UPSTREAMS__GHOST";
    command
        .env(format!("{ghost}__URL"), format!("http://127.0.0.1:{hanging_up}"))
        .env(format!("{ghost}__RETRIES"), "0")
        .env(format!("{ghost}__BREAKER__CONSECUTIVE_FAILURES"), "1");
    let mut child = command.arg("run").stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    for (_, port) in &ports {
        wait_ready(*port, &mut child);
    }
    let child = Running(child);
    let gateway = port("gateway");
    http_get(gateway, "/api/v1/catalog/products?limit=2");
    http_get(gateway, "/api/v1/identity/users/me");
    http_get(gateway, "/api/v1/ghost/anything");
    // And every service once on its own port (the simulator has no route at the gateway).
    for (name, port) in &ports {
        http_get(*port, &format!("/api/v1/{name}/anything"));
    }
    http_get(port("identity"), "/.well-known/openid-configuration");
    let scrape = |port: u16| metrics_of(port);
    // The demo catalogue's events leave through the relay shortly after start.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !scrape(port("catalog")).contains("messaging_client_sent_messages_total{service=\"catalog\"") {
        assert!(Instant::now() < deadline, "the catalog published nothing: {}", scrape(port("catalog")));
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut owners: std::collections::BTreeMap<String, &str> = std::collections::BTreeMap::new();
    let mut process_reporters = Vec::new();
    for (name, port) in ports.iter().copied() {
        let body = scrape(port);
        let mut check = Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        check.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
        let output = check.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "promtool rejected {name}'s /metrics:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(body.contains(&format!("flotilla_build_info{{service=\"{name}\"")), "{name}: {body}");
        assert!(body.contains("http_server_request_duration_seconds_count{service="), "{name} counted no request");
        assert!(
            body.contains(&format!("flotilla_service_ready{{service=\"{name}\"}} 1")),
            "{name} is not ready: {body}"
        );
        if body.contains("process_resident_memory_bytes") {
            process_reporters.push(name);
        }
        for series in body.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let series = series.rsplit_once(' ').map_or(series, |(series, _)| series).to_owned();
            if let Some(other) = owners.insert(series.clone(), name) {
                panic!("{series} is served by both {other} and {name}");
            }
            let labelled = series.contains(&format!("service=\"{name}\"")) || series.starts_with("process_");
            assert!(labelled, "{name} serves a series that is not its own: {series}");
        }
    }
    assert_eq!(process_reporters, ["gateway"], "the process's usage is reported by one port");
    let gateway_metrics = scrape(gateway);
    assert!(
        gateway_metrics.contains("flotilla_circuit_breaker_state{service=\"gateway\",dependency=\"ghost\"} 2"),
        "the ghost upstream's breaker opened: {gateway_metrics}"
    );
    sigterm(&child.0);
}

fn which(tool: &str) -> Result<std::path::PathBuf, ()> {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(tool))
        .find(|path| path.is_file())
        .ok_or(())
}

/// The body of `/metrics` on `port`, asserting a 200 in the Prometheus text format (0.0.4) that
/// is not empty: promtool accepts an empty document, so an empty or wrong answer would pass it.
fn metrics_of(port: u16) -> String {
    let response = http_get(port, "/metrics").unwrap_or_else(|| panic!("no answer from /metrics on {port}"));
    let (head, _) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(head.starts_with("HTTP/1.1 200 "), "/metrics on {port}: {head}");
    let content_type = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_ascii_lowercase());
    assert!(
        content_type.as_deref().is_some_and(|t| t.starts_with("text/plain") && t.contains("version=0.0.4")),
        "/metrics on {port} is not the Prometheus text format: {head}"
    );
    let body = body_of(&response);
    assert!(!body.trim().is_empty(), "/metrics on {port} is empty: {head}");
    body
}

/// The body of a raw HTTP/1.1 response, with chunked transfer encoding undone.
fn body_of(response: &str) -> String {
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_owned() }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { return body.to_owned() };
        if size == 0 {
            break;
        }
        out.push_str(&after[..size]);
        rest = &after[size + 2..];
    }
    out
}

/// `flotilla load` against a real catalog: a short open-loop run whose JSON report adds up.
#[test]
fn load_reports_latency_for_a_short_run() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = flotilla(dir.path(), port).args(["serve", "catalog"]).stdout(Stdio::null()).spawn().unwrap();
    wait_ready(port, &mut child);
    let _child = Running(child);
    let report = dir.path().join("report.json");
    let output = flotilla(dir.path(), port)
        .args(["load", "--scenario", "catalog-browse", "--target", &format!("http://127.0.0.1:{port}")])
        .args(["--rate", "200", "--duration", "1s", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let step = &report["steps"][0];
    assert_eq!(step["sent"], 200);
    assert_eq!(step["ok"], 200, "{step}");
    let latency = &step["latency_ms"];
    assert!(latency["p50"].as_f64().unwrap() > 0.0);
    assert!(latency["p50"].as_f64() <= latency["p99"].as_f64() && latency["p99"].as_f64() <= latency["max"].as_f64());
    assert!(String::from_utf8_lossy(&output.stdout).contains("p99"));

    let refused = flotilla(dir.path(), port).args(["load", "--rate", "0"]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--rate"));
}
