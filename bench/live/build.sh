#!/usr/bin/env bash
# Build a Debian bookworm live ISO twice, the naive way, for reprodiff to compare.
#
#   sudo bench/live/build.sh OUTDIR            # naive pair: OUTDIR/a and OUTDIR/b
#   sudo bench/live/build.sh --pinned OUTDIR   # the same recipe with times pinned (see below)
#
# Needs root and Debian's packages: mmdebstrap, squashfs-tools, binutils (objcopy, objdump),
# systemd-boot-efi (the stub /usr/lib/systemd/boot/efi/linuxx64.efi.stub), grub-common,
# grub-efi-amd64-bin, grub-pc-bin, xorriso, mtools; and a reachable Debian mirror
# (MIRROR, default: the first URI of /etc/apt/sources.list.d/debian.sources, else
# http://deb.debian.org/debian). About 3 minutes per build; OUTDIR needs ~2.5 GB.
#
# Each side X in {a, b} is built from a fresh mmdebstrap, so file times, machine-id, random
# ids, the initrd and everything made from it differ as they do in a real rebuild:
#
#   1. mmdebstrap --variant=minbase --include=linux-image-amd64,initramfs-tools,systemd-sysv
#      bookworm ROOT MIRROR
#   2. mksquashfs ROOT X/filesystem.squashfs              (default options)
#   3. X/vmlinuz, X/initrd.img: copies of ROOT/boot/vmlinuz-*, ROOT/boot/initrd.img-*
#   4. X/debian.efi: a UKI made with objcopy on systemd's stub, sections .osrel (ROOT's
#      os-release), .cmdline, .linux, .initrd added at VMAs computed from the stub's section
#      table (objdump -h): each starts at the end of the previous one rounded up to the
#      stub's SectionAlignment (objdump -p), as systemd's docs (and ukify) lay them out
#   5. X/live.iso: grub-mkrescue -o live.iso ISOROOT, with /live/vmlinuz,
#      /live/initrd.img, /live/filesystem.squashfs, /EFI/Linux/debian.efi and
#      /boot/grub/grub.cfg
#   X/build.log has the tools' output, X/times the wall time of each step.
#   ROOT is deleted afterwards (KEEP_ROOT=1 keeps it as X/root).
#
# --pinned: SOURCE_DATE_EPOCH is exported (default 1700000000; mmdebstrap, mkinitramfs,
# mksquashfs and xorriso honour it), mksquashfs also gets -mkfs-time/-all-time, the ISO tree's
# files are touched to it, and xorriso gets --modification-date and --set_all_file_dates through
# grub-mkrescue's pass-through options (grub-mkrescue 2.06 passes --modification-date=<now> itself,
# ignoring SOURCE_DATE_EPOCH; the later option wins). Left to chance even then: what the packages'
# maintainer scripts generate (machine-id, random seeds), the PE timestamp objcopy writes
# (binutils 2.40 stamps the current time) and the FAT EFI image grub-mkrescue makes with mformat.
set -euo pipefail

PINNED=0
if [ "${1:-}" = "--pinned" ]; then PINNED=1; shift; fi
if [ $# -ne 1 ]; then
  echo "usage: $0 [--pinned] OUTDIR" >&2
  exit 2
fi
OUT=$(realpath -m "$1")
if [ "$(id -u)" -ne 0 ]; then echo "build.sh: needs root (mmdebstrap into a directory, chroot)" >&2; exit 2; fi
STUB=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
for t in mmdebstrap mksquashfs objcopy objdump grub-mkrescue xorriso mformat; do
  command -v "$t" >/dev/null || { echo "build.sh: $t is missing" >&2; exit 2; }
done
[ -f "$STUB" ] || { echo "build.sh: $STUB is missing (apt-get install systemd-boot-efi)" >&2; exit 2; }

if [ -z "${MIRROR:-}" ]; then
  MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi
SDE=${SOURCE_DATE_EPOCH:-1700000000}

step() { # step NAME CMD...: run, log, time
  local name=$1; shift
  local t0=$(date +%s.%N)
  echo "== $name: $*" >>"$X/build.log"
  "$@" >>"$X/build.log" 2>&1
  local t1=$(date +%s.%N)
  printf '%s %.1f\n' "$name" "$(echo "$t1 - $t0" | bc)" >>"$X/times"
}

make_uki() { # make_uki OSREL CMDLINE LINUX INITRD OUT
  local osrel=$1 cmdline=$2 linux=$3 initrd=$4 out=$5
  local align last size vma off
  align=$((16#$(objdump -p "$STUB" | awk '$1 == "SectionAlignment" {print $2}')))
  # the last section of the stub's table: end of its VMA range
  last=$(objdump -h "$STUB" | awk '$1 ~ /^[0-9]+$/ {size=$3; vma=$4} END {print size, vma}')
  size=$((16#${last% *})); vma=$((16#${last#* }))
  off=$((vma + size))
  local args=() name file
  for pair in ".osrel=$osrel" ".cmdline=$cmdline" ".linux=$linux" ".initrd=$initrd"; do
    name=${pair%%=*}; file=${pair#*=}
    off=$(( (off + align - 1) / align * align ))
    args+=(--add-section "$name=$file" --change-section-vma "$(printf '%s=0x%x' "$name" "$off")")
    off=$((off + $(stat -c %s "$file")))
  done
  objcopy "${args[@]}" "$STUB" "$out"
}

build_one() { # build_one SIDE
  X=$OUT/$1
  rm -rf "$X"; mkdir -p "$X"
  : >"$X/build.log"; : >"$X/times"
  local root=$X/root iso=$X/isoroot t0=$(date +%s)
  step mmdebstrap mmdebstrap --variant=minbase \
    --include=linux-image-amd64,initramfs-tools,systemd-sysv bookworm "$root" "$MIRROR"
  if [ $PINNED = 1 ]; then
    step mksquashfs mksquashfs "$root" "$X/filesystem.squashfs" -mkfs-time "$SDE" -all-time "$SDE"
  else
    step mksquashfs mksquashfs "$root" "$X/filesystem.squashfs"
  fi
  cp "$(ls "$root"/boot/vmlinuz-* | head -1)" "$X/vmlinuz"
  cp "$(ls "$root"/boot/initrd.img-* | head -1)" "$X/initrd.img"
  cp -L "$root/etc/os-release" "$X/os-release"
  echo "boot=live components quiet" >"$X/cmdline"
  step uki make_uki "$X/os-release" "$X/cmdline" "$X/vmlinuz" "$X/initrd.img" "$X/debian.efi"
  mkdir -p "$iso/live" "$iso/EFI/Linux" "$iso/boot/grub"
  cp "$X/vmlinuz" "$iso/live/vmlinuz"
  cp "$X/initrd.img" "$iso/live/initrd.img"
  cp "$X/filesystem.squashfs" "$iso/live/filesystem.squashfs"
  cp "$X/debian.efi" "$iso/EFI/Linux/debian.efi"
  cat >"$iso/boot/grub/grub.cfg" <<'EOF'
set timeout=5
menuentry "Debian bookworm live" {
  linux /live/vmlinuz boot=live components quiet
  initrd /live/initrd.img
}
menuentry "Debian bookworm live (UKI)" {
  chainloader /EFI/Linux/debian.efi
}
EOF
  if [ $PINNED = 1 ]; then
    find "$iso" -exec touch -h -d "@$SDE" {} +
    # grub-mkrescue 2.06 passes --modification-date=<now> itself; options after the tree go after it
    local stamp
    stamp=$(date -u -d "@$SDE" +%Y%m%d%H%M%S00)
    step grub-mkrescue grub-mkrescue -o "$X/live.iso" "$iso" --modification-date="$stamp" --set_all_file_dates "$stamp"
  else
    step grub-mkrescue grub-mkrescue -o "$X/live.iso" "$iso"
  fi
  if [ "${KEEP_ROOT:-0}" != 1 ]; then rm -rf "$root"; fi
  rm -rf "$iso"
  printf 'total %d\n' $(( $(date +%s) - t0 )) >>"$X/times"
  echo "built $X: $(cat "$X/times" | tr '\n' ' ')"
}

mkdir -p "$OUT"
if [ $PINNED = 1 ]; then export SOURCE_DATE_EPOCH=$SDE; fi
build_one a
build_one b
ls -l "$OUT"/a "$OUT"/b
