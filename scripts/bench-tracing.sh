#!/usr/bin/env bash
# What tracing costs a catalog read by id, in three modes, in one run:
#   off       no spans recorded (traces.keep_recent_spans = 0, no endpoint)
#   kept      spans kept in the process's buffer for /admin/traces (the default)
#   exported  spans exported over OTLP/HTTP to a receiver that accepts everything (buffer off)
# 1. Instructions per request under callgrind (repeatable whatever else the machine does): the
#    difference between a 2500- and a 500-request run over the difference in requests, so that
#    start-up cancels out.
# 2. `flotilla load`: saturation throughput, and p50/p99 at half the slowest mode's saturation,
#    with the catalog and the receiver on core 1 and the generator on core 0 (`taskset`).
# `flotilla serve catalog` on SQLite (one data directory, seeded once), loopback port 18092,
# receiver 18099. Every step is bounded in time.
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
modes=(off kept exported)

# The receiver: accepts every export and answers with an empty ExportTraceServiceResponse.
taskset -c 1 python3 - > "$out/receiver.log" 2>&1 <<'PY' & pids+=($!)
import http.server
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()
        with open("/dev/stdout", "a") as log:
            log.write("export\n")
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", 18099), Receiver).serve_forever()
PY

for _ in $(seq 1 100); do
  curl -s -o /dev/null -X POST http://127.0.0.1:18099/v1/traces && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$out/receiver.log" >&2; exit 1; }
  sleep 0.05
done
: > "$out/receiver.log"

start() { # mode command...
  local mode=$1
  shift
  local env=(FLOTILLA_DATA_DIR="$data" FLOTILLA_CONFIG_DIR="$data/config")
  case $mode in
    off) env+=(FLOTILLA_TRACES__KEEP_RECENT_SPANS=0) ;;
    kept) ;;
    exported) env+=(FLOTILLA_TRACES__KEEP_RECENT_SPANS=0 FLOTILLA_TRACES__OTLP_ENDPOINT=http://127.0.0.1:18099/v1/traces) ;;
  esac
  env "${env[@]}" "$@" serve catalog > "$out/catalog-$mode.log" 2>&1 &
  catalog=$!
  for _ in $(seq 1 1200); do
    curl -sf -o /dev/null http://127.0.0.1:18092/readyz && return
    kill -0 "$catalog" 2>/dev/null || { cat "$out/catalog-$mode.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "catalog not ready" >&2; exit 1
}
stop() { kill "$catalog"; wait "$catalog" || true; }

# The first start seeds the demo catalogue; every later one reads the same products.
start off "$bin"
path="/api/v1/catalog/products/$(curl -s 'http://127.0.0.1:18092/api/v1/catalog/products?limit=1' | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')"
stop

# 1. Instructions per request.
for mode in "${modes[@]}"; do
  for requests in 500 2500; do
    start "$mode" valgrind --tool=callgrind --callgrind-out-file="$out/callgrind-$mode-$requests.out" "$bin"
    "$bin" load --scenario get --target http://127.0.0.1:18092 --path "$path" --rate 250 \
      --duration "$((requests / 250))s" --report "$out/callgrind-$mode-$requests.json" > /dev/null
    stop
  done
done
python3 - "$out" <<'PY'
import json, re, sys
out = sys.argv[1]
def run(mode, requests):
    step = json.load(open(f"{out}/callgrind-{mode}-{requests}.json"))["steps"][0]
    assert not sum(step["errors"].values()), (mode, requests, step["errors"])
    text = open(f"{out}/callgrind-{mode}-{requests}.out").read()
    return step["ok"], int(re.search(r"^(?:summary|totals): (\d+)", text, re.M).group(1))
def per_request(mode):
    (few, i_few), (many, i_many) = run(mode, 500), run(mode, 2500)
    return (i_many - i_few) / (many - few)
per = {m: per_request(m) for m in ["off", "kept", "exported"]}
print("instructions per request (callgrind; the 2500-request run minus the 500-request run):")
print(f"{'mode':<10}{'instructions':>14}{'ratio':>8}{'added':>10}")
for mode, count in per.items():
    print(f"{mode:<10}{count:>14.0f}{count / per['off']:>8.3f}{count - per['off']:>10.0f}")
PY

# 2. Throughput and latency, pinned.
for mode in "${modes[@]}"; do
  start "$mode" taskset -c 1 "$bin"
  taskset -c 0 "$bin" load --scenario get --target http://127.0.0.1:18092 --path "$path" \
    --find-saturation --rate 500 --step-factor 1.5 --duration "$step" --max-steps 14 --max-p99 50ms \
    --report "$out/pinned-$mode.json" > "$out/pinned-$mode.txt"
  stop
done
half=$(python3 -c "import json; print(min(json.load(open('$out/pinned-' + m + '.json'))['saturation']['throughput_rps'] for m in ['off', 'kept', 'exported']) / 2)")
for mode in "${modes[@]}"; do
  start "$mode" taskset -c 1 "$bin"
  taskset -c 0 "$bin" load --scenario get --target http://127.0.0.1:18092 --path "$path" \
    --rate "$half" --duration "$step" --report "$out/pinned-$mode-steady.json" > "$out/pinned-$mode-steady.txt"
  stop
done
python3 - "$out" "$half" <<'PY'
import json, sys
out, half = sys.argv[1], float(sys.argv[2])
def saturation(mode):
    return json.load(open(f"{out}/pinned-{mode}.json"))["saturation"]["throughput_rps"]
def steady(mode):
    step = json.load(open(f"{out}/pinned-{mode}-steady.json"))["steps"][0]
    assert not sum(step["errors"].values()), (mode, step["errors"])
    return step["latency_ms"]
base = saturation("off")
print(f"pinned: saturation, and latency at {half:.0f} req/s (half the slowest mode's saturation)")
print(f"{'mode':<10}{'saturation rps':>16}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}")
for mode in ["off", "kept", "exported"]:
    rps, lat = saturation(mode), steady(mode)
    print(f"{mode:<10}{rps:>16.0f}{rps / base:>8.3f}{lat['p50']:>9.3f}{lat['p99']:>9.3f}")
PY
exports=$(grep -c export "$out/receiver.log" || true)
echo "exports the receiver took: $exports"
[ "$exports" -gt 0 ] || { echo "the exported mode exported nothing" >&2; exit 1; }
