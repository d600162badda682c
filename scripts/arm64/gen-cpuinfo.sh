#!/bin/sh
# usage: gen-cpuinfo.sh a53|a57|a72|a76 > <sysroot>/proc/cpuinfo
# An aarch64 /proc/cpuinfo with one entry per CPU the host has (the guest also sees the host's
# /sys/devices/system/cpu/possible, and the two must agree). The MIDR fields (implementer/variant/part) decide
# onnxruntime's kernels: it enables dotprod from the part number (0xd0b = Cortex-A76) whatever the Features
# line says. The Features lines are those of the real cores as Linux prints them.
case "$1" in
  a53) var=0x0; part=0xd03; rev=4; feat="fp asimd evtstrm crc32 cpuid" ;;
  a57) var=0x1; part=0xd07; rev=1; feat="fp asimd evtstrm aes pmull sha1 sha2 crc32 cpuid" ;;
  a72) var=0x0; part=0xd08; rev=3; feat="fp asimd evtstrm crc32 cpuid" ;;
  a76) var=0x4; part=0xd0b; rev=1; feat="fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
  *) echo "gen-cpuinfo.sh: unknown cpu '$1' (a53, a57, a72, a76)" >&2; exit 2 ;;
esac
n=$(getconf _NPROCESSORS_CONF)
i=0
while [ "$i" -lt "$n" ]; do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' \
    "$i" "$feat" "$var" "$part" "$rev"
  i=$((i + 1))
done
