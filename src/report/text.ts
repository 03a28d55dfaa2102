/**
 * The terminal report: a verdict line, then what to fix: root causes grouped by the tool that produced them,
 * each group with its one fix (wrapped to the width) and its findings (path, field, a -> b, derived findings
 * folded under their cause); the first lines of each shown finding's detail come last. ANSI colours only when asked. Every string
 * from an image has its control characters made visible, so an image cannot drive the terminal.
 */
import type { Finding, Report } from './types.js';
import { clip, derivedCount, digest, excludedEntryText, excludedSummary, fieldText, findingCount, isAccepted, kindCounts, num, plural, shownValue, timeoutSummary, verdict, type Digest } from './common.js';
import { visible } from './escape.js';
import { fixGroups } from './fixes.js';

export interface TextOptions {
  color: boolean;
  /** root findings listed before an "N more" line; default 30 */
  maxFindings?: number;
  /** wrap and clip lines to this many columns; default 100 (the CLI passes a terminal's own width) */
  width?: number;
}

const ANSI = {
  reset: '\x1b[0m',
  bold: '\x1b[1m',
  dim: '\x1b[2m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  cyan: '\x1b[36m',
} as const;
type Style = keyof typeof ANSI;

export const DEFAULT_TEXT_MAX_FINDINGS = 30;

/** Columns of the terminal report when none is given: a file, a pipe, or a terminal that does not say. */
export const DEFAULT_TEXT_WIDTH = 100;

/** Lines of one finding's detail shown in the terminal report's closing detail section. */
const DETAIL_LINES = 6;

export function renderText(report: Report, opts: TextOptions): string {
  const d = digest(report);
  const paint = (s: string, ...styles: Style[]): string =>
    opts.color && styles.length && s !== '' ? styles.map((st) => ANSI[st]).join('') + s + ANSI.reset : s;
  const width = opts.width !== undefined && Number.isFinite(opts.width) && opts.width >= 20 ? Math.floor(opts.width) : DEFAULT_TEXT_WIDTH;
  /** clips plain text to what remains of the line after `indent` columns */
  const fit = (s: string, indent: number): string => clip(s, width - indent);
  const max = opts.maxFindings !== undefined && opts.maxFindings >= 0 ? Math.floor(opts.maxFindings) : DEFAULT_TEXT_MAX_FINDINGS;

  const out: string[] = [];
  const v = verdict(report, d);
  const [v1 = '', ...vRest] = wrap(v, width - 11);
  out.push(`reprodiff: ${paint(v1, 'bold', report.identical ? 'green' : 'red')}`, ...vRest.map((l) => `           ${paint(l, 'bold', report.identical ? 'green' : 'red')}`));
  for (const [i, input] of report.inputs.entries()) {
    const side = i === 0 ? 'a' : i === 1 ? 'b' : String(i + 1);
    out.push(fit(`  ${side}: ${visible(input.path)} (${plural(input.size, 'byte')})`, 0));
  }
  const cut = timeoutSummary(report);
  if (cut) out.push('', ...wrap(cut, width).map((l) => paint(l, 'bold', 'red')));
  pushExcluded(out, report, fit, width);
  if (report.identical) {
    pushNotes(out, report, fit, width);
    return out.join('\n') + '\n';
  }

  let shown = 0;
  const shownRoots: Finding[] = [];
  const groups = fixGroups(report);
  if (groups.length) {
    const n = groups.reduce((k, g) => k + g.findings.length, 0);
    out.push('', paint(fit(`What to fix: ${plural(groups.length, 'change')} for ${plural(n, 'root cause')}`, 0), 'bold'));
    for (const [gi, g] of groups.entries()) {
      const derived = derivedCount(d, g.findings);
      const extra = derived ? `, ${plural(derived, 'derived finding')}` : '';
      out.push('', `  ${paint(fit(`${gi + 1}. ${visible(g.tool)}: ${plural(g.findings.length, 'root cause')}${extra}`, 2), 'bold', 'yellow')}`);
      for (const line of wrap(`fix: ${visible(g.fix)}`, width - 5)) out.push(`     ${paint(line, 'green')}`);
      for (const f of g.findings) {
        if (shown >= max) break;
        shown++;
        shownRoots.push(f);
        pushFinding(out, f, d, paint, fit, width);
      }
    }
  }
  const hidden = d.roots.length - shown;
  if (hidden > 0) {
    out.push('', paint(fit(`… ${plural(hidden, 'more root finding')} not shown (all are in the JSON report)`, 0), 'bold'));
  }
  if (d.orphans.length) {
    out.push('', fit(`Derived findings without a recorded cause: ${num(findingCount(d.orphans))} (${kindCounts(d.orphans)})`, 0));
  }
  if (d.accepted.length) {
    const derivedAccepted = findingCount(d.derived.filter(isAccepted));
    const extra = derivedAccepted ? `, ${plural(derivedAccepted, 'derived finding')}` : '';
    out.push('', paint(fit(`Accepted, not counted: ${plural(d.accepted.length, 'root cause')} (${kindCounts(d.accepted)})${extra}`, 0), 'dim'));
  }
  const withDetail = shownRoots.filter((f) => f.detail);
  if (withDetail.length) {
    out.push('', paint(fit(`Detail (first ${DETAIL_LINES} lines of each; the JSON report has all)`, 0), 'bold'));
    for (const f of withDetail) {
      out.push(`  ${paint(fit(`${f.id} ${visible(f.path)}  ${visible(fieldText(f))}`, 2), 'cyan')}`);
      // hex dumps keep their columns (clipped); prose wraps
      const lines = (f.detail ?? '').replace(/\n+$/, '').split('\n');
      const hex = lines.some((l) => /^[ab]?[:\s]*[0-9a-f]{6,}[: ]/.test(l));
      const drawn = hex ? lines.map((l) => fit(visible(l), 4)) : lines.flatMap((l) => wrap(visible(l), width - 4));
      for (const l of drawn.slice(0, DETAIL_LINES)) out.push(`    ${l}`);
      if (drawn.length > DETAIL_LINES) out.push(`    ${paint(`… ${plural(drawn.length - DETAIL_LINES, 'more line')}`, 'dim')}`);
    }
  }
  pushNotes(out, report, fit, width);
  return out.join('\n') + '\n';
}

/** Words of `s` in lines of at most `room` columns; a word longer than a line is broken. */
export function wrap(s: string, room: number): string[] {
  const r = Math.max(10, room);
  const lines: string[] = [];
  let cur = '';
  for (const word of s.split(/ +/)) {
    let w = word;
    while (Array.from(w).length > r) {
      if (cur) {
        lines.push(cur);
        cur = '';
      }
      const cps = Array.from(w);
      lines.push(cps.slice(0, r).join(''));
      w = cps.slice(r).join('');
    }
    if (cur === '') cur = w;
    else if (Array.from(cur).length + 1 + Array.from(w).length <= r) cur += ' ' + w;
    else {
      lines.push(cur);
      cur = w;
    }
  }
  if (cur !== '' || lines.length === 0) lines.push(cur);
  return lines;
}

function pushFinding(
  out: string[],
  f: Finding,
  d: Digest,
  paint: (s: string, ...st: Style[]) => string,
  fit: (s: string, indent: number) => string,
  room: number,
): void {
  const where = `${f.id} ${f.kind}  ${visible(f.path)}  ${f.format} ${visible(fieldText(f))}`;
  out.push(`     ${paint(fit(where, 5), 'cyan')}`);
  out.push(`       ${values(f, room - 7)}`);
  const derived = d.derivedByCause.get(f.id);
  if (derived?.length) out.push(`       ${paint(fit(`+ ${plural(findingCount(derived), 'derived finding')}: ${kindCounts(derived)}`, 7), 'dim')}`);
}

/** `a → b`, each side clipped (the shorter one kept whole when it fits) when the line is wider than `room`. */
function values(f: Finding, room: number): string {
  const a = visible(shownValue(f, 'a'));
  const b = visible(shownValue(f, 'b'));
  const line = `${a} → ${b}`;
  if (Array.from(line).length <= room) return line;
  const space = Math.max(8, room - 3);
  const la = Array.from(a).length;
  const lb = Array.from(b).length;
  let ha = Math.floor(space / 2);
  let hb = space - ha;
  if (la < ha) {
    hb += ha - la;
    ha = la;
  } else if (lb < hb) {
    ha += hb - lb;
    hb = lb;
  }
  return `${clip(a, Math.max(4, ha))} → ${clip(b, Math.max(4, hb))}`;
}

/** excluded entries listed in the terminal report; the JSON report lists them all */
const EXCLUDED_LINES = 10;

function pushExcluded(out: string[], report: Report, fit: (s: string, indent: number) => string, width: number): void {
  const line = excludedSummary(report);
  if (!line) return;
  out.push('', ...wrap(line, width));
  const x = report.excluded!;
  for (const e of x.entries.slice(0, EXCLUDED_LINES)) out.push(fit(`  - ${visible(excludedEntryText(e))}`, 0));
  const more = x.entries.length - Math.min(x.entries.length, EXCLUDED_LINES) + (x.more ?? 0);
  if (more > 0) out.push(`  … ${plural(more, 'more excluded entry', 'more excluded entries')}`);
}

function pushNotes(out: string[], report: Report, fit: (s: string, indent: number) => string, width: number): void {
  if (!report.notes.length) return;
  out.push('', 'Notes:');
  const maxNotes = 20;
  for (const n of report.notes.slice(0, maxNotes)) {
    const [first = '', ...rest] = wrap(visible(n), width - 4);
    out.push(`  - ${first}`, ...rest.map((l) => `    ${l}`));
  }
  if (report.notes.length > maxNotes) out.push(`  … ${plural(report.notes.length - maxNotes, 'more note')}`);
}

/**
 * Whether to colour output on `stream`. FORCE_COLOR (non-empty, not `0`/`false`) always colours and wins
 * over NO_COLOR, as in Node itself; FORCE_COLOR=0 or `false` never colours; NO_COLOR (non-empty) never
 * colours; otherwise only a TTY whose TERM is not `dumb`.
 */
export function colorWanted(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  const force = env['FORCE_COLOR'];
  if (force !== undefined && force !== '') return force !== '0' && force.toLowerCase() !== 'false';
  const no = env['NO_COLOR'];
  if (no !== undefined && no !== '') return false;
  if (stream.isTTY !== true) return false;
  return env['TERM'] !== 'dumb';
}

/** 1536 -> `1.5 KiB`. */
export function humanBytes(n: number): string {
  if (!Number.isFinite(n) || n < 1024) return `${Math.max(0, Math.round(Number.isFinite(n) ? n : 0))} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i] ?? 'PiB'}`;
}

