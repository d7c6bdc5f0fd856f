#!/usr/bin/env bash
# Boots the default guest: Debian's cloud kernel with a busybox initramfs, straight to a shell
# on the serial console (this terminal). Installs what it needs, builds emu (release) and the
# guest images (scripts/guest-images.sh, cached in ${EMU_CACHE:-~/.cache/emu}/guest).
# Type `poweroff` in the guest (or Ctrl-A X) to leave.
#   scripts/boot.sh                 direct kernel boot (fast)
#   scripts/boot.sh --disk          boot disk.img through SeaBIOS + syslinux instead
#   scripts/boot.sh -- ARGS...      extra arguments for `emu boot`
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
swift build -c release --product emu >&2
scripts/guest-images.sh >&2
guest=${EMU_CACHE:-$HOME/.cache/emu}/guest
mode=kernel
if [ "${1:-}" = "--disk" ]; then mode=disk; shift; fi
[ "${1:-}" = "--" ] && shift
if [ "$mode" = disk ]; then
    exec .build/release/emu boot --snapshot "$guest/disk.img" "$@"
fi
exec .build/release/emu boot --kernel "$guest/vmlinuz" --initrd "$guest/initramfs.cpio.gz" \
    --append "console=ttyS0,115200 panic=-1" "$@"
