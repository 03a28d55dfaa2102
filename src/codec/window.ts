/**
 * Compressed input read a window at a time: decoders walk a stream of any size holding about a megabyte of it
 * (more only for one structure that is longer, such as an LZ4 block of up to 8 MiB).
 */
import { checkRange, type ByteSource } from '../io/source.js';

export class InputWindow {
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  private len = 0;

  constructor(
    readonly src: ByteSource,
    private readonly structure: string,
    private readonly windowSize = 1 << 20,
  ) {}

  get size(): number {
    return this.src.size;
  }

  /**
   * `length` bytes at `pos`, valid until the next call (a view of the window). Sources that hold their bytes
   * in memory hand out their own views instead, which stay valid.
   */
  bytes(pos: number, length: number): Uint8Array {
    if (pos >= this.start && pos + length <= this.start + this.len) return this.buf.subarray(pos - this.start, pos - this.start + length);
    const src = this.src;
    if (!src.readInto) return src.read(pos, length, this.structure);
    checkRange(src, pos, length, this.structure);
    const n = Math.min(src.size - pos, Math.max(length, this.windowSize));
    if (this.buf.length < n) this.buf = new Uint8Array(n);
    this.len = 0; // a failed read leaves no window behind
    src.readInto(pos, this.buf.subarray(0, n), this.structure);
    this.start = pos;
    this.len = n;
    return this.buf.subarray(0, length);
  }

  byte(pos: number): number {
    return this.bytes(pos, 1)[0] as number;
  }

  u32le(pos: number): number {
    const b = this.bytes(pos, 4);
    return ((b[0] as number) | ((b[1] as number) << 8) | ((b[2] as number) << 16) | ((b[3] as number) << 24)) >>> 0;
  }

  /** Whether `n` bytes at `pos` equal `expected`. */
  equals(pos: number, expected: ArrayLike<number>): boolean {
    if (pos + expected.length > this.size) return false;
    const b = this.bytes(pos, expected.length);
    for (let i = 0; i < expected.length; i++) if (b[i] !== expected[i]) return false;
    return true;
  }

  /** Feeds the bytes [start, end) to `each`, a window at a time. */
  each(start: number, end: number, each: (bytes: Uint8Array) => void): void {
    for (let p = start; p < end; ) {
      const n = Math.min(end - p, this.windowSize);
      each(this.bytes(p, n));
      p += n;
    }
  }
}
