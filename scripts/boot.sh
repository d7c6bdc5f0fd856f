#!/usr/bin/env bash
# Boots the default guest: builds emu (release), assembles the built-in hello ROM, runs it.
# Extra arguments are passed to `emu run-rom`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
swift build -c release --product emu >&2
mkdir -p build/testroms
nasm -f bin -o build/testroms/hello.bin testroms/hello.asm
set +e
.build/release/emu run-rom build/testroms/hello.bin "$@"
st=$?
# The guest reports success by writing 0 to the exit port: status (0 << 1) | 1 = 1.
[ $st -eq 1 ] && exit 0
exit $st
