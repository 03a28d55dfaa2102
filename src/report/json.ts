/** The JSON report: stable key order and two-space indentation, so the same inputs give the same bytes. */
import type { Finding, Report } from './types.js';

export function renderJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
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
      const s = JSON.stringify(f, null, 2);
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
