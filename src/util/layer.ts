/** Helpers shared by the compression-layer containers (gzip, xz, zstd, lz4): one `/content` entry over a decoded stream. */
import { isProgrammingError, ReprodiffError } from '../errors.js';
import { Bytes } from '../io/bytes.js';
import { allocationToLimit, isAllocationFailure } from '../codec/inflate.js';
import { DecodedSource, type ByteSource } from '../io/source.js';
import type { Entry, FormatName, OpenContext, Span } from '../model.js';
import { DecodedSink, storeDecoded, type SpillFile } from '../io/spill.js';
import type { DecodedStream } from '../walk/once.js';

/** Refuses compressed sources over `cap` bytes (they could not decode within it); they are then read a window at a time. */
export function checkCompressed(src: ByteSource, cap: number, format: string): void {
  if (src.size > cap) {
    throw new ReprodiffError('E_LIMIT', `${src.size} bytes is over the limit of ${cap}`, { file: src.name, structure: `${format} stream`, offset: 0 });
  }
}

/** Fields' values and spans read from `src` where the structures are, a few bytes at a time. */
export class SourceFields {
  constructor(
    private readonly src: ByteSource,
    private readonly structure: string,
  ) {}
  spans(offset: number, length: number): Span[] {
    return this.src.spans(offset, length);
  }
  hex(offset: number, length: number): string {
    return Bytes.at(this.src, offset, length, this.structure).hex(0, length);
  }
  u8(offset: number): number {
    return Bytes.at(this.src, offset, 1, this.structure).u8(0);
  }
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
  if (isAllocationFailure(e)) return allocationToLimit(e, { file: src.name, structure: `${format} stream`, offset: 0 }) as ReprodiffError;
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

/**
 * What a compressed layer holds: what decoding the same bytes gave before (`known`, its layout made this file's
 * own by `relay`), or its decoding here by `decode` into a sink (memory, or past --in-memory a temporary file
 * from the start when `expected` is past it), told to `keep`.
 */
export function decodedLayer<M>(
  src: ByteSource,
  ctx: OpenContext,
  format: FormatName,
  expected: number,
  known: DecodedStream<M> | undefined,
  keep: ((d: DecodedStream<M>) => void) | undefined,
  decode: (sink: DecodedSink) => M,
  relay: (m: M) => M = (m) => m,
): DecodedStream<M> {
  if (known) return { members: relay(known.members), store: known.store };
  const sink = new DecodedSink(`${src.name}//content`, ctx.limits.memoryDecodedBytes, ctx.temp, expected);
  let members: M;
  try {
    members = decode(sink);
  } catch (e) {
    sink.discard();
    throw layerError(e, src, format);
  }
  const d = { members, store: sink.finish() };
  keep?.(d);
  return d;
}
