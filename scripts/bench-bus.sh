#!/usr/bin/env bash
# The bus against raw baselines, both backends, in one run: relay throughput against raw publishing
# (JetStream) or raw inserts (SQLite), and commit-to-consume latency. Figures go to docs/benchmarks.md.
# Needs nats-server 2.10+ (FLOTILLA_NATS_SERVER or PATH) and PostgreSQL on 127.0.0.1:5432.
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-10000}
rate=${2:-200}
cargo build --release -q -p flotilla-messaging --example bus_bench
for backend in embedded nats; do
  echo
  target/release/examples/bus_bench "$backend" "$messages" "$rate"
done
