/**
 * The report's size follows the causes, not the entries: a squashfs image rebuilt from a touched tree in which
 * one early file grew moves every data block after it, so thousands of entries get derived layout findings.
 * The JSON report stays small, and its totals still count every differing byte: checked here against the
 * differing bytes of the two images, found byte by byte by the test itself.
 */
import { mkdirSync, readFileSync, appendFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Ajv from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import type { Finding, Report } from '../../src/report/types.js';
import { cli, ROOT } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schema/report.schema.json'), 'utf8')) as object);
const w = scratch();
afterAll(w.cleanup);

const FILES = 1200;

/** Text of 5–13 KB that compresses like real files, different for every `i`. */
function body(i: number): string {
  const seed = createHash('sha256').update(`f${i}`).digest('hex');
  const lines: string[] = [];
  const n = 100 + (parseInt(seed.slice(0, 4), 16) % 160);
  for (let k = 0; k < n; k++) lines.push(`${k} ${seed.slice(k % 40, (k % 40) + 24)} line ${k * i} of file ${i}`);
  return `${lines.join('\n')}\n`;
}

/** Differing byte ranges of two files over their common length, and the longer one's tail. */
function differing(a: Buffer, b: Buffer): [number, number][] {
  const out: [number, number][] = [];
  const n = Math.min(a.length, b.length);
  let start = -1;
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) {
      if (start < 0) start = i;
    } else if (start >= 0) {
      out.push([start, i]);
      start = -1;
    }
  }
  if (start >= 0) out.push([start, n]);
  if (a.length !== b.length) out.push([n, Math.max(a.length, b.length)]);
  return out;
}

/** Bytes of `diff` inside the outer-file spans of `findings` (both sides in one offset space, as the report counts). */
function claimed(diff: [number, number][], findings: Finding[]): number {
  const ivs = findings.flatMap((f) => f.spans.filter((s) => s.stream === undefined).map((s) => [s.offset, s.offset + s.length] as [number, number]));
  ivs.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of ivs) {
    const last = merged[merged.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  let n = 0;
  let j = 0;
  for (const [s, e] of diff) {
    while (j < merged.length && merged[j]![1] <= s) j++;
    for (let k = j; k < merged.length && merged[k]![0] < e; k++) n += Math.min(e, merged[k]![1]) - Math.max(s, merged[k]![0]);
  }
  return n;
}

describe('report size', () => {
  it.skipIf(!hasTool('mksquashfs'))(
    `a squashfs tree of ${FILES} files whose first file grew: a small report, every differing byte counted`,
    () => {
      const t = join(w.dir, 'tree');
      for (let i = 0; i < FILES; i++) {
        const d = join(t, `d${String(Math.floor(i / 100)).padStart(2, '0')}`);
        if (i % 100 === 0) mkdirSync(d, { recursive: true });
        writeFileSync(join(d, `f${String(i).padStart(4, '0')}.txt`), body(i));
      }
      // 4 KiB blocks: most files have data blocks of their own, and each of them moves when the first file grows
      const build = (out: string): void => run('mksquashfs', [t, join(w.dir, out), '-noappend', '-quiet', '-b', '4096', '-processors', '1']);
      build('a.sqfs');
      appendFileSync(join(t, 'd00', 'f0000.txt'), body(99999).slice(0, 3000));
      run('touch', ['-d', '@1800000000', ...[...Array(FILES / 100).keys()].map((k) => join(t, `d${String(k).padStart(2, '0')}`))]);
      run('sh', ['-c', 'find . -type f -exec touch -d @1800000000 {} +'], { cwd: t });
      build('b.sqfs');

      const r = cli([join(w.dir, 'a.sqfs'), join(w.dir, 'b.sqfs'), '--json', '-', '-q']);
      expect(r.status, r.stderr).toBe(1);
      const report = JSON.parse(r.stdout) as Report;
      expect(validate(report), JSON.stringify(validate.errors)).toBe(true);

      // the totals are the differing bytes of the two images, split by the findings' own spans
      const diff = differing(readFileSync(join(w.dir, 'a.sqfs')), readFileSync(join(w.dir, 'b.sqfs')));
      const total = diff.reduce((n, [s, e]) => n + e - s, 0);
      expect(report.bytes.differing).toBe(total);
      const unknown = report.findings.filter((f) => f.kind === 'unknown');
      const known = report.findings.filter((f) => f.kind !== 'unknown');
      expect(report.bytes.explained).toBe(claimed(diff, known));
      expect(report.bytes.unexplained).toBe(total - report.bytes.explained);
      expect(claimed(diff, unknown)).toBe(report.bytes.unexplained);

      // thousands of moved entries, a few hundred findings: summaries stand for the rest, their counts exact
      const summaries = report.findings.filter((f) => f.folded);
      expect(summaries.length).toBeGreaterThan(0);
      for (const f of summaries) {
        expect(f.root, f.field ?? '').toBe(false);
        expect(f.folded!.bytes, f.field ?? '').toBe(claimed(diff, [f]));
      }
      const represented = report.findings.reduce((n, f) => n + (f.folded?.findings ?? 1), 0);
      expect(represented).toBeGreaterThan(2 * FILES);
      expect(report.findings.length).toBeLessThan(400);
      expect(r.stdout.length).toBeLessThan(250_000);
      // each root's kind counts the bytes of its derived findings too: the first file's growth moved nearly all
      const moved = report.findings.filter((f) => f.kind === 'layout' && !f.root);
      expect(moved.reduce((n, f) => n + (f.folded?.findings ?? 1), 0)).toBeGreaterThan(FILES);
    },
    120_000,
  );
});
