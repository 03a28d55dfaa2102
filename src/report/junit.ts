/**
 * JUnit XML for CI test widgets (GitLab's merge-request test report, Jenkins): one failing testcase per
 * root finding, a skipped one per accepted root finding, one passing testcase when the images are
 * identical. All text is XML-escaped, with characters XML 1.0 forbids made visible.
 */
import type { Finding, Report } from './types.js';
import { clip, digest, excludedEntryText, fieldText, findingCount, isAccepted, kindCounts, onlyExcluded, plural, shownValue, verdict } from './common.js';
import { escapeXml, escapeXmlText } from './escape.js';

export interface JunitOptions {
  /** testsuite name; default `reprodiff` */
  suite?: string;
  /** characters of a finding's detail kept in the failure body; default 4,000 */
  maxDetailChars?: number;
}

export function renderJunit(report: Report, opts: JunitOptions = {}): string {
  const d = digest(report);
  const suite = opts.suite ?? 'reprodiff';
  const maxDetail = opts.maxDetailChars ?? 4_000;
  const inputs = report.inputs.map((i) => i.path).join(' vs ');
  const cases: string[] = [];
  let failures = 0;
  let skipped = 0;
  const roots = report.findings.filter((f) => f.root);
  if (report.identical || onlyExcluded(report)) {
    const what = report.identical ? 'identical' : 'no difference outside what is excluded';
    cases.push(`    <testcase classname="${escapeXml(suite)}" name="${escapeXml(`${what}: ${inputs}`)}"/>`);
  } else if (roots.length === 0) {
    failures++;
    cases.push(
      `    <testcase classname="${escapeXml(suite)}" name="${escapeXml(`differs: ${inputs}`)}">\n` +
        `      <failure type="differs" message="${escapeXml(verdict(report, d))}"/>\n    </testcase>`,
    );
  } else {
    // Names stay stable from run to run (no ids or values), so CI can tell new failures from old ones;
    // a repeated name gets ` #2`, ` #3`.
    const seen = new Map<string, number>();
    for (const f of roots) {
      const base = `${f.path} ${fieldText(f)}`;
      const n = (seen.get(`${f.kind}\0${base}`) ?? 0) + 1;
      seen.set(`${f.kind}\0${base}`, n);
      const name = n > 1 ? `${base} #${n}` : base;
      const attrs = `classname="${escapeXml(`${suite}.${f.kind}`)}" name="${escapeXml(name)}"`;
      if (isAccepted(f)) {
        skipped++;
        cases.push(`    <testcase ${attrs}>\n      <skipped message="accepted"/>\n    </testcase>`);
        continue;
      }
      failures++;
      const message = `${f.kind}: ${clip(shownValue(f, 'a'), 200)} -> ${clip(shownValue(f, 'b'), 200)}`;
      cases.push(
        `    <testcase ${attrs}>\n      <failure type="${escapeXml(f.kind)}" message="${escapeXml(message)}">` +
          escapeXmlText(body(f, d.derivedByCause.get(f.id) ?? [], maxDetail)) +
          `</failure>\n    </testcase>`,
      );
    }
  }
  // what --exclude left out: one skipped test case each, so a widget shows it was not compared
  for (const e of report.excluded?.entries ?? []) {
    skipped++;
    cases.push(`    <testcase classname="${escapeXml(`${suite}.excluded`)}" name="${escapeXml(e.path)}">\n      <skipped message="${escapeXml(`excluded: ${excludedEntryText(e)}`)}"/>\n    </testcase>`);
  }
  const tests = cases.length;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<testsuites name="${escapeXml(suite)}" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}">\n` +
    `  <testsuite name="${escapeXml(`${suite}: ${inputs}`)}" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}">\n` +
    cases.join('\n') +
    `\n  </testsuite>\n</testsuites>\n`
  );
}

function body(f: Finding, derived: Finding[], maxDetail: number): string {
  const lines = [
    `path:   ${f.path}`,
    `format: ${f.format}`,
    `field:  ${fieldText(f)}`,
    `a:      ${clip(shownValue(f, 'a'), 1_000)}`,
    `b:      ${clip(shownValue(f, 'b'), 1_000)}`,
  ];
  if (f.hint) lines.push(`fix:    ${f.hint}`);
  if (derived.length) lines.push(`followed by ${plural(findingCount(derived), 'derived finding')}: ${kindCounts(derived)}`);
  if (f.detail) lines.push('', clip(f.detail, maxDetail));
  return lines.join('\n');
}
