/**
 * Copies of one change, folded as they are found. A tree copied afresh changes the times of every file: on a
 * release image that is hundreds of thousands of field findings that all say the same thing. The first
 * MAX_COPIES + 1 of each group and field are kept as findings (one becomes the root, the rest derived from
 * it); past that, a copy only adds its spans to the group's folded runs and is never kept, so memory follows
 * the size of the report, not the number of entries.
 */
import type { Kind } from '../model.js';
import type { ReportSpan } from '../report/types.js';
import type { Ranges } from './intervals.js';
import { normalValue, type FindingValue } from './values.js';
import { MAX_LISTED } from './summary.js';

/** copies of one change listed one by one (as many as of any derived findings of one cause); beyond this they are folded into one finding */
export const MAX_COPIES = MAX_LISTED;

const GROUPABLE = new Set<Kind>(['timestamp', 'random-id', 'inode', 'ownership', 'permissions']);

/** What decides whether two field findings are copies of one change. */
export interface Groupable {
  root: boolean;
  field: string | null;
  kind: Kind;
  a: FindingValue;
  b: FindingValue;
  format: string;
  path: string;
  entry?: string;
  scope: { path: string };
}

export { normalValue } from './values.js';

/**
 * The keys of groups that do not depend on values (entries' times and inode numbers), by scope, format and
 * kind: hundreds of thousands of findings share a few, and a key made afresh for each would be hashed afresh.
 */
const entryKeys = new WeakMap<object, Map<string, Map<Kind, string>>>();

function entryKey(scope: { path: string }, format: string, kind: Kind): string {
  let byFormat = entryKeys.get(scope);
  if (!byFormat) entryKeys.set(scope, (byFormat = new Map()));
  let byKind = byFormat.get(format);
  if (!byKind) byFormat.set(format, (byKind = new Map()));
  let key = byKind.get(kind);
  if (key === undefined) byKind.set(kind, (key = `${scope.path}\u0000(entries)\u0000${format}\u0000${kind}\u0000`));
  return key;
}

/**
 * The group a root field finding belongs to, or undefined when it stands alone.
 * - a random id is the same cause wherever its value recurs in one container (a GPT partition GUID and its
 *   backup copy);
 * - entries' times and inode numbers: every entry of a container whose times (inode numbers) changed is one
 *   cause, whatever the values (a tree copied afresh, a tool numbering files as it meets them);
 * - a container's own times group by value (the volume dates a build stamps at once);
 * - owners and permissions group per container by value (every file of uid 1000 now 0).
 */
export function sameChangeKey(f: Groupable): string | undefined {
  if (!f.root || f.field === null || !GROUPABLE.has(f.kind) || f.a === null || f.b === null) return undefined;
  const entries = f.entry !== undefined;
  let where: string;
  let values: string;
  if (f.kind === 'random-id') {
    where = '';
    values = `${normalValue(f.a)}\u0000${normalValue(f.b)}`;
  } else if ((f.kind === 'timestamp' || f.kind === 'inode') && entries) {
    return entryKey(f.scope, f.format, f.kind);
  } else {
    where = entries ? '(entries)' : '(container)';
    values = `${normalValue(f.a)}\u0000${normalValue(f.b)}`;
  }
  return `${f.scope.path}\u0000${where}\u0000${f.format}\u0000${f.kind}\u0000${values}`;
}

/**
 * Spans accumulated in arrival order and merged as they come: a span joins a recent run of its side and
 * stream when it touches it, when no differing byte lies between them (outer-file spans), or always (spans in
 * a decoded stream). The runs then
 * claim exactly the differing bytes the spans claimed, in a few runs per directory instead of a few per file.
 */
export class SpanRuns {
  private readonly runs: ReportSpan[] = [];
  /** per side and stream, the few runs most recently extended (copies interleave: ISO record, Joliet record) */
  private readonly open = new Map<string, ReportSpan[]>();
  private static readonly OPEN = 4;

  constructor(private readonly diff: Ranges) {}

  add(spans: readonly ReportSpan[]): void {
    for (const s of spans) {
      if (s.length <= 0) continue;
      const key = s.stream === undefined ? s.side : `${s.side}\u0000${s.stream}`;
      let recent = this.open.get(key);
      if (!recent) this.open.set(key, (recent = []));
      if (this.extend(recent, s)) continue;
      const fresh: ReportSpan = { ...s };
      this.runs.push(fresh);
      recent.unshift(fresh);
      if (recent.length > SpanRuns.OPEN) recent.pop();
    }
  }

  private extend(recent: ReportSpan[], s: ReportSpan): boolean {
    for (let i = 0; i < recent.length; i++) {
      const run = recent[i]!;
      const end = run.offset + run.length;
      if (s.offset < run.offset) continue;
      // in a decoded stream (runs are per stream) the equal bytes between copies are taken in too: such bytes are
      // accounted for by the encoded bytes the stream rolls up to, not one by one
      const joins = s.offset <= end || s.stream !== undefined || !this.diff.overlaps(end, s.offset);
      if (!joins) continue;
      run.length = Math.max(end, s.offset + s.length) - run.offset;
      if (i > 0) {
        recent.splice(i, 1);
        recent.unshift(run);
      }
      return true;
    }
    return false;
  }

  get spans(): ReportSpan[] {
    return this.runs;
  }
}

/** The copies of one group past the kept ones. */
export interface Folded {
  count: number;
  entries: number;
  fields: Set<string>;
  runs: SpanRuns;
  /** the range of values folded, per side */
  min: [string, string];
  max: [string, string];
  lastEntry?: string;
}

/** Counts the kept copies of each group and folds the rest. */
export class Folder {
  /** by group, then by field: how many copies were kept */
  private readonly kept = new Map<string, Map<string, number>>();
  readonly folded = new Map<string, Folded>();

  constructor(private readonly diff: Ranges) {}

  /** True when the finding is to be kept; false when it was folded (its spans are kept in the group). */
  offer(f: Groupable & { spans: readonly ReportSpan[] }): boolean {
    const key = sameChangeKey(f);
    if (key === undefined) return true;
    let byField = this.kept.get(key);
    if (!byField) this.kept.set(key, (byField = new Map()));
    const n = byField.get(f.field!) ?? 0;
    if (n <= MAX_COPIES) {
      byField.set(f.field!, n + 1);
      return true;
    }
    let g = this.folded.get(key);
    const a = normalValue(f.a);
    const b = normalValue(f.b);
    if (!g) {
      g = { count: 0, entries: 0, fields: new Set(), runs: new SpanRuns(this.diff), min: [a, b], max: [a, b] };
      this.folded.set(key, g);
    }
    g.count++;
    const entry = f.entry ?? f.path;
    if (entry !== g.lastEntry) {
      g.entries++;
      g.lastEntry = entry;
    }
    if (g.fields.size < 16) g.fields.add(f.field!);
    if (a < g.min[0]) g.min[0] = a;
    if (b < g.min[1]) g.min[1] = b;
    if (a > g.max[0]) g.max[0] = a;
    if (b > g.max[1]) g.max[1] = b;
    g.runs.add(f.spans);
    return false;
  }
}
