/**
 * The .xz container (xz file format 1.1.0): streams, block headers, index, footer, stream padding.
 * `parseXz` walks the structure (and decodes when asked), recording where each part sits so the
 * xz format module can turn them into fields. Filters: LZMA2, optionally after BCJ x86 (as the Linux kernel uses).
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { zeroRun, type ByteSource } from '../io/source.js';
import { BcjX86 } from './bcj.js';
import { Crc64 } from './crc64.js';
import { Collect, CodecError, type ByteSink } from './lzma.js';
import { decodeLzma2, LzDict, LzmaDecoder, lzma2DictSize } from './lzma-decoder.js';
import { InputWindow } from './window.js';

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
  /** [offset from the header's start, length] of the compressed size, the uncompressed size and the filter flags */
  fieldsAt: Record<'compressed' | 'uncompressed' | 'filters', [number, number]>;
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

/** A block check computed as the block's output is produced; `digest` is null for check types not verified. */
interface Check {
  update(data: Uint8Array): void;
  digest(): Uint8Array | null;
}

function newCheck(type: number): Check {
  if (type === 1) {
    let c = 0;
    return {
      update: (d) => void (c = crc32(d, c)),
      digest: () => {
        const out = new Uint8Array(4);
        new DataView(out.buffer).setUint32(0, c, true);
        return out;
      },
    };
  }
  if (type === 4) return new Crc64();
  if (type === 10) {
    const h = createHash('sha256');
    return { update: (d) => void h.update(d), digest: () => new Uint8Array(h.digest()) };
  }
  return { update: () => undefined, digest: () => null };
}

function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function u32le(b: Uint8Array, o: number): number {
  return ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16) | ((b[o + 3] as number) << 24)) >>> 0;
}

/** xz multibyte integer in `b` (which starts at input position `base`); returns [value, next position]. */
function varint(b: Uint8Array, p: number, end: number, base: number): [number, number] {
  let v = 0;
  for (let i = 0; i < 9; i++) {
    if (p >= end) throw new CodecError('E_FORMAT', 'xz integer runs past its structure', base + p);
    const byte = b[p++] as number;
    v += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) throw new CodecError('E_FORMAT', 'xz integer is not minimally encoded', base + p - 1);
      if (!Number.isSafeInteger(v)) throw new CodecError('E_FORMAT', 'xz integer is too large', base + p - 1);
      return [v, p];
    }
  }
  throw new CodecError('E_FORMAT', 'xz integer is longer than 9 bytes', base + p);
}

/** Where each stream and block of an xz file sits: what decoding it learns beyond the decoded bytes. */
export interface XzLayout {
  streams: XzStream[];
  /** where the last stream (with its padding) ends */
  end: number;
}

export interface XzResult extends XzLayout {
  output: Uint8Array;
}

/**
 * The layout of `known`, decoded from other bytes, for `src`, which holds the same bytes up to the zero bytes at
 * the end (a copy padded to another length): its last stream's padding is this file's own.
 */
export function relaidXz(known: XzLayout, src: ByteSource): XzLayout {
  const streams = known.streams.slice();
  const last = streams[streams.length - 1];
  if (!last) return known;
  const q = last.footerOffset + 12;
  const padLen = zeroRun(src, q, 'xz stream padding');
  const paddingSize = padLen - (padLen % 4);
  streams[streams.length - 1] = { ...last, paddingSize, end: q + paddingSize };
  return { streams, end: q + paddingSize };
}

/** blocks in one stream at most (xz -T writes one per few MiB of input; the kernel one per stream) */
const MAX_XZ_BLOCKS = 1_000_000;

/** window kept for LZMA2 back-references at most: xz -9's dictionary; larger dictionaries are cut to it */
export const MAX_XZ_WINDOW = 64 * 1024 * 1024;

/**
 * Walks (and, when `decode`, decodes and verifies) every stream in `src`, reading it a window at a time. With a
 * `sink`, each block's output goes there as it is decoded (a block's back-references reach only into its
 * dictionary, a bounded window), and `output` is empty; without, `output` is the whole decoded data.
 */
export function parseXz(src: ByteSource, maxOutput: number, decode = true, sink?: ByteSink): XzResult {
  const input = new InputWindow(src, 'xz stream');
  const size = src.size;
  const collect = sink ? undefined : new Collect();
  const deliver: ByteSink = sink ?? (collect as Collect);
  // one dictionary and one decoder for every block: each block restarts them
  const dict = new LzDict(maxOutput, 0, () => undefined);
  const lzma = new LzmaDecoder(dict);
  let produced = 0;
  const streams: XzStream[] = [];
  let p = 0;
  while (p < size) {
    // after a stream, anything that is not another stream ends the walk (the kernel appends the size)
    if (streams.length > 0 && (size - p < 12 || !input.equals(p, XZ_MAGIC))) break;
    if (size - p < 12) throw new CodecError('E_FORMAT', 'xz stream header is truncated', p);
    if (!input.equals(p, XZ_MAGIC)) throw new CodecError('E_FORMAT', 'not an xz stream header', p);
    const flags = input.bytes(p + 6, 2).slice();
    if (crc32(flags) !== input.u32le(p + 8)) throw new CodecError('E_FORMAT', 'xz stream header CRC32 does not match', p);
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
      if (p >= size) throw new CodecError('E_FORMAT', 'xz stream ends before its index', p);
      const sizeByte = input.byte(p);
      if (sizeByte === 0) break;
      const headerSize = (sizeByte + 1) * 4;
      const h = p;
      if (stream.blocks.length >= MAX_XZ_BLOCKS) throw new CodecError('E_LIMIT', `xz stream has more than ${MAX_XZ_BLOCKS} blocks`, h);
      if (h + headerSize > size) throw new CodecError('E_FORMAT', 'xz block header is truncated', h);
      // the header (at most 1,024 bytes) copied: it is parsed after other reads of the window
      const hb = input.bytes(h, headerSize).slice();
      if (crc32(hb.subarray(0, headerSize - 4)) !== u32le(hb, headerSize - 4)) {
        throw new CodecError('E_FORMAT', 'xz block header CRC32 does not match', h);
      }
      const hend = headerSize - 4;
      const bflags = hb[1] as number;
      if (bflags & 0x3c) throw new CodecError('E_UNSUPPORTED', 'reserved xz block flags are set', h + 1);
      let q = 2;
      let compressedSizeField: number | null = null;
      let uncompressedSizeField: number | null = null;
      // where each part of the header sits (from the header's start), for the fields that name them
      const at = { compressed: [q, 0], uncompressed: [q, 0], filters: [q, 0] } as Record<'compressed' | 'uncompressed' | 'filters', [number, number]>;
      if (bflags & 0x40) {
        const from = q;
        [compressedSizeField, q] = varint(hb, q, hend, h);
        at.compressed = [from, q - from];
      }
      if (bflags & 0x80) {
        const from = q;
        [uncompressedSizeField, q] = varint(hb, q, hend, h);
        at.uncompressed = [from, q - from];
      }
      const filtersFrom = q;
      const filters: XzFilter[] = [];
      const nf = (bflags & 3) + 1;
      for (let i = 0; i < nf; i++) {
        let id: number;
        let psize: number;
        [id, q] = varint(hb, q, hend, h);
        [psize, q] = varint(hb, q, hend, h);
        if (q + psize > hend) throw new CodecError('E_FORMAT', 'xz filter properties run past the block header', h + q);
        filters.push({ id, props: hb.subarray(q, q + psize) });
        q += psize;
      }
      at.filters = [filtersFrom, q - filtersFrom];
      for (; q < hend; q++) if (hb[q] !== 0) throw new CodecError('E_FORMAT', 'xz block header padding is not zero', h + q);
      const last = filters[filters.length - 1];
      if (!last || last.id !== 0x21) throw new CodecError('E_UNSUPPORTED', 'xz block does not end with the LZMA2 filter', h);
      for (const f of filters.slice(0, -1)) {
        if (f.id !== 0x04) throw new CodecError('E_UNSUPPORTED', `xz filter 0x${f.id.toString(16)} is not supported`, h);
      }
      const dataOffset = h + headerSize;
      const outOffset = produced;
      let dataEnd: number;
      let check: Check | undefined;
      if (decode) {
        const dictEnd = compressedSizeField !== null ? Math.min(size, dataOffset + compressedSizeField) : size;
        const keep = Math.min(lzma2DictSize(last.props, h), MAX_XZ_WINDOW, maxOutput);
        const chk = (check = newCheck(checkType));
        const final = (bytes: Uint8Array): void => {
          chk.update(bytes);
          produced += bytes.length;
          deliver.write(bytes);
        };
        const bcjFilter = filters.find((f) => f.id === 0x04);
        const bcj = bcjFilter ? new BcjX86(bcjFilter.props.length === 4 ? u32le(bcjFilter.props, 0) : 0) : undefined;
        dict.restart(keep, bcj ? (bytes: Uint8Array): void => bcj.push(bytes, final) : final);
        dataEnd = decodeLzma2(input, dataOffset, dictEnd, dict, lzma);
        dict.flush();
        bcj?.end(final);
      } else {
        if (compressedSizeField === null) throw new CodecError('E_UNSUPPORTED', 'xz block without a compressed size needs decoding', h);
        dataEnd = dataOffset + compressedSizeField;
      }
      const dataSize = dataEnd - dataOffset;
      if (compressedSizeField !== null && compressedSizeField !== dataSize) {
        throw new CodecError('E_FORMAT', 'xz block compressed size does not match its header', h);
      }
      const outSize = decode ? produced - outOffset : (uncompressedSizeField ?? 0);
      if (decode && uncompressedSizeField !== null && uncompressedSizeField !== outSize) {
        throw new CodecError('E_FORMAT', 'xz block uncompressed size does not match its header', h);
      }
      const paddingSize = (4 - (dataSize % 4)) % 4;
      const checkOffset = dataEnd + paddingSize;
      if (checkOffset + checkSize > size) throw new CodecError('E_FORMAT', 'xz block check is truncated', checkOffset);
      const pad = input.bytes(dataEnd, paddingSize);
      for (let i = 0; i < paddingSize; i++) if (pad[i] !== 0) throw new CodecError('E_FORMAT', 'xz block padding is not zero', dataEnd + i);
      if (check) {
        const want = check.digest();
        if (want && !eq(want, input.bytes(checkOffset, checkSize))) {
          throw new CodecError('E_FORMAT', `xz block ${CHECK_NAMES[checkType]} check does not match the decoded data`, checkOffset);
        }
      }
      stream.blocks.push({
        headerOffset: h,
        headerSize,
        flags: bflags,
        compressedSizeField,
        uncompressedSizeField,
        filters: filters.map((f) => ({ id: f.id, props: f.props.slice() })),
        fieldsAt: at,
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
    // index: its records are read a window at a time, its CRC32 computed as they are
    stream.indexOffset = p;
    const ix = new IndexReader(input, p);
    ix.byte(); // the index indicator, 0
    const records = ix.varint();
    if (records !== stream.blocks.length) throw new CodecError('E_FORMAT', `xz index lists ${records} blocks, the stream has ${stream.blocks.length}`, p);
    for (let i = 0; i < records; i++) {
      const unpadded = ix.varint();
      const usize = ix.varint();
      const b = stream.blocks[i] as XzBlock;
      if (unpadded !== b.headerSize + b.dataSize + b.checkSize || (decode && usize !== b.outSize)) {
        throw new CodecError('E_FORMAT', `xz index record ${i} does not match its block`, ix.pos);
      }
    }
    while ((ix.pos - p) % 4 !== 0) {
      if (ix.pos >= size || ix.byte() !== 0) throw new CodecError('E_FORMAT', 'xz index padding is not zero', ix.pos - 1);
    }
    let q = ix.pos;
    if (q + 4 > size || ix.crcNow !== input.u32le(q)) throw new CodecError('E_FORMAT', 'xz index CRC32 does not match', q);
    q += 4;
    stream.indexSize = q - p;
    stream.indexRecords = records;
    // footer
    if (q + 12 > size) throw new CodecError('E_FORMAT', 'xz stream footer is truncated', q);
    const ft = input.bytes(q, 12).slice();
    if (ft[10] !== 0x59 || ft[11] !== 0x5a) throw new CodecError('E_FORMAT', 'xz stream footer magic is missing', q);
    if (crc32(ft.subarray(4, 10)) !== u32le(ft, 0)) throw new CodecError('E_FORMAT', 'xz stream footer CRC32 does not match', q);
    stream.backwardSize = (u32le(ft, 4) + 1) * 4;
    if (stream.backwardSize !== stream.indexSize) throw new CodecError('E_FORMAT', 'xz footer backward size does not match the index', q + 4);
    if (ft[8] !== flags[0] || ft[9] !== flags[1]) throw new CodecError('E_FORMAT', 'xz footer flags differ from the header', q + 8);
    stream.footerOffset = q;
    q += 12;
    const padLen = zeroRun(src, q, 'xz stream padding');
    stream.paddingSize = padLen - (padLen % 4);
    stream.end = q + stream.paddingSize;
    streams.push(stream);
    p = stream.end;
  }
  if (streams.length === 0) throw new CodecError('E_FORMAT', 'no xz stream', 0);
  return { streams, output: collect ? collect.result() : new Uint8Array(0), end: p };
}

/** The index of an xz stream, read byte by byte through the window, its CRC32 computed over what was read. */
class IndexReader {
  crc = 0;
  private pending: number[] = [];
  constructor(
    private readonly input: InputWindow,
    public pos: number,
  ) {}
  byte(): number {
    if (this.pos >= this.input.size) throw new CodecError('E_FORMAT', 'xz index runs past the end', this.pos);
    const b = this.input.byte(this.pos++);
    this.pending.push(b);
    if (this.pending.length >= 4096) this.flushCrc();
    return b;
  }
  get crcNow(): number {
    this.flushCrc();
    return this.crc;
  }
  private flushCrc(): void {
    if (!this.pending.length) return;
    this.crc = crc32(Uint8Array.from(this.pending), this.crc);
    this.pending = [];
  }
  varint(): number {
    let v = 0;
    const at = this.pos;
    for (let i = 0; i < 9; i++) {
      const byte = this.byte();
      v += (byte & 0x7f) * 2 ** (7 * i);
      if ((byte & 0x80) === 0) {
        if (byte === 0 && i > 0) throw new CodecError('E_FORMAT', 'xz integer is not minimally encoded', this.pos - 1);
        if (!Number.isSafeInteger(v)) throw new CodecError('E_FORMAT', 'xz integer is too large', this.pos - 1);
        return v;
      }
    }
    throw new CodecError('E_FORMAT', 'xz integer is longer than 9 bytes', at);
  }
}
