/** The old binary cpio format (`cpio -H bin`), in the host's byte order and byte-swapped. */
import { execFileSync } from 'node:child_process';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReprodiffError } from '../../src/errors.js';
import { BufferSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container } from '../../src/model.js';
import { cpioFormat, openCpio } from '../../src/formats/cpio/index.js';
import { hasTool, scratch } from '../helpers/tools.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const { dir, cleanup } = scratch('reprodiff-cpio-bin-');
const sh = (cmd: string): string => execFileSync('sh', ['-c', cmd], { cwd: dir, encoding: 'utf8', env: { ...process.env, TZ: 'UTC', LC_ALL: 'C' } });

beforeAll(() => {
  if (!hasTool('cpio')) return;
  sh(`mkdir -p tree/etc tree/bin && cd tree && printf 'hello\\n' > etc/hostname && printf abc > etc/odd && head -c 70001 /usr/share/common-licenses/GPL-3 > etc/big &&
      printf x > bin/one && ln bin/one bin/hardlink && ln -s ../etc/hostname bin/link && chmod 0750 bin &&
      find . -exec touch -h -d '2020-01-02 03:04:05Z' {} + && touch -d '2021-05-06 07:08:09Z' etc/odd`);
});
afterAll(() => cleanup());

/** Swaps the bytes of every 16-bit header word of a little-endian binary archive, as a big-endian host writes it. */
function byteSwap(le: Buffer): Buffer {
  const be = Buffer.from(le);
  let off = 0;
  for (;;) {
    const namesize = le.readUInt16LE(off + 20);
    const filesize = le.readUInt16LE(off + 22) * 0x10000 + le.readUInt16LE(off + 24);
    for (let w = 0; w < 26; w += 2) be.writeUInt16BE(le.readUInt16LE(off + w), off + w);
    const name = le.subarray(off + 26, off + 26 + namesize - 1).toString('latin1');
    off += 26 + namesize + (namesize % 2);
    off += filesize + (filesize % 2);
    if (name === 'TRAILER!!!') return be;
  }
}

function open(file: string): Container {
  const src = new BufferSource(file, new Uint8Array(readFileSync(join(dir, file))));
  expect(cpioFormat.detect(src)).toBeGreaterThan(0);
  return openCpio(src, ctx);
}

function listing(file: string): { perm: string; nlink: number; size: number; name: string }[] {
  return sh(`cpio -itv --quiet < ${file}`)
    .trim()
    .split('\n')
    .map((l) => {
      const m = /^(\S+)\s+(\d+)\s+\S+\s+\S+\s+(\d+)\s+\w{3}\s+\d+\s+\d{4}\s+(.*?)(?: -> .*)?$/.exec(l);
      if (!m) throw new Error(`cannot parse ${l}`);
      return { perm: m[1] as string, nlink: Number(m[2]), size: Number(m[3]), name: m[4] as string };
    });
}

function permString(mode: number): string {
  const t = { 0o040000: 'd', 0o120000: 'l' }[mode & 0o170000] ?? '-';
  const rwx = (v: number): string => `${v & 4 ? 'r' : '-'}${v & 2 ? 'w' : '-'}${v & 1 ? 'x' : '-'}`;
  return t + rwx((mode >> 6) & 7) + rwx((mode >> 3) & 7) + rwx(mode & 7);
}

describe.each(['le', 'be'])('cpio -H bin (%s)', (order) => {
  it.skipIf(!hasTool('cpio'))('lists the same members as cpio -itv, with every field where the header has it', () => {
    sh('cd tree && find . | LC_ALL=C sort | cpio -o -H bin --quiet > ../a.le');
    if (order === 'be') writeFileSync(join(dir, 'a.be'), byteSwap(readFileSync(join(dir, 'a.le'))));
    const file = `a.${order}`;
    const c = open(file);
    // GNU cpio reads byte-swapped binary archives too: its listing is the reference for both
    const ref = listing(file);
    expect(c.entries.map((e) => e.path)).toEqual(ref.map((r) => (r.name === '.' ? '/' : '/' + r.name)));
    const bytes = readFileSync(join(dir, file));
    const word = (off: number): number => (order === 'le' ? bytes.readUInt16LE(off) : bytes.readUInt16BE(off));
    c.entries.forEach((e, i) => {
      const r = ref[i]!;
      expect(permString(e.meta.mode ?? 0)).toBe(r.perm);
      expect(e.meta.nlink).toBe(r.nlink);
      expect(e.size).toBe(r.size);
      const st = lstatSync(join(dir, 'tree', e.path === '/' ? '.' : e.path));
      expect(e.meta.mtime).toBe(new Date(st.mtimeMs).toISOString().replace('.000', ''));
      expect(e.meta.uid).toBe(st.uid & 0xffff);
      const mtime = e.fields.find((f) => f.name === 'cpio.mtime')!;
      expect(mtime.spans[0]!.length).toBe(4);
      // two words, the most significant first
      const at = mtime.spans[0]!.offset;
      expect(word(at) * 0x10000 + word(at + 2)).toBe(Math.floor(st.mtimeMs / 1000));
      expect(e.fields.find((f) => f.name === 'cpio.filesize')!.spans[0]!.length).toBe(4);
      for (const f of e.fields) expect(f.spans.length, f.name).toBeGreaterThan(0);
    });
    const one = c.entries.find((e) => e.path === '/bin/one')!;
    expect(c.entries.find((e) => e.path === '/bin/hardlink')!.meta.ino).toBe(one.meta.ino);
    const big = c.entries.find((e) => e.path === '/etc/big')!;
    expect(Buffer.from(c.source.read(big.extents[0]!.offset, big.size))).toEqual(readFileSync(join(dir, 'tree/etc/big')));
    // names and odd-sized data are padded to even offsets
    expect(c.regions.some((r) => r.name === 'cpio data padding')).toBe(true);
    expect(c.fields.find((f) => f.name === 'cpio.trailer')?.value).toBe(`bin-${order}`);
    expect(c.regions.some((r) => r.name.startsWith('cpio padding after archive'))).toBe(true);
  });
});

describe('hostile binary cpio', () => {
  const hdr = (name: string, size: number, o: { namesize?: number } = {}): Buffer => {
    const h = Buffer.alloc(26);
    const words = [0o070707, 1, 1, 0o100644, 0, 0, 1, 0, 0x5f00, 0, o.namesize ?? name.length + 1, size >>> 16, size & 0xffff];
    words.forEach((v, i) => h.writeUInt16LE(v, i * 2));
    const n = Buffer.concat([Buffer.from(name), Buffer.from([0])]);
    return Buffer.concat([h, n, Buffer.alloc((26 + n.length) % 2)]);
  };
  it('a member claiming 4 GB, a name past the end, a truncated header', () => {
    const big = new BufferSource('big.cpio', new Uint8Array(Buffer.concat([hdr('a', 0xffffffff), Buffer.alloc(32)])));
    expect(() => openCpio(big, ctx)).toThrow(ReprodiffError);
    const name = new Uint8Array(Buffer.concat([hdr('a', 0, { namesize: 60000 }), Buffer.alloc(8)]));
    expect(cpioFormat.detect(new BufferSource('n.cpio', name))).toBe(0);
    expect(() => openCpio(new BufferSource('n.cpio', name), ctx)).toThrow(ReprodiffError);
    const t = new Uint8Array(hdr('abc', 0).subarray(0, 20));
    expect(cpioFormat.detect(new BufferSource('t.cpio', t))).toBe(0);
  });
  it('two magic bytes alone do not make a cpio archive', () => {
    const noise = new Uint8Array(64).fill(0x41);
    noise[0] = 0xc7;
    noise[1] = 0x71;
    expect(cpioFormat.detect(new BufferSource('x', noise))).toBe(0);
  });
});
