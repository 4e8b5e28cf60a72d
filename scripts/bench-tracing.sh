#!/usr/bin/env bash
# What tracing costs a catalog read, measured in one run with `flotilla load`: saturation
# throughput, and p50/p99 at equal load (half the slowest mode's saturation), for
#   off       no spans recorded (traces.keep_recent_spans = 0, no endpoint)
#   kept      spans kept in the process's buffer for /admin/traces (the default)
#   exported  spans exported over OTLP/HTTP to a receiver that accepts everything (buffer off)
# `flotilla serve catalog` on SQLite, loopback port 18092 (receiver 18099); unpinned, then with the
# catalog and the receiver on core 1 and the generator on core 0 (`taskset`). Bounded in time.
set -euo pipefail
cd "$(dirname "$0")/.."
step=${STEP:-4s}
out=${OUT:-target/bench/tracing}
mkdir -p "$out"
cargo build --release --locked -q -p flotilla --bin flotilla
bin=target/release/flotilla
data=$(mktemp -d)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$data"; }
trap cleanup EXIT
mkdir -p "$data/config"
printf '[log]\nlevel = "warn"\n[services.catalog]\nport = 18092\n' > "$data/config/dev.toml"

# The receiver: accepts every export and answers with an empty ExportTraceServiceResponse.
python3 - > "$out/receiver.log" 2>&1 <<'PY' & pids+=($!)
import http.server
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", 18099), Receiver).serve_forever()
PY
receiver=${pids[0]}

serve() { # mode server-cpus
  local env=(FLOTILLA_DATA_DIR="$data/$1" FLOTILLA_CONFIG_DIR="$data/config")
  case $1 in
    off) env+=(FLOTILLA_TRACES__KEEP_RECENT_SPANS=0) ;;
    kept) ;;
    exported) env+=(FLOTILLA_TRACES__KEEP_RECENT_SPANS=0 FLOTILLA_TRACES__OTLP_ENDPOINT=http://127.0.0.1:18099/v1/traces) ;;
  esac
  env "${env[@]}" taskset -c "$2" "$bin" serve catalog > "$out/catalog-$1.log" 2>&1 &
  catalog=$!
  for _ in $(seq 1 600); do
    curl -sf -o /dev/null http://127.0.0.1:18092/readyz && return
    kill -0 "$catalog" 2>/dev/null || { cat "$out/catalog-$1.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "catalog not ready" >&2; exit 1
}
stop() { kill "$catalog"; wait "$catalog" || true; }

run() { # label server-cpus generator-cpus
  local label=$1
  taskset -pc "$2" "$receiver" > /dev/null
  for mode in off kept exported; do
    serve "$mode" "$2"
    id=$(curl -s 'http://127.0.0.1:18092/api/v1/catalog/products?limit=1' | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
    echo "$id" > "$out/id"
    taskset -c "$3" "$bin" load --scenario get --target http://127.0.0.1:18092 --path "/api/v1/catalog/products/$id" \
      --find-saturation --rate 500 --step-factor 1.5 --duration "$step" --max-steps 14 --max-p99 50ms \
      --report "$out/$label-$mode.json" > "$out/$label-$mode.txt"
    stop
  done
  half=$(python3 -c "import json; print(min(json.load(open('$out/$label-' + m + '.json'))['saturation']['throughput_rps'] for m in ['off', 'kept', 'exported']) / 2)")
  for mode in off kept exported; do
    serve "$mode" "$2"
    taskset -c "$3" "$bin" load --scenario get --target http://127.0.0.1:18092 --path "/api/v1/catalog/products/$(cat "$out/id")" \
      --rate "$half" --duration "$step" --report "$out/$label-$mode-steady.json" > "$out/$label-$mode-steady.txt"
    stop
  done
  python3 - "$out" "$label" "$half" <<'PY'
import json, sys
out, label, half = sys.argv[1], sys.argv[2], float(sys.argv[3])
def saturation(mode):
    return json.load(open(f"{out}/{label}-{mode}.json"))["saturation"]["throughput_rps"]
def steady(mode):
    return json.load(open(f"{out}/{label}-{mode}-steady.json"))["steps"][0]["latency_ms"]
base = saturation("off")
print(f"{label}: saturation, and latency at {half:.0f} req/s (half the slowest mode's saturation)")
print(f"{'mode':<10}{'saturation rps':>16}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}")
for mode in ["off", "kept", "exported"]:
    lat = saturation(mode), steady(mode)
    print(f"{mode:<10}{lat[0]:>16.0f}{lat[0] / base:>8.3f}{lat[1]['p50']:>9.3f}{lat[1]['p99']:>9.3f}")
PY
}

run unpinned 0,1 0,1
run pinned 1 0
