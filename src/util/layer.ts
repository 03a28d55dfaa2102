/** Helpers shared by the compression-layer containers (gzip, xz, zstd, lz4): one `/content` entry over a decoded stream. */
import { isProgrammingError, ReprodiffError } from '../errors.js';
import { DecodedSource, readAll, type ByteSource } from '../io/source.js';
import type { Entry, FormatName, OpenContext, Span } from '../model.js';
import { storeDecoded, type SpillFile } from '../io/spill.js';

/** Reads the whole compressed source, refusing sources over `cap` bytes. */
export function readCompressed(src: ByteSource, cap: number, format: string): Uint8Array {
  return readAll(src, cap, `${format} stream`);
}

/** The stream id of the decoded data of `src` for `format`: unique per source. */
export function streamId(src: ByteSource, format: FormatName): string {
  return `${src.name}#${format}`;
}

/**
 * The `/content` entry whose bytes are `data`, decoded from the `origin` spans of `src`. With `ctx`, data over
 * limits.memoryDecodedBytes moves to a temporary file, so that only one decoded stream is held at a time.
 */
export function contentEntry(src: ByteSource, format: FormatName, data: Uint8Array | SpillFile, origin: Span[], ctx?: OpenContext): Entry {
  const name = `${src.name}//content`;
  const store = data instanceof Uint8Array && ctx ? storeDecoded(name, data, ctx.limits.memoryDecodedBytes, ctx.temp) : data;
  const source = new DecodedSource(name, store, streamId(src, format), origin);
  const size = source.size;
  return {
    path: '/content',
    type: 'file',
    size,
    extents: size ? [{ offset: 0, length: size }] : [],
    contentSource: source,
    fields: [],
    meta: {},
    order: 0,
  };
}

/** Maps a codec's positioned error to a ReprodiffError naming the source. */
export function layerError(e: unknown, src: ByteSource, format: string): ReprodiffError {
  if (e instanceof ReprodiffError) return e;
  // a bug in a decoder is not corrupt data: it goes on as it is, to be reported as an internal error
  if (isProgrammingError(e)) throw e;
  const ce = e as { code?: string; message?: string; at?: number };
  const code = ce.code === 'E_LIMIT' || ce.code === 'E_UNSUPPORTED' || ce.code === 'E_FORMAT' ? ce.code : 'E_FORMAT';
  return new ReprodiffError(code, ce.message ?? String(e), { file: src.name, structure: `${format} stream`, offset: ce.at ?? 0 });
}

/** The span of `length` bytes at `offset` of a decoded stream. */
export function decodedSpan(stream: string, offset: number, length: number): Span[] {
  return [{ stream, offset, length }];
}
