/** What the comparer produces: findings before ids are assigned, and the pairs of containers they belong to. */
import type { ByteSource } from '../io/source.js';
import type { Limits } from '../limits.js';
import type { Container, Entry, Kind } from '../model.js';
import { PairRows } from '../util/rows.js';
import type { FoldedCount, ReportSpan } from '../report/types.js';
import type { Folded } from './fold.js';
import type { Interval, Ranges } from './intervals.js';
import type { FindingValue } from './values.js';
import type { ExcludeRules } from './exclude.js';
import type { Deadline } from '../limits.js';

/** How far a comparison has come, for a progress display. */
export interface CompareProgress {
  /** 'pass': the lockstep pass over both inputs; 'compare': parsing, decoding and comparing entries */
  phase: 'pass' | 'compare';
  /** bytes of both inputs the pass has compared, of `bytesTotal` */
  bytesDone: number;
  bytesTotal: number;
  /** entries compared so far */
  entries: number;
  /** bytes decoded from compressed streams and contents so far */
  decodedBytes: number;
}

export interface CompareOptions {
  jobs?: number;
  limits?: Limits;
  /** also compute SHA-256 of both whole inputs for the report */
  sha256?: boolean;
  /** called as work progresses (a few times a second at most while the pass runs, and every 1,024 entries) */
  onProgress?: (p: CompareProgress) => void;
  /** the SOURCE_DATE_EPOCH the builds were meant to use (seconds) */
  sourceDateEpoch?: number;
  /** called once both inputs are open */
  onSizes?: (a: number, b: number) => void;
  /** what to leave out: --exclude patterns, --exclude-directory-metadata */
  exclude?: ExcludeRules;
  /** when the whole run must stop (ms since the epoch, --timeout): what is left is reported as not examined */
  deadline?: Deadline;
}

/** A finding before ids are assigned. */
export interface RawFinding {
  path: string;
  format: string;
  field: string | null;
  kind: Kind;
  root: boolean;
  causes: RawFinding[];
  /** both sides' values, typed; the report writes them through presentValue (values.ts) */
  a: FindingValue;
  b: FindingValue;
  spans: ReportSpan[];
  hint?: string;
  detail?: string;
  confidence?: number;
  /** checksum fields: the spans they are computed over, per side */
  covers?: ReportSpan[];
  /** layout/size fields whose cause the comparer looks for */
  derivedField?: boolean;
  /** the container this finding belongs to (for cause lookup) */
  scope: Scope;
  /** the entry path within its container, when the finding is about an entry */
  entry?: string;
  /** whether each side's time equals SOURCE_DATE_EPOCH */
  sde?: { a: boolean; b: boolean };
  /** left out of the report (exclude.ts): the --exclude pattern, or `directory metadata` */
  excluded?: string;
  /** a summary: how many findings it stands for, of how many entries, and the differing bytes they claim */
  folded?: FoldedCount;
  /** the outer ranges it stands for, when its spans over-cover them (the runs of a capped unknown summary) */
  claims?: Interval[];
}

/** One pair of compared containers. */
export interface Scope {
  path: string;
  format: string;
  findings: RawFinding[];
  ordering?: RawFinding;
  /** entries whose content moved, by entry path */
  moved: Set<string>;
  /** entries whose nested containers differ, with the findings made inside them */
  changed?: Map<string, RawFinding[]>;
  /** bytes that are the same on both sides but sit at other offsets (shifted records, moved contents) */
  shifted?: { spans: ReportSpan[]; fields: number; contents: number };
  /** findings made in this scope, kept or folded */
  made?: number;
}

/**
 * Entries found in both builds, with where each one's content starts in each (for placement order), kept as
 * rows: a container of a million members keeps two numbers and two references a member, not an object.
 */
export class Placed {
  private readonly at: PairRows;
  readonly ea: Entry[] = [];
  readonly eb: Entry[] = [];

  /** `expected`: how many rows there will be at most (the entries both listings could pair), so that none is copied to grow */
  constructor(expected = 16) {
    this.at = new PairRows(expected);
  }

  get length(): number {
    return this.at.length;
  }

  push(ea: Entry, eb: Entry, a: number, b: number): void {
    this.at.push(a, b);
    this.ea.push(ea);
    this.eb.push(eb);
  }

  /** where row `i`'s content starts in build A */
  a(i: number): number {
    return this.at.x(i);
  }

  /** where row `i`'s content starts in build B */
  b(i: number): number {
    return this.at.y(i);
  }

  path(i: number): string {
    return this.ea[i]!.path;
  }
}

/** Two entries of one path whose contents are compared, and where the result goes. */
export interface ContentPair {
  ca: Container;
  cb: Container;
  ea: Entry;
  eb: Entry;
  /** the entry's report path */
  path: string;
  /** the container's path prefix, and its nesting depth */
  prefix: string;
  depth: number;
  scope: Scope;
  placed: Placed;
}

export interface CompareResult {
  sizeA: number;
  sizeB: number;
  diff: Ranges;
  differing: number;
  capped: boolean;
  findings: RawFinding[];
  /** copies of one change past the kept ones, by group (see fold.ts) */
  folded: Map<string, Folded>;
  scopes: Scope[];
  notes: string[];
  /** the rules the comparison left out entries and metadata by */
  exclude?: ExcludeRules;
  /** bytes of decoded contents compared or opened (both sides): what a run had to decode */
  decodedBytes: number;
  sourceA: ByteSource;
  sourceB: ByteSource;
  viewsA: Container[];
  viewsB: Container[];
  /** closes both inputs; call after the report is built (it reads excerpts) */
  close(): void;
}

/** A new scope for a pair of containers at `path`. */
export function newScope(path: string, format: string): Scope {
  return { path, format, findings: [], moved: new Set() };
}
