/**
 * Content equality of two paired entries, cheapest test first: the same bytes at the same offsets with no
 * differing byte inside; the same encoded bytes decoded the same way; the bytes compared (decoded contents)
 * or hashed in the pool (contents in the inputs). Differing contents go to nesting.ts, then to evidence.ts,
 * and otherwise become one content finding.
 *
 * A bad entry stops only itself: a typed rejection met while its content is read, decoded or looked into (a
 * corrupt member, a size its headers lie about, a limit, a broken file system inside it) becomes one unknown
 * finding for that entry, whose bytes count as unexplained, and the comparison goes on. Internal errors, a
 * failing read of an input and a failing temporary folder still stop the run.
 */
import { isReprodiffError, type ReprodiffError } from '../errors.js';
import { DecodedSource, isDecoded, type ByteSource, type Extent } from '../io/source.js';
import type { ReportSpan } from '../report/types.js';
import type { Container, Entry, Span } from '../model.js';
import { pushAll } from '../util/array.js';
import { isCoResident } from '../walk/rules.js';
import type { Comparer } from './compare.js';
import { explainDiffering } from './evidence.js';
import { compareNested, sameBytesFindings } from './nesting.js';
import { noteShift } from './placement.js';
import { commonSuffix, tailExtents } from './suffix.js';
import { hashContent, sameContent } from './pool.js';
import { encodedSpans, extentSpans, placementSpan, reportSpans, sameExtents, sameSpans } from './spans.js';
import type { ContentPair } from './types.js';
import type { FindingValue } from './values.js';

/** Compares two contents; undefined when that was settled at once (same bytes at the same offsets). */
export function compareContent(cx: Comparer, pair: ContentPair): Promise<void> | undefined {
  let pending: Promise<void> | undefined;
  try {
    pending = compareContentNow(cx, pair);
  } catch (e) {
    unreadable(cx, pair, e);
    return undefined;
  }
  return pending?.catch((e: unknown) => unreadable(cx, pair, e));
}

/**
 * A rejection met while comparing one entry's content, made its finding: kind unknown, what is wrong and
 * where, over the entry's bytes (counted as unexplained). Rethrown when it is not about the entry: an internal
 * error (a bug stays loud), an input the system cannot read, a temporary folder that failed.
 */
function unreadable(cx: Comparer, pair: ContentPair, e: unknown): void {
  cx.ctx.temp?.check();
  if (!isReprodiffError(e) || e.code === 'E_IO' || e.code === 'E_USAGE') throw e;
  const { ca, cb, ea, eb } = pair;
  notExamined(cx, pair, entrySpans(ca, cb, ea, eb), e.describe(), notExaminedHint(e));
}

/** An entry's content that a rejection or a limit kept from being examined: a root unknown over its bytes. */
function notExamined(cx: Comparer, pair: ContentPair, spans: ReportSpan[], why: string, hint: string): void {
  const { ca, ea, eb, path, scope } = pair;
  cx.add({
    path,
    format: ca.format,
    field: null,
    kind: 'unknown',
    root: true,
    a: { type: 'size', bytes: ea.size },
    b: { type: 'size', bytes: eb.size },
    spans,
    scope,
    entry: ea.path,
    detail: `not examined: ${why}`,
    hint,
  });
}

/** What to do about an entry a rejection kept from being examined. */
function notExaminedHint(e: ReprodiffError): string {
  if (e.code === 'E_LIMIT') return 'raise the limit named here to look inside';
  return 'this entry is malformed in at least one build (or declares more than it holds): check it with the tool that made it';
}

/** The spans of two entries' contents, with the encoded bytes of decoded ones; those that cannot be mapped are left out. */
function entrySpans(ca: Container, cb: Container, ea: Entry, eb: Entry): ReportSpan[] {
  const out: ReportSpan[] = [];
  const srcA = ea.contentSource ?? ca.source;
  const srcB = eb.contentSource ?? cb.source;
  for (const [side, src, e] of [
    ['a', srcA, ea],
    ['b', srcB, eb],
  ] as const) {
    try {
      pushAll(out, extentSpans(side, src, e.extents));
    } catch (err) {
      // extents past the end of their source: the rejection itself says so; the encoded bytes still count
      if (!isReprodiffError(err)) throw err;
    }
  }
  pushAll(out, encodedSpans(srcA, srcB));
  return out;
}

function compareContentNow(cx: Comparer, pair: ContentPair): Promise<void> | undefined {
  const { ca, cb, ea, eb, placed } = pair;
  const srcA = ea.contentSource ?? ca.source;
  const srcB = eb.contentSource ?? cb.source;
  const spansA: Span[] = [];
  const spansB: Span[] = [];
  for (const e of ea.extents) pushAll(spansA, srcA.spans(e.offset, e.length));
  for (const e of eb.extents) pushAll(spansB, srcB.spans(e.offset, e.length));
  if (ea.size === eb.size && ((cx.sameSpans(spansA, spansB) && cx.untouched(spansA)) || sameDecoded(cx, srcA, srcB, ea, eb))) {
    const first = placementSpan(srcA, spansA);
    if (first) placed.push(ea, eb, first.offset, first.offset);
    return undefined;
  }
  return compareContentBytes(cx, pair, srcA, srcB, spansA, spansB);
}

/**
 * A decoded content (a squashfs file) whose encoded bytes sit at the same places, unchanged, and decode the
 * same way, holds the same bytes: it needs no decoding.
 */
function sameDecoded(cx: Comparer, srcA: ByteSource, srcB: ByteSource, ea: Entry, eb: Entry): boolean {
  return (
    isDecoded(srcA) &&
    isDecoded(srcB) &&
    sameExtents(ea.extents, eb.extents) &&
    srcA.sameEncoding?.(srcB) === true &&
    sameSpans(srcA.origin, srcB.origin) &&
    cx.untouched(srcA.origin)
  );
}

/**
 * Decoded contents (squashfs files) laid out alike whose encoded pieces hold the same bytes, wherever they sit
 * (the blocks after a file that grew moved): they decode to the same bytes, so they are compared undecoded.
 * False when that does not settle it (the pieces differ, or are not in the inputs): the caller decodes.
 */
function sameEncodedBytes(cx: Comparer, srcA: ByteSource, srcB: ByteSource, ea: Entry, eb: Entry): boolean {
  if (!isDecoded(srcA) || !isDecoded(srcB) || !sameExtents(ea.extents, eb.extents)) return false;
  const pieces = srcA.encodedAlike?.(srcB);
  if (!pieces || pieces.a.some((s) => s.stream !== undefined) || pieces.b.some((s) => s.stream !== undefined)) return false;
  if (pieces.a.length !== pieces.b.length || pieces.a.some((x, i) => x.length !== pieces.b[i]!.length)) return sameContent(cx.rootA, pieces.a, cx.rootB, pieces.b);
  // piece by piece, each pair's answer kept: a fragment block is a piece of every small file whose tail it holds
  for (let i = 0; i < pieces.a.length; i++) {
    const x = pieces.a[i]!;
    const y = pieces.b[i]!;
    if (!cx.sameBytes(`@${x.offset} ${y.offset} ${x.length}`, () => sameContent(cx.rootA, [x], cx.rootB, [y]))) return false;
  }
  return true;
}

/**
 * Whether two decoded contents of equal length hold the same bytes. Streams decoded once and met again (the
 * initrd in the ISO, the UKI and the squashfs) share what holds their bytes: the answer for the same bytes
 * of the same holders is kept, so that their members are compared once, not once a copy.
 */
function sameDecodedContent(cx: Comparer, srcA: ByteSource, extA: readonly Extent[], srcB: ByteSource, extB: readonly Extent[]): boolean {
  if (!(srcA instanceof DecodedSource) || !(srcB instanceof DecodedSource)) return sameContent(srcA, extA, srcB, extB);
  const key = `${cx.holderId(srcA.holder)} ${cx.holderId(srcB.holder)} ${extentsKey(extA)} ${extentsKey(extB)}`;
  return cx.sameBytes(key, () => sameContent(srcA, extA, srcB, extB));
}

function extentsKey(extents: readonly Extent[]): string {
  let k = '';
  for (const e of extents) k += `${e.offset}+${e.length},`;
  return k;
}

/**
 * The encoded bytes a content is decoded from, when they are its own (a zip member, not a file inside a
 * compressed archive) and lie in the outer file: the content is all of its decoded stream.
 */
function ownEncoding(e: Entry, src: ByteSource): Extent[] | undefined {
  if (e.contentSource === undefined || !isDecoded(src) || e.size !== src.size) return undefined;
  let n = 0;
  for (const x of e.extents) n += x.length;
  if (n !== src.size || src.origin.some((o) => o.stream !== undefined)) return undefined;
  return src.origin.map((o) => ({ offset: o.offset, length: o.length }));
}

/** The contents' bytes differ or moved: hash them, then look inside when they differ. */
async function compareContentBytes(cx: Comparer, pair: ContentPair, srcA: ByteSource, srcB: ByteSource, spansA: Span[], spansB: Span[]): Promise<void> {
  const { ca, cb, ea, eb, path, prefix, depth, scope, placed } = pair;
  let equal = false;
  /** equal because their encoded bytes are (sameEncodedBytes): those encoded bytes need no second look */
  let encodedSame = false;
  let hashes: Promise<[string, string]> | undefined;
  const hashBoth = (): Promise<[string, string]> =>
    (hashes ??= Promise.all([hashContent(cx.pool, cx.rootA.path, srcA, ea.extents, spansA), hashContent(cx.pool, cx.rootB.path, srcB, eb.extents, spansB)]));
  if (ea.size === eb.size) {
    // contents in the inputs are hashed by the pool, which reads them itself; those in decoded streams are
    // compared here byte by byte (stopping at the first difference), and hashed only for a report that
    // shows their digests
    const inFiles = spansA.every((s) => s.stream === undefined) && spansB.every((s) => s.stream === undefined);
    if (inFiles) {
      // at the same offsets, and not untouched (compareContentNow): the pass saw a byte of it differ
      if (cx.exactDiff && cx.sameSpans(spansA, spansB)) equal = false;
      else {
        const [ha, hb] = await hashBoth();
        equal = ha === hb;
      }
    } else {
      encodedSame = sameEncodedBytes(cx, srcA, srcB, ea, eb);
      equal = encodedSame;
      if (!equal) {
        cx.decodedBytes += ea.size + eb.size;
        equal = sameDecodedContent(cx, srcA, ea.extents, srcB, eb.extents);
      }
    }
  }
  // placement in the outer file: a decoded content (a squashfs file, a deflated zip member) sits where its
  // encoded bytes are
  const firstA = placementSpan(srcA, spansA);
  const firstB = placementSpan(srcB, spansB);
  if (equal) {
    if (firstA && firstB) placed.push(ea, eb, firstA.offset, firstB.offset);
    if (!cx.sameSpans(spansA, spansB)) noteShift(scope, reportSpans('a', spansA), reportSpans('b', spansB), 'contents');
    // a member decoded from bytes of its own (a deflated zip member): its encoded bytes moved with it
    const oa = ownEncoding(ea, srcA);
    const ob = ownEncoding(eb, srcB);
    if (oa && ob && !sameExtents(oa, ob)) {
      // a squashfs file found equal by its encoded bytes: those are its own, compared already
      if (encodedSame || sameContent(cx.rootA, oa, cx.rootB, ob)) noteShift(scope, reportSpans('a', oa), reportSpans('b', ob), 'contents');
      else movedTail(scope, cx, oa, ob);
    }
    return;
  }
  if (firstA && firstB) placed.push(ea, eb, firstA.offset, firstB.offset);

  // a partition or boot image that spans structures another view already compared (the ISO 9660 volume
  // inside an isohybrid partition): when every differing byte in it is explained, it adds nothing
  if (isCoResident(ca.format) && cx.explainedAlready(spansA, spansB)) return;

  // contents differ: open both as nested containers where a format recognises them
  const nested = await compareNested(cx, ca, cb, ea, eb, path, prefix, depth, scope);
  if (nested === true) return;
  if (nested !== false) {
    // a limit stopped the look inside: its bytes are not explained by calling them "content"
    const spans = [...reportSpans('a', spansA), ...reportSpans('b', spansB), ...encodedSpans(srcA, srcB)];
    notExamined(cx, pair, spans, nested.limit, nested.error ? notExaminedHint(nested.error) : 'raise the limit named here to look inside');
    return;
  }
  const sizeA: FindingValue = { type: 'size', bytes: ea.size };
  const sizeB: FindingValue = { type: 'size', bytes: eb.size };
  const before = scope.findings.length;
  if (explainDiffering(cx, ca, cb, ea, eb, path, scope)) return sameBytes(cx, pair, before);
  // a partition or boot image is a view of bytes the file system over them parses: a whole-partition root
  // would claim every differing byte in it; what no structure explains is left to the accounting (unknown)
  if (isCoResident(ca.format)) {
    cx.notes.push(`${path} (${ca.format}): its content differs and no format opens it; the differing bytes in it that no other view explains are reported as unknown`);
    return;
  }
  const same = ea.size === eb.size;
  const [hashA, hashB] = same ? await hashBoth() : ['', ''];
  const at = scope.findings.length;
  cx.add({
    path,
    format: ca.format,
    field: null,
    kind: 'content',
    root: true,
    a: same ? { type: 'digest', sha256: hashA } : sizeA,
    b: same ? { type: 'digest', sha256: hashB } : sizeB,
    // a decoded content also claims its encoded bytes: they differ because it does
    spans: [...reportSpans('a', spansA), ...reportSpans('b', spansB), ...encodedSpans(srcA, srcB)],
    scope,
    entry: ea.path,
  });
  sameBytes(cx, pair, at);
}

/**
 * The same content encoded by the same tool, after a header of another length (a longer gzip FNAME): the equal
 * encoded bytes at the end moved with it. The header's own fields claim what differs before them.
 */
function movedTail(scope: ContentPair['scope'], cx: Comparer, oa: Extent[], ob: Extent[]): void {
  const n = commonSuffix(cx.rootA, oa, cx.rootB, ob);
  if (!n) return;
  const ta = tailExtents(oa, n);
  const tb = tailExtents(ob, n);
  if (!sameExtents(ta, tb)) noteShift(scope, reportSpans('a', ta), reportSpans('b', tb), 'contents');
}

/**
 * The findings just made on this entry's content (from `from` in its scope, made with no wait between) are
 * also what another view of the same bytes follows from: an HFS+ file whose bytes are an ISO 9660 file's has
 * its size change caused by that file's content change.
 */
function sameBytes(cx: Comparer, pair: ContentPair, from: number): void {
  const { ca, cb, ea, eb, scope } = pair;
  const list = sameBytesFindings(cx, ca, cb, ea, eb);
  if (!list) return;
  for (let i = from; i < scope.findings.length; i++) if (scope.findings[i]!.entry === ea.path) list.push(scope.findings[i]!);
}
