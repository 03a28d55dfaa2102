/**
 * A Markdown report to paste into a GitHub or GitLab issue: the verdict, what to fix (one line per tool),
 * then per fix group its fix and a visible table of its root findings; the derived findings and the details
 * (text diffs, hex excerpts, in fenced blocks) of each group folded in a `<details>` block after it. It never exceeds its budget (65,536 characters, GitHub's issue body limit): what does not fit is
 * left out and counted. Every string from the images is escaped so that it renders literally.
 */
import type { Finding, Report } from './types.js';
import { clip, derivedCount, digest, excludedSummary, fieldText, findingCount, isAccepted, kindCounts, num, plural, shownValue, timeoutSummary, verdict, type Digest } from './common.js';
import { mdCode, mdFenced, mdText } from './escape.js';
import { fixGroups } from './fixes.js';

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

/** A block of the report: fixed text around rows that the budget may leave out, one by one from the end. */
interface Section {
  open: string;
  close: string;
  items: { row: string; tail?: string; roots: number; derived: number }[];
  /** what the block stands for when none of its rows fit; omitted when it is left out whole */
  group: number;
}

export function renderMarkdown(report: Report, opts: MarkdownOptions = {}): string {
  const limit = opts.maxLength ?? GITHUB_ISSUE_LIMIT;
  const measure = opts.unit === 'utf8' ? (s: string) => Buffer.byteLength(s, 'utf8') : (s: string) => s.length;
  const maxValue = opts.maxValueChars ?? 300;
  const maxDetail = opts.maxDetailChars ?? 2_000;
  const d = digest(report);

  const head = renderHead(report, d, opts.title ?? 'reprodiff report', maxValue);
  const { visible: rootSections, folded } = renderSections(report, d, maxValue, maxDetail);

  // The budget goes first to every fix group and its root findings, then to what is folded away (derived
  // findings, details, accepted ones); the blocks are then written in reading order.
  let used = measure(head) + 1;
  let leftRoots = 0;
  let leftDerived = 0;
  const kept = new Map<Section, string>();
  for (const [pi, pass] of [rootSections, folded].entries()) {
    let full = false;
    for (const [si, s] of pass.entries()) {
      // root findings go in order until the budget ends; folded blocks share what is left, each taking at
      // most an even part of it (what one leaves unused goes to those after it)
      const cap = pi === 0 ? limit : used + TAIL_RESERVE + Math.floor((limit - used - TAIL_RESERVE) / (pass.length - si));
      // open, rows, tails and close are joined by newlines, and blocks by a blank line
      const fixed = measure(s.open) + measure(s.close) + 6;
      let rows: string[] | null = null;
      const tails: string[] = [];
      let stop = false;
      for (const item of s.items) {
        const cost = (item.row === '' ? 0 : measure(item.row) + 1) + (item.tail === undefined ? 0 : measure(item.tail) + 2);
        const need = used + cost + (rows ? 0 : fixed) + TAIL_RESERVE;
        if (full || stop || need > cap) {
          if (pi === 0) full = true;
          else stop = true;
          leftRoots += item.roots;
          leftDerived += item.derived;
          continue;
        }
        if (!rows) {
          rows = [];
          used += fixed;
        }
        if (item.row !== '') rows.push(item.row);
        if (item.tail !== undefined) tails.push(item.tail);
        used += cost;
      }
      if (rows) kept.set(s, s.open + (rows.length ? '\n' + rows.join('\n') : '') + (tails.length ? '\n\n' + tails.join('\n\n') : '') + s.close);
    }
  }
  const parts: string[] = [head];
  const order = [...rootSections, ...folded].sort((x, y) => x.group - y.group);
  for (const s of order) {
    const text = kept.get(s);
    if (text !== undefined) parts.push(text);
  }
  if (leftRoots || leftDerived) {
    const what = [leftRoots ? plural(leftRoots, 'root finding') : '', leftDerived ? plural(leftDerived, 'derived finding') : '']
      .filter(Boolean)
      .join(' and ');
    const unit = opts.unit === 'utf8' ? 'bytes' : 'characters';
    parts.push(`**Left out:** ${what}, to stay within ${num(limit)} ${unit}. The JSON report has every finding.`);
  }
  let text = parts.join('\n\n') + '\n';
  // The head is bounded (clipped inputs, fix lines and notes); a budget smaller than it is cut hard.
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

/**
 * Prose that may hold code spans (a fix such as "add `-volume_date all_file_dates =$SOURCE_DATE_EPOCH`"):
 * the text between backticks becomes a code span holding it literally (with as many backticks as it
 * needs), the rest is escaped as inline text. A lone backtick is text.
 */
export function mdProse(s: string): string {
  const out: string[] = [];
  let rest = s;
  for (;;) {
    const m = /`([^`]+)`/.exec(rest);
    if (!m) break;
    out.push(mdText(rest.slice(0, m.index)), mdCode(m[1] ?? ''));
    rest = rest.slice(m.index + m[0].length);
  }
  out.push(mdText(rest));
  return out.join('');
}

function renderHead(report: Report, d: Digest, title: string, maxValue: number): string {
  const out: string[] = [];
  const v = verdict(report, d).replace(/^differs: /, '');
  out.push(`## ${mdText(title)}`, '', report.identical ? '**Identical**: the two builds are byte for byte the same.' : `**Differs:** ${v}`, '');
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
    const excluded = b.excluded !== undefined ? `, excluded: ${num(b.excluded)}` : '';
    out.push(`Differing bytes: ${num(b.differing)}, explained: ${num(b.explained)}, unexplained: ${num(b.unexplained)}${excluded}.`, '');
  }
  const cut = timeoutSummary(report);
  if (cut) out.push(`**${mdText(cut)}.**`, '');
  const excludedLine = excludedSummary(report);
  if (excludedLine && report.excluded) {
    out.push('### Excluded', '', `${mdText(excludedLine)}.`, '');
    const x = report.excluded;
    if (x.entries.length) {
      out.push('| path | format | by | bytes |', '|---|---|---|---:|');
      for (const e of x.entries.slice(0, 20)) {
        const by = e.findings !== undefined ? `${mdText(e.by)} (${plural(e.findings, 'finding')})` : mdCode(e.by, { table: true });
        out.push(`| ${mdCode(clipMiddle(e.path, maxValue), { table: true })} | ${mdText(e.format)} | ${by} | ${num(e.bytes)} |`);
      }
      const more = x.entries.length - Math.min(20, x.entries.length) + (x.more ?? 0);
      if (more > 0) out.push('', `and ${plural(more, 'more excluded entry', 'more excluded entries')} (the JSON report lists up to 1,000).`);
      out.push('');
    }
  }
  const groups = fixGroups(report);
  if (groups.length) {
    const n = groups.reduce((k, g) => k + g.findings.length, 0);
    out.push(`### What to fix`, '', `${plural(groups.length, 'change')} for ${plural(n, 'root cause')}; each is given below with every finding it removes:`, '');
    for (const [i, g] of groups.entries()) {
      const derived = derivedCount(d, g.findings);
      out.push(`${i + 1}. **${mdText(clip(g.tool, 200))}**: ${plural(g.findings.length, 'root cause')}${derived ? `, ${plural(derived, 'derived finding')}` : ''}`);
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

/**
 * The blocks after the head: per fix group, a heading, its fix and a table of its root findings (visible),
 * then a collapsed block with the derived findings that follow from them and the details (hex, text diffs);
 * then collapsed blocks for derived findings without a cause in the report and for accepted findings.
 */
function renderSections(report: Report, d: Digest, maxValue: number, maxDetail: number): { visible: Section[]; folded: Section[] } {
  const visibleSecs: Section[] = [];
  const folded: Section[] = [];
  const close = '\n\n</details>';
  const rootHead = '| id | path | format | field | a | b | kind |\n|---|---|---|---|---|---|---|';
  const derivedHead = '| id | path | format | field | a | b | caused by |\n|---|---|---|---|---|---|---|';
  const groups = fixGroups(report);
  let group = 0;
  for (const [i, g] of groups.entries()) {
    const derived = g.findings.flatMap((f) => (d.derivedByCause.get(f.id) ?? []).filter((x) => !isAccepted(x)));
    const extra = derived.length ? `, ${plural(findingCount(derived), 'derived finding')}` : '';
    visibleSecs.push({
      open: `### ${i + 1}. ${mdText(g.tool)}: ${plural(g.findings.length, 'root cause')}${extra}\n\n**Fix:** ${mdProse(clip(g.fix, 1_000))}\n\n${rootHead}`,
      close: '',
      group: group++,
      items: g.findings.map((f) => {
        const follow = findingCount(d.derivedByCause.get(f.id));
        return { row: row(f, maxValue, `${f.kind}${follow ? ` (+${num(follow)} derived)` : ''}`), roots: 1, derived: 0 };
      }),
    });
    const items: Section['items'] = derived.map((f) => ({ row: row(f, maxValue, causeCell(f, d)), roots: 0, derived: 1 }));
    // the readers' own hints, where they say more than the group's fix, then the details, each after the table
    const hints = g.findings.filter((f) => f.hint && f.hint !== g.fix).map((f) => `${mdCode(f.id)} ${mdCode(clipMiddle(f.path, maxValue))}: ${mdProse(clip(f.hint ?? '', 1_000))}`);
    const details = [...g.findings, ...derived].map((f) => detailBlock(f, maxValue, maxDetail)).filter((t): t is string => t !== undefined);
    if (items.length || hints.length || details.length) {
      const what = [derived.length ? plural(findingCount(derived), 'derived finding') : '', hints.length ? plural(hints.length, 'hint') : '', details.length ? plural(details.length, 'detail') : '']
        .filter(Boolean)
        .join(', ');
      folded.push({
        open: `<details><summary>${mdText(clip(g.tool, 200))}: ${what}</summary>${items.length ? `\n\n${derivedHead}` : ''}`,
        close,
        group: group++,
        items: [
          ...items,
          ...(hints.length ? [{ row: '', tail: hints.join('\n\n'), roots: 0, derived: 0 }] : []),
          ...details.map((t) => ({ row: '', tail: t, roots: 0, derived: 0 })),
        ],
      });
    }
  }
  const inGroups = new Set(groups.flatMap((g) => g.findings.map((f) => f.id)));
  const rest = d.derived.filter((f) => !isAccepted(f) && !f.causedBy.some((id) => inGroups.has(id) && d.derivedByCause.get(id)?.includes(f)));
  if (rest.length) {
    folded.push({
      open: `<details><summary>Other derived findings (${num(findingCount(rest))}: ${kindCounts(rest)})</summary>\n\n${derivedHead}`,
      close,
      group: group++,
      items: rest.map((f) => ({ row: row(f, maxValue, causeCell(f, d)), tail: detailBlock(f, maxValue, maxDetail), roots: 0, derived: 1 })),
    });
  }
  const accepted = report.findings.filter(isAccepted);
  if (accepted.length) {
    folded.push({
      open: `<details><summary>Accepted (${num(accepted.length)}, not counted)</summary>\n\n${rootHead}`,
      close,
      group: group++,
      items: accepted.map((f) => ({ row: row(f, maxValue, `${f.kind}${f.root ? '' : ' (derived)'}`), roots: f.root ? 1 : 0, derived: f.root ? 0 : 1 })),
    });
  }
  return { visible: visibleSecs, folded };
}

/** The causes of a derived finding, as a table cell. */
function causeCell(f: Finding, d: Digest): string {
  const causes = f.causedBy.filter((id) => d.byId.has(id));
  const shown = causes.slice(0, 5).map((id) => {
    const c = d.byId.get(id);
    return c ? `${mdCode(c.id, { table: true })} ${c.kind}` : mdCode(id, { table: true });
  });
  if (causes.length > 5) shown.push(`and ${num(causes.length - 5)} more`);
  return `${f.kind} from ${shown.join(', ') || 'not recorded'}`;
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
