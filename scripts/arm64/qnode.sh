#!/usr/bin/env bash
# usage: qnode.sh <qemu-cpu> <node args...>
# Runs the linux-arm64 Node.js under qemu-aarch64 user-mode emulation (no binfmt_misc needed) with the private
# sysroot setup.sh made for that CPU. Always with an explicit -cpu: QEMU's default 'max' has SVE/SME/i8mm, which
# no Raspberry Pi or Jetson has, and onnxruntime would then run other kernels than on the boards.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${ARM64_CACHE:-$ROOT/.cache/arm64}
CPU=${1:?usage: qnode.sh <qemu-cpu> <node args...>}; shift
SYSROOT=$CACHE/sysroot-$CPU
NODE=${QEMU_NODE:-$CACHE/node-${ARM64_NODE_VERSION:-20.20.2}/package/bin/node}
[ -e "$SYSROOT/proc/cpuinfo" ] || { echo "qnode.sh: no sysroot for $CPU at $SYSROOT; run scripts/arm64/setup.sh (ARM64_CPUS=\"$CPU\")" >&2; exit 2; }
[ -x "$NODE" ] || { echo "qnode.sh: no arm64 node at $NODE; run scripts/arm64/setup.sh" >&2; exit 2; }
exec qemu-aarch64-static -cpu "$CPU" -L "$SYSROOT" "$NODE" "$@"
