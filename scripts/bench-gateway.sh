#!/usr/bin/env bash
# The gateway's overhead, measured in one run with `flotilla load`: saturation throughput and
# p99 at half load for a catalog GET straight to the catalog and through the gateway, anonymous
# and with a bearer token (which the gateway verifies to key its rate limit); then the cost of
# one token verification (examples/token_bench.rs). `flotilla run`, embedded, on loopback ports
# 1808x; the gateway's rate limit is lifted so that it measures the proxy, not the limiter.
# Every step is bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
step=${STEP:-4s}
out=${OUT:-target/bench}
mkdir -p "$out"
cargo build --release --locked -q -p flotilla --bin flotilla --example token_bench
bin=target/release/flotilla
data=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$data"; }
trap cleanup EXIT

mkdir -p "$data/config"
secret=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
# Addresses follow from the ports (the gateway's routes, the issuer, public_url).
cat > "$data/config/dev.toml" <<TOML
[log]
level = "warn"
[services.gateway]
port = 18080
rate_limit_per_second = 1000000
rate_limit_burst = 1000000
[services.identity]
port = 18081
clients.bench.grant_types = ["client_credentials"]
clients.bench.scopes = ["catalog.read"]
[services.catalog]
port = 18082
TOML
FLOTILLA_DATA_DIR="$data" FLOTILLA_CONFIG_DIR="$data/config" FLOTILLA_SERVICES__IDENTITY__CLIENTS__BENCH__SECRET="$secret" \
  "$bin" run > "$out/flotilla-run.log" 2>&1 & pids+=($!)
for _ in $(seq 1 600); do
  curl -sf -o /dev/null http://127.0.0.1:18080/readyz && curl -sf -o /dev/null http://127.0.0.1:18082/readyz && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$out/flotilla-run.log" >&2; exit 1; }
  sleep 0.05
done
id=$(curl -s 'http://127.0.0.1:18082/api/v1/catalog/products?limit=1' | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
token=$(curl -s -u "bench:$secret" -d grant_type=client_credentials http://127.0.0.1:18081/oauth2/token \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

saturate() { # name base-url [header]
  local extra=()
  if [ $# -ge 3 ]; then extra=(--header "$3"); fi
  "$bin" load --scenario get --target "$2" --path "/api/v1/catalog/products/$id" "${extra[@]}" --find-saturation \
    --rate 500 --step-factor 1.5 --duration "$step" --max-steps 14 --max-p99 50ms --report "$out/$1.json" > "$out/$1.txt"
}
saturate direct http://127.0.0.1:18082
saturate gateway http://127.0.0.1:18080
saturate gateway-bearer http://127.0.0.1:18080 "Authorization: Bearer $token"

# Added latency at equal load: every path at half the slowest path's saturation rate.
half=$(python3 -c "import json; print(min(json.load(open('$out/' + n + '.json'))['saturation']['throughput_rps'] for n in ['direct', 'gateway', 'gateway-bearer']) / 2)")
steady() { # name base-url [header]
  local extra=()
  if [ $# -ge 3 ]; then extra=(--header "$3"); fi
  "$bin" load --scenario get --target "$2" --path "/api/v1/catalog/products/$id" "${extra[@]}" --rate "$half" \
    --duration "$step" --report "$out/$1-steady.json" > "$out/$1-steady.txt"
}
steady direct http://127.0.0.1:18082
steady gateway http://127.0.0.1:18080
steady gateway-bearer http://127.0.0.1:18080 "Authorization: Bearer $token"

python3 - "$out" "$half" <<'PY'
import json, sys
out, half = sys.argv[1], float(sys.argv[2])
def saturation(name):
    return json.load(open(f"{out}/{name}.json"))["saturation"]["throughput_rps"]
def steady(name):
    return json.load(open(f"{out}/{name}-steady.json"))["steps"][0]["latency_ms"]
base_rps, base = saturation("direct"), steady("direct")
print(f"saturation, and latency at {half:.0f} req/s for every path (half the slowest path's saturation):")
print(f"{'path':<16}{'saturation rps':>16}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}{'added p50':>11}{'added p99':>11}")
for name in ["direct", "gateway", "gateway-bearer"]:
    rps, lat = saturation(name), steady(name)
    print(f"{name:<16}{rps:>16.0f}{rps / base_rps:>8.3f}{lat['p50']:>9.3f}{lat['p99']:>9.3f}"
          f"{lat['p50'] - base['p50']:>11.3f}{lat['p99'] - base['p99']:>11.3f}")
PY
echo
target/release/examples/token_bench 20000
