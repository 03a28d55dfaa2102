/**
 * Crafted hostile ext4 images, patched from images mkfs.ext4 makes here (offsets found with debugfs): truncated
 * superblocks, absurd inode counts, extent tree loops and depth bombs, hash tree depth bombs and loops, and
 * directory records that do not advance. Each must end with exit 0/1/2, a clear message, no trace, in time.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ext4Format } from '../../src/formats/ext4/index.js';
import { BufferSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import { ReprodiffError } from '../../src/errors.js';
import type { Container } from '../../src/model.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { expectClean, runCapped } from './harness.js';

const { dir, cleanup } = scratch('reprodiff-hostile-ext4-');
afterAll(() => cleanup());
const can = hasTool('mkfs.ext4') && hasTool('debugfs') && hasTool('e2fsck');
const BS = 1024;
let img = '';
let base: Buffer;

/** Opens in-process too: a typed error or a container, never anything else, and every entry's fields read. */
function openHere(b: Buffer): Container | ReprodiffError {
  try {
    const c = ext4Format.open(new BufferSource('hostile', b), { limits: { ...DEFAULT_LIMITS } }) as Container;
    for (const e of c.entries) {
      void e.fields;
      if (e.contentSource) e.contentSource.read(0, e.size);
    }
    return c;
  } catch (e) {
    if (e instanceof ReprodiffError) return e;
    throw e;
  }
}

function check(name: string, b: Buffer): Container | ReprodiffError {
  const f = join(dir, name);
  writeFileSync(f, b);
  expectClean(runCapped(['inspect', f]));
  expectClean(runCapped([img, f, '--json', '-']));
  return openHere(b);
}

function debugfs(cmd: string): string {
  return run('debugfs', ['-R', cmd, img]);
}

/** The byte offset of an inode, from debugfs imap. */
function inodeAt(path: string): number {
  const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(debugfs(`imap ${path}`))!;
  return Number(m[1]) * BS + parseInt(m[2]!, 16);
}

describe.skipIf(!can)('ext4', () => {
  beforeAll(() => {
    const t = join(dir, 'tree');
    mkdirSync(join(t, 'many'), { recursive: true });
    mkdirSync(join(t, 'etc'), { recursive: true });
    writeFileSync(join(t, 'etc/motd'), 'hello\n');
    for (let i = 0; i < 300; i++) writeFileSync(join(t, 'many', `entry-with-a-fairly-long-name-${i}.txt`), `${i}\n`);
    // zero gaps become holes: many extents, so an extent block below the inode
    const sparse = Buffer.alloc(40 * 8 * BS);
    for (let i = 0; i < 40; i++) sparse.fill(i + 1, i * 8 * BS, i * 8 * BS + 4 * BS);
    writeFileSync(join(t, 'sparse.bin'), sparse);
    img = join(dir, 'base.img');
    run('mkfs.ext4', ['-q', '-F', '-b', String(BS), '-d', t, img, '8M']);
    run('sh', ['-c', `e2fsck -fyD ${img} >/dev/null 2>&1; test $? -le 1`]);
    base = readFileSync(img);
  });

  it('a superblock cut short, and an image that ends after its superblock', () => {
    expect(check('cut-super.img', base.subarray(0, 1024 + 300))).toBeInstanceOf(ReprodiffError);
    const r = check('cut-gdt.img', base.subarray(0, 2048));
    expect(r).toBeInstanceOf(ReprodiffError);
  });

  it('an inode count and inodes per group far past what the groups hold', () => {
    const b = Buffer.from(base);
    b.writeUInt32LE(0xffffffff, 1024 + 0x0); // s_inodes_count
    check('inodes-count.img', b);
    const c = Buffer.from(base);
    c.writeUInt32LE(0x7fffffff, 1024 + 0x28); // s_inodes_per_group
    expect(check('inodes-per-group.img', c)).toBeInstanceOf(ReprodiffError);
    // a directory record naming inode 4 billion
    const d = Buffer.from(base);
    const etc = Number(debugfs('bmap /etc 0').trim());
    d.writeUInt32LE(0xfffffff0, etc * BS + 24); // the record after '.' and '..' (12 bytes each)
    const r = check('dirent-inode.img', d);
    expect(r).not.toBeInstanceOf(ReprodiffError);
  });

  it('an extent tree that points at itself, and one that claims depth 65535', () => {
    const m = /\(ETB0\):(\d+)/.exec(debugfs('stat /sparse.bin'));
    expect(m).not.toBeNull();
    const etb = Number(m![1]) * BS;
    const b = Buffer.from(base);
    // the leaf block becomes an index node whose every entry points at the block itself
    b.writeUInt16LE(1, etb + 6); // eh_depth
    const entries = b.readUInt16LE(etb + 2);
    for (let i = 0; i < entries; i++) {
      b.writeUInt32LE(Number(m![1]), etb + 12 + i * 12 + 4); // ei_leaf_lo
      b.writeUInt16LE(0, etb + 12 + i * 12 + 8); // ei_leaf_hi
    }
    // and the inode's root says depth 2, so depth 1 below it is consistent
    const ino = inodeAt('/sparse.bin');
    b.writeUInt16LE(2, ino + 0x28 + 6);
    const c = check('extent-loop.img', b);
    expect(c).not.toBeInstanceOf(ReprodiffError);
    expect((c as Container).notes.join('\n')).toMatch(/extent/);
    const d = Buffer.from(base);
    d.writeUInt16LE(0xffff, ino + 0x28 + 6);
    const e = check('extent-depth.img', d) as Container;
    expect(e.notes.join('\n')).toMatch(/depth 65535/);
  });

  it('a hash tree root claiming 200 levels, and a hash tree node pointing back at the root', () => {
    const root = Number(debugfs('bmap /many 0').trim()) * BS;
    const b = Buffer.from(base);
    expect(b.readUInt8(root + 0x1d)).toBe(8); // info_length: this is a dx_root
    b.writeUInt8(200, root + 0x1e); // indirect_levels
    const c = check('htree-depth.img', b) as Container;
    expect(c.notes.join('\n')).toMatch(/hash tree root is not valid/);
    expect(c.entries.filter((e) => e.path.startsWith('/many/')).length).toBe(300);
    const d = Buffer.from(base);
    d.writeUInt8(1, root + 0x1e); // one level of dx_node below the root...
    const count = d.readUInt16LE(root + 0x22);
    for (let i = 0; i < count; i++) d.writeUInt32LE(0, root + 0x20 + i * 8 + 4); // ...and every entry points at block 0
    const e = check('htree-loop.img', d) as Container;
    expect(e.notes.join('\n')).toMatch(/a loop/);
  });

  it('a directory record with rec_len 0 (no advance)', () => {
    const etc = Number(debugfs('bmap /etc 0').trim()) * BS;
    const b = Buffer.from(base);
    b.writeUInt16LE(0, etc + 4); // rec_len of '.'
    const c = check('reclen0.img', b) as Container;
    expect(c.notes.join('\n')).toMatch(/rec_len 0/);
  });

  it('every subdirectory record pointing at the root inode (a directory loop)', () => {
    const root = Number(debugfs('bmap / 0').trim()) * BS;
    const b = Buffer.from(base);
    // the root's own records: '.', '..', then lost+found, many, etc, sparse.bin; make all name inode 2
    for (let off = 24; off < BS; ) {
      const len = b.readUInt16LE(root + off + 4);
      if (len < 8) break;
      b.writeUInt32LE(2, root + off);
      off += len;
    }
    const c = check('dirloop.img', b) as Container;
    expect(c.notes.join('\n')).toMatch(/already in the tree/);
  });
});
