/**
 * Crafted hostile ar archives and .debs, bzip2 streams, binary cpio archives and .pyc files, built in code and
 * run through the CLI: each must end with exit 0/1/2, a clear message, no trace, in time.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { hasTool, scratch } from '../helpers/tools.js';
import { expectClean, runCapped } from './harness.js';

const { dir, cleanup } = scratch('reprodiff-hostile-pkg-');
afterAll(() => cleanup());

const arHeader = (name: string, size: number | string, mtime = '0'): string =>
  name.padEnd(16) + mtime.padEnd(12) + '0'.padEnd(6) + '0'.padEnd(6) + '100644'.padEnd(8) + String(size).padEnd(10) + '`\n';

function pair(name: string, a: Buffer, b: Buffer): [string, string] {
  const pa = join(dir, `${name}-a`);
  const pb = join(dir, `${name}-b`);
  writeFileSync(pa, a);
  writeFileSync(pb, b);
  return [pa, pb];
}

describe('ar', () => {
  const good = Buffer.from('!<arch>\n' + arHeader('debian-binary', 4) + '2.0\n' + arHeader('data.tar', 2) + 'ab', 'latin1');
  it.each([
    ['a member claiming 9 GB', '!<arch>\n' + arHeader('debian-binary', 4) + '2.0\n' + arHeader('data.tar', 9_999_999_999) + 'ab'],
    ['a long-name reference far past the table', '!<arch>\n' + arHeader('//', 4) + 'ab/\n' + arHeader('/999999999', 2) + 'ab'],
    ['a reference without a table', '!<arch>\n' + arHeader('/0', 2) + 'ab'],
    ['a BSD name longer than the archive', '!<arch>\n' + arHeader('#1/99999', 2) + 'ab'],
    ['a broken header end', '!<arch>\n' + arHeader('debian-binary', 4).slice(0, 58) + 'xx2.0\n'],
    ['non-decimal fields', '!<arch>\n' + arHeader('debian-binary', 4, '0x1f') + '2.0\n'],
    ['a truncated header', '!<arch>\n' + arHeader('debian-binary', 4).slice(0, 30)],
  ])('%s', (name, text) => {
    const [a, b] = pair(name.replace(/\W+/g, '-'), good, Buffer.from(text, 'latin1'));
    const r = expectClean(runCapped([a, b, '--json', '-', '--jobs', '1']));
    expect(r.status).not.toBe(0);
  });

  it('a .deb whose data member is a gzip bomb stops at the decoded limit', () => {
    const bomb = execFileSync('sh', ['-c', 'head -c 200000000 /dev/zero | gzip -9'], { maxBuffer: 1 << 26 });
    const deb = (data: Buffer): Buffer =>
      Buffer.concat([Buffer.from('!<arch>\n' + arHeader('debian-binary', 4) + '2.0\n' + arHeader('control.tar.gz', 2) + 'ab' + arHeader('data.tar.gz', data.length), 'latin1'), data, Buffer.alloc(data.length % 2, 0x0a)]);
    const [a, b] = pair('bomb-deb', deb(Buffer.from('x')), deb(bomb));
    const r = expectClean(runCapped([a, b, '--json', '-', '--jobs', '1', '--max-decoded', '16'], 60_000), 60_000);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/limit/);
  });

  it('20,000 empty members under a cap of 1,000 entries', () => {
    let s = '!<arch>\n';
    for (let i = 0; i < 20000; i++) s += arHeader(`m${i}/`, 0);
    const [a, b] = pair('many', Buffer.from('!<arch>\n' + arHeader('m0/', 0), 'latin1'), Buffer.from(s, 'latin1'));
    const r = expectClean(runCapped([a, b, '--json', '-', '--jobs', '1', '--max-entries', '1000']));
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/more than 1000 ar members/);
  });
});

describe('bzip2', () => {
  it.skipIf(!hasTool('bzip2'))('a bomb, a truncated stream and flipped bits', () => {
    const sh = (c: string): Buffer => execFileSync('sh', ['-c', c], { maxBuffer: 1 << 26 });
    const small = sh('printf "hello world\\n" | bzip2 -9');
    const bomb = sh('head -c 300000000 /dev/zero | bzip2 -9');
    const [a, b] = pair('bz-bomb', small, bomb);
    // an input that is itself a bomb is not examined, as a nested one is: the report names the limit
    const r = expectClean(runCapped([a, b, '--json', '-', '--jobs', '1', '--max-decoded', '32'], 60_000), 60_000);
    expect(r.status, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as { findings: { kind: string; path: string; detail?: string }[] };
    expect(report.findings.find((x) => x.kind === 'unknown' && x.path === '/')?.detail).toMatch(/^not examined: .*over the limit/);
    const [c, d] = pair('bz-trunc', small, small.subarray(0, small.length - 5));
    expectClean(runCapped([c, d, '--json', '-', '--jobs', '1']));
    const flipped = Buffer.from(small);
    flipped[20] = flipped[20]! ^ 0xff;
    const [e, f] = pair('bz-flip', small, flipped);
    const rf = expectClean(runCapped([e, f, '--json', '-', '--jobs', '1']));
    expect(rf.status).not.toBe(0);
  });
});

describe('binary cpio and pyc', () => {
  const bin = (namesize: number, filesize: number): Buffer => {
    const h = Buffer.alloc(26);
    [0o070707, 1, 1, 0o100644, 0, 0, 1, 0, 0x5f00, 0, namesize, filesize >>> 16, filesize & 0xffff].forEach((v, i) => h.writeUInt16LE(v, i * 2));
    return Buffer.concat([h, Buffer.from('a\0'), Buffer.from('data')]);
  };
  it('a binary cpio member claiming 4 GB, and a name size past the end', () => {
    const good = Buffer.concat([bin(2, 4), Buffer.alloc(32)]);
    for (const [name, evil] of [['bin-huge', bin(2, 0xffffffff)], ['bin-name', bin(0xffff, 4)]] as const) {
      const [a, b] = pair(name, good, Buffer.concat([evil, Buffer.alloc(32)]));
      expectClean(runCapped([a, b, '--json', '-', '--jobs', '1']));
    }
  });
  it('a pyc header cut short, and one with undefined flags', () => {
    const good = Buffer.from([0xa7, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0, 1, 2, 3, 4, 5, 0, 0, 0, 0xe3, 0, 0, 0]);
    const [a, b] = pair('pyc-short', good, good.subarray(0, 10));
    expectClean(runCapped([a, b, '--json', '-', '--jobs', '1']));
    const flags = Buffer.from(good);
    flags[4] = 0xfc;
    const [c, d] = pair('pyc-flags', good, flags);
    expectClean(runCapped([c, d, '--json', '-', '--jobs', '1']));
  });
});
