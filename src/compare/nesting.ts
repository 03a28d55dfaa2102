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
import type { RawFinding, Scope } from './types.js';
import { pushAll } from '../util/array.js';

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
  const key = `${sourceKey(sa)}|${sourceKey(sb)}`;
  if (!walker.firstVisit(key, path)) {
    // compared under the other path: what it found there is what this entry's sizes and layout follow from
    const other = cx.nestedInner.get(key);
    if (other) (scope.changed ??= new Map()).set(ea.path, other);
    return true;
  }
  const found: RawFinding[] = [];
  cx.nestedInner.set(key, found);
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
  const scopesBefore = cx.scopes.length;
  await cx.compareViews(oa.views, ob.views, Walker.innerPrefix(ca.format, ea.path, prefix, path), depth + 1);
  // other entries' contents are compared meanwhile: what this one found is what lies under its path
  const under = (p: string): boolean => p === path || (p.startsWith(path) && p.charCodeAt(path.length) === 47);
  const inner = cx.findings.slice(before).filter((f) => under(f.scope.path));
  pushAll(found, inner);
  let made = 0;
  for (const sc of cx.scopes.slice(scopesBefore)) if (under(sc.path)) made += sc.made ?? 0;
  if (made === 0) {
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
