/**
 * A report whose size follows the number of causes, not the number of entries. A release image rebuilt from a
 * touched tree moves every file after the first one that grew: tens of thousands of derived layout findings
 * (a fragment start, a directory block, a block list per file), all following from the same few roots. The
 * first MAX_LISTED of each such group are listed one by one; the rest become one summary finding whose
 * `folded` member counts them exactly, with their spans merged into runs that claim exactly the differing
 * bytes theirs claimed, so every total of the report stays what it was.
 */
import type { ReportSpan } from '../report/types.js';
import { normalize, type Interval, type Ranges } from './intervals.js';
import type { RawFinding, Scope } from './types.js';
import { normalValue, type FindingValue, type RangeValue } from './values.js';

/** findings of one group listed one by one; the rest are one summary finding */
export const MAX_LISTED = 32;

/**
 * Sorts spans by side, stream and offset and merges each into the run before it when it overlaps or touches
 * it, when no differing byte lies between them (spans in the outer files), or always (spans in one decoded
 * stream: the stream's bytes are accounted for by the encoded bytes it rolls up to, not one by one). The runs
 * claim exactly the differing bytes of the outer files that the spans claimed.
 */
export function spanRuns(spans: readonly ReportSpan[], diff: Ranges): ReportSpan[] {
  const sorted = spans.filter((s) => s.length > 0).sort(spanOrder);
  const out: ReportSpan[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && last.side === s.side && last.stream === s.stream) {
      const end = last.offset + last.length;
      if (s.offset <= end || s.stream !== undefined || !diff.overlaps(end, s.offset)) {
        last.length = Math.max(end, s.offset + s.length) - last.offset;
        continue;
      }
    }
    out.push({ ...s });
  }
  return out;
}

/** Report order of spans: side, then stream (the outer file first), then offset and length. */
export function spanOrder(p: ReportSpan, q: ReportSpan): number {
  if (p.side !== q.side) return p.side < q.side ? -1 : 1;
  const ps = p.stream ?? '';
  const qs = q.stream ?? '';
  if (ps !== qs) return ps < qs ? -1 : 1;
  return p.offset - q.offset || p.length - q.length;
}

/** The differing bytes of the outer files inside these spans (both sides in one offset space, as the accounting counts). */
export function differingWithin(spans: readonly ReportSpan[], diff: Ranges): number {
  const ivs: Interval[] = [];
  for (const s of spans) if (s.stream === undefined) ivs.push([s.offset, s.offset + s.length]);
  return diff.totalWithin(normalize(ivs));
}

/** The lowest and highest of many values (numerically when they are all numbers); null when every one is null. */
export function valueRange(all: readonly FindingValue[]): RangeValue | null {
  const values = all.filter((v) => v !== null);
  if (!values.length) return null;
  if (values.every((v) => typeof v === 'number')) {
    const nums = values as number[];
    return { type: 'range', lo: String(Math.min(...nums)), hi: String(Math.max(...nums)) };
  }
  let lo: string | undefined;
  let hi: string | undefined;
  for (const v of values) {
    const s = normalValue(v);
    if (lo === undefined || s < lo) lo = s;
    if (hi === undefined || s > hi) hi = s;
  }
  return { type: 'range', lo: lo!, hi: hi! };
}

/** Report order of findings of one role and kind: path, field, format, then where they start. */
export function placeOrder(x: RawFinding, y: RawFinding): number {
  if (x.path !== y.path) return x.path < y.path ? -1 : 1;
  const fx = x.field ?? '';
  const fy = y.field ?? '';
  if (fx !== fy) return fx < fy ? -1 : 1;
  if (x.format !== y.format) return x.format < y.format ? -1 : 1;
  return (x.spans[0]?.offset ?? 0) - (y.spans[0]?.offset ?? 0);
}

/**
 * Derived findings of one container, format, kind and field (numbers in field names aside: a table's block 7
 * and block 8) with the same causes: past the first MAX_LISTED (in report order), one summary finding stands
 * for them. Findings that named a folded one as a cause name the summary instead. Roots are never folded.
 */
export function summarizeDerived(all: RawFinding[], diff: Ranges): void {
  const index = new Map<RawFinding, number>();
  all.forEach((f, i) => index.set(f, i));
  const scopes = new Map<Scope, number>();
  const groups = new Map<string, RawFinding[]>();
  for (const f of all) {
    if (f.root || f.folded) continue;
    let s = scopes.get(f.scope);
    if (s === undefined) scopes.set(f.scope, (s = scopes.size));
    const causes = f.causes.map((c) => index.get(c) ?? -1).sort((x, y) => x - y).join(',');
    const sde = f.sde ? `${f.sde.a}${f.sde.b}` : '';
    const key = `${s}\u0000${f.format}\u0000${f.kind}\u0000${f.field === null ? '' : f.field.replace(/\d+/g, 'N')}\u0000${causes}\u0000${sde}`;
    const list = groups.get(key);
    if (list) list.push(f);
    else groups.set(key, [f]);
  }
  const replaced = new Map<RawFinding, RawFinding>();
  for (const list of groups.values()) {
    if (list.length <= MAX_LISTED + 1) continue;
    list.sort(placeOrder);
    const rest = list.slice(MAX_LISTED);
    const summary = summaryOf(rest, diff);
    for (const f of rest) replaced.set(f, summary);
  }
  if (!replaced.size) return;
  let n = 0;
  const added = new Set<RawFinding>();
  for (const f of all) {
    const into = replaced.get(f);
    if (into === undefined) all[n++] = f;
    else if (!added.has(into)) {
      added.add(into);
      all[n++] = into;
    }
  }
  all.length = n;
  for (const f of all) {
    if (!f.causes.some((c) => replaced.has(c))) continue;
    f.causes = [...new Set(f.causes.map((c) => replaced.get(c) ?? c))];
  }
}

/** One finding for many derived findings of one group (all of one scope, format, kind and causes). */
function summaryOf(rest: RawFinding[], diff: Ranges): RawFinding {
  const first = rest[0]!;
  const fields = [...new Set(rest.map((f) => f.field ?? '(content)'))];
  const entries = new Set(rest.map((f) => f.entry ?? f.path)).size;
  const spans = spanRuns(rest.flatMap((f) => f.spans), diff);
  const shown = fields.slice(0, 6).join(', ') + (fields.length > 6 ? ', …' : '');
  return {
    path: first.scope.path,
    format: first.format,
    field: `${first.field ?? '(content)'} (and ${rest.length - 1} more)`,
    kind: first.kind,
    root: false,
    causes: first.causes,
    a: valueRange(rest.map((f) => f.a)),
    b: valueRange(rest.map((f) => f.b)),
    spans,
    scope: first.scope,
    ...(first.hint ? { hint: first.hint } : {}),
    ...(first.sde ? { sde: first.sde } : {}),
    detail: `${rest.length} more derived ${first.kind} findings (${shown}) in ${entries} entr${entries === 1 ? 'y' : 'ies'}, with the same cause${first.causes.length === 1 ? '' : 's'} as the ${MAX_LISTED} listed before them, folded into one finding; its spans cover theirs and the equal bytes between them`,
    folded: { findings: rest.length, entries, bytes: differingWithin(spans, diff) },
  };
}
