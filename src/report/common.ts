/**
 * What every presenter needs from a Report: root findings grouped by kind, derived findings folded under
 * their cause, accepted findings set apart, and plain formatting of values and numbers. Pure functions.
 */
import { KINDS, type Kind, type Value } from '../model.js';
import type { Finding, Report } from './types.js';

/** A finding as the presenters see it: `accepted` is set by applyAccept (src/report/accept.ts). */
export type ShownFinding = Finding & { accepted?: boolean };

/** True when an accept rule or `--accept KIND` marked the finding as a difference the project lives with. */
export function isAccepted(f: Finding): boolean {
  return (f as ShownFinding).accepted === true;
}

export interface KindGroup {
  kind: Kind;
  /** root findings of this kind that are not accepted, in report order */
  findings: Finding[];
  /** bytes from report.causes when it has the kind, else the sum of the findings' span lengths */
  bytes: number;
  /** distinct hints of these findings, in first-seen order */
  hints: string[];
}

export interface Digest {
  /** root findings not accepted */
  roots: Finding[];
  /** root findings that were accepted */
  accepted: Finding[];
  /** derived findings folded under the first of their causes that is in the report */
  derivedByCause: Map<string, Finding[]>;
  /** derived findings none of whose causes is in the report */
  orphans: Finding[];
  derived: Finding[];
  /** groups of `roots`, most bytes first (ties in KINDS order) */
  groups: KindGroup[];
  byId: Map<string, Finding>;
}

/**
 * Bytes a finding covers: the larger of its two sides (spans in decoded streams included); for a summary, the
 * differing bytes of the findings it stands for (its spans also take in the equal bytes between theirs).
 */
export function findingBytes(f: Finding): number {
  if (f.folded) return f.folded.bytes;
  let a = 0;
  let b = 0;
  for (const s of f.spans) {
    if (s.side === 'a') a += s.length;
    else b += s.length;
  }
  return Math.max(a, b);
}

export function digest(report: Report): Digest {
  const byId = new Map<string, Finding>();
  for (const f of report.findings) byId.set(f.id, f);
  const roots: Finding[] = [];
  const accepted: Finding[] = [];
  const derived: Finding[] = [];
  const derivedByCause = new Map<string, Finding[]>();
  const orphans: Finding[] = [];
  for (const f of report.findings) {
    if (f.root) {
      if (isAccepted(f)) accepted.push(f);
      else roots.push(f);
      continue;
    }
    derived.push(f);
    const cause = f.causedBy.find((id) => id !== f.id && byId.has(id));
    if (cause === undefined) orphans.push(f);
    else {
      let list = derivedByCause.get(cause);
      if (!list) derivedByCause.set(cause, (list = []));
      list.push(f);
    }
  }
  const groupMap = new Map<Kind, KindGroup>();
  for (const f of roots) {
    let g = groupMap.get(f.kind);
    if (!g) groupMap.set(f.kind, (g = { kind: f.kind, findings: [], bytes: 0, hints: [] }));
    g.findings.push(f);
    if (f.hint && !g.hints.includes(f.hint)) g.hints.push(f.hint);
  }
  for (const g of groupMap.values()) {
    const fromReport = report.causes[g.kind]?.bytes;
    g.bytes = typeof fromReport === 'number' && Number.isFinite(fromReport) ? fromReport : g.findings.reduce((n, f) => n + findingBytes(f), 0);
  }
  const order = (k: Kind): number => KINDS.indexOf(k);
  const groups = [...groupMap.values()].sort((x, y) => y.bytes - x.bytes || order(x.kind) - order(y.kind));
  return { roots, accepted, derivedByCause, orphans, derived, groups, byId };
}

/** How many findings these stand for: a summary (`folded`) counts as the findings it folds. */
export function findingCount(findings: readonly Finding[] | undefined): number {
  let n = 0;
  for (const f of findings ?? []) n += f.folded?.findings ?? 1;
  return n;
}

/** The findings derived from the root findings `roots` (summaries counted as the findings they fold). */
export function derivedCount(d: Digest, roots: readonly Finding[]): number {
  let n = 0;
  for (const f of roots) n += findingCount(d.derivedByCause.get(f.id));
  return n;
}

/** `checksum 2, layout 1`: counts by kind, in KINDS order (summaries counted as the findings they fold). */
export function kindCounts(findings: readonly Finding[]): string {
  const counts = new Map<Kind, number>();
  for (const f of findings) counts.set(f.kind, (counts.get(f.kind) ?? 0) + (f.folded?.findings ?? 1));
  return KINDS.filter((k) => counts.has(k))
    .map((k) => `${k} ${counts.get(k) ?? 0}`)
    .join(', ');
}

/** 1234567 -> `1,234,567` (fixed grouping, independent of the locale, so output is deterministic). */
export function num(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const neg = n < 0;
  const [int = '0', frac] = String(Math.abs(n)).split('.');
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${neg ? '-' : ''}${grouped}${frac !== undefined ? '.' + frac : ''}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${num(n)} ${n === 1 ? one : many}`;
}

/** A decoded value as text: `(none)` for null, `""` for the empty string. Not escaped. */
export function valueText(v: Value): string {
  if (v === null) return '(none)';
  if (typeof v === 'string') return v === '' ? '""' : v;
  return String(v);
}

/**
 * Whether a finding's field holds Unix permission bits (`tar.mode`, `zip.cd.unix_mode`, `squashfs.inode.mode`,
 * an ext4 `i_mode`): a permissions field whose last name part ends in `mode`.
 */
export function isModeField(f: Finding): boolean {
  return f.kind === 'permissions' && f.field !== null && /(?:^|\.)\w*mode$/i.test(f.field);
}

/**
 * One side's value as the presenters show it: file modes in octal as `ls` and `chmod` write them (`0755`,
 * `0100644` with the file type), not as the decimal number the JSON report keeps; everything else as
 * valueText has it. Not escaped.
 */
export function shownValue(f: Finding, side: 'a' | 'b'): string {
  const v = side === 'a' ? f.a : f.b;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && isModeField(f)) return `0${v.toString(8).padStart(3, '0')}`;
  return valueText(v);
}

/** At most `max` characters (code points), with `…` when cut. */
export function clip(s: string, max: number): string {
  if (max <= 0) return '';
  const cps = Array.from(s);
  if (cps.length <= max) return s;
  return cps.slice(0, Math.max(0, max - 1)).join('') + '…';
}

/** The field a finding is about, or `(content)` when the entry's content differs. */
export function fieldText(f: Finding): string {
  return f.field ?? '(content)';
}

/** The one-line verdict shared by every presenter (plain text, not escaped: it holds no image strings). */
export function verdict(report: Report, d: Digest = digest(report)): string {
  if (report.mode === 'lint') return report.identical ? 'nothing found that will differ in another build' : `${plural(d.roots.length, 'cause')} found that will differ in another build`;
  if (report.identical) return 'identical';
  const b = report.bytes;
  const causes = plural(d.roots.length, 'root cause');
  const acc = d.accepted.length ? ` (+${num(d.accepted.length)} accepted)` : '';
  const unexplained = b.unexplained > 0 ? ` (${num(b.unexplained)} unexplained)` : '';
  const excluded = b.excluded ? `, ${num(b.excluded)} excluded` : '';
  if (onlyExcluded(report)) return `no difference outside what is excluded: ${plural(b.differing, 'differing byte')}, all excluded`;
  // two inputs no common format opens (src/compare/anyfile.ts) say so first
  const formats = report.findings.find((f) => f.root && f.path === '/' && f.field === 'format');
  const other = formats ? ` (different formats: ${String(formats.a)} against ${String(formats.b)})` : '';
  const cut = report.timedOut ? `, cut short by --timeout ${report.timedOut.seconds}` : '';
  return `differs${other}: ${causes}${acc}, ${num(b.explained)} of ${plural(b.differing, 'differing byte')} explained${unexplained}${excluded}${cut}`;
}

/** True when the inputs differ only in what --exclude or --exclude-directory-metadata left out. */
export function onlyExcluded(report: Report): boolean {
  return !report.identical && (report.bytes.excluded ?? 0) > 0 && report.bytes.unexplained === 0 && !report.findings.some((f) => f.root) && !report.timedOut;
}

/**
 * Exit status as diff tools have it: 0 identical, every root cause accepted, or a difference only in what was
 * excluded; 1 otherwise, and always when --timeout cut the run short.
 */
export function exitStatus(report: Report): 0 | 1 {
  if (report.timedOut) return 1;
  if (report.identical) return 0;
  const roots = report.findings.filter((f) => f.root);
  if (roots.length === 0) return onlyExcluded(report) ? 0 : 1;
  return roots.every(isAccepted) ? 0 : 1;
}

/** One excluded entry as plain text (not escaped): `/boot/x (iso9660): 120 bytes, by *.log`. */
export function excludedEntryText(e: NonNullable<Report['excluded']>['entries'][number]): string {
  const what = e.findings !== undefined ? `${plural(e.findings, 'metadata finding')}, ${plural(e.bytes, 'byte')}` : plural(e.bytes, 'byte');
  return `${e.path} (${e.format}): ${what}, by ${e.by}`;
}

/**
 * What was left out, as one plain line (not escaped), or undefined when no exclusion option was given:
 * `Excluded: 120 differing bytes in 2 entries (--exclude *.log, --exclude-directory-metadata yes)`.
 */
export function excludedSummary(report: Report): string | undefined {
  const x = report.excluded;
  if (!x) return undefined;
  const n = x.entries.length + (x.more ?? 0);
  const rules = [...x.patterns.map((p) => `--exclude ${p}`), `--exclude-directory-metadata ${x.directoryMetadata}`].join(', ');
  return `Excluded, not compared and not counted as explained: ${plural(report.bytes.excluded ?? 0, 'differing byte')} in ${plural(n, 'entry', 'entries')} (${rules})`;
}

/** The line that says --timeout cut the run short, or undefined. */
export function timeoutSummary(report: Report): string | undefined {
  if (!report.timedOut) return undefined;
  const left = report.findings.filter((f) => f.kind === 'unknown' && f.detail?.includes('--timeout')).length;
  return `Cut short: the --timeout of ${report.timedOut.seconds} s was reached; ${plural(left, 'finding')} name what was not examined, and its bytes count as unexplained`;
}
