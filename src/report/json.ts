/** The JSON report: stable key order and two-space indentation, so the same inputs give the same bytes. */
import type { Finding, Report } from './types.js';
import { ReprodiffError } from '../errors.js';
import { jsonNames } from './escape.js';

export function renderJson(report: Report): string {
  return `${JSON.stringify(report, jsonNames, 2)}\n`;
}

/**
 * What a JSON report cut to a size left out (the report's `omitted` member): the size it was cut to, the
 * number of findings whose `detail` (hex excerpt, text diff) was dropped, and the findings left out.
 */
export type Omitted = NonNullable<Report['omitted']>;

/** The JSON report within `maxBytes`, and whether it fits (a report without findings can still be larger). */
export interface SizedJson {
  text: string;
  omitted?: Omitted;
  fits: boolean;
}

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * The JSON report in at most `maxBytes` UTF-8 bytes. A report that fits is returned as renderJson writes it,
 * byte for byte. A larger one leaves out, in this order, until it fits: the details of derived findings,
 * the details of root findings, derived findings (from the last), root findings (from the last). `bytes` and
 * `causes` stay as they are, so the totals still count every finding, and the report says what it left out:
 * an `omitted` member and a note. Ids are not renumbered, so a kept finding's `causedBy` may name one left out.
 */
export function renderJsonWithin(report: Report, maxBytes: number): SizedJson {
  const full = renderJson(report);
  if (utf8(full) <= maxBytes) return { text: full, fits: true };

  let findings: Finding[] = report.findings.slice();
  const omitted: Omitted = { maxReportSize: maxBytes, details: 0, derivedFindings: 0, rootFindings: 0 };
  /** findings whose detail was dropped; `omitted.details` counts those still in the report */
  const stripped = new Set<Finding>();
  const render = (): string => {
    omitted.details = findings.reduce((n, f) => n + (stripped.has(f) ? 1 : 0), 0);
    const what: string[] = [];
    if (omitted.details) what.push(`the details of ${omitted.details} findings`);
    if (omitted.derivedFindings) what.push(`${omitted.derivedFindings} derived findings`);
    if (omitted.rootFindings) what.push(`${omitted.rootFindings} root findings`);
    const note = `this JSON report was cut to fit --max-report-size ${maxBytes}: it leaves out ${what.join(', ') || 'nothing'}; bytes and causes still count every finding`;
    return renderJson({ ...report, findings, notes: [...report.notes, note], omitted });
  };
  const dropDetails = (root: boolean): void => {
    findings = findings.map((f) => {
      if (f.root !== root || f.detail === undefined) return f;
      const { detail: _detail, ...rest } = f;
      stripped.add(rest);
      return rest;
    });
  };
  /** Drops findings of one role from the end until the report fits, sizing each as renderJson writes it. */
  const dropFindings = (root: boolean): string => {
    let text = render();
    let over = utf8(text) - maxBytes;
    // A finding in the list takes its JSON indented by four spaces, plus `,\n`.
    const size = (f: Finding): number => {
      const s = JSON.stringify(f, jsonNames, 2);
      return utf8(s) + 4 * (s.split('\n').length) + 2;
    };
    const keep = new Set(findings);
    for (let i = findings.length - 1; i >= 0 && over > 0; i--) {
      const f = findings[i]!;
      if (f.root !== root) continue;
      keep.delete(f);
      over -= size(f);
      if (root) omitted.rootFindings++;
      else omitted.derivedFindings++;
    }
    findings = findings.filter((f) => keep.has(f));
    text = render();
    // the note grew by a digit or two: drop one more until it fits
    for (let i = findings.length - 1; i >= 0 && utf8(text) > maxBytes; i--) {
      if (findings[i]!.root !== root) continue;
      findings.splice(i, 1);
      if (root) omitted.rootFindings++;
      else omitted.derivedFindings++;
      text = render();
    }
    return text;
  };

  dropDetails(false);
  let text = render();
  if (utf8(text) > maxBytes) {
    dropDetails(true);
    text = render();
  }
  if (utf8(text) > maxBytes) text = dropFindings(false);
  if (utf8(text) > maxBytes) text = dropFindings(true);
  return { text, omitted, fits: utf8(text) <= maxBytes };
}

/**
 * A saved JSON report, read back for `reprodiff render`: checked to be a reprodiff report of schemaVersion 1
 * with the members the presenters read, so a wrong or damaged file is said plainly (E_USAGE, exit 2) rather
 * than rendered half. Values are taken as they are, so a presenter writes what it wrote in the live run.
 */
export function parseReport(text: string, file: string): Report {
  const bad = (why: string): never => {
    throw new ReprodiffError('E_USAGE', `not a reprodiff JSON report: ${why}`, { file });
  };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return bad(`invalid JSON (${(e as Error).message.replace(/\s+/g, ' ')})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('the top level is not an object');
  const r = v as Record<string, unknown>;
  if (r.schemaVersion !== 1) {
    return bad(r.schemaVersion === undefined ? 'it has no schemaVersion' : `schemaVersion ${JSON.stringify(r.schemaVersion)} is not one this reprodiff reads (it reads 1)`);
  }
  const tool = r.tool as Record<string, unknown> | undefined;
  if (typeof tool !== 'object' || tool === null || tool.name !== 'reprodiff' || typeof tool.version !== 'string') return bad('"tool" is not {name: "reprodiff", version}');
  if (typeof r.identical !== 'boolean') return bad('"identical" is not a boolean');
  const bytes = r.bytes as Record<string, unknown> | undefined;
  if (typeof bytes !== 'object' || bytes === null || !['differing', 'explained', 'unexplained'].every((k) => typeof bytes[k] === 'number')) return bad('"bytes" lacks differing, explained or unexplained');
  if (typeof r.causes !== 'object' || r.causes === null || Array.isArray(r.causes)) return bad('"causes" is not an object');
  if (!Array.isArray(r.inputs) || !r.inputs.every((i) => typeof i === 'object' && i !== null && typeof (i as Record<string, unknown>).path === 'string' && typeof (i as Record<string, unknown>).size === 'number')) {
    return bad('"inputs" is not a list of {path, size, sha256}');
  }
  if (r.notes !== undefined && !(Array.isArray(r.notes) && r.notes.every((n) => typeof n === 'string'))) return bad('"notes" is not a list of strings');
  if (!Array.isArray(r.findings)) return bad('"findings" is not a list');
  for (const [i, f] of (r.findings as unknown[]).entries()) {
    const g = f as Record<string, unknown>;
    const ok =
      typeof g === 'object' && g !== null &&
      typeof g.id === 'string' && typeof g.path === 'string' && typeof g.format === 'string' && typeof g.kind === 'string' &&
      (g.field === null || typeof g.field === 'string') && typeof g.root === 'boolean' &&
      Array.isArray(g.causedBy) && g.causedBy.every((c) => typeof c === 'string') && Array.isArray(g.spans) &&
      (g.hint === undefined || typeof g.hint === 'string') && (g.detail === undefined || typeof g.detail === 'string');
    if (!ok) return bad(`finding ${i + 1} lacks id, path, format, field, kind, root, causedBy or spans`);
  }
  if (r.fixes !== undefined && !Array.isArray(r.fixes)) return bad('"fixes" is not a list');
  const x = r.excluded as Record<string, unknown> | undefined;
  if (x !== undefined) {
    const entriesOk = Array.isArray(x?.entries) && x.entries.every((e) => typeof e === 'object' && e !== null && typeof (e as Record<string, unknown>).path === 'string' && typeof (e as Record<string, unknown>).bytes === 'number' && typeof (e as Record<string, unknown>).by === 'string');
    if (typeof x !== 'object' || x === null || !Array.isArray(x.patterns) || typeof x.directoryMetadata !== 'string' || !entriesOk) return bad('"excluded" is not {patterns, directoryMetadata, entries: [{path, format, by, bytes}]}');
  }
  if (r.timedOut !== undefined && typeof (r.timedOut as Record<string, unknown> | null)?.seconds !== 'number') return bad('"timedOut" is not {seconds}');
  if (r.notes === undefined) r.notes = [];
  return r as unknown as Report;
}
