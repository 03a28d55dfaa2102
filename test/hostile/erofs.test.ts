/**
 * Crafted hostile EROFS images, made from a real mkfs.erofs image: a truncated superblock, an absurd block
 * size, nids outside the image, directory name offsets out of order, a directory loop, a huge inode size.
 * Each must end with exit 0/1/2, a clear message, no trace, in time.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { expectClean, runCapped } from './harness.js';

const canErofs = hasTool('mkfs.erofs');
const { dir, cleanup } = scratch('reprodiff-hostile-erofs-');
afterAll(() => cleanup());
const SB = 1024;

let plain = Buffer.alloc(0);
let packed = Buffer.alloc(0);

/** The root directory's inode offset and where its (inline) directory block starts. */
function rootDir(b: Buffer): { inode: number; data: number; size: number } {
  const blksz = 2 ** b[SB + 12]!;
  const meta = b.readUInt32LE(SB + 40) * blksz;
  const inode = meta + b.readUInt16LE(SB + 14) * 32;
  const extended = (b.readUInt16LE(inode) & 1) === 1;
  const icount = b.readUInt16LE(inode + 2);
  const size = extended ? Number(b.readBigUInt64LE(inode + 8)) : b.readUInt32LE(inode + 8);
  expect((b.readUInt16LE(inode) >> 1) & 7).toBe(2); // flat inline: the block follows the inode
  return { inode, data: inode + (extended ? 64 : 32) + (icount ? 12 + 4 * (icount - 1) : 0), size };
}

/** The dirents of the root's block: [offset of the record, nid, nameoff, name]. */
function dirents(b: Buffer, d: { data: number; size: number }): { at: number; nid: number; name: string }[] {
  const n = b.readUInt16LE(d.data + 8) / 12;
  const out: { at: number; nid: number; name: string }[] = [];
  for (let i = 0; i < n; i++) {
    const at = d.data + i * 12;
    const off = b.readUInt16LE(at + 8);
    const end = i + 1 < n ? b.readUInt16LE(at + 20) : d.size;
    out.push({ at, nid: Number(b.readBigUInt64LE(at)), name: b.toString('latin1', d.data + off, d.data + end).replace(/\0.*$/, '') });
  }
  return out;
}

function write(name: string, b: Buffer): string {
  const f = join(dir, name);
  writeFileSync(f, b);
  return f;
}

describe.skipIf(!canErofs)('EROFS', () => {
  beforeAll(() => {
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'sub', 'inner'), { recursive: true });
    writeFileSync(join(tree, 'a.txt'), 'hello\n');
    writeFileSync(join(tree, 'sub', 'big.txt'), 'compress me '.repeat(20_000));
    run('mkfs.erofs', ['--quiet', join(dir, 'plain.erofs'), tree]);
    run('mkfs.erofs', ['--quiet', '-zlz4', join(dir, 'packed.erofs'), tree]);
    plain = readFileSync(join(dir, 'plain.erofs'));
    packed = readFileSync(join(dir, 'packed.erofs'));
  });

  it('a superblock cut short', () => {
    const r = expectClean(runCapped(['inspect', write('short.erofs', plain.subarray(0, SB + 60))]));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/erofs superblock/);
    // the superblock whole, the inodes cut off
    expect(expectClean(runCapped(['inspect', write('cut.erofs', plain.subarray(0, 4096))])).status).toBe(2);
  });

  it('blkszbits of 40', () => {
    const b = Buffer.from(plain);
    b[SB + 12] = 40;
    const r = expectClean(runCapped(['inspect', write('blksz.erofs', b)]));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/block size/);
  });

  it('a block size the image was not made with (64 KiB): extents that cover nothing are an error, not a crash', () => {
    for (const [name, img] of [
      ['plain', plain],
      ['packed', packed],
    ] as const) {
      const b = Buffer.from(img);
      b[SB + 12] = 16;
      const r = expectClean(runCapped(['inspect', write(`blksz16-${name}.erofs`, b)]));
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).not.toMatch(/internal error/);
    }
  });

  it('a root nid and a directory entry nid outside the image', () => {
    const b = Buffer.from(plain);
    b.writeUInt16LE(0xffff, SB + 14);
    expect(expectClean(runCapped(['inspect', write('rootnid.erofs', b)])).stderr).toMatch(/nid 65535/);
    const c = Buffer.from(plain);
    const e = dirents(c, rootDir(c)).find((x) => x.name === 'a.txt')!;
    c.writeBigUInt64LE(0xffffffffffn, e.at);
    expect(expectClean(runCapped(['inspect', write('direntnid.erofs', c)])).stderr).toMatch(/outside the image/);
  });

  it('directory name offsets out of order and overlapping', () => {
    const b = Buffer.from(plain);
    const d = rootDir(b);
    const list = dirents(b, d);
    expect(list.length).toBeGreaterThanOrEqual(4);
    const x = b.readUInt16LE(list[2]!.at + 8);
    b.writeUInt16LE(b.readUInt16LE(list[3]!.at + 8), list[2]!.at + 8);
    b.writeUInt16LE(x, list[3]!.at + 8);
    expect(expectClean(runCapped(['inspect', write('nameoff.erofs', b)])).status).toBe(2);
    const c = Buffer.from(plain);
    c.writeUInt16LE(c.readUInt16LE(list[1]!.at + 8), list[2]!.at + 8); // two names at one offset
    expect(expectClean(runCapped(['inspect', write('overlap.erofs', c)])).status).toBe(2);
  });

  it('a directory whose entry points at its ancestor (a loop)', () => {
    const b = Buffer.from(plain);
    const root = b.readUInt16LE(SB + 14);
    const sub = dirents(b, rootDir(b)).find((x) => x.name === 'sub')!;
    // sub/inner is sub's last entry: point it at the root
    const blksz = 2 ** b[SB + 12]!;
    const inode = b.readUInt32LE(SB + 40) * blksz + sub.nid * 32;
    const ext = (b.readUInt16LE(inode) & 1) === 1;
    const size = ext ? Number(b.readBigUInt64LE(inode + 8)) : b.readUInt32LE(inode + 8);
    const list = dirents(b, { data: inode + (ext ? 64 : 32), size });
    const inner = list.find((x) => x.name === 'inner')!;
    b.writeBigUInt64LE(BigInt(root), inner.at);
    const r = expectClean(runCapped(['inspect', write('loop.erofs', b)]));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/loop/);
  });

  it('a huge inode size, stored and compressed', () => {
    for (const [name, img] of [
      ['hugeplain.erofs', plain],
      ['hugepacked.erofs', packed],
    ] as const) {
      const b = Buffer.from(img);
      const d = rootDir(b);
      const subNid = dirents(b, d).find((x) => x.name === 'sub')!.nid;
      const blksz = 2 ** b[SB + 12]!;
      const meta = b.readUInt32LE(SB + 40) * blksz;
      const subInode = meta + subNid * 32;
      const ext = (b.readUInt16LE(subInode) & 1) === 1;
      const size = ext ? Number(b.readBigUInt64LE(subInode + 8)) : b.readUInt32LE(subInode + 8);
      const big = dirents(b, { data: subInode + (ext ? 64 : 32), size }).find((x) => x.name === 'big.txt')!;
      const at = meta + big.nid * 32;
      if ((b.readUInt16LE(at) & 1) === 1) b.writeBigUInt64LE(2n ** 52n, at + 8);
      else b.writeUInt32LE(0xffffffff, at + 8);
      const r = expectClean(runCapped(['inspect', write(name, b)]));
      expect(r.status).toBe(2);
    }
  });
});
