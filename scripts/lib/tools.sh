# Sourced by the scripts that need a pinned tool: each is installed once, idempotently, and is
# quick to check when present.
#
# `pip_tool <package> <version> <command>` installs a PyPI package unless `<command> --version`
# already reports that version.
pip_tool() {
  if ! "$3" --version 2>/dev/null | grep -qF "$2"; then
    echo "provisioning $1 $2 (PyPI)" >&2
    python3 -m pip install --quiet --disable-pip-version-check "$1==$2"
  fi
}

# `npm_tool <package> <version> <binary> [overrides]` installs
# an npm tool once, outside the checkout (a fresh clone does not fetch it again), and prints the
# path of its binary. `overrides` is a JSON object of npm overrides, for a tool whose own
# dependency ranges resolve to versions that do not work together.
npm_tool() {
  local tools=${FLOTILLA_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/flotilla/tools}
  local prefix="$tools/$1@$2" overrides=${4:-}
  if [ ! -x "$prefix/node_modules/.bin/$3" ]; then
    echo "provisioning $1 $2 (npm)" >&2
    mkdir -p "$prefix"
    if [ -n "$overrides" ]; then
      printf '{"private": true, "dependencies": {"%s": "%s"}, "overrides": %s}\n' "$1" "$2" "$overrides" \
        >"$prefix/package.json"
      npm install --silent --no-audit --no-fund --prefix "$prefix" >/dev/null
    else
      npm install --silent --no-audit --no-fund --prefix "$prefix" "$1@$2" >/dev/null
    fi
  fi
  echo "$prefix/node_modules/.bin/$3"
}
