# Sourced by the QEMU jobs (scripts/arm64/parity.sh, scripts/armv7/job.sh): the steps they share.
#   CROSS_LABEL=<label>, then stamp "<what>": a progress line with the seconds since the job started
#   cross_build <skip-build var> <dist dir> <entry points...>: compiles unless the variable is 1, then checks that the
#     compiled entry points exist
#   cross_wait <pid:log>...: waits for background runs; prints the log tail of each that failed; 1 if any did
CROSS_START=$(date +%s)
cross_build() {
  local skip=$1 dist=$2; shift 2
  if [ "${!skip:-0}" != 1 ]; then
    # type errors are the typecheck step's business; tsc still emits, and a missing entry point is caught below
    node node_modules/typescript/bin/tsc -p tsconfig.json >/dev/null || true
    stamp "compiled"
  fi
  for f in "$@"; do
    [ -f "$dist/$f.js" ] || { echo "$CROSS_LABEL: $dist/$f.js is missing: the TypeScript build failed (run npx tsc -p .)" >&2; exit 1; }
  done
}
stamp() { echo "$CROSS_LABEL: $1 ($(( $(date +%s) - CROSS_START )) s)"; }
cross_wait() {
  local failed=0 item
  for item in "$@"; do
    if ! wait "${item%%:*}"; then
      failed=1
      echo "$CROSS_LABEL: the run logging to ${item#*:} failed; its output:" >&2
      tail -20 "${item#*:}" >&2
    fi
  done
  return $failed
}
