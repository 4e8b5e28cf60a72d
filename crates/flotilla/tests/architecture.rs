//! The architecture invariants of docs/ARCHITECTURE.md, checked against `cargo metadata` and the
//! sources so that they cannot erode silently.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// A dependency's name and kind (`normal`, `dev`, `build`).
type Dependency = (String, String);

/// Each member with its directory and its dependencies.
fn members(metadata: &Value) -> Vec<(String, PathBuf, Vec<Dependency>)> {
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap());
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| (d["name"].as_str().unwrap().to_owned(), d["kind"].as_str().unwrap_or("normal").to_owned()))
                .collect();
            (p["name"].as_str().unwrap().to_owned(), manifest.parent().unwrap().to_owned(), deps)
        })
        .collect()
}

/// Stand-ins for systems outside Flotilla (a card processor): services of ours only so that
/// they run embedded and in tests. A service's tests may start one, as they would reach the
/// real system; no service's code may use one.
const SIMULATORS: &[&str] = &["flotilla-payment-provider"];

/// Bounded contexts meet only over HTTP and the bus: no service crate uses another, and the
/// shared crates use none. The one exception: a service's tests may run a simulator.
#[test]
fn no_service_depends_on_another_service() {
    let metadata = metadata();
    let members = members(&metadata);
    let services: BTreeSet<String> = members
        .iter()
        .filter(|(_, dir, _)| dir.parent().is_some_and(|p| p.ends_with("services")))
        .map(|(n, _, _)| n.clone())
        .collect();
    assert!(services.contains("flotilla-catalog"), "services found: {services:?}");
    for (name, dir, deps) in &members {
        let allowed_to_use_services = name == "flotilla";
        for (dep, kind) in deps {
            let simulator_in_tests = kind == "dev" && SIMULATORS.contains(&dep.as_str());
            if services.contains(dep) && dep != name && !simulator_in_tests {
                assert!(
                    allowed_to_use_services && !dir.parent().is_some_and(|p| p.ends_with("services")),
                    "{name} depends on service crate {dep}; only the flotilla binary may assemble services"
                );
            }
        }
    }
}

const IO_CRATES: &[&str] =
    &["axum", "sqlx", "tokio", "reqwest", "hyper", "tower", "flotilla_chassis", "std::fs", "std::net", "std::process"];

/// Domain modules hold rules only: no web framework, database, runtime or other IO.
#[test]
fn domain_modules_do_no_io() {
    let mut checked = 0;
    for service in std::fs::read_dir(root().join("services")).unwrap() {
        let domain = service.unwrap().path().join("src/domain");
        assert!(domain.is_dir(), "{} has no src/domain", domain.display());
        for file in rust_files(&domain) {
            checked += 1;
            let text = std::fs::read_to_string(&file).unwrap();
            for (number, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for krate in IO_CRATES {
                    let used = code.contains(&format!("{krate}::")) || code.contains(&format!("use {krate}"));
                    assert!(!used, "{}:{} uses {krate}: {}", file.display(), number + 1, line.trim());
                }
            }
        }
    }
    assert!(checked > 0);
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Every third-party dependency is declared once, in [workspace.dependencies]; members only say
/// `name.workspace = true`, so versions and features cannot drift apart.
#[test]
fn every_dependency_is_declared_once_at_the_workspace() {
    for (name, dir, _) in members(&metadata()) {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let mut in_dependencies = false;
        for line in manifest.lines().map(str::trim) {
            if line.starts_with('[') {
                in_dependencies = line.ends_with("dependencies]");
                continue;
            }
            if in_dependencies && !line.is_empty() && !line.starts_with('#') {
                let declared_at_workspace = line.contains(".workspace = true") || line.contains("workspace = true }");
                assert!(declared_at_workspace, "{name}: `{line}` must be declared in [workspace.dependencies]");
            }
        }
    }
}

/// `unwrap` and `expect` stay out of non-test code: the workspace denies them and every member
/// inherits the workspace lints, so clippy (run with -D warnings in CI) enforces it.
#[test]
fn no_unwrap_or_expect_outside_tests() {
    let workspace = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    for lint in ["unwrap_used = \"deny\"", "expect_used = \"deny\""] {
        assert!(workspace.contains(lint), "the workspace must set clippy {lint}");
    }
    for (name, dir, _) in members(&metadata()) {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("[lints]\nworkspace = true"), "{name} must inherit the workspace lints");
    }
}

/// One crypto and TLS stack, ring (through rustls and our jsonwebtoken provider, which also verifies
/// RS256 and PS256): no second library, neither a TLS one nor RustCrypto's signature crates that
/// jsonwebtoken's own providers would bring, and no `rsa` crate with its timing advisory
/// (RUSTSEC-2023-0071), anywhere in the resolved dependency graph.
#[test]
fn one_crypto_stack_ring_and_no_rsa_crate() {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).unwrap();
    let packages: BTreeSet<&str> =
        lock.lines().filter_map(|line| line.strip_prefix("name = \"")?.strip_suffix('"')).collect();
    assert!(packages.contains("ring"));
    let other_stacks = ["aws-lc-rs", "aws-lc-sys", "openssl", "openssl-sys", "native-tls", "boring", "boring-sys"];
    let rust_crypto_signatures = ["p256", "ed25519-dalek"];
    for banned in ["rsa"].iter().chain(&other_stacks).chain(&rust_crypto_signatures) {
        assert!(!packages.contains(banned), "{banned} is in Cargo.lock; see ADR 0007");
    }
}

/// Messages leave a service only through its outbox, written by a `UnitOfWork` in the
/// transaction of the change: no other code inserts outbox rows or publishes to the bus.
#[test]
fn messages_are_emitted_only_through_a_unit_of_work() {
    let mut checked = 0;
    for dir in ["services", "crates/chassis/src", "crates/contracts/src", "crates/messaging/src"] {
        for file in rust_files(&root().join(dir)) {
            checked += 1;
            let path = file.strip_prefix(root()).unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&file).unwrap();
            if !path.ends_with("messaging/src/outbox.rs") {
                assert!(!text.contains("INSERT INTO outbox ("), "{path} writes outbox rows itself");
            }
            let publishes = text.contains(".publish(&[") || text.contains("bus.publish(");
            let may_publish = ["messaging/src/relay.rs", "/tests/"].iter().any(|allowed| path.contains(allowed));
            assert!(!publishes || may_publish, "{path} publishes to the bus directly instead of through its outbox");
        }
    }
    assert!(checked > 0);
}
