/**
 * Decompressors used by the compression-layer containers (gzip, xz, zstd, lz4) and by squashfs.
 * All are synchronous, take the whole compressed input, and refuse to produce more than `maxOutput` bytes
 * (E_LIMIT); corrupt input is E_FORMAT, an unsupported feature E_UNSUPPORTED.
 *
 * - gzip, zlib, deflate: node:zlib
 * - xz: the .xz container (all streams, LZMA2 with optional BCJ x86), checks verified
 * - lzma: the LZMA-alone (.lzma) format, as squashfs lzma blocks use
 * - zstd: one or more frames (skippable frames skipped), via fzstd
 * - lz4: legacy (`lz4 -l`) or frame format when the input starts with their magic, otherwise one raw LZ4 block
 *   (as squashfs stores them); lz4-block: always one raw block
 */
import { gunzipSync, inflateSync, inflateRawSync } from 'node:zlib';
import { ReprodiffError } from '../errors.js';
import { BufferSource } from '../io/source.js';
import { allocationToLimit, inflateBlock, inflateBlockView, isAllocationFailure } from './inflate.js';
import { parseLz4, decodeLz4Block, LZ4_FRAME_MAGIC, LZ4_LEGACY_MAGIC } from './lz4.js';
import { codecError, OutBuf } from './lzma.js';
import { decodeLzmaAlone } from './lzma-decoder.js';
import { parseXz } from './xz.js';
import { parseZstd } from './zstd.js';

export type Codec = 'gzip' | 'zlib' | 'deflate' | 'xz' | 'lzma' | 'zstd' | 'lz4' | 'lz4-block' | 'lzo';

export interface DecodeOptions {
  maxOutput: number;
  /** for messages */
  name?: string;
}

function lz4Magic(input: Uint8Array): boolean {
  if (input.length < 4) return false;
  const m = ((input[0] as number) | ((input[1] as number) << 8) | ((input[2] as number) << 16) | ((input[3] as number) << 24)) >>> 0;
  return m === LZ4_LEGACY_MAGIC || m === LZ4_FRAME_MAGIC || (m & 0xfffffff0) === 0x184d2a50;
}

/**
 * `view`: the caller copies the output at once, so a zlib block's may be given in a buffer kept between calls
 * (valid until the next call); other codecs' output is theirs either way.
 */
export function decompress(codec: Codec, input: Uint8Array, opts: DecodeOptions, view = false): Uint8Array {
  const place = { file: opts.name, structure: `${codec} stream` };
  try {
    switch (codec) {
      case 'gzip':
        return gunzipSync(input, { maxOutputLength: opts.maxOutput });
      case 'zlib': {
        const over = (): ReprodiffError => new ReprodiffError('E_LIMIT', `decoded data exceeds the limit of ${opts.maxOutput} bytes`, place);
        return (view ? inflateBlockView : inflateBlock)(input, opts.maxOutput, over, place) ?? inflateSync(input, { maxOutputLength: opts.maxOutput });
      }
      case 'deflate':
        return inflateRawSync(input, { maxOutputLength: opts.maxOutput });
      case 'xz':
        return parseXz(new BufferSource(opts.name ?? 'xz', input), opts.maxOutput).output;
      case 'lzma':
        return decodeLzmaAlone(input, opts.maxOutput);
      case 'zstd':
        return parseZstd(new BufferSource(opts.name ?? 'zstd', input), opts.maxOutput).output;
      case 'lz4':
      case 'lz4-block': {
        if (codec === 'lz4' && lz4Magic(input)) return parseLz4(new BufferSource(opts.name ?? 'lz4', input), opts.maxOutput).output;
        const out = new OutBuf(opts.maxOutput, Math.min(opts.maxOutput, input.length * 4));
        decodeLz4Block(input, 0, input.length, out, opts.maxOutput, 0);
        return out.result();
      }
      default:
        throw new ReprodiffError('E_UNSUPPORTED', `no ${codec} decoder is available`, place);
    }
  } catch (e) {
    if (e instanceof ReprodiffError) throw e;
    if (isAllocationFailure(e)) throw allocationToLimit(e, place);
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ReprodiffError('E_LIMIT', `decoded data exceeds the limit of ${opts.maxOutput} bytes`, place);
    }
    if (codec === 'gzip' || codec === 'zlib' || codec === 'deflate') {
      throw new ReprodiffError('E_FORMAT', `corrupt ${codec} data: ${err.message}`, place);
    }
    throw codecError(e, opts.name, codec);
  }
}
