#!/usr/bin/env bash
# Interpreter speed on the loop and mixed ROMs: guest instructions per second (median of N runs),
# next to qemu-system-x86_64 -accel tcg on the same ROM when it is installed.
# Usage: benchmarks/run.sh [runs]     (default 5)
# Environment: SCRATCH=<dir> build directory for `swift build --scratch-path` (default .build).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
scratch=${SCRATCH:-.build}
command -v nasm >/dev/null || scripts/deps.sh
swift build -c release --scratch-path "$scratch" --product emu >&2
emu="$scratch/release/emu"
out=$(mktemp -d /tmp/emu-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT
qemu=$(command -v qemu-system-x86_64 || true)

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
run_qemu() {   # ROM -> exit status (1 = the guest wrote 0 to port 0xF4)
    local st=0
    timeout 300 "$qemu" -accel tcg -bios "$1" -display none -monitor none -serial stdio -nodefaults \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04 >/dev/null 2>&1 || st=$?
    echo "$st"
}

# QEMU's own start-up and shut-down, measured with a ROM that exits at once.
printf 'bits 16\norg 0\n    xor al, al\n    out 0xf4, al\n    hlt\n    times 0xfff0-($-$$) db 0xff\n    jmp 0xf000:0\n    times 0x10000-($-$$) db 0xff\n' > "$out/empty.asm"
nasm -f bin -o "$out/empty.bin" "$out/empty.asm"
q_start="-"
if [ -n "$qemu" ]; then
    ts=()
    for i in $(seq "$runs"); do t0=$(now); run_qemu "$out/empty.bin" >/dev/null; t1=$(now); ts+=("$(echo "$t1 - $t0" | bc -l)"); done
    q_start=$(printf "%s\n" "${ts[@]}" | median)
fi

echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; median of $runs runs"
[ -n "$qemu" ] && printf "qemu start-up + exit (empty ROM): %.3f s (subtracted in qemu-net)\n" "$q_start"
printf "%-6s %13s %9s %9s %10s %10s %10s %9s\n" rom instructions emu-s emu-MIPS qemu-s qemu-net-s qemu-MIPS emu/qemu
for rom in loop mixed; do
    nasm -f bin -o "$out/$rom.bin" "benchmarks/$rom.asm"
    # The instruction count is deterministic: one run with --stats.
    st=0
    count=$("$emu" run-rom --stats "$out/$rom.bin" 2>&1 >/dev/null | sed -n 's/^emu: \([0-9]*\) instructions.*/\1/p') || st=$?
    "$emu" run-rom "$out/$rom.bin" >/dev/null 2>&1 || st=$?
    [ "$st" = 1 ] || { echo "emu: $rom.bin exited with status $st, want 1" >&2; exit 1; }
    ts=()
    for i in $(seq "$runs"); do t0=$(now); "$emu" run-rom "$out/$rom.bin" >/dev/null || true; t1=$(now); ts+=("$(echo "$t1 - $t0" | bc -l)"); done
    e_med=$(printf "%s\n" "${ts[@]}" | median)
    mips=$(echo "$count / $e_med / 1000000" | bc -l)
    q_med="-"; q_net="-"; q_mips="-"; ratio="-"
    if [ -n "$qemu" ]; then
        st=$(run_qemu "$out/$rom.bin")
        [ "$st" = 1 ] || { echo "qemu: $rom.bin exited with status $st, want 1" >&2; exit 1; }
        ts=()
        for i in $(seq "$runs"); do t0=$(now); run_qemu "$out/$rom.bin" >/dev/null; t1=$(now); ts+=("$(echo "$t1 - $t0" | bc -l)"); done
        q=$(printf "%s\n" "${ts[@]}" | median)
        net=$(echo "$q - $q_start" | bc -l)
        if [ "$(echo "$net < 0.001" | bc -l)" = 1 ]; then net=0.001; fi
        q_med=$(printf "%.3f" "$q"); q_net=$(printf "%.3f" "$net")
        q_mips=$(printf "%.0f" "$(echo "$count / $net / 1000000" | bc -l)")
        ratio=$(printf "%.1f" "$(echo "$e_med / $net" | bc -l)")
    fi
    printf "%-6s %13s %9.3f %9.1f %10s %10s %10s %9s\n" "$rom" "$count" "$e_med" "$mips" "$q_med" "$q_net" "$q_mips" "$ratio"
done
echo "(emu/qemu compares emu's wall time with QEMU's net of start-up; > 1 means emu is slower)"
