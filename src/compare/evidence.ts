/**
 * The bridge to the content heuristics (src/classify/): two differing contents that no format opens are
 * decoded for embedded values (times, UUIDs, tokens, build paths, a text diff), one finding per value.
 */
import { explainContent } from '../classify/content.js';
import type { Container, Entry } from '../model.js';
import type { ReportSpan } from '../report/types.js';
import { pushAll } from '../util/array.js';
import { entrySource } from '../walk/open.js';
import type { Comparer } from './compare.js';
import { reportSpans } from './spans.js';
import { addEncoded } from './streams.js';
import type { RawFinding, Scope } from './types.js';

/** contents up to this size are decoded for embedded values when they differ */
const EXPLAIN_MAX = 16 * 1024 * 1024;
/** findings per entry from content heuristics; the rest are summarised in one */
const MAX_EVIDENCE = 50;

/**
 * Names what differs inside two contents that no format opens: embedded times, UUIDs, tokens, build paths,
 * with a text diff for text. One finding per recognised value. False when the contents are too large.
 */
export function explainDiffering(cx: Comparer, ca: Container, cb: Container, ea: Entry, eb: Entry, path: string, scope: Scope): boolean {
  if (ea.size > EXPLAIN_MAX || eb.size > EXPLAIN_MAX) {
    cx.notes.push(`${path}: contents over ${EXPLAIN_MAX} bytes are compared by hash only; the values inside are not decoded`);
    return false;
  }
  const sa = entrySource(ca, ea);
  const sb = entrySource(cb, eb);
  if (!sa || !sb) return false;
  const da = sa.read(0, sa.size, 'content');
  const db = sb.read(0, sb.size, 'content');
  const ex = explainContent(da, db, { labels: [`a${path}`, `b${path}`], sourceDateEpoch: cx.sourceDateEpoch });
  if (!ex.evidence.length) return false;
  const shown = ex.evidence.slice(0, MAX_EVIDENCE);
  const rest = ex.evidence.slice(MAX_EVIDENCE);
  /** where an evidence's ranges of each content sit */
  const evidenceSpans = (ev: (typeof rest)[number], into: ReportSpan[] = []): ReportSpan[] => {
    for (const r of ev.ranges) {
      if (r.aLength) pushAll(into, reportSpans('a', sa.spans(r.aOffset, r.aLength)));
      if (r.bLength) pushAll(into, reportSpans('b', sb.spans(r.bOffset, r.bLength)));
    }
    return into;
  };
  const made: RawFinding[] = [];
  shown.forEach((ev, i) => {
    const spans = evidenceSpans(ev);
    const detail = i === 0 && ex.diff ? `${ev.description}\n${ex.diff}` : ev.description;
    const sde = ev.sdeA !== undefined && ev.sdeB !== undefined ? { a: ev.sdeA, b: ev.sdeB } : undefined;
    made.push(cx.add({ path, format: ca.format, field: null, kind: ev.kind, root: true, a: ev.a, b: ev.b, spans, scope, entry: ea.path, detail, confidence: ev.confidence, hint: ev.hint, sde }));
  });
  if (ex.shifted.length) {
    // the bytes after an insertion or a deletion are the same bytes one place further on: moved by it
    const shifters = made.filter((f, i) => shown[i]!.ranges.some((r) => r.aLength !== r.bLength));
    const spans: ReportSpan[] = [];
    let bytes = 0;
    for (const r of ex.shifted) {
      pushAll(spans, reportSpans('a', sa.spans(r.aOffset, r.aLength)));
      pushAll(spans, reportSpans('b', sb.spans(r.bOffset, r.bLength)));
      bytes += r.aLength;
    }
    const runs = ex.shifted.length;
    cx.add({
      path,
      format: ca.format,
      field: 'moved',
      kind: 'layout',
      root: false,
      causes: shifters.length ? shifters : made,
      a: null,
      b: null,
      spans,
      scope,
      entry: ea.path,
      detail: `${bytes} byte${bytes === 1 ? '' : 's'} of this content ${bytes === 1 ? 'is' : 'are'} the same in both builds at another offset (${runs} run${runs === 1 ? '' : 's'}), moved by the bytes inserted or removed before them`,
    });
  }
  addEncoded(cx, { path, format: ca.format, scope, entry: ea.path }, sa, sb, made, { a: null, b: null }, 'the encoded (compressed) bytes differ because the decoded content differs');
  if (rest.length) {
    const spans: ReportSpan[] = [];
    for (const ev of rest) evidenceSpans(ev, spans);
    const kinds = [...new Set(rest.map((e) => e.kind))].join(', ');
    cx.add({ path, format: ca.format, field: null, kind: 'content', root: true, a: null, b: null, spans, scope, entry: ea.path, confidence: 0.3, detail: `${rest.length} more differing regions (${kinds}) beyond the first ${MAX_EVIDENCE}` });
  }
  return true;
}
