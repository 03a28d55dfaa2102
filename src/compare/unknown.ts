/**
 * What no finding claims: the differing runs of the outer files left over by the accounting, as `unknown`
 * root findings with their offsets, the structure they lie in and a hex excerpt. Runs close together are one
 * finding; past MAX_UNKNOWN_FINDINGS of them, the rest are one finding that counts every byte. Never dropped.
 */
import type { ByteSource } from '../io/source.js';
import type { Container } from '../model.js';
import type { ReportSpan } from '../report/types.js';
import { total, type Interval, type Ranges } from './intervals.js';
import type { CompareResult, RawFinding, Scope } from './types.js';

/** unknown findings listed one by one; the runs past them are one more finding */
export const MAX_UNKNOWN_FINDINGS = 100;
/** unexplained runs closer than this are reported as one finding (byte counts stay exact) */
const UNKNOWN_GAP = 16;
/** the most spans per side of the finding for the runs past the listed ones (its bytes are counted exactly) */
const MAX_REST_SPANS = 64;

const HINT = 'no parser claims these bytes: compare the two images around this offset (e.g. `cmp -l`) and report the structure';

function regionAt(views: Container[], offset: number): string | undefined {
  for (const v of views) {
    for (const r of v.regions) {
      if (r.contains) {
        if (r.contains(offset)) return `${v.format} ${r.name}`;
        continue;
      }
      for (const s of r.spans) {
        if (s.stream === undefined && offset >= s.offset && offset < s.offset + s.length) return `${v.format} ${r.name}`;
      }
    }
  }
  return undefined;
}

function excerpt(src: ByteSource, offset: number, length: number): string {
  const n = Math.max(0, Math.min(32, length, src.size - offset));
  if (n <= 0) return '(beyond the end)';
  return Buffer.from(src.read(offset, n, 'excerpt')).toString('hex').replace(/(..)(?!$)/g, '$1 ') + (length > n ? ' …' : '');
}

/** Runs joined where no differing byte lies between them: the same differing bytes, in fewer spans. */
function joined(runs: Interval[], diff: Ranges): Interval[] {
  const out: Interval[] = [];
  for (const [s, e] of runs) {
    const last = out[out.length - 1];
    if (last && !diff.overlaps(last[1], s)) last[1] = e;
    else out.push([s, e]);
  }
  return out;
}

/** At most `max` intervals over `runs`: consecutive runs taken together, the same number in each. */
function chunked(runs: Interval[], max: number): Interval[] {
  if (runs.length <= max) return runs;
  const per = Math.ceil(runs.length / max);
  const out: Interval[] = [];
  for (let i = 0; i < runs.length; i += per) out.push([runs[i]![0], runs[Math.min(runs.length, i + per) - 1]![1]]);
  return out;
}

/** The unknown findings for the unexplained runs `runs` (normalized) of the two outer files. */
export function unknownFindings(res: CompareResult, runs: Interval[]): RawFinding[] {
  const groups: Interval[][] = [];
  for (const iv of runs) {
    const g = groups[groups.length - 1];
    const last = g?.[g.length - 1];
    if (g && last && iv[0] - last[1] <= UNKNOWN_GAP) g.push(iv);
    else groups.push([iv]);
  }
  const scope: Scope = { path: '/', format: 'raw', findings: [], moved: new Set() };
  /** the same outer ranges on each side, clipped to that side's file */
  const bothSides = (ivs: Interval[]): ReportSpan[] => {
    const spans: ReportSpan[] = [];
    for (const side of ['a', 'b'] as const) {
      const size = side === 'a' ? res.sizeA : res.sizeB;
      for (const [s, e] of ivs) if (s < size) spans.push({ side, offset: s, length: Math.min(e, size) - s });
    }
    return spans;
  };
  const unknown = (ivs: Interval[], a: string | null, b: string | null, detail: string): RawFinding => ({
    path: '/',
    format: 'raw',
    field: null,
    kind: 'unknown',
    root: true,
    causes: [],
    a,
    b,
    spans: bothSides(joined(ivs, res.diff)),
    scope,
    detail,
    hint: HINT,
  });
  const out: RawFinding[] = [];
  for (const g of groups.slice(0, MAX_UNKNOWN_FINDINGS)) {
    const start = g[0]![0];
    const end = g[g.length - 1]![1];
    const bytes = total(g);
    const region = regionAt(res.viewsA, start) ?? regionAt(res.viewsB, start);
    const where = `${bytes} differing byte${bytes === 1 ? '' : 's'} at offset ${start} (0x${start.toString(16)})${g.length > 1 ? ` in ${g.length} runs up to offset ${end}` : ''}`;
    out.push(unknown(g, excerpt(res.sourceA, start, end - start), excerpt(res.sourceB, start, end - start), `${where}${region ? `, inside ${region}` : ', in no parsed structure'}`));
  }
  const rest = groups.slice(MAX_UNKNOWN_FINDINGS);
  if (rest.length) {
    const flat = rest.flat();
    const bytes = total(flat);
    const f = unknown(flat, null, null, `${bytes} more differing bytes in ${flat.length} runs that no parser claims, from offset ${flat[0]![0]} to ${flat[flat.length - 1]![1]} (the first ${MAX_UNKNOWN_FINDINGS} groups are listed separately)`);
    const runsJoined = joined(flat, res.diff);
    const few = chunked(runsJoined, MAX_REST_SPANS);
    // chunks over-cover (they take in the bytes between their runs): the runs say what the finding claims
    if (few !== runsJoined) {
      f.spans = bothSides(few);
      f.claims = flat;
    }
    f.folded = { findings: rest.length, bytes };
    out.push(f);
  }
  return out;
}
