/**
 * The .xz container (xz file format 1.1.0): streams, block headers, index, footer, stream padding.
 * `parseXz` walks the structure (and decodes when asked), recording where each part sits so the
 * xz format module can turn them into fields. Filters: LZMA2, optionally after BCJ x86 (as the Linux kernel uses).
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { bcjX86Decode, CodecError, decodeLzma2, LzmaDecoder, OutBuf } from './lzma.js';

export const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const CHECK_SIZES: Record<number, number> = { 0: 0, 1: 4, 4: 8, 10: 32 };
export const CHECK_NAMES: Record<number, string> = { 0: 'none', 1: 'crc32', 4: 'crc64', 10: 'sha256' };

export interface XzFilter {
  id: number;
  props: Uint8Array;
}
export interface XzBlock {
  headerOffset: number;
  headerSize: number;
  flags: number;
  compressedSizeField: number | null;
  uncompressedSizeField: number | null;
  filters: XzFilter[];
  dataOffset: number;
  dataSize: number;
  /** where this block's bytes start in the decoded output */
  outOffset: number;
  outSize: number;
  paddingSize: number;
  checkOffset: number;
  checkSize: number;
}
export interface XzStream {
  offset: number;
  /** the stream flags' check type */
  checkType: number;
  blocks: XzBlock[];
  indexOffset: number;
  indexSize: number;
  indexRecords: number;
  footerOffset: number;
  backwardSize: number;
  /** zero bytes after the footer */
  paddingSize: number;
  end: number;
}

const CRC64_TABLE = (() => {
  const poly = 0xc96c5795d7870f42n;
  const t = new Array<bigint>(256);
  for (let i = 0; i < 256; i++) {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    t[i] = c;
  }
  // split into two 32-bit halves for speed
  const lo = new Uint32Array(256);
  const hi = new Uint32Array(256);
  t.forEach((v, i) => {
    lo[i] = Number(v & 0xffffffffn);
    hi[i] = Number(v >> 32n);
  });
  return { lo, hi };
})();

export function crc64(data: Uint8Array): Uint8Array {
  let lo = 0xffffffff;
  let hi = 0xffffffff;
  const { lo: tlo, hi: thi } = CRC64_TABLE;
  for (let i = 0; i < data.length; i++) {
    const idx = (lo ^ (data[i] as number)) & 0xff;
    const nlo = ((lo >>> 8) | (hi << 24)) >>> 0;
    const nhi = hi >>> 8;
    lo = ((tlo[idx] as number) ^ nlo) >>> 0;
    hi = ((thi[idx] as number) ^ nhi) >>> 0;
  }
  lo = ~lo >>> 0;
  hi = ~hi >>> 0;
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint32(0, lo, true);
  v.setUint32(4, hi, true);
  return out;
}

function computeCheck(type: number, data: Uint8Array): Uint8Array | null {
  if (type === 1) {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, crc32(data), true);
    return out;
  }
  if (type === 4) return crc64(data);
  if (type === 10) return new Uint8Array(createHash('sha256').update(data).digest());
  return null;
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function u32le(b: Uint8Array, o: number): number {
  return ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16) | ((b[o + 3] as number) << 24)) >>> 0;
}

/** xz multibyte integer; returns [value, next position]. */
function varint(b: Uint8Array, p: number, end: number): [number, number] {
  let v = 0;
  for (let i = 0; i < 9; i++) {
    if (p >= end) throw new CodecError('E_FORMAT', 'xz integer runs past its structure', p);
    const byte = b[p++] as number;
    v += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) throw new CodecError('E_FORMAT', 'xz integer is not minimally encoded', p - 1);
      if (!Number.isSafeInteger(v)) throw new CodecError('E_FORMAT', 'xz integer is too large', p - 1);
      return [v, p];
    }
  }
  throw new CodecError('E_FORMAT', 'xz integer is longer than 9 bytes', p);
}

export interface XzResult {
  streams: XzStream[];
  output: Uint8Array;
}

/**
 * Walks (and, when `decode`, decodes and verifies) every stream in `input`. With a `sink`, each block's output
 * goes there once the block is checked (blocks are independent: each starts a fresh dictionary), so only one
 * block is held at a time, and `output` is empty.
 */
export function parseXz(input: Uint8Array, maxOutput: number, decode = true, sink?: { write(bytes: Uint8Array, owned?: boolean): void }): XzResult {
  const out = new OutBuf(maxOutput, 1 << 20);
  const streams: XzStream[] = [];
  let p = 0;
  while (p < input.length) {
    // after a stream, anything that is not another stream ends the walk (the kernel appends the size)
    if (streams.length > 0 && (input.length - p < 12 || !XZ_MAGIC.every((v, i) => input[p + i] === v))) break;
    if (input.length - p < 12) throw new CodecError('E_FORMAT', 'xz stream header is truncated', p);
    for (let i = 0; i < 6; i++) if (input[p + i] !== XZ_MAGIC[i]) throw new CodecError('E_FORMAT', 'not an xz stream header', p);
    const flags = input.subarray(p + 6, p + 8);
    if (crc32(flags) !== u32le(input, p + 8)) throw new CodecError('E_FORMAT', 'xz stream header CRC32 does not match', p);
    if (flags[0] !== 0 || ((flags[1] as number) & 0xf0) !== 0) throw new CodecError('E_UNSUPPORTED', 'unsupported xz stream flags', p + 6);
    const checkType = (flags[1] as number) & 0x0f;
    const checkSize = CHECK_SIZES[checkType] ?? 4 << Math.floor((checkType - 1) / 3);
    const stream: XzStream = {
      offset: p,
      checkType,
      blocks: [],
      indexOffset: 0,
      indexSize: 0,
      indexRecords: 0,
      footerOffset: 0,
      backwardSize: 0,
      paddingSize: 0,
      end: 0,
    };
    p += 12;
    // blocks until the index indicator
    for (;;) {
      if (p >= input.length) throw new CodecError('E_FORMAT', 'xz stream ends before its index', p);
      const sizeByte = input[p] as number;
      if (sizeByte === 0) break;
      const headerSize = (sizeByte + 1) * 4;
      const h = p;
      if (h + headerSize > input.length) throw new CodecError('E_FORMAT', 'xz block header is truncated', h);
      if (crc32(input.subarray(h, h + headerSize - 4)) !== u32le(input, h + headerSize - 4)) {
        throw new CodecError('E_FORMAT', 'xz block header CRC32 does not match', h);
      }
      const hend = h + headerSize - 4;
      const bflags = input[h + 1] as number;
      if (bflags & 0x3c) throw new CodecError('E_UNSUPPORTED', 'reserved xz block flags are set', h + 1);
      let q = h + 2;
      let compressedSizeField: number | null = null;
      let uncompressedSizeField: number | null = null;
      if (bflags & 0x40) [compressedSizeField, q] = varint(input, q, hend);
      if (bflags & 0x80) [uncompressedSizeField, q] = varint(input, q, hend);
      const filters: XzFilter[] = [];
      const nf = (bflags & 3) + 1;
      for (let i = 0; i < nf; i++) {
        let id: number;
        let psize: number;
        [id, q] = varint(input, q, hend);
        [psize, q] = varint(input, q, hend);
        if (q + psize > hend) throw new CodecError('E_FORMAT', 'xz filter properties run past the block header', q);
        filters.push({ id, props: input.subarray(q, q + psize) });
        q += psize;
      }
      for (; q < hend; q++) if (input[q] !== 0) throw new CodecError('E_FORMAT', 'xz block header padding is not zero', q);
      const last = filters[filters.length - 1];
      if (!last || last.id !== 0x21) throw new CodecError('E_UNSUPPORTED', 'xz block does not end with the LZMA2 filter', h);
      for (const f of filters.slice(0, -1)) {
        if (f.id !== 0x04) throw new CodecError('E_UNSUPPORTED', `xz filter 0x${f.id.toString(16)} is not supported`, h);
      }
      const dataOffset = h + headerSize;
      const outOffset = out.base + out.pos;
      /** where this block's output starts in `out.buf` */
      const bufStart = out.pos;
      let dataEnd: number;
      if (decode) {
        const dictEnd = compressedSizeField !== null ? Math.min(input.length, dataOffset + compressedSizeField) : input.length;
        dataEnd = decodeLzma2(input, dataOffset, dictEnd, out, new LzmaDecoder(out));
        const bcj = filters.find((f) => f.id === 0x04);
        if (bcj) {
          const startPos = bcj.props.length === 4 ? u32le(bcj.props, 0) : 0;
          bcjX86Decode(out.buf, bufStart, out.pos, startPos);
        }
      } else {
        if (compressedSizeField === null) throw new CodecError('E_UNSUPPORTED', 'xz block without a compressed size needs decoding', h);
        dataEnd = dataOffset + compressedSizeField;
      }
      const dataSize = dataEnd - dataOffset;
      if (compressedSizeField !== null && compressedSizeField !== dataSize) {
        throw new CodecError('E_FORMAT', 'xz block compressed size does not match its header', h);
      }
      const outSize = decode ? out.base + out.pos - outOffset : (uncompressedSizeField ?? 0);
      if (decode && uncompressedSizeField !== null && uncompressedSizeField !== outSize) {
        throw new CodecError('E_FORMAT', 'xz block uncompressed size does not match its header', h);
      }
      const paddingSize = (4 - (dataSize % 4)) % 4;
      const checkOffset = dataEnd + paddingSize;
      if (checkOffset + checkSize > input.length) throw new CodecError('E_FORMAT', 'xz block check is truncated', checkOffset);
      for (let i = dataEnd; i < checkOffset; i++) if (input[i] !== 0) throw new CodecError('E_FORMAT', 'xz block padding is not zero', i);
      if (decode) {
        const want = computeCheck(checkType, out.buf.subarray(bufStart, out.pos));
        if (want && !eq(want, input.subarray(checkOffset, checkOffset + checkSize))) {
          throw new CodecError('E_FORMAT', `xz block ${CHECK_NAMES[checkType]} check does not match the decoded data`, checkOffset);
        }
      }
      if (sink && decode) out.flush(sink);
      stream.blocks.push({
        headerOffset: h,
        headerSize,
        flags: bflags,
        compressedSizeField,
        uncompressedSizeField,
        filters,
        dataOffset,
        dataSize,
        outOffset,
        outSize,
        paddingSize,
        checkOffset,
        checkSize,
      });
      p = checkOffset + checkSize;
    }
    // index
    stream.indexOffset = p;
    let q = p + 1;
    let records: number;
    [records, q] = varint(input, q, input.length);
    if (records !== stream.blocks.length) throw new CodecError('E_FORMAT', `xz index lists ${records} blocks, the stream has ${stream.blocks.length}`, p);
    for (let i = 0; i < records; i++) {
      let unpadded: number;
      let usize: number;
      [unpadded, q] = varint(input, q, input.length);
      [usize, q] = varint(input, q, input.length);
      const b = stream.blocks[i] as XzBlock;
      if (unpadded !== b.headerSize + b.dataSize + b.checkSize || (decode && usize !== b.outSize)) {
        throw new CodecError('E_FORMAT', `xz index record ${i} does not match its block`, q);
      }
    }
    while ((q - p) % 4 !== 0) {
      if (q >= input.length || input[q] !== 0) throw new CodecError('E_FORMAT', 'xz index padding is not zero', q);
      q++;
    }
    if (q + 4 > input.length || crc32(input.subarray(p, q)) !== u32le(input, q)) throw new CodecError('E_FORMAT', 'xz index CRC32 does not match', q);
    q += 4;
    stream.indexSize = q - p;
    stream.indexRecords = records;
    // footer
    if (q + 12 > input.length) throw new CodecError('E_FORMAT', 'xz stream footer is truncated', q);
    if (input[q + 10] !== 0x59 || input[q + 11] !== 0x5a) throw new CodecError('E_FORMAT', 'xz stream footer magic is missing', q);
    if (crc32(input.subarray(q + 4, q + 10)) !== u32le(input, q)) throw new CodecError('E_FORMAT', 'xz stream footer CRC32 does not match', q);
    stream.backwardSize = (u32le(input, q + 4) + 1) * 4;
    if (stream.backwardSize !== stream.indexSize) throw new CodecError('E_FORMAT', 'xz footer backward size does not match the index', q + 4);
    if (input[q + 8] !== flags[0] || input[q + 9] !== flags[1]) throw new CodecError('E_FORMAT', 'xz footer flags differ from the header', q + 8);
    stream.footerOffset = q;
    q += 12;
    let pad = q;
    while (pad < input.length && input[pad] === 0) pad++;
    const padLen = pad - q;
    stream.paddingSize = padLen - (padLen % 4);
    stream.end = q + stream.paddingSize;
    streams.push(stream);
    p = stream.end;
  }
  if (streams.length === 0) throw new CodecError('E_FORMAT', 'no xz stream', 0);
  return { streams, output: sink ? new Uint8Array(0) : out.result() };
}
