#!/usr/bin/env bash
# Installs the Debian packages the build and tests need (idempotent; quiet when present).
set -euo pipefail
need=()
command -v nasm >/dev/null 2>&1 || need+=(nasm)
command -v gzip >/dev/null 2>&1 || need+=(gzip)
command -v bc >/dev/null 2>&1 || need+=(bc)
[ -f /usr/share/seabios/bios-256k.bin ] || need+=(seabios)
# The x86-64-v3 guest program: gcc -static needs libc6-dev's libc.a; objdump checks its code.
command -v gcc >/dev/null 2>&1 || need+=(gcc)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || need+=(libc6-dev)
command -v objdump >/dev/null 2>&1 || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
