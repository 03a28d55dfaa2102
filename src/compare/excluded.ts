/**
 * Excluded findings taken out of a report before its byte accounting (account.ts). Excluded are: the findings
 * made for entries `--exclude` left out (one per entry, over its records and content), the member metadata
 * `--exclude-directory-metadata recursive` left out, the derived findings that follow only from excluded ones
 * (a checksum over an excluded time, the compressed bytes around an excluded member), and any finding whose
 * spans all lie inside an excluded entry (another view of the same bytes). Their differing bytes are counted
 * apart, never as explained.
 */
import type { Excluded, ExcludedEntry, ReportSpan } from '../report/types.js';
import { pushAll } from '../util/array.js';
import { normalize, type Interval, type Ranges } from './intervals.js';
import { METADATA_REASON, type ExcludeRules } from './exclude.js';
import type { RawFinding } from './types.js';

/** excluded entries listed one by one in the report; the rest are counted */
export const MAX_EXCLUDED_ENTRIES = 1000;

export interface ExcludedPart {
  /** the outer-file intervals of every excluded finding, normalized */
  intervals: Interval[];
  /** one per excluded entry (by path and format), or per container for member metadata; sorted by path */
  entries: ExcludedEntry[];
}

function outer(spans: readonly ReportSpan[]): Interval[] {
  const out: Interval[] = [];
  for (const s of spans) if (s.stream === undefined && s.length > 0) out.push([s.offset, s.offset + s.length]);
  return out;
}

/** Spans by side and stream, to ask whether a span lies inside them. */
class SpanSet {
  private readonly byKey = new Map<string, Interval[]>();

  add(spans: readonly ReportSpan[]): void {
    for (const s of spans) {
      if (s.length <= 0) continue;
      const key = `${s.side}\u0000${s.stream ?? ''}`;
      (this.byKey.get(key) ?? this.byKey.set(key, []).get(key)!).push([s.offset, s.offset + s.length]);
    }
  }

  seal(): void {
    for (const [k, list] of this.byKey) this.byKey.set(k, normalize(list));
  }

  /** True when every span of length > 0 lies inside the set (and there is at least one). */
  covers(spans: readonly ReportSpan[]): boolean {
    let any = false;
    for (const s of spans) {
      if (s.length <= 0) continue;
      any = true;
      const list = this.byKey.get(`${s.side}\u0000${s.stream ?? ''}`);
      if (!list) return false;
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]![1] <= s.offset) lo = mid + 1;
        else hi = mid;
      }
      const iv = list[lo];
      if (!iv || iv[0] > s.offset || iv[1] < s.offset + s.length) return false;
    }
    return any;
  }
}

/**
 * Takes the excluded findings out of `all` (in place) and returns what they cover. `all` holds the findings
 * with their causes resolved (linkCauses and resolveToRoots have run).
 */
export function takeExcluded(all: RawFinding[], diff: Ranges): ExcludedPart {
  const excluded = new Set<RawFinding>();
  /** the excluded findings each finding counts under: itself for the first ones, its excluded causes for the rest */
  const origins = new Map<RawFinding, RawFinding[]>();
  const inside = new SpanSet();
  for (const f of all) {
    if (f.excluded === undefined) continue;
    excluded.add(f);
    origins.set(f, [f]);
    if (f.excluded !== METADATA_REASON) inside.add(f.spans);
  }
  if (!excluded.size) return { intervals: [], entries: [] };
  inside.seal();
  const follow = (): void => {
    // derived findings whose causes are all excluded; chains need another round, and they are short
    for (let changed = true; changed; ) {
      changed = false;
      for (const f of all) {
        if (excluded.has(f) || f.root || !f.causes.length || !f.causes.every((c) => excluded.has(c))) continue;
        excluded.add(f);
        origins.set(f, [...new Set(f.causes.flatMap((c) => origins.get(c) ?? []))]);
        changed = true;
      }
    }
  };
  follow();
  for (const f of all) {
    if (excluded.has(f) || !inside.covers(f.spans)) continue;
    excluded.add(f);
    origins.set(f, []);
  }
  follow();

  const ivs = new Map<RawFinding, Interval[]>();
  const every: Interval[] = [];
  for (const f of excluded) {
    const mine = outer(f.spans);
    pushAll(every, mine);
    for (const o of origins.get(f) ?? []) pushAll(ivs.get(o) ?? ivs.set(o, []).get(o)!, mine);
  }
  // one entry per excluded path and format (a pattern), or per container and format (member metadata)
  const groups = new Map<string, { e: ExcludedEntry; ivs: Interval[] }>();
  for (const f of excluded) {
    if (f.excluded === undefined) continue;
    const metadata = f.excluded === METADATA_REASON;
    const path = metadata ? f.scope.path : f.path;
    const key = `${metadata ? 'm' : 'p'}\u0000${path}\u0000${f.format}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { e: { path, format: f.format, by: f.excluded, bytes: 0, ...(metadata ? { findings: 0 } : {}) }, ivs: [] }));
    if (metadata) g.e.findings = (g.e.findings ?? 0) + 1;
    pushAll(g.ivs, ivs.get(f) ?? []);
  }
  const entries = [...groups.values()].map((g) => ({ ...g.e, bytes: diff.totalWithin(normalize(g.ivs)) }));
  entries.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : x.format < y.format ? -1 : x.format > y.format ? 1 : x.by < y.by ? -1 : x.by > y.by ? 1 : 0));
  let w = 0;
  for (const f of all) if (!excluded.has(f)) all[w++] = f;
  all.length = w;
  return { intervals: normalize(every), entries };
}

/** The report's `excluded` member: the rules, and the entries they left out (the first MAX_EXCLUDED_ENTRIES). */
export function excludedMember(rules: ExcludeRules, entries: ExcludedEntry[]): Excluded {
  const listed = entries.slice(0, MAX_EXCLUDED_ENTRIES);
  return {
    patterns: [...rules.patterns],
    directoryMetadata: rules.directoryMetadata,
    entries: listed,
    ...(entries.length > listed.length ? { more: entries.length - listed.length } : {}),
  };
}
