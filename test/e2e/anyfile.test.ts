/**
 * Inputs no format recognises are still compared: random blobs (every differing byte `unknown`, at its exact
 * offsets), text files (the embedded values and a unified diff), inputs of different formats (said in the
 * headline), and inputs too large to load (the lockstep pass's ranges, unknown).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.js';
import { cli, ROOT, SAMPLES } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schema/report.schema.json'), 'utf8')) as object);
const w = scratch();
afterAll(w.cleanup);

function compare(a: string, b: string, ...more: string[]): Report {
  const r = cli([a, b, '--json', '-', ...more]);
  expect(r.status, r.stderr).toBe(1);
  const report = JSON.parse(r.stdout) as Report;
  expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
  return report;
}

/** The runs of differing bytes over the common length, as [start, end) pairs, computed here byte by byte. */
function differingRuns(a: Uint8Array, b: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] === b[i]) continue;
    const last = out[out.length - 1];
    if (last && last[1] === i) last[1] = i + 1;
    else out.push([i, i + 1]);
  }
  return out;
}

/**
 * The unknown findings' side-a spans cover the differing runs `runs` exactly: each span starts and ends on a
 * differing byte, holds whole runs only, and joins runs across at most 16 equal bytes (runs that close are
 * one finding, and its spans join them where no other finding's byte lies between); no differing byte is
 * left out.
 */
function expectExactCover(r: Report, runs: [number, number][]): void {
  const spans = unknownRuns(r);
  let i = 0;
  for (const [s, e] of spans) {
    expect(runs[i]?.[0], `span [${s}, ${e}) starts on a differing run`).toBe(s);
    while (i < runs.length && runs[i]![1] < e) {
      expect(runs[i + 1]![0] - runs[i]![1], `equal bytes joined inside [${s}, ${e})`).toBeLessThanOrEqual(16);
      i++;
    }
    expect(runs[i]?.[1], `span [${s}, ${e}) ends on a differing run's end`).toBe(e);
    i++;
  }
  expect(i, 'every differing run lies in a span').toBe(runs.length);
}

/** The side-a spans of the unknown findings, as sorted [start, end) pairs. */
function unknownRuns(r: Report): [number, number][] {
  return r.findings
    .filter((f) => f.kind === 'unknown')
    .flatMap((f) => f.spans.filter((s) => s.side === 'a' && s.stream === undefined).map((s) => [s.offset, s.offset + s.length] as [number, number]))
    .sort((x, y) => x[0] - y[0]);
}

describe('two inputs no format recognises', () => {
  it('two random blobs: exit 1 with a report, every differing byte unknown at its exact offsets', () => {
    const a = randomBytes(64 * 1024);
    const b = Buffer.from(a);
    // three regions rewritten; bytes that happen to come out equal stay equal, and the runs are computed here
    for (const [at, n] of [
      [1000, 300],
      [20_000, 7],
      [50_000, 2000],
    ] as const) {
      randomBytes(n).copy(b, at);
    }
    writeFileSync(join(w.dir, 'blob-a'), a);
    writeFileSync(join(w.dir, 'blob-b'), b);
    const r = compare(join(w.dir, 'blob-a'), join(w.dir, 'blob-b'));
    const runs = differingRuns(a, b);
    const bytes = runs.reduce((n, [s, e]) => n + e - s, 0);
    expect(r.bytes).toEqual({ differing: bytes, explained: 0, unexplained: bytes });
    expectExactCover(r, runs);
    expect(r.findings.every((f) => f.kind === 'unknown' && f.format === 'raw' && f.path === '/')).toBe(true);
    // deterministic: the same inputs, the same bytes
    expect(cli([join(w.dir, 'blob-a'), join(w.dir, 'blob-b'), '--json', '-']).stdout).toBe(JSON.stringify(r, null, 2) + '\n');
  });

  it('two independent random blobs of other sizes: the common part unknown, the tail explained by the size', () => {
    const a = randomBytes(40_000);
    const b = randomBytes(30_000);
    writeFileSync(join(w.dir, 'other-a'), a);
    writeFileSync(join(w.dir, 'other-b'), b);
    const r = compare(join(w.dir, 'other-a'), join(w.dir, 'other-b'));
    const runs = differingRuns(a, b);
    const common = runs.reduce((n, [s, e]) => n + e - s, 0);
    expect(r.bytes).toEqual({ differing: common + 10_000, explained: 10_000, unexplained: common });
    expectExactCover(r, runs);
    expect(r.findings.find((f) => f.kind === 'size')?.detail).toMatch(/10000 bytes longer/);
  });

  it('two text files with a build time inside: one timestamp root, format text, nothing unexplained', () => {
    const body = (t: string): string => `# generated\nversion = 1.2\nbuilt = ${t}\nname = demo\n`;
    writeFileSync(join(w.dir, 'a.txt'), body('2026-11-22T06:45:17Z'));
    writeFileSync(join(w.dir, 'b.txt'), body('2026-11-22T07:02:44Z'));
    const r = compare(join(w.dir, 'a.txt'), join(w.dir, 'b.txt'));
    const roots = r.findings.filter((f) => f.root);
    expect(roots.map((f) => [f.kind, f.format, f.path, f.a, f.b])).toEqual([['timestamp', 'text', '/', '2026-11-22T06:45:17Z', '2026-11-22T07:02:44Z']]);
    expect(r.bytes.unexplained).toBe(0);
    expect(r.bytes.differing).toBeGreaterThan(0);
  });

  it('two text files with a changed line: a content root carrying the unified diff', () => {
    writeFileSync(join(w.dir, 'c.txt'), 'alpha\nbeta\ngamma\n');
    writeFileSync(join(w.dir, 'd.txt'), 'alpha\nBETA-2\ngamma\n');
    const r = compare(join(w.dir, 'c.txt'), join(w.dir, 'd.txt'));
    const content = r.findings.find((f) => f.root && f.kind === 'content');
    expect(content?.format).toBe('text');
    expect(content?.detail).toMatch(/^-beta$/m);
    expect(content?.detail).toMatch(/^\+BETA-2$/m);
    expect(r.bytes.unexplained).toBe(0);
  });

  it('an ISO against a text file: the headline says the formats differ, and the bytes are still compared', () => {
    const p = join(w.dir, 'text.iso');
    writeFileSync(p, 'just some text\n'.repeat(100));
    const iso = join(SAMPLES, 'hybrid-a.iso');
    const r = compare(iso, p);
    const root = r.findings.find((f) => f.root && f.field === 'format');
    expect(root?.path).toBe('/');
    expect(root?.a).toMatch(/iso9660/);
    expect(root?.b).toBe('no known format');
    const bytesA = readFileSync(iso);
    const common = differingRuns(bytesA, readFileSync(p)).reduce((n, [s, e]) => n + e - s, 0);
    expect(r.bytes.differing).toBe(common + bytesA.length - 1500);
    const text = cli([iso, p, '-q']);
    expect(text.status).toBe(1);
    expect(text.stdout.split('\n')[0]).toMatch(/^reprodiff: differs \(different formats: iso9660.* against no known format\)/);
  });

  it('inputs over 16 MiB that no format opens: the pass\'s differing ranges, unknown, without loading them', () => {
    const size = 17 * 1024 * 1024;
    const a = randomBytes(size);
    const b = Buffer.from(a);
    b[100] = a[100]! ^ 1;
    b[size - 5] = a[size - 5]! ^ 0xff;
    b.fill(0, 9_000_000, 9_000_010);
    writeFileSync(join(w.dir, 'big-a'), a);
    writeFileSync(join(w.dir, 'big-b'), b);
    const r = compare(join(w.dir, 'big-a'), join(w.dir, 'big-b'));
    const runs = differingRuns(a, b);
    expectExactCover(r, runs);
    expect(r.bytes.unexplained).toBe(r.bytes.differing);
    expect(r.notes.some((n) => /compared byte by byte only/.test(n))).toBe(true);
  });

  it.skipIf(!hasTool('mksquashfs'))('an input a format recognises but cannot open is still trouble (exit 2)', () => {
    const t = join(w.dir, 'sq-tree');
    mkdirSync(t, { recursive: true });
    writeFileSync(join(t, 'f'), 'content\n');
    const img = join(w.dir, 'sq.img');
    run('mksquashfs', [t, img, '-quiet', '-noappend']);
    const p = join(w.dir, 'sq-cut.img');
    writeFileSync(p, readFileSync(img).subarray(0, 200));
    const r = cli([img, p]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^reprodiff: .*sq-cut\.img: squashfs superblock at offset \d+/);
  });
});
