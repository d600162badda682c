#!/usr/bin/env bash
# CI entry point: runs edgefit's int8 and fp32 models with onnxruntime-node's linux-arm64 binary under QEMU as a
# Raspberry Pi 4 (Cortex-A72) and a Pi 5 (Cortex-A76) would, 1 intra-op thread, and checks the outputs against
# the committed goldens (tests/golden/arm64/outputs.json), an exact integer reference and the x64 run.
# usage: npm run arm64:parity [-- --update] (or bash scripts/arm64/parity.sh [--update])   (--update re-records the goldens; commit them with a reason)
# Environment: ARM64_CPUS (default "cortex-a72 cortex-a76"), ARM64_SKIP_BUILD=1 (dist/ is fresh),
#              EDGEFIT_SHARED_DATA (models and photos), ARM64_CACHE (downloads, sysroots, work files).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
export ARM64_CACHE=${ARM64_CACHE:-$ROOT/.cache/arm64}
CPUS=${ARM64_CPUS:-cortex-a72 cortex-a76}
WORK=$ARM64_CACHE/work
GOLDEN=$ROOT/tests/golden/arm64/outputs.json
CROSS_LABEL="arm64 parity"
. "$ROOT/scripts/cross/driver.sh"

ARM64_CPUS="$CPUS" bash "$HERE/setup.sh"
stamp "setup done"
cross_build ARM64_SKIP_BUILD dist/scripts/arm64 prepare run check

node dist/scripts/arm64/prepare.js --work "$WORK"
stamp "models converted and frames decoded on the host"

# the host run and one emulated process per CPU, in parallel (each single-threaded)
runs=()
node dist/scripts/arm64/run.js --work "$WORK" --label x64 --out "$WORK/x64.json" > "$WORK/x64.log" 2>&1 &
runs+=("$!:$WORK/x64.log")
reports=("$WORK/x64.json")
for cpu in $CPUS; do
  bash "$HERE/qnode.sh" "$cpu" dist/scripts/arm64/run.js --work "$WORK" --label "arm64-$cpu" --out "$WORK/arm64-$cpu.json" > "$WORK/arm64-$cpu.log" 2>&1 &
  runs+=("$!:$WORK/arm64-$cpu.log")
  reports+=("$WORK/arm64-$cpu.json")
done
cross_wait "${runs[@]}" || { echo "arm64 parity: FAILED: a run crashed (SIGILL means the fake cpuinfo claims a newer core than -cpu; SIGSEGV on load means /proc/cpuinfo is the host's)" >&2; exit 1; }
stamp "runs done"

node dist/scripts/arm64/check.js --work "$WORK" --golden "$GOLDEN" "$@" "${reports[@]}"
stamp "finished"
