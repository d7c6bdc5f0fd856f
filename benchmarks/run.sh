#!/usr/bin/env bash
# Interpreter speed on the loop and mixed ROMs: guest instructions per second (median of N runs),
# next to qemu-system-x86_64 -accel tcg on the same ROM when it is installed.
# Usage: benchmarks/run.sh [runs]     (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
scripts/deps.sh
swift build -c release --product emu >&2
out=build/bench
mkdir -p "$out"
qemu=$(command -v qemu-system-x86_64 || true)

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
printf "%-8s %14s %12s %14s %12s %10s\n" rom instructions emu-s emu-MIPS qemu-tcg-s emu/qemu
for rom in loop mixed; do
    nasm -f bin -o "$out/$rom.bin" "benchmarks/$rom.asm"
    # Instruction count (deterministic) from one run with --stats.
    count=$(.build/release/emu run-rom --stats "$out/$rom.bin" 2>&1 >/dev/null | sed -n 's/^emu: \([0-9]*\) instructions.*/\1/p' || true)
    emu_times=()
    for i in $(seq "$runs"); do
        t0=$(now); .build/release/emu run-rom "$out/$rom.bin" >/dev/null || true; t1=$(now)
        emu_times+=("$(echo "$t1 - $t0" | bc -l)")
    done
    emu_med=$(printf "%s\n" "${emu_times[@]}" | median)
    mips=$(echo "$count / $emu_med / 1000000" | bc -l)
    q_med="-"; ratio="-"
    if [ -n "$qemu" ]; then
        q_times=()
        for i in $(seq "$runs"); do
            t0=$(now)
            timeout 120 "$qemu" -accel tcg -bios "$out/$rom.bin" -display none -monitor none -serial null \
                -device isa-debug-exit,iobase=0xf4,iosize=0x04 -nodefaults >/dev/null 2>&1 || true
            t1=$(now)
            q_times+=("$(echo "$t1 - $t0" | bc -l)")
        done
        q_med=$(printf "%s\n" "${q_times[@]}" | median)
        ratio=$(printf "%.1f" "$(echo "$emu_med / $q_med" | bc -l)")
        q_med=$(printf "%.3f" "$q_med")
    fi
    printf "%-8s %14s %12.3f %14.1f %12s %10s\n" "$rom" "$count" "$emu_med" "$mips" "$q_med" "$ratio"
done
echo "(qemu times include its start-up of roughly 0.1-0.3 s; emu/qemu > 1 means emu is slower)"
