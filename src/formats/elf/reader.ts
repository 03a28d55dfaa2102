/**
 * Byte-order-aware reads for ELF and DWARF structures, and the content of one section as a source of its own
 * (a slice of the file, or the decoded bytes of a SHF_COMPRESSED section). A section keeps the fields made
 * from its bytes and the ranges those fields describe: what no field describes is the entry's content.
 */
import { ReprodiffError } from '../../errors.js';
import { Bytes } from '../../io/bytes.js';
import type { ByteSource } from '../../io/source.js';
import { field, type Field, type Kind, type Value } from '../../model.js';

/** Integers of a structure in the file's byte order. */
export class EView {
  constructor(
    readonly b: Bytes,
    readonly le: boolean,
  ) {}

  static at(src: ByteSource, offset: number, length: number, structure: string, le: boolean): EView {
    return new EView(Bytes.at(src, offset, length, structure), le);
  }

  get length(): number {
    return this.b.length;
  }
  u8(off: number): number {
    return this.b.u8(off);
  }
  u16(off: number): number {
    return this.le ? this.b.u16le(off) : this.b.u16be(off);
  }
  u24(off: number): number {
    const x = this.b.bytes(off, 3);
    return this.le ? x[0]! | (x[1]! << 8) | (x[2]! << 16) : (x[0]! << 16) | (x[1]! << 8) | x[2]!;
  }
  u32(off: number): number {
    return this.le ? this.b.u32le(off) : this.b.u32be(off);
  }
  /** 64-bit; E_FORMAT when it does not fit a safe integer */
  u64(off: number): number {
    return this.le ? this.b.u64le(off) : this.b.u64be(off);
  }
  /** an unsigned integer of 1, 2, 4 or 8 bytes */
  uint(off: number, size: number): number {
    switch (size) {
      case 1:
        return this.u8(off);
      case 2:
        return this.u16(off);
      case 4:
        return this.u32(off);
      case 8:
        return this.u64(off);
      default:
        throw this.b.error(off, `no ${size}-byte integers`);
    }
  }
  /** an address or offset of 4 bytes (ELFCLASS32) or 8 (ELFCLASS64) */
  word(off: number, is64: boolean): number {
    return is64 ? this.u64(off) : this.u32(off);
  }
  /** ULEB128 at `off`: [value, next offset]. Values past 2^53 are E_FORMAT. */
  uleb(off: number): [number, number] {
    let v = 0;
    let mul = 1;
    let p = off;
    for (;;) {
      const byte = this.b.u8(p++);
      v += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) break;
      mul *= 128;
      if (mul > 2 ** 53) throw this.b.error(off, 'LEB128 number longer than 53 bits');
    }
    if (!Number.isSafeInteger(v)) throw this.b.error(off, 'LEB128 number longer than 53 bits');
    return [v, p];
  }
  /** SLEB128: only its end matters to us */
  sleb(off: number): number {
    let p = off;
    for (let n = 0; ; n++) {
      if (n >= 10) throw this.b.error(off, 'SLEB128 number longer than 10 bytes');
      if ((this.b.u8(p++) & 0x80) === 0) return p;
    }
  }
  /** A NUL-terminated string at `off`: [text, length without the NUL]; undefined when no NUL follows within the view */
  cstring(off: number): [string, number] | undefined {
    const d = this.b.data;
    if (off < 0 || off >= d.length) return undefined;
    const end = d.indexOf(0, off);
    if (end < 0) return undefined;
    return [this.b.utf8(off, end - off), end - off];
  }
  spans(off: number, len: number): ReturnType<Bytes['spans']> {
    return this.b.spans(off, len);
  }
  error(off: number, message: string, code?: 'E_FORMAT' | 'E_LOOP' | 'E_LIMIT' | 'E_UNSUPPORTED'): ReprodiffError {
    return this.b.error(off, message, code);
  }
}

/** the longest string read out of a string table */
export const MAX_STRING = 64 * 1024;

/** One section's content, with the fields made from its bytes and the ranges they describe. */
export class SectionContent {
  readonly fields: Field[] = [];
  /** [start, end) offsets of `src` that fields describe */
  readonly described: [number, number][] = [];

  constructor(
    /** the section's name, for messages */
    public name: string,
    /** its bytes: a slice of the file, or the decoded data of a compressed section */
    readonly src: ByteSource,
    /** the file's byte order */
    readonly le: boolean,
  ) {}

  get size(): number {
    return this.src.size;
  }

  view(offset: number, length: number, structure: string): EView {
    return EView.at(this.src, offset, length, `${structure} in ${this.name}`, this.le);
  }

  /** Adds a field over `length` bytes at `offset` of the section, and marks them described. */
  put(name: string, value: Value, kind: Kind, offset: number, length: number, extra?: Partial<Field>): Field {
    const f = this.make(name, value, kind, offset, length, extra);
    this.fields.push(f);
    return f;
  }

  /** A field over bytes of this section that belongs elsewhere (a symbol's name, a section's name); marks them described. */
  make(name: string, value: Value, kind: Kind, offset: number, length: number, extra?: Partial<Field>): Field {
    const f = field(name, value, kind, length > 0 ? this.src.spans(offset, length) : [], extra);
    if (length > 0) this.described.push([offset, offset + length]);
    return f;
  }

  /** Marks bytes described by a field made elsewhere (a field of the container). */
  describe(offset: number, length: number): void {
    if (length > 0) this.described.push([offset, offset + length]);
  }

  /** The NUL-terminated string at `offset`: [text, length without the NUL], or undefined when none ends within MAX_STRING bytes. */
  cstring(offset: number): [string, number] | undefined {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= this.size) return undefined;
    let window = Math.min(256, this.size - offset);
    for (;;) {
      const got = this.view(offset, window, 'string').cstring(0);
      if (got) return got;
      if (window >= MAX_STRING || offset + window >= this.size) return undefined;
      window = Math.min(window * 8, MAX_STRING, this.size - offset);
    }
  }

  /** The parts of [0, size) no field describes, as [start, end) pairs. */
  undescribed(): [number, number][] {
    const ivs = this.described.filter(([s, e]) => e > s).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const out: [number, number][] = [];
    let pos = 0;
    for (const [s, e] of ivs) {
      const start = Math.max(0, Math.min(s, this.size));
      if (start > pos) out.push([pos, start]);
      pos = Math.max(pos, Math.min(e, this.size));
    }
    if (pos < this.size) out.push([pos, this.size]);
    return out;
  }
}
