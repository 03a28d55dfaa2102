/**
 * LZMA and LZMA2 decoding (the xz and .lzma formats, squashfs xz/lzma blocks), written from the
 * LZMA specification (lzma-specification.txt in the LZMA SDK) and the .xz file format specification.
 * Synchronous; the output never grows past `maxOutput` (E_LIMIT), and every input read is bounded (E_FORMAT).
 */
import { isProgrammingError, ReprodiffError } from '../errors.js';
import { checkTime } from '../limits.js';
import type { InputWindow } from './window.js';

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

const PROB_INIT = 1024;
const LITERAL_BASE = 1846; // after all the other probability arrays
// offsets into the probability array
const IS_MATCH = 0; // 192
const IS_REP = 192; // 12
const IS_REP_G0 = 204;
const IS_REP_G1 = 216;
const IS_REP_G2 = 228;
const IS_REP0_LONG = 240; // 192
const POS_SLOT = 432; // 4 * 64
const SPEC_POS = 688; // 114 (index 1-based below)
const ALIGN = 802; // 16
const LEN = 818; // 514
const REP_LEN = 1332; // 514
// within a length coder
const LEN_CHOICE = 0;
const LEN_CHOICE2 = 1;
const LEN_LOW = 2; // 16 * 8
const LEN_MID = 130; // 16 * 8
const LEN_HIGH = 258; // 256

/**
 * One LZMA decoder state (probabilities, reps, dictionary position). The dictionary is the output buffer
 * itself: distances are checked against the bytes written since the last dictionary reset.
 */
export class LzmaDecoder {
  private probs = new Uint16Array(LITERAL_BASE + 0x300);
  lc = 0;
  lp = 0;
  pb = 0;
  private state = 0;
  private rep0 = 0;
  private rep1 = 0;
  private rep2 = 0;
  private rep3 = 0;
  /** output position (OutBuf.total) of the last dictionary reset */
  dictStart = 0;
  // range coder
  private range = 0;
  private code = 0;
  private inp: Uint8Array = new Uint8Array(0);
  private ip = 0;
  private iend = 0;
  /** the compressed-input position of `inp[0]`, for messages */
  private inBase = 0;
  /** a match that did not fit the current chunk: bytes still to copy */
  private pendingLen = 0;

  constructor(readonly out: OutBuf) {}

  setProps(props: number): void {
    if (props >= 9 * 5 * 5) throw new CodecError('E_FORMAT', `invalid LZMA properties byte ${props}`);
    this.lc = props % 9;
    const d = Math.floor(props / 9);
    this.lp = d % 5;
    this.pb = Math.floor(d / 5);
    const need = LITERAL_BASE + (0x300 << (this.lc + this.lp));
    if (this.probs.length !== need) this.probs = new Uint16Array(need);
  }

  resetState(): void {
    this.probs.fill(PROB_INIT);
    this.state = 0;
    this.rep0 = this.rep1 = this.rep2 = this.rep3 = 0;
    this.pendingLen = 0;
  }

  /** Starts the range decoder on `inp[start, end)`; `inp[0]` is byte `inBase` of the compressed input. */
  initRange(inp: Uint8Array, start: number, end: number, inBase = 0): void {
    if (end - start < 5) throw new CodecError('E_FORMAT', 'LZMA data too short', inBase + start);
    if (inp[start] !== 0) throw new CodecError('E_FORMAT', 'LZMA range coder does not start with 0', inBase + start);
    this.inBase = inBase;
    this.inp = inp;
    this.iend = end;
    this.code = ((inp[start + 1] as number) * 0x1000000 + ((inp[start + 2] as number) << 16) + ((inp[start + 3] as number) << 8) + (inp[start + 4] as number));
    this.range = 0xffffffff;
    this.ip = start + 5;
    if (this.code === this.range) throw new CodecError('E_FORMAT', 'LZMA range coder starts with an invalid code', inBase + start);
  }

  /** position in `inp` */
  get inputPos(): number {
    return this.ip;
  }
  /** position in the compressed input, for messages */
  private get at(): number {
    return this.inBase + this.ip;
  }

  /**
   * Checks a match `rep0 + 1` bytes back from `buf[pos]` (output position `abs`): not before the last
   * dictionary reset (malformed), and within the bytes the window kept (a dictionary larger than kept).
   */
  private checkDistance(pos: number, abs: number): void {
    if (abs - this.dictStart <= this.rep0) throw new CodecError('E_FORMAT', 'LZMA match distance is before the start of the data', this.at);
    if (pos - this.rep0 - 1 < 0) throw new CodecError('E_LIMIT', `LZMA match distance ${this.rep0 + 1} reaches past the ${pos}-byte window kept`, this.at);
  }
  /** True when the range coder finished cleanly (code 0), as LZMA2 chunks and end markers require. */
  get rangeFinished(): boolean {
    return this.code === 0;
  }

  private nextByte(): number {
    if (this.ip >= this.iend) throw new CodecError('E_FORMAT', 'LZMA data ends early', this.at);
    return this.inp[this.ip++] as number;
  }

  private bit(i: number): number {
    const p = this.probs[i] as number;
    const bound = (this.range >>> 11) * p;
    let b: number;
    if (this.code < bound) {
      this.range = bound;
      this.probs[i] = p + ((2048 - p) >>> 5);
      b = 0;
    } else {
      this.range -= bound;
      this.code -= bound;
      this.probs[i] = p - (p >>> 5);
      b = 1;
    }
    if (this.range < 0x1000000) {
      this.range = this.range * 256;
      this.code = this.code * 256 + this.nextByte();
    }
    return b;
  }

  private bitTree(base: number, bits: number): number {
    let m = 1;
    for (let i = 0; i < bits; i++) m = (m << 1) | this.bit(base + m);
    return m - (1 << bits);
  }

  private reverseTree(base: number, bits: number): number {
    let m = 1;
    let sym = 0;
    for (let i = 0; i < bits; i++) {
      const b = this.bit(base + m);
      m = (m << 1) | b;
      sym |= b << i;
    }
    return sym;
  }

  private direct(bits: number): number {
    let res = 0;
    for (let i = 0; i < bits; i++) {
      this.range = this.range >>> 1;
      let b = 0;
      if (this.code >= this.range) {
        this.code -= this.range;
        b = 1;
      }
      res = res * 2 + b;
      if (this.range < 0x1000000) {
        this.range = this.range * 256;
        this.code = this.code * 256 + this.nextByte();
      }
    }
    return res;
  }

  private len(base: number, posState: number): number {
    if (this.bit(base + LEN_CHOICE) === 0) return this.bitTree(base + LEN_LOW + posState * 8, 3);
    if (this.bit(base + LEN_CHOICE2) === 0) return 8 + this.bitTree(base + LEN_MID + posState * 8, 3);
    return 16 + this.bitTree(base + LEN_HIGH, 8);
  }

  /** Copies up to `len` bytes from `dist + 1` back, not past output position `limit`; the rest is pending. */
  private copyMatch(dist: number, len: number, limit: number): void {
    const out = this.out;
    const n = Math.min(len, limit - out.total);
    out.ensure(n);
    const buf = out.buf;
    let pos = out.pos;
    let src = pos - dist - 1;
    if (src < 0) throw new CodecError('E_LIMIT', `LZMA match distance ${dist + 1} reaches past the ${pos}-byte window kept`, this.at);
    if (dist + 1 >= n) {
      buf.copyWithin(pos, src, src + n);
      pos += n;
    } else {
      for (let i = 0; i < n; i++) buf[pos++] = buf[src++] as number;
    }
    out.pos = pos;
    this.pendingLen = len - n;
  }

  /**
   * Decodes until the output (OutBuf.total) reaches `limit` bytes, or an end marker when `allowEnd`.
   * Returns true when it stopped at an end marker.
   */
  decode(limit: number, allowEnd: boolean): boolean {
    const out = this.out;
    if (this.pendingLen > 0) this.copyMatch(this.rep0, this.pendingLen, limit);
    const pbMask = (1 << this.pb) - 1;
    const lpMask = (1 << this.lp) - 1;
    const lc = this.lc;
    while (out.base + out.pos < limit) {
      const pos = out.pos;
      const abs = out.base + pos;
      if (pos >= out.nextTick) out.tick();
      const posState = pos & pbMask;
      const state = this.state;
      if (this.bit(IS_MATCH + (state << 4) + posState) === 0) {
        // literal
        const prev = abs > this.dictStart ? (out.buf[pos - 1] as number) : 0;
        const base = LITERAL_BASE + 0x300 * (((pos & lpMask) << lc) + (prev >>> (8 - lc)));
        let sym = 1;
        if (state >= 7) {
          this.checkDistance(pos, abs);
          let matchByte = out.buf[pos - this.rep0 - 1] as number;
          while (sym < 0x100) {
            const matchBit = (matchByte >>> 7) & 1;
            matchByte <<= 1;
            const b = this.bit(base + 0x100 + (matchBit << 8) + sym);
            sym = (sym << 1) | b;
            if (matchBit !== b) break;
          }
        }
        while (sym < 0x100) sym = (sym << 1) | this.bit(base + sym);
        out.ensure(1);
        out.buf[out.pos++] = sym & 0xff;
        this.state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      let len: number;
      if (this.bit(IS_REP + state) === 0) {
        // simple match
        this.rep3 = this.rep2;
        this.rep2 = this.rep1;
        this.rep1 = this.rep0;
        len = this.len(LEN, posState);
        this.state = state < 7 ? 7 : 10;
        const lenState = len < 3 ? len : 3;
        const slot = this.bitTree(POS_SLOT + lenState * 64, 6);
        let dist: number;
        if (slot < 4) dist = slot;
        else {
          const nd = (slot >>> 1) - 1;
          dist = (2 | (slot & 1)) * 2 ** nd;
          if (slot < 14) dist += this.reverseTree(SPEC_POS + dist - slot - 1, nd);
          else dist += this.direct(nd - 4) * 16 + this.reverseTree(ALIGN - 1, 4);
        }
        if (dist === 0xffffffff) {
          if (!allowEnd) throw new CodecError('E_FORMAT', 'unexpected LZMA end marker', this.at);
          return true;
        }
        this.rep0 = dist;
      } else {
        if (abs === this.dictStart) throw new CodecError('E_FORMAT', 'LZMA repeat match with empty dictionary', this.at);
        if (this.bit(IS_REP_G0 + state) === 0) {
          if (this.bit(IS_REP0_LONG + (state << 4) + posState) === 0) {
            // short rep: one byte at rep0
            this.state = state < 7 ? 9 : 11;
            out.ensure(1);
            const q = out.pos;
            this.checkDistance(q, abs);
            out.buf[q] = out.buf[q - this.rep0 - 1] as number;
            out.pos = q + 1;
            continue;
          }
        } else {
          let dist: number;
          if (this.bit(IS_REP_G1 + state) === 0) dist = this.rep1;
          else {
            if (this.bit(IS_REP_G2 + state) === 0) dist = this.rep2;
            else {
              dist = this.rep3;
              this.rep3 = this.rep2;
            }
            this.rep2 = this.rep1;
          }
          this.rep1 = this.rep0;
          this.rep0 = dist;
        }
        len = this.len(REP_LEN, posState);
        this.state = state < 7 ? 8 : 11;
      }
      if (abs - this.dictStart <= this.rep0) throw new CodecError('E_FORMAT', 'LZMA match distance is before the start of the data', this.at);
      this.copyMatch(this.rep0, len + 2, limit);
    }
    return false;
  }
}

/** The `.lzma` (LZMA-alone) format: props, dictionary size, 64-bit size (all ones: unknown, end marker). */
export function decodeLzmaAlone(input: Uint8Array, maxOutput: number): Uint8Array {
  if (input.length < 13) throw new CodecError('E_FORMAT', 'LZMA header is truncated');
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const lo = view.getUint32(5, true);
  const hi = view.getUint32(9, true);
  const known = !(lo === 0xffffffff && hi === 0xffffffff);
  const size = hi * 2 ** 32 + lo;
  if (known && size > maxOutput) throw new CodecError('E_LIMIT', `LZMA header declares ${size} bytes, over the limit of ${maxOutput}`);
  const out = new OutBuf(maxOutput, known ? size : 1 << 20);
  const dec = new LzmaDecoder(out);
  dec.setProps(input[0] as number);
  dec.resetState();
  dec.initRange(input, 13, input.length);
  dec.decode(known ? size : maxOutput + 1, true);
  return out.result();
}

/**
 * Decodes one LZMA2 stream from `input[start, end)` into `out`, a chunk (at most 64 KiB compressed) at a time.
 * Returns the input position after its end byte.
 */
export function decodeLzma2(input: InputWindow, start: number, end: number, out: OutBuf, dec = new LzmaDecoder(out)): number {
  let p = start;
  let needDictReset = true;
  let needProps = true;
  for (;;) {
    if (p >= end) throw new CodecError('E_FORMAT', 'LZMA2 data ends without an end marker', p);
    const control = input.byte(p);
    if (control === 0) return p + 1;
    if (control === 1 || control === 2) {
      if (p + 3 > end) throw new CodecError('E_FORMAT', 'LZMA2 chunk header is truncated', p);
      const h = input.bytes(p, 3);
      const size = (((h[1] as number) << 8) | (h[2] as number)) + 1;
      if (control === 1) {
        dec.dictStart = out.total;
        needDictReset = false;
      } else if (needDictReset) throw new CodecError('E_FORMAT', 'LZMA2 stream does not start with a dictionary reset', p);
      if (p + 3 + size > end) throw new CodecError('E_FORMAT', 'LZMA2 uncompressed chunk is truncated', p);
      out.push(input.bytes(p + 3, size));
      p += 3 + size;
      continue;
    }
    if (control < 0x80) throw new CodecError('E_FORMAT', `invalid LZMA2 control byte ${control}`, p);
    if (p + 5 > end) throw new CodecError('E_FORMAT', 'LZMA2 chunk header is truncated', p);
    const h = input.bytes(p, 5);
    const unpacked = ((control & 0x1f) << 16) + (((h[1] as number) << 8) | (h[2] as number)) + 1;
    const packed = (((h[3] as number) << 8) | (h[4] as number)) + 1;
    const reset = (control >>> 5) & 3;
    p += 5;
    if (reset === 3) {
      dec.dictStart = out.total;
      needDictReset = false;
    } else if (needDictReset) throw new CodecError('E_FORMAT', 'LZMA2 stream does not start with a dictionary reset', p - 5);
    if (reset >= 2) {
      if (p >= end) throw new CodecError('E_FORMAT', 'LZMA2 properties byte is missing', p);
      dec.setProps(input.byte(p));
      if (dec.lc + dec.lp > 4) throw new CodecError('E_FORMAT', 'LZMA2 properties have lc + lp > 4', p);
      p++;
      needProps = false;
    } else if (needProps) throw new CodecError('E_FORMAT', 'LZMA2 chunk before any properties', p - 5);
    if (reset >= 1) dec.resetState();
    if (p + packed > end) throw new CodecError('E_FORMAT', 'LZMA2 compressed chunk is truncated', p);
    if (out.total + unpacked > out.cap) throw new CodecError('E_LIMIT', `decoded data exceeds the limit of ${out.cap} bytes`, p);
    dec.initRange(input.bytes(p, packed), 0, packed, p);
    dec.decode(out.total + unpacked, false);
    if (dec.inputPos !== packed || !dec.rangeFinished) throw new CodecError('E_FORMAT', 'LZMA2 chunk does not end where its header says', p);
    p += packed;
  }
}

/** The dictionary size an LZMA2 filter's properties byte declares (xz format 5.3.1). */
export function lzma2DictSize(props: Uint8Array, at: number): number {
  const b = props[0];
  if (props.length !== 1 || b === undefined || b > 40) throw new CodecError('E_FORMAT', 'invalid LZMA2 filter properties', at);
  if (b === 40) return 0xffffffff;
  return (2 | (b & 1)) * 2 ** (Math.floor(b / 2) + 11);
}

/**
 * BCJ x86 branch converter, decoding direction, fed the output piece by piece. A position is converted once
 * the four bytes after it are known, so up to four bytes wait for the next piece (or `end`).
 */
export class BcjX86 {
  private buf = new Uint8Array(0);
  private held = 0;
  /** stream position (with the filter's start offset) of `buf[0]` */
  private at: number;
  /** stream position of the last 0xE8/0xE9 byte seen, and the mask of recent ones */
  private prevPos: number;
  private prevMask = 0;

  constructor(startPos: number) {
    this.at = startPos;
    this.prevPos = startPos - 1;
  }

  /** Converts `bytes`, following what came before; hands each converted piece to `out` (valid during the call). */
  push(bytes: Uint8Array, out: (bytes: Uint8Array) => void): void {
    const n = this.held + bytes.length;
    if (this.buf.length < n) {
      const next = new Uint8Array(Math.max(n, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.held));
      this.buf = next;
    }
    this.buf.set(bytes, this.held);
    const done = this.convert(n);
    if (done > 0) out(this.buf.subarray(0, done));
    this.buf.copyWithin(0, done, n);
    this.held = n - done;
    this.at += done;
  }

  /** The last bytes, which are never converted. */
  end(out: (bytes: Uint8Array) => void): void {
    if (this.held) out(this.buf.subarray(0, this.held));
    this.at += this.held;
    this.held = 0;
  }

  /** Converts `buf[0, n)` as far as it can; returns how many bytes are final. */
  private convert(n: number): number {
    const allowed = [true, true, true, false, true, false, false, false];
    const bitNum = [0, 1, 2, 2, 3, 3, 3, 3];
    const msb = (b: number): boolean => b === 0 || b === 0xff;
    const buf = this.buf;
    const base = this.at;
    let prevPos = this.prevPos;
    let prevMask = this.prevMask;
    const size = n - 4;
    let i = 0;
    for (; i < size; i++) {
      if (((buf[i] as number) & 0xfe) !== 0xe8) continue;
      const here = base + i;
      const gap = here - prevPos;
      if (gap > 3) prevMask = 0;
      else {
        prevMask = (prevMask << (gap - 1)) & 7;
        if (prevMask !== 0) {
          const b = buf[i + 4 - (bitNum[prevMask] as number)] as number;
          if (!allowed[prevMask] || msb(b)) {
            prevPos = here;
            prevMask = (prevMask << 1) | 1;
            continue;
          }
        }
      }
      prevPos = here;
      if (msb(buf[i + 4] as number)) {
        let src = ((buf[i + 1] as number) | ((buf[i + 2] as number) << 8) | ((buf[i + 3] as number) << 16) | ((buf[i + 4] as number) << 24)) >>> 0;
        let dest: number;
        for (;;) {
          dest = (src - (here + 5)) >>> 0;
          if (prevMask === 0) break;
          const j = (bitNum[prevMask] as number) * 8;
          if (!msb((dest >>> (24 - j)) & 0xff)) break;
          src = (dest ^ (2 ** (32 - j) - 1)) >>> 0;
        }
        dest &= 0x01ffffff;
        if (dest & 0x01000000) dest = (dest | 0xfe000000) >>> 0;
        buf[i + 1] = dest & 0xff;
        buf[i + 2] = (dest >>> 8) & 0xff;
        buf[i + 3] = (dest >>> 16) & 0xff;
        buf[i + 4] = (dest >>> 24) & 0xff;
        i += 4;
      } else {
        prevMask = (prevMask << 1) | 1;
      }
    }
    this.prevPos = prevPos;
    this.prevMask = prevMask;
    return Math.max(0, Math.min(i, n));
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
