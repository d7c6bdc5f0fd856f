#!/usr/bin/env bash
# Runs the whole test suite: unit tests, test ROMs (assembled with nasm by the tests), the
# 80286 conformance vectors from ../shared/conformance, and the boot tests (multiboot test
# kernel, memtest86+, Debian's Linux kernel + busybox initramfs, directly and through SeaBIOS),
# which run the release build of emu on the guest images from scripts/guest-images.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
swift build --build-tests "$@"
swift build -c release --product emu "$@"
export EMU_BIN="$(swift build -c release --show-bin-path "$@")/emu"
if scripts/guest-images.sh >&2; then
    export EMU_REQUIRE_GUEST=1
else
    echo "test.sh: the guest images could not be built; the Linux and memtest86+ boot tests will skip" >&2
fi
swift test --skip-build "$@"
