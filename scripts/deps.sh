#!/usr/bin/env bash
# Installs the Debian packages the build and tests need (idempotent; quiet when present).
set -euo pipefail
need=()
command -v nasm >/dev/null 2>&1 || need+=(nasm)
command -v gzip >/dev/null 2>&1 || need+=(gzip)
command -v bc >/dev/null 2>&1 || need+=(bc)
[ -f /usr/share/seabios/bios-256k.bin ] || need+=(seabios)
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
