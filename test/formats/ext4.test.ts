/**
 * ext2/3/4 images made by mkfs.ext4 -d from a tree built here, read by our parser and checked against
 * debugfs (listings, inode stats), dumpe2fs -h (superblock) and the tree itself (contents, targets).
 */
import { createHash } from 'node:crypto';
import { chownSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, linkSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReprodiffError } from '../../src/errors.js';
import { FileSource } from '../../src/io/file.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container, Entry } from '../../src/model.js';
import { ext4Format } from '../../src/formats/ext4/index.js';
import { detectFormats } from '../../src/walk/open.js';
import type { Report } from '../../src/report/types.js';
import { cli } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { mutations } from '../helpers/mutate.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const can = hasTool('mkfs.ext4') && hasTool('debugfs') && hasTool('dumpe2fs');
const utc = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };
const w = scratch('reprodiff-ext4-');
afterAll(w.cleanup);

const BLOCK = 1024;

/** A tree with a sparse multi-extent file, short and long symlinks, a hard link, a fifo, owners, and a 400-file directory. */
function makeTree(dir: string): string {
  mkdirSync(join(dir, 'etc'), { recursive: true });
  mkdirSync(join(dir, 'many'), { recursive: true });
  mkdirSync(join(dir, 'deep/a/b/c'), { recursive: true });
  writeFileSync(join(dir, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
  writeFileSync(join(dir, 'etc/motd'), 'hello\n'.repeat(500));
  writeFileSync(join(dir, 'deep/a/b/c/leaf'), 'leaf\n');
  writeFileSync(join(dir, 'empty'), '');
  // 24 runs of data with zero-filled gaps: mkfs.ext4 -d leaves zero blocks as holes, so many extents (a tree of depth 1)
  const fd = openSync(join(dir, 'sparse.bin'), 'w');
  for (let i = 0; i < 24; i++) {
    const data = Buffer.alloc(16 * BLOCK);
    for (let k = 0; k < data.length; k++) data[k] = (k * 31 + i * 7 + 1) & 0xff || 1;
    writeSync(fd, data, 0, data.length, i * 48 * BLOCK);
  }
  writeSync(fd, Buffer.from('tail'), 0, 4, 24 * 48 * BLOCK + 100);
  closeSync(fd);
  const big = Buffer.alloc(600 * 1024);
  for (let k = 0; k < big.length; k++) big[k] = (k * 2654435761) >>> 24;
  writeFileSync(join(dir, 'big.bin'), big);
  symlinkSync('etc/motd', join(dir, 'short-link'));
  const long = `${'long-directory-name/'.repeat(8)}target`;
  symlinkSync(long, join(dir, 'long-link'));
  linkSync(join(dir, 'etc/motd'), join(dir, 'motd-hardlink'));
  run('mkfifo', [join(dir, 'fifo')]);
  for (let i = 0; i < 400; i++) writeFileSync(join(dir, 'many', `entry-with-a-fairly-long-name-${String(i).padStart(4, '0')}.txt`), `file ${i}\n`);
  writeFileSync(join(dir, 'owned'), 'owned\n');
  if (process.getuid?.() === 0) chownSync(join(dir, 'owned'), 1234, 5678);
  return dir;
}

function open(path: string): Container {
  return ext4Format.open(new FileSource(path), ctx) as Container;
}

function byPath(c: Container): Map<string, Entry> {
  return new Map(c.entries.map((e) => [e.path, e]));
}

function value(e: Entry | Container, name: string): unknown {
  return e.fields.find((f) => f.name === name)?.value;
}

function sha(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function contentOf(c: Container, e: Entry): Uint8Array {
  const src = e.contentSource ?? c.source;
  return Buffer.concat(e.extents.map((x) => src.read(x.offset, x.length)));
}

/** `debugfs -R 'ls -l -p DIR'` of every directory: path -> [ino, mode (octal), uid, gid, size]. */
function debugfsListing(img: string, dirs: string[]): Map<string, [number, string, number, number, number]> {
  const out = new Map<string, [number, string, number, number, number]>();
  const cmds = join(w.dir, 'ls.cmds');
  writeFileSync(cmds, dirs.map((d) => `ls -l -p "${d}"`).join('\n') + '\n');
  const text = run('debugfs', ['-f', cmds, img], { env: utc });
  let dir = '';
  for (const line of text.split('\n')) {
    const cmd = /^debugfs: ls -l -p "(.*)"$/.exec(line);
    if (cmd) {
      dir = cmd[1]!;
      continue;
    }
    const m = /^\/(\d+)\/(\d+)\/(\d+)\/(\d+)\/(.*)\/(\d*)\/$/.exec(line);
    if (!m || m[1] === '0' || m[5] === '.' || m[5] === '..') continue;
    const path = (dir === '/' ? '' : dir) + '/' + m[5];
    // debugfs prints no size for directories
    out.set(path, [Number(m[1]), m[2]!, Number(m[3]), Number(m[4]), m[6] === '' ? -1 : Number(m[6])]);
  }
  return out;
}

/** `debugfs -R 'stat <ino>'` of many inodes in one run: ino -> the four times (seconds:extra as printed). */
function debugfsTimes(img: string, inos: number[]): Map<number, Record<string, string>> {
  const cmds = join(w.dir, 'stat.cmds');
  writeFileSync(cmds, inos.map((i) => `stat <${i}>`).join('\n') + '\n');
  const text = run('debugfs', ['-f', cmds, img], { env: utc });
  const out = new Map<number, Record<string, string>>();
  let cur: Record<string, string> | undefined;
  for (const line of text.split('\n')) {
    const ino = /^Inode: (\d+)/.exec(line);
    if (ino) out.set(Number(ino[1]), (cur = {}));
    const t = /^\s*(a|c|m|cr)time: (0x[0-9a-f]+)(?::([0-9a-f]+))?/.exec(line);
    if (t && cur) cur[t[1]!] = `${t[2]}:${t[3] ?? ''}`;
    const g = /^Generation: (\d+)/.exec(line);
    if (g && cur) cur.gen = g[1]!;
  }
  return out;
}

/** Our time value in debugfs' form: hex seconds (low 32 bits) and the extra word (epoch bits and nanoseconds). */
function asDebugfs(iso: string | undefined, withExtra: boolean): string {
  if (!iso) return '0x00000000:';
  const m = /^(.*?)(?:\.(\d{9}))?Z$/.exec(iso)!;
  const secs = Math.floor(Date.parse(`${m[1]}Z`) / 1000);
  const ns = Number(m[2] ?? 0);
  const lo = (secs >>> 0).toString(16).padStart(8, '0');
  const epoch = Math.floor((secs - ((secs << 0) | 0)) / 0x100000000) & 3;
  const extra = ((ns << 2) | epoch) >>> 0;
  return `0x${lo}:${withExtra ? extra.toString(16).padStart(8, '0') : ''}`;
}

function dumpe2fs(img: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of run('dumpe2fs', ['-h', img], { env: utc }).split('\n')) {
    const m = /^([^:]+):\s+(.*)$/.exec(line);
    if (m) out[m[1]!.trim()] = m[2]!.trim();
  }
  return out;
}

const variants: { name: string; args: string[]; fsck?: boolean }[] = [
  { name: 'ext4 (metadata_csum, htree after e2fsck -D)', args: ['-t', 'ext4'], fsck: true },
  { name: 'ext4 without metadata_csum', args: ['-t', 'ext4', '-O', '^metadata_csum'], fsck: true },
  { name: 'ext4 with 4 KiB blocks and inline data', args: ['-t', 'ext4', '-b', '4096', '-O', 'inline_data'] },
  { name: 'ext3 (block maps, journal)', args: ['-t', 'ext3'], fsck: true },
  { name: 'ext2 (block maps, no journal)', args: ['-t', 'ext2'] },
];

describe.skipIf(!can)('ext4 images made by mkfs.ext4 -d', () => {
  let tree = '';
  beforeAll(() => {
    tree = makeTree(join(w.dir, 'tree'));
  });

  for (const v of variants) {
    describe(v.name, () => {
      let img = '';
      let c: Container;
      beforeAll(() => {
        img = join(w.dir, `${v.name.replace(/\W+/g, '_')}.img`);
        run('mkfs.ext4', ['-q', '-F', ...v.args, '-L', 'testvol', '-E', 'root_owner=0:0', '-d', tree, img, '16M']);
        // rebuilding the directories indexes the big one (an htree)
        if (v.fsck) run('sh', ['-c', `e2fsck -fyD ${img} >/dev/null 2>&1; test $? -le 1`]);
        // extended attributes, set with debugfs in the image itself
        run('debugfs', ['-w', '-R', 'ea_set /etc/os-release user.comment distribution', img]);
        run('debugfs', ['-w', '-R', `ea_set /etc/motd user.big ${'x'.repeat(300)}`, img]);
        c = open(img);
      });

      it('is detected as ext4 (exclusive)', () => {
        const f = detectFormats(new FileSource(img));
        expect(f.map((x) => x.name)).toEqual(['ext4']);
      });

      it('lists the same paths, inode numbers, modes, owners and sizes as debugfs ls -l -p', () => {
        const dirs = c.entries.filter((e) => e.type === 'dir').map((e) => e.path);
        const tool = debugfsListing(img, dirs);
        const ours = new Map<string, [number, string, number, number, number]>();
        for (const e of c.entries) {
          if (e.path === '/') continue;
          const mode = String(value(e, 'ext4.inode.mode')).replace(/^0/, '');
          ours.set(e.path, [e.meta.ino!, mode.padStart(6, '0'), e.meta.uid!, e.meta.gid!, Number(value(e, 'ext4.inode.size'))]);
        }
        expect(tool.size).toBeGreaterThan(400);
        expect([...ours.keys()].sort()).toEqual([...tool.keys()].sort());
        for (const [p, t] of tool) {
          const o = ours.get(p)!;
          expect([o[0], o[1], o[2], o[3], t[4] === -1 ? -1 : o[4]], p).toEqual([t[0], t[1].padStart(6, '0'), t[2], t[3], t[4]]);
        }
        if (process.getuid?.() === 0) expect([byPath(c).get('/owned')!.meta.uid, byPath(c).get('/owned')!.meta.gid]).toEqual([1234, 5678]);
      });

      it('reads the four times (with their nanosecond and epoch words) and generation as debugfs stat does', () => {
        const sample = c.entries.filter((e, i) => i % 7 === 0 || e.type !== 'file');
        const tool = debugfsTimes(img, sample.map((e) => e.meta.ino!));
        const big = Number(value(c, 'ext4.super.inode_size')) > 128;
        for (const e of sample) {
          const t = tool.get(e.meta.ino!)!;
          expect(t, e.path).toBeDefined();
          expect(asDebugfs(e.meta.mtime, big), `${e.path} mtime`).toBe(t.m);
          expect(asDebugfs(e.meta.atime, big), `${e.path} atime`).toBe(t.a);
          expect(asDebugfs(e.meta.ctime, big), `${e.path} ctime`).toBe(t.c);
          if (big) expect(asDebugfs(e.meta.birthtime, true), `${e.path} crtime`).toBe(t.cr);
          expect(String(value(e, 'ext4.inode.generation'))).toBe(t.gen);
        }
      });

      it('reads file contents (extents, holes, block maps, inline data) and symlink targets as the tree holds them', () => {
        const m = byPath(c);
        let files = 0;
        for (const e of c.entries) {
          if (e.type === 'file') {
            expect(sha(contentOf(c, e)), e.path).toBe(sha(readFileSync(join(tree, e.path))));
            files++;
          } else if (e.type === 'symlink') {
            expect(e.meta.target, e.path).toBe(readlinkSync(join(tree, e.path)));
          }
        }
        expect(files).toBeGreaterThan(400);
        if (v.args.includes('inline_data')) {
          // small files and directories keep their bytes in the inode
          const inline = (e: Entry): boolean => (Number(value(e, 'ext4.inode.flags')) & 0x10000000) !== 0;
          expect(inline(m.get('/etc/os-release')!)).toBe(true);
          expect(inline(m.get('/deep/a')!)).toBe(true);
        }
        expect(m.get('/fifo')!.type).toBe('fifo');
        expect(m.get('/motd-hardlink')!.meta.ino).toBe(m.get('/etc/motd')!.meta.ino);
        expect(m.get('/etc/motd')!.meta.nlink).toBe(2);
        // the big file, through debugfs too
        const dumped = join(w.dir, 'dumped.bin');
        run('debugfs', ['-R', `dump /sparse.bin ${dumped}`, img]);
        expect(sha(contentOf(c, m.get('/sparse.bin')!))).toBe(sha(readFileSync(dumped)));
        const sparse = m.get('/sparse.bin')!;
        if (v.args.includes('ext2') || v.args.includes('ext3')) expect(value(sparse, 'ext4.block_map')).toBeDefined();
        else expect(sparse.fields.filter((f) => f.name.startsWith('ext4.extent.')).length).toBeGreaterThan(4);
        // fast (in the inode) and slow (in a block) symlinks
        expect(value(m.get('/short-link')!, 'ext4.symlink.target')).toBe('etc/motd');
        expect(m.get('/long-link')!.meta.target!.length).toBeGreaterThan(60);
      });

      it('reads the extended attributes set with debugfs ea_set', () => {
        const m = byPath(c);
        expect(value(m.get('/etc/os-release')!, 'ext4.xattr.user.comment')).toBe('distribution');
        expect(value(m.get('/etc/motd')!, 'ext4.xattr.user.big')).toBe('x'.repeat(300));
      });

      it('agrees with dumpe2fs -h on the superblock', () => {
        const d = dumpe2fs(img);
        expect(value(c, 'ext4.super.uuid')).toBe(d['Filesystem UUID']);
        expect(value(c, 'ext4.super.hash_seed')).toBe(d['Directory Hash Seed']);
        expect(value(c, 'ext4.super.volume_name')).toBe('testvol');
        expect(value(c, 'ext4.super.volume_name')).toBe(d['Filesystem volume name']);
        expect(value(c, 'ext4.super.blocks_count')).toBe(Number(d['Block count']));
        expect(value(c, 'ext4.super.inodes_count')).toBe(Number(d['Inode count']));
        expect(value(c, 'ext4.super.free_blocks_count')).toBe(Number(d['Free blocks']));
        if (/ kB$/.test(d['Lifetime writes'] ?? '')) expect(value(c, 'ext4.super.kbytes_written')).toBe(String(parseLifetime(d['Lifetime writes'])));
        const created = Date.parse(`${d['Filesystem created']} UTC`) / 1000;
        expect(Date.parse(String(value(c, 'ext4.super.mkfs_time'))) / 1000).toBe(created);
        if (d['Journal features']) {
          expect(value(c, 'ext4.journal.uuid')).toBe(d['Filesystem UUID']);
          expect(value(c, 'ext4.journal.maxlen')).toBe(Number(d['Total journal blocks']));
        } else expect(value(c, 'ext4.journal.uuid')).toBeUndefined();
        if (d['Checksum']) expect(value(c, 'ext4.super.checksum')).toBe(Number(d['Checksum']));
      });

      it('every checksum it checks matches (superblock, groups, inodes, extent blocks, directory tails, htree nodes)', () => {
        expect(c.notes).toEqual([]);
        const all = [...c.fields, ...c.entries.flatMap((e) => e.fields)];
        const checks = all.filter((f) => f.kind === 'checksum');
        expect(all.filter((f) => String(f.value).includes('its bytes give'))).toEqual([]);
        if (v.args.includes('^metadata_csum') || v.args.includes('ext2') || v.args.includes('ext3')) {
          expect(checks.some((f) => /inode_checksums$/.test(f.name))).toBe(false);
        } else {
          // the entries' inode checksums, gathered per group (each verified against its inode's bytes)
          const sums = checks.filter((f) => /^ext4\.group\.\d+\.inode_checksums$/.test(f.name));
          expect(sums.reduce((n, f) => n + Number(String(f.value).split(' ')[0]), 0)).toBe(c.entries.length);
          expect(checks.every((f) => f.covers && f.covers.length > 0)).toBe(true);
        }
      });

      it.runIf(v.fsck === true)('indexes the 400-file directory as an htree whose order follows the hash seed', () => {
        const dir = byPath(c).get('/many')!;
        expect(Number(String(value(dir, 'ext4.inode.flags'))) & 0x1000).toBe(0x1000);
        const order = dir.fields.find((f) => f.name === 'ext4.htree.order')!;
        expect(order.kind).toBe('ordering');
        const seed = c.fields.find((f) => f.name === 'ext4.super.hash_seed')!;
        expect(order.covers).toEqual(seed.spans);
        expect(dir.fields.some((f) => f.name === 'ext4.htree.0.entries')).toBe(true);
        // debugfs htree agrees on the root node's entry count
        const h = run('debugfs', ['-R', 'htree /many', img]);
        const count = Number(/Number of entries \(count\): (\d+)/.exec(h)![1]);
        expect(String(value(dir, 'ext4.htree.0.entries')).split(' ').length).toBe(count);
      });
    });
  }

  it('finds an ext4 image inside a GPT partition', () => {
    if (!hasTool('sgdisk')) return;
    const img = join(w.dir, 'fs.img');
    run('mkfs.ext4', ['-q', '-F', '-d', tree, img, '8M']);
    const disk = join(w.dir, 'disk.img');
    run('sh', ['-c', `truncate -s 12M ${disk} && sgdisk -Z -n 1:2048:0 -t 1:8300 ${disk} >/dev/null && dd if=${img} of=${disk} bs=512 seek=2048 conv=notrunc 2>/dev/null`]);
    const r = cli(['inspect', disk, '--json', '-', '--no-hash']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('"ext4"');
    expect(r.stdout).toContain('/many/entry-with-a-fairly-long-name-0399.txt');
  });

  it('survives byte mutations of a real image', async () => {
    const img = join(w.dir, 'mut.img');
    run('mkfs.ext4', ['-q', '-F', '-d', join(tree, 'etc'), img, '2M']);
    const base = readFileSync(img);
    // mutations in the first 64 KiB, where the superblock, descriptors, inodes and directories are
    const head = base.subarray(0, 64 * 1024);
    const outcomes = await mutations(head, 150, (src) => {
      const c = ext4Format.open(src, ctx) as Container;
      for (const e of c.entries) void e.fields;
      return c;
    });
    expect(Object.values(outcomes).reduce((a, b) => a + b, 0)).toBe(150);
  });

  it('refuses what is not ext4 with a typed error', () => {
    const img = join(w.dir, 'zero.img');
    writeFileSync(img, Buffer.alloc(4096));
    expect(() => open(img)).toThrow(ReprodiffError);
  });
});

function parseLifetime(s: string | undefined): number {
  const m = /^(\d+) (kB|MB|GB)$/.exec(s ?? '');
  if (!m) return 0;
  return Number(m[1]) * (m[2] === 'kB' ? 1 : m[2] === 'MB' ? 1024 : 1024 * 1024);
}

describe.skipIf(!can)('two mkfs.ext4 -d builds of one tree, seconds apart', () => {
  it('differ only in ext4 times, random ids, inode numbers and hash order, with every byte explained', () => {
    const tree = makeTree(join(w.dir, 'e2e-tree'));
    const a = join(w.dir, 'e2e-a.img');
    const b = join(w.dir, 'e2e-b.img');
    for (const img of [a, b]) {
      if (img === b) {
        const t0 = Date.now();
        while (Date.now() - t0 < 1100) {
          // mkfs stamps whole seconds
        }
      }
      run('mkfs.ext4', ['-q', '-F', '-d', tree, img, '16M']);
      run('sh', ['-c', `e2fsck -fyD ${img} >/dev/null 2>&1; test $? -le 1`]);
    }
    const r = cli([a, b, '--json', '-']);
    expect(r.status, r.stderr).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    expect(report.bytes.unexplained).toBe(0);
    const roots = report.findings.filter((f) => f.root);
    expect(new Set(roots.map((f) => f.kind)).size).toBeGreaterThan(1);
    for (const f of roots) {
      expect(['timestamp', 'random-id', 'inode', 'ordering'], `${f.field} ${f.kind}`).toContain(f.kind);
      expect(f.format).toBe('ext4');
      expect(f.field).toMatch(/^ext4\./);
    }
    const uuid = roots.find((f) => f.field === 'ext4.super.uuid');
    const seed = roots.find((f) => f.field === 'ext4.super.hash_seed');
    expect(uuid?.hint).toMatch(/-U/);
    expect(seed?.hint).toMatch(/hash_seed/);
    // the hash order of the indexed directory follows from the hash seed
    const order = report.findings.find((f) => f.field === 'ext4.htree.order');
    expect(order?.root).toBe(false);
    expect(order?.causedBy).toContain(seed!.id);
    // inode checksums follow from the UUID (their seed) and the times inside them
    const csum = report.findings.find((f) => f.field === 'ext4.group.0.inode_checksums')!;
    expect(csum.root).toBe(false);
    expect(csum.causedBy).toContain(uuid!.id);
  });
});
