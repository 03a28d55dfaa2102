#!/usr/bin/env bash
# Rebuilds the committed sample pairs with the real tools (Debian: xorriso; for the hybrid pair also dosfstools, mtools, isolinux).
#   basic-a.iso / basic-b.iso   : the same tree, copied afresh and built twice a few seconds apart
#                                 (volume dates and file times differ)
#   order-a.iso / order-b.iso   : pinned volume dates; in B one file was touched, one file holds a fresh
#                                 random UUID, and the files are placed in another order
#   hybrid-a.iso / hybrid-b.iso : isohybrid MBR + GPT, El Torito BIOS + EFI with a FAT efiboot.img, built twice
#   uki-a.efi / uki-b.efi       : a UKI assembled twice by objcopy; B's zstd initrd has another member order and
#                                 fresh mtimes, its command line a fresh root UUID
# Usage: samples/make-samples.sh [OUTDIR]   (default: the folder of this script)
set -euo pipefail
out="$(cd "${1:-$(dirname "$0")}" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v xorriso >/dev/null || { echo "xorriso is needed (apt-get install xorriso)" >&2; exit 2; }

# a small tree that looks like a boot medium
make_tree() {
  local t="$1"
  mkdir -p "$t/boot/grub" "$t/EFI/BOOT" "$t/live" "$t/docs"
  printf 'set timeout=5\nmenuentry "Live" { linux /live/vmlinuz boot=live; initrd /live/initrd.img }\n' > "$t/boot/grub/grub.cfg"
  # deterministic pseudo-random payloads (not /dev/urandom, so both builds carry the same content)
  for i in 1 2 3 4 5 6; do
    python3 -c "import random,sys; r=random.Random($i); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(3000*$i)))" > "$t/live/part$i.bin"
  done
  printf 'NAME="Sample OS"\nVERSION_ID=1.0\n' > "$t/docs/os-release"
  printf 'build-id: 0\n' > "$t/docs/build-info.txt"
  ln -s ../docs/os-release "$t/boot/os-release"
}

# --- basic: two builds seconds apart, tree copied afresh each time (fresh mtimes) -------------------
make_tree "$work/src"
build_basic() {
  rm -rf "$work/tree"
  cp -r "$work/src" "$work/tree"          # cp without -p: every file gets the current time
  xorriso -as mkisofs -R -J -V SAMPLE_OS -o "$1" "$work/tree" 2>/dev/null
}
build_basic "$out/basic-a.iso"
sleep 2
build_basic "$out/basic-b.iso"

# --- order: pinned dates; one file touched, one fresh UUID, another placement order -----------------
pin=1700000000
build_order() {
  local iso="$1" uuid="$2" touched="$3"
  shift 3
  rm -rf "$work/tree" "$iso"
  cp -r "$work/src" "$work/tree"
  printf 'build-id: %s\n' "$uuid" > "$work/tree/docs/build-info.txt"
  find "$work/tree" -exec touch -h -d "@$pin" {} +
  touch -d "@$touched" "$work/tree/docs/os-release"
  # native xorriso commands: `-find PATH -exec sort_weight N --` places heavier files first (-as mkisofs ignores -sort)
  xorriso -outdev "$iso" -rockridge on -joliet on -volid SAMPLE_OS -map "$work/tree" / "$@" -commit 2>/dev/null
}
weights() { local w=6; for f in "$@"; do printf -- '-find /live/%s -exec sort_weight %s -- ' "$f" "$w"; w=$((w - 1)); done; }
export SOURCE_DATE_EPOCH=$pin
# shellcheck disable=SC2046
build_order "$out/order-a.iso" "4b1d3f0e-9a0c-4c7e-8d51-2f6a7b9c0d12" "$pin" $(weights part1.bin part2.bin part3.bin part4.bin part5.bin part6.bin)
# shellcheck disable=SC2046
build_order "$out/order-b.iso" "$(python3 -c 'import uuid; print(uuid.uuid4())')" "$((pin + 3600))" $(weights part6.bin part1.bin part2.bin part3.bin part4.bin part5.bin)
unset SOURCE_DATE_EPOCH

# --- hybrid: isohybrid MBR + GPT, El Torito BIOS (isolinux) and EFI (a FAT image made by mkfs.fat + mtools) --
# built twice seconds apart with nothing pinned: volume dates, file times, GPT GUIDs, the MBR signature,
# the FAT serial and FAT entry times all differ
build_hybrid() {
  local iso="$1" t="$work/hyb"
  rm -rf "$t" && mkdir -p "$t/isolinux" "$t/EFI/BOOT"
  cp /usr/lib/ISOLINUX/isolinux.bin "$t/isolinux/"
  printf 'default linux\n' > "$t/isolinux/isolinux.cfg"
  python3 -c "import random,sys; r=random.Random(7); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(20000)))" > "$t/EFI/BOOT/BOOTX64.EFI"
  rm -f "$work/efiboot.img"
  mkfs.fat -C "$work/efiboot.img" 400 >/dev/null
  mmd -i "$work/efiboot.img" ::/EFI ::/EFI/BOOT
  mcopy -i "$work/efiboot.img" "$t/EFI/BOOT/BOOTX64.EFI" ::/EFI/BOOT/
  cp "$work/efiboot.img" "$t/efiboot.img"
  xorriso -as mkisofs -R -J -V HYBRID -no-pad \
    -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin -c isolinux/boot.cat -b isolinux/isolinux.bin \
    -no-emul-boot -boot-load-size 4 -boot-info-table \
    -eltorito-alt-boot -e efiboot.img -no-emul-boot -isohybrid-gpt-basdat \
    -o "$iso" "$t" 2>/dev/null
}
if command -v mkfs.fat >/dev/null && command -v mmd >/dev/null && [ -f /usr/lib/ISOLINUX/isohdpfx.bin ]; then
  build_hybrid "$out/hybrid-a.iso"
  sleep 2
  build_hybrid "$out/hybrid-b.iso"
else
  echo "skipping the hybrid pair: needs dosfstools, mtools and isolinux" >&2
fi

# --- uki: a Unified Kernel Image assembled twice seconds apart with objcopy onto systemd's EFI stub ------
# B's initrd was packed in another member order with fresh mtimes, and its command line has a fresh root UUID
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
build_uki() {
  local efi="$1" uuid="$2" order="$3" t="$work/uki"
  rm -rf "$t" && mkdir -p "$t/ir/etc" "$t/ir/bin" "$t/ir/usr/lib"
  printf 'welcome\n' > "$t/ir/etc/motd"
  printf '#!/bin/sh\nexec /bin/sh\n' > "$t/ir/init"
  python3 -c "import random,sys; r=random.Random(3); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(4000)))" > "$t/ir/usr/lib/module.ko"
  (cd "$t/ir" && find . | LC_ALL=C sort $order | cpio -o -H newc 2>/dev/null) | zstd -q -19 > "$t/initrd.zst"
  printf 'root=UUID=%s ro quiet\n' "$uuid" > "$t/cmdline"
  printf 'NAME="Sample OS"\nID=sample\nVERSION_ID=1.0\n' > "$t/osrel"
  # a stand-in kernel: the real one would add megabytes to the repository
  python3 -c "import random,sys; r=random.Random(5); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range(30000)))" > "$t/linux"
  objcopy \
    --add-section .osrel="$t/osrel" --change-section-vma .osrel=0x20000 \
    --add-section .cmdline="$t/cmdline" --change-section-vma .cmdline=0x30000 \
    --add-section .linux="$t/linux" --change-section-vma .linux=0x2000000 \
    --add-section .initrd="$t/initrd.zst" --change-section-vma .initrd=0x3000000 \
    "$stub" "$efi"
}
if [ -f "$stub" ] && command -v objcopy >/dev/null && command -v cpio >/dev/null && command -v zstd >/dev/null; then
  build_uki "$out/uki-a.efi" "0b7c1a9e-3f42-4d6b-9e1a-5c2d8f3e4a10" ""
  sleep 2
  build_uki "$out/uki-b.efi" "$(python3 -c 'import uuid; print(uuid.uuid4())')" "-r"
else
  echo "skipping the UKI pair: needs systemd-boot-efi, binutils, cpio and zstd" >&2
fi

ls -l "$out"/*.iso "$out"/*.efi
