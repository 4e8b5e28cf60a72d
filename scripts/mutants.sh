#!/usr/bin/env bash
# Mutation testing (cargo-mutants): each mutant of a domain module's code must be caught by that
# crate's own unit tests. Figures and the surviving mutants go to docs/mutation.md.
#
#   scripts/mutants.sh                                   # every domain module (see below)
#   scripts/mutants.sh services/identity/src/domain/    # one module (a directory or a file)
#
# NOT run by CI: too slow. On a 2-core machine it costs one baseline build (about 90 s the first
# time) and then about 8 s to 10 s per mutant: services/inventory/src/domain/ (43 mutants) took
# 6.5 minutes, services/catalog/src/domain/ (105 mutants) 18 minutes; all paths, an hour or more. Results per path go to target/mutants/<path>/mutants.out/
# (caught.txt, missed.txt, timeout.txt, unviable.txt, outcomes.json, logs).
#
# Each path is mutated with only its own crate's library tests run (`--package <crate>`, `--lib`):
# the domain rules are IO-free, so their unit tests are what should catch a change to them.
set -euo pipefail
cd "$(dirname "$0")/.."

# renovate: datasource=crate depName=cargo-mutants
version=27.1.0
if [ "$(cargo mutants --version 2>/dev/null || true)" != "cargo-mutants $version" ]; then
  cargo install --locked "cargo-mutants@$version"
fi

if [ $# -eq 0 ]; then
  set -- services/*/src/domain/ crates/messaging/src/ crates/chassis/src/auth/
fi

# One target dir for every run, so that the dependencies are built once, not once per path.
export CARGO_TARGET_DIR="$PWD/target/mutants/build"

# The package that owns a path: the name in the nearest Cargo.toml above it.
crate_of() {
  local dir=$1
  [ -d "$dir" ] || dir=$(dirname "$dir")
  while [ ! -f "$dir/Cargo.toml" ]; do dir=$(dirname "$dir"); done
  sed -n 's/^name = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -n1
}

count() { if [ -f "$1" ]; then grep -c . "$1" || true; else echo 0; fi; }

summary=()
for path in "$@"; do
  path=${path%/}
  crate=$(crate_of "$path")
  if [ -d "$path" ]; then glob="$path/**/*.rs"; else glob=$path; fi
  out="target/mutants/${path//\//-}"
  mkdir -p "$out"
  echo "== $path ($crate)"
  start=$(date +%s)
  # Exit status 2 (missed mutants) and 3 (timeouts) are results, not failures of the script.
  status=0
  cargo mutants --package "$crate" --file "$glob" --jobs 1 \
    --timeout-multiplier 3 --minimum-test-timeout 20 --build-timeout 900 \
    --output "$out" -- --lib || status=$?
  case $status in 0 | 2 | 3) ;; *) echo "cargo mutants failed on $path (exit $status)" >&2; exit "$status" ;; esac
  seconds=$(($(date +%s) - start))
  dir="$out/mutants.out"
  caught=$(count "$dir/caught.txt")
  missed=$(count "$dir/missed.txt")
  timeout=$(count "$dir/timeout.txt")
  unviable=$(count "$dir/unviable.txt")
  tested=$((caught + missed + timeout + unviable))
  judged=$((caught + missed + timeout))
  share=$(awk -v c="$caught" -v j="$judged" 'BEGIN { if (j) printf "%.1f %%", 100 * c / j; else print "n/a" }')
  summary+=("$(printf '%-36s %6s %6s %6s %8s %8s %9s %6ss' "$path" "$tested" "$caught" "$missed" "$timeout" "$unviable" "$share" "$seconds")")
  if [ "$missed" -gt 0 ]; then
    echo "missed in $path:"
    sed 's/^/  /' "$dir/missed.txt"
  fi
done

echo
printf '%-36s %6s %6s %6s %8s %8s %9s %7s\n' path tested caught missed timeouts unviable caught% wall
printf '%s\n' "${summary[@]}"
