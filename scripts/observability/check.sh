#!/usr/bin/env bash
# Checks the alert rules (deploy/alerts/), their unit tests, the runbooks (docs/runbooks/) and the
# Grafana dashboards (deploy/dashboards/), with the field's own tools:
#   - promtool check rules over every rule file, promtool test rules over deploy/alerts/tests/,
#     promtool check config over the example Prometheus configuration;
#   - the dashboards equal what scripts/observability/dashboards.py generates;
#   - check.mjs: every alert has a severity, summary, description and a runbook_url naming its
#     runbook; every runbook belongs to an alert, has Symptom, Impact, Diagnose, Fix and Verify,
#     and names only flotilla commands and tables that exist; every rule fires in a unit test
#     and every alert is seen not firing; every dashboard uses the ${datasource} variable, passes
#     Grafana's dashboard schema (@grafana/schema's types, through the TypeScript compiler) and
#     its queries, variables substituted, parse in promtool; every series a rule or panel
#     queries is in series.tsv with those labels and is a string literal in the Rust sources.
#
#   scripts/observability/check.sh
#
# Provisions what it needs, idempotently and quickly when present: promtool (Debian package
# prometheus) and pinned npm packages cached under ~/.cache/flotilla/tools.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=scripts/observability
[ $# -eq 0 ] || { echo "usage: $0 (no arguments)" >&2; exit 2; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v promtool >/dev/null 2>&1; then
  echo "provisioning promtool (Debian package prometheus)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
# npm tools live outside the checkout, so that a fresh clone does not fetch them again; one
# folder per set of versions.
packages=(yaml@2.9.1 @prometheus-io/lezer-promql@0.315.0 @lezer/lr@1.4.12 @lezer/highlight@1.2.5
  typescript@5.9.3 @grafana/schema@13.2.3)
tools=${FLOTILLA_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/flotilla/tools}
prefix="$tools/observability-$(printf '%s\n' "${packages[@]}" | sha256sum | cut -c1-12)"
if [ ! -f "$prefix/.installed" ]; then
  echo "provisioning ${packages[*]} (npm)" >&2
  mkdir -p "$prefix"
  npm install --silent --no-audit --no-fund --prefix "$prefix" "${packages[@]}" >/dev/null
  touch "$prefix/.installed"
fi

failed=()
passed=0
run() { # title command...: runs it, shows its output, and records a failure without stopping
  local title=$1
  shift
  echo "== $title"
  if "$@" 2>&1 | sed 's/^/  /'; then passed=$((passed + 1)); else failed+=("$title"); fi
}
# promtool prints a line per file and blank lines; keep what says something.
quiet() { "$@" 2>&1 | grep -vE '^\s*$'; return "${PIPESTATUS[0]}"; }

echo "promtool: $(promtool --version 2>&1 | head -1)"
run "promtool check rules" quiet promtool check rules deploy/alerts/*.rules.yml
run "promtool test rules (deploy/alerts/tests)" quiet promtool test rules deploy/alerts/tests/*.test.yml
run "promtool check config (deploy/alerts/prometheus.example.yml, with the rules)" \
  quiet promtool check config deploy/alerts/prometheus.example.yml
run "dashboards equal what dashboards.py generates" python3 "$here/dashboards.py" --check
echo "== check.mjs"
if node "$here/check.mjs" "$root" "$prefix"; then passed=$((passed + 1)); else failed+=("check.mjs"); fi

echo
echo "observability: $passed passed, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'observability checks FAILED: %s\n' "$(IFS=';'; echo "${failed[*]}")" >&2
  exit 1
fi
