#!/usr/bin/env bash
# Builds emu's test guest from Debian packages into a cache folder outside the repo
# (default ${EMU_CACHE:-$HOME/.cache/emu}/guest); see docs/GUEST.md.
#
#   vmlinuz, vmlinuz.config  Debian's cloud kernel (linux-image-cloud-amd64 -> linux-image-6.1.0-NN-cloud-amd64)
#   initramfs.cpio.gz        busybox-static + /init (prints EMU-GUEST-READY; emu.test=poweroff powers off)
#   disk.img, disk-test.img  64 MiB MBR disk, FAT16 partition at sector 2048, syslinux, kernel + initrd
#                            (disk-test.img appends emu.test=poweroff)
#   memtest86+x64.bin        from Debian's memtest86+
#   manifest.txt             file, size, sha256, source package and version
#
# Idempotent: a piece is rebuilt only when missing or when its inputs (package versions, the
# script's recipe, the kernel arguments) changed; .stamps/ keeps what each piece was built from.
# Nothing is installed into the host's /boot: packages are fetched with `apt-get download` and
# unpacked with dpkg-deb. As root it may run `apt-get update` and install the tools it needs.
#
# Usage: scripts/guest-images.sh [--cache DIR] [--force] [--qemu-check]
#   --cache DIR    build into DIR instead of the default
#   --force        rebuild everything
#   --qemu-check   afterwards, boot the results in qemu-system-x86_64 (a reference, if installed)
set -euo pipefail

# Kernel arguments of the guest, for direct (-kernel) boot and the disk's syslinux.cfg alike.
GUEST_CMDLINE="console=ttyS0,115200 panic=-1"
TEST_ARG="emu.test=poweroff"
KERNEL_META=linux-image-cloud-amd64
BUSYBOX_PKG=busybox-static
MEMTEST_PKG=memtest86+
DISK_MIB=64
PART_START=2048          # first sector of the FAT16 partition
RECIPE=2                 # bump when a build step changes in a way that changes its output
SOURCE_EPOCH=0           # mtime of everything inside the initramfs (reproducible archive)
TOOLS_PKGS=(cpio mtools syslinux syslinux-common fdisk dosfstools gzip)

export PATH="$PATH:/usr/sbin:/sbin"
export MTOOLS_SKIP_CHECK=1 LC_ALL=C

log() { echo "guest-images: $*" >&2; }
die() { echo "guest-images: error: $*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

CACHE="${EMU_CACHE:-$HOME/.cache/emu}/guest"
FORCE=0
QEMU_CHECK=0
while [ $# -gt 0 ]; do
    case "$1" in
        --cache) [ $# -ge 2 ] || die "--cache needs a directory"; CACHE=$2; shift 2 ;;
        --cache=*) CACHE=${1#--cache=}; shift ;;
        --force) FORCE=1; shift ;;
        --qemu-check) QEMU_CHECK=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

REPO=$(cd "$(dirname "$0")/.." && pwd -P)
CACHE=$(realpath -m "$CACHE")
case "$CACHE/" in
    "$REPO/"*) die "the cache ($CACHE) must be outside the repository ($REPO)" ;;
esac
IS_ROOT=0
[ "$(id -u)" -eq 0 ] && IS_ROOT=1
START_TIME=$(date +%s)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/emu-guest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ---------------------------------------------------------------- host tools and apt lists

# One apt-cache call for the candidate records of the packages we fetch; true when they are known.
APT_INFO=""
apt_ready() {
    APT_INFO=$(apt-cache show --no-all-versions "$KERNEL_META" "$BUSYBOX_PKG" "$MEMTEST_PKG" 2>/dev/null || true)
    [ -n "$(apt_field "$KERNEL_META" Version)" ]
}
# apt_field PACKAGE FIELD: a field of PACKAGE's candidate record.
apt_field() {
    awk -v p="$1" -v f="$2: " 'BEGIN { RS = ""; FS = "\n" }
        { pk = ""; for (i = 1; i <= NF; i++) if (index($i, "Package: ") == 1) pk = substr($i, 10)
          if (pk == p) for (i = 1; i <= NF; i++) if (index($i, f) == 1) { print substr($i, length(f) + 1); exit } }' \
        <<< "$APT_INFO"
}

APT_UPDATED=0
apt_update() {
    [ $IS_ROOT -eq 1 ] || die "the apt package lists are empty or stale: run 'apt-get update' as root"
    log "apt-get update"
    apt-get update -qq >&2
    APT_UPDATED=1
}

ensure_tools() {
    local missing=() cmd pkg
    for pair in cpio:cpio mcopy:mtools mattrib:mtools syslinux:syslinux sfdisk:fdisk \
                mkfs.fat:dosfstools gzip:gzip dpkg-deb:dpkg apt-get:apt; do
        cmd=${pair%%:*}; pkg=${pair#*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ -f /usr/lib/syslinux/mbr/mbr.bin ] || missing+=(syslinux-common)
    [ ${#missing[@]} -eq 0 ] && return 0
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    [ $IS_ROOT -eq 1 ] || die "missing tools; install them as root: apt-get install ${TOOLS_PKGS[*]}"
    apt_ready || apt_update
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$TMP/apt-install.log" 2>&1 ||
        { cat "$TMP/apt-install.log" >&2; die "apt-get install ${missing[*]} failed"; }
}

ensure_tools
apt_ready || { apt_update; apt_ready; } || die "$KERNEL_META not found in the apt lists"

pkg_version() { apt_field "$1" Version; }
host_version() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo unknown; }

# Fetches PKG=VERSION into $CACHE/debs (kept there as a download cache) and prints the path.
fetch_deb() {
    local pkg=$1 ver=$2 dest dl
    dest="$CACHE/debs/${pkg}_${ver//:/%3a}.deb"
    if [ -f "$dest" ] && [ "$(dpkg-deb -f "$dest" Version 2>/dev/null)" = "$ver" ]; then
        echo "$dest"; return 0
    fi
    mkdir -p "$CACHE/debs"
    dl=$(mktemp -d "$TMP/dl.XXXXXX")
    # apt-get download as root drops privileges to _apt: let that user write the directory.
    if [ $IS_ROOT -eq 1 ] && getent passwd _apt >/dev/null; then chmod 755 "$TMP"; chown _apt "$dl"; fi
    log "downloading $pkg $ver"
    if ! (cd "$dl" && apt-get download -qq "$pkg=$ver" >&2); then
        # Stale lists (the version is gone from the mirror): refresh once and retry.
        [ $IS_ROOT -eq 1 ] && [ $APT_UPDATED -eq 0 ] || die "apt-get download $pkg=$ver failed"
        apt_update
        (cd "$dl" && apt-get download -qq "$pkg=$ver" >&2) || die "apt-get download $pkg=$ver failed"
    fi
    local got=("$dl"/*.deb)
    [ -f "${got[0]}" ] || die "apt-get download $pkg=$ver produced no .deb"
    # Drop older downloads of the same package.
    rm -f "$CACHE/debs/${pkg}_"*.deb
    mv "${got[0]}" "$dest"
    echo "$dest"
}

# Extracts one member (./path) of a .deb to a file.
deb_member() { dpkg-deb --fsys-tarfile "$1" | tar -xO "$2" > "$3"; }

# ---------------------------------------------------------------- resolve versions

log "resolving package versions"
META_VER=$(pkg_version "$KERNEL_META")
[ -n "$META_VER" ] || die "$KERNEL_META not found in the apt lists"
META_DEPENDS=$(apt_field "$KERNEL_META" Depends)
KERNEL_PKG=$(printf '%s\n' "$META_DEPENDS" | tr ',|' '\n\n' | sed 's/^ *//' |
             grep -o '^linux-image-[0-9][^ ]*' | head -n1 || true)
[ -n "$KERNEL_PKG" ] || die "no linux-image-* in $KERNEL_META's Depends: $META_DEPENDS"
KERNEL_VER=$(printf '%s\n' "$META_DEPENDS" | sed -n "s/.*$KERNEL_PKG (= \([^)]*\)).*/\1/p")
[ -n "$KERNEL_VER" ] || KERNEL_VER=$(apt-cache show --no-all-versions "$KERNEL_PKG" 2>/dev/null | sed -n 's/^Version: //p' | head -n1)
[ -n "$KERNEL_VER" ] || die "cannot resolve the version of $KERNEL_PKG"
BUSYBOX_VER=$(pkg_version "$BUSYBOX_PKG")
MEMTEST_VER=$(pkg_version "$MEMTEST_PKG")
[ -n "$BUSYBOX_VER" ] || die "$BUSYBOX_PKG not found in the apt lists"
[ -n "$MEMTEST_VER" ] || die "$MEMTEST_PKG not found in the apt lists"
SYSLINUX_VER="$(host_version syslinux)/$(host_version syslinux-common)"
MTOOLS_VER=$(host_version mtools)

mkdir -p "$CACHE/.stamps"

# up_to_date PIECE INPUTS FILE...: true when every FILE exists and the stamp records INPUTS.
up_to_date() {
    local piece=$1 inputs=$2 f; shift 2
    [ $FORCE -eq 0 ] || return 1
    for f in "$@"; do [ -f "$CACHE/$f" ] || return 1; done
    [ -f "$CACHE/.stamps/$piece" ] && [ "$(cat "$CACHE/.stamps/$piece")" = "$inputs" ]
}
stamp() { printf '%s\n' "$2" > "$CACHE/.stamps/$1"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---------------------------------------------------------------- 1. kernel

K_INPUTS="recipe=$RECIPE
$KERNEL_META=$META_VER
$KERNEL_PKG=$KERNEL_VER"
if up_to_date kernel "$K_INPUTS" vmlinuz vmlinuz.config; then
    log "vmlinuz: up to date ($KERNEL_PKG $KERNEL_VER)"
else
    deb=$(fetch_deb "$KERNEL_PKG" "$KERNEL_VER")
    kx="$TMP/kernel"; mkdir -p "$kx"
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$kx" --wildcards './boot/*'
    kimg=("$kx"/boot/vmlinuz-*); kcfg=("$kx"/boot/config-*)
    [ -f "${kimg[0]}" ] && [ -f "${kcfg[0]}" ] || die "$KERNEL_PKG has no /boot/vmlinuz-* or /boot/config-*"
    for opt in CONFIG_DEVTMPFS CONFIG_BLK_DEV_INITRD CONFIG_RD_GZIP CONFIG_SERIAL_8250_CONSOLE; do
        grep -q "^$opt=y" "${kcfg[0]}" || log "warning: $KERNEL_PKG lacks $opt=y"
    done
    cp "${kimg[0]}" "$CACHE/vmlinuz.new"; mv "$CACHE/vmlinuz.new" "$CACHE/vmlinuz"
    cp "${kcfg[0]}" "$CACHE/vmlinuz.config.new"; mv "$CACHE/vmlinuz.config.new" "$CACHE/vmlinuz.config"
    stamp kernel "$K_INPUTS"
    log "vmlinuz: built from $KERNEL_PKG $KERNEL_VER"
fi

# ---------------------------------------------------------------- 2. initramfs

INIT_SCRIPT='#!/bin/sh
# emu test guest init (generated by scripts/guest-images.sh)
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts 2>/dev/null
# Without a usable /dev/console at boot the kernel leaves fds 0-2 closed: (re)open them.
if (: </dev/console) 2>/dev/null; then exec </dev/console >/dev/console 2>&1; fi
echo
uname -r
echo EMU-GUEST-READY
case " $(cat /proc/cmdline) " in
*" emu.test=poweroff "*)
    echo EMU-GUEST-POWEROFF
    poweroff -f
    ;;
esac
echo "emu guest: shell on the console (exit it or type poweroff to power off)"
# busybox poweroff/reboot/halt signal PID 1 (USR2/TERM/USR1): act on them here.
trap "echo EMU-GUEST-POWEROFF; poweroff -f" USR2
trap "reboot -f" TERM
trap "halt -f" USR1
setsid cttyhack /bin/sh -l &
wait $!
echo EMU-GUEST-POWEROFF
poweroff -f
sleep 1
reboot -f
'
PROFILE='export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
export PS1='"'emu# '"'
'
INIT_SHA=$(printf '%s\n%s' "$INIT_SCRIPT" "$PROFILE" | sha256sum | cut -d' ' -f1)

# newc_node NAME MODE MAJOR MINOR INO: one newc cpio entry without data (directory or device node),
# written by hand so the nodes are there even when the build runs without root (no mknod).
newc_node() {
    local name=$1 mode=$2 maj=$3 min=$4 ino=$5 namesize pad
    namesize=$(( ${#name} + 1 ))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        "$ino" "$mode" 0 0 1 "$SOURCE_EPOCH" 0 0 0 "$maj" "$min" "$namesize" 0
    printf '%s\0' "$name"
    pad=$(( (4 - (110 + namesize) % 4) % 4 ))
    while [ $pad -gt 0 ]; do printf '\0'; pad=$((pad - 1)); done
}

I_INPUTS="recipe=$RECIPE
$BUSYBOX_PKG=$BUSYBOX_VER
init=$INIT_SHA"
if up_to_date initramfs "$I_INPUTS" initramfs.cpio.gz; then
    log "initramfs.cpio.gz: up to date ($BUSYBOX_PKG $BUSYBOX_VER)"
else
    deb=$(fetch_deb "$BUSYBOX_PKG" "$BUSYBOX_VER")
    st="$TMP/initramfs"
    mkdir -p "$st"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,mnt}
    deb_member "$deb" ./bin/busybox "$st/bin/busybox"
    chmod 755 "$st/bin/busybox"
    # The static busybox runs on the (x86-64) host: ask it for its applets.
    applets=$("$st/bin/busybox" --list-full) || die "cannot run $BUSYBOX_PKG's busybox on this host"
    n=0
    while IFS= read -r p; do
        [ -n "$p" ] && [ "$p" != bin/busybox ] || continue
        [ -e "$st/$p" ] || [ -L "$st/$p" ] && continue
        mkdir -p "$st/$(dirname "$p")"
        ln -s /bin/busybox "$st/$p"
        n=$((n + 1))
    done <<< "$applets"
    for a in sh mount cttyhack setsid poweroff reboot uname cat; do
        grep -qx "[a-z/]*/$a" <<< "$applets" || die "busybox lacks the $a applet"
    done
    printf '%s' "$INIT_SCRIPT" > "$st/init"; chmod 755 "$st/init"
    printf '%s' "$PROFILE" > "$st/etc/profile"
    chmod 700 "$st/root"; chmod 1777 "$st/tmp"
    find "$st" -exec touch -h -d "@$SOURCE_EPOCH" {} +
    {
        (cd "$st" && find . -mindepth 1 | sed 's|^\./||' | sort |
            cpio -o -H newc --owner=0:0 --reproducible --quiet)
        # A second archive with the device nodes (the kernel unpacks concatenated archives).
        newc_node dev 040755 0 0 900001
        newc_node dev/console 020600 5 1 900002
        newc_node dev/ttyS0 020660 4 64 900003
        newc_node dev/null 020666 1 3 900004
        newc_node TRAILER!!! 0 0 0 0
    } | gzip -9 -n > "$CACHE/initramfs.cpio.gz.new"
    mv "$CACHE/initramfs.cpio.gz.new" "$CACHE/initramfs.cpio.gz"
    stamp initramfs "$I_INPUTS"
    log "initramfs.cpio.gz: built from $BUSYBOX_PKG $BUSYBOX_VER ($n applet links)"
fi

# ---------------------------------------------------------------- 3. disk images

syslinux_cfg() { # APPEND arguments
    printf 'SERIAL 0 115200\nDEFAULT linux\nPROMPT 0\nTIMEOUT 1\nLABEL linux\n'
    printf '  KERNEL /vmlinuz\n  APPEND initrd=/initrd.gz %s\n' "$1"
}

D_INPUTS="recipe=$RECIPE
disk=${DISK_MIB}MiB start=$PART_START
cmdline=$GUEST_CMDLINE
test=$TEST_ARG
vmlinuz=$(sha "$CACHE/vmlinuz")
initramfs=$(sha "$CACHE/initramfs.cpio.gz")
syslinux=$SYSLINUX_VER
mtools=$MTOOLS_VER"
if up_to_date disk "$D_INPUTS" disk.img disk-test.img; then
    log "disk.img, disk-test.img: up to date"
else
    img="$TMP/disk.img"; part="$TMP/part.img"
    total=$(( DISK_MIB * 2048 )); psect=$(( total - PART_START ))
    truncate -s "${DISK_MIB}M" "$img"
    printf 'label: dos\nlabel-id: 0x454d5547\nunit: sectors\n\nstart=%d, size=%d, type=6, bootable\n' \
        "$PART_START" "$psect" | sfdisk --quiet "$img" >&2
    mkfs.fat -F 16 -n EMUGUEST -h "$PART_START" -S 512 --invariant \
        -C "$part" $(( psect / 2 )) >/dev/null
    dd if="$part" of="$img" bs=512 seek="$PART_START" conv=notrunc,sparse status=none
    rm -f "$part"
    syslinux --install --offset $(( PART_START * 512 )) "$img"
    dd if=/usr/lib/syslinux/mbr/mbr.bin of="$img" bs=440 count=1 conv=notrunc status=none
    fat="$img@@$(( PART_START * 512 ))"
    mcopy -m -i "$fat" "$CACHE/vmlinuz" ::/vmlinuz
    mcopy -m -i "$fat" "$CACHE/initramfs.cpio.gz" ::/initrd.gz
    syslinux_cfg "$GUEST_CMDLINE" > "$TMP/syslinux.cfg"
    mcopy -i "$fat" "$TMP/syslinux.cfg" ::/syslinux.cfg
    cp --sparse=always "$img" "$TMP/disk-test.img"
    syslinux_cfg "$GUEST_CMDLINE $TEST_ARG" > "$TMP/syslinux.cfg"
    mcopy -o -i "$TMP/disk-test.img@@$(( PART_START * 512 ))" "$TMP/syslinux.cfg" ::/syslinux.cfg
    mv "$img" "$CACHE/disk.img"
    mv "$TMP/disk-test.img" "$CACHE/disk-test.img"
    stamp disk "$D_INPUTS"
    log "disk.img, disk-test.img: built (syslinux $SYSLINUX_VER)"
fi

# ---------------------------------------------------------------- 4. memtest86+

M_INPUTS="recipe=$RECIPE
$MEMTEST_PKG=$MEMTEST_VER"
if up_to_date memtest "$M_INPUTS" memtest86+x64.bin; then
    log "memtest86+x64.bin: up to date ($MEMTEST_PKG $MEMTEST_VER)"
else
    deb=$(fetch_deb "$MEMTEST_PKG" "$MEMTEST_VER")
    deb_member "$deb" ./boot/memtest86+x64.bin "$CACHE/memtest86+x64.bin.new"
    mv "$CACHE/memtest86+x64.bin.new" "$CACHE/memtest86+x64.bin"
    stamp memtest "$M_INPUTS"
    log "memtest86+x64.bin: built from $MEMTEST_PKG $MEMTEST_VER"
fi

# ---------------------------------------------------------------- 5. manifest

ARTIFACTS=(vmlinuz vmlinuz.config initramfs.cpio.gz disk.img disk-test.img memtest86+x64.bin)
source_of() {
    case "$1" in
        vmlinuz|vmlinuz.config) echo "$KERNEL_PKG $KERNEL_VER (via $KERNEL_META $META_VER)" ;;
        initramfs.cpio.gz) echo "$BUSYBOX_PKG $BUSYBOX_VER" ;;
        disk.img|disk-test.img) echo "$KERNEL_PKG $KERNEL_VER + $BUSYBOX_PKG $BUSYBOX_VER + syslinux $SYSLINUX_VER" ;;
        memtest86+x64.bin) echo "$MEMTEST_PKG $MEMTEST_VER" ;;
    esac
}
{
    echo "# emu test guest, built by scripts/guest-images.sh (recipe $RECIPE)"
    echo "# kernel arguments: $GUEST_CMDLINE   (disk-test.img adds: $TEST_ARG)"
    echo "# file	bytes	sha256	source"
    for f in "${ARTIFACTS[@]}"; do
        printf '%s\t%s\t%s\t%s\n' "$f" "$(stat -c %s "$CACHE/$f")" "$(sha "$CACHE/$f")" "$(source_of "$f")"
    done
} > "$CACHE/manifest.txt.new"
mv "$CACHE/manifest.txt.new" "$CACHE/manifest.txt"

# ---------------------------------------------------------------- optional QEMU reference boot

# qemu_boot NAME TIMEOUT ARGS...: boots, requires EMU-GUEST-READY, EMU-GUEST-POWEROFF and a clean exit.
qemu_boot() {
    local name=$1 limit=$2 logf t0 rc; shift 2
    logf="$TMP/qemu-$name.log"
    t0=$(date +%s.%N)
    set +e
    timeout "$limit" qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot "$@" \
        </dev/null 2>&1 | while IFS= read -r line; do
            printf '%s %s\n' "$(date +%s.%N)" "$line"
        done > "$logf"
    rc=${PIPESTATUS[0]}
    set -e
    local ready off
    ready=$(grep -m1 ' EMU-GUEST-READY' "$logf" | cut -d' ' -f1 || true)
    off=$(grep -m1 ' EMU-GUEST-POWEROFF' "$logf" | cut -d' ' -f1 || true)
    if [ $rc -eq 0 ] && [ -n "$ready" ] && [ -n "$off" ]; then
        log "qemu $name: OK, EMU-GUEST-READY after $(printf "%.1f" "$(echo "$ready - $t0" | bc)") s, exit after $(printf "%.1f" "$(echo "$(date +%s.%N) - $t0" | bc)") s"
        return 0
    fi
    log "qemu $name: FAILED (exit $rc, ready=${ready:-no}, poweroff=${off:-no}); last lines:"
    tail -n 20 "$logf" | cut -d' ' -f2- >&2
    return 1
}

if [ $QEMU_CHECK -eq 1 ]; then
    command -v qemu-system-x86_64 >/dev/null || die "--qemu-check: qemu-system-x86_64 is not installed"
    command -v bc >/dev/null || die "--qemu-check needs bc"
    fails=0
    qemu_boot direct 300 -kernel "$CACHE/vmlinuz" -initrd "$CACHE/initramfs.cpio.gz" \
        -append "$GUEST_CMDLINE $TEST_ARG" || fails=1
    before=$(sha "$CACHE/disk-test.img")
    qemu_boot disk 300 -drive "file=$CACHE/disk-test.img,format=raw,snapshot=on" || fails=1
    [ "$(sha "$CACHE/disk-test.img")" = "$before" ] || { log "disk-test.img changed during the boot"; fails=1; }
    [ $fails -eq 0 ] || die "QEMU reference boot failed"
fi

for f in "${ARTIFACTS[@]}" manifest.txt; do
    printf '%s\t%s\n' "$CACHE/$f" "$(stat -c %s "$CACHE/$f")"
done
log "done in $(( $(date +%s) - START_TIME )) s"
