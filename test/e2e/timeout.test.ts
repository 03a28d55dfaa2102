/**
 * --timeout: the run stops cleanly. What was compared is reported, every requested report is written, what was
 * left is named by unknown findings with its bytes and counted as unexplained, exit 1, and stderr says so.
 * The pairs are tar archives made by GNU tar from trees written here: one large enough that a 1 s limit is
 * reached on any machine, and one small, cut after a known number of entries.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../src/compare/account.js';
import { compareFiles } from '../../src/compare/run.js';
import { Deadline } from '../../src/limits.js';
import type { Report } from '../../src/report/types.js';
import { cli, ROOT } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schema/report.schema.json'), 'utf8')) as object);
const w = scratch();
afterAll(w.cleanup);

/** A tree of `n` small files in folders of 1,000, and two tar archives of it: B with one more file first, so every member moves. */
function tarPair(name: string, n: number): { a: string; b: string } {
  const t = join(w.dir, `${name}-tree`);
  for (let i = 0; i < n; i++) {
    const d = join(t, `d${String(Math.floor(i / 1000)).padStart(3, '0')}`);
    if (i % 1000 === 0) mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `f${i}.txt`), `file ${i}\n`);
  }
  const a = join(w.dir, `${name}-a.tar`);
  const b = join(w.dir, `${name}-b.tar`);
  run('tar', ['cf', a, '--sort=name', '--owner=0', '--group=0', '--mtime=@1700000000', '-C', t, '.']);
  writeFileSync(join(t, '0-first.txt'), 'only in the second build\n');
  run('tar', ['cf', b, '--sort=name', '--owner=0', '--group=0', '--mtime=@1700003600', '-C', t, '.']);
  return { a, b };
}

/** Differing bytes inside the findings' outer spans of side a, over the length both files have. */
function differingInSpans(report: Report, ids: Set<string>, fa: Buffer, fb: Buffer): number {
  const common = Math.min(fa.length, fb.length);
  const marks = new Uint8Array(common);
  for (const f of report.findings) {
    if (!ids.has(f.id)) continue;
    for (const s of f.spans) if (s.side === 'a' && s.stream === undefined) marks.fill(1, Math.min(common, s.offset), Math.min(common, s.offset + s.length));
  }
  let n = 0;
  for (let i = 0; i < common; i++) if (marks[i] && fa[i] !== fb[i]) n++;
  return n;
}

const tools = hasTool('tar');

describe('--timeout', () => {
  let big: { a: string; b: string };
  beforeAll(() => {
    if (tools) big = tarPair('big', 30_000);
  }, 600_000);

  it.skipIf(!tools)('a pair too large for 1 s: exit 1, said on stderr, every report written, what was left unexplained', () => {
    const out = { json: join(w.dir, 'big.json'), md: join(w.dir, 'big.md'), html: join(w.dir, 'big.html') };
    const t0 = Date.now();
    const r = cli([big.a, big.b, '--timeout', '1', '--json', out.json, '--markdown', out.md, '--html', out.html, '-q']);
    const seconds = (Date.now() - t0) / 1000;
    // it ended by itself (no hang, no worker left running) with the timeout's status and message
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^reprodiff: timeout: the --timeout of 1 s was reached; the report names what was not examined \(\d+ findings?\)/m);
    expect(seconds).toBeLessThan(90);
    for (const f of Object.values(out)) expect(existsSync(f), f).toBe(true);
    const report = JSON.parse(readFileSync(out.json, 'utf8')) as Report;
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report.timedOut).toEqual({ seconds: 1 });
    const left = report.findings.filter((f) => f.kind === 'unknown' && f.root && (f.detail ?? '').includes("the run's --timeout of 1 s passed"));
    expect(left.length).toBeGreaterThan(0);
    // the bytes left count as unexplained, never as explained
    const b = report.bytes;
    expect(b.explained + b.unexplained).toBe(b.differing);
    const unexamined = differingInSpans(report, new Set(left.map((f) => f.id)), readFileSync(big.a), readFileSync(big.b));
    expect(unexamined).toBeGreaterThan(0);
    expect(b.unexplained).toBeGreaterThanOrEqual(unexamined);
    // every presenter says the run was cut short
    expect(readFileSync(out.md, 'utf8')).toContain('Cut short: the --timeout of 1 s was reached');
    expect(readFileSync(out.html, 'utf8')).toContain('Cut short: the --timeout of 1 s was reached');
    expect(r.stdout.replace(/\s+/g, ' ')).toContain('cut short by --timeout 1');
    // render keeps the verdict and the status
    const again = cli(['render', out.json, '--text', '-']);
    expect(again.status).toBe(1);
    expect(again.stdout).toContain('Cut short: the --timeout of 1 s was reached');
  }, 180_000);

  it.skipIf(!tools)('with a baseline that has every root cause: still exit 1', () => {
    const base = join(w.dir, 'big.json');
    const r = cli([big.a, big.b, '--timeout', '1', '--baseline', base, '--json', join(w.dir, 'again.json'), '-q']);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain('reprodiff: timeout:');
  }, 180_000);

  it.skipIf(!tools)('cut after a known number of entries: those compared are reported, the rest is one finding over their bytes', async () => {
    const { a, b } = tarPair('small', 3_000);
    const full = buildReport(await compareFiles(a, b, { jobs: 2 }), [], 'test');
    // a limit reached once the comparer has reported its first 1,024 entries
    class AfterProgress extends Deadline {
      due = false;
      override passed(): boolean {
        return this.due;
      }
    }
    const deadline = new AfterProgress(60);
    const res = await compareFiles(a, b, { jobs: 2, deadline, onProgress: (p) => void (p.phase === 'compare' && p.entries >= 1024 && (deadline.due = true)) });
    let report: Report;
    try {
      report = buildReport(res, [], 'test');
    } finally {
      res.close();
    }
    expect(deadline.fired).toBe(true);
    const left = report.findings.filter((f) => f.kind === 'unknown' && (f.detail ?? '').includes("the run's --timeout of 60 s passed"));
    expect(left.map((f) => [f.path, f.format, f.root])).toEqual([['/', 'tar', true]]);
    // the entries before the cut are compared as in the full report; none after it is
    const order = run('tar', ['tf', a]).split('\n').filter(Boolean).map((p) => `/${p.replace(/^\.\//, '').replace(/\/$/, '')}`);
    const from = /were left, from (\S+) on$/.exec(left[0]!.detail ?? '')?.[1];
    const cut = order.indexOf(from ?? '');
    expect(cut, from).toBeGreaterThanOrEqual(1024);
    const members = (r: Report): Set<string> => new Set(r.findings.filter((f) => f.format === 'tar' && f.path !== '/').map((f) => f.path));
    const seen = members(report);
    expect(seen.size).toBeGreaterThan(0);
    for (const p of seen) {
      expect(order.indexOf(p), p).toBeGreaterThanOrEqual(0);
      expect(order.indexOf(p), p).toBeLessThan(cut);
      expect(members(full).has(p) || full.findings.some((f) => f.field?.includes('more copies')), p).toBe(true);
    }
    expect(left[0]!.detail).toMatch(new RegExp(`${order.length - cut} entries of the first build and \\d+ of the second were left`));
    const unexamined = differingInSpans(report, new Set(left.map((f) => f.id)), readFileSync(a), readFileSync(b));
    expect(unexamined).toBeGreaterThan(0);
    expect(report.bytes.unexplained).toBeGreaterThanOrEqual(unexamined);
    expect(report.bytes.unexplained).toBeGreaterThan(full.bytes.unexplained);
    expect(report.bytes.differing).toBe(full.bytes.differing);
  }, 180_000);
});
