/**
 * Entries a comparison does not compare: those `--exclude` leaves out (one excluded finding each, over their
 * records and content, which the report counts apart: excluded.ts), and those the run's `--timeout` left (one
 * unknown finding per container over all of them, counted as unexplained).
 */
import { isReprodiffError } from '../errors.js';
import { isDecoded } from '../io/source.js';
import { entryFields, type Container, type Entry, type Span } from '../model.js';
import type { ReportSpan } from '../report/types.js';
import { pushAll } from '../util/array.js';
import type { Comparer } from './compare.js';
import { normalize, type Interval } from './intervals.js';
import { sameContent } from './pool.js';
import { reportSpans } from './spans.js';
import type { Scope } from './types.js';
import type { FindingValue } from './values.js';

/** Where an entry's bytes are: its records (or its fields' spans) and its content, with its own encoded bytes. */
function entryModelSpans(c: Container, e: Entry): Span[] {
  const out: Span[] = [];
  pushAll(out, e.records ?? entryFields(e).flatMap((f) => f.spans));
  const src = e.contentSource ?? c.source;
  for (const x of e.extents) {
    try {
      pushAll(out, src.spans(x.offset, x.length));
    } catch (err) {
      // extents past the end of their source: they hold nothing to count
      if (!isReprodiffError(err)) throw err;
    }
  }
  // a content decoded from bytes of its own (a deflated zip member): those bytes are the entry's too
  if (e.contentSource !== undefined && isDecoded(e.contentSource) && e.size === e.contentSource.size) pushAll(out, e.contentSource.origin);
  return out;
}

function valueOf(e: Entry | undefined): FindingValue {
  return e ? { type: 'entry', entryType: e.type, size: e.size } : null;
}

/** Whether two entries excluded by a pattern may differ: their bytes, or (in decoded streams) their fields and content. */
function mayDiffer(cx: Comparer, ca: Container, cb: Container, ea: Entry, eb: Entry, sa: Span[], sb: Span[]): boolean {
  if (cx.sameSpans(sa, sb) && cx.untouched(sa)) return false;
  if (sa.every((s) => s.stream === undefined) && sb.every((s) => s.stream === undefined)) return true;
  // inside decoded streams no differing range says where: the values and the bytes do
  if (ea.type !== eb.type || ea.size !== eb.size) return true;
  const fa = entryFields(ea);
  const fb = entryFields(eb);
  if (fa.length !== fb.length || fa.some((f, i) => f.name !== fb[i]!.name || f.value !== fb[i]!.value)) return true;
  try {
    return !sameContent(ea.contentSource ?? ca.source, ea.extents, eb.contentSource ?? cb.source, eb.extents);
  } catch (err) {
    if (!isReprodiffError(err)) throw err;
    return true;
  }
}

/**
 * An entry (of one build or both) that a pattern excludes: not compared; when it may differ, one excluded
 * finding over its bytes in both builds, which the report counts apart.
 */
export function excludeEntry(cx: Comparer, at: { ca: Container; cb: Container; ea?: Entry; eb?: Entry; path: string; scope: Scope }, pattern: string): void {
  const { ca, cb, ea, eb, path, scope } = at;
  const sa = ea ? entryModelSpans(ca, ea) : [];
  const sb = eb ? entryModelSpans(cb, eb) : [];
  if (ea && eb && !mayDiffer(cx, ca, cb, ea, eb, sa, sb)) return;
  cx.add({
    path,
    format: ca.format,
    field: null,
    kind: ea && eb ? 'content' : ea ? 'removed' : 'added',
    root: true,
    a: valueOf(ea),
    b: valueOf(eb),
    spans: [...reportSpans('a', sa), ...reportSpans('b', sb)],
    scope,
    entry: (ea ?? eb)!.path,
    excluded: pattern,
    detail: `excluded by --exclude ${pattern}: not compared`,
  });
}

/** Spans merged where they touch, per side and stream, in a fixed order. */
function merged(spans: ReportSpan[]): ReportSpan[] {
  const byKey = new Map<string, { side: 'a' | 'b'; stream?: string; ivs: Interval[] }>();
  for (const s of spans) {
    if (s.length <= 0) continue;
    const key = `${s.side}\u0000${s.stream ?? ''}`;
    let g = byKey.get(key);
    if (!g) byKey.set(key, (g = { side: s.side, ...(s.stream !== undefined ? { stream: s.stream } : {}), ivs: [] }));
    g.ivs.push([s.offset, s.offset + s.length]);
  }
  const out: ReportSpan[] = [];
  for (const key of [...byKey.keys()].sort()) {
    const g = byKey.get(key)!;
    for (const [s, e] of normalize(g.ivs)) out.push({ side: g.side, ...(g.stream !== undefined ? { stream: g.stream } : {}), offset: s, length: e - s });
  }
  return out;
}

/** Why a comparison left entries unexamined: the limit's text, and how to lift it. */
export interface Cut {
  text: string;
  hint: string;
}

/**
 * The entries of a container pair that a limit (the run's --timeout, the heap near full) left unexamined: one
 * unknown finding over their bytes (counted as unexplained), naming how many were left and the first of them.
 */
export function leftUnexamined(cx: Comparer, ca: Container, cb: Container, left: { a: Entry[]; b: Entry[] }, scope: Scope, pathOf: (e: Entry) => string, why: Cut): void {
  const n = left.a.length + left.b.length;
  if (!n) return;
  const spans: ReportSpan[] = [];
  for (const e of left.a) pushAll(spans, reportSpans('a', entryModelSpans(ca, e)));
  for (const e of left.b) pushAll(spans, reportSpans('b', entryModelSpans(cb, e)));
  const first = left.a[0] ?? left.b[0]!;
  cx.notes.push(`${scope.path} (${ca.format}): ${why.text}; ${n} entr${n === 1 ? 'y' : 'ies'} not compared, from ${pathOf(first)} on`);
  cx.add({
    path: scope.path,
    format: ca.format,
    field: null,
    kind: 'unknown',
    root: true,
    a: { type: 'size', bytes: left.a.reduce((k, e) => k + e.size, 0) },
    b: { type: 'size', bytes: left.b.reduce((k, e) => k + e.size, 0) },
    spans: merged(spans),
    scope,
    detail: `not examined: ${why.text}: ${left.a.length} entries of the first build and ${left.b.length} of the second were left, from ${pathOf(first)} on`,
    hint: why.hint,
  });
}
