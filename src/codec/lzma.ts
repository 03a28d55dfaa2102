/**
 * What the decoders share: their error, the output buffer that caps what they produce (OutBuf, used by lz4 and
 * zstd), and the sink that collects handed-over output. The LZMA and LZMA2 decoders themselves are in
 * lzma-decoder.ts, which keeps its own dictionary.
 */
import { isProgrammingError, ReprodiffError } from '../errors.js';
import { checkTime } from '../limits.js';

export class CodecError extends Error {
  constructor(
    readonly code: 'E_FORMAT' | 'E_LIMIT' | 'E_UNSUPPORTED',
    message: string,
    /** position in the compressed input */
    readonly at = 0,
  ) {
    super(message);
  }
}

/** Where decoded bytes go as they are produced; `owned`: the caller does not reuse them. */
export interface ByteSink {
  write(bytes: Uint8Array, owned?: boolean): void;
}

/**
 * A decoder's output buffer, which refuses to pass `cap` bytes of output in all.
 *
 * Without a window it grows to hold the whole output (`result()`), for small streams (a squashfs block).
 * In window mode (`stream()`) it holds only what back-references may reach: as it fills, the bytes not yet
 * handed over go to the `emit` callback and all but the last `keep` bytes are dropped, so a stream of any
 * size decodes in bounded memory. Positions in `buf` stay congruent modulo 16 with the output position since
 * `stream()`, as LZMA's position states need.
 */
export class OutBuf {
  buf: Uint8Array;
  pos = 0;
  /** the output position of `buf[0]`: bytes dropped from the front (and of earlier blocks) */
  base = 0;
  private nextCheck = 1 << 20;
  /** window mode: bytes kept for back-references, the buffer length at which it slides, and where bytes go */
  private keep = Infinity;
  private slideAt = Infinity;
  private emit: ((bytes: Uint8Array) => void) | undefined;
  /** `buf[0, flushed)` has been handed to `emit` */
  private flushed = 0;
  get nextTick(): number {
    return this.nextCheck;
  }
  /** the output position of `buf[pos]`: bytes produced so far */
  get total(): number {
    return this.base + this.pos;
  }
  constructor(
    readonly cap: number,
    initial = 1 << 16,
    /** where pushed bytes go instead of `buf` (see push) */
    readonly sink?: ByteSink,
  ) {
    this.buf = new Uint8Array(sink ? 16 : Math.max(16, Math.min(initial, cap)));
  }

  /**
   * Starts window mode (again): what is in the buffer is handed over, the buffer starts empty at the current
   * output position, back-references may reach `keep` bytes back, and output goes to `emit` as it is made.
   */
  stream(keep: number, emit: (bytes: Uint8Array) => void): void {
    this.emitPending();
    this.base += this.pos;
    this.pos = 0;
    this.flushed = 0;
    this.keep = Math.ceil(Math.max(keep, 16) / 16) * 16;
    this.slideAt = this.keep + Math.max(this.keep, 1 << 20);
    this.emit = emit;
  }

  /** Hands the bytes not yet handed over to the window's `emit`. */
  emitPending(): void {
    if (this.emit && this.pos > this.flushed) {
      this.emit(this.buf.subarray(this.flushed, this.pos));
      this.flushed = this.pos;
    }
  }

  /** Hands over what is pending and keeps only the last `n` bytes (rounded so positions stay congruent mod 16). */
  keepLast(n: number): void {
    this.emitPending();
    const cut = this.pos > n ? (this.pos - n) & ~15 : 0;
    if (cut <= 0) return;
    this.buf.copyWithin(0, cut, this.pos);
    this.pos -= cut;
    this.flushed = this.pos;
    this.base += cut;
  }

  /** Checks the time limit once per MiB written (see limits.ts checkTime). */
  tick(): void {
    const at = this.base + this.pos;
    if (at < this.nextCheck) return;
    this.nextCheck = at + (1 << 20);
    checkTime('decoding');
  }
  /** Makes room for `n` more bytes; in window mode this may move the kept bytes to the front (`pos` changes). */
  ensure(n: number): void {
    this.tick();
    let need = this.pos + n;
    if (need <= this.buf.length) return;
    if (this.base + need > this.cap) throw new CodecError('E_LIMIT', `decoded data exceeds the limit of ${this.cap} bytes`);
    if (this.emit && need > this.slideAt && this.pos > this.keep) {
      this.keepLast(this.keep);
      need = this.pos + n;
      if (need <= this.buf.length) return;
    }
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(Math.max(need, Math.min(size, this.emit ? this.slideAt : this.cap - this.base)));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }
  /**
   * Appends `bytes`. With a sink (decoders that keep their own window, as fzstd does) they go straight to it and
   * nothing is held here; `owned`: the caller does not reuse them.
   */
  push(bytes: Uint8Array, owned = false): void {
    if (this.sink) {
      this.tick();
      if (this.pos + bytes.length > this.cap) throw new CodecError('E_LIMIT', `decoded data exceeds the limit of ${this.cap} bytes`);
      this.sink.write(bytes, owned);
      this.pos += bytes.length;
      return;
    }
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** Collects handed-over output chunks (copies) into one buffer: for callers that want the whole output. */
export class Collect implements ByteSink {
  private chunks: Uint8Array[] = [];
  private n = 0;
  write(bytes: Uint8Array, owned = false): void {
    if (!bytes.length) return;
    this.chunks.push(owned ? bytes : bytes.slice());
    this.n += bytes.length;
  }
  result(): Uint8Array {
    if (this.chunks.length === 1) return this.chunks[0] as Uint8Array;
    const out = new Uint8Array(this.n);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

export function codecError(e: unknown, name: string | undefined, codec: string, base = 0): ReprodiffError {
  if (e instanceof ReprodiffError) return e;
  if (e instanceof CodecError) return new ReprodiffError(e.code, e.message, { file: name, structure: `${codec} stream`, offset: base + e.at });
  // a bug in a decoder is not corrupt data: it goes on as it is, to be reported as an internal error
  if (isProgrammingError(e)) throw e;
  const err = e as Error;
  return new ReprodiffError('E_FORMAT', `corrupt ${codec} data: ${err?.message ?? String(e)}`, { file: name, structure: `${codec} stream`, offset: base });
}
