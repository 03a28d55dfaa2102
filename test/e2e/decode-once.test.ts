/**
 * What a comparison decodes: contents whose encoded bytes only moved are compared undecoded, and each distinct
 * nested stream is decoded once however many places hold it. The reports stay what full decoding gives.
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../src/compare/account.js';
import { compareFiles } from '../../src/compare/run.js';
import type { Report } from '../../src/report/types.js';
import { cli } from '../helpers/cli.js';
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

describe('a compressed stream stored several times in one build', () => {
  const tools = ['cpio', 'gzip', 'xorriso'].every(hasTool);
  it.skipIf(!tools)('is inflated once per build, in the pool, and every copy is still listed and compared', () => {
    const iso = (side: 'a' | 'b'): string => {
      // an initrd: a 10 MiB file (it inflates past --in-memory) and a small one whose time differs per build
      const tree = join(w.dir, `initrd-${side}`);
      mkdirSync(tree, { recursive: true });
      const data = Buffer.alloc(10 << 20);
      let x = 7;
      for (let i = 0; i < data.length; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        data[i] = 0x61 + (x >>> 28);
      }
      // one byte of it differs between the builds, at the same size: each copy's member is compared, and found to
      // differ, while conf's content is the same in both
      if (side === 'b') data[5_000_000] ^= 1;
      writeFileSync(join(tree, 'big'), data);
      writeFileSync(join(tree, 'conf'), 'x=1\n');
      utimesSync(join(tree, 'big'), T, T);
      utimesSync(join(tree, 'conf'), side === 'a' ? T : T + 60, side === 'a' ? T : T + 60);
      const gz = join(w.dir, `initrd-${side}.gz`);
      run('sh', ['-c', `printf 'big\\nconf\\n' | cpio -o -H newc --quiet | gzip -n -1 > '${gz}'`], { cwd: tree });
      // the same stream at two paths, and once more followed by zero padding (as a PE section aligns it)
      const root = join(w.dir, `iso-${side}`);
      mkdirSync(join(root, 'live'), { recursive: true });
      mkdirSync(join(root, 'boot'), { recursive: true });
      run('sh', ['-c', `cp '${gz}' '${root}/live/initrd.gz' && cp '${gz}' '${root}/boot/initrd.gz' && cat '${gz}' /dev/zero | head -c $(( $(stat -c %s '${gz}') + 3000 )) > '${root}/boot/padded.gz'`]);
      const out = join(w.dir, `${side}.iso`);
      run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-o', out, root], { env: { ...process.env, SOURCE_DATE_EPOCH: String(T) } });
      return out;
    };
    const a = iso('a');
    const b = iso('b');
    const r = cli([a, b, '--json', '-', '-q'], { REPRODIFF_TRACE: '1' });
    expect(r.status, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    // one inflate per build, in the pool; the other two places of each build's stream are copies
    expect(r.stderr.match(/decoding .* in the pool/g)?.length).toBe(2);
    expect(r.stderr.match(/is a copy of a stream met before/g)?.length).toBe(4);
    // every copy is listed and compared: the same findings under each, the first one's roots the causes
    const inside = (place: string): string[] =>
      report.findings
        .filter((f) => f.path.startsWith(`${place}//`))
        .map((f) => `${f.path.slice(place.length)} ${f.field} ${f.kind} ${JSON.stringify(f.a)} ${JSON.stringify(f.b)}`)
        .sort();
    const places = ['/boot/initrd.gz', '/boot/padded.gz', '/live/initrd.gz'];
    expect(inside(places[0]!).some((s) => s.includes('cpio.mtime'))).toBe(true);
    for (const p of places.slice(1)) expect(inside(p)).toEqual(inside(places[0]!));
    const roots = report.findings.filter((f) => f.root && f.field === 'cpio.mtime');
    expect(roots.length).toBe(1);
    for (const p of places) {
      expect(report.findings.some((f) => f.path === `${p}//big` && f.kind !== 'timestamp'), p).toBe(true);
      expect(report.findings.some((f) => f.path === `${p}//conf` && f.field === null), p).toBe(false);
    }
  });
});

describe.each([
  ['xz', 'xz -1 -T1 -c'],
  ['zst', 'zstd -q -c'],
])('.tar.%s inputs', (ext, compress) => {
  const tools = [compress.split(' ')[0]!, 'tar'].every(hasTool);
  it.skipIf(!tools)('decode in the pool at once, and the report is the one decoding them on the main thread gives', () => {
    // a tar built twice and compressed: one member's time differs; the decoded tar (12 MiB), which the xz index
    // and the zstd frame header declare, is past --in-memory
    const make = (side: 'a' | 'b'): string => {
      const tree = join(w.dir, `t${ext}-${side}`);
      mkdirSync(tree, { recursive: true });
      for (let i = 0; i < 3; i++) writeFileSync(join(tree, `f${i}`), text(i, 4 << 20));
      for (let i = 0; i < 3; i++) utimesSync(join(tree, `f${i}`), T, T);
      if (side === 'b') utimesSync(join(tree, 'f1'), T + 60, T + 60);
      const out = join(w.dir, `${side}.tar.${ext}`);
      run('sh', ['-c', `tar --format=gnu --owner=0 --group=0 --numeric-owner -cf ../t${ext}-${side}.tar f0 f1 f2 && ${compress} ../t${ext}-${side}.tar > '${out}'`], { cwd: tree });
      return out;
    };
    const a = make('a');
    const b = make('b');
    const r = cli([a, b, '--json', '-', '-q'], { REPRODIFF_TRACE: '1' });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr.match(new RegExp(`decoding .*\\.tar\\.${ext} \\(${ext === 'zst' ? 'zstd' : 'xz'}, .*\\) in the pool`, 'g'))?.length).toBe(2);
    const pooled = JSON.parse(r.stdout) as Report;
    expect(pooled.findings.filter((f) => f.root).map((f) => [f.path, f.field])).toEqual([['/f1', 'tar.mtime']]);
    expect(pooled.bytes.unexplained).toBe(0);
    // with 64 MiB allowed in memory, each is decoded on the main thread instead: the same findings and totals
    const h = cli([a, b, '--json', '-', '-q', '--in-memory', '64'], { REPRODIFF_TRACE: '1' });
    expect(h.status, h.stderr).toBe(1);
    expect(h.stderr).not.toMatch(/in the pool/);
    const here = JSON.parse(h.stdout) as Report;
    expect(pooled.findings).toEqual(here.findings);
    expect(pooled.bytes).toEqual(here.bytes);
  });
});
