/**
 * Random-access byte sources. Parsers read only through this interface, never through `fs`,
 * so one parser runs on a file, on a slice of an image, on a list of extents or on a decoded stream.
 *
 * Reads are synchronous and positional: `read(offset, length)` returns exactly `length` bytes
 * or throws E_TRUNCATED naming the source and the offset.
 */
import { ReprodiffError } from '../errors.js';
import type { Span } from '../model.js';
import type { SpillFile } from './spill.js';

export interface ByteSource {
  /** a human name for messages: a file path, or a nested path like `a.iso//efiboot.img` */
  readonly name: string;
  readonly size: number;
  /** Reads exactly `length` bytes at `offset`. Throws E_TRUNCATED when the range is outside the source. */
  read(offset: number, length: number, structure?: string): Uint8Array;
  /**
   * Where `length` bytes at `offset` of this source sit, as a span: in the outermost file when they
   * are there contiguously, otherwise in the decoded stream that holds them. Multi-piece ranges of an
   * extent source return several spans.
   */
  spans(offset: number, length: number): Span[];
  /** The stream id that spans in this source fall back to (`undefined` for the outermost file). */
  readonly stream: string | undefined;
  /**
   * Fills `into` with the bytes at `offset` (E_TRUNCATED past the end), for sources that read from a file:
   * a caller scanning much data reuses one buffer instead of getting a new one per read.
   */
  readInto?(offset: number, into: Uint8Array, structure?: string): void;
}

export function checkRange(src: { name: string; size: number }, offset: number, length: number, structure?: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > src.size) {
    throw new ReprodiffError(
      'E_TRUNCATED',
      `needs ${length} bytes but the source holds ${src.size} bytes`,
      { file: src.name, structure: structure ?? 'read', offset },
    );
  }
}

/** A source over bytes held in memory. `stream` names a decoded stream; leave it undefined for an in-memory outer file. */
export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(
    readonly name: string,
    private readonly data: Uint8Array,
    readonly stream: string | undefined = undefined,
  ) {
    this.size = data.length;
  }
  read(offset: number, length: number, structure?: string): Uint8Array {
    checkRange(this, offset, length, structure);
    return this.data.subarray(offset, offset + length);
  }
  spans(offset: number, length: number): Span[] {
    return this.stream === undefined ? [{ offset, length }] : [{ stream: this.stream, offset, length }];
  }
}

/** A window [base, base+size) of another source. Spans map through to the parent. */
export class SliceSource implements ByteSource {
  readonly stream: string | undefined;
  constructor(
    readonly name: string,
    private readonly parent: ByteSource,
    readonly base: number,
    readonly size: number,
  ) {
    checkRange(parent, base, size, `slice ${name}`);
    this.stream = parent.stream;
  }
  read(offset: number, length: number, structure?: string): Uint8Array {
    checkRange(this, offset, length, structure);
    return this.parent.read(this.base + offset, length, structure);
  }
  readInto(offset: number, into: Uint8Array, structure?: string): void {
    checkRange(this, offset, into.length, structure);
    if (this.parent.readInto) this.parent.readInto(this.base + offset, into, structure);
    else into.set(this.parent.read(this.base + offset, into.length, structure));
  }
  spans(offset: number, length: number): Span[] {
    return this.parent.spans(this.base + offset, length);
  }
}

export interface Extent {
  /** offset in the parent source */
  offset: number;
  length: number;
}

/** The concatenation of extents of a parent (a fragmented file). Spans map to one span per touched extent. */
export class ExtentSource implements ByteSource {
  readonly size: number;
  readonly stream: string | undefined;
  private readonly starts: number[] = [];
  constructor(
    readonly name: string,
    private readonly parent: ByteSource,
    readonly extents: readonly Extent[],
  ) {
    let total = 0;
    for (const e of extents) {
      checkRange(parent, e.offset, e.length, `extent of ${name}`);
      this.starts.push(total);
      total += e.length;
    }
    this.size = total;
    this.stream = parent.stream;
  }
  private locate(pos: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.starts[mid] as number) <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
  read(offset: number, length: number, structure?: string): Uint8Array {
    checkRange(this, offset, length, structure);
    if (length === 0) return new Uint8Array(0);
    let i = this.locate(offset);
    const first = this.extents[i] as Extent;
    const inFirst = offset - (this.starts[i] as number);
    if (inFirst + length <= first.length) return this.parent.read(first.offset + inFirst, length, structure);
    const out = new Uint8Array(length);
    let done = 0;
    let within = inFirst;
    while (done < length) {
      const e = this.extents[i] as Extent;
      const n = Math.min(e.length - within, length - done);
      out.set(this.parent.read(e.offset + within, n, structure), done);
      done += n;
      within = 0;
      i++;
    }
    return out;
  }
  /**
   * Fills `into` extent by extent, through the parent's own readInto where it has one: a decoder reading a
   * fragmented file a quarter of a megabyte at a time made a buffer of each read and four cached blocks.
   */
  readInto(offset: number, into: Uint8Array, structure?: string): void {
    checkRange(this, offset, into.length, structure);
    let done = 0;
    let i = this.locate(offset);
    let within = offset - (this.starts[i] as number);
    while (done < into.length) {
      const e = this.extents[i] as Extent;
      const n = Math.min(e.length - within, into.length - done);
      const piece = into.subarray(done, done + n);
      if (this.parent.readInto) this.parent.readInto(e.offset + within, piece, structure);
      else piece.set(this.parent.read(e.offset + within, n, structure));
      done += n;
      within = 0;
      i++;
    }
  }
  spans(offset: number, length: number): Span[] {
    checkRange(this, offset, length, 'span');
    const out: Span[] = [];
    if (length === 0) return out;
    let i = this.locate(offset);
    let within = offset - (this.starts[i] as number);
    let left = length;
    while (left > 0) {
      const e = this.extents[i] as Extent;
      const n = Math.min(e.length - within, left);
      out.push(...this.parent.spans(e.offset + within, n));
      left -= n;
      within = 0;
      i++;
    }
    return out;
  }
}

/**
 * Decoded bytes (a decompressed stream, a squashfs file, an inflated zip member), whichever way they are held:
 * in memory, in a temporary file, or decoded on demand. Spans inside it name its stream; `origin` is where its
 * encoded bytes sit in the parent, to which differences are rolled up. Implement this interface (rather than
 * subclass DecodedSource) for content decoded on demand.
 */
export interface DecodedContent extends ByteSource {
  readonly stream: string;
  readonly origin: Span[];
  /**
   * Whether `other` (of the other build) decodes from the same places of its input, the same way: then, when no
   * byte of `origin` differs, both decode to the same bytes and need not be decoded to be compared. Absent: no.
   */
  sameEncoding?(other: DecodedContent): boolean;
  /**
   * When `other` (of the other build) decodes the same way from encoded pieces of the same sizes, wherever they
   * sit (blocks that moved because something before them grew): both sides' pieces in order. When each pair of
   * pieces holds the same bytes, both decode to the same bytes. Undefined when they are not laid out alike.
   */
  encodedAlike?(other: DecodedContent): { a: Span[]; b: Span[] } | undefined;
}

/** Whether a source holds decoded bytes (it has an origin in encoded bytes). */
export function isDecoded(src: ByteSource): src is DecodedContent {
  return src.stream !== undefined && Array.isArray((src as Partial<DecodedContent>).origin);
}

/**
 * A decoded (decompressed) stream held whole. Its bytes live only in memory or in an unnamed temporary file
 * (io/spill.ts), so spans inside it name the stream; `origin` is the span of the encoded bytes in the parent,
 * to which differences are rolled up.
 */
export class DecodedSource implements DecodedContent {
  readonly size: number;
  constructor(
    readonly name: string,
    private readonly store: Uint8Array | SpillFile,
    readonly stream: string,
    readonly origin: Span[],
  ) {
    this.size = store instanceof Uint8Array ? store.length : store.size;
  }
  read(offset: number, length: number, structure?: string): Uint8Array {
    checkRange(this, offset, length, structure);
    const s = this.store;
    return s instanceof Uint8Array ? s.subarray(offset, offset + length) : s.read(offset, length);
  }
  readInto(offset: number, into: Uint8Array, structure?: string): void {
    const s = this.store;
    if (s instanceof Uint8Array) into.set(this.read(offset, into.length, structure));
    else {
      checkRange(this, offset, into.length, structure);
      s.readInto(offset, into);
    }
  }
  spans(offset: number, length: number): Span[] {
    return [{ stream: this.stream, offset, length }];
  }
  /** What holds its bytes (a buffer, a temporary file): the same for every source over one decoded stream. */
  get holder(): object {
    return this.store;
  }
}

/** How many zero bytes start at `at` of `src` (padding); reads one byte first, then a window at a time. */
export function zeroRun(src: ByteSource, at: number, structure: string): number {
  if (at >= src.size || src.read(at, 1, structure)[0] !== 0) return 0;
  let q = at;
  while (q < src.size) {
    const w = src.read(q, Math.min(src.size - q, 64 * 1024), structure);
    let i = 0;
    while (i < w.length && w[i] === 0) i++;
    q += i;
    if (i < w.length) break;
  }
  return q - at;
}

/** Reads a whole small source (bounded by the caller) into memory. */
export function readAll(src: ByteSource, cap: number, structure?: string): Uint8Array {
  if (src.size > cap) {
    throw new ReprodiffError('E_LIMIT', `${src.size} bytes is over the limit of ${cap}`, {
      file: src.name,
      structure,
      offset: 0,
    });
  }
  return src.read(0, src.size, structure);
}
