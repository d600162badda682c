#!/usr/bin/env bash
# Prepares the arm64 emulation environment for scripts/arm64/parity.sh (idempotent; `npm run arm64:setup`): what
# scripts/cross/setup.sh does for every architecture, then one private sysroot per emulated CPU with a fake ARM
# /proc/cpuinfo (see qnode.sh for why).
# Environment: ARM64_CACHE (default <repo>/.cache/arm64), ARM64_NODE_VERSION (default 20.20.2), ARM64_CPUS.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${ARM64_CACHE:-$ROOT/.cache/arm64}
bash "$HERE/../cross/setup.sh" arm64
for cpu in ${ARM64_CPUS:-cortex-a72 cortex-a76}; do
  "$HERE/make-sysroot.sh" "$cpu" "$CACHE/sysroot-$cpu"
done
