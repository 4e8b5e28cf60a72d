#!/usr/bin/env bash
# The breaking-change check judged on a repository of its own: a published document (the
# catalog's), then a compatible change that must pass, a breaking one that must fail, and the
# same breaking change under a new major version that must pass.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(mktemp -d)
trap 'rm -rf "$repo"' EXIT
mkdir -p "$repo/docs/api"
git -C "$repo" init -q
commit() { git -C "$repo" add -A && git -C "$repo" -c user.name=test -c user.email=test@localhost commit -qm "$1"; }
# edit <python statement on d, the document>
edit() {
  python3 - "$repo/docs/api/catalog.openapi.json" "$1" <<'PY'
import json, sys
path, statement = sys.argv[1], sys.argv[2]
d = json.load(open(path))
exec(statement)
json.dump(d, open(path, "w"), indent=2)
PY
}
expect() { # pass|fail <what>
  if "$here/breaking.sh" "$repo" >"$repo/out" 2>&1; then outcome=pass; else outcome=fail; fi
  if [ "$outcome" != "$1" ]; then
    echo "breaking.sh should $1 on $2, and did not:" >&2
    cat "$repo/out" >&2
    exit 1
  fi
  echo "  $1 as it should: $2"
}

cp "$here/../../docs/api/catalog.openapi.json" "$repo/docs/api/"
edit 'd["info"]["version"] = "1.0.0"'
commit "publish 1.0.0"
expect pass "the document as published"

edit 'd["components"]["schemas"]["ProductResponse"]["properties"]["colour"] = {"type": "string", "description": "Its colour."}'
edit 'd["info"]["version"] = "1.1.0"'
commit "a new response field"
expect pass "a new response field"

edit 'd["components"]["schemas"]["ProductResponse"]["properties"].pop("name"); d["components"]["schemas"]["ProductResponse"]["required"].remove("name")'
expect fail "a response field removed, uncommitted"
commit "a response field removed"
expect fail "a response field removed, committed under 1.1.0"

edit 'd["info"]["version"] = "1.2.0"'
expect fail "a response field removed under a new minor version"

edit 'd["info"]["version"] = "2.0.0"'
expect pass "a response field removed under a new major version"
commit "2.0.0"
expect pass "2.0.0 as published"
