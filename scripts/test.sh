#!/usr/bin/env bash
# Runs the whole test suite: unit tests, test ROMs (assembled with nasm by the tests),
# and the 80286 conformance vectors from ../shared/conformance.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
swift build --build-tests "$@"
swift test --skip-build "$@"
