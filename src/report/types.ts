/** The JSON report contract, schemaVersion 1 (see schema/report.schema.json). */
import type { FormatName, Kind, Value } from '../model.js';

export interface ReportSpan {
  side: 'a' | 'b';
  /** absent: the outer input file; present: a decoded stream id */
  stream?: string;
  offset: number;
  length: number;
}

export interface Finding {
  /** `f1`, `f2`, ... in report order */
  id: string;
  /** entry path; `//` steps into a nested container */
  path: string;
  format: FormatName;
  /** null when the entry's content differs */
  field: string | null;
  kind: Kind;
  root: boolean;
  /** ids of the findings a derived one follows from */
  causedBy: string[];
  a: Value;
  b: Value;
  spans: ReportSpan[];
  hint?: string;
  /** how sure the classification is, 0..1, when it comes from a heuristic */
  confidence?: number;
  /** extra human-readable detail: a text diff, a hex excerpt, a permutation summary */
  detail?: string;
  /** true when `--accept` or an accept file marked this finding; it does not count toward the exit status */
  accepted?: boolean;
  /** with a SOURCE_DATE_EPOCH given: whether each side's time equals it (the expected value) */
  sourceDateEpoch?: { a: boolean; b: boolean };
  /** a summary of many findings of one cause (src/compare/summary.ts): it stands for `findings` of them */
  folded?: FoldedCount;
}

/**
 * What a summary finding stands for: how many findings (2 or more), of how many entries, and the differing
 * bytes of the outer files their spans claim (exact, although a summary's spans may cover more bytes).
 */
export interface FoldedCount {
  findings: number;
  entries?: number;
  bytes: number;
}

export interface Report {
  schemaVersion: 1;
  /** absent or `compare`: two builds compared; `lint`: one build checked for what will differ next time (src/lint/) */
  mode?: 'compare' | 'lint';
  tool: { name: 'reprodiff'; version: string };
  inputs: { path: string; size: number; sha256: string | null }[];
  identical: boolean;
  /**
   * over the two outer files: differing = explained + unexplained + excluded; `excluded` (bytes of what
   * --exclude and --exclude-directory-metadata left out) is present when either option was given
   */
  bytes: { differing: number; explained: number; unexplained: number; excluded?: number };
  causes: Partial<Record<Kind, { findings: number; bytes: number }>>;
  findings: Finding[];
  /** things the readers noticed: unsupported parts, limits hit */
  notes: string[];
  /** the SOURCE_DATE_EPOCH the builds were meant to use, when given */
  sourceDateEpoch?: number;
  /** only in a report cut by --max-report-size: what it left out (src/report/json.ts) */
  omitted?: { maxReportSize: number; details: number; derivedFindings: number; rootFindings: number };
  /** present when --exclude or --exclude-directory-metadata was given: what was left out (src/compare/excluded.ts) */
  excluded?: Excluded;
  /** present when --timeout stopped the run: what was not examined is named by unknown findings */
  timedOut?: { seconds: number };
  /** root causes grouped by the tool that produced them, each with the one change that removes them (src/report/fixes.ts) */
  fixes?: FixGroup[];
}

/** One fix group: a tool, the one change to it, and the ids of the root findings that change removes. */
export interface FixGroup {
  tool: string;
  fix: string;
  findings: string[];
}

/** What a comparison left out on purpose. */
export interface Excluded {
  /** the --exclude patterns, as given */
  patterns: string[];
  /** the --exclude-directory-metadata mode in effect */
  directoryMetadata: 'yes' | 'no' | 'recursive';
  /** excluded entries that differ (by path and format), and containers whose members' metadata was left out */
  entries: ExcludedEntry[];
  /** entries past the listed ones (their bytes are in bytes.excluded) */
  more?: number;
}

export interface ExcludedEntry {
  path: string;
  format: string;
  /** the pattern that excluded it, or `directory metadata` */
  by: string;
  /** differing bytes of the outer files in it and in what follows only from it */
  bytes: number;
  /** for member metadata: the findings left out */
  findings?: number;
}
