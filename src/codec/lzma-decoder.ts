/**
 * LZMA and LZMA2 decoding (the xz and .lzma formats, squashfs xz/lzma blocks), written from the LZMA
 * specification (lzma-specification.txt in the LZMA SDK) and the .xz file format specification.
 * Synchronous; the output never grows past the dictionary's `cap` (E_LIMIT), and every input read is bounded
 * (E_FORMAT).
 *
 * The decoding loop is the hot path of every xz input: the range coder's state lives in local variables as
 * int32 bit patterns (unsigned comparisons by flipping the sign bit), each bit is decoded inline, and the
 * output goes straight into the dictionary's buffer, leaving the loop only when the buffer is full, the chunk
 * is done or a match runs past either.
 */
import { checkTime } from '../limits.js';
import { CodecError } from './lzma.js';
import type { InputWindow } from './window.js';

/** The smallest circular dictionary: a lap is what the output sink receives at a time. */
const MIN_LAP = 1 << 20;

/** `n` rounded up to a multiple of 16 (at least 16), so that buffer positions keep their position states */
function round16(n: number): number {
  return Math.ceil(Math.max(n, 16) / 16) * 16;
}

/**
 * The LZMA dictionary, which is also the output buffer. Bytes since the last dictionary reset are back-reference
 * targets; positions in `buf` are congruent modulo 16 with positions since that reset, as the literal and
 * position states need.
 *
 * Streaming (`emit` given): a circular buffer of `size` bytes (at least the dictionary the stream declares, cut
 * to what the caller allows), grown from small as output arrives; each time it fills, its bytes go to `emit`
 * and decoding goes on at its start, over the oldest bytes. Memory stays at `size` whatever the stream's length.
 * Collecting (no `emit`): one buffer that grows to hold the whole output (a squashfs block), for `result()`.
 */
export class LzDict {
  buf: Uint8Array;
  pos = 0;
  /** the output position of `buf[0]` in the current lap (or since the start, when collecting) */
  base = 0;
  /** the buffer has come round at least once since the last reset: all of it is dictionary */
  wrapped = false;
  /** the output position of the last dictionary reset */
  dictStart = 0;
  /** `buf[0, flushed)` has been handed to `emit` */
  private flushed = 0;
  private nextTick = 1 << 20;
  /** what the buffer may grow to */
  private size: number;

  constructor(
    /** bytes this dictionary may produce in all */
    readonly cap: number,
    size: number,
    private emit?: (bytes: Uint8Array) => void,
    initial = 1 << 16,
  ) {
    this.size = emit ? round16(Math.max(size, MIN_LAP)) : round16(cap);
    this.buf = new Uint8Array(Math.min(this.size, round16(initial)));
  }

  /**
   * Starts again at the current output position (the next xz block), with a dictionary of `size` bytes and
   * output going to `emit`; the buffer is kept.
   */
  restart(size: number, emit: (bytes: Uint8Array) => void): void {
    this.flush();
    this.base += this.pos;
    this.pos = 0;
    this.flushed = 0;
    this.wrapped = false;
    this.emit = emit;
    this.size = Math.max(this.buf.length, round16(Math.max(size, MIN_LAP)));
    this.dictStart = this.total;
  }

  /** the output position of `buf[pos]`: bytes produced so far */
  get total(): number {
    return this.base + this.pos;
  }

  /** The byte before `buf[pos]` (0 at the start of the dictionary), as the literal coder's context. */
  prevByte(): number {
    if (this.pos > 0) return this.buf[this.pos - 1] as number;
    return this.wrapped ? (this.buf[this.buf.length - 1] as number) : 0;
  }

  /** Hands the bytes not yet handed over to `emit`. */
  flush(): void {
    if (this.emit && this.pos > this.flushed) this.emit(this.buf.subarray(this.flushed, this.pos));
    this.flushed = this.pos;
  }

  /** A dictionary reset: what came before is handed over and no longer referenced. */
  reset(): void {
    if (this.emit) {
      this.flush();
      this.base += this.pos;
      this.pos = 0;
      this.flushed = 0;
      this.wrapped = false;
    }
    this.dictStart = this.total;
  }

  /**
   * Where in `buf` decoding must next stop to call `advance`: the buffer's end, output position `limit`, or the
   * next once-a-MiB time check.
   */
  stopFor(limit: number): number {
    const total = this.base + this.pos;
    return this.pos + Math.min(this.buf.length - this.pos, limit - total, Math.max(1, this.nextTick - total));
  }

  /** Called at `stopFor`'s stop: checks the time limit, and makes room when the buffer is full. */
  advance(): void {
    const total = this.base + this.pos;
    if (total >= this.nextTick) {
      this.nextTick = total + (1 << 20);
      checkTime('decoding');
    }
    if (this.pos < this.buf.length) return;
    if (!this.wrapped && this.buf.length < this.size) {
      if (!this.emit && total >= this.cap) throw new CodecError('E_LIMIT', `decoded data exceeds the limit of ${this.cap} bytes`);
      const next = new Uint8Array(Math.min(this.size, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.pos));
      this.buf = next;
      return;
    }
    if (!this.emit) throw new CodecError('E_LIMIT', `decoded data exceeds the limit of ${this.cap} bytes`);
    this.flush();
    this.base += this.pos;
    this.pos = 0;
    this.flushed = 0;
    this.wrapped = true;
  }

  /** Appends `bytes` (an LZMA2 uncompressed chunk): they become dictionary and output. */
  put(bytes: Uint8Array): void {
    if (this.total + bytes.length > this.cap) throw new CodecError('E_LIMIT', `decoded data exceeds the limit of ${this.cap} bytes`);
    let done = 0;
    while (done < bytes.length) {
      if (this.pos === this.buf.length) this.advance();
      const n = Math.min(bytes.length - done, this.buf.length - this.pos);
      this.buf.set(bytes.subarray(done, done + n), this.pos);
      this.pos += n;
      done += n;
    }
  }

  /** Collecting: the whole output. */
  result(): Uint8Array {
    return this.buf.subarray(0, this.pos);
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
// within a length coder (its first probability is the first choice)
const LEN_CHOICE2 = 1;
const LEN_LOW = 2; // 16 * 8
const LEN_MID = 130; // 16 * 8
const LEN_HIGH = 258; // 256
/** flips an int32's sign bit: `(a ^ SIGN) < (b ^ SIGN)` compares a and b as unsigned 32-bit numbers */
const SIGN = -0x80000000;
/** zero bytes after a chunk's input: a symbol reads at most about 50 bytes past the end before the check sees it */
const INPUT_PAD = 64;

/** One LZMA decoder state: probabilities, reps, and the range coder over one chunk of input. */
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
  // range coder, as int32 bit patterns
  private range = 0;
  private code = 0;
  /** the chunk's input, copied and followed by INPUT_PAD zero bytes */
  private inp = new Uint8Array(0);
  private ip = 0;
  private iend = 0;
  /** the compressed-input position of `inp[0]`, for messages */
  private inBase = 0;
  /** a match that did not fit before the stop: bytes still to copy */
  private pendingLen = 0;

  constructor(readonly dict: LzDict) {}

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

  /** Starts the range decoder on `inp[start, end)`; `inp[start]` is byte `inBase` of the compressed input. */
  initRange(inp: Uint8Array, start: number, end: number, inBase = 0): void {
    const n = end - start;
    if (n < 5) throw new CodecError('E_FORMAT', 'LZMA data too short', inBase);
    if (inp[start] !== 0) throw new CodecError('E_FORMAT', 'LZMA range coder does not start with 0', inBase);
    if (this.inp.length < n + INPUT_PAD) this.inp = new Uint8Array(Math.max(n + INPUT_PAD, 1 << 16));
    this.inp.set(inp.subarray(start, end));
    this.inp.fill(0, n, n + INPUT_PAD);
    this.inBase = inBase;
    this.iend = n;
    const code = ((inp[start + 1] as number) << 24) | ((inp[start + 2] as number) << 16) | ((inp[start + 3] as number) << 8) | (inp[start + 4] as number);
    if (code === -1) throw new CodecError('E_FORMAT', 'LZMA range coder starts with an invalid code', inBase);
    this.code = code;
    this.range = -1;
    this.ip = 5;
  }

  /** input bytes the range decoder has read from the chunk */
  get inputPos(): number {
    return this.ip;
  }
  /** True when the range coder finished cleanly (code 0), as LZMA2 chunks and end markers require. */
  get rangeFinished(): boolean {
    return this.code === 0;
  }

  private ranOut(): CodecError {
    return new CodecError('E_FORMAT', 'LZMA data ends early', this.inBase + this.iend);
  }

  /** The error for a match `dist + 1` bytes back that the dictionary does not hold. */
  private badDistance(dist: number, pos: number, ip: number): CodecError {
    const d = this.dict;
    if (dist >= d.base + pos - d.dictStart) return new CodecError('E_FORMAT', 'LZMA match distance is before the start of the data', this.inBase + ip);
    return new CodecError('E_LIMIT', `LZMA match distance ${dist + 1} reaches past the ${d.wrapped ? d.buf.length : pos}-byte window kept`, this.inBase + ip);
  }

  /** Copies what is left of a match cut at a stop, as far as the next stop. */
  private copyPending(limit: number): void {
    const d = this.dict;
    while (this.pendingLen > 0) {
      const stop = d.stopFor(limit);
      if (d.pos >= stop) {
        if (d.total >= limit) return;
        d.advance();
        continue;
      }
      const buf = d.buf;
      const n = Math.min(this.pendingLen, stop - d.pos);
      let src = d.pos - this.rep0 - 1;
      if (src < 0) src += buf.length;
      let pos = d.pos;
      for (let k = 0; k < n; k++) {
        buf[pos++] = buf[src++] as number;
        if (src === buf.length) src = 0;
      }
      d.pos = pos;
      this.pendingLen -= n;
    }
  }

  /**
   * Decodes until the output (LzDict.total) reaches `limit` bytes, or an end marker when `allowEnd`.
   * Returns true when it stopped at an end marker.
   */
  decode(limit: number, allowEnd: boolean): boolean {
    const d = this.dict;
    if (this.pendingLen > 0) this.copyPending(limit);
    const probs = this.probs;
    const inp = this.inp;
    const iend = this.iend;
    const pbMask = (1 << this.pb) - 1;
    const lpMask = (1 << this.lp) - 1;
    const lc = this.lc;
    const lcShift = 8 - lc;
    let range = this.range;
    let code = this.code;
    let ip = this.ip;
    let state = this.state;
    let rep0 = this.rep0;
    let rep1 = this.rep1;
    let rep2 = this.rep2;
    let rep3 = this.rep3;
    let buf = d.buf;
    let pos = d.pos;
    let stop = d.stopFor(limit);
    // once the buffer has come round, all of it is dictionary (0: only what is before pos)
    let ring = d.wrapped ? buf.length : 0;
    let ended = false;
    // one bit: p and bound are scratch, i the probability's index, b the bit
    let p = 0;
    let bound = 0;
    let i = 0;
    let b = 0;
    for (;;) {
      if (pos >= stop) {
        // the buffer is full, the chunk is done, a match was cut, or the time is to be checked
        d.pos = pos;
        this.rep0 = rep0;
        if (this.pendingLen > 0) this.copyPending(limit);
        else if (d.total < limit) d.advance();
        buf = d.buf;
        pos = d.pos;
        if (d.total >= limit) break;
        stop = d.stopFor(limit);
        ring = d.wrapped ? buf.length : 0;
        continue;
      }
      if (ip > iend) throw this.ranOut();
      const posState = pos & pbMask;
      i = IS_MATCH + (state << 4) + posState;
      p = probs[i] as number;
      bound = Math.imul(range >>> 11, p);
      if ((code ^ SIGN) < (bound ^ SIGN)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); b = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); b = 1; }
      if (range >>> 24 === 0) { range <<= 8; code = (code << 8) | (inp[ip++] as number); }
      if (b === 0) {
        // literal
        const prev = pos > 0 ? (buf[pos - 1] as number) : d.prevByte();
        const lit = LITERAL_BASE + 0x300 * (((pos & lpMask) << lc) + (prev >>> lcShift));
        let sym = 1;
        if (state >= 7) {
          // after a match: the byte at rep0 steers the first bits
          if (rep0 >= pos && rep0 >= ring) throw this.badDistance(rep0, pos, ip);
          let m = pos - rep0 - 1;
          if (m < 0) m += buf.length;
          let matchByte = buf[m] as number;
          do {
            const matchBit = (matchByte >>> 7) & 1;
            matchByte <<= 1;
            i = lit + 0x100 + (matchBit << 8) + sym;
            p = probs[i] as number;
            bound = Math.imul(range >>> 11, p);
            if ((code ^ SIGN) < (bound ^ SIGN)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); b = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); b = 1; }
            if (range >>> 24 === 0) { range <<= 8; code = (code << 8) | (inp[ip++] as number); }
            sym = (sym << 1) | b;
            if (matchBit !== b) break;
          } while (sym < 0x100);
        }
        while (sym < 0x100) {
          i = lit + sym;
          p = probs[i] as number;
          bound = Math.imul(range >>> 11, p);
          if ((code ^ SIGN) < (bound ^ SIGN)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); sym <<= 1; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); sym = (sym << 1) | 1; }
          if (range >>> 24 === 0) { range <<= 8; code = (code << 8) | (inp[ip++] as number); }
        }
        buf[pos++] = sym;
        state = state < 4 ? 0 : state < 10 ? state - 3 : state - 6;
        continue;
      }
      // a match. Its kind, from up to four more bits: IS_REP 0 is a simple match (kind 0); else IS_REP_G0 0 and
      // IS_REP0_LONG 0 a short rep (1) or 1 a rep0 match (2); else IS_REP_G1 0 rep1 (3), else IS_REP_G2 rep2/rep3
      let kind = 0;
      let step = 0;
      i = IS_REP + state;
      for (;;) {
        p = probs[i] as number;
        bound = Math.imul(range >>> 11, p);
        if ((code ^ SIGN) < (bound ^ SIGN)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); b = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); b = 1; }
        if (range >>> 24 === 0) { range <<= 8; code = (code << 8) | (inp[ip++] as number); }
        if (step === 0) {
          if (b === 0) break;
          if (pos === 0 && ring === 0) throw new CodecError('E_FORMAT', 'LZMA repeat match with empty dictionary', this.inBase + ip);
          step = 1;
          i = IS_REP_G0 + state;
        } else if (step === 1) {
          step = b === 0 ? 2 : 3;
          i = b === 0 ? IS_REP0_LONG + (state << 4) + posState : IS_REP_G1 + state;
        } else if (step === 2) {
          kind = 1 + b;
          break;
        } else if (step === 3 && b === 1) {
          step = 4;
          i = IS_REP_G2 + state;
        } else {
          kind = step === 3 ? 3 : 4 + b;
          break;
        }
      }
      if (kind === 1) {
        // short rep: one byte at rep0
        if (rep0 >= pos && rep0 >= ring) throw this.badDistance(rep0, pos, ip);
        let m = pos - rep0 - 1;
        if (m < 0) m += buf.length;
        buf[pos] = buf[m] as number;
        pos++;
        state = state < 7 ? 9 : 11;
        continue;
      }
      if (kind >= 3) {
        let dist: number;
        if (kind === 3) dist = rep1;
        else {
          if (kind === 4) dist = rep2;
          else {
            dist = rep3;
            rep3 = rep2;
          }
          rep2 = rep1;
        }
        rep1 = rep0;
        rep0 = dist;
      }
      // the length: two choice bits pick a 3-bit low or middle tree or the 8-bit high one
      const lenBase = kind === 0 ? LEN : REP_LEN;
      let lenOff = 0;
      let treeBase = lenBase + LEN_LOW + posState * 8;
      let bits = 3;
      i = lenBase;
      for (;;) {
        p = probs[i] as number;
        bound = Math.imul(range >>> 11, p);
        if ((code ^ SIGN) < (bound ^ SIGN)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); b = 0; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); b = 1; }
        if (range >>> 24 === 0) { range <<= 8; code = (code << 8) | (inp[ip++] as number); }
        if (b === 0) break;
        if (i !== lenBase) {
          lenOff = 16;
          treeBase = lenBase + LEN_HIGH;
          bits = 8;
          break;
        }
        lenOff = 8;
        treeBase = lenBase + LEN_MID + posState * 8;
        i = lenBase + LEN_CHOICE2;
      }
      // the length's tree, and for a simple match then the distance slot's 6-bit tree
      let len = 0;
      let slot = 0;
      for (let t = kind === 0 ? 2 : 1; t > 0; t--) {
        let m = 1;
        for (let k = 0; k < bits; k++) {
          i = treeBase + m;
          p = probs[i] as number;
          bound = Math.imul(range >>> 11, p);
          if ((code ^ SIGN) < (bound ^ SIGN)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); m <<= 1; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); m = (m << 1) | 1; }
          if (range >>> 24 === 0) { range <<= 8; code = (code << 8) | (inp[ip++] as number); }
        }
        m -= 1 << bits;
        if (t === 1 && kind === 0) slot = m;
        else {
          len = m + lenOff;
          treeBase = POS_SLOT + (len < 3 ? len : 3) * 64;
          bits = 6;
        }
      }
      if (kind === 0) {
        // simple match: a new distance from its slot, then reverse-tree bits (after direct bits, for far ones)
        rep3 = rep2;
        rep2 = rep1;
        rep1 = rep0;
        state = state < 7 ? 7 : 10;
        if (slot < 4) rep0 = slot;
        else {
          const nd = (slot >>> 1) - 1;
          let dist = ((2 | (slot & 1)) << nd) >>> 0;
          let revBase = SPEC_POS + dist - slot - 1;
          let revBits = nd;
          if (slot >= 14) {
            let direct = 0;
            for (let k = nd - 4; k > 0; k--) {
              range >>>= 1;
              if ((code ^ SIGN) >= (range ^ SIGN)) { code = (code - range) | 0; direct = (direct << 1) | 1; } else direct <<= 1;
              if (range >>> 24 === 0) { range <<= 8; code = (code << 8) | (inp[ip++] as number); }
            }
            dist += (direct >>> 0) * 16;
            revBase = ALIGN - 1;
            revBits = 4;
          }
          let m = 1;
          for (let k = 0; k < revBits; k++) {
            i = revBase + m;
            p = probs[i] as number;
            bound = Math.imul(range >>> 11, p);
            if ((code ^ SIGN) < (bound ^ SIGN)) { range = bound; probs[i] = p + ((2048 - p) >>> 5); m <<= 1; } else { range = (range - bound) | 0; code = (code - bound) | 0; probs[i] = p - (p >>> 5); m = (m << 1) | 1; dist += 1 << k; }
            if (range >>> 24 === 0) { range <<= 8; code = (code << 8) | (inp[ip++] as number); }
          }
          rep0 = dist;
        }
        if (rep0 === 0xffffffff) {
          if (!allowEnd) throw new CodecError('E_FORMAT', 'unexpected LZMA end marker', this.inBase + ip);
          ended = true;
          break;
        }
      } else state = state < 7 ? 8 : 11;
      if (rep0 >= pos && rep0 >= ring) throw this.badDistance(rep0, pos, ip);
      // copy len + 2 bytes from rep0 + 1 back, as far as the stop
      len += 2;
      let n = stop - pos;
      if (n > len) n = len;
      let src = pos - rep0 - 1;
      if (src < 0) src += buf.length;
      if (src + n <= buf.length) {
        if (rep0 >= n && n > 32) buf.copyWithin(pos, src, src + n);
        else if (rep0 === 0) buf.fill(buf[src] as number, pos, pos + n);
        else for (let k = 0; k < n; k++) buf[pos + k] = buf[src + k] as number;
        pos += n;
      } else {
        // the source runs round the end of the buffer
        const size = buf.length;
        for (let k = 0; k < n; k++) {
          buf[pos++] = buf[src++] as number;
          if (src === size) src = 0;
        }
      }
      this.pendingLen = len - n;
    }
    d.pos = pos;
    this.range = range;
    this.code = code;
    this.ip = ip;
    this.state = state;
    this.rep0 = rep0;
    this.rep1 = rep1;
    this.rep2 = rep2;
    this.rep3 = rep3;
    if (ip > iend) throw this.ranOut();
    return ended;
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
  const dict = new LzDict(known ? size : maxOutput, 0, undefined, known ? size : 1 << 20);
  const dec = new LzmaDecoder(dict);
  dec.setProps(input[0] as number);
  dec.resetState();
  dec.initRange(input, 13, input.length, 13);
  // with no size, the output stops at an end marker, and reaching the limit first is too much
  if (!dec.decode(known ? size : maxOutput, true) && !known) throw new CodecError('E_LIMIT', `decoded data exceeds the limit of ${maxOutput} bytes`);
  return dict.result();
}

/**
 * Decodes one LZMA2 stream from `input[start, end)` into `dict`, a chunk (at most 64 KiB compressed) at a time.
 * Returns the input position after its end byte.
 */
export function decodeLzma2(input: InputWindow, start: number, end: number, dict: LzDict, dec = new LzmaDecoder(dict)): number {
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
        dict.reset();
        needDictReset = false;
        // as xz: the next LZMA chunk after a dictionary reset sets new properties (and so resets the state)
        needProps = true;
      } else if (needDictReset) throw new CodecError('E_FORMAT', 'LZMA2 stream does not start with a dictionary reset', p);
      if (p + 3 + size > end) throw new CodecError('E_FORMAT', 'LZMA2 uncompressed chunk is truncated', p);
      dict.put(input.bytes(p + 3, size));
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
      dict.reset();
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
    if (dict.total + unpacked > dict.cap) throw new CodecError('E_LIMIT', `decoded data exceeds the limit of ${dict.cap} bytes`, p);
    dec.initRange(input.bytes(p, packed), 0, packed, p);
    dec.decode(dict.total + unpacked, false);
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
