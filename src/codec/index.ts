/**
 * Decompressors used by the compression-layer containers (gzip, xz, zstd, lz4) and by squashfs.
 * All are synchronous, take the whole compressed input, and refuse to produce more than `maxOutput` bytes.
 */
import { gunzipSync, inflateSync, inflateRawSync } from 'node:zlib';
import { ReprodiffError } from '../errors.js';

export type Codec = 'gzip' | 'zlib' | 'deflate' | 'xz' | 'lzma' | 'zstd' | 'lz4' | 'lzo';

export interface DecodeOptions {
  maxOutput: number;
  /** for messages */
  name?: string;
}

export function decompress(codec: Codec, input: Uint8Array, opts: DecodeOptions): Uint8Array {
  const place = { file: opts.name, structure: `${codec} stream` };
  try {
    switch (codec) {
      case 'gzip':
        return gunzipSync(input, { maxOutputLength: opts.maxOutput });
      case 'zlib':
        return inflateSync(input, { maxOutputLength: opts.maxOutput });
      case 'deflate':
        return inflateRawSync(input, { maxOutputLength: opts.maxOutput });
      default:
        throw new ReprodiffError('E_UNSUPPORTED', `no ${codec} decoder is available`, place);
    }
  } catch (e) {
    if (e instanceof ReprodiffError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE') {
      throw new ReprodiffError('E_LIMIT', `decoded data exceeds the limit of ${opts.maxOutput} bytes`, place);
    }
    throw new ReprodiffError('E_FORMAT', `corrupt ${codec} data: ${err.message}`, place);
  }
}
