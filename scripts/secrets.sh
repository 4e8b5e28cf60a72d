#!/usr/bin/env bash
# Per-environment secrets, encrypted with age, decrypted only at deploy time into Kubernetes
# Secrets (deploy/secrets/README.md has the layout and each secret's rotation).
#
#   scripts/secrets.sh init <env>                  # a key pair for <env>; the public half joins
#                                                   #   deploy/secrets/<env>/recipients.txt
#   scripts/secrets.sh set <env> <secret> <key>    # the value from standard input, re-encrypted
#   scripts/secrets.sh keys <env>                  # which keys each secret holds (no values)
#   scripts/secrets.sh missing <env>               # what the overlay references and no file holds
#   scripts/secrets.sh render <env>                # Secret manifests on stdout, for kubectl apply
#   scripts/secrets.sh --self-test                 # the whole path with a throwaway key (CI)
#
# Decryption reads the identity in FLOTILLA_AGE_KEY (a file; default
# ~/.config/flotilla/age/<env>.key). Plaintext exists only in memory and in pipes: `set` reads
# the old file into a shell variable and writes the new one through age, never through a file.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${FLOTILLA_SECRETS_DIR:-deploy/secrets}
overlays=${FLOTILLA_OVERLAYS_DIR:-deploy/k8s/overlays}
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
if ! command -v age >/dev/null 2>&1; then
  echo "provisioning age (Debian package age)" >&2
  apt_install() { as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends age >/dev/null; }
  # A machine that never fetched the package lists has none to install from.
  apt_install 2>/dev/null || { as_root apt-get update -qq && apt_install; }
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "provisioning PyYAML (PyPI)" >&2
  # renovate: datasource=pypi depName=PyYAML
  python3 -m pip install --quiet --disable-pip-version-check "PyYAML==6.0.3"
fi
fail() { echo "secrets: $*" >&2; exit 1; }
env_of() { case ${1:-} in dev | staging | prod) echo "$1" ;; *) fail "the environment is dev, staging or prod, not '${1:-}'" ;; esac; }
identity() { echo "${FLOTILLA_AGE_KEY:-$HOME/.config/flotilla/age/$1.key}"; }
file_of() { echo "$root/$1/$2.env.age"; }
decrypt() { # env secret -> KEY=value lines on stdout
  local file; file=$(file_of "$1" "$2")
  [ -f "$file" ] || return 0
  age --decrypt --identity "$(identity "$1")" "$file"
}

# What an overlay's objects need: "<secret> <key>" per line ("<secret> *" where any key will do).
referenced() {
  kubectl kustomize "$overlays/$1" | python3 -c '
import sys, yaml
found = set()
def walk(node):
    if isinstance(node, dict):
        ref = node.get("secretKeyRef")
        if isinstance(ref, dict) and not ref.get("optional"):
            found.add((ref["name"], ref["key"]))
        for field in ("secretRef", "passwordSecret"):
            ref = node.get(field)
            if isinstance(ref, dict) and "name" in ref and not ref.get("optional"):
                found.add((ref["name"], "*"))
        if isinstance(node.get("secretName"), str):
            found.add((node["secretName"], "*"))
        for value in node.values():
            walk(value)
    elif isinstance(node, list):
        for value in node:
            walk(value)
produced = set()
for document in yaml.safe_load_all(sys.stdin):
    if not document:
        continue
    if document.get("kind") == "Secret":
        produced.add(document["metadata"]["name"])
    walk(document)
for name, key in sorted(found):
    if name not in produced:
        print(name, key)
'
}

command=${1:-}
case $command in
  init)
    env=$(env_of "${2:-}")
    key=$(identity "$env")
    [ ! -e "$key" ] || fail "$key exists; a second key for $env would strand what the first can read"
    mkdir -p "$(dirname "$key")" "$root/$env"
    (umask 077 && age-keygen -o "$key" 2>/dev/null)
    age-keygen -y "$key" >>"$root/$env/recipients.txt"
    echo "key for $env in $key; its public half added to $root/$env/recipients.txt"
    echo "re-encrypt every secret of $env for the new recipient list: scripts/secrets.sh set, once per key"
    ;;
  set)
    env=$(env_of "${2:-}")
    secret=${3:?usage: scripts/secrets.sh set <env> <secret> <key> (value on stdin)}
    name=${4:?usage: scripts/secrets.sh set <env> <secret> <key> (value on stdin)}
    [[ $secret =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || fail "not a Secret name: $secret"
    [[ $name =~ ^[-._a-zA-Z0-9]+$ ]] || fail "not a Secret key: $name"
    [ -s "$root/$env/recipients.txt" ] || fail "no $root/$env/recipients.txt: run scripts/secrets.sh init $env"
    IFS= read -r value || [ -n "$value" ] || fail "no value on standard input"
    case $value in *$'\n'* | "") fail "a value is one non-empty line" ;; esac
    old=$(decrypt "$env" "$secret")
    new=$(printf '%s\n' "$old" | grep -v -e "^$name=" -e '^$' || true)
    file=$(file_of "$env" "$secret")
    printf '%s\n%s=%s\n' "$new" "$name" "$value" | sed '/^$/d' |
      age --encrypt --armor --recipients-file "$root/$env/recipients.txt" --output "$file.new"
    mv "$file.new" "$file"
    echo "$secret/$name set for $env ($file)"
    ;;
  keys)
    env=$(env_of "${2:-}")
    for file in "$root/$env"/*.env.age; do
      [ -e "$file" ] || continue
      secret=$(basename "$file" .env.age)
      names=$(decrypt "$env" "$secret" | cut -d= -f1 | tr '\n' ' ')
      printf '%s: %s\n' "$secret" "$names"
    done
    ;;
  missing)
    env=$(env_of "${2:-}")
    status=0
    while read -r secret key; do
      keys=$(decrypt "$env" "$secret" | cut -d= -f1)
      if [ "$key" = "*" ]; then [ -n "$keys" ] && continue; else grep -qx "$key" <<<"$keys" && continue; fi
      echo "$secret $key"
      status=1
    done < <(referenced "$env")
    exit $status
    ;;
  render)
    env=$(env_of "${2:-}")
    for file in "$root/$env"/*.env.age; do
      [ -e "$file" ] || continue
      secret=$(basename "$file" .env.age)
      echo "---"
      decrypt "$env" "$secret" | kubectl create secret generic "$secret" --type=Opaque --from-env-file=/dev/stdin \
        --dry-run=client -o yaml | grep -v '^  creationTimestamp: null$'
    done
    ;;
  --self-test)
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    export FLOTILLA_SECRETS_DIR=$work/secrets FLOTILLA_AGE_KEY=$work/key
    self=scripts/secrets.sh
    "$self" init staging >/dev/null
    if "$self" missing staging >"$work/needed"; then fail "an empty store satisfied the staging overlay"; fi
    count=$(wc -l <"$work/needed")
    while read -r secret key; do
      [ "$key" = "*" ] && key=password
      head -c 18 /dev/urandom | base64 | "$self" set staging "$secret" "$key" >/dev/null
    done <"$work/needed"
    "$self" missing staging >/dev/null || fail "secrets were set and the overlay still misses: $("$self" missing staging)"
    # Rotation: a new value replaces the old one and keeps the other keys.
    first=$(head -1 "$work/needed")
    secret=${first% *}
    echo rotated-value | "$self" set staging "$secret" extra >/dev/null
    echo rotated-again | "$self" set staging "$secret" extra >/dev/null
    "$self" render staging >"$work/rendered.yaml"
    python3 - "$work/rendered.yaml" "$secret" <<'PY' || exit 1
import base64, sys, yaml
secrets = {d["metadata"]["name"]: d for d in yaml.safe_load_all(open(sys.argv[1])) if d}
data = {k: base64.b64decode(v).decode() for k, v in secrets[sys.argv[2]]["data"].items()}
assert data["extra"] == "rotated-again", data
assert all(d["kind"] == "Secret" and d["type"] == "Opaque" for d in secrets.values())
PY
    if grep -rq rotated-again "$work/secrets"; then fail "a value reached the encrypted store in plaintext"; fi
    if FLOTILLA_AGE_KEY=/dev/null "$self" keys staging >/dev/null 2>&1; then fail "the store decrypted without its key"; fi
    echo "secrets: the staging overlay needs $count secret keys; all set, rotated, rendered as Secrets, none in plaintext at rest"
    ;;
  *)
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
