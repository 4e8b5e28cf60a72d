#!/usr/bin/env bash
# A breaking change to a published API fails unless the API's version says so. Each
# docs/api/*.openapi.json is compared, by Optic's breaking-change rules (a stock OpenAPI diff that
# reads 3.1), with the document as it was first committed on its current compatibility line:
# the same major version of `info.version`, or the same minor before 1.0 (SemVer). Within a
# line only compatible changes pass; a new major version starts a new line.
#
#   scripts/conformance/breaking.sh [repository]      # default: this checkout, as it is on disk
#
# Prints one line per document and exits non-zero when any change is breaking.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "${1:-$here/../..}" && pwd)
. "$here/../lib/tools.sh"
# Optic's own ranges pull two versions of ajv that cannot compile each other's schemas.
# renovate: datasource=npm depName=@useoptic/optic
optic=$(npm_tool @useoptic/optic 1.0.9 optic '{"ajv": "8.17.1"}')
# No usage reports, no error reports, no update check: the network is not ours to use.
export OPTIC_TELEMETRY_LEVEL=off NO_UPDATE_NOTIFIER=1

version_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["info"]["version"])'; }
# The part of a SemVer version that must change for a breaking change: 2.3.1 -> 2, 0.4.1 -> 0.4.
line_of() { awk -F. '{ print ($1 == "0") ? $1 "." $2 : $1 }'; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
breaking=0
cd "$repo"
for document in docs/api/*.openapi.json; do
  current=$(version_of <"$document")
  line=$(printf '%s\n' "$current" | line_of)
  # Newest first; the baseline is the oldest commit of the unbroken run on the same line.
  baseline=
  for commit in $(git log --format=%H -- "$document"); do
    git show "$commit:$document" >"$work/candidate.json" 2>/dev/null || break
    [ "$(version_of <"$work/candidate.json" | line_of)" = "$line" ] || break
    baseline=$commit
    cp "$work/candidate.json" "$work/baseline.json"
  done
  if [ -z "$baseline" ]; then
    printf '  %-40s %s: first published on this line, nothing to compare\n' "$document" "$current"
    continue
  fi
  if (cd "$work" && "$optic" diff baseline.json "$repo/$document" --check >"$work/diff.out" 2>&1); then
    printf '  %-40s %s: compatible with %s\n' "$document" "$current" "$(git rev-parse --short "$baseline")"
  else
    printf '  %-40s %s: BREAKING against %s; undo it, or give info.version a new major version (minor before 1.0)\n' \
      "$document" "$current" "$(git rev-parse --short "$baseline")"
    # Each rule that failed once, not once per operation it failed on.
    { grep -E '^\s+x ' "$work/diff.out" || tail -5 "$work/diff.out"; } | sed 's/^\s*/      /' | sort | uniq -c | head -20 >&2
    breaking=$((breaking + 1))
  fi
done
echo "breaking documents: $breaking"
[ "$breaking" -eq 0 ]
