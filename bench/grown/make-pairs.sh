#!/usr/bin/env bash
# The grown-file pairs of issue #16: the smallest real pairs with a move in them.
#
#   bench/grown/make-pairs.sh OUTDIR
#
# Five files f1..f5 (seq output, 2,692 to 3,893 bytes each); in B, f2 grows by one line at its
# start (`seq 1 800 > f2` vs `(echo header; seq 1 800) > f2`: 7 bytes inserted at offset 0), so
# everything stored after f2's data moves by 7 bytes (or by the padding-rounded difference).
# Every time is pinned to N=1700000000 (file mtimes, archive times, volume dates), so the one
# true cause is f2's content. For each format, OUTDIR/FMT.a and OUTDIR/FMT.b:
#
#   tar.{a,b}     tar --sort=name --mtime=@N --owner=0 --group=0 --numeric-owner -cf
#   cpio.{a,b}    find . | sort | cpio -o -H newc --reproducible
#   zip.{a,b}     zip -X -r (files touched to N first; TZ=UTC)
#   iso.{a,b}     SOURCE_DATE_EPOCH=N xorriso -as mkisofs -R -J -o  (files touched to N)
#   sqfs.{a,b}    mksquashfs -mkfs-time N -all-time N -noappend
#
# OUTDIR/big/ holds the same five pairs made from larger files (seq 1 40000 ... seq 7 70000, 200 to
# 480 KB each) where f2 grows by 300 lines (3,192 bytes) at its start: there the growth crosses tar
# blocks and ISO sectors and squashfs stores the files in full data blocks, so the members, extents
# and data blocks after f2 move as they do in a real build.
# The trees are kept as OUTDIR/tree.{a,b} and OUTDIR/big/tree.{a,b}. Needs tar, cpio, zip, xorriso,
# squashfs-tools. Deterministic: running it twice gives the same bytes.
set -euo pipefail
if [ $# -ne 1 ]; then echo "usage: $0 OUTDIR" >&2; exit 2; fi
OUT=$(realpath -m "$1")
N=1700000000
export TZ=UTC LC_ALL=C
for t in tar cpio zip xorriso mksquashfs; do
  command -v "$t" >/dev/null || { echo "make-pairs.sh: $t is missing" >&2; exit 2; }
done
mkdir -p "$OUT"

tree() { # tree SIDE [big]
  local d=$OUT/${2:+$2/}tree.$1
  rm -rf "$d"; mkdir -p "$d"
  if [ -z "${2:-}" ]; then
    seq 1 700 >"$d/f1"
    if [ "$1" = a ]; then seq 1 800 >"$d/f2"; else (echo header; seq 1 800) >"$d/f2"; fi
    seq 1 900 >"$d/f3"
    seq 1 1000 >"$d/f4"
    seq 100 900 >"$d/f5"
  else
    seq 1 40000 >"$d/f1"
    if [ "$1" = a ]; then seq 1 50000 >"$d/f2"; else (seq -f 'header %g' 1 300; seq 1 50000) >"$d/f2"; fi
    seq 1 60000 >"$d/f3"
    seq 5 45000 >"$d/f4"
    seq 7 70000 >"$d/f5"
  fi
  chmod 644 "$d"/f*
  chmod 755 "$d"
  touch -d "@$N" "$d"/f* "$d"
}

for set in "" big; do
  for s in a b; do
    tree $s $set
    o=$OUT${set:+/$set}
    d=$o/tree.$s
    rm -f "$o/tar.$s" "$o/cpio.$s" "$o/zip.$s" "$o/iso.$s" "$o/sqfs.$s"
    tar --sort=name --mtime="@$N" --owner=0 --group=0 --numeric-owner -C "$d" -cf "$o/tar.$s" f1 f2 f3 f4 f5
    (cd "$d" && printf '%s\n' f1 f2 f3 f4 f5 | cpio -o -H newc --reproducible --quiet >"$o/cpio.$s")
    (cd "$d" && zip -X -q "$o/zip.$s" f1 f2 f3 f4 f5)
    SOURCE_DATE_EPOCH=$N xorriso -as mkisofs -quiet -R -J -V GROWN -o "$o/iso.$s" "$d" 2>/dev/null
    mksquashfs "$d" "$o/sqfs.$s" -mkfs-time "$N" -all-time "$N" -noappend -quiet >/dev/null
    # undo the time changes that reading might make, so a rerun of the script sees the same tree
    touch -d "@$N" "$d"/f* "$d"
  done
done
ls -l "$OUT" "$OUT/big"
