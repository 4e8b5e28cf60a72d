#!/usr/bin/env bash
# Catalog list and get against an axum hello world, measured in one run with `flotilla load`:
# saturation throughput and p99 at half of it, as ratios to the baseline; idle RSS and time to
# ready of `flotilla serve catalog`. Loopback only; every step is bounded in time.
# Durability: SQLite WAL with synchronous=FULL (the default); these scenarios only read.
set -euo pipefail
cd "$(dirname "$0")/.."
step=${STEP:-4s}
out=${OUT:-target/bench}
mkdir -p "$out"
cargo build --release --locked -q -p flotilla --bin flotilla --example hello_baseline
bin=target/release/flotilla
data=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$data"; }
trap cleanup EXIT

target/release/examples/hello_baseline 18099 & pids+=($!)

start_ns=$(date +%s%N)
FLOTILLA_DATA_DIR="$data" FLOTILLA_SERVICES__CATALOG__PORT=18082 FLOTILLA_LOG__LEVEL=warn \
  "$bin" serve catalog > "$out/catalog.log" 2>&1 & catalog=$!; pids+=($catalog)
until curl -sf -o /dev/null http://127.0.0.1:18082/readyz; do sleep 0.005; done
ready_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
sleep 2
idle_rss_kib=$(awk '/VmRSS/ {print $2}' /proc/$catalog/status)
id=$(curl -s 'http://127.0.0.1:18082/api/v1/catalog/products?limit=1' | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')

saturate() { # name url-base path
  "$bin" load --scenario get --target "$2" --path "$3" --find-saturation --rate 500 --step-factor 1.5 \
    --duration "$step" --max-steps 14 --max-p99 50ms --report "$out/$1.json" > "$out/$1.txt"
}
saturate hello http://127.0.0.1:18099 /
saturate catalog-get http://127.0.0.1:18082 "/api/v1/catalog/products/$id"
saturate catalog-list http://127.0.0.1:18082 "/api/v1/catalog/products?limit=20"
"$bin" load --scenario catalog-browse --target http://127.0.0.1:18082 --find-saturation --rate 250 --step-factor 1.5 \
  --duration "$step" --max-steps 14 --max-p99 50ms --report "$out/catalog-browse.json" > "$out/catalog-browse.txt"

python3 - "$out" "$ready_ms" "$idle_rss_kib" <<'PY'
import json, sys
out, ready_ms, rss_kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(name):
    s = json.load(open(f"{out}/{name}.json"))["saturation"]
    return s["throughput_rps"], s["at_half_load"]["latency_ms"]
base_rps, base_lat = load("hello")
print(f"{'target':<16}{'saturation rps':>16}{'ratio':>8}{'p50 @half ms':>14}{'p99 @half ms':>14}{'p99/p50':>9}")
for name in ["hello", "catalog-get", "catalog-list", "catalog-browse"]:
    rps, lat = load(name)
    print(f"{name:<16}{rps:>16.0f}{rps / base_rps:>8.3f}{lat['p50']:>14.3f}{lat['p99']:>14.3f}{lat['p99'] / lat['p50']:>9.2f}")
print(f"flotilla serve catalog: ready {ready_ms} ms after start; idle RSS {rss_kib / 1024:.1f} MiB")
PY
