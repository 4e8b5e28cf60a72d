#!/usr/bin/env bash
# Builds the one Flotilla image (deploy/image/Containerfile) around a flotilla binary, then proves
# it without starting a container: exports the image's filesystem from the built image (an OCI
# archive, as a registry would receive it), runs `flotilla version` in it by chroot as uid 65532,
# checks its contents (no shell, everything root's but the data dir, the config, the labels), and
# runs `flotilla migrate catalog` and `flotilla serve catalog` on that root mounted read-only,
# with only the data dir and a tmpfs on /tmp writable (deploy/image/README.md says more).
#
#   scripts/image.sh [BINARY] [TAG]
#
# BINARY (or FLOTILLA_IMAGE_BINARY) is the binary to package, target/release/flotilla by default
# (what a release ships). CI passes target/debug/flotilla, which the tests have already built, to
# save a release build (about 7 minutes on a 2-core machine); the image is the same but for the
# binary's size and speed. TAG (or FLOTILLA_IMAGE_TAG) defaults to localhost/flotilla:<version>,
# the version being what the binary itself reports. Other settings, all optional:
#   FLOTILLA_IMAGE_TOOL      buildah or podman (default: buildah if present, else podman, else
#                            buildah installed from the distribution's packages)
#   FLOTILLA_IMAGE_REVISION  org.opencontainers.image.revision (default: git rev-parse HEAD)
#   FLOTILLA_IMAGE_SOURCE    org.opencontainers.image.source (default: Cargo.toml's repository)
#   SOURCE_DATE_EPOCH        the image's and the `created` label's time (default: now)
#   STORAGE_DRIVER           containers/storage's driver (default: the tool's, overlay as root)
# Needs root (chroot, mount namespaces; the workflow runs it with sudo) and a binary for this
# machine's architecture (ldd must be able to read it). It leaves nothing behind but the image:
# the temporary context and export are removed, no working container is kept, and an older image
# that carried the same tag is removed once untagged. Quick when run again: seconds.
set -euo pipefail
given=${1:-${FLOTILLA_IMAGE_BINARY:-}}
case $given in "" | /*) ;; *) given=$PWD/$given ;; esac # relative to where it was said
cd "$(dirname "$0")/.."
umask 022
started=$SECONDS
step() { printf '\n==> image: %s (%ds)\n' "$*" $((SECONDS - started)); }
fail() { echo "image: $*" >&2; exit 1; }

binary=${given:-target/release/flotilla}
tag=${2:-${FLOTILLA_IMAGE_TAG:-}}
uid=65532
gid=65532
config_dir=/etc/flotilla
data_dir=/var/lib/flotilla

[ "$(id -u)" = 0 ] || fail "needs root (chroot and mount namespaces); run it with sudo"
[ -x "$binary" ] || fail "no binary at $binary (cargo build --release --bin flotilla, or pass one)"

step "tools"
tool=${FLOTILLA_IMAGE_TOOL:-}
if [ -z "$tool" ]; then
  if command -v buildah >/dev/null; then
    tool=buildah
  elif command -v podman >/dev/null; then
    tool=podman
  else
    echo "neither buildah nor podman: installing buildah from the distribution's packages"
    log=$(mktemp)
    apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah >"$log" 2>&1; }
    apt_install || { apt-get update -qq >"$log" 2>&1 && apt_install; } || { cat "$log" >&2; rm -f "$log"; fail "cannot install buildah"; }
    rm -f "$log"
    tool=buildah
  fi
fi
case $tool in
  # Go templates over the image's OCI configuration, as each tool presents it.
  buildah) inspect=(buildah inspect --type image) top=.OCIv1 ;;
  podman) inspect=(podman image inspect) top= ;;
  *) fail "FLOTILLA_IMAGE_TOOL must be buildah or podman, not $tool" ;;
esac
command -v "$tool" >/dev/null || fail "$tool is not installed"
"$tool" --version
image_field() { "${inspect[@]}" --format "$1" "$tag"; }
label() { image_field "{{index $top.Config.Labels \"org.opencontainers.image.$1\"}}"; }

case $(uname -m) in
  x86_64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) fail "no image architecture known for $(uname -m)" ;;
esac

# What goes into the labels. The version is the packaged binary's own, so that the tag cannot
# disagree with what `/version` answers.
banner=$("$binary" version) || fail "$binary version failed"
version=$(printf '%s\n' "$banner" | awk 'NR == 1 && $1 == "flotilla" {print $2}')
[ -n "$version" ] || fail "cannot read the version from '$binary version': $banner"
binary_commit=$(printf '%s\n' "$banner" | sed -n '1s/.*(commit \([^,]*\),.*/\1/p')
revision=${FLOTILLA_IMAGE_REVISION:-$(git rev-parse HEAD 2>/dev/null || echo "${binary_commit:-unknown}")}
case $revision in "$binary_commit"* | unknown) ;; *)
  echo "warning: the binary says commit $binary_commit, the labels say $revision" >&2 ;;
esac
workspace_key() { sed -n '/^\[workspace\.package\]/,/^\[/s/^'"$1"' *= *"\(.*\)".*/\1/p' Cargo.toml; }
source_url=${FLOTILLA_IMAGE_SOURCE:-$(workspace_key repository)}
licenses=$(workspace_key license)
[ -n "$source_url" ] && [ -n "$licenses" ] || fail "Cargo.toml's [workspace.package] lacks repository or license"
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
  created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
  timestamp=(--timestamp "$SOURCE_DATE_EPOCH")
else
  created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  timestamp=()
fi
tag=${tag:-localhost/flotilla:$version}

work=$(mktemp -d "${TMPDIR:-/tmp}/flotilla-image.XXXXXX")
trap 'rm -rf "$work"' EXIT

step "root filesystem for $binary ($arch)"
ctx=$work/context
root=$ctx/rootfs
mkdir -p "$root/usr/local/bin" "$root$config_dir" "$root/etc/ssl/certs" "$root/var/lib" "$ctx/data"
install -m 0755 "$binary" "$root/usr/local/bin/flotilla"
# Exactly what the dynamic loader will map: ldd's list, at the paths it gives, plus the loader
# itself (the line without "=>"). Nothing at all for a static binary.
libraries=()
if ldd_out=$(ldd "$binary" 2>&1); then
  while read -r line; do
    case $line in
      *"not found"*) fail "a library the binary needs is missing here: $line" ;;
      *"=> /"*) path=${line#*=> } ;;
      /*) path=$line ;;
      *) continue ;; # linux-vdso.so.1 is the kernel's
    esac
    libraries+=("${path%% (*}")
  done <<<"$ldd_out"
else
  case $ldd_out in *"not a dynamic executable"* | *"statically linked"*) ;; *) fail "ldd $binary: $ldd_out" ;; esac
fi
interpreter=$(readelf -lW "$binary" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p' || true)
docs=()
for lib in "${libraries[@]}"; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
  chmod 0755 "$root$lib"
  # LGPL and GPL-with-exception code is redistributed here: its copyright notice goes with it.
  if command -v dpkg >/dev/null; then
    owner=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$(readlink -f "$lib")" 2>/dev/null || true)
    docs+=("${owner%%:*}")
  fi
done
[ -z "$interpreter" ] || [ -f "$root$interpreter" ] || fail "the loader $interpreter is not among ldd's list"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/" 2>/dev/null ||
  fail "no /etc/ssl/certs/ca-certificates.crt here (apt-get install ca-certificates)"
docs+=(ca-certificates)
for pkg in $(printf '%s\n' "${docs[@]}" | sort -u); do
  if [ -n "$pkg" ] && [ -f "/usr/share/doc/$pkg/copyright" ]; then
    mkdir -p "$root/usr/share/doc/$pkg"
    cp -L "/usr/share/doc/$pkg/copyright" "$root/usr/share/doc/$pkg/"
  fi
done
install -m 0644 config/*.toml "$root$config_dir/"
cat >"$root/etc/passwd" <<EOF
root:x:0:0:root:/root:/sbin/nologin
flotilla:x:$uid:$gid:flotilla:$data_dir:/sbin/nologin
EOF
cat >"$root/etc/group" <<EOF
root:x:0:
flotilla:x:$gid:
EOF
# glibc's default without this file asks DNS before /etc/hosts; a container wants hosts first.
echo "hosts: files dns" >"$root/etc/nsswitch.conf"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf" "$root/etc/ssl/certs/ca-certificates.crt"
install -d -m 1777 "$root/tmp"
install -d -m 0700 "$ctx/data/flotilla"
cp deploy/image/Containerfile "$ctx/Containerfile"
du -sh "$root" | awk '{print "rootfs: " $1}'

step "build $tag with $tool"
old_id=$("$tool" images --no-trunc --format '{{.ID}}' "$tag" 2>/dev/null | head -1 || true)
"$tool" build --layers=false --quiet --os linux --arch "$arch" "${timestamp[@]}" \
  --build-arg "VERSION=$version" --build-arg "REVISION=$revision" \
  --build-arg "SOURCE=$source_url" --build-arg "LICENSES=$licenses" --build-arg "CREATED=$created" \
  -f "$ctx/Containerfile" -t "$tag" "$ctx" >/dev/null
new_id=$("$tool" images --no-trunc --format '{{.ID}}' "$tag" | head -1)
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  "$tool" rmi "$old_id" >/dev/null 2>&1 || true # still tagged elsewhere: kept
fi
echo "built $tag (${new_id#sha256:})"

step "export the image's filesystem"
archive=$work/flotilla.oci.tar
"$tool" push --quiet "$tag" "oci-archive:$archive" >/dev/null
oci=$work/oci
exported=$work/exported
mkdir -p "$oci" "$exported"
tar -xf "$archive" -C "$oci"
manifest=$(sed -n 's/.*"digest":"sha256:\([0-9a-f]*\)".*/\1/p' "$oci/index.json")
[ -f "$oci/blobs/sha256/$manifest" ] || fail "no manifest in the OCI archive"
layers=$(sed 's/.*"layers":\[//' "$oci/blobs/sha256/$manifest" | grep -o '"digest":"sha256:[0-9a-f]*"' | sed 's/.*sha256:\([0-9a-f]*\)"/\1/')
for layer in $layers; do
  tar --numeric-owner -xpf "$oci/blobs/sha256/$layer" -C "$exported"
done
rm -rf "$oci"
echo "$(echo "$layers" | wc -w) layer(s) unpacked"

step "prove it: flotilla version, as $uid:$gid, in the exported root"
mapfile -t image_env < <(image_field "{{range $top.Config.Env}}{{println .}}{{end}}" | sed '/^$/d')
chroot=$(command -v chroot) # env -i below: found here, not through the image's PATH
output=$(env -i "${image_env[@]}" "$chroot" --userspec=$uid:$gid "$exported" /usr/local/bin/flotilla version) ||
  fail "flotilla version failed in the image"
printf '%s\n' "$output"
[ "$output" = "$banner" ] || fail "the image's flotilla version differs from $binary's"
for service in services/*/; do
  service=$(basename "$service")
  printf '%s\n' "$output" | grep -qE "^  $service +[0-9]" || fail "flotilla version does not list $service"
done

step "prove it: contents, ownership, configuration, labels"
checks=0
check() { # description, then a command that must succeed
  local what=$1
  shift
  "$@" || fail "check failed: $what"
  checks=$((checks + 1))
}
listing() { (cd "$1" && find . -mindepth 1 | sort); }
expected=$( (listing "$root" && listing "$ctx/data" | sed 's|^\./|./var/lib/|') | sort)
check "the image holds exactly the prepared root filesystem" \
  diff <(printf '%s\n' "$expected") <(listing "$exported")
shells=$(find "$exported" \( -name sh -o -name bash -o -name dash -o -name ash -o -name zsh -o -name busybox \) -printf '/%P\n')
check "no shell (found: ${shells:-none})" test -z "$shells"
# Executables: the binary, the loader and the libraries, nothing else.
executables=$(find "$exported" -type f -perm /111 -printf '/%P\n' | sort)
check "no executable but flotilla, the loader and the libraries" \
  diff <(printf '%s\n' /usr/local/bin/flotilla "${libraries[@]}" | sed '/^$/d' | sort -u) <(printf '%s\n' "$executables" | sed '/^$/d')
not_root=$(find "$exported" -mindepth 1 \( ! -uid 0 -o ! -gid 0 \) -printf '/%P\n')
check "everything owned by root but $data_dir (not root's: $not_root)" test "$not_root" = "$data_dir"
check "$data_dir is $uid:$gid, mode 700" test "$(stat -c %u:%g:%a "$exported$data_dir")" = "$uid:$gid:700"
for env in dev staging prod; do
  check "$config_dir/$env.toml" cmp -s "config/$env.toml" "$exported$config_dir/$env.toml"
done
check "FLOTILLA_CONFIG_DIR=$config_dir in the image's environment" \
  grep -qx "FLOTILLA_CONFIG_DIR=$config_dir" <(printf '%s\n' "${image_env[@]}")
check "FLOTILLA_ENV left to the Deployment" \
  test -z "$(printf '%s\n' "${image_env[@]}" | grep '^FLOTILLA_ENV=' || true)"
check "the CA bundle" test -s "$exported/etc/ssl/certs/ca-certificates.crt"
check "user $uid:$gid" test "$(image_field "{{$top.Config.User}}")" = "$uid:$gid"
check "entrypoint /usr/local/bin/flotilla" test "$(image_field "{{$top.Config.Entrypoint}}")" = "[/usr/local/bin/flotilla]"
check "command version" test "$(image_field "{{$top.Config.Cmd}}")" = "[version]"
check "working directory $data_dir" test "$(image_field "{{$top.Config.WorkingDir}}")" = "$data_dir"
check "architecture $arch" test "$(image_field "{{$top.Architecture}}")" = "$arch"
for key in title description version revision source licenses created; do
  value=$(label "$key")
  printf '  org.opencontainers.image.%-12s %s\n' "$key" "$value"
  check "label org.opencontainers.image.$key" test -n "$value" -a "$value" != "<no value>"
done
check "label version = $version" test "$(label version)" = "$version"
check "label licenses = $licenses" test "$(label licenses)" = "$licenses"
echo "$checks checks passed; the image's files:"
(cd "$exported" && find . -mindepth 1 \( -type f -o -type d \) -printf '  %M %U:%G %10s %P\n' | sort -k4)

step "prove it: a read-only root, only the data dir and a tmpfs on /tmp writable"
# A private mount namespace, as a runtime sets up `--read-only` (readOnlyRootFilesystem): the
# exported root bound read-only onto itself, a fresh directory (owned by $uid) bound over
# $data_dir, a tmpfs on /tmp, nothing else. A write anywhere else fails the command (SQLite's
# temporary files need the tmpfs: deploy/image/README.md). The namespace and its mounts end with it.
data=$work/data
install -d -m 0700 -o $uid -g $gid "$data"
serve_log=$work/serve.log
# Runs in the new mount namespace (a bash of its own: see below).
readonly_inner() {
  local chroot=$1 root=$2 data=$3 data_dir=$4 userspec=$5 serve_log=$6 pid addr status line code left
  shift 6
  mount --bind "$root" "$root"
  mount -o remount,bind,ro "$root"
  mount --bind "$data" "$root$data_dir"
  mount -t tmpfs -o size=64m,mode=1777,nosuid,nodev tmpfs "$root/tmp"
  if touch "$root/probe" 2>/dev/null; then echo "the root is writable" >&2; exit 1; fi
  env -i "$@" FLOTILLA_DATA_DIR="$data_dir" "$chroot" --userspec="$userspec" "$root" \
    /usr/local/bin/flotilla migrate catalog
  # A service, served until it answers its readiness probe, then stopped with SIGTERM.
  env -i "$@" FLOTILLA_DATA_DIR="$data_dir" FLOTILLA_SERVICES__CATALOG__PORT=0 \
    "$chroot" --userspec="$userspec" "$root" /usr/local/bin/flotilla serve catalog >"$serve_log" 2>&1 &
  pid=$!
  addr=
  for _ in $(seq 300); do
    addr=$(sed -n "s|^  catalog *http://\([0-9.]*:[0-9]*\) .*|\1|p" "$serve_log")
    [ -n "$addr" ] || ! kill -0 "$pid" 2>/dev/null || { sleep 0.1; continue; }
    break
  done
  status=
  if [ -n "$addr" ] && exec 3<>"/dev/tcp/${addr%:*}/${addr#*:}"; then
    printf "GET /readyz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$addr" >&3
    read -r -t 10 line <&3 && status=${line%$'\r'}
    exec 3<&-
  fi
  # Stopped as a kubelet would: SIGTERM, then SIGKILL if it has not gone within 30 s.
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  code=0
  wait "$pid" || code=$?
  case $status in *" 200 "*) ;; *)
    echo "flotilla serve catalog did not become ready (${status:-no answer}):" >&2; cat "$serve_log" >&2; exit 1 ;;
  esac
  echo "flotilla serve catalog on $addr: GET /readyz: $status; SIGTERM: exit $code"
  [ "$code" = 0 ] || { cat "$serve_log" >&2; exit 1; }
  left=$(find "$root/tmp" -mindepth 1 -printf "%P ")
  echo "left in the tmpfs on /tmp: ${left:-nothing}"
}
readonly_run() {
  unshare --mount --propagation private -- bash -euc "$(declare -f readonly_inner); readonly_inner \"\$@\"" _ \
    "$chroot" "$exported" "$data" "$data_dir" "$uid:$gid" "$serve_log" "${image_env[@]}"
}
readonly_run || fail "the image does not run on a read-only root"
check "the catalog's database is in the data dir" test -s "$data/catalog.db"
check "everything written in the data dir is $uid's" test -z "$(find "$data" ! -uid $uid)"
echo "written (all in the data dir, all by $uid): $(cd "$data" && find . -mindepth 1 -printf '%P ')"

step "size"
echo "uncompressed ($tool images): $("$tool" images --format '{{.Size}}' "$tag" | head -1)"
echo "compressed (the OCI archive, as pushed): $(du -h "$archive" | cut -f1)"
total=$(find "$exported" -type f -printf '%s\n' | awk '{n += $1} END {print n}')
binary_size=$(stat -c %s "$exported/usr/local/bin/flotilla")
echo "files: $((total / 1024)) KiB, of which the binary $((binary_size / 1024)) KiB and the rest $(((total - binary_size) / 1024)) KiB"

step "done: $tag in $((SECONDS - started)) s"
