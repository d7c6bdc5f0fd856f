#!/usr/bin/env bash
# One command for the whole benchmark table: installs what it needs (nasm, python3-matplotlib;
# qemu-system-x86 is used when present), then runs benchmarks/harness.py with the given options.
# Usage: benchmarks/harness.sh [--runs N] [--baseline ENGINE] [--workloads ...] [--engines ...]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
if ! $PY -c 'import matplotlib' 2>/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-matplotlib >/dev/null \
        || echo "harness: python3-matplotlib could not be installed; the PNG chart will be skipped" >&2
fi
exec $PY benchmarks/harness.py "$@"
