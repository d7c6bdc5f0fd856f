#!/usr/bin/env bash
# Linux boot to the init marker: wall time from start until the guest's init prints
# EMU-GUEST-READY, for emu and (when installed) qemu-system-x86_64 -accel tcg, on the same
# Debian cloud kernel + busybox initramfs (scripts/guest-images.sh), median of N runs, side by
# side in one run. Both machines get 256 MiB, one CPU and the same command line.
# Usage: benchmarks/boot.sh [runs]     (default 3)
# Environment: SCRATCH=<dir> build directory (default .build); EMU_CACHE as for guest-images.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
scratch=${SCRATCH:-.build}
scripts/guest-images.sh >&2
guest=${EMU_CACHE:-$HOME/.cache/emu}/guest
swift build -c release --scratch-path "$scratch" --product emu >&2
emu="$scratch/release/emu"
qemu=$(command -v qemu-system-x86_64 || true)
append="console=ttyS0 panic=-1 emu.test=poweroff"
out=$(mktemp -d /tmp/emu-boot.XXXXXX)
trap 'rm -rf "$out"' EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# time_to_marker LOG CMD... : runs CMD with its serial output going to LOG, returns seconds to marker
time_to_marker() {
    local log=$1; shift
    : > "$log"
    local t0; t0=$(now)
    "$@" > "$log" 2>&1 < /dev/null &
    local pid=$! t=""
    while kill -0 "$pid" 2>/dev/null; do
        if [ -z "$t" ] && grep -q EMU-GUEST-READY "$log"; then t=$(echo "$(now) - $t0" | bc -l); fi
        sleep 0.05
        if [ "$(echo "$(now) - $t0 > 900" | bc -l)" = 1 ]; then kill "$pid"; break; fi
    done
    wait "$pid" || true
    if [ -z "$t" ] && grep -q EMU-GUEST-READY "$log"; then t=$(echo "$(now) - $t0" | bc -l); fi
    echo "${t:-fail}"
}

echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; median of $runs runs"
echo "guest: $(cat "$guest/manifest.txt" 2>/dev/null | grep -m1 vmlinuz || echo "$guest/vmlinuz")"
emu_t=(); qemu_t=()
for i in $(seq "$runs"); do
    emu_t+=("$(time_to_marker "$out/emu.log" "$emu" boot --kernel "$guest/vmlinuz" --initrd "$guest/initramfs.cpio.gz" \
        --ram 256 --append "$append" --serial stdio)")
    if [ -n "$qemu" ]; then
        qemu_t+=("$(time_to_marker "$out/qemu.log" "$qemu" -accel tcg -m 256 -smp 1 -nographic -no-reboot -nodefaults \
            -serial stdio -kernel "$guest/vmlinuz" -initrd "$guest/initramfs.cpio.gz" -append "$append")")
    fi
done
em=$(printf "%s\n" "${emu_t[@]}" | grep -v fail | median || true)
printf "%-28s %10s   runs: %s\n" "emu (interpreter)" "${em:-fail} s" "${emu_t[*]}"
if [ -n "$qemu" ]; then
    qm=$(printf "%s\n" "${qemu_t[@]}" | grep -v fail | median || true)
    printf "%-28s %10s   runs: %s\n" "qemu-system-x86_64 tcg" "${qm:-fail} s" "${qemu_t[*]}"
    if [ -n "$em" ] && [ -n "$qm" ]; then printf "emu / qemu boot time: %.2fx\n" "$(echo "$em / $qm" | bc -l)"; fi
else
    echo "qemu-system-x86_64 not installed: no reference column"
fi
