/**
 * A Markdown report to paste into a GitHub or GitLab issue: the verdict, a table of root causes with their
 * fix, the findings in collapsible `<details>` blocks per kind, details (text diffs, hex excerpts) in fenced
 * blocks. It never exceeds its budget (65,536 characters, GitHub's issue body limit): what does not fit is
 * left out and counted. Every string from the images is escaped so that it renders literally.
 */
import type { Finding, Report } from './types.js';
import { clip, digest, fieldText, isAccepted, kindCounts, num, plural, shownValue, verdict, type Digest } from './common.js';
import { mdCode, mdFenced, mdText } from './escape.js';

export interface MarkdownOptions {
  /** the most the report may be; default 65,536 (GitHub's issue body limit) */
  maxLength?: number;
  /** what maxLength counts: UTF-16 code units (`chars`, never fewer than GitHub's characters) or UTF-8 bytes */
  unit?: 'chars' | 'utf8';
  /** heading text (plain, escaped); default `reprodiff report` */
  title?: string;
  /** characters of one finding's detail shown; default 2,000 */
  maxDetailChars?: number;
  /** characters of one decoded value or path shown; default 300 */
  maxValueChars?: number;
}

export const GITHUB_ISSUE_LIMIT = 65_536;

/** Room kept for the closing line that counts what was left out. */
const TAIL_RESERVE = 400;

/** A collapsible block: a table of findings (one row each) and, after it, the details of those rows. */
interface Section {
  open: string;
  close: string;
  items: { row: string; tail?: string; roots: number; derived: number }[];
}

export function renderMarkdown(report: Report, opts: MarkdownOptions = {}): string {
  const limit = opts.maxLength ?? GITHUB_ISSUE_LIMIT;
  const measure = opts.unit === 'utf8' ? (s: string) => Buffer.byteLength(s, 'utf8') : (s: string) => s.length;
  const maxValue = opts.maxValueChars ?? 300;
  const maxDetail = opts.maxDetailChars ?? 2_000;
  const d = digest(report);

  const head = renderHead(report, d, opts.title ?? 'reprodiff report', maxValue);
  const sections = renderSections(report, d, maxValue, maxDetail);

  const parts: string[] = [head];
  let used = measure(head) + 1;
  let leftRoots = 0;
  let leftDerived = 0;
  let full = false;
  for (const s of sections) {
    // open, rows, tails and close are joined by newlines, and sections by a blank line
    const fixed = measure(s.open) + measure(s.close) + 6;
    let rows: string[] | null = null;
    const tails: string[] = [];
    for (const item of s.items) {
      const cost = measure(item.row) + 1 + (item.tail === undefined ? 0 : measure(item.tail) + 2);
      const need = used + cost + (rows ? 0 : fixed) + TAIL_RESERVE;
      if (full || need > limit) {
        full = true;
        leftRoots += item.roots;
        leftDerived += item.derived;
        continue;
      }
      if (!rows) {
        rows = [];
        used += fixed;
      }
      rows.push(item.row);
      if (item.tail !== undefined) tails.push(item.tail);
      used += cost;
    }
    if (rows) parts.push(s.open + '\n' + rows.join('\n') + (tails.length ? '\n\n' + tails.join('\n\n') : '') + '\n' + s.close);
  }
  if (leftRoots || leftDerived) {
    const what = [leftRoots ? plural(leftRoots, 'root finding') : '', leftDerived ? plural(leftDerived, 'derived finding') : '']
      .filter(Boolean)
      .join(' and ');
    const unit = opts.unit === 'utf8' ? 'bytes' : 'characters';
    parts.push(`**Left out:** ${what}, to stay within ${num(limit)} ${unit}. The JSON report has every finding.`);
  }
  let text = parts.join('\n\n') + '\n';
  // The head is bounded (at most 14 kinds, clipped inputs and notes); a budget smaller than it is cut hard.
  if (measure(text) > limit) text = hardCut(text, limit, measure);
  return text;
}

/** Last resort for absurdly small budgets: cut at a line boundary and say so. */
function hardCut(text: string, limit: number, measure: (s: string) => number): string {
  const note = '\n\n(report cut to fit its size limit)\n';
  const lines = text.split('\n');
  let out = '';
  for (const line of lines) {
    if (measure(out + line + '\n') + measure(note) > limit) break;
    out += line + '\n';
  }
  return measure(out + note) <= limit ? out + note : out;
}

function renderHead(report: Report, d: Digest, title: string, maxValue: number): string {
  const out: string[] = [];
  out.push(`## ${mdText(title)}`, '', `**${report.identical ? 'Identical' : 'Differs'}** — ${verdict(report, d)}`, '');
  if (report.inputs.length) {
    out.push('| side | file | size | sha256 |', '|---|---|---:|---|');
    for (const [i, input] of report.inputs.entries()) {
      const side = i === 0 ? 'a' : i === 1 ? 'b' : String(i + 1);
      const sha = input.sha256 ? mdCode(input.sha256, { table: true }) : '—';
      out.push(`| ${side} | ${mdCode(clipMiddle(input.path, maxValue), { table: true })} | ${num(input.size)} | ${sha} |`);
    }
    out.push('');
  }
  if (!report.identical && report.mode !== 'lint') {
    const b = report.bytes;
    out.push(`Differing bytes: ${num(b.differing)}, explained: ${num(b.explained)}, unexplained: ${num(b.unexplained)}.`, '');
  }
  if (d.groups.length) {
    out.push('### Root causes', '', '| kind | findings | bytes | how to fix |', '|---|---:|---:|---|');
    for (const g of d.groups) {
      const hints = g.hints.slice(0, 3).map((h) => mdText(clip(h, 300)));
      if (g.hints.length > 3) hints.push(`and ${plural(g.hints.length - 3, 'other hint')}`);
      out.push(`| ${g.kind} | ${num(g.findings.length)} | ${num(g.bytes)} | ${hints.join('<br>') || '—'} |`);
    }
    out.push('');
  }
  if (d.accepted.length) out.push(`Accepted, not counted: ${plural(d.accepted.length, 'root cause')} (${kindCounts(d.accepted)}).`, '');
  if (report.notes.length) {
    out.push('### Notes', '');
    for (const n of report.notes.slice(0, 20)) out.push(`- ${mdText(clip(n, 500))}`);
    if (report.notes.length > 20) out.push(`- and ${plural(report.notes.length - 20, 'more note')}`);
    out.push('');
  }
  return out.join('\n').replace(/\n+$/, '');
}

function renderSections(report: Report, d: Digest, maxValue: number, maxDetail: number): Section[] {
  const sections: Section[] = [];
  const close = '\n</details>';
  const rule = '|---|---|---|---|---|---|---|';
  for (const g of d.groups) {
    const derivedCount = g.findings.reduce((n, f) => n + (d.derivedByCause.get(f.id)?.length ?? 0), 0);
    const extra = derivedCount ? `, ${plural(derivedCount, 'derived finding')}` : '';
    sections.push({
      open: `<details><summary><b>${g.kind}</b>: ${plural(g.findings.length, 'root finding')}${extra}</summary>\n\n| id | path | format | field | a | b | followed by |\n${rule}`,
      close,
      items: g.findings.map((f) => {
        const derived = d.derivedByCause.get(f.id) ?? [];
        const follow = derived.length ? `${num(derived.length)}: ${kindCounts(derived)}` : '—';
        return { row: row(f, maxValue, follow), tail: detailBlock(f, maxValue, maxDetail), roots: 1, derived: 0 };
      }),
    });
  }
  // Derived findings, by kind, each naming its cause.
  const derivedByKind = new Map<string, Finding[]>();
  for (const f of d.derived) {
    if (isAccepted(f)) continue;
    let list = derivedByKind.get(f.kind);
    if (!list) derivedByKind.set(f.kind, (list = []));
    list.push(f);
  }
  for (const [kind, list] of [...derivedByKind.entries()].sort((x, y) => y[1].length - x[1].length || (x[0] < y[0] ? -1 : 1))) {
    sections.push({
      open: `<details><summary>Derived: <b>${kind}</b> (${num(list.length)})</summary>\n\n| id | path | format | field | a | b | caused by |\n${rule}`,
      close,
      items: list.map((f) => {
        const causes = f.causedBy.filter((id) => d.byId.has(id));
        const shown = causes.slice(0, 5).map((id) => {
          const c = d.byId.get(id);
          return c ? `${mdCode(c.id, { table: true })} ${c.kind}` : mdCode(id, { table: true });
        });
        if (causes.length > 5) shown.push(`and ${num(causes.length - 5)} more`);
        return { row: row(f, maxValue, shown.join(', ') || 'not recorded'), tail: detailBlock(f, maxValue, maxDetail), roots: 0, derived: 1 };
      }),
    });
  }
  const accepted = report.findings.filter(isAccepted);
  if (accepted.length) {
    sections.push({
      open: `<details><summary>Accepted (${num(accepted.length)}, not counted)</summary>\n\n| id | path | format | field | a | b | kind |\n${rule}`,
      close,
      items: accepted.map((f) => ({ row: row(f, maxValue, `${f.kind}${f.root ? '' : ' (derived)'}`), roots: f.root ? 1 : 0, derived: f.root ? 0 : 1 })),
    });
  }
  return sections;
}

/** One finding as a table row; `last` is the last cell, already Markdown. */
function row(f: Finding, maxValue: number, last: string): string {
  const cell = (s: string): string => mdCode(s, { table: true });
  const conf = f.confidence !== undefined ? ` (confidence ${Math.round(f.confidence * 100)}%)` : '';
  return `| ${cell(f.id)} | ${cell(clipMiddle(f.path, maxValue))} | ${f.format} | ${cell(fieldText(f))} | ${cell(clip(shownValue(f, 'a'), maxValue))} | ${cell(clip(shownValue(f, 'b'), maxValue))} | ${last}${conf} |`;
}

/** A finding's detail (text diff, hex excerpt) in a fenced block, under a line naming the finding. */
function detailBlock(f: Finding, maxValue: number, maxDetail: number): string | undefined {
  if (!f.detail || maxDetail <= 0) return undefined;
  const cps = Array.from(f.detail);
  const shown = cps.length > maxDetail ? cps.slice(0, maxDetail).join('') : f.detail;
  let text = `${mdCode(f.id)} ${mdCode(clipMiddle(f.path, maxValue))} ${mdCode(fieldText(f))}:\n\n${mdFenced(shown, 'text')}`;
  if (cps.length > maxDetail) text += `\n\n(${plural(cps.length - maxDetail, 'more character')} of detail in the JSON report)`;
  return text;
}
/** Keeps the start and the end of a long string (paths are told apart by both). */
function clipMiddle(s: string, max: number): string {
  const cps = Array.from(s);
  if (cps.length <= max) return s;
  const keep = Math.max(2, max - 1);
  const head = Math.ceil(keep / 2);
  return cps.slice(0, head).join('') + '…' + cps.slice(cps.length - (keep - head)).join('');
}
