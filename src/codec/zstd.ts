/**
 * Zstandard frames (RFC 8878): the frame walk is ours (headers, block headers, checksums, skippable
 * frames); block decoding is fzstd's (pure JS, synchronous), fed in chunks so the output can be capped.
 */
import { Decompress, decompress as fzstdOneShot } from 'fzstd';
import type { ByteSource } from '../io/source.js';
import { isAllocationFailure } from './inflate.js';
import { CodecError, OutBuf } from './lzma.js';
import { InputWindow } from './window.js';

export const ZSTD_MAGIC = 0xfd2fb528;

export interface ZstdFrame {
  kind: 'frame' | 'skippable';
  offset: number;
  end: number;
  /** skippable: the magic's low nibble */
  skippableNibble?: number;
  descriptor?: number;
  headerSize?: number;
  windowSize?: number | null;
  dictionaryId?: number;
  dictionaryIdOffset?: number;
  dictionaryIdSize?: number;
  contentSize?: number | null;
  contentSizeOffset?: number;
  contentSizeSize?: number;
  checksumFlag?: boolean;
  checksumOffset?: number | null;
  blocks?: number;
  outOffset?: number;
  outSize?: number;
}

export interface ZstdFrameHeader {
  descriptor: number;
  headerSize: number;
  windowSize: number | null;
  dictionaryId: number;
  dictionaryIdOffset: number;
  dictionaryIdSize: number;
  contentSize: number | null;
  contentSizeOffset: number;
  contentSizeSize: number;
  checksumFlag: boolean;
}

/** Walks the frame at `p` without decoding it. */
export function walkZstdFrame(input: InputWindow, p: number, maxBlocks: number): ZstdFrame {
  if (p + 4 > input.size) throw new CodecError('E_FORMAT', 'zstd frame magic is truncated', p);
  const magic = input.u32le(p);
  if ((magic & 0xfffffff0) === 0x184d2a50) {
    if (p + 8 > input.size) throw new CodecError('E_FORMAT', 'zstd skippable frame header is truncated', p);
    const size = input.u32le(p + 4);
    if (size > input.size - p - 8) throw new CodecError('E_FORMAT', `zstd skippable frame of ${size} bytes runs past the end`, p);
    return { kind: 'skippable', offset: p, end: p + 8 + size, skippableNibble: magic & 0xf };
  }
  if (magic !== ZSTD_MAGIC) throw new CodecError('E_FORMAT', 'not a zstd frame', p);
  const h = zstdFrameHeader(input, p);
  const { descriptor: fhd, checksumFlag } = h;
  let q = p + h.headerSize;
  let blocks = 0;
  for (;;) {
    if (q + 3 > input.size) throw new CodecError('E_FORMAT', 'zstd block header is truncated', q);
    const hb = input.bytes(q, 3);
    const bh = (hb[0] as number) | ((hb[1] as number) << 8) | ((hb[2] as number) << 16);
    const last = bh & 1;
    const type = (bh >>> 1) & 3;
    const size = bh >>> 3;
    if (type === 3) throw new CodecError('E_FORMAT', 'zstd block type 3 is reserved', q);
    const csize = type === 1 ? 1 : size;
    if (q + 3 + csize > input.size) throw new CodecError('E_FORMAT', `zstd block of ${csize} bytes runs past the end`, q);
    q += 3 + csize;
    if (++blocks > maxBlocks) throw new CodecError('E_LIMIT', `zstd frame has more than ${maxBlocks} blocks`, q);
    if (last) break;
  }
  let checksumOffset: number | null = null;
  if (checksumFlag) {
    if (q + 4 > input.size) throw new CodecError('E_FORMAT', 'zstd content checksum is truncated', q);
    checksumOffset = q;
    q += 4;
  }
  return { ...h, kind: 'frame', offset: p, end: q, descriptor: fhd, checksumOffset, blocks };
}

/** The header of the frame at `p` (its magic checked by the caller): its flags, sizes and where each sits. */
export function zstdFrameHeader(input: InputWindow, p: number): ZstdFrameHeader {
  if (p + 5 > input.size) throw new CodecError('E_FORMAT', 'zstd frame header is truncated', p);
  const fhd = input.byte(p + 4);
  const fcsFlag = fhd >>> 6;
  const single = (fhd & 0x20) !== 0;
  if (fhd & 0x08) throw new CodecError('E_FORMAT', 'zstd frame header reserved bit is set', p + 4);
  const checksumFlag = (fhd & 0x04) !== 0;
  const didFlag = fhd & 3;
  let q = p + 5;
  let windowSize: number | null = null;
  if (!single) {
    if (q >= input.size) throw new CodecError('E_FORMAT', 'zstd frame header is truncated', q);
    const wd = input.byte(q);
    const exp = wd >>> 3;
    const base = 2 ** (10 + exp);
    windowSize = base + (base / 8) * (wd & 7);
    q++;
  }
  const didSize = [0, 1, 2, 4][didFlag] as number;
  const dictionaryIdOffset = q;
  if (q + didSize > input.size) throw new CodecError('E_FORMAT', 'zstd frame header is truncated', q);
  let dictionaryId = 0;
  for (let i = 0; i < didSize; i++) dictionaryId += input.byte(q + i) * 2 ** (8 * i);
  q += didSize;
  const fcsSize = fcsFlag === 0 ? (single ? 1 : 0) : ([0, 2, 4, 8][fcsFlag] as number);
  const contentSizeOffset = q;
  if (q + fcsSize > input.size) throw new CodecError('E_FORMAT', 'zstd frame header is truncated', q);
  let contentSize: number | null = null;
  if (fcsSize > 0) {
    contentSize = 0;
    for (let i = 0; i < fcsSize; i++) contentSize += input.byte(q + i) * 2 ** (8 * i);
    if (fcsSize === 2) contentSize += 256;
  }
  q += fcsSize;
  if (single) windowSize = contentSize;
  return {
    descriptor: fhd,
    headerSize: q - p,
    windowSize,
    dictionaryId,
    dictionaryIdOffset,
    dictionaryIdSize: didSize,
    contentSize,
    contentSizeOffset,
    contentSizeSize: fcsSize,
    checksumFlag,
  };
}

/** compressed bytes fed to fzstd at once */
const CHUNK = 1 << 20;
/**
 * A frame that declares its content size is decoded in one call when both its output and its input are at most
 * this large (fzstd is about twice as fast so); a larger one block by block, handed over as it comes.
 */
const ONE_SHOT_MAX = 16 * 1024 * 1024;
/** the largest window a frame may ask for (zstd's own default limit, --memory=128MB) */
export const MAX_ZSTD_WINDOW = 128 * 1024 * 1024;

/**
 * Decodes one zstd frame `[start, end)` of `src` into `out` (the cap stops it mid-frame). Small frames that
 * declare their content size are decoded in one call; others are fed to fzstd a megabyte at a time.
 */
export function decodeZstdFrame(src: ByteSource, start: number, end: number, out: OutBuf, contentSize: number | null = null, windowSize: number | null = null): void {
  if (contentSize !== null && contentSize > 0 && contentSize <= ONE_SHOT_MAX && end - start <= ONE_SHOT_MAX && out.pos + contentSize <= out.cap) {
    // fzstd allocates exactly the declared size; decoding into a caller's buffer is slower in fzstd 0.1.1
    const res = fzstdOneShot(src.read(start, end - start, 'zstd frame'));
    if (res.length !== contentSize) throw new CodecError('E_FORMAT', 'zstd frame content size does not match the data', start);
    if (out.sink) {
      out.push(res, true);
      return;
    }
    if (out.pos === 0 && out.buf.length < contentSize) {
      out.buf = res;
    } else {
      out.ensure(contentSize);
      out.buf.set(res, out.pos);
    }
    out.pos += contentSize;
    return;
  }
  if (contentSize !== null && out.pos + contentSize > out.cap) {
    throw new CodecError('E_LIMIT', `zstd frame declares ${contentSize} bytes, over the limit of ${out.cap}`, start);
  }
  // fzstd keeps a window of the declared size (the content size for single-segment frames)
  const window = windowSize ?? contentSize;
  if (window !== null && window > MAX_ZSTD_WINDOW) {
    throw new CodecError('E_LIMIT', `zstd frame needs a window of ${window} bytes, over the limit of ${MAX_ZSTD_WINDOW}`, start);
  }
  const d = new Decompress((chunk: Uint8Array) => out.push(chunk));
  // fzstd keeps references to the chunks it is given, so each is a read of its own, not a reused buffer
  for (let p = start; p < end; p += CHUNK) {
    const stop = Math.min(end, p + CHUNK);
    d.push(src.read(p, stop - p, 'zstd frame'), stop === end);
  }
}

/**
 * Walks and decodes every frame of `src`, reading it a window at a time; zero bytes after the last frame end
 * the walk. With a `sink` the decoded bytes go there as they come and `output` is empty.
 */
/** Where each frame of a zstd stream sits: what decoding it learns beyond the decoded bytes. */
export interface ZstdLayout {
  frames: ZstdFrame[];
  /** where the last frame ends (zero padding after it is not a frame) */
  end: number;
}

/**
 * The content size the first frame's header declares, when `src` starts with a frame that declares one: cheap
 * to read, for deciding where to decode a stream before decoding it.
 */
export function declaredZstdSize(src: ByteSource): number | undefined {
  const input = new InputWindow(src, 'zstd frame', 64);
  if (src.size < 5 || input.u32le(0) !== ZSTD_MAGIC) return undefined;
  try {
    return zstdFrameHeader(input, 0).contentSize ?? undefined;
  } catch {
    return undefined; // decoding says what is wrong with it
  }
}

export function parseZstd(src: ByteSource, maxOutput: number, decode = true, sink?: OutBuf['sink']): ZstdLayout & { output: Uint8Array } {
  const input = new InputWindow(src, 'zstd frame');
  const out = new OutBuf(maxOutput, 1 << 20, sink);
  const frames: ZstdFrame[] = [];
  let p = 0;
  const maxBlocks = Math.max(1024, Math.ceil(src.size / 3));
  while (p + 4 <= src.size) {
    if (frames.length > 0 && input.u32le(p) === 0) break;
    const f = walkZstdFrame(input, p, maxBlocks);
    if (f.kind === 'frame') {
      f.outOffset = out.pos;
      if (decode) {
        try {
          decodeZstdFrame(src, p, f.end, out, f.contentSize ?? null, f.windowSize ?? null);
        } catch (e) {
          if (e instanceof CodecError) throw e;
          if (isAllocationFailure(e)) throw new CodecError('E_LIMIT', `out of memory decoding zstd: ${(e as Error).message}`, p);
          throw new CodecError('E_FORMAT', `corrupt zstd data: ${(e as Error).message}`, p);
        }
        if (f.contentSize !== null && f.contentSize !== undefined && f.contentSize !== out.pos - f.outOffset) {
          throw new CodecError('E_FORMAT', 'zstd frame content size does not match the data', p);
        }
      }
      f.outSize = out.pos - f.outOffset;
    }
    frames.push(f);
    p = f.end;
  }
  if (frames.length === 0) throw new CodecError('E_FORMAT', 'not a zstd stream', 0);
  return { frames, output: sink ? new Uint8Array(0) : out.result(), end: p };
}
