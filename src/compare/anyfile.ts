/**
 * Two inputs no common format opens, compared as one content each: two random blobs, two text files, or an
 * ISO against a file that is not one. Both are decoded for embedded values (times, UUIDs, tokens, build paths,
 * with a unified diff for text) through the same heuristics as contents inside containers (src/classify/).
 *
 * Every differing byte is then either claimed by a recognised value or left to the accounting, which reports
 * it as `unknown` with its exact offsets: a binary region no decoder recognises is not called "content",
 * because that would explain nothing. A text region no decoder recognises is a changed line of text, shown in
 * the diff, and is a `content` finding. Inputs over EXPLAIN_MAX bytes are not loaded: the lockstep pass's
 * differing ranges all become unknown.
 */
import { explainContent } from '../classify/content.js';
import { isText } from '../classify/content-text.js';
import type { FileSource } from '../io/file.js';
import type { Container, FormatName } from '../model.js';
import type { ReportSpan } from '../report/types.js';
import { pushAll } from '../util/array.js';
import type { Comparer } from './compare.js';
import { reportSpans } from './spans.js';
import { newScope, type RawFinding } from './types.js';

/** inputs up to this size are loaded and decoded for embedded values (as contents are in evidence.ts) */
const EXPLAIN_MAX = 16 * 1024 * 1024;
/** findings from the heuristics; the rest are summarised in one */
const MAX_EVIDENCE = 50;

/** The formats an input opens as, for a message: `iso9660, mbr`, or `no known format`. */
function formatsOf(views: Container[]): string {
  return views.length ? views.map((v) => v.format).join(', ') : 'no known format';
}

/** True when no view of one input has the format of a view of the other (one side may have none). */
export function noCommonFormat(viewsA: Container[], viewsB: Container[]): boolean {
  return !viewsA.some((a) => viewsB.some((b) => b.format === a.format));
}

/**
 * Compares two inputs as one content each. When either opens as some format (and they share none), a root
 * finding at `/` says the formats differ; the bytes are compared as raw bytes all the same.
 */
export function compareAnyFiles(cx: Comparer, a: FileSource, b: FileSource, viewsA: Container[], viewsB: Container[]): void {
  const small = a.size <= EXPLAIN_MAX && b.size <= EXPLAIN_MAX;
  const da = small ? a.read(0, a.size, 'content') : undefined;
  const db = small ? b.read(0, b.size, 'content') : undefined;
  const text = da !== undefined && db !== undefined && isText(da) && isText(db);
  const format: FormatName = text ? 'text' : 'raw';
  const scope = newScope('/', format);
  cx.scopes.push(scope);
  if (viewsA.length || viewsB.length) {
    cx.add({
      path: '/',
      format,
      field: 'format',
      kind: 'content',
      root: true,
      a: formatsOf(viewsA),
      b: formatsOf(viewsB),
      spans: [],
      scope,
      detail: `the inputs are of different formats (${formatsOf(viewsA)} against ${formatsOf(viewsB)}), so their structures cannot be paired; their bytes are compared as ${format === 'text' ? 'text' : 'raw bytes'}`,
      hint: 'compare two builds of the same artifact',
    });
  }
  if (da === undefined || db === undefined) {
    cx.notes.push(`/: inputs over ${EXPLAIN_MAX} bytes that no common format opens are compared byte by byte only; their differing ranges are reported as unknown`);
    return;
  }
  const ex = explainContent(da, db, { labels: [a.name, b.name], sourceDateEpoch: cx.sourceDateEpoch });
  for (const n of ex.notes) cx.notes.push(`/ (${format}): ${n}`);
  // the regions no decoder recognised: binary ones are left to the accounting (unknown, exact offsets)
  const unrecognised = new Set(ex.unexplained.map((r) => `${r.aOffset}:${r.aLength}:${r.bOffset}:${r.bLength}`));
  const fallback = (ev: (typeof ex.evidence)[number]): boolean => ev.ranges.every((r) => unrecognised.has(`${r.aOffset}:${r.aLength}:${r.bOffset}:${r.bLength}`));
  const kept = text ? ex.evidence : ex.evidence.filter((ev) => !fallback(ev));
  const shown = kept.slice(0, MAX_EVIDENCE);
  const rest = kept.slice(MAX_EVIDENCE);
  const spansOf = (ev: (typeof kept)[number], into: ReportSpan[] = []): ReportSpan[] => {
    for (const r of ev.ranges) {
      if (r.aLength) pushAll(into, reportSpans('a', a.spans(r.aOffset, r.aLength)));
      if (r.bLength) pushAll(into, reportSpans('b', b.spans(r.bOffset, r.bLength)));
    }
    return into;
  };
  const made: RawFinding[] = [];
  shown.forEach((ev, i) => {
    const detail = i === 0 && ex.diff ? `${ev.description}\n${ex.diff}` : ev.description;
    const sde = ev.sdeA !== undefined && ev.sdeB !== undefined ? { a: ev.sdeA, b: ev.sdeB } : undefined;
    made.push(cx.add({ path: '/', format, field: null, kind: ev.kind, root: true, a: ev.a, b: ev.b, spans: spansOf(ev), scope, detail, confidence: ev.confidence, hint: ev.hint, sde }));
  });
  if (!made.length && ex.diff) cx.notes.push(`/ (${format}): no value in the differing text was recognised:\n${ex.diff}`);
  if (rest.length) {
    const spans: ReportSpan[] = [];
    for (const ev of rest) spansOf(ev, spans);
    const kinds = [...new Set(rest.map((e) => e.kind))].join(', ');
    made.push(cx.add({ path: '/', format, field: null, kind: 'content', root: true, a: null, b: null, spans, scope, confidence: 0.3, detail: `${rest.length} more differing regions (${kinds}) beyond the first ${MAX_EVIDENCE}` }));
  }
  // the bytes after an insertion or a deletion are the same bytes one place further on: moved by it
  const shifters = made.filter((_, i) => shown[i]?.ranges.some((r) => r.aLength !== r.bLength));
  if (ex.shifted.length && shifters.length) {
    const spans: ReportSpan[] = [];
    let bytes = 0;
    for (const r of ex.shifted) {
      pushAll(spans, reportSpans('a', a.spans(r.aOffset, r.aLength)));
      pushAll(spans, reportSpans('b', b.spans(r.bOffset, r.bLength)));
      bytes += r.aLength;
    }
    const runs = ex.shifted.length;
    cx.add({
      path: '/',
      format,
      field: 'moved',
      kind: 'layout',
      root: false,
      causes: shifters,
      a: null,
      b: null,
      spans,
      scope,
      detail: `${bytes} byte${bytes === 1 ? '' : 's'} are the same in both inputs at another offset (${runs} run${runs === 1 ? '' : 's'}), moved by the bytes inserted or removed before them`,
    });
  }
}
