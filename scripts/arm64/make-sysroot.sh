#!/usr/bin/env bash
# usage: make-sysroot.sh <qemu-cpu> <dir>
# A private sysroot for `qemu-aarch64-static -L <dir>`: lib -> Debian's arm64 cross libc, and an ARM
# /proc/cpuinfo. QEMU looks every absolute path the guest opens up under the -L prefix first, so onnxruntime's
# CPU detection (pytorch-cpuinfo) reads this file instead of the host's x86 /proc/cpuinfo, on which it
# crashes with SIGSEGV. /proc/self/auxv (the HWCAP bits) is synthesized by QEMU from the -cpu model.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CPU=${1:?usage: make-sysroot.sh <qemu-cpu> <dir>}
DIR=${2:?usage: make-sysroot.sh <qemu-cpu> <dir>}
case "$CPU" in
  cortex-a53) FAKE=a53 ;; cortex-a57) FAKE=a57 ;; cortex-a72) FAKE=a72 ;;
  # the fake MIDR must not claim a newer core than the -cpu model, or onnxruntime picks instructions QEMU
  # does not implement for it (SIGILL)
  cortex-a76 | neoverse-n1) FAKE=a76 ;;
  *) echo "make-sysroot.sh: no cpuinfo template for $CPU (known: cortex-a53, cortex-a57, cortex-a72, cortex-a76, neoverse-n1)" >&2; exit 2 ;;
esac
mkdir -p "$DIR/proc"
ln -sfn /usr/aarch64-linux-gnu/lib "$DIR/lib"
"$HERE/gen-cpuinfo.sh" "$FAKE" > "$DIR/proc/cpuinfo.tmp"
mv "$DIR/proc/cpuinfo.tmp" "$DIR/proc/cpuinfo"
