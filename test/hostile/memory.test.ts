/**
 * Decoded streams in bounded memory: a zip member, an xz stream and an lz4 stream of a few hundred MB of zeros
 * (a few hundred KB compressed) are compared with peak RSS well under their decoded size, measured in the child
 * by /usr/bin/time. Before, each was decoded whole into one growing buffer (the decoded size rounded up to a
 * power of two, held in memory at once).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTime, measured, type Measured } from './harness.js';
import { hasTool, scratch } from '../helpers/tools.js';
import { BIN, ROOT } from '../helpers/cli.js';
import { allocationToLimit } from '../../src/codec/inflate.js';
import { ReprodiffError } from '../../src/errors.js';
import type { Report } from '../../src/report/types.js';

const { dir, cleanup } = scratch('reprodiff-hostile-mem-');
afterAll(() => cleanup());

/** MiB of zeros in each stream, and the peak RSS allowed for a compare of two (node itself takes 60-90 MB) */
const MB = 160;
const BOUND_MB = 200;

/** `MB` MiB of zeros, then `tail`, through `compress` (a shell pipeline reading stdin) into `file`. */
function zeros(file: string, tail: string, compress: string): string {
  const path = join(dir, file);
  const r = spawnSync('sh', ['-c', `{ head -c ${MB}M /dev/zero; printf '${tail}'; } | ${compress} > '${path}'`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return path;
}

function expectBounded(r: Measured): Report {
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).not.toMatch(/RangeError|FATAL ERROR|out of memory|^\s+at /m);
  expect(r.rssMb, `peak RSS ${r.rssMb.toFixed(0)} MB`).toBeLessThan(BOUND_MB);
  return JSON.parse(r.stdout) as Report;
}

describe('decoded streams in bounded memory', () => {
  it.skipIf(!hasTime || !hasTool('zip'))(`a deflated zip member of ${MB} MiB is inflated through a temporary file, not into one buffer`, () => {
    const a = zeros('a.zip', 'a', 'zip -q - -');
    const b = zeros('b.zip', 'b', 'zip -q - -');
    const report = expectBounded(measured([a, b, '--json', '-', '--jobs', '1']));
    const content = report.findings.find((f) => f.kind === 'content' && f.path === '/-');
    expect(content, JSON.stringify(report.findings.map((f) => [f.path, f.kind, f.field]))).toBeDefined();
    expect(report.bytes.unexplained).toBe(0);
  });

  it.skipIf(!hasTime || !hasTool('zip') || !hasTool('prlimit'))('the zip pair also compares under a 4 GB address-space limit', () => {
    const r = measured([join(dir, 'a.zip'), join(dir, 'b.zip'), '--json', '/dev/null', '--jobs', '1'], ['prlimit', '--as=4000000000']);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).not.toMatch(/RangeError|corrupt deflate|FATAL ERROR|^\s+at /m);
  });

  it.skipIf(!hasTime || !hasTool('xz'))(`a single-block xz stream of ${MB} MiB decodes through a bounded dictionary window`, () => {
    const a = zeros('a.xz', 'a', 'xz -1 -T1');
    const b = zeros('b.xz', 'b', 'xz -1 -T1');
    const report = expectBounded(measured([a, b, '--json', '-', '--jobs', '1']));
    expect(report.findings.some((f) => f.kind === 'content' && f.path === '/')).toBe(true);
  });

  it.skipIf(!hasTime || !hasTool('lz4'))(`an lz4 stream of ${MB} MiB decodes keeping only the 64 KiB its blocks reach back`, () => {
    const a = zeros('a.lz4', 'a', 'lz4 -q -1');
    const b = zeros('b.lz4', 'b', 'lz4 -q -1');
    const report = expectBounded(measured([a, b, '--json', '-', '--jobs', '1']));
    expect(report.findings.some((f) => f.kind === 'content' && f.path === '/')).toBe(true);
  });

  it('a failed allocation while decoding is a limit, not corrupt data', () => {
    const e = allocationToLimit(new RangeError('Array buffer allocation failed'), { file: 'x.zip', structure: 'zip member data', offset: 30 });
    expect(e).toBeInstanceOf(ReprodiffError);
    expect((e as ReprodiffError).code).toBe('E_LIMIT');
    expect((e as ReprodiffError).message).toMatch(/out of memory/);
    // anything else is not taken for one
    const other = new TypeError('x is not a function');
    expect(allocationToLimit(other, {})).toBe(other);
  });
});

/** A zip of `n` tiny stored members made by Python's zipfile, member i stamped 1980-01-01 00:00:`seconds` (a Python expression of i). */
function manyZip(file: string, n: number, seconds: string): string {
  const path = join(dir, file);
  const py = [
    'import sys, zipfile',
    "with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_STORED) as z:",
    `    for i in range(${n}):`,
    `        z.writestr(zipfile.ZipInfo('d%d/f%d' % (i // 1000, i), date_time=(1980, 1, 1, 0, 0, ${seconds})), b'%d' % i)`,
  ].join('\n');
  const r = spawnSync('python3', ['-c', py, path], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return path;
}

describe('listings that do not fit in the heap', () => {
  it.skipIf(!hasTool('python3'))('a zip of 160,000 members under a 24 MB heap stops listing with a note, not an out-of-memory abort', () => {
    const a = manyZip('many-a.zip', 160_000, '0');
    const b = manyZip('many-b.zip', 160_000, '2 if i == 159999 else 0');
    const r = spawnSync(process.execPath, ['--max-old-space-size=24', BIN, a, b, '--json', '-'], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
    expect(r.stderr).not.toMatch(/FATAL ERROR|out of memory|^\s+at /m);
    expect(r.status, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.notes.some((n) => /memory limit reached after \d+ zip entries \(the central directory lists 160000\)/.test(n)), JSON.stringify(report.notes)).toBe(true);
    // what was not listed is not called added or removed: its differing bytes (the last member's time) are unexplained
    expect(report.findings.some((f) => f.kind === 'added' || f.kind === 'removed')).toBe(false);
    expect(report.bytes.unexplained).toBeGreaterThan(0);
  });
});

describe('a comparison that runs short of heap', () => {
  it.skipIf(!hasTool('python3'))('stops pairing the entries with a note and an unknown finding over the rest, not an out-of-memory abort', () => {
    const a = manyZip('cmp-a.zip', 16_000, '0');
    const b = manyZip('cmp-b.zip', 16_000, '2');
    // once the comparer reports its first entries, the child fills its heap to 77 % of the old generation's
    // limit (arrays in the large-object space) and keeps it so until the comparison ends: the next look at
    // the heap (every 4,096 entries) stops the pairing
    const script = join(dir, 'fill.mjs');
    writeFileSync(
      script,
      [
        "import { getHeapStatistics } from 'node:v8';",
        `const { compareFiles } = await import(${JSON.stringify(join(ROOT, 'dist/src/compare/run.js'))});`,
        `const { buildReport } = await import(${JSON.stringify(join(ROOT, 'dist/src/compare/account.js'))});`,
        // every space counted: the arrays start in the young large-object space and move to the old one
        'const used = () => getHeapStatistics().used_heap_size;',
        'const limit = getHeapStatistics().heap_size_limit - 48 * 2 ** 20;',
        'let junk = [];',
        'const fill = () => { while (used() < 0.77 * limit) junk.push(new Array(131072).fill(1.5)); };',
        'const res = await compareFiles(process.argv[2], process.argv[3], { jobs: 1, onProgress: (p) => void (p.phase === "compare" && p.entries >= 1 && junk.length === 0 && fill()) });',
        'junk = [];',
        "const report = buildReport(res, [], 'test');",
        'res.close();',
        'console.log(JSON.stringify({ notes: report.notes, unknown: report.findings.filter((f) => f.kind === "unknown").map((f) => [f.path, f.format, f.detail]), bytes: report.bytes }));',
      ].join('\n'),
    );
    const r = spawnSync(process.execPath, ['--max-old-space-size=96', script, a, b], { encoding: 'utf8', maxBuffer: 16 << 20, timeout: 120_000 });
    expect(r.stderr).not.toMatch(/FATAL ERROR|out of memory/);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { notes: string[]; unknown: [string, string, string][]; bytes: Report['bytes'] };
    expect(out.notes.some((n) => /memory limit reached while comparing: the heap held \d+ MiB of the 96 MiB it may grow to; \d+ entries not compared, from \/\S+ on/.test(n)), out.notes.join('\n')).toBe(true);
    expect(out.unknown.map(([p, f]) => [p, f])).toEqual([['/', 'zip']]);
    expect(out.unknown[0]![2]).toMatch(/^not examined: memory limit reached while comparing/);
    // the entries not compared keep their differing bytes (each member's two times) unexplained
    expect(out.bytes.unexplained).toBeGreaterThan(0);
    expect(out.bytes.explained).toBeGreaterThan(0);
  });
});
