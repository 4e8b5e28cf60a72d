#!/usr/bin/env bash
# Cuts a release: the product's version (the workspace's, which every crate inherits) becomes
# <version>, CHANGELOG.md gains its section (git-cliff, cliff.toml), and the commit
# "release: <version>" is tagged v<version>. Pushing the tag runs .github/workflows/release.yml,
# which builds the binaries and the image and publishes them with that section as the notes.
#
#   scripts/release.sh 0.2.0           # on a clean main
#   scripts/release.sh --self-test     # the whole path in a throwaway clone (CI runs this)
#
# The version is SemVer and greater than the current one (the first release may keep it). An
# API's contract version (info.version, ADR 0017) and a message's (its type's .vN) move on
# their own, not here.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/tools.sh
# renovate: datasource=pypi depName=git-cliff
pip_tool git-cliff 2.14.2 git-cliff

current() { sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml; }
semver='^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$'

if [ "${1:-}" = "--self-test" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  git clone -q . "$work/repo"
  mkdir -p "$work/repo/scripts/lib"
  cp scripts/release.sh "$work/repo/scripts/release.sh"
  cp scripts/lib/tools.sh "$work/repo/scripts/lib/tools.sh"
  cp cliff.toml "$work/repo/cliff.toml"
  (cd "$work/repo" && git add -A && git -c user.name=ci -c user.email=ci@localhost commit -qm "test: the release tooling as in the working tree" --allow-empty)
  from=$(cd "$work/repo" && current)
  next=$(echo "$from" | awk -F. '{print $1 "." $2 + 1 ".0"}')
  (cd "$work/repo" && GIT_AUTHOR_NAME=ci GIT_AUTHOR_EMAIL=ci@localhost GIT_COMMITTER_NAME=ci \
    GIT_COMMITTER_EMAIL=ci@localhost scripts/release.sh "$next" >/dev/null)
  repo="$work/repo"
  [ "$(cd "$repo" && current)" = "$next" ] || { echo "the workspace version did not become $next" >&2; exit 1; }
  grep -q "^## $next (" "$repo/CHANGELOG.md" || { echo "CHANGELOG.md has no section for $next" >&2; exit 1; }
  entries=$(sed -n "/^## $next (/,/^## /p" "$repo/CHANGELOG.md" | grep -c '^- ' || true)
  [ "$entries" -gt 0 ] || { echo "the $next section lists no change" >&2; exit 1; }
  [ "$(git -C "$repo" rev-parse "v$next^{commit}")" = "$(git -C "$repo" rev-parse HEAD)" ] ||
    { echo "v$next does not tag the release commit" >&2; exit 1; }
  if (cd "$repo" && scripts/release.sh "$from" >/dev/null 2>&1); then
    echo "a release to an older version was not refused" >&2
    exit 1
  fi
  echo "release path: $from -> $next, $entries changes in its CHANGELOG section, tag v$next on the release commit"
  exit 0
fi

version=${1:?usage: scripts/release.sh <version> | --self-test}
[[ $version =~ $semver ]] || { echo "not a SemVer version (MAJOR.MINOR.PATCH): $version" >&2; exit 1; }
from=$(current)
newest=$(printf '%s\n%s\n' "$from" "$version" | sort -V | tail -1)
# The first release may be the version the workspace has carried since the start.
first=$([ -z "$(git tag --list 'v[0-9]*')" ] && echo yes || true)
if [ "$newest" != "$version" ] || { [ "$version" = "$from" ] && [ -z "$first" ]; }; then
  echo "the version must grow: it is $from, and $version is not greater" >&2
  exit 1
fi
[ -z "$(git status --porcelain)" ] || { echo "the working tree has uncommitted changes" >&2; exit 1; }
! git rev-parse -q --verify "refs/tags/v$version" >/dev/null || { echo "v$version exists already" >&2; exit 1; }

sed -i "/^\[workspace.package\]/,/^\[/s/^version = \".*\"/version = \"$version\"/" Cargo.toml
# Cargo.lock records the members' versions too.
sed -i "/^name = \"flotilla/{n;s/^version = \"$from\"/version = \"$version\"/}" Cargo.lock
git-cliff --config cliff.toml --tag "v$version" --output CHANGELOG.md 2>/dev/null
git add Cargo.toml Cargo.lock CHANGELOG.md
git commit -qm "release: $version"
git tag -a "v$version" -m "Flotilla $version"
echo "released $version: push the commit and the tag (git push origin main v$version)"
