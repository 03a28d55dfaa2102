/**
 * Baseline mode for nightly CI: compare this run's root findings with a previous report's. Findings are
 * matched by a stable key (format, path, field, kind), never by id or value, since values such as dates
 * change on every build. Only a root cause the baseline did not have makes the exit status 1.
 */
import { ReprodiffError } from '../errors.js';
import type { Finding, Report } from './types.js';
import { clip, fieldText, isAccepted, num, plural, shownValue } from './common.js';
import { jsonNames, mdCode, mdText, visible } from './escape.js';

export interface BaselineResult {
  /** root findings of this report whose key the baseline does not have (as often as it has them) */
  added: Finding[];
  /** root findings of the baseline whose key this report no longer has */
  gone: Finding[];
  /** root findings present in both */
  kept: number;
  /** 1 when a root cause appeared that is not accepted, else 0 */
  exitCode: 0 | 1;
}

/** The key two runs share for "the same difference": format, path, field and kind. */
export function baselineKey(f: Finding): string {
  // in the display form a saved report has (a byte that is not UTF-8 as \xNN), so both sides key alike
  return JSON.stringify([f.format, f.path, f.field, f.kind], jsonNames);
}

export function compareBaseline(report: Report, baseline: Report): BaselineResult {
  const roots = report.findings.filter((f) => f.root);
  const baseRoots = baseline.findings.filter((f) => f.root);
  const available = new Map<string, number>();
  for (const f of baseRoots) available.set(baselineKey(f), (available.get(baselineKey(f)) ?? 0) + 1);
  const added: Finding[] = [];
  const matched = new Map<string, number>();
  let kept = 0;
  for (const f of roots) {
    const k = baselineKey(f);
    const n = available.get(k) ?? 0;
    if (n > 0) {
      available.set(k, n - 1);
      matched.set(k, (matched.get(k) ?? 0) + 1);
      kept++;
    } else added.push(f);
  }
  const gone: Finding[] = [];
  for (const f of baseRoots) {
    const k = baselineKey(f);
    const n = matched.get(k) ?? 0;
    if (n > 0) matched.set(k, n - 1);
    else gone.push(f);
  }
  const exitCode = added.some((f) => !isAccepted(f)) ? 1 : 0;
  return { added, gone, kept, exitCode };
}

/**
 * Reads a baseline file (a previous `--json` report). Throws E_FORMAT when it is not JSON or not a
 * schemaVersion 1 report with a findings list; `name` names the file in the message.
 */
export function parseBaseline(text: string, name = 'baseline'): Report {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ReprodiffError('E_FORMAT', `not JSON: ${(e as Error).message}`, { file: name, structure: 'baseline report' });
  }
  const r = data as Partial<Report> | null;
  if (!r || typeof r !== 'object' || r.schemaVersion !== 1 || !Array.isArray(r.findings)) {
    throw new ReprodiffError('E_FORMAT', 'not a reprodiff report with schemaVersion 1 and a findings list', { file: name, structure: 'baseline report' });
  }
  for (const [i, f] of (r.findings as unknown[] as Partial<Finding>[]).entries()) {
    const ok =
      f && typeof f === 'object' && typeof f.path === 'string' && typeof f.format === 'string' && typeof f.kind === 'string' &&
      typeof f.root === 'boolean' && (f.field === null || typeof f.field === 'string');
    if (!ok) throw new ReprodiffError('E_FORMAT', `finding ${i} lacks path, format, field, kind or root`, { file: name, structure: 'baseline report' });
  }
  return r as Report;
}

export interface BaselineRenderOptions {
  /** `text` (terminal, default) or `markdown` */
  format?: 'text' | 'markdown';
  /** findings listed per list; default 50 */
  maxFindings?: number;
}

/** What is new and what disappeared since the baseline. */
export function renderBaseline(result: BaselineResult, opts: BaselineRenderOptions = {}): string {
  const md = opts.format === 'markdown';
  const max = opts.maxFindings ?? 50;
  const out: string[] = [];
  const summary = `Compared with the baseline: ${plural(result.added.length, 'new root cause')}, ${num(result.gone.length)} gone, ${num(result.kept)} unchanged.`;
  out.push(md ? `### Baseline\n\n${summary}` : summary);
  const list = (title: string, items: Finding[]): void => {
    if (!items.length) return;
    out.push('', md ? `**${title}** (${num(items.length)})` : `${title} (${num(items.length)}):`);
    if (md) out.push('');
    for (const f of items.slice(0, max)) {
      const acc = isAccepted(f) ? ' (accepted)' : '';
      if (md) {
        out.push(`- ${mdText(f.kind)}: ${mdCode(clip(f.path, 300))} · ${mdText(f.format)} · ${mdCode(fieldText(f))}: ${mdCode(clip(shownValue(f, 'a'), 200))} → ${mdCode(clip(shownValue(f, 'b'), 200))}${acc}`);
      } else {
        out.push(`  ${visible(f.kind)}  ${visible(f.path)}  ${visible(f.format)} ${visible(fieldText(f))}  ${visible(clip(shownValue(f, 'a'), 200))} → ${visible(clip(shownValue(f, 'b'), 200))}${acc}`);
      }
    }
    if (items.length > max) out.push(md ? `- and ${num(items.length - max)} more` : `  … and ${num(items.length - max)} more`);
  };
  list('New since the baseline', result.added);
  list('Gone since the baseline', result.gone);
  return out.join('\n') + '\n';
}
