/**
 * Nesting: two differing contents opened as containers (through the walker, which owns the limits) and
 * compared in turn; the encoded bytes around decoded data are derived from what differs inside.
 */
import { isDecoded } from '../io/source.js';
import type { Container, Entry } from '../model.js';
import { entrySource, sourceKey } from '../walk/open.js';
import { Walker } from '../walk/walker.js';
import type { Comparer } from './compare.js';
import { encodedSpans } from './spans.js';
import type { Scope } from './types.js';

/**
 * Opens both contents as containers; compares them when both open as the same formats. True when it did;
 * `{ limit }` when a limit kept it from looking inside (which one, and where).
 */
export async function compareNested(cx: Comparer, ca: Container, cb: Container, ea: Entry, eb: Entry, path: string, prefix: string, depth: number, scope: Scope): Promise<boolean | { limit: string }> {
  const walker = cx.walker;
  const deep = walker.depthLimit(depth, path);
  if (deep !== undefined) return { limit: deep };
  const sa = entrySource(ca, ea);
  const sb = entrySource(cb, eb);
  if (!sa || !sb) return false;
  // the same bytes reached by two paths (an El Torito boot image that is also an ISO file) are compared once
  if (!walker.firstVisit(`${sourceKey(sa)}|${sourceKey(sb)}`, path)) return true; // compared under the other path
  const allowA = walker.admit(ca, sa, path);
  const allowB = allowA === 'ok' ? walker.admit(cb, sb, path) : allowA;
  if (allowA === 'limit' || allowB === 'limit') return { limit: walker.containersLimit() };
  if (allowA !== 'ok' || allowB !== 'ok') return false;
  if (isDecoded(sa)) cx.decodedBytes += sa.size;
  if (isDecoded(sb)) cx.decodedBytes += sb.size;
  const [oa, ob] = [await walker.open(sa), await walker.open(sb)];
  for (const f of oa.failures) cx.notes.push(`${sa.name}: not opened as ${f.format}: ${f.error.describe()}`);
  for (const f of ob.failures) cx.notes.push(`${sb.name}: not opened as ${f.format}: ${f.error.describe()}`);
  if (!oa.views.length || !ob.views.length) {
    // a side a limit kept closed (too much decoded data, too long): what it holds is not examined
    const limited = [...oa.failures, ...ob.failures].find((f) => f.error.code === 'E_LIMIT');
    return limited ? { limit: `${limited.error.describe()}` } : false;
  }
  const formatsA = oa.views.map((v) => v.format).join(',');
  const formatsB = ob.views.map((v) => v.format).join(',');
  if (formatsA !== formatsB) return false;
  const before = cx.findings.length;
  const madeBefore = cx.made;
  await cx.compareViews(oa.views, ob.views, Walker.innerPrefix(ca.format, ea.path, prefix, path), depth + 1);
  const inner = cx.findings.slice(before);
  if (cx.made === madeBefore) {
    // formats saw no difference; the bytes still differ somewhere: let the caller report content
    return false;
  }
  (scope.changed ??= new Map()).set(ea.path, inner);
  // differences inside a decoded stream: the encoded bytes differ because of them
  const encoded = encodedSpans(sa, sb);
  if (encoded.length) {
    cx.add({
      path,
      format: ca.format,
      field: null,
      kind: 'content',
      root: false,
      causes: inner.filter((f) => f.root),
      a: { type: 'size', bytes: ea.size, decoded: true },
      b: { type: 'size', bytes: eb.size, decoded: true },
      spans: encoded,
      scope,
      entry: ea.path,
      detail: 'the encoded (compressed) bytes differ because the decoded data differs',
    });
  }
  return true;
}
