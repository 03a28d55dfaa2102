/**
 * Bounds-checked readers over a buffer read from a source. One DataView per buffer.
 * `base` is the buffer's offset within `src`, so errors and spans name source offsets.
 */
import { ReprodiffError } from '../errors.js';
import type { Span } from '../model.js';
import type { ByteSource } from './source.js';
import { decodeName } from '../util/names.js';

const latin1 = new TextDecoder('latin1');
const utf16be = new TextDecoder('utf-16be', { fatal: false });
const utf16le = new TextDecoder('utf-16le', { fatal: false });

export class Bytes {
  private dv: DataView | undefined;
  constructor(
    readonly data: Uint8Array,
    readonly src: ByteSource,
    readonly base: number,
    readonly structure: string,
  ) {}

  /** A DataView over the bytes, made on first use: most structures only read 8-, 16- and 32-bit integers. */
  get view(): DataView {
    return (this.dv ??= new DataView(this.data.buffer, this.data.byteOffset, this.data.byteLength));
  }

  /** Reads `length` bytes at `offset` of `src` and wraps them. */
  static at(src: ByteSource, offset: number, length: number, structure: string): Bytes {
    return new Bytes(src.read(offset, length, structure), src, offset, structure);
  }

  get length(): number {
    return this.data.length;
  }

  private check(off: number, len: number): void {
    if (!Number.isSafeInteger(off) || off < 0 || len < 0 || off + len > this.data.length) {
      throw new ReprodiffError('E_TRUNCATED', `field of ${len} bytes at +${off} is outside the ${this.data.length}-byte structure`, {
        file: this.src.name,
        structure: this.structure,
        offset: this.base + Math.max(0, off),
      });
    }
  }

  u8(off: number): number {
    this.check(off, 1);
    return this.data[off]!;
  }
  u16le(off: number): number {
    this.check(off, 2);
    const d = this.data;
    return d[off]! | (d[off + 1]! << 8);
  }
  u16be(off: number): number {
    this.check(off, 2);
    const d = this.data;
    return (d[off]! << 8) | d[off + 1]!;
  }
  u32le(off: number): number {
    this.check(off, 4);
    const d = this.data;
    return (d[off]! | (d[off + 1]! << 8) | (d[off + 2]! << 16)) + d[off + 3]! * 0x1000000;
  }
  u32be(off: number): number {
    this.check(off, 4);
    const d = this.data;
    return d[off]! * 0x1000000 + ((d[off + 1]! << 16) | (d[off + 2]! << 8) | d[off + 3]!);
  }
  i32le(off: number): number {
    this.check(off, 4);
    const d = this.data;
    return d[off]! | (d[off + 1]! << 8) | (d[off + 2]! << 16) | (d[off + 3]! << 24);
  }
  /** 64-bit little-endian; throws E_FORMAT when the value does not fit a safe integer. */
  u64le(off: number): number {
    this.check(off, 8);
    const v = this.view.getBigUint64(off, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ReprodiffError('E_FORMAT', `64-bit value ${v} is too large`, {
        file: this.src.name,
        structure: this.structure,
        offset: this.base + off,
      });
    }
    return Number(v);
  }
  u64be(off: number): number {
    this.check(off, 8);
    const v = this.view.getBigUint64(off, false);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ReprodiffError('E_FORMAT', `64-bit value ${v} is too large`, {
        file: this.src.name,
        structure: this.structure,
        offset: this.base + off,
      });
    }
    return Number(v);
  }
  /** 64-bit as a bigint (for values that may exceed 2^53, e.g. nanosecond times). */
  u64leBig(off: number): bigint {
    this.check(off, 8);
    return this.view.getBigUint64(off, true);
  }
  bytes(off: number, len: number): Uint8Array {
    this.check(off, len);
    return this.data.subarray(off, off + len);
  }
  hex(off: number, len: number): string {
    return toHex(this.bytes(off, len));
  }
  /** Latin-1 string with trailing spaces and NULs removed (ISO 9660 a/d-characters are ASCII). */
  ascii(off: number, len: number, trim = true): string {
    const s = latin1.decode(this.bytes(off, len));
    return trim ? s.replace(/[ \0]+$/, '') : s;
  }
  /** UTF-8, losslessly: a byte outside a valid sequence is kept as U+DC00 + byte (util/names.ts) */
  utf8(off: number, len: number): string {
    return decodeName(this.bytes(off, len));
  }
  utf16be(off: number, len: number): string {
    return utf16be.decode(this.bytes(off, len & ~1));
  }
  utf16le(off: number, len: number): string {
    return utf16le.decode(this.bytes(off, len & ~1));
  }
  /** A sub-structure view sharing the same bytes. */
  sub(off: number, len: number, structure = this.structure): Bytes {
    this.check(off, len);
    return new Bytes(this.data.subarray(off, off + len), this.src, this.base + off, structure);
  }
  /** The spans of `len` bytes at `off` of this structure. */
  spans(off: number, len: number): Span[] {
    return this.src.spans(this.base + off, len);
  }
  /** A format error at `off` within this structure. */
  error(off: number, message: string, code: 'E_FORMAT' | 'E_LOOP' | 'E_LIMIT' | 'E_UNSUPPORTED' = 'E_FORMAT'): ReprodiffError {
    return new ReprodiffError(code, message, { file: this.src.name, structure: this.structure, offset: this.base + off });
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += HEX[b[i] as number];
  return s;
}

/** A GUID in its mixed-endian on-disk form (UEFI, Microsoft) as the usual text. */
export function guidToString(b: Uint8Array): string {
  const h = (i: number): string => HEX[b[i] as number] as string;
  return (
    h(3) + h(2) + h(1) + h(0) + '-' + h(5) + h(4) + '-' + h(7) + h(6) + '-' + h(8) + h(9) + '-' +
    h(10) + h(11) + h(12) + h(13) + h(14) + h(15)
  );
}

/** A UUID stored big-endian (RFC 4122 byte order) as the usual text. */
export function uuidToString(b: Uint8Array): string {
  const x = toHex(b.subarray(0, 16));
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
