import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTool, run } from '../helpers/tools.js';
import { makeReport, realisticReport } from '../fixtures/report/sample.js';
import { renderJunit } from '../../src/report/junit.js';
import { applyAccept, parseAccept } from '../../src/report/accept.js';
import { escapeXml } from '../../src/report/escape.js';
import { scratch } from '../helpers/tools.js';

const tmp = scratch('reprodiff-junit-');
afterAll(() => tmp.cleanup());

/** Evaluates an XPath expression with xmllint, which also refuses XML that is not well-formed. */
function xpath(xml: string, expr: string): string {
  const file = join(tmp.dir, 'report.xml');
  writeFileSync(file, xml);
  return run('xmllint', ['--xpath', expr, file]).trim();
}

describe('renderJunit', () => {
  it.skipIf(!hasTool('xmllint'))('one failing testcase per root finding, with the fix and the derived count', () => {
    const xml = renderJunit(realisticReport());
    expect(xpath(xml, 'count(//testsuite/testcase)')).toBe('9');
    expect(xpath(xml, 'count(//testcase/failure)')).toBe('9');
    expect(xpath(xml, 'string(/testsuites/@failures)')).toBe('9');
    expect(xpath(xml, 'string(//testcase[@name="/ gpt.header.disk_guid"]/@classname)')).toBe('reprodiff.random-id');
    const body = xpath(xml, 'string(//testcase[@name="/ gpt.header.disk_guid"]/failure)');
    expect(body).toContain('a:      5b7f6f3c-2a1e-4d55-9c0e-8f1a2b3c4d5e');
    expect(body).toContain('followed by 2 derived findings: checksum 2');
    expect(xpath(xml, 'string(//testcase[@name="/ pvd.creation_date"]/failure/@message)')).toBe('timestamp: 2026-11-22T06:45:17.00Z -> 2026-11-22T06:45:19.00Z');
  });

  it.skipIf(!hasTool('xmllint'))('one passing testcase when identical; accepted causes are skipped', () => {
    const same = renderJunit(makeReport([]));
    expect(xpath(same, 'count(//testcase)')).toBe('1');
    expect(xpath(same, 'count(//failure)')).toBe('0');
    const acc = renderJunit(applyAccept(realisticReport(), parseAccept('timestamp')));
    expect(xpath(acc, 'count(//testcase/skipped)')).toBe('4');
    expect(xpath(acc, 'count(//testcase/failure)')).toBe('5');
    expect(xpath(acc, 'string(/testsuites/@skipped)')).toBe('4');
  });

  it.skipIf(!hasTool('xmllint'))('escapes markup and characters XML 1.0 forbids, so the file stays well-formed', () => {
    const nasty = '/a<b>&"\'\x00\x01\x1b[2J\ufffe\ud800]]></x>.txt';
    const r = makeReport([
      { path: nasty, format: 'zip', field: null, kind: 'content', root: true, a: nasty, b: '\x07', detail: `-${nasty}\n+ok`, spans: [] },
      { path: nasty, format: 'zip', field: null, kind: 'content', root: true, a: 1, b: 2, spans: [] },
    ]);
    const xml = renderJunit(r);
    expect(xml).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe]/);
    const visible = '/a<b>&"\'\\x00\\x01\\x1b[2J\\ufffe\\ud800]]></x>.txt';
    expect(xpath(xml, 'string(//testcase[1]/@name)')).toBe(`${visible} (content)`);
    // repeated names get a stable suffix
    expect(xpath(xml, 'string(//testcase[2]/@name)')).toBe(`${visible} (content) #2`);
    expect(xpath(xml, 'string(//testcase[1]/failure)')).toContain(`-${visible}\n+ok`);
  });

  it('escapeXml handles surrogate pairs correctly', () => {
    expect(escapeXml('🙂')).toBe('🙂');
    expect(escapeXml('\ud83d')).toBe('\\ud83d');
    expect(escapeXml('a\tb')).toBe('a\\tb');
    // bidi overrides and C1 controls read as in the terminal report
    expect(escapeXml('evil\u202etxt.exe\u0085')).toBe('evil\\u202etxt.exe\\x85');
  });

  it('is deterministic', () => {
    expect(renderJunit(realisticReport())).toBe(renderJunit(realisticReport()));
  });
});
