/**
 * bzip2 decoding, written from the format as bzip2 1.0 writes it: a stream header `BZh1`-`BZh9`, then blocks
 * (each one a 48-bit magic 0x314159265359, its CRC, the Burrows-Wheeler origin pointer, the symbol map, the
 * Huffman tables and selectors, MTF/RUNA/RUNB-coded symbols), then the end-of-stream magic 0x177245385090
 * with the combined CRC, padded to a byte. Blocks are bit-aligned. Streams may be concatenated.
 *
 * Memory is bounded by the block size (at most 900,000 symbols) plus a 1 MiB output window handed to the
 * sink as it fills: the decoded data never needs to be in memory whole. Both CRCs are verified.
 * Randomised blocks (written only by bzip2 0.9.0, 1998) are refused as unsupported.
 */
import { checkTime } from '../limits.js';
import { CodecError } from './lzma.js';

export const BZIP2_MAGIC = [0x42, 0x5a, 0x68] as const; // "BZh"

export interface Bzip2Block {
  /** bit offset of the block magic in the input */
  bit: number;
  /** bit offset just past the block's last symbol */
  endBit: number;
  crc: number;
  /** offset and size of the block's output in the decoded stream */
  outOffset: number;
  outSize: number;
}

export interface Bzip2Stream {
  /** byte offset of `BZh` */
  offset: number;
  /** 1-9: the block size in 100,000s */
  level: number;
  blocks: Bzip2Block[];
  /** bit offset of the end-of-stream magic */
  endBit: number;
  combinedCrc: number;
  /** byte offset just past the stream (its last byte holds the padding bits) */
  end: number;
}

export interface Bzip2Result {
  streams: Bzip2Stream[];
  /** bytes after the last stream that do not start another one */
  trailing: number;
}

export interface Sink {
  write(bytes: Uint8Array, owned?: boolean): void;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

const MAX_GROUPS = 6;
const MAX_ALPHA = 258;
const MAX_CODE_LEN = 20;
const GROUP_SIZE = 50;
/** bzip2 1.0.8 reads more selectors than this but uses only these many */
const MAX_SELECTORS = 18002;
const OUT_WINDOW = 1 << 20;
const LUT_BITS = 10;
const LUT_MASK = (1 << LUT_BITS) - 1;

class BitReader {
  buf = 0;
  count = 0;
  pos: number;
  constructor(
    private readonly data: Uint8Array,
    byteOffset: number,
  ) {
    this.pos = byteOffset;
  }
  /** the bit offset of the next bit to be read */
  get bit(): number {
    return this.pos * 8 - this.count;
  }
  bits(n: number): number {
    while (this.count < n) {
      if (this.pos >= this.data.length) throw new CodecError('E_FORMAT', 'bzip2 stream is truncated', this.data.length);
      this.buf = ((this.buf << 8) | (this.data[this.pos++] as number)) & 0xffffffff;
      this.count += 8;
    }
    this.count -= n;
    return (this.buf >>> this.count) & ((1 << n) - 1);
  }
  bit1(): number {
    return this.bits(1);
  }
  /** skips to the next byte boundary */
  align(): void {
    this.count -= this.count % 8;
    // whole bytes still buffered are given back
    this.pos -= this.count / 8;
    this.count = 0;
    this.buf = 0;
  }
}

/** Canonical Huffman decoding tables of one group. */
interface Table {
  /** codes of up to LUT_BITS bits: (symbol << 5 | length) at every index the code prefixes; 0 for longer codes */
  lut: Uint16Array;
  minLen: number;
  maxLen: number;
  limit: Int32Array;
  base: Int32Array;
  perm: Uint16Array;
}

function makeTable(lengths: Uint8Array, alphaSize: number, at: number): Table {
  let minLen = 32;
  let maxLen = 0;
  for (let i = 0; i < alphaSize; i++) {
    const l = lengths[i] as number;
    if (l > maxLen) maxLen = l;
    if (l < minLen) minLen = l;
  }
  const perm = new Uint16Array(alphaSize);
  let pp = 0;
  for (let l = minLen; l <= maxLen; l++) for (let s = 0; s < alphaSize; s++) if (lengths[s] === l) perm[pp++] = s;
  const count = new Int32Array(MAX_CODE_LEN + 2);
  for (let i = 0; i < alphaSize; i++) count[lengths[i] as number]!++;
  const limit = new Int32Array(MAX_CODE_LEN + 2);
  const base = new Int32Array(MAX_CODE_LEN + 2);
  let code = 0;
  let idx = 0;
  for (let l = minLen; l <= maxLen; l++) {
    // codes of length l are code .. code+count-1; they map to perm[idx ..]
    base[l] = code - idx;
    code += count[l] as number;
    idx += count[l] as number;
    limit[l] = code - 1;
    code <<= 1;
  }
  if (code >>> 1 > 1 << maxLen) throw new CodecError('E_FORMAT', 'bzip2 Huffman code lengths are oversubscribed', at);
  const lut = new Uint16Array(1 << LUT_BITS);
  code = 0;
  idx = 0;
  for (let l = minLen; l <= maxLen; l++) {
    const c = count[l] as number;
    if (l <= LUT_BITS) {
      for (let i = 0; i < c; i++) {
        const from = (code + i) << (LUT_BITS - l);
        lut.fill(((perm[idx + i] as number) << 5) | l, from, from + (1 << (LUT_BITS - l)));
      }
    }
    code = (code + c) << 1;
    idx += c;
  }
  return { lut, minLen, maxLen, limit, base, perm };
}

/**
 * Decodes every stream of `input` into `sink`, at most `maxOutput` bytes in all; returns where each stream
 * and block sits. Corrupt data and CRC mismatches are E_FORMAT (with the input offset), too much output E_LIMIT.
 */
export function decodeBzip2(input: Uint8Array, maxOutput: number, sink: Sink): Bzip2Result {
  return new Decoder(input, maxOutput, sink).run();
}

/** A block's Huffman tables, selectors and symbol map, as its header gives them. */
interface BlockHeader {
  origPtr: number;
  seqToUnseq: Uint8Array;
  alphaSize: number;
  selectors: Uint8Array;
  tables: Table[];
}

class Decoder {
  private readonly out = new Uint8Array(OUT_WINDOW);
  private outLen = 0;
  /** bytes handed to the sink */
  private total = 0;
  private tt = new Uint32Array(0);
  private readonly counts = new Uint32Array(256);
  private crc = 0;

  constructor(
    private readonly input: Uint8Array,
    private readonly maxOutput: number,
    private readonly sink: Sink,
  ) {}

  run(): Bzip2Result {
    const input = this.input;
    const streams: Bzip2Stream[] = [];
    let offset = 0;
    while (offset + 4 <= input.length && input[offset] === 0x42 && input[offset + 1] === 0x5a && input[offset + 2] === 0x68) {
      const levelChar = input[offset + 3] as number;
      if (levelChar < 0x31 || levelChar > 0x39) {
        if (streams.length) break; // not another stream: trailing data
        throw new CodecError('E_FORMAT', 'bzip2 block size is not 1-9', offset + 3);
      }
      const s = this.stream(offset, levelChar - 0x30);
      streams.push(s);
      offset = s.end;
    }
    if (!streams.length) throw new CodecError('E_FORMAT', 'not a bzip2 stream', 0);
    this.flush();
    return { streams, trailing: input.length - offset };
  }

  private flush(): void {
    if (this.outLen) this.sink.write(this.out.subarray(0, this.outLen));
    this.total += this.outLen;
    this.outLen = 0;
  }

  private stream(offset: number, level: number): Bzip2Stream {
    const blockMax = level * 100000;
    if (this.tt.length < blockMax) this.tt = new Uint32Array(blockMax);
    const r = new BitReader(this.input, offset + 4);
    const blocks: Bzip2Block[] = [];
    let combined = 0;
    for (;;) {
      const bit = r.bit;
      const m1 = r.bits(24);
      const m2 = r.bits(24);
      if (m1 === 0x177245 && m2 === 0x385090) {
        const stored = r.bits(16) * 0x10000 + r.bits(16);
        if (stored !== combined) throw new CodecError('E_FORMAT', `bzip2 stream CRC ${hex(stored)} does not match the computed ${hex(combined)}`, Math.floor(bit / 8));
        r.align();
        return { offset, level, blocks, endBit: bit, combinedCrc: stored, end: r.pos };
      }
      if (m1 !== 0x314159 || m2 !== 0x265359) throw new CodecError('E_FORMAT', 'no bzip2 block or end-of-stream magic where one is expected', Math.floor(bit / 8));
      checkTime('decoding bzip2');
      const stored = r.bits(16) * 0x10000 + r.bits(16);
      const outOffset = this.total + this.outLen;
      const h = this.header(r, bit);
      const n = this.symbols(r, h, blockMax);
      if (h.origPtr >= n) throw new CodecError('E_FORMAT', `bzip2 origin pointer ${h.origPtr} is outside the ${n}-byte block`, Math.floor(bit / 8));
      this.inverseBwt(n);
      this.crc = 0xffffffff;
      this.emit(n, h.origPtr, bit);
      const crc = ~this.crc >>> 0;
      if (crc !== stored) throw new CodecError('E_FORMAT', `bzip2 block CRC ${hex(stored)} does not match the computed ${hex(crc)}`, Math.floor(bit / 8) + 6);
      combined = (((combined << 1) | (combined >>> 31)) ^ crc) >>> 0;
      blocks.push({ bit, endBit: r.bit, crc: stored, outOffset, outSize: this.total + this.outLen - outOffset });
    }
  }

  /** The block header after its CRC: randomised flag, origin pointer, symbol map, tables and selectors. */
  private header(r: BitReader, bit: number): BlockHeader {
    const at = (): number => Math.floor(r.bit / 8);
    if (r.bit1()) throw new CodecError('E_UNSUPPORTED', 'randomised bzip2 blocks (bzip2 0.9.0) are not supported', Math.floor(bit / 8));
    const origPtr = r.bits(24);
    const used = r.bits(16);
    const seqToUnseq = new Uint8Array(256);
    let nInUse = 0;
    for (let i = 0; i < 16; i++) {
      if (!(used & (0x8000 >> i))) continue;
      const u = r.bits(16);
      for (let j = 0; j < 16; j++) if (u & (0x8000 >> j)) seqToUnseq[nInUse++] = i * 16 + j;
    }
    if (nInUse === 0) throw new CodecError('E_FORMAT', 'bzip2 block uses no symbols', at());
    const alphaSize = nInUse + 2;
    const nGroups = r.bits(3);
    if (nGroups < 2 || nGroups > MAX_GROUPS) throw new CodecError('E_FORMAT', `bzip2 block has ${nGroups} Huffman tables (2-6 allowed)`, at());
    const nSelectors = r.bits(15);
    if (nSelectors < 1) throw new CodecError('E_FORMAT', 'bzip2 block has no selectors', at());
    const selectors = new Uint8Array(Math.min(nSelectors, MAX_SELECTORS));
    const mtfGroups = [0, 1, 2, 3, 4, 5];
    for (let i = 0; i < nSelectors; i++) {
      let j = 0;
      while (r.bit1()) {
        j++;
        if (j >= nGroups) throw new CodecError('E_FORMAT', 'bzip2 selector is out of range', at());
      }
      const v = mtfGroups[j] as number;
      for (let k = j; k > 0; k--) mtfGroups[k] = mtfGroups[k - 1] as number;
      mtfGroups[0] = v;
      if (i < MAX_SELECTORS) selectors[i] = v;
    }
    const tables: Table[] = [];
    const lengths = new Uint8Array(MAX_ALPHA);
    for (let g = 0; g < nGroups; g++) {
      let len = r.bits(5);
      for (let s = 0; s < alphaSize; s++) {
        for (;;) {
          if (len < 1 || len > MAX_CODE_LEN) throw new CodecError('E_FORMAT', 'bzip2 Huffman code length is out of range', at());
          if (!r.bit1()) break;
          len += r.bit1() ? -1 : 1;
        }
        lengths[s] = len;
      }
      tables.push(makeTable(lengths, alphaSize, at()));
    }
    return { origPtr, seqToUnseq, alphaSize, selectors, tables };
  }

  /** Decodes the block's symbols (MTF indices with RUNA/RUNB runs, up to EOB) into tt; returns their count. */
  private symbols(r: BitReader, h: BlockHeader, blockMax: number): number {
    const { seqToUnseq, alphaSize, selectors, tables } = h;
    const tt = this.tt;
    const counts = this.counts;
    counts.fill(0);
    const mtf = new Uint8Array(256);
    for (let i = 0; i < 256; i++) mtf[i] = i;
    const EOB = alphaSize - 1;
    let n = 0;
    let group = 0;
    let left = 0;
    let table = tables[0] as Table;
    let lut = table.lut;
    let runLength = 0;
    let runWeight = 1;
    // the bit reader's state in locals: this loop reads most of the block's bits
    const data = this.input;
    const dataBits = data.length * 8;
    let buf = r.buf;
    let count = r.count;
    let p = r.pos;
    const at = (): number => Math.floor((p * 8 - count) / 8);
    for (;;) {
      if (left === 0) {
        if (group >= selectors.length) throw new CodecError('E_FORMAT', 'bzip2 block runs out of selectors', at());
        table = tables[selectors[group++] as number] as Table;
        lut = table.lut;
        left = GROUP_SIZE;
      }
      left--;
      while (count <= 24) {
        buf = ((buf << 8) | (p < data.length ? (data[p] as number) : 0)) >>> 0;
        p++;
        count += 8;
      }
      const e = lut[(buf >>> (count - LUT_BITS)) & LUT_MASK] as number;
      let sym: number;
      if (e !== 0) {
        count -= e & 31;
        sym = e >>> 5;
      } else {
        let len = LUT_BITS + 1;
        let v = (buf >>> (count - len)) & ((1 << len) - 1);
        while (v > (table.limit[len] as number)) {
          if (++len > table.maxLen) throw new CodecError('E_FORMAT', 'bzip2 Huffman code is not in its table', at());
          v = (buf >>> (count - len)) & ((1 << len) - 1);
        }
        count -= len;
        const k = v - (table.base[len] as number);
        if (k < 0 || k >= alphaSize) throw new CodecError('E_FORMAT', 'bzip2 Huffman code is not in its table', at());
        sym = table.perm[k] as number;
      }
      if (p * 8 - count > dataBits) throw new CodecError('E_FORMAT', 'bzip2 stream is truncated', data.length);
      if (sym <= 1) {
        // RUNA adds 1 x weight, RUNB 2 x weight: bijective base 2
        runLength += (sym + 1) * runWeight;
        runWeight *= 2;
        if (runLength > blockMax) throw new CodecError('E_FORMAT', 'bzip2 run is longer than the block', at());
        continue;
      }
      if (runLength) {
        if (n + runLength > blockMax) throw new CodecError('E_FORMAT', 'bzip2 block is larger than its declared size', at());
        const b = seqToUnseq[mtf[0] as number] as number;
        counts[b] = (counts[b] as number) + runLength;
        tt.fill(b, n, n + runLength);
        n += runLength;
        runLength = 0;
        runWeight = 1;
      }
      if (sym === EOB) break;
      if (n >= blockMax) throw new CodecError('E_FORMAT', 'bzip2 block is larger than its declared size', at());
      // MTF index sym-1: move it to the front
      const idx = sym - 1;
      const front = mtf[idx] as number;
      if (idx < 16) for (let q = idx; q > 0; q--) mtf[q] = mtf[q - 1] as number;
      else mtf.copyWithin(1, 0, idx);
      mtf[0] = front;
      const b = seqToUnseq[front] as number;
      counts[b] = (counts[b] as number) + 1;
      tt[n++] = b;
    }
    // whole bytes read ahead are given back to the reader
    while (count >= 8) {
      count -= 8;
      buf >>>= 8;
      p--;
    }
    r.buf = buf;
    r.count = count;
    r.pos = p;
    return n;
  }

  /** Inverse BWT links: tt[i] keeps its byte in the low 8 bits and, above them, the position that follows. */
  private inverseBwt(n: number): void {
    const tt = this.tt;
    const counts = this.counts;
    const cftab = new Int32Array(256);
    let sum = 0;
    for (let i = 0; i < 256; i++) {
      cftab[i] = sum;
      sum += counts[i] as number;
    }
    for (let i = 0; i < n; i++) {
      const b = (tt[i] as number) & 0xff;
      const dst = cftab[b] as number;
      cftab[b] = dst + 1;
      tt[dst] = ((tt[dst] as number) | (i << 8)) >>> 0;
    }
  }

  /** Follows the links from the origin, undoing the initial run-length coding (4 equal bytes, then a count). */
  private emit(n: number, origPtr: number, bit: number): void {
    const tt = this.tt;
    const out = this.out;
    let outLen = this.outLen;
    let crc = this.crc;
    let pos = (tt[origPtr] as number) >>> 8;
    let last = -1;
    let same = 0;
    for (let i = 0; i < n; i++) {
      const e = tt[pos] as number;
      const b = e & 0xff;
      pos = e >>> 8;
      let reps = 1;
      let byte = b;
      if (same === 4) {
        reps = b;
        byte = last;
        same = 0;
      } else if (b === last) same++;
      else {
        last = b;
        same = 1;
      }
      if (reps === 0) continue;
      if (this.total + outLen + reps > this.maxOutput) throw new CodecError('E_LIMIT', `bzip2 output is over the limit of ${this.maxOutput} bytes`, Math.floor(bit / 8));
      for (let k = 0; k < reps; k++) {
        if (outLen === OUT_WINDOW) {
          this.outLen = outLen;
          this.flush();
          outLen = 0;
        }
        out[outLen++] = byte;
        crc = (crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ byte) & 0xff] as number);
      }
    }
    this.outLen = outLen;
    this.crc = crc >>> 0;
  }
}

function hex(v: number): string {
  return v.toString(16).padStart(8, '0');
}
