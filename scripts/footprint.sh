#!/usr/bin/env bash
# Resident memory of an idle Flotilla: `flotilla serve catalog` on a fresh data directory (it loads
# the demo catalogue, as a first start in dev does), the same service restarted on that data, and
# the whole embedded system (`flotilla run`). Each figure is the median of RUNS starts, read from
# /proc/<pid>/status two seconds after /readyz answers. Release build; loopback only; every
# process is stopped by its pid. Prints a table and writes $OUT/footprint.json.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
out=${OUT:-target/bench}
mkdir -p "$out"
cargo build --release --locked -q -p flotilla --bin flotilla
bin=$PWD/target/release/flotilla
config=$PWD/config
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# measure <data dir> <readiness url> <flotilla arguments...>: prints "rss_kib ready_ms"
measure() {
  local data=$1 url=$2; shift 2
  local started=$(date +%s%N)
  FLOTILLA_DATA_DIR="$data" FLOTILLA_CONFIG_DIR="$config" FLOTILLA_LOG__LEVEL=warn "$bin" "$@" > "$work/log" 2>&1 &
  pid=$!
  local deadline=$((SECONDS + 20))
  until curl -sf -o /dev/null "$url"; do
    [ $SECONDS -lt $deadline ] || { echo "not ready within 20 s:" >&2; cat "$work/log" >&2; exit 1; }
    sleep 0.005
  done
  local ready_ms=$(( ($(date +%s%N) - started) / 1000000 ))
  sleep 2
  local rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  echo "$rss $ready_ms"
}

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

declare -A rss ready
for case in first restart system; do
  samples=()
  for _ in $(seq "$runs"); do
    case $case in
      first) rm -rf "$work/data"; samples+=("$(measure "$work/data" http://127.0.0.1:8082/readyz serve catalog)") ;;
      restart) samples+=("$(measure "$work/data" http://127.0.0.1:8082/readyz serve catalog)") ;;
      system) rm -rf "$work/all"; samples+=("$(measure "$work/all" http://127.0.0.1:8080/readyz run)") ;;
    esac
  done
  rss[$case]=$(printf '%s\n' "${samples[@]}" | awk '{print $1}' | median)
  ready[$case]=$(printf '%s\n' "${samples[@]}" | awk '{print $2}' | median)
done

python3 - "$out/footprint.json" "$runs" "${rss[first]}" "${ready[first]}" "${rss[restart]}" "${ready[restart]}" "${rss[system]}" "${ready[system]}" <<'PY'
import json, sys
path, runs, *values = sys.argv[1:]
values = list(map(int, values))
rows = {"serve catalog, first start (seeds the demo)": values[0:2],
        "serve catalog, restart": values[2:4],
        "run (every service, embedded)": values[4:6]}
print(f"median of {runs} starts, idle 2 s after ready")
print(f"{'process':<46} {'RSS MiB':>8} {'ready ms':>9}")
for name, (rss, ready) in rows.items():
    print(f"{name:<46} {rss / 1024:>8.1f} {ready:>9}")
json.dump({name: {"rss_kib": rss, "ready_ms": ready} for name, (rss, ready) in rows.items()},
          open(path, "w"), indent=2)
PY
