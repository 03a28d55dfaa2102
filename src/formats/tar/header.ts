/**
 * One 512-byte tar header block: POSIX ustar (IEEE 1003.1-1988 / 2001), the GNU variant ("ustar  \0")
 * and the older v7 layout (no magic). Numbers are octal text, or GNU base-256 when the first byte has its
 * high bit set.
 */
import type { Bytes } from '../../io/bytes.js';
import { decodeName } from '../../util/names.js';

export const BLOCK = 512;

// header layout: offset, length
export const H = {
  name: [0, 100], // 0 - name
  mode: [100, 8], // 100 - mode
  uid: [108, 8], // 108 - uid
  gid: [116, 8], // 116 - gid
  size: [124, 12], // 124 - size
  mtime: [136, 12], // 136 - mtime
  chksum: [148, 8], // 148 - chksum
  typeflag: [156, 1], // 156 - typeflag
  linkname: [157, 100], // 157 - linkname
  magic: [257, 6], // 257 - magic ("ustar\0" POSIX, "ustar " GNU)
  version: [263, 2], // 263 - version ("00" POSIX, " \0" GNU)
  uname: [265, 32], // 265 - uname
  gname: [297, 32], // 297 - gname
  devmajor: [329, 8], // 329 - devmajor
  devminor: [337, 8], // 337 - devminor
  prefix: [345, 155], // 345 - prefix (ustar); GNU puts atime/ctime at 345/357 and a sparse map at 386
  gnuAtime: [345, 12], // 345 - GNU atime
  gnuCtime: [357, 12], // 357 - GNU ctime
  gnuRealsize: [483, 12], // 483 - GNU sparse real size
} as const satisfies Record<string, readonly [number, number]>;

export type Dialect = 'ustar' | 'gnu' | 'v7';

export function dialectOf(b: Bytes): Dialect {
  // `ustar\0` (POSIX) or `ustar  \0` (GNU), compared as bytes
  const m = b.bytes(257, 8);
  if (m[0] !== 0x75 || m[1] !== 0x73 || m[2] !== 0x74 || m[3] !== 0x61 || m[4] !== 0x72) return 'v7';
  if (m[5] === 0) return 'ustar';
  if (m[5] === 0x20 && m[6] === 0x20 && m[7] === 0) return 'gnu';
  return 'v7';
}

/** Sum of the header bytes with the checksum field taken as eight spaces: unsigned and signed (old tars). */
export function headerSums(block: Uint8Array): { unsigned: number; signed: number } {
  // one pass over the block: the unsigned sum, and how many bytes are 0x80 or more (each counts 256 less signed)
  let u = 0;
  let high = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = block[i]!;
    u += c;
    high += c >> 7;
  }
  for (let i = 148; i < 156; i++) {
    const c = block[i]!;
    u -= c;
    high -= c >> 7;
  }
  u += 8 * 0x20;
  return { unsigned: u, signed: u - 256 * high };
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * A numeric field: octal digits with leading spaces/zeros, ended by NUL or space; or GNU base-256
 * (first byte 0x80 positive, 0xff negative two's complement). Returns null when the field is empty,
 * NaN when it is malformed or too large for a safe integer.
 */
export function parseNumber(b: Bytes, off: number, len: number): number | null {
  const raw = b.bytes(off, len);
  const first = raw[0] as number;
  if (first === 0x80 || first === 0xff) {
    let v = 0n;
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(raw[i] as number);
    if (first === 0xff) v -= 1n << BigInt(8 * (len - 1));
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) return Number.NaN;
    return Number(v);
  }
  let i = 0;
  while (i < len && raw[i] === 0x20) i++;
  // the digits read as a number directly (a header has a dozen numbers, and archives a million headers)
  let v = 0;
  let digits = 0;
  for (; i < len; i++) {
    const c = raw[i] as number;
    if (c === 0 || c === 0x20) break;
    if (c < 0x30 || c > 0x37) return Number.NaN;
    v = v * 8 + (c - 0x30);
    digits++;
  }
  for (; i < len; i++) {
    const c = raw[i] as number;
    if (c !== 0 && c !== 0x20) return Number.NaN;
  }
  if (digits === 0) return null;
  return Number.isSafeInteger(v) ? v : Number.NaN;
}

/** A NUL-terminated text field (names are bytes; decoded as UTF-8, which GNU tar and pax writers use). */
export function textField(b: Bytes, off: number, len: number): string {
  return fieldText(b.bytes(off, len));
}

/** The text of a NUL-terminated field's bytes `raw`: up to its first NUL, decoded losslessly (decodeName). */
export function fieldText(raw: Uint8Array): string {
  const end = raw.indexOf(0);
  return decodeName(end < 0 ? raw : raw.subarray(0, end));
}

/** Confidence that `block` is a tar header: ustar/GNU magic with a good checksum, or a v7 header with a good checksum. */
export function looksLikeHeader(block: Uint8Array, dialect: Dialect, checksum: number | null): number {
  if (checksum === null || Number.isNaN(checksum)) return 0;
  const sums = headerSums(block);
  if (checksum !== sums.unsigned && checksum !== sums.signed) return 0;
  if (dialect !== 'v7') return 90;
  // v7: no magic, so ask for a plausible name and numeric fields too
  if (block[0] === 0) return 0;
  return 40;
}
