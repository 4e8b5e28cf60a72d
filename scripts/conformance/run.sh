#!/usr/bin/env bash
# API conformance, checked by the field's stock tools against what Flotilla publishes: the
# AsyncAPI CLI over the event document, Redocly's linter over every committed OpenAPI document
# (zero errors), Optic's breaking-change rules over each document's history (breaking.sh), then
# schemathesis with every check against each running service and through the
# gateway, with an administrator's token and, through the gateway, a customer's (zero
# failures), then the Python clients generated from
# the documents (clients.sh) checked for staleness and driven through the gateway
# (client_test.py). Allowances the schemas cannot express are in schemathesis.toml beside this
# script, each with its reason.
#
#   scripts/conformance/run.sh            # lint, then run everything embedded on ports 18080-18089
#   EXAMPLES=100 scripts/conformance/run.sh
#
# Needs target/debug/flotilla (scripts/test builds it) and provisions the tools itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=scripts/conformance
examples=${EXAMPLES:-25}
base=${PORT_BASE:-18080}
binary=${FLOTILLA_BINARY:-target/debug/flotilla}
. scripts/lib/tools.sh
# renovate: datasource=pypi depName=schemathesis
schemathesis_version=4.32.5
pip_tool schemathesis "$schemathesis_version" schemathesis
# renovate: datasource=npm depName=@redocly/cli
redocly=$(npm_tool @redocly/cli 2.77.0 redocly)
# renovate: datasource=npm depName=@asyncapi/cli
asyncapi=$(npm_tool @asyncapi/cli 6.2.0 asyncapi)

echo "== AsyncAPI CLI: docs/events/asyncapi.json"
# The CLI reports usage to a metrics service unless its settings file says not to.
metrics=$(mktemp)
echo '{"analyticsEnabled": "false", "infoMessageShown": "true", "userID": "flotilla-ci"}' >"$metrics"
if ASYNCAPI_METRICS_CONFIG_PATH="$metrics" SUPPRESS_NO_CONFIG_WARNING=1 "$asyncapi" validate \
  docs/events/asyncapi.json --fail-severity warn >"$metrics.out" 2>&1; then
  asyncapi_errors=0
  echo "  valid, no error or warning"
else
  asyncapi_errors=1
  cat "$metrics.out" >&2
fi
rm -f "$metrics" "$metrics.out"

echo "== Redocly lint (recommended rules): errors per document"
lint_errors=0
for document in docs/api/*.openapi.json; do
  summary=$("$redocly" lint "$document" --format=summary 2>&1 || true)
  errors=$(printf '%s\n' "$summary" | awk '$1 == "error" {sum += $NF} END {print sum + 0}')
  warnings=$(printf '%s\n' "$summary" | awk '$1 == "warning" {sum += $NF} END {print sum + 0}')
  printf '  %-40s %s errors, %s warnings\n' "$document" "$errors" "$warnings"
  if [ "$errors" -gt 0 ]; then printf '%s\n' "$summary" | grep -E '^error' >&2; fi
  lint_errors=$((lint_errors + errors))
done

echo "== breaking changes (Optic): the check itself, then every document against its published line"
breaking=0
"$here/breaking_test.sh" || breaking=1
"$here/breaking.sh" || breaking=1

[ -x "$binary" ] || cargo build --locked --bin flotilla
work=$(mktemp -d)
services=$("$binary" version | awk 'NR > 1 && NF == 0 {exit} NR > 1 {print $1}')
declare -A default_port=([gateway]=8080 [identity]=8081 [catalog]=8082 [basket]=8083 [ordering]=8084
  [inventory]=8085 [payments]=8086 [shipping]=8087 [notifications]=8088 [payment-provider]=8089)
declare -A port
for service in $services; do
  port[$service]=$((base + ${default_port[$service]:?"no port known for $service"} - 8080))
  variable="FLOTILLA_SERVICES__$(echo "$service" | tr 'a-z-' 'A-Z_')__PORT"
  export "$variable=${port[$service]}"
done
password="conformance $(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
FLOTILLA_DATA_DIR="$work" FLOTILLA_LOG__LEVEL=warn \
  FLOTILLA_SERVICES__IDENTITY__ADMIN__EMAIL=conformance@flotilla.test \
  FLOTILLA_SERVICES__IDENTITY__ADMIN__PASSWORD="$password" \
  "$binary" run >"$work/flotilla.log" 2>&1 &
flotilla=$!
trap 'kill "$flotilla" 2>/dev/null || true; wait "$flotilla" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:${port[gateway]}/readyz" >/dev/null && break
  kill -0 "$flotilla" 2>/dev/null || { cat "$work/flotilla.log" >&2; exit 1; }
  sleep 0.2
done
token=$(FLOTILLA_PASSWORD="$password" "$binary" token --email conformance@flotilla.test)
# A customer too: through the gateway, what an administrator may do a customer is refused, and
# the documents must say so.
customer_password="customer $(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
curl -sf -o /dev/null -X POST "http://127.0.0.1:${port[gateway]}/api/v1/identity/users" \
  -H 'content-type: application/json' \
  -d "{\"email\": \"customer@flotilla.test\", \"password\": \"$customer_password\"}"
customer_token=$(FLOTILLA_PASSWORD="$customer_password" "$binary" token --email customer@flotilla.test)

# Before schemathesis, whose registrations use up identity's per-address allowance.
echo "== generated clients (openapi-python-client): current, and working through the gateway"
clients=0
scripts/conformance/clients.sh check || clients=1
PYTHONPATH=clients/python python3 "$here/client_test.py" "http://127.0.0.1:${port[gateway]}" "$token" || clients=1

echo "== schemathesis $schemathesis_version, --checks all, $examples examples per operation: failures"
failures=0
for service in $services gateway-combined gateway-as-customer; do
  target=$service
  bearer=$token
  case $service in
    gateway) continue ;;
    gateway-combined) target=gateway ;;
    gateway-as-customer) target=gateway bearer=$customer_token ;;
  esac
  out="$work/$service.out"
  extra=()
  # Registering a taken email answers as a new one, with an id that names no account (ADR 0014):
  # that the "created" user cannot be read is the point, in every phase.
  case $service in identity | gateway-*) extra=(--exclude-checks ensure_resource_availability,use_after_free) ;; esac
  # Run from the work directory: schemathesis keeps its state in ./.schemathesis.
  (cd "$work" && schemathesis --config-file "$root/$here/schemathesis.toml" run \
    "http://127.0.0.1:${port[$target]}/openapi.json" --checks all --max-examples "$examples" \
    -H "Authorization: Bearer $bearer" --no-color "${extra[@]}" >"$out" 2>&1) || true
  found=$(grep -oE '[0-9]+ failures?' "$out" | tail -1 | awk '{print $1}' || true)
  errored=$(grep -cE '^=+ .*errors?' "$out" || true)
  printf '  %-18s %s failures%s\n' "$service" "${found:-0}" "$([ "$errored" -gt 0 ] && echo ', and errors')"
  if [ "${found:-0}" -gt 0 ] || [ "$errored" -gt 0 ]; then sed -n '/^=* FAILURES/,$p' "$out" >&2; fi
  failures=$((failures + ${found:-0} + errored))
done

echo "AsyncAPI errors: $asyncapi_errors; Redocly errors: $lint_errors; breaking-change failures: $breaking;" \
  "schemathesis failures: $failures; client failures: $clients"
[ "$asyncapi_errors" -eq 0 ] && [ "$lint_errors" -eq 0 ] && [ "$breaking" -eq 0 ] && [ "$failures" -eq 0 ] &&
  [ "$clients" -eq 0 ]
