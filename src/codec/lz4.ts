/**
 * LZ4 block decoding and the two framings seen in boot images: the legacy frame (magic 0x184C2102, as
 * `lz4 -l` and the Linux kernel write it) and the LZ4 frame format (magic 0x184D2204), with skippable frames.
 * Written from lz4_Block_format.md and lz4_Frame_format.md.
 */
import type { ByteSource } from '../io/source.js';
import { Collect, CodecError, OutBuf, type ByteSink } from './lzma.js';
import { InputWindow } from './window.js';

export const LZ4_LEGACY_MAGIC = 0x184c2102;
export const LZ4_FRAME_MAGIC = 0x184d2204;
/** legacy frames hold blocks of at most 8 MiB decoded */
const LEGACY_BLOCK = 8 * 1024 * 1024;

/**
 * Decodes one LZ4 block `input[start, end)` into `out`, not past `blockMax` bytes; matches may reach back to
 * output position `windowStart` (OutBuf.total), which the window keeps (LZ4 offsets are under 64 KiB).
 */
export function decodeLz4Block(input: Uint8Array, start: number, end: number, out: OutBuf, blockMax: number, windowStart: number): void {
  let p = start;
  const limit = out.total + blockMax;
  while (p < end) {
    const token = input[p++] as number;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (p >= end) throw new CodecError('E_FORMAT', 'LZ4 literal length runs past the block', p);
        b = input[p++] as number;
        lit += b;
      } while (b === 255);
    }
    if (p + lit > end) throw new CodecError('E_FORMAT', 'LZ4 literals run past the block', p);
    if (out.total + lit > limit) throw new CodecError('E_FORMAT', 'LZ4 block decodes past its maximum size', p);
    out.ensure(lit);
    if (lit < 32) {
      const buf = out.buf;
      let d = out.pos;
      for (let i = 0; i < lit; i++) buf[d++] = input[p + i] as number;
    } else out.buf.set(input.subarray(p, p + lit), out.pos);
    out.pos += lit;
    p += lit;
    if (p === end) return; // the last sequence has no match
    if (p + 2 > end) throw new CodecError('E_FORMAT', 'LZ4 match offset runs past the block', p);
    const offset = (input[p] as number) | ((input[p + 1] as number) << 8);
    p += 2;
    if (offset === 0 || out.total - offset < windowStart) throw new CodecError('E_FORMAT', `LZ4 match offset ${offset} is outside the window`, p - 2);
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (p >= end) throw new CodecError('E_FORMAT', 'LZ4 match length runs past the block', p);
        b = input[p++] as number;
        len += b;
      } while (b === 255);
    }
    len += 4;
    if (out.total + len > limit) throw new CodecError('E_FORMAT', 'LZ4 block decodes past its maximum size', p);
    out.ensure(len);
    const buf = out.buf;
    let d = out.pos;
    let s = d - offset;
    if (s < 0) throw new CodecError('E_LIMIT', `LZ4 match offset ${offset} reaches past the window kept`, p);
    if (offset >= len && len >= 32) buf.copyWithin(d, s, s + len);
    else for (let i = 0; i < len; i++) buf[d++] = buf[s++] as number;
    out.pos += len;
  }
}

export interface Lz4Block {
  offset: number;
  /** bytes of compressed data after the 4-byte size */
  size: number;
  outOffset: number;
  outSize: number;
}
export interface Lz4Frame {
  kind: 'legacy' | 'frame' | 'skippable';
  offset: number;
  end: number;
  blocks: Lz4Block[];
  /** frame format only */
  flg?: number;
  bd?: number;
  contentSize?: number | null;
  contentChecksumOffset?: number | null;
}

/** the largest compressed legacy block: LZ4_compressBound of its 8 MiB */
const LEGACY_COMPRESSED_MAX = LEGACY_BLOCK + LEGACY_BLOCK / 255 + 16;
/** back-references reach at most 64 KiB back */
const LZ4_WINDOW = 64 * 1024;

/**
 * Decodes every frame in `src`, reading it a block at a time; trailing zero bytes (padding) end the walk. With a
 * `sink` the decoded bytes go there as they come (only the last 64 KiB are kept, for linked blocks) and `output`
 * is empty; without, `output` is the whole decoded data.
 */
export function parseLz4(src: ByteSource, maxOutput: number, sink?: ByteSink): { frames: Lz4Frame[]; output: Uint8Array; end: number } {
  const input = new InputWindow(src, 'lz4 stream');
  const size = src.size;
  const collect = sink ? undefined : new Collect();
  const deliver: ByteSink = sink ?? (collect as Collect);
  const out = new OutBuf(maxOutput, 1 << 16);
  out.stream(LZ4_WINDOW, (bytes) => deliver.write(bytes));
  const frames: Lz4Frame[] = [];
  let p = 0;
  while (p + 4 <= size) {
    const magic = input.u32le(p);
    if (magic === 0 && frames.length > 0) break; // zero padding after the last frame
    const frameStart = p;
    if (magic === LZ4_LEGACY_MAGIC) {
      const frame: Lz4Frame = { kind: 'legacy', offset: p, end: p, blocks: [] };
      p += 4;
      while (p + 4 <= size) {
        const bsize = input.u32le(p);
        if (bsize === LZ4_LEGACY_MAGIC || bsize === 0) break;
        if (bsize > size - p - 4) throw new CodecError('E_FORMAT', `LZ4 legacy block of ${bsize} bytes runs past the end`, p);
        if (bsize > LEGACY_COMPRESSED_MAX) throw new CodecError('E_FORMAT', `LZ4 legacy block of ${bsize} bytes is larger than any 8 MiB block compresses to`, p);
        const outOffset = out.total;
        decodeLz4Block(input.bytes(p + 4, bsize), 0, bsize, out, LEGACY_BLOCK, outOffset);
        frame.blocks.push({ offset: p, size: bsize, outOffset, outSize: out.total - outOffset });
        p += 4 + bsize;
      }
      frame.end = p;
      frames.push(frame);
      continue;
    }
    if (magic >= 0x184d2a50 && magic <= 0x184d2a5f) {
      if (p + 8 > size) throw new CodecError('E_FORMAT', 'LZ4 skippable frame header is truncated', p);
      const skip = input.u32le(p + 4);
      if (skip > size - p - 8) throw new CodecError('E_FORMAT', 'LZ4 skippable frame runs past the end', p);
      p += 8 + skip;
      frames.push({ kind: 'skippable', offset: frameStart, end: p, blocks: [] });
      continue;
    }
    if (magic !== LZ4_FRAME_MAGIC) {
      if (frames.length === 0) throw new CodecError('E_FORMAT', 'not an LZ4 stream', p);
      break;
    }
    if (p + 7 > size) throw new CodecError('E_FORMAT', 'LZ4 frame header is truncated', p);
    const flg = input.byte(p + 4);
    const bd = input.byte(p + 5);
    if (flg >>> 6 !== 1) throw new CodecError('E_UNSUPPORTED', `LZ4 frame version ${flg >>> 6}`, p + 4);
    if (flg & 1) throw new CodecError('E_UNSUPPORTED', 'LZ4 frames with a dictionary id are not supported', p + 4);
    const maxSizeCode = (bd >>> 4) & 7;
    if (maxSizeCode < 4) throw new CodecError('E_FORMAT', `invalid LZ4 block maximum size code ${maxSizeCode}`, p + 5);
    const blockMax = 1 << (8 + 2 * maxSizeCode);
    const independent = (flg & 0x20) !== 0;
    const blockChecksum = (flg & 0x10) !== 0;
    let q = p + 6;
    let contentSize: number | null = null;
    if (flg & 0x08) {
      if (q + 8 > size) throw new CodecError('E_FORMAT', 'LZ4 frame header is truncated', q);
      contentSize = input.u32le(q) + input.u32le(q + 4) * 2 ** 32;
      q += 8;
    }
    q += 1; // header checksum
    const frame: Lz4Frame = { kind: 'frame', offset: frameStart, end: q, blocks: [], flg, bd, contentSize, contentChecksumOffset: null };
    const frameOut = out.total;
    for (;;) {
      if (q + 4 > size) throw new CodecError('E_FORMAT', 'LZ4 frame ends without an end mark', q);
      const word = input.u32le(q);
      if (word === 0) {
        q += 4;
        break;
      }
      const bsize = word & 0x7fffffff;
      if (bsize > blockMax || bsize > size - q - 4) throw new CodecError('E_FORMAT', `LZ4 block of ${bsize} bytes is too large`, q);
      const outOffset = out.total;
      const data = input.bytes(q + 4, bsize);
      if (word & 0x80000000) out.push(data);
      else decodeLz4Block(data, 0, bsize, out, blockMax, independent ? outOffset : frameOut);
      frame.blocks.push({ offset: q, size: bsize, outOffset, outSize: out.total - outOffset });
      q += 4 + bsize + (blockChecksum ? 4 : 0);
    }
    if (flg & 0x04) {
      if (q + 4 > size) throw new CodecError('E_FORMAT', 'LZ4 content checksum is truncated', q);
      frame.contentChecksumOffset = q;
      q += 4;
    }
    if (contentSize !== null && contentSize !== out.total - frameOut) throw new CodecError('E_FORMAT', 'LZ4 content size does not match the data', p + 6);
    frame.end = q;
    frames.push(frame);
    p = q;
  }
  if (frames.length === 0) throw new CodecError('E_FORMAT', 'not an LZ4 stream', 0);
  out.emitPending();
  return { frames, output: collect ? collect.result() : new Uint8Array(0), end: p };
}
