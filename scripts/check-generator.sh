#!/usr/bin/env bash
# The generator's test: `flotilla new service` on a copy of this workspace, then the new crate
# builds, passes clippy with warnings denied, is formatted, and passes its own tests untouched
# (after UPDATE_CONTRACTS=1 writes its OpenAPI and event documents, as its instructions say), and
# the gateway routes it. The copy shares this workspace's target directory, so dependencies are
# not built again. Run by scripts/test; needs what scripts/test provisions.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "==> generator check"
root=$PWD
copy=$(mktemp -d)
trap 'rm -rf "$copy"' EXIT
# The files of the work tree as git sees them (committed or not), without build output.
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' file; do
  [ -e "$file" ] && { mkdir -p "$copy/$(dirname "$file")"; cp -p "$file" "$copy/$file"; }
done
export CARGO_TARGET_DIR="$root/target"
cargo build --locked -q -p flotilla --bin flotilla
"$root/target/debug/flotilla" new service notebook --port 8090 --workspace "$copy"
cd "$copy"
UPDATE_CONTRACTS=1 cargo test -q -p flotilla-contracts -p flotilla-notebook
cargo test -p flotilla-contracts -p flotilla-notebook
cargo clippy -q -p flotilla-notebook --all-targets -- -D warnings
cargo fmt --all --check
cargo test -q -p flotilla --bin flotilla registry
echo "generator check: a generated service builds, passes clippy and its tests, and is routed"
