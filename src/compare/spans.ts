/**
 * Spans of the two builds: as report spans of a side, whether they sit at the same place, and where decoded
 * contents have their encoded bytes.
 */
import { isDecoded, type ByteSource, type Extent } from '../io/source.js';
import type { Span } from '../model.js';
import type { ReportSpan } from '../report/types.js';
import { pushAll } from '../util/array.js';

export function reportSpans(side: 'a' | 'b', spans: Span[]): ReportSpan[] {
  return spans.map((s) => (s.stream === undefined ? { side, offset: s.offset, length: s.length } : { side, stream: s.stream, offset: s.offset, length: s.length }));
}

export function extentSpans(side: 'a' | 'b', src: ByteSource, extents: Extent[]): ReportSpan[] {
  const out: ReportSpan[] = [];
  for (const e of extents) pushAll(out, reportSpans(side, src.spans(e.offset, e.length)));
  return out;
}

/**
 * Whether spans of the two builds sit at the same place: the same offsets in the inputs, or in corresponding
 * decoded streams. A stream's id starts with its input's name (`a.iso//efi.img#gzip`), so ids are compared
 * past the names `nameA` and `nameB`: a squashfs metadata block or a gzip layer at the same place in both
 * builds is one stream.
 */
export function sameSpans(a: Span[], b: Span[], nameA = '', nameB = ''): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.offset !== y.offset || x.length !== y.length) return false;
    if (x.stream !== y.stream && !sameStream(x.stream, y.stream, nameA, nameB)) return false;
  }
  return true;
}

function sameStream(x: string | undefined, y: string | undefined, nameA: string, nameB: string): boolean {
  if (x === undefined || y === undefined || !nameA || !x.startsWith(nameA) || !y.startsWith(nameB)) return false;
  return x.length - nameA.length === y.length - nameB.length && x.endsWith(y.slice(nameB.length));
}

export function sameExtents(a: readonly Extent[], b: readonly Extent[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i]!.offset !== b[i]!.offset || a[i]!.length !== b[i]!.length) return false;
  return true;
}

/** The bytes of outer-file spans (undefined when a span is in a decoded stream, or past 1 MiB in all). */
export function readSpans(spans: Span[], root: ByteSource): Uint8Array | undefined {
  let n = 0;
  for (const s of spans) {
    if (s.stream !== undefined) return undefined;
    n += s.length;
  }
  if (n > 1 << 20) return undefined;
  const out = new Uint8Array(n);
  let at = 0;
  for (const s of spans) {
    out.set(root.read(s.offset, s.length, 'field'), at);
    at += s.length;
  }
  return out;
}

/** The spans of the encoded bytes behind decoded contents (compressed blocks), on both sides. */
export function encodedSpans(srcA: ByteSource, srcB: ByteSource): ReportSpan[] {
  const out: ReportSpan[] = [];
  if (isDecoded(srcA)) pushAll(out, reportSpans('a', srcA.origin));
  if (isDecoded(srcB)) pushAll(out, reportSpans('b', srcB.origin));
  return out;
}

/** Where a content starts, for placement order: its first span, or the first encoded span of a decoded content. */
export function placementSpan(src: ByteSource, spans: Span[]): Span | undefined {
  const first = spans[0];
  if (first?.stream !== undefined && isDecoded(src)) return src.origin[0] ?? first;
  return first;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
