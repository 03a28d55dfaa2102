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
  bytes: { differing: number; explained: number; unexplained: number };
  causes: Partial<Record<Kind, { findings: number; bytes: number }>>;
  findings: Finding[];
  /** things the readers noticed: unsupported parts, limits hit */
  notes: string[];
  /** the SOURCE_DATE_EPOCH the builds were meant to use, when given */
  sourceDateEpoch?: number;
  /** only in a report cut by --max-report-size: what it left out (src/report/json.ts) */
  omitted?: { maxReportSize: number; details: number; derivedFindings: number; rootFindings: number };
  /** root causes grouped by the tool that produced them, each with the one change that removes them (src/report/fixes.ts) */
  fixes?: FixGroup[];
}

/** One fix group: a tool, the one change to it, and the ids of the root findings that change removes. */
export interface FixGroup {
  tool: string;
  fix: string;
  findings: string[];
}
