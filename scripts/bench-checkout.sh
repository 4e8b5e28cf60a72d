#!/usr/bin/env bash
# Checkout through the whole saga against a baseline that makes the same business writes as one
# transaction per checkout on the same PostgreSQL, measured in one run:
#   - checkout_baseline (crates/flotilla/examples): checkouts per second from 16 connections;
#   - `flotilla up` (a process per service, PostgreSQL, NATS JetStream) and `flotilla run`
#     (embedded: SQLite per service, the embedded log) under `flotilla load --scenario checkout
#     --find-saturation`: checkouts per second at saturation (a step holds when every order it
#     placed is confirmed, its p99 from accepted to confirmed is within 1 s and its requests'
#     p99 within 500 ms), then accepted-to-confirmed p50/p99 at half of it;
#   - the resident memory of the embedded system with every service running.
# PIN=1 pins the servers to core 1 and the load generator to core 0 (PostgreSQL itself is not
# pinned). Durability as configured by default: PostgreSQL synchronous_commit=on, SQLite WAL with
# synchronous=FULL, JetStream file storage (its default sync interval). Loopback only; every step
# is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
step=${STEP:-5s}
out=${OUT:-target/bench/checkout}
pg=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}
mkdir -p "$out"
cargo build --release --locked -q -p flotilla --bin flotilla --example checkout_baseline
bin=$PWD/target/release/flotilla
serve=() load=()
if [ "${PIN:-0}" = 1 ]; then serve=(taskset -c 1); load=(taskset -c 0); fi
work=$(mktemp -d)
prefix="bench_$$_"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for db in $(psql "$pg/postgres" -Atc "SELECT datname FROM pg_database WHERE datname LIKE '${prefix}%'" 2>/dev/null); do
    psql "$pg/postgres" -qc "DROP DATABASE \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Every service on a port of its own, away from the defaults; settings for a load run.
port=18180
env_vars=(FLOTILLA_LOG__LEVEL=warn FLOTILLA_SERVICES__IDENTITY__SIGN_IN_PER_MINUTE=1000000
  FLOTILLA_SERVICES__INVENTORY__INITIAL_STOCK=100000000 FLOTILLA_SERVICES__NOTIFICATIONS__SINK__PORT=0
  FLOTILLA_DATA_DIR="$work/data")
for service in $("$bin" version | awk 'NR > 1 && NF == 0 {exit} NR > 1 {print $1}'); do
  name=${service//-/_}
  env_vars+=("FLOTILLA_SERVICES__${name^^}__PORT=$port")
  case $service in gateway) gateway=$port ;; identity) identity=$port ;; esac
  port=$((port + 1))
done

measure() { # name: load the system started on the gateway port until saturation
  "${load[@]}" "$bin" load --scenario checkout --target "http://127.0.0.1:$gateway" --identity "http://127.0.0.1:$identity" \
    --customers 200 --find-saturation --rate 20 --step-factor 1.5 --duration "$step" --max-steps 12 \
    --max-p99 500ms --max-confirm-p99 1s --confirm-wait 20s --report "$out/$1.json" > "$out/$1.txt" 2> "$out/$1.steps"
}
ready() { until curl -sf -o /dev/null "http://127.0.0.1:$gateway/readyz"; do sleep 0.1; done; }

echo "baseline: one transaction per checkout on $pg" >&2
"${serve[@]}" target/release/examples/checkout_baseline "$pg" 16 10 > "$out/baseline.json"

echo "distributed: flotilla up" >&2
env "${env_vars[@]}" "${serve[@]}" "$bin" up --postgres-url "$pg" --database-prefix "$prefix" > "$out/up.log" 2>&1 &
pids+=($!)
ready
measure distributed
kill -INT "${pids[-1]}"; wait "${pids[-1]}" || true; unset 'pids[-1]'

echo "embedded: flotilla run" >&2
rm -rf "$work/data"
env "${env_vars[@]}" "${serve[@]}" "$bin" run > "$out/run.log" 2>&1 &
run=$!; pids+=($run)
ready
sleep 2
idle_kib=$(awk '/VmRSS/ {print $2}' "/proc/$run/status")
measure embedded
peak_kib=$(awk '/VmHWM/ {print $2}' "/proc/$run/status")
after_kib=$(awk '/VmRSS/ {print $2}' "/proc/$run/status")

python3 - "$out" "$idle_kib" "$after_kib" "$peak_kib" "${PIN:-0}" <<'PY'
import json, sys
out, idle, after, peak, pinned = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5] == "1"
base = json.load(open(f"{out}/baseline.json"))
print(f"checkout, {'pinned (servers core 1, generator core 0)' if pinned else 'unpinned'}")
print(f"{'system':<14}{'checkouts/s':>12}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}   (latency: accepted to confirmed at half of saturation)")
print(f"{'baseline':<14}{base['checkouts_per_s']:>12.1f}{1:>8.3f}{base['p50_ms']:>9.2f}{base['p99_ms']:>9.2f}   (one transaction, {base['workers']} connections)")
for name in ["distributed", "embedded"]:
    s = json.load(open(f"{out}/{name}.json"))["saturation"]
    if s is None:
        print(f"{name:<14}  no step held"); continue
    c = s["at_half_load"]["confirmations"]["accepted_to_confirmed_ms"]
    print(f"{name:<14}{s['throughput_rps']:>12.1f}{s['throughput_rps'] / base['checkouts_per_s']:>8.3f}{c['p50']:>9.2f}{c['p99']:>9.2f}")
print(f"embedded system RSS: idle {idle / 1024:.1f} MiB, after the load {after / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB")
PY
