/**
 * LZ4 block decoding and the two framings seen in boot images: the legacy frame (magic 0x184C2102, as
 * `lz4 -l` and the Linux kernel write it) and the LZ4 frame format (magic 0x184D2204), with skippable frames.
 * Written from lz4_Block_format.md and lz4_Frame_format.md.
 */
import { CodecError, OutBuf } from './lzma.js';

export const LZ4_LEGACY_MAGIC = 0x184c2102;
export const LZ4_FRAME_MAGIC = 0x184d2204;
/** legacy frames hold blocks of at most 8 MiB decoded */
const LEGACY_BLOCK = 8 * 1024 * 1024;

function u32le(b: Uint8Array, o: number): number {
  return ((b[o] as number) | ((b[o + 1] as number) << 8) | ((b[o + 2] as number) << 16) | ((b[o + 3] as number) << 24)) >>> 0;
}

/** Decodes one LZ4 block `input[start, end)` into `out`, not past `blockMax` bytes; matches may reach back to `windowStart`. */
export function decodeLz4Block(input: Uint8Array, start: number, end: number, out: OutBuf, blockMax: number, windowStart: number): void {
  let p = start;
  const limit = out.pos + blockMax;
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
    if (out.pos + lit > limit) throw new CodecError('E_FORMAT', 'LZ4 block decodes past its maximum size', p);
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
    if (offset === 0 || out.pos - offset < windowStart) throw new CodecError('E_FORMAT', `LZ4 match offset ${offset} is outside the window`, p - 2);
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
    if (out.pos + len > limit) throw new CodecError('E_FORMAT', 'LZ4 block decodes past its maximum size', p);
    out.ensure(len);
    const buf = out.buf;
    let d = out.pos;
    let s = d - offset;
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

/** Decodes every frame in `input`; trailing zero bytes (padding) end the walk. Returns the frames and the output. */
export function parseLz4(input: Uint8Array, maxOutput: number): { frames: Lz4Frame[]; output: Uint8Array; end: number } {
  const out = new OutBuf(maxOutput, 1 << 20);
  const frames: Lz4Frame[] = [];
  let p = 0;
  while (p + 4 <= input.length) {
    const magic = u32le(input, p);
    if (magic === 0 && frames.length > 0) break; // zero padding after the last frame
    const frameStart = p;
    if (magic === LZ4_LEGACY_MAGIC) {
      const frame: Lz4Frame = { kind: 'legacy', offset: p, end: p, blocks: [] };
      p += 4;
      while (p + 4 <= input.length) {
        const size = u32le(input, p);
        if (size === LZ4_LEGACY_MAGIC || size === 0) break;
        if (size > input.length - p - 4) throw new CodecError('E_FORMAT', `LZ4 legacy block of ${size} bytes runs past the end`, p);
        const outOffset = out.pos;
        decodeLz4Block(input, p + 4, p + 4 + size, out, LEGACY_BLOCK, outOffset);
        frame.blocks.push({ offset: p, size, outOffset, outSize: out.pos - outOffset });
        p += 4 + size;
      }
      frame.end = p;
      frames.push(frame);
      continue;
    }
    if (magic >= 0x184d2a50 && magic <= 0x184d2a5f) {
      if (p + 8 > input.length) throw new CodecError('E_FORMAT', 'LZ4 skippable frame header is truncated', p);
      const size = u32le(input, p + 4);
      if (size > input.length - p - 8) throw new CodecError('E_FORMAT', 'LZ4 skippable frame runs past the end', p);
      p += 8 + size;
      frames.push({ kind: 'skippable', offset: frameStart, end: p, blocks: [] });
      continue;
    }
    if (magic !== LZ4_FRAME_MAGIC) {
      if (frames.length === 0) throw new CodecError('E_FORMAT', 'not an LZ4 stream', p);
      break;
    }
    if (p + 7 > input.length) throw new CodecError('E_FORMAT', 'LZ4 frame header is truncated', p);
    const flg = input[p + 4] as number;
    const bd = input[p + 5] as number;
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
      if (q + 8 > input.length) throw new CodecError('E_FORMAT', 'LZ4 frame header is truncated', q);
      contentSize = u32le(input, q) + u32le(input, q + 4) * 2 ** 32;
      q += 8;
    }
    q += 1; // header checksum
    const frame: Lz4Frame = { kind: 'frame', offset: frameStart, end: q, blocks: [], flg, bd, contentSize, contentChecksumOffset: null };
    const frameOut = out.pos;
    for (;;) {
      if (q + 4 > input.length) throw new CodecError('E_FORMAT', 'LZ4 frame ends without an end mark', q);
      const word = u32le(input, q);
      if (word === 0) {
        q += 4;
        break;
      }
      const size = word & 0x7fffffff;
      if (size > blockMax || size > input.length - q - 4) throw new CodecError('E_FORMAT', `LZ4 block of ${size} bytes is too large`, q);
      const outOffset = out.pos;
      if (word & 0x80000000) out.push(input.subarray(q + 4, q + 4 + size));
      else decodeLz4Block(input, q + 4, q + 4 + size, out, blockMax, independent ? outOffset : frameOut);
      frame.blocks.push({ offset: q, size, outOffset, outSize: out.pos - outOffset });
      q += 4 + size + (blockChecksum ? 4 : 0);
    }
    if (flg & 0x04) {
      if (q + 4 > input.length) throw new CodecError('E_FORMAT', 'LZ4 content checksum is truncated', q);
      frame.contentChecksumOffset = q;
      q += 4;
    }
    if (contentSize !== null && contentSize !== out.pos - frameOut) throw new CodecError('E_FORMAT', 'LZ4 content size does not match the data', p + 6);
    frame.end = q;
    frames.push(frame);
    p = q;
  }
  if (frames.length === 0) throw new CodecError('E_FORMAT', 'not an LZ4 stream', 0);
  return { frames, output: out.result(), end: p };
}
