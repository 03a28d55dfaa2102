/**
 * Hostile or huge inputs end in a clean exit with a message, in bounded time and memory (peak RSS measured in
 * the child by /usr/bin/time): a nested zip member that lies about its size or holds a corrupt deflate stream
 * stops only itself in inspect as in a compare; --max-entry-seconds bounds the decoding of an input itself; an
 * xz file whose indexes declare more than --max-decoded is stopped before decoding; sparse inputs are read
 * with O_DIRECT, so their holes cost no page-cache work. The big variants (1,000 MB zip members, 4 GB of
 * zeros in xz, 50 GB sparse files) are rows of `node bench/scaling.mjs`.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { deflateRawSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { hasTool, scratch } from '../helpers/tools.js';
import { expectClean, hasTime, measured, runCapped } from './harness.js';
import type { Report } from '../../src/report/types.js';
import type { InspectResult } from '../../src/inspect.js';

const { dir, cleanup } = scratch('reprodiff-bounded-');
afterAll(() => cleanup());

/** A one-member deflated zip, its declared uncompressed size and compressed bytes as given. */
function zip(name: string, data: Buffer, opts: { declare?: number; corrupt?: boolean } = {}): Buffer {
  const raw = Buffer.from(deflateRawSync(data));
  if (opts.corrupt) for (let i = 0; i < 8; i++) raw[i]! ^= 0x5a;
  const n = Buffer.from(name);
  const size = opts.declare ?? data.length;
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8);
  local.writeUInt32LE(raw.length, 18);
  local.writeUInt32LE(size, 22);
  local.writeUInt16LE(n.length, 26);
  const cd = Buffer.alloc(46);
  cd.writeUInt32LE(0x02014b50, 0);
  cd.writeUInt16LE(20, 4);
  cd.writeUInt16LE(20, 6);
  cd.writeUInt16LE(8, 10);
  cd.writeUInt32LE(raw.length, 20);
  cd.writeUInt32LE(size, 24);
  cd.writeUInt16LE(n.length, 28);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + n.length, 12);
  end.writeUInt32LE(30 + n.length + raw.length, 16);
  return Buffer.concat([local, n, raw, cd, n, end]);
}

/** A ustar archive of the members, in order. */
function tar(members: [string, Buffer][]): Buffer {
  const out: Buffer[] = [];
  for (const [name, data] of members) {
    const h = Buffer.alloc(512);
    h.write(name, 0);
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
    h.write('00000000000\0', 136);
    h.write('        ', 148);
    h.write('0', 156);
    h.write('ustar\x0000', 257);
    let sum = 0;
    for (const c of h) sum += c;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    out.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

describe('a bad member inside a nested zip', () => {
  const text = Buffer.from('hello world\n'.repeat(1000));
  const good = join(dir, 'good.tar');
  const lies = join(dir, 'lies.tar');
  const corrupt = join(dir, 'corrupt.tar');
  const other = Buffer.from('same\n');

  it('declaring 4,294,967,280 bytes, or holding a corrupt deflate stream, is one finding of a compare (exit 1)', () => {
    for (const [p, z] of [
      [good, zip('m.bin', text)],
      [lies, zip('m.bin', text, { declare: 4_294_967_280 })],
      [corrupt, zip('m.bin', text, { corrupt: true })],
    ] as const) {
      writeFileSync(p, tar([['x.zip', z], ['ok.txt', other]]));
    }
    for (const bad of [lies, corrupt]) {
      const r = expectClean(runCapped([good, bad, '--json', '-', '--jobs', '1']));
      expect(r.status, r.stderr).toBe(1);
      const report = JSON.parse(r.stdout) as Report;
      expect(new Set(report.findings.map((f) => f.path))).toEqual(new Set(['/x.zip//m.bin']));
    }
  });

  it('inspect lists the archive, names the entry it could not read, and exits 0', () => {
    for (const [bad, why] of [
      [lies, /declares 4294967280 bytes, over the limit/],
      [corrupt, /corrupt deflate data/],
    ] as const) {
      const out = join(dir, 'inspect.json');
      const r = expectClean(runCapped(['inspect', bad, '--json', out, '--jobs', '1']));
      // before, the failed hash of the nested member stopped the whole listing with exit 2
      expect(r.status, r.stderr).toBe(0);
      const listing = JSON.parse(readFileSync(out, 'utf8')) as InspectResult;
      const member = listing.entries.find((e) => e.path === '/x.zip//m.bin');
      expect(member?.sha256).toBeUndefined();
      expect(member?.unreadable).toMatch(why);
      expect(listing.entries.find((e) => e.path === '/ok.txt')?.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(listing.notes.some((n) => n.startsWith('/x.zip//m.bin: not hashed:') && why.test(n))).toBe(true);
      expect(r.stdout).toMatch(/note: \/x\.zip\/\/m\.bin: not hashed/);
    }
  });
});

describe('nesting past the depth limit', () => {
  it('inspect of 40 nested gzip layers and of a 40-deep chain of zips lists 8 levels and says where it stopped', () => {
    let gz: Buffer = Buffer.from('hello\n');
    for (let i = 0; i < 40; i++) gz = gzipSync(gz);
    let z: Buffer = Buffer.from('hello\n');
    for (let i = 0; i < 40; i++) z = zip('inner', z);
    for (const [name, data, deepest] of [
      ['deep.gz', gz, '/'],
      ['deep.zip', z, '/inner//inner//inner//inner//inner//inner//inner//inner//inner'],
    ] as const) {
      const f = join(dir, name);
      writeFileSync(f, data);
      const out = join(dir, `${name}.json`);
      const r = expectClean(runCapped(['inspect', f, '--json', out]));
      expect(r.status).toBe(0);
      const listing = JSON.parse(readFileSync(out, 'utf8')) as InspectResult;
      expect(listing.notes).toContain(`${deepest}: nesting deeper than 8 levels is not opened (limit maxDepth; raise --max-depth)`);
      expect(r.stdout).toMatch(/note: .*nesting deeper than 8 levels is not opened/);
    }
  });
});

/** `mb` MiB of zeros and `tail` through `xz -1` into `name`. */
function xzZeros(name: string, mb: number, tail: string): string {
  const path = join(dir, name);
  const r = spawnSync('sh', ['-c', `{ head -c ${mb}M /dev/zero; printf '${tail}'; } | xz -1 -T1 > '${path}'`], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return path;
}

describe.skipIf(!hasTool('xz') || !hasTime)('limits on an input itself', () => {
  it('--max-entry-seconds stops the decoding of an xz input, not only of an entry inside one', () => {
    // 512 MiB: about 2 s a side to decode here, twice the limit (256 MiB took about 1 s, and passed or not by chance)
    const a = xzZeros('t-a.xz', 512, 'a');
    const b = xzZeros('t-b.xz', 512, 'b');
    const r = measured([a, b, '--max-entry-seconds', '1', '--json', '-', '--jobs', '1']);
    expect(r.status, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.notes.some((n) => /time limit reached: decoding took over 1 s/.test(n)), report.notes.join('\n')).toBe(true);
    const f = report.findings.find((x) => x.path === '/' && x.kind === 'unknown');
    expect(f?.detail).toMatch(/not examined: time limit reached/);
    expect(report.bytes.unexplained).toBeGreaterThan(0);
    // the limit ends each side after one second
    expect(r.ms).toBeLessThan(20_000);
    expect(r.rssMb).toBeLessThan(200);
  });

  it('an xz input whose index declares more than --max-decoded is stopped before it is decoded', () => {
    const a = xzZeros('d-a.xz', 64, 'a');
    const b = xzZeros('d-b.xz', 64, 'b');
    const r = measured([a, b, '--max-decoded', '16', '--json', '-', '--jobs', '1']);
    expect(r.status, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.notes.some((n) => /xz index: its indexes declare 67108865 decoded bytes, over the limit of 16777216/.test(n)), report.notes.join('\n')).toBe(true);
    expect(r.rssMb).toBeLessThan(150);
    // inspect says the same, as the input's own error
    const i = measured(['inspect', a, '--max-decoded', '16']);
    expect(i.status).toBe(2);
    expect(i.stderr).toMatch(/^reprodiff: .*d-a\.xz: xz index: its indexes declare 67108865 decoded bytes/m);
  });
});

describe('sparse inputs', () => {
  /** A sparse file of `mb` MiB with `data` written at each offset. */
  function sparse(name: string, mb: number, writes: [number, Buffer][]): string {
    const path = join(dir, name);
    const fd = openSync(path, 'w');
    for (const [at, data] of writes) writeSync(fd, data, 0, data.length, at);
    closeSync(fd);
    spawnSync('truncate', ['-s', `${mb}M`, path]);
    return path;
  }
  const noise = (n: number, seed: number): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + ((i * seed) >> 3)) & 0xff));

  it('differing data in the middle of two mostly-hole files is found exactly, as cmp finds it', () => {
    const a = sparse('sa.img', 192, [[100 << 20, noise(3 << 20, 1)], [(192 << 20) - 5, Buffer.from('tail!')]]);
    const b = sparse('sb.img', 192, [[100 << 20, noise(3 << 20, 2)], [(192 << 20) - 5, Buffer.from('tail?')]]);
    const cmp = spawnSync('sh', ['-c', `cmp -l '${a}' '${b}' | wc -l`], { encoding: 'utf8' });
    const r = expectClean(runCapped([a, b, '--json', '-', '--jobs', '2']));
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.bytes.differing).toBe(Number(cmp.stdout.trim()));
    expect(report.bytes.differing).toBeGreaterThan(1 << 20);
  });

  it.skipIf(!hasTool('strace'))('a mostly-hole input is read with O_DIRECT, a file with its blocks allocated is not', () => {
    const a = sparse('oa.img', 96, [[1 << 20, Buffer.from('a')]]);
    const b = sparse('ob.img', 96, [[1 << 20, Buffer.from('b')]]);
    const full = join(dir, 'full.img');
    spawnSync('sh', ['-c', `head -c 96M /dev/zero > '${full}'`]);
    const log = join(dir, 'sparse.strace');
    const t = spawnSync('strace', ['-f', '-qq', '-o', log, '-e', 'trace=openat', process.execPath, BIN, a, full, '-q'], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(1);
    const opens = readFileSync(log, 'utf8').split('\n');
    expect(opens.some((l) => l.includes(`"${a}"`) && l.includes('O_DIRECT'))).toBe(true);
    expect(opens.some((l) => l.includes(`"${full}"`) && l.includes('O_DIRECT'))).toBe(false);
    // the same bytes as with ordinary reads: one differing byte at 1 MiB
    const r = expectClean(runCapped([a, b, '--json', '-']));
    const report = JSON.parse(r.stdout) as Report;
    expect(report.bytes.differing).toBe(1);
    expect(report.findings[0]?.spans[0]).toMatchObject({ offset: 1 << 20, length: 1 });
  });
});
