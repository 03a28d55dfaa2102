/**
 * What a comparison decodes: contents whose encoded bytes only moved are compared undecoded, and each distinct
 * nested stream is decoded once however many places hold it. The reports stay what full decoding gives.
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../src/compare/account.js';
import { compareFiles } from '../../src/compare/run.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const w = scratch('reprodiff-decode-once-');
afterAll(w.cleanup);
const T = 1_700_000_000;

/** Text that compresses, `n` bytes, different for each seed. */
function text(seed: number, n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `${seed} line ${i} ${(i * 2654435761 + seed) % 1000003}\n`;
  return s.slice(0, n);
}

describe('squashfs files whose blocks moved', () => {
  it.skipIf(!hasTool('mksquashfs'))('are compared by their encoded bytes, not decoded; a same-size change among them is still found', async () => {
    const image = (side: 'a' | 'b'): string => {
      const dir = join(w.dir, `sq-${side}`);
      mkdirSync(dir, { recursive: true });
      // f1 grows in build b: the blocks of every file after it move
      writeFileSync(join(dir, 'f1'), (side === 'b' ? 'one more line\n' : '') + text(1, 300_000));
      for (const i of [2, 3, 5]) writeFileSync(join(dir, `f${i}`), text(i, 400_000));
      // f4 differs in one byte, same size: it moved too, and its bytes differ
      const f4 = text(4, 400_000);
      writeFileSync(join(dir, 'f4'), side === 'b' ? `${f4.slice(0, 200_000)}#${f4.slice(200_001)}` : f4);
      // small files: their data is in fragment blocks
      for (const i of [6, 7, 8]) writeFileSync(join(dir, `s${i}`), text(i, 3000));
      for (const f of ['f1', 'f2', 'f3', 'f4', 'f5', 's6', 's7', 's8']) utimesSync(join(dir, f), T, T);
      utimesSync(dir, T, T);
      const out = join(w.dir, `${side}.squashfs`);
      run('mksquashfs', [dir, out, '-noappend', '-quiet', '-no-progress', '-mkfs-time', String(T), '-all-time', String(T)], { env: { ...process.env, TZ: 'UTC' } });
      return out;
    };
    const res = await compareFiles(image('a'), image('b'));
    try {
      const report = buildReport(res, [], 'test');
      const roots = report.findings.filter((f) => f.root);
      expect(roots.map((f) => [f.path, f.kind]).sort()).toEqual([
        ['/f1', 'content'],
        ['/f4', 'content'],
      ]);
      expect(report.bytes.unexplained).toBe(0);
      // f1 is opened (600,014 bytes of both sides), f4 compared and opened (2 x 800,000); the moved f2, f3 and f5
      // (2,400,000 bytes) and the small files are not decoded
      expect(res.decodedBytes).toBeGreaterThanOrEqual(600_014 + 2 * 800_000);
      expect(res.decodedBytes).toBeLessThanOrEqual(600_014 + 2 * 800_000 + 2 * 3 * 3000);
    } finally {
      res.close();
    }
  });
});
