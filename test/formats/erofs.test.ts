import { createHash } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileSource } from '../../src/io/file.js';
import { DEFAULT_LIMITS } from '../../src/limits.js';
import type { Container, Entry } from '../../src/model.js';
import { ErofsFileSource, erofsFormat } from '../../src/formats/erofs/index.js';
import { cli as runCli } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const ctx = { limits: { ...DEFAULT_LIMITS } };
const utc = { ...process.env, TZ: 'UTC', LC_ALL: 'C' };
const canErofs = hasTool('mkfs.erofs') && hasTool('dump.erofs') && hasTool('fsck.erofs');
const canXattr = hasTool('setfattr');

const value = (e: Entry | Container, name: string): unknown => e.fields.find((f) => f.name === name)?.value;
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function contentOf(c: Container, e: Entry): Buffer {
  const s = e.contentSource ?? c.source;
  return Buffer.concat(e.extents.map((x) => s.read(x.offset, x.length)));
}

/** Pseudo-random bytes from a seed (the same tree every run). */
function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

describe('EROFS written by mkfs.erofs', () => {
  let dir = '';
  let cleanup = (): void => {};
  let tree = '';
  beforeAll(() => {
    ({ dir, cleanup } = scratch('reprodiff-erofs-'));
    tree = join(dir, 'tree');
    mkdirSync(join(tree, 'etc', 'deep', 'deeper'), { recursive: true });
    mkdirSync(join(tree, 'many'));
    writeFileSync(join(tree, 'empty'), '');
    writeFileSync(join(tree, 'etc', 'hostname'), 'builder\n');
    writeFileSync(join(tree, 'etc', 'deep', 'deeper', 'random.bin'), noise(300_000, 7));
    writeFileSync(join(tree, 'text.txt'), Array.from({ length: 40_000 }, (_, i) => `line ${i} of some text ${i % 7}\n`).join(''));
    // compressible and incompressible runs in turn: lz4 extents and plain (stored) lclusters in one file
    writeFileSync(join(tree, 'mixed.bin'), Buffer.concat(Array.from({ length: 20 }, (_, i) => (i % 2 ? noise(5000, i + 1) : Buffer.alloc(9000, 'abc')))));
    writeFileSync(join(tree, 'zeros.bin'), Buffer.alloc(200_000));
    writeFileSync(join(tree, 'block.bin'), noise(8192, 3)); // exactly two blocks: no inline tail
    symlinkSync('etc/hostname', join(tree, 'link'));
    symlinkSync('x'.repeat(300), join(tree, 'longlink'));
    linkSync(join(tree, 'text.txt'), join(tree, 'hard'));
    // more entries than one 4 KiB directory block holds
    for (let i = 0; i < 600; i++) writeFileSync(join(tree, 'many', `file-with-a-long-name-${String(i).padStart(4, '0')}`), `${i}\n`.repeat(i % 50));
    try {
      run('chown', ['1000:2000', join(tree, 'etc', 'hostname')]);
      run('mknod', [join(tree, 'null'), 'c', '1', '3']);
      run('mkfifo', [join(tree, 'fifo')]);
    } catch {
      // unprivileged: no other owner, device or fifo
    }
    if (canXattr) {
      // the same xattr on three files (mkfs.erofs shares it), and one of a single file (inline)
      for (const f of ['text.txt', 'etc/hostname', 'empty']) run('setfattr', ['-n', 'user.comment', '-v', 'shared value', join(tree, f)]);
      run('setfattr', ['-n', 'user.bin', '-v', '0x00ff10', join(tree, 'mixed.bin')]);
    }
  });
  afterAll(() => cleanup());

  const variants: [string, string[]][] = [
    ['default (uncompressed)', []],
    ['-zlz4', ['-zlz4']],
    ['-zlz4hc', ['-zlz4hc']],
    ['-zlz4hc -C65536 (big pclusters)', ['-zlz4hc,12', '-C65536']],
    ['-zlz4 -Elegacy-compress (full indexes, no zero padding)', ['-zlz4', '-Elegacy-compress']],
    ['-zlz4hc -C16384 -Eztailpacking (inline tail pclusters)', ['-zlz4hc', '-C16384', '-Eztailpacking']],
    ['--chunksize=8192 (chunk-based)', ['--chunksize=8192']],
    ['--ignore-mtime -Eforce-inode-compact (compact inodes)', ['--ignore-mtime', '-Eforce-inode-compact']],
  ];
  for (const [label, opts] of variants) {
    it.skipIf(!canErofs)(`lists and reads ${label} as dump.erofs and fsck.erofs do`, async () => {
      const name = label.replace(/\W+/g, '-');
      const img = join(dir, `${name}.erofs`);
      run('mkfs.erofs', ['--quiet', ...opts, img, tree], { env: utc });
      const src = new FileSource(img);
      expect(erofsFormat.detect(src)).toBe(100);
      const c = await erofsFormat.open(src, ctx);
      expect(c.notes).toEqual([]);

      // the superblock, as dump.erofs -s prints it
      const s = run('dump.erofs', ['-s', img], { env: utc });
      const sb = (k: string): string => new RegExp(`${k}:\\s+(.*)`).exec(s)?.[1]?.trim() ?? '?';
      expect(String(value(c, 'erofs.super.blocks'))).toBe(sb('Filesystem blocks'));
      expect(String(value(c, 'erofs.super.meta_blkaddr'))).toBe(sb('Filesystem inode metadata start block'));
      expect(String(value(c, 'erofs.super.xattr_blkaddr'))).toBe(sb('Filesystem shared xattr metadata start block'));
      expect(String(value(c, 'erofs.super.root_nid'))).toBe(sb('Filesystem root nid'));
      expect(String(value(c, 'erofs.super.inos'))).toBe(sb('Filesystem inode count'));
      expect(value(c, 'erofs.super.uuid')).toBe(sb('Filesystem UUID'));
      expect(String(value(c, 'erofs.super.feature_compat'))).toContain('sb_csum');
      expect(String(value(c, 'erofs.super.checksum'))).toMatch(/^0x[0-9a-f]{8}$/);

      // every directory's listing, as dump.erofs --ls prints it (. and .. apart)
      const byPath = new Map(c.entries.map((e) => [e.path, e]));
      const ftype: Record<string, number> = { file: 1, dir: 2, chardev: 3, blockdev: 4, fifo: 5, socket: 6, symlink: 7 };
      for (const d of c.entries.filter((e) => e.type === 'dir')) {
        const out = run('dump.erofs', ['--ls', `--path=${d.path}`, img], { env: utc });
        const tool = [...out.matchAll(/^\s+(\d+)\s+(\d+)\s+(.+)$/gm)].map((m) => `${m[1]} ${m[2]} ${m[3]}`).filter((l) => !/ \.\.?$/.test(l));
        const prefix = d.path === '/' ? '/' : `${d.path}/`;
        const ours = c.entries
          .filter((e) => e.path.startsWith(prefix) && e.path !== d.path && !e.path.slice(prefix.length).includes('/'))
          .map((e) => `${value(e, 'erofs.dirent.nid')} ${ftype[e.type]} ${e.path.slice(prefix.length)}`);
        expect(ours).toEqual(tool);
      }
      expect(byPath.get('/many')?.meta).toBeDefined();
      expect(c.entries.filter((e) => e.path.startsWith('/many/')).length).toBe(600);

      // each inode, as dump.erofs --nid prints it (the many/ files sampled)
      const sample = c.entries.filter((e) => !e.path.startsWith('/many/') || e.path.endsWith('0')).slice(0, 80);
      for (const e of sample) {
        const nid = e.path === '/' ? Number(value(c, 'erofs.super.root_nid')) : Number(value(e, 'erofs.dirent.nid'));
        const out = run('dump.erofs', [`--nid=${nid}`, img], { env: utc });
        const num = (k: string): number => Number(new RegExp(`${k}:\\s*(\\d+)`).exec(out)?.[1]);
        expect(value(e, 'erofs.inode.size')).toBe(num('Size'));
        expect(e.meta.nlink).toBe(num('Links'));
        expect(String(value(e, 'erofs.inode.format'))).toMatch(num('Inode size') === 64 ? /^extended/ : /^compact/);
        expect(e.meta.uid).toBe(num('Uid'));
        expect(e.meta.gid).toBe(num('Gid'));
        expect((e.meta.mode ?? 0).toString(8).padStart(4, '0')).toBe(/Access: (\d+)/.exec(out)?.[1]);
        const ts = /Timestamp: (\S+ \S+)/.exec(out)?.[1];
        if (ts) expect(e.meta.mtime?.replace('T', ' ').replace('Z', '').replace(/\.\d+$/, '')).toBe(ts.replace(/\.\d+$/, ''));
      }

      // compressed files: our extents are dump.erofs -e's
      for (const e of c.entries) {
        if (!(e.contentSource instanceof ErofsFileSource) || !/compressed/.test(String(value(e, 'erofs.inode.format')))) continue;
        const out = run('dump.erofs', ['-e', `--path=${e.path}`, img], { env: utc });
        const tool = [...out.matchAll(/^\s+\d+:\s+(\d+)\.\.\s*(\d+) \|\s+(\d+) :\s+(\d+)\.\.\s*(\d+) \|\s+(\d+)$/gm)].map((m) => `${m[1]}+${m[3]}@${m[4]}+${m[6]}`);
        expect(e.contentSource.pieces.map((p) => `${p.la}+${p.llen}@${p.pa}+${p.plen}`)).toEqual(tool);
      }

      // every file's content is what fsck.erofs extracts
      const out = join(dir, `${name}.out`);
      run('fsck.erofs', [`--extract=${out}`, img], { env: utc });
      let files = 0;
      for (const e of c.entries) {
        if (e.type === 'symlink') expect(e.meta.target).toBe(run('readlink', [join(out, e.path)]).trim());
        if (e.type !== 'file') continue;
        expect(e.opaque).toBeUndefined();
        const want = readFileSync(join(out, e.path));
        expect(e.size).toBe(want.length);
        expect(sha(contentOf(c, e))).toBe(sha(want));
        files++;
      }
      expect(files).toBeGreaterThan(600);
      const text = byPath.get('/text.txt') as Entry;
      if (opts.some((o) => o.startsWith('-z'))) {
        expect(text.contentSource).toBeInstanceOf(ErofsFileSource);
        const cs = text.contentSource as ErofsFileSource;
        // a read across extents, and the origin of the first
        expect(sha(cs.read(5000, 100_000))).toBe(sha(readFileSync(join(tree, 'text.txt')).subarray(5000, 105_000)));
        expect(cs.originAt(0)[0]?.offset).toBe(cs.pieces[0]?.pa);
      }
      if (canXattr) {
        expect(value(text, 'erofs.xattr.user.comment')).toBe('shared value');
        expect(value(byPath.get('/etc/hostname') as Entry, 'erofs.xattr.user.comment')).toBe('shared value');
        expect(value(byPath.get('/mixed.bin') as Entry, 'erofs.xattr.user.bin')).toBe('0x00ff10');
        expect(value(text, 'erofs.xattr.shared_count')).toBe(1);
      }
      if (opts.includes('-Eforce-inode-compact')) {
        expect(value(text, 'erofs.inode.format')).toMatch(/^compact/);
        expect(value(text, 'erofs.inode.mtime_is_build_time')).toBe(value(c, 'erofs.super.build_time'));
      }
      if (opts.includes('--chunksize=8192')) expect(value(text, 'erofs.inode.format')).toBe('extended chunk-based');
    });
  }

  it.skipIf(!canErofs)('compares two builds of one tree made seconds apart: the build time and the UUID', async () => {
    const a = join(dir, 'a.erofs');
    const b = join(dir, 'b.erofs');
    run('mkfs.erofs', ['--quiet', '-zlz4hc', a, tree]);
    await new Promise((r) => setTimeout(r, 1100));
    run('mkfs.erofs', ['--quiet', '-zlz4hc', b, tree]);
    const r = runCli([a, b, '--json', '-', '-q']);
    expect(r.status).toBe(1);
    const rep = JSON.parse(r.stdout);
    expect(rep.bytes.unexplained).toBe(0);
    expect(rep.bytes.differing).toBeGreaterThan(0);
    const roots = rep.findings.filter((f: { root: boolean }) => f.root).map((f: { kind: string; field: string; format: string }) => `${f.format} ${f.kind} ${f.field}`);
    expect(roots.sort()).toEqual(['erofs random-id erofs.super.uuid', 'erofs timestamp erofs.super.build_time']);
    const csum = rep.findings.find((f: { field: string }) => f.field === 'erofs.super.checksum');
    expect(csum?.root).toBe(false);
  });

  it.skipIf(!canErofs)('compares two builds of a tree copied afresh: inode times too; with -T and -U they are identical', async () => {
    const t1 = join(dir, 'copy1');
    const t2 = join(dir, 'copy2');
    run('cp', ['-a', tree, t1]);
    run('touch', [join(t1, 'text.txt')]);
    await new Promise((r) => setTimeout(r, 1100));
    run('cp', ['-a', tree, t2]);
    run('touch', [join(t2, 'text.txt')]);
    const a = join(dir, 'ca.erofs');
    const b = join(dir, 'cb.erofs');
    run('mkfs.erofs', ['--quiet', '-zlz4', a, t1]);
    run('mkfs.erofs', ['--quiet', '-zlz4', b, t2]);
    const rep = JSON.parse(runCli([a, b, '--json', '-', '-q']).stdout);
    expect(rep.bytes.unexplained).toBe(0);
    const roots = rep.findings.filter((f: { root: boolean }) => f.root);
    expect(roots.map((f: { kind: string }) => f.kind).sort()).toEqual(['random-id', 'timestamp', 'timestamp']);
    expect(roots.some((f: { field: string; path: string }) => f.field === 'erofs.inode.mtime')).toBe(true);

    const fa = join(dir, 'fa.erofs');
    const fb = join(dir, 'fb.erofs');
    const fixed = ['-T', '1700000000', '-U', '11111111-2222-4333-8444-555555555555'];
    run('mkfs.erofs', ['--quiet', '-zlz4', ...fixed, fa, t1]);
    run('mkfs.erofs', ['--quiet', '-zlz4', ...fixed, fb, t2]);
    const same = runCli([fa, fb, '--json', '-', '-q']);
    expect(same.status).toBe(0);
    expect(JSON.parse(same.stdout).identical).toBe(true);
    const fc = await erofsFormat.open(new FileSource(fa), ctx);
    expect(value(fc, 'erofs.super.uuid')).toBe('11111111-2222-4333-8444-555555555555');
    expect(value(fc, 'erofs.super.build_time')).toMatch(/^2023-11-14T22:13:20/);
  });
});
