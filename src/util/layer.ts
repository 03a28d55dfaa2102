/** Helpers shared by the compression-layer containers (gzip, xz, zstd, lz4): one `/content` entry over a decoded stream. */
import { ReprodiffError } from '../errors.js';
import { DecodedSource, readAll, type ByteSource } from '../io/source.js';
import type { Entry, FormatName, Span } from '../model.js';

/** Reads the whole compressed source, refusing sources over `cap` bytes. */
export function readCompressed(src: ByteSource, cap: number, format: string): Uint8Array {
  return readAll(src, cap, `${format} stream`);
}

/** The stream id of the decoded data of `src` for `format`: unique per source. */
export function streamId(src: ByteSource, format: FormatName): string {
  return `${src.name}#${format}`;
}

/** The `/content` entry whose bytes are `data`, decoded from the `origin` spans of `src`. */
export function contentEntry(src: ByteSource, format: FormatName, data: Uint8Array, origin: Span[]): Entry {
  const source = new DecodedSource(`${src.name}//content`, data, streamId(src, format), origin);
  return {
    path: '/content',
    type: 'file',
    size: data.length,
    extents: data.length ? [{ offset: 0, length: data.length }] : [],
    contentSource: source,
    fields: [],
    meta: {},
    order: 0,
  };
}

/** Maps a codec's positioned error to a ReprodiffError naming the source. */
export function layerError(e: unknown, src: ByteSource, format: string): ReprodiffError {
  if (e instanceof ReprodiffError) return e;
  const ce = e as { code?: string; message?: string; at?: number };
  const code = ce.code === 'E_LIMIT' || ce.code === 'E_UNSUPPORTED' || ce.code === 'E_FORMAT' ? ce.code : 'E_FORMAT';
  return new ReprodiffError(code, ce.message ?? String(e), { file: src.name, structure: `${format} stream`, offset: ce.at ?? 0 });
}

/** The span of `length` bytes at `offset` of a decoded stream. */
export function decodedSpan(stream: string, offset: number, length: number): Span[] {
  return [{ stream, offset, length }];
}
