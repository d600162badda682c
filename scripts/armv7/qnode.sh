#!/usr/bin/env bash
# usage: qnode.sh <node args...>
# The armv7l Node.js under qemu-arm user-mode emulation as a Cortex-A7 (the Pi 2's core; a Pi 3 / Zero 2 W on the
# 32-bit OS runs the same armhf code), with the armhf glibc of libc6-armhf-cross. No binfmt_misc needed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${ARMV7_CACHE:-$ROOT/.cache/armv7}
NODE=$CACHE/node-${ARMV7_NODE_VERSION:-20.11.0}/package/bin/node
[ -x "$NODE" ] || { echo "qnode.sh: no armv7l node at $NODE; run bash scripts/cross/setup.sh armv7" >&2; exit 2; }
exec qemu-arm-static -cpu cortex-a7 -L /usr/arm-linux-gnueabihf "$NODE" "$@"
