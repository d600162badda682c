#!/usr/bin/env bash
# CI entry point: edgefit's compiled code under qemu-arm as a 32-bit Raspberry Pi OS board (armv7l, Cortex-A7, the
# Pi 2's core and the oldest a Pi 3 / Zero 2 W running armhf behaves like). Two emulated steps, in parallel:
#   - run.js: the device probe must report arm and prove tfjs-wasm (onnxruntime-node has no linux/arm binary:
#     skipped with that reason), and the imported MobileNets on tfjs-wasm must give the same top-1 as on x64
#     (tfjs-wasm and onnxruntime) on the test photos, decoded on the host;
#   - daemon.js: the real daemon (`bin/edgefit.js run`, default providers) with a folder camera of photos and a real
#     mosquitto: it must start on tfjs-wasm (retained model payload), publish x64's top-1 for each photo, and stop
#     with exit code 0 on SIGTERM. It decodes the photos itself: with sharp's linux-arm packages, as on a Pi.
# onnxruntime-node is not hidden: the host's node_modules hold it as `npm ci` leaves it on a Pi, without a binary
# for linux/arm, so its import fails there as on the board.
# usage: bash scripts/armv7/job.sh   Environment: ARMV7_SKIP_BUILD=1 (dist/ is fresh), EDGEFIT_SHARED_DATA, ARMV7_CACHE.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
export ARMV7_CACHE=${ARMV7_CACHE:-$ROOT/.cache/armv7}
WORK=$ARMV7_CACHE/work
CROSS_LABEL="armv7 job"
. "$ROOT/scripts/cross/driver.sh"

bash "$ROOT/scripts/cross/setup.sh" armv7
stamp "setup done"
cross_build ARMV7_SKIP_BUILD dist/scripts/armv7 prepare run check daemon
rm -rf "$WORK" && mkdir -p "$WORK"
node dist/scripts/armv7/prepare.js --work "$WORK"
stamp "models imported and frames decoded on the host"

# the daemon step first (the longest); it prints its own verdict
node dist/scripts/armv7/daemon.js --work "$WORK" --qnode "$HERE/qnode.sh" --node-path "$ARMV7_CACHE/node_modules" > "$WORK/daemon.out" 2>&1 &
daemon=$!
bash "$HERE/qnode.sh" dist/scripts/armv7/run.js --work "$WORK" --provider tfjs-wasm --out "$WORK/armv7.json" > "$WORK/armv7.log" 2>&1 &
arm=$!
node dist/scripts/armv7/run.js --work "$WORK" --provider tfjs-wasm --out "$WORK/x64-tfjs.json" 2> "$WORK/x64-tfjs.log"
node dist/scripts/armv7/run.js --work "$WORK" --provider cpu --out "$WORK/x64-ort.json" 2> "$WORK/x64-ort.log"
failed=0
cross_wait "$arm:$WORK/armv7.log" || { echo "armv7 job: FAILED: the emulated run crashed" >&2; failed=1; }
stamp "runs done"
node dist/scripts/armv7/check.js --arm "$WORK/armv7.json" --x64-tfjs "$WORK/x64-tfjs.json" --x64-ort "$WORK/x64-ort.json" || failed=1
wait "$daemon" || failed=1
cat "$WORK/daemon.out"
stamp "daemon step done"
[ "$failed" = 0 ] || { echo "armv7 job: FAILED (see above)" >&2; exit 1; }
stamp "finished"
