#!/usr/bin/env bash
# CI entry point: edgefit's compiled code under qemu-arm as a 32-bit Raspberry Pi OS board (armv7l, Cortex-A7, the
# Pi 2's core and the oldest a Pi 3 / Zero 2 W running armhf behaves like): the device probe must report arm and
# prove tfjs-wasm (onnxruntime-node has no linux/arm binary: skipped with that reason), and the imported MobileNets
# on tfjs-wasm must give the same top-1 as on x64 (tfjs-wasm and onnxruntime) on the test photos. The host's
# node_modules are used as they are: nothing of them is native code on that path (sharp is left out: the frames are
# decoded on the host).
# usage: bash scripts/armv7/job.sh   Environment: ARMV7_SKIP_BUILD=1 (dist/ is fresh), EDGEFIT_SHARED_DATA, ARMV7_CACHE.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
export ARMV7_CACHE=${ARMV7_CACHE:-$ROOT/.cache/armv7}
WORK=$ARMV7_CACHE/work
START=$(date +%s)
stamp() { echo "armv7 job: $1 ($(( $(date +%s) - START )) s)"; }

bash "$HERE/setup.sh"
stamp "setup done"
if [ "${ARMV7_SKIP_BUILD:-0}" != 1 ]; then
  node node_modules/typescript/bin/tsc -p tsconfig.json >/dev/null || true
  stamp "compiled"
fi
for f in prepare run check; do
  [ -f "dist/scripts/armv7/$f.js" ] || { echo "armv7 job: dist/scripts/armv7/$f.js is missing: the TypeScript build failed (run npx tsc -p .)" >&2; exit 1; }
done
rm -rf "$WORK" && mkdir -p "$WORK"
node dist/scripts/armv7/prepare.js --work "$WORK"
stamp "models imported and frames decoded on the host"

node dist/scripts/armv7/run.js --work "$WORK" --provider tfjs-wasm --out "$WORK/x64-tfjs.json" 2> "$WORK/x64-tfjs.log"
node dist/scripts/armv7/run.js --work "$WORK" --provider cpu --out "$WORK/x64-ort.json" 2> "$WORK/x64-ort.log"
NODE=$ARMV7_CACHE/node-${ARMV7_NODE_VERSION:-20.11.0}/package/bin/node
if ! qemu-arm-static -cpu cortex-a7 -L /usr/arm-linux-gnueabihf "$NODE" dist/scripts/armv7/run.js --work "$WORK" --provider tfjs-wasm --out "$WORK/armv7.json" 2> "$WORK/armv7.log"; then
  echo "armv7 job: FAILED: the emulated run crashed; its output:" >&2
  tail -20 "$WORK/armv7.log" >&2
  exit 1
fi
stamp "runs done"
node dist/scripts/armv7/check.js --arm "$WORK/armv7.json" --x64-tfjs "$WORK/x64-tfjs.json" --x64-ort "$WORK/x64-ort.json"
stamp "finished"
