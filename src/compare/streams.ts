/** Changes inside a container's decoded streams (a compressed metadata block) explain the streams' encoded bytes. */
import type { ByteSource } from '../io/source.js';
import type { Container } from '../model.js';
import type { ReportSpan } from '../report/types.js';
import { pushAll } from '../util/array.js';
import type { Comparer } from './compare.js';
import { encodedSpans, reportSpans } from './spans.js';
import type { RawFinding, Scope } from './types.js';
import type { FindingValue } from './values.js';

/**
 * Findings inside decoded streams of this container (fields in a compressed metadata block) explain the
 * encoded bytes of those streams: one derived finding per container claims them.
 */
export function rollUpStreams(cx: Comparer, ca: Container, cb: Container, scope: Scope): void {
  if (!ca.streams?.length && !cb.streams?.length) return;
  const origins = new Map<string, ReportSpan[]>();
  for (const [side, c] of [
    ['a', ca],
    ['b', cb],
  ] as const) {
    for (const st of c.streams ?? []) origins.set(`${side}\u0000${st.id}`, reportSpans(side, st.origin));
  }
  const causes: RawFinding[] = [];
  const spans: ReportSpan[] = [];
  const touched = new Set<string>();
  for (const f of scope.findings) {
    let hit = false;
    for (const sp of f.spans) {
      if (sp.stream === undefined) continue;
      const key = `${sp.side}\u0000${sp.stream}`;
      const o = origins.get(key);
      if (!o) continue;
      hit = true;
      if (!touched.has(key)) {
        touched.add(key);
        pushAll(spans, o);
      }
    }
    if (hit) causes.push(f);
  }
  if (!causes.length) return;
  cx.add({
    path: scope.path,
    format: ca.format,
    field: 'encoded',
    kind: 'content',
    root: false,
    causes,
    a: null,
    b: null,
    spans,
    scope,
    detail: `${touched.size} compressed block${touched.size === 1 ? '' : 's'} differ because the data decoded from them differs`,
  });
}

/**
 * The encoded (compressed) bytes of two decoded contents differ because what they decode to does: one derived
 * content finding claims them, caused by the findings made inside. Nothing when neither content is decoded.
 */
export function addEncoded(
  cx: Comparer,
  at: { path: string; format: string; scope: Scope; entry: string },
  sa: ByteSource,
  sb: ByteSource,
  causes: RawFinding[],
  values: { a: FindingValue | null; b: FindingValue | null },
  detail: string,
): void {
  const spans = encodedSpans(sa, sb);
  if (!spans.length) return;
  cx.add({ path: at.path, format: at.format, field: null, kind: 'content', root: false, causes, a: values.a, b: values.b, spans, scope: at.scope, entry: at.entry, detail });
}
