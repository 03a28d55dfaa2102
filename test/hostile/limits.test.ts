/**
 * Limits hit on real pairs: the report goes on, says which limit stopped it and where, and counts what it
 * did not examine as unexplained bytes, never as explained content.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { SAMPLES } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { expectClean, runCapped } from './harness.js';
import type { Report } from '../../src/report/types.js';

const { dir, cleanup } = scratch('reprodiff-hostile-lim-');
afterAll(() => cleanup());

function compare(a: string, b: string, ...flags: string[]): Report {
  const r = expectClean(runCapped([a, b, '--json', '-', '--jobs', '1', ...flags], 60_000), 60_000);
  expect(r.status, r.stderr).toBe(1);
  return JSON.parse(r.stdout) as Report;
}

describe('limits', () => {
  it('--max-entries: an ISO listing cut short is reported partially, the rest unexplained', () => {
    const a = join(SAMPLES, 'basic-a.iso');
    const b = join(SAMPLES, 'basic-b.iso');
    const full = compare(a, b);
    expect(full.bytes.unexplained).toBe(0);
    const cut = compare(a, b, '--max-entries', '3');
    expect(cut.notes.join('\n')).toMatch(/entry limit reached: more than 3 ISO 9660 entries \(stopped at offset \d+\)/);
    expect(cut.bytes.differing).toBe(full.bytes.differing);
    expect(cut.bytes.unexplained).toBeGreaterThan(0);
    expect(cut.bytes.explained + cut.bytes.unexplained).toBe(cut.bytes.differing);
    // nothing is invented for entries past the cut on one side only
    expect(cut.findings.filter((f) => f.kind === 'added' || f.kind === 'removed')).toEqual([]);
    expect(cut.findings.some((f) => f.kind === 'unknown')).toBe(true);
  });

  it('--max-depth: content nested past the depth cap is one unknown finding that names the limit', () => {
    const core = (text: string): Buffer => Buffer.from(`core ${text}\n`);
    let a = core('one');
    let b = core('two');
    for (let i = 0; i < 6; i++) {
      a = gzipSync(a, { level: 9 });
      b = gzipSync(b, { level: 9 });
    }
    writeFileSync(join(dir, 'deep-a.gz'), a);
    writeFileSync(join(dir, 'deep-b.gz'), b);
    const r = compare(join(dir, 'deep-a.gz'), join(dir, 'deep-b.gz'), '--max-depth', '3');
    const stopped = r.findings.filter((f) => f.kind === 'unknown' && /not examined: .*nesting deeper than 3 levels/.test(f.detail ?? ''));
    expect(stopped).toHaveLength(1);
    expect(r.bytes.unexplained).toBeGreaterThan(0);
    expect(r.notes.join('\n')).toMatch(/limit maxDepth/);
  });

  it('--max-decoded: a stream decoding past the cap is not examined, and says so', () => {
    const zeros = (tail: string): Buffer => gzipSync(Buffer.concat([Buffer.alloc(8 << 20), Buffer.from(tail)]));
    // the gzip members sit inside a cpio archive, so the cap applies to nested content, not to the input
    const cpio = (data: Buffer): Buffer => {
      const hex = (v: number): string => v.toString(16).padStart(8, '0');
      const member = (name: string, body: Buffer, mode: number): Buffer => {
        const nameZ = Buffer.from(`${name}\0`);
        const head = Buffer.from('070701' + [1, mode, 0, 0, 1, 0, body.length, 0, 0, 0, 0, nameZ.length, 0].map(hex).join(''), 'latin1');
        const pad = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
        return Buffer.concat([head, nameZ, pad(head.length + nameZ.length), body, pad(body.length)]);
      };
      return Buffer.concat([member('zeros.gz', data, 0o100644), member('TRAILER!!!', Buffer.alloc(0), 0)]);
    };
    writeFileSync(join(dir, 'dec-a.cpio'), cpio(zeros('a')));
    writeFileSync(join(dir, 'dec-b.cpio'), cpio(zeros('b')));
    const r = compare(join(dir, 'dec-a.cpio'), join(dir, 'dec-b.cpio'), '--max-decoded', '1');
    const stopped = r.findings.find((f) => f.kind === 'unknown' && f.path === '/zeros.gz');
    expect(stopped?.detail).toMatch(/not examined: .*exceeds the limit of 1048576 bytes/);
    expect(r.bytes.unexplained).toBeGreaterThan(0);
  });

  it.skipIf(!hasTool('xz') || !hasTool('tar'))('--max-entry-seconds: decoding that takes too long stops, and the entry is not examined', () => {
    // 768 MiB that xz stores in about 100 KiB (three streams of 256 MiB of zeros, then one with the side's
    // letter); ours decodes it in well over a second
    run('sh', ['-c', `head -c 268435456 /dev/zero | xz -0 -T1 > ${dir}/zeros.xz`]);
    for (const side of ['a', 'b']) {
      const d = join(dir, `slow-${side}`);
      run('mkdir', ['-p', d]);
      const z = `${dir}/zeros.xz`;
      run('sh', ['-c', `printf ${side} | xz -0 -T1 > ${d}/tail.xz && cat ${z} ${z} ${z} ${d}/tail.xz > ${d}/big.xz && tar -C ${d} --mtime=@0 -cf ${dir}/slow-${side}.tar big.xz`]);
    }
    const t0 = Date.now();
    const r = compare(join(dir, 'slow-a.tar'), join(dir, 'slow-b.tar'), '--max-entry-seconds', '1');
    expect(Date.now() - t0).toBeLessThan(30_000);
    const stopped = r.findings.find((f) => f.kind === 'unknown' && f.path === '/big.xz');
    expect(stopped?.detail).toMatch(/not examined: .*time limit reached: decoding took over 1 s/);
    expect(r.bytes.unexplained).toBeGreaterThan(0);
  });
});
