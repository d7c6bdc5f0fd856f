#!/usr/bin/env python3
"""emu benchmark harness: every workload under every engine, side by side in one run.

Engines: emu-interp (--accel interp), emu-tcg (--accel tcg), emu-kvm (--accel kvm), and when
installed qemu-tcg / qemu-kvm (qemu-system-x86_64 -accel ...). Workloads: the loop, mixed,
call/return, memory (paging) and I/O (port + MMIO) ROMs in benchmarks/*.asm, and Linux boot to
the init marker (Debian cloud kernel + busybox initramfs from scripts/guest-images.sh).

Prints the host (CPU model, cores, whether it is itself a VM so KVM is nested, which KVM module)
first, then a table of median wall time, min-max, and the ratio to a baseline engine; writes a
CSV and a PNG bar chart. A configuration that fails or times out is shown as such and is not
repeated. Wall times include process start-up for every engine alike.

Usage: benchmarks/harness.py [--runs N] [--baseline ENGINE] [--engines a,b] [--workloads a,b]
                             [--timeout S] [--boot-timeout S] [--scale F] [--out DIR]
"""
import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(REPO, "benchmarks")

# name -> (source, nasm define, default count, what)
ROMS = {
    "loop": ("loop.asm", "ITERATIONS", 20_000_000, "tight 5-instruction integer loop (real mode)"),
    "mixed": ("mixed.asm", "ITERATIONS", 400_000, "ALU, loads/stores, CALL/RET, REP MOVSW (real mode)"),
    "calls": ("calls.asm", "ITERATIONS", 2_000_000, "near, indirect and far call/return chains (real mode)"),
    "memory": ("memory.asm", "PASSES", 200, "loads/stores through 4 KiB paging, a new page per access (32-bit)"),
    "io": ("io.asm", "ITERATIONS", 200_000, "port 0x3FF and MMIO 0xFED00000 read/write (32-bit)"),
}
ENGINES = ["emu-interp", "emu-tcg", "emu-kvm", "qemu-tcg", "qemu-kvm"]


def sh(cmd):
    return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()


def host_lines():
    model = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip() or "unknown CPU"
    cores = os.cpu_count()
    flags = sh("grep -m1 '^flags' /proc/cpuinfo")
    nested = " hypervisor" in flags
    mods = [m for m in ("kvm_intel", "kvm_amd", "kvm_pvm") if os.path.isdir("/sys/module/" + m)]
    kvm_ok = os.access("/dev/kvm", os.R_OK | os.W_OK)
    lines = [f"host: {model}, {cores} cores",
             "host is itself a virtual machine (CPUID hypervisor bit): KVM here is NESTED" if nested
             else "host is bare metal (no hypervisor bit): KVM is hardware-backed",
             f"/dev/kvm: {'usable' if kvm_ok else 'not usable'}; KVM module: {', '.join(mods) or 'none loaded'}"]
    if "kvm_pvm" in mods:
        lines.append("kvm_pvm: non-64-bit and unpaged guest code runs in the host kernel's instruction "
                     "emulator (slow; some instructions need emu's interpreter assist)")
    return lines


def build(scratch):
    subprocess.run(["swift", "build", "-c", "release", "--scratch-path", scratch, "--product", "emu"],
                   check=True, stdout=sys.stderr, cwd=REPO)
    return os.path.join(REPO, scratch, "release", "emu") if not os.path.isabs(scratch) else \
        os.path.join(scratch, "release", "emu")


def assemble(out, name, scale):
    src, define, count, _ = ROMS[name]
    n = max(1, int(count * scale))
    path = os.path.join(out, name + ".bin")
    subprocess.run(["nasm", "-f", "bin", f"-D{define}={n}", "-o", path, os.path.join(BENCH, src)], check=True)
    return path


def rom_command(engine, emu, qemu, rom):
    if engine.startswith("emu-"):
        return [emu, "run-rom", rom, "--accel", engine[4:]]
    accel = engine[5:]
    return [qemu, "-accel", accel, "-bios", rom, "-display", "none", "-monitor", "none", "-serial", "stdio",
            "-nodefaults", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-m", "32"]


def time_rom(cmd, timeout):
    """Seconds, or 'timeout' / 'fail (status N)'. Exit status 1 = the guest wrote 0 to port 0xF4."""
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout, text=True)
    except subprocess.TimeoutExpired:
        return "timeout"
    t = time.monotonic() - t0
    if p.returncode != 1:
        last = (p.stderr.strip().splitlines() or [""])[-1][:160]
        return f"fail (status {p.returncode}{': ' + last if last else ''})"
    return t


def boot_command(engine, emu, qemu, guest):
    kernel, initrd = os.path.join(guest, "vmlinuz"), os.path.join(guest, "initramfs.cpio.gz")
    append = "console=ttyS0 panic=-1 emu.test=poweroff"
    if engine.startswith("emu-"):
        return [emu, "boot", "--kernel", kernel, "--initrd", initrd, "--append", append, "--ram", "256",
                "--serial", "stdio", "--no-reboot", "--accel", engine[4:]]
    return [qemu, "-accel", engine[5:], "-m", "256", "-kernel", kernel, "-initrd", initrd, "-append", append,
            "-display", "none", "-monitor", "none", "-serial", "stdio", "-nodefaults", "-no-reboot"]


def time_boot(cmd, timeout):
    """Seconds from start until the guest prints EMU-GUEST-READY."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    os.set_blocking(p.stdout.fileno(), False)
    buf = b""
    result = None
    while result is None:
        if time.monotonic() - t0 > timeout:
            result = "timeout"
            break
        try:
            chunk = p.stdout.read()
        except BlockingIOError:
            chunk = None
        if chunk:
            buf = (buf + chunk)[-4096:]
            if b"EMU-GUEST-READY" in buf:
                result = time.monotonic() - t0
                break
        elif p.poll() is not None:
            result = f"fail (status {p.returncode} before the marker)"
            break
        else:
            time.sleep(0.02)
    if p.poll() is None:
        p.kill()
    p.wait()
    return result


def fmt(v):
    return f"{v:.3f}" if isinstance(v, float) else v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--baseline", default="emu-interp", choices=ENGINES)
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--workloads", default=",".join(list(ROMS) + ["boot"]))
    ap.add_argument("--timeout", type=float, default=60, help="per ROM run, seconds")
    ap.add_argument("--boot-timeout", type=float, default=300, help="per Linux boot, seconds")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the ROMs' iteration counts")
    ap.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results"))
    ap.add_argument("--scratch", default=os.environ.get("SCRATCH", ".build"))
    a = ap.parse_args()
    engines = [e for e in a.engines.split(",") if e]
    workloads = [w for w in a.workloads.split(",") if w]
    for e in engines:
        if e not in ENGINES:
            sys.exit(f"harness: unknown engine '{e}'; choose from {', '.join(ENGINES)}")
    for w in workloads:
        if w not in ROMS and w != "boot":
            sys.exit(f"harness: unknown workload '{w}'; choose from {', '.join(list(ROMS) + ['boot'])}")
    os.makedirs(a.out, exist_ok=True)
    emu = build(a.scratch)
    qemu = shutil.which("qemu-system-x86_64")
    kvm_ok = os.access("/dev/kvm", os.R_OK | os.W_OK)
    guest = os.path.join(os.environ.get("EMU_CACHE", os.path.expanduser("~/.cache/emu")), "guest")
    if "boot" in workloads:
        subprocess.run([os.path.join(REPO, "scripts", "guest-images.sh")], check=True, stdout=sys.stderr)
    tmp = tempfile.mkdtemp(prefix="emu-harness.")

    for line in host_lines():
        print(line)
    print(f"runs per configuration: {a.runs}; ROM timeout {a.timeout:.0f} s, boot timeout {a.boot_timeout:.0f} s; "
          f"scale {a.scale}; wall time includes start-up; a failure or timeout is not repeated")
    for w in workloads:
        desc = ROMS[w][3] if w in ROMS else "Linux 6.1 + busybox, 256 MiB: start until init prints EMU-GUEST-READY"
        print(f"  {w}: {desc}")
    print()

    rows = []
    for w in workloads:
        rom = assemble(tmp, w, a.scale) if w in ROMS else None
        for e in engines:
            skip = None
            if e.startswith("qemu") and not qemu:
                skip = "n/a (qemu-system-x86_64 not installed)"
            elif e.endswith("kvm") and not kvm_ok:
                skip = "n/a (/dev/kvm not usable)"
            times, status = [], "ok"
            if skip:
                status = skip
            else:
                for _ in range(a.runs):
                    if rom:
                        r = time_rom(rom_command(e, emu, qemu, rom), a.timeout)
                    else:
                        r = time_boot(boot_command(e, emu, qemu, guest), a.boot_timeout)
                    if isinstance(r, float):
                        times.append(r)
                    else:
                        status = r
                        break
            rows.append({"workload": w, "engine": e, "status": status, "runs": len(times),
                         "median_s": statistics.median(times) if times and status == "ok" else None,
                         "min_s": min(times) if times and status == "ok" else None,
                         "max_s": max(times) if times and status == "ok" else None})
            print(f"  measured {w:7s} {e:11s} {status if status != 'ok' else fmt(rows[-1]['median_s']) + ' s'}",
                  file=sys.stderr)

    base = {r["workload"]: r["median_s"] for r in rows if r["engine"] == a.baseline}
    print(f"{'workload':9s} {'engine':11s} {'median s':>10s} {'min-max s':>17s} {'x ' + a.baseline:>16s}")
    for r in rows:
        if r["status"] != "ok":
            print(f"{r['workload']:9s} {r['engine']:11s} {r['status']}")
            continue
        b = base.get(r["workload"])
        ratio = f"{r['median_s'] / b:.2f}x" if b else "-"
        r["ratio_to_baseline"] = r["median_s"] / b if b else None
        print(f"{r['workload']:9s} {r['engine']:11s} {r['median_s']:10.3f} "
              f"{r['min_s']:8.3f}-{r['max_s']:<8.3f} {ratio:>16s}")
    print(f"(ratio = median / {a.baseline}'s median on the same workload; > 1 is slower)")

    csv_path = os.path.join(a.out, "results.csv")
    with open(csv_path, "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=["workload", "engine", "status", "runs", "median_s", "min_s", "max_s",
                                           "ratio_to_baseline"])
        wr.writeheader()
        for r in rows:
            wr.writerow({k: r.get(k) for k in wr.fieldnames})
    print(f"CSV: {csv_path}")
    png = os.path.join(a.out, "results.png")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(workloads)), 4.5))
        width = 0.8 / max(1, len(engines))
        for i, e in enumerate(engines):
            xs, ys = [], []
            for j, w in enumerate(workloads):
                r = next(r for r in rows if r["workload"] == w and r["engine"] == e)
                if r["median_s"] is not None:
                    xs.append(j + i * width)
                    ys.append(r["median_s"])
            ax.bar(xs, ys, width, label=e)
        ax.set_xticks([j + width * (len(engines) - 1) / 2 for j in range(len(workloads))])
        ax.set_xticklabels(workloads)
        ax.set_yscale("log")
        ax.set_ylabel("median wall time, s (log scale; missing bar = failed/timeout/n.a.)")
        ax.set_title(host_lines()[0][6:])
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(png, dpi=110)
        print(f"PNG: {png}")
    except ImportError:
        print("PNG: skipped (python3-matplotlib is not installed; benchmarks/harness.sh installs it)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
