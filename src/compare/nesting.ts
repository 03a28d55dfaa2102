/**
 * Nesting: two differing contents opened as containers (through the walker, which owns the limits) and
 * compared in turn; the encoded bytes around decoded data are derived from what differs inside.
 */
import type { ReprodiffError } from '../errors.js';
import { isDecoded, type ByteSource } from '../io/source.js';
import type { Container, Entry } from '../model.js';
import { entrySource, sourceKey, type OpenResult } from '../walk/open.js';
import { Walker } from '../walk/walker.js';
import type { Comparer } from './compare.js';
import { addEncoded } from './streams.js';
import { newScope, type RawFinding, type Scope } from './types.js';
import { pushAll } from '../util/array.js';

/** Why the contents of an entry were not looked into: a limit (which one, and where), or the rejection of a side. */
export interface NotExamined {
  limit: string;
  /** the rejection that kept a side closed (a limit, or a structure a format recognised but found malformed) */
  error?: ReprodiffError;
}

function visitKey(sa: ByteSource, sb: ByteSource): string {
  return `${sourceKey(sa)}|${sourceKey(sb)}`;
}

/**
 * The list that other paths to the same bytes take their causes from (see compareNested), for findings made on
 * the content itself when no format opened it (a text file seen by ISO 9660 and by HFS+); undefined when this
 * pair of contents was not visited.
 */
export function sameBytesFindings(cx: Comparer, ca: Container, cb: Container, ea: Entry, eb: Entry): RawFinding[] | undefined {
  const sa = entrySource(ca, ea);
  const sb = entrySource(cb, eb);
  return sa && sb ? cx.nestedInner.get(visitKey(sa, sb)) : undefined;
}

/**
 * Opens both contents as containers; compares them when both open as the same formats. True when it did;
 * `{ limit }` when a limit kept it from looking inside, or a format recognised a side and found it malformed
 * (a broken file system in an image): what it holds is then not examined.
 */
export async function compareNested(cx: Comparer, ca: Container, cb: Container, ea: Entry, eb: Entry, path: string, prefix: string, depth: number, scope: Scope): Promise<boolean | NotExamined> {
  const walker = cx.walker;
  const deep = walker.depthLimit(depth, path);
  if (deep !== undefined) return { limit: deep };
  // past the run's --timeout no content is opened: it is named as not examined
  if (cx.deadline?.reached()) return { limit: cx.deadline.limitText() };
  const sa = entrySource(ca, ea);
  const sb = entrySource(cb, eb);
  if (!sa || !sb) return false;
  // the same bytes reached by two paths (an El Torito boot image that is also an ISO file) are compared once
  const key = visitKey(sa, sb);
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
  // both at once: large streams decode in the pool, one build's on each CPU
  const [oa, ob] = await Promise.all([walker.open(sa), walker.open(sb)]);
  // a temporary folder that failed while a side was decoded is no verdict on it: the run stops on it
  cx.ctx.temp?.check();
  for (const f of oa.failures) cx.notes.push(`${sa.name}: not opened as ${f.format}: ${f.error.describe()}`);
  for (const f of ob.failures) cx.notes.push(`${sb.name}: not opened as ${f.format}: ${f.error.describe()}`);
  if (!oa.views.length || !ob.views.length) {
    // a side a limit kept closed (too much decoded data, too long), or that a format recognised and found
    // malformed (a corrupt stream, a broken file system): what it holds is not examined
    const closed = [...(oa.views.length ? [] : oa.failures), ...(ob.views.length ? [] : ob.failures)];
    const stop = closed.find((f) => f.error.code === 'E_LIMIT') ?? closed[0];
    return stop ? { limit: stop.error.describe(), error: stop.error } : false;
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
  addEncoded(
    cx,
    { path, format: ca.format, scope, entry: ea.path },
    sa,
    sb,
    inner.filter((f) => f.root),
    { a: { type: 'size', bytes: ea.size, decoded: true }, b: { type: 'size', bytes: eb.size, decoded: true } },
    'the encoded (compressed) bytes differ because the decoded data differs',
  );
  return true;
}

/** The limit that kept an input from opening: a format recognised it and stopped at a limit, and none opened it. */
export function inputLimit(opened: OpenResult): ReprodiffError | undefined {
  if (opened.views.length) return undefined;
  return opened.failures.find((f) => f.error.code === 'E_LIMIT')?.error;
}

/**
 * Limits on the inputs behave like limits inside: when a limit kept either input from opening (a compressed
 * stream decoding past --max-decoded), both are one unknown finding that names it, over their whole bytes
 * (counted as unexplained). True when it made that finding: nothing else is compared.
 */
export function inputsNotExamined(cx: Comparer, oa: OpenResult, ob: OpenResult): boolean {
  const limit = inputLimit(oa) ?? inputLimit(ob);
  if (!limit) return false;
  const failure = [...oa.failures, ...ob.failures].find((f) => f.error === limit)!;
  const scope = newScope('/', failure.format);
  cx.scopes.push(scope);
  cx.add({
    path: '/',
    format: failure.format,
    field: null,
    kind: 'unknown',
    root: true,
    a: { type: 'size', bytes: cx.rootA.size },
    b: { type: 'size', bytes: cx.rootB.size },
    spans: [
      { side: 'a', offset: 0, length: cx.rootA.size },
      { side: 'b', offset: 0, length: cx.rootB.size },
    ],
    scope,
    detail: `not examined: ${limit.describe()}`,
    hint: 'raise the limit named here to look inside',
  });
  return true;
}
