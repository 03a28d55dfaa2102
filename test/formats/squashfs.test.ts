import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decompress } from '../../src/codec/index.js';
import { ReprodiffError } from '../../src/errors.js';
import { FileSource } from '../../src/io/file.js';
import { BufferSource } from '../../src/io/source.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container, Entry } from '../../src/model.js';
import { SquashfsFileSource, squashfsFormat } from '../../src/formats/squashfs/index.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { mutations } from '../helpers/mutate.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const utc = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };
const canMksquashfs = hasTool('mksquashfs') && hasTool('unsquashfs');

/** Compressors this mksquashfs was built with (its -help lists them one per line, tab-indented). */
function mksquashfsCompressors(): Set<string> {
  if (!canMksquashfs) return new Set();
  const r = spawnSync('mksquashfs', ['-help'], { encoding: 'utf8' });
  const help = `${r.stdout}${r.stderr}`;
  const list = help.slice(help.indexOf('Compressors available'));
  return new Set([...list.matchAll(/^\t(\w+)(?: \(default\))?$/gm)].map((m) => m[1] as string));
}
const compressors = mksquashfsCompressors();

/** True when the codec layer has no lzo decoder (the opaque-content cases need one that is missing). */
function noLzoDecoder(): boolean {
  try {
    decompress('lzo', new Uint8Array(0), { maxOutput: 1 });
  } catch (e) {
    return e instanceof ReprodiffError && e.code === 'E_UNSUPPORTED';
  }
  return false;
}
const lzoOpaque = compressors.has('lzo') && noLzoDecoder();

function modeString(e: Entry): string {
  const t = { file: '-', dir: 'd', symlink: 'l', chardev: 'c', blockdev: 'b', fifo: 'p', socket: 's', other: '?' }[e.type];
  const m = e.meta.mode ?? 0;
  const rwx = (v: number, s: boolean, sc: string): string =>
    (v & 4 ? 'r' : '-') + (v & 2 ? 'w' : '-') + (s ? (v & 1 ? sc : sc.toUpperCase()) : v & 1 ? 'x' : '-');
  return t + rwx(m >> 6, !!(m & 0o4000), 's') + rwx(m >> 3, !!(m & 0o2000), 's') + rwx(m, !!(m & 0o1000), 't');
}

function value(e: Entry, name: string): unknown {
  return e.fields.find((f) => f.name === name)?.value;
}

/** `unsquashfs -lln -UTC` lines as our listing would print them (sizes as the inode stores them, minutes). */
function ourListing(c: Container): string[] {
  return c.entries.map((e) => {
    const date = (e.meta.mtime ?? '').slice(0, 16).replace('T', ' ');
    let size = String(value(e, 'squashfs.inode.size') ?? 0);
    if (e.type === 'chardev' || e.type === 'blockdev') size = String(value(e, 'squashfs.inode.device')).replace(':', ',');
    const name = 'squashfs-root' + (e.path === '/' ? '' : e.path);
    return `${modeString(e)} ${e.meta.uid}/${e.meta.gid} ${size} ${date} ${name}${e.type === 'symlink' ? ` -> ${e.meta.target}` : ''}`;
  });
}

function toolListing(path: string): string[] {
  return run('unsquashfs', ['-lln', '-UTC', path], { env: utc })
    .trim()
    .split('\n')
    .map((l) => l.replace(/(\d+), +(\d+)/, '$1,$2').replace(/ +/g, ' '));
}

/** Total stored bytes of a file's data blocks. */
function list0(e: Entry): number {
  return String(value(e, 'squashfs.inode.block_list'))
    .split(',')
    .reduce((n, x) => n + (Number(x) & 0xffffff), 0);
}

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('squashfs written by mksquashfs', () => {
  let dir = '';
  let cleanup = (): void => {};
  let tree = '';
  beforeAll(() => {
    ({ dir, cleanup } = scratch());
    tree = join(dir, 'tree');
    mkdirSync(join(tree, 'etc', 'deep', 'deeper'), { recursive: true });
    mkdirSync(join(tree, 'many'));
    writeFileSync(join(tree, 'empty'), '');
    writeFileSync(join(tree, 'etc', 'hostname'), 'builder\n');
    writeFileSync(join(tree, 'etc', 'deep', 'deeper', 'tail.bin'), randomBytes(3 * 131072 + 1234));
    writeFileSync(join(tree, 'exact.bin'), randomBytes(131072));
    writeFileSync(join(tree, 'zeros.bin'), Buffer.alloc(3 * 131072 + 77)); // sparse blocks
    writeFileSync(join(tree, 'text.txt'), 'squash me '.repeat(50_000));
    symlinkSync('etc/hostname', join(tree, 'link'));
    linkSync(join(tree, 'etc', 'hostname'), join(tree, 'hard'));
    if (hasTool('mkfifo')) run('mkfifo', [join(tree, 'fifo')]);
    // over 256 entries: several directory headers, and a listing large enough for an indexed directory
    for (let i = 0; i < 700; i++) writeFileSync(join(tree, 'many', `file-with-a-longish-name-${String(i).padStart(4, '0')}`), `${i}\n`);
    run('chmod', ['4755', join(tree, 'text.txt')]);
    // other owners (a second and third id table entry) and a device, when we may make them
    try {
      run('chown', ['1000:2000', join(tree, 'etc', 'hostname')]);
      run('mknod', [join(tree, 'null'), 'c', '1', '3']);
    } catch {
      // unprivileged: those cases are skipped
    }
    utimesSync(join(tree, 'etc', 'hostname'), 1_600_000_000, 1_600_000_000);
  });
  afterAll(() => cleanup());

  for (const comp of ['gzip', 'xz', 'zstd', 'lz4', 'lzma']) {
    it.skipIf(!compressors.has(comp))(`lists and reads a -comp ${comp} image as unsquashfs does`, async () => {
      const img = join(dir, `${comp}.sqfs`);
      run('mksquashfs', [tree, img, '-noappend', '-quiet', '-comp', comp], { env: utc });
      const src = new FileSource(img);
      expect(squashfsFormat.detect(src)).toBeGreaterThan(0);
      const c = await squashfsFormat.open(src, ctx);
      expect(c.notes).toEqual([]);
      expect(c.fields.find((f) => f.name === 'squashfs.super.compression')?.value).toBe(comp);
      expect(ourListing(c).sort()).toEqual(toolListing(img).sort());
      // every file's decoded content matches the file it came from
      for (const e of c.entries) {
        if (e.type !== 'file') continue;
        const want = readFileSync(join(tree, e.path));
        expect(e.size).toBe(want.length);
        if (e.size === 0) continue;
        expect(e.contentSource).toBeInstanceOf(SquashfsFileSource);
        expect(e.contentSource?.stream).toBe(`${img}#squashfs:${e.meta.ino}`);
        // read through into a buffer (whole blocks pass by the cache), from the start and from an odd offset,
        // before anything of the file is cached
        const whole = new Uint8Array(e.size);
        e.contentSource?.readInto?.(0, whole);
        expect(sha(whole), `${comp} ${e.path} readInto`).toBe(sha(want));
        if (e.size > 131072) {
          const part = new Uint8Array(e.size - 1000);
          e.contentSource?.readInto?.(1000, part);
          expect(sha(part), `${comp} ${e.path} readInto at 1000`).toBe(sha(want.subarray(1000)));
          expect(sha(e.contentSource?.read(131072, e.size - 131072) ?? new Uint8Array())).toBe(sha(want.subarray(131072)));
        }
        expect(sha(e.contentSource?.read(0, e.size) ?? new Uint8Array())).toBe(sha(want));
      }
      const tail = c.entries.find((e) => e.path === '/etc/deep/deeper/tail.bin');
      const cs = tail?.contentSource as SquashfsFileSource;
      // a read across a block boundary and into the fragment
      expect(sha(cs.read(131000, 3 * 131072 + 1234 - 131000))).toBe(sha(readFileSync(join(tree, 'etc/deep/deeper/tail.bin')).subarray(131000)));
      expect(cs.origin[0]?.offset).toBe(value(tail as Entry, 'squashfs.inode.blocks_start'));
      expect(cs.origin[0]?.length).toBe(list0(tail as Entry));
      expect(cs.originAt(0)[0]?.offset).toBe(value(tail as Entry, 'squashfs.inode.blocks_start'));
      // mksquashfs keeps the tail of a file larger than a block in its own block (no -tailends)
      const list = String(value(tail as Entry, 'squashfs.inode.block_list')).split(',').map((x) => Number(x) & 0xffffff);
      expect(list).toHaveLength(4);
      expect(cs.originAt(3 * 131072 + 5)[0]?.offset).toBe(Number(value(tail as Entry, 'squashfs.inode.blocks_start')) + (list[0] ?? 0) + (list[1] ?? 0) + (list[2] ?? 0));
      const small = c.entries.find((e) => e.path === '/etc/hostname') as Entry;
      const frag = Number(value(small, 'squashfs.fragment.start'));
      expect(frag).toBeGreaterThan(0);
      expect((small.contentSource as SquashfsFileSource).originAt(3)).toEqual([{ offset: frag, length: value(small, 'squashfs.fragment.size') }]);
      const zeros = c.entries.find((e) => e.path === '/zeros.bin') as Entry;
      expect(String(value(zeros, 'squashfs.inode.block_list'))).toBe('0,0,0,0');
      expect((zeros.contentSource as SquashfsFileSource).originAt(10)).toEqual([]);
      const host = c.entries.find((e) => e.path === '/etc/hostname') as Entry;
      expect(host.meta.nlink).toBe(2);
      const mt = host.fields.find((f) => f.name === 'squashfs.inode.mtime');
      expect(mt?.value).toBe('2020-09-13T12:26:40Z');
      expect(mt?.kind).toBe('timestamp');
      expect(mt?.hint).toContain('SOURCE_DATE_EPOCH');
      // basic and extended inodes: the 700-entry directory is indexed (ldir), hard-linked files are lreg
      const types = new Set(c.entries.map((e) => value(e, 'squashfs.inode.type')));
      expect(types).toContain(8);
      expect(types).toContain(9);
      expect(types).toContain(1);
      expect(types).toContain(2);
      expect(types).toContain(3);
      const many = c.entries.filter((e) => e.path.startsWith('/many/'));
      expect(many).toHaveLength(700);
      expect(many.filter((e) => e.fields.some((f) => f.name === 'squashfs.dirhdr.count')).length).toBeGreaterThan(2);
      // every byte of the image is a region or an encoded data/fragment block of some file, each claimed once
      const claimed = new Map<number, number>();
      for (const r of c.regions) for (const s of r.spans) claimed.set(s.offset, s.length);
      for (const e of c.entries) {
        if (!(e.contentSource instanceof SquashfsFileSource)) continue;
        for (let off = 0; off < e.size; off += 131072) for (const s of e.contentSource.originAt(off)) claimed.set(s.offset, s.length);
      }
      const sorted = [...claimed].sort((x, y) => x[0] - y[0]);
      let pos = 0;
      for (const [off, len] of sorted) {
        expect(off).toBe(pos);
        pos = off + len;
      }
      expect(pos).toBe(src.size);
    });
  }

  it.skipIf(!canMksquashfs)('shows the mkfs_time of two builds made seconds apart, and SOURCE_DATE_EPOCH fixing it', async () => {
    const a = join(dir, 'a.sqfs');
    const b = join(dir, 'b.sqfs');
    const small = join(dir, 'small');
    mkdirSync(small);
    writeFileSync(join(small, 'f'), 'x');
    utimesSync(join(small, 'f'), 1_600_000_000, 1_600_000_000);
    utimesSync(small, 1_600_000_000, 1_600_000_000);
    run('mksquashfs', [small, a, '-noappend', '-quiet'], { env: utc });
    await new Promise((r) => setTimeout(r, 1100));
    run('mksquashfs', [small, b, '-noappend', '-quiet'], { env: utc });
    const ca = await squashfsFormat.open(new FileSource(a), ctx);
    const cb = await squashfsFormat.open(new FileSource(b), ctx);
    const t = (c: Container): unknown => c.fields.find((f) => f.name === 'squashfs.super.mkfs_time')?.value;
    expect(t(ca)).not.toBe(t(cb));
    const toolTime = (p: string): number => Number(run('unsquashfs', ['-mkfs-time', p]).trim());
    expect(t(ca)).toBe(new Date(toolTime(a) * 1000).toISOString().replace('.000Z', 'Z'));
    const f = ca.fields.find((x) => x.name === 'squashfs.super.mkfs_time');
    expect(f?.spans).toEqual([{ offset: 8, length: 4 }]);
    // with SOURCE_DATE_EPOCH Debian's mksquashfs 4.5 sets the creation time and clamps newer inode times
    const env = { ...utc, SOURCE_DATE_EPOCH: '1500000000' };
    run('mksquashfs', [small, a, '-noappend', '-quiet'], { env });
    const cs = await squashfsFormat.open(new FileSource(a), ctx);
    expect(t(cs)).toBe('2017-07-14T02:40:00Z');
    expect(cs.entries.map((e) => e.meta.mtime)).toEqual(['2017-07-14T02:40:00Z', '2017-07-14T02:40:00Z']);
  });

  it.skipIf(!canMksquashfs || !hasTool('python3'))('claims the xattr tables and records the xattr index of an inode', async () => {
    const t = join(dir, 'xattr-tree');
    mkdirSync(t);
    writeFileSync(join(t, 'f'), 'x');
    try {
      run('python3', ['-c', `import os; os.setxattr(${JSON.stringify(join(t, 'f'))}, 'user.note', b'value')`]);
    } catch {
      return; // the scratch filesystem has no user xattrs
    }
    const img = join(dir, 'xattr.sqfs');
    run('mksquashfs', [t, img, '-noappend', '-quiet'], { env: utc });
    const src = new FileSource(img);
    const c = await squashfsFormat.open(src, ctx);
    const f = c.entries.find((e) => e.path === '/f') as Entry;
    expect(value(f, 'squashfs.inode.type')).toBe(9);
    expect(value(f, 'squashfs.inode.xattr')).toBe(0);
    expect(c.fields.find((x) => x.name === 'squashfs.xattr.count')?.value).toBe(1);
    const r = c.regions.find((x) => x.name === 'squashfs xattr tables');
    const xattrStart = Number(c.fields.find((x) => x.name === 'squashfs.super.xattr_id_table_start')?.value);
    expect(r?.spans[0]?.offset).toBe(c.fields.find((x) => x.name === 'squashfs.xattr.table_start')?.value);
    expect((r?.spans[0]?.offset ?? 0) + (r?.spans[0]?.length ?? 0)).toBe(xattrStart + 16 + 8);
    expect(c.notes.join(' ')).toMatch(/extended attribute/);
    expect(ourListing(c).sort()).toEqual(toolListing(img).sort());
  });

  it.skipIf(!lzoOpaque)('lists a lzo image and marks its contents opaque when there is no lzo decoder', async () => {
    const img = join(dir, 'lzo.sqfs');
    run('mksquashfs', [tree, img, '-noappend', '-quiet', '-comp', 'lzo'], { env: utc });
    const c = await squashfsFormat.open(new FileSource(img), ctx);
    expect(c.notes.join(' ')).toMatch(/lzo/);
    // the metadata is lzo-compressed too: no listing, the whole image is one opaque region
    expect(c.entries).toEqual([]);
    expect(c.regions.some((r) => r.name === 'squashfs image (no decoder)')).toBe(true);
  });

  it.skipIf(!lzoOpaque)('lists the tree of an image with stored metadata even without a data decoder', async () => {
    const img = join(dir, 'lzo-noI.sqfs');
    run('mksquashfs', [tree, img, '-noappend', '-quiet', '-comp', 'lzo', '-noI', '-noId', '-noF'], { env: utc });
    const c = await squashfsFormat.open(new FileSource(img), ctx);
    expect(ourListing(c).sort()).toEqual(toolListing(img).sort());
    const big = c.entries.find((e) => e.path === '/text.txt');
    expect(big?.opaque).toMatch(/lzo/);
    expect(big?.extents).toEqual([]);
  });
});

/** A tiny valid image built by mksquashfs, then corrupted in memory. */
function imageBytes(dir: string, opts: string[] = []): Uint8Array {
  const t = join(dir, 'src-' + opts.join(''));
  mkdirSync(join(t, 'a', 'b'), { recursive: true });
  writeFileSync(join(t, 'a', 'f'), 'hello');
  const img = join(dir, `img${opts.join('')}.sqfs`);
  run('mksquashfs', [t, img, '-noappend', '-quiet', ...opts], { env: utc });
  return new Uint8Array(readFileSync(img));
}

async function failure(data: Uint8Array): Promise<ReprodiffError> {
  try {
    await squashfsFormat.open(new BufferSource('bad.sqfs', data), ctx);
  } catch (e) {
    expect(e).toBeInstanceOf(ReprodiffError);
    return e as ReprodiffError;
  }
  throw new Error('expected the image to be refused');
}

describe('crafted squashfs input', () => {
  let dir = '';
  let cleanup = (): void => {};
  beforeAll(() => ({ dir, cleanup } = scratch()));
  afterAll(() => cleanup());

  it.skipIf(!canMksquashfs)('refuses table offsets past the end', async () => {
    for (const off of [48, 64, 72, 80]) {
      const d = imageBytes(dir).slice();
      new DataView(d.buffer).setBigUint64(off, BigInt(d.length + 4096), true);
      expect((await failure(d)).code).toBe('E_FORMAT');
    }
  });

  it.skipIf(!canMksquashfs)('refuses a truncated image', async () => {
    const d = imageBytes(dir);
    const e = await failure(d.subarray(0, 200));
    expect(['E_FORMAT', 'E_TRUNCATED']).toContain(e.code);
  });

  it.skipIf(!canMksquashfs)('stops on a directory loop', async () => {
    // stored (uncompressed) metadata so the directory entry can be edited in place: point /a/b back at /a
    const d = imageBytes(dir, ['-noI', '-noD', '-noF', '-noId']).slice();
    const c = await squashfsFormat.open(new BufferSource('ok.sqfs', d), ctx);
    const a = c.entries.find((e) => e.path === '/a') as Entry;
    const b = c.entries.find((e) => e.path === '/a/b') as Entry;
    const aOff = a.fields.find((f) => f.name === 'squashfs.dirent.offset');
    const bOff = b.fields.find((f) => f.name === 'squashfs.dirent.offset');
    const bSpan = bOff?.spans[0];
    expect(bSpan?.stream).toBeUndefined();
    new DataView(d.buffer).setUint16(bSpan?.offset ?? 0, Number(aOff?.value), true);
    const e = await failure(d);
    expect(e.code).toBe('E_LOOP');
  });

  it.skipIf(!canMksquashfs)('refuses a metadata block header that runs past its table', async () => {
    const d = imageBytes(dir, ['-noI', '-noD', '-noF', '-noId']).slice();
    const view = new DataView(d.buffer);
    const inodeStart = Number(view.getBigUint64(64, true));
    view.setUint16(inodeStart, 0x8000 | 0x7fff, true);
    const e = await failure(d);
    expect(e.code).toBe('E_FORMAT');
    expect(e.offset).toBe(inodeStart);
  });

  it.skipIf(!canMksquashfs)('refuses absurd counts', async () => {
    const base = imageBytes(dir);
    const frag = base.slice();
    new DataView(frag.buffer).setUint32(16, 0x7fffffff, true); // fragment_entry_count
    expect((await failure(frag)).code).toBe('E_LIMIT');
    const inodes = base.slice();
    new DataView(inodes.buffer).setUint32(4, 0xffffffff, true); // inode_count, sizing the export table
    expect((await failure(inodes)).code).toBe('E_LIMIT');
  });

  it.skipIf(!canMksquashfs)('refuses a file size whose block list cannot fit in the inode table', async () => {
    const d = imageBytes(dir, ['-noI', '-noD', '-noF', '-noId']).slice();
    const c = await squashfsFormat.open(new BufferSource('ok.sqfs', d), ctx);
    const f = c.entries.find((e) => e.path === '/a/f') as Entry;
    const span = f.fields.find((x) => x.name === 'squashfs.inode.size')?.spans[0];
    expect(span?.stream).toBeUndefined();
    new DataView(d.buffer).setUint32(span?.offset ?? 0, 0x7fffffff, true);
    const e = await failure(d);
    expect(e.code).toBe('E_FORMAT');
  });

  it.skipIf(!canMksquashfs)('survives byte mutations of compressed and stored images', async () => {
    for (const opts of [[], ['-noI', '-noD', '-noF', '-noId']]) {
      const outcomes = await mutations(imageBytes(dir, opts), 300, (src) => squashfsFormat.open(src, ctx));
      expect(outcomes.ok).toBeGreaterThan(0);
      expect(outcomes.E_FORMAT ?? 0).toBeGreaterThan(0);
    }
  });

  it('rejects random bytes and an unknown version', async () => {
    expect(squashfsFormat.detect(new BufferSource('junk', new Uint8Array(4096).fill(7)))).toBe(0);
    const d = new Uint8Array(4096);
    d.set([0x68, 0x73, 0x71, 0x73]);
    d[28] = 3;
    expect(squashfsFormat.detect(new BufferSource('v3', d))).toBeGreaterThan(0);
    expect((await failure(d)).code).toBe('E_UNSUPPORTED');
  });
});

