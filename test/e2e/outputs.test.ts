/** Every output format for every sample pair, baseline and accept modes, through the CLI. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.js';
import { cli, SAMPLES } from '../helpers/cli.js';
import { scratch } from '../helpers/tools.js';

const PAIRS = ['basic', 'order', 'hybrid', 'uki'].map((name) => {
  const ext = name === 'uki' ? 'efi' : 'iso';
  return { name, a: `${SAMPLES}${name}-a.${ext}`, b: `${SAMPLES}${name}-b.${ext}` };
});

const w = scratch();
afterAll(w.cleanup);

describe.each(PAIRS)('$name pair', ({ name, a, b }) => {
  it('writes the terminal, JSON, Markdown, HTML and JUnit reports', () => {
    const out = (ext: string): string => join(w.dir, `${name}.${ext}`);
    const r = cli([a, b, '--json', out('json'), '--markdown', out('md'), '--html', out('html'), '--junit', out('xml'), '--github-summary', out('summary.md')]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^reprodiff: differs: \d+ root causes?/);
    const report = JSON.parse(readFileSync(out('json'), 'utf8')) as Report;
    const roots = report.findings.filter((f) => f.root);
    expect(roots.length).toBeGreaterThan(0);
    const md = readFileSync(out('md'), 'utf8');
    expect(md.length).toBeLessThanOrEqual(65_536);
    expect(md).toContain('<details>');
    const html = readFileSync(out('html'), 'utf8');
    expect(html).toMatch(/^<!DOCTYPE html>/i);
    expect(html).not.toMatch(/(src|href)=["']https?:/); // self-contained
    const xml = readFileSync(out('xml'), 'utf8');
    expect((xml.match(/<testcase /g) ?? []).length).toBe(roots.length);
    expect(existsSync(out('summary.md'))).toBe(true);
  });

  it('baseline mode exits 0 when nothing new appears', () => {
    const base = join(w.dir, `${name}-base.json`);
    expect(cli([a, b, '--json', base]).status).toBe(1);
    const again = cli([a, b, '--baseline', base]);
    expect(again.status, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toMatch(/0 new root causes/);
  });
});

describe('baseline and accept', () => {
  it('exits 1 when a root cause appears that the baseline did not have', () => {
    // the baseline knows the timestamps of the basic pair; the order pair brings an ordering and a random id
    const base = join(w.dir, 'planted-base.json');
    cli([`${SAMPLES}order-a.iso`, `${SAMPLES}order-b.iso`, '--json', base]);
    const report = JSON.parse(readFileSync(base, 'utf8')) as Report;
    // plant: drop the ordering root from the baseline, as if last night's build had none
    report.findings = report.findings.filter((f) => f.kind !== 'ordering');
    writeFileSync(base, JSON.stringify(report));
    const r = cli([`${SAMPLES}order-a.iso`, `${SAMPLES}order-b.iso`, '--baseline', base]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/1 new root cause/);
    expect(r.stdout).toMatch(/ordering/);
  });

  it('--accept of every kind present exits 0 and keeps the findings, marked', () => {
    const r = cli([`${SAMPLES}hybrid-a.iso`, `${SAMPLES}hybrid-b.iso`, '--accept', 'timestamp,random-id', '--json', '-']);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.findings.filter((f) => f.root).every((f) => f.accepted)).toBe(true);
  });

  it('a bad accept file is a usage error naming the line', () => {
    const p = join(w.dir, 'accept.txt');
    writeFileSync(p, '# ok\nkind=timestamp\nwhat=ever\n');
    const r = cli([`${SAMPLES}basic-a.iso`, `${SAMPLES}basic-b.iso`, '--accept-file', p]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/accept\.txt.*3/);
  });

  it('limits are flags: a nesting limit is named in the report, and what it left unopened counts as unexplained', () => {
    const r = cli([`${SAMPLES}uki-a.efi`, `${SAMPLES}uki-b.efi`, '--max-depth', '1', '--json', '-']);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.notes.some((n) => /limit maxDepth/.test(n))).toBe(true);
    const initrd = report.findings.find((f) => f.path === '/.initrd' && f.field === null);
    expect(initrd?.kind).toBe('unknown');
    expect(initrd?.detail).toMatch(/^not examined: .*nesting deeper than 1 levels/);
    expect(report.bytes.unexplained).toBeGreaterThan(0);
    expect(report.causes.unknown?.bytes).toBeGreaterThanOrEqual(report.bytes.unexplained);
    const bad = cli([`${SAMPLES}basic-a.iso`, `${SAMPLES}basic-b.iso`, '--max-depth', '0']);
    expect(bad.status).toBe(2);
  });

  it('the SOURCE_DATE_EPOCH marks which side follows it', () => {
    const r = cli([`${SAMPLES}order-a.iso`, `${SAMPLES}order-b.iso`, '--json', '-'], { SOURCE_DATE_EPOCH: '1700000000' });
    const report = JSON.parse(r.stdout) as Report;
    expect(report.sourceDateEpoch).toBe(1700000000);
    const t = report.findings.find((f) => f.root && f.kind === 'timestamp')!;
    expect(t.sourceDateEpoch).toEqual({ a: true, b: false });
    expect(t.detail).toMatch(/only the first build honours SOURCE_DATE_EPOCH/);
  });
});
