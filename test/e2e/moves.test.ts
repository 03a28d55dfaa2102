/**
 * Moved data: one file grows by a line at its start, everything else identical and times pinned. Whatever the
 * container, the only root cause is that file's content; the bytes that merely moved (the rest of the file,
 * the members after it, their headers and pointers) are derived from it, and nothing is left unexplained.
 */
import { createHash, randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.js';
import { cli } from '../helpers/cli.js';
import { ISOHDPFX_BIN, ISOLINUX_BIN } from '../helpers/hybrid.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const w = scratch();
afterAll(w.cleanup);
const T = 1_700_000_000;

function seq(from: number, to: number): string {
  let s = '';
  for (let i = from; i <= to; i++) s += `${i}\n`;
  return s;
}

/** Five files; `f2` starts with an extra line in build b. */
function tree(side: 'a' | 'b'): string {
  const dir = join(w.dir, side, 't');
  mkdirSync(dir, { recursive: true });
  for (const i of [1, 3, 4, 5]) writeFileSync(join(dir, `f${i}`), seq(i, 800));
  writeFileSync(join(dir, 'f2'), (side === 'b' ? 'header\n' : '') + seq(1, 800));
  for (const f of ['f1', 'f2', 'f3', 'f4', 'f5']) utimesSync(join(dir, f), T, T);
  utimesSync(dir, T, T);
  return dir;
}

function compare(a: string, b: string): Report {
  const r = cli([a, b, '--json', '-']);
  expect(r.status, r.stderr).toBe(1);
  return JSON.parse(r.stdout) as Report;
}

const env = { ...process.env, SOURCE_DATE_EPOCH: String(T), TZ: 'UTC' };
const builders: { name: string; tools: string[]; build: (dir: string, out: string) => void }[] = [
  { name: 'tar', tools: ['tar'], build: (d, o) => run('tar', ['--sort=name', `--mtime=@${T}`, '--owner=0', '--group=0', '--numeric-owner', '-cf', o, '-C', d, '.'], { env }) },
  {
    name: 'cpio newc',
    tools: ['cpio'],
    build: (d, o) => run('sh', ['-c', `ls | LC_ALL=C sort | cpio -o -H newc --reproducible --quiet > '${o}'`], { cwd: d, env }),
  },
  { name: 'zip', tools: ['zip'], build: (d, o) => run('zip', ['-q', '-X', o, 'f1', 'f2', 'f3', 'f4', 'f5'], { cwd: d, env }) },
  { name: 'iso9660', tools: ['xorriso'], build: (d, o) => run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-o', o, d], { env }) },
  {
    name: 'squashfs',
    tools: ['mksquashfs'],
    build: (d, o) => run('mksquashfs', [d, o, '-noappend', '-quiet', '-no-progress', '-mkfs-time', String(T), '-all-time', String(T)], { env: { ...process.env, TZ: 'UTC' } }),
  },
];

describe('a file that grows moves what follows it; the growth is the one root', () => {
  for (const b of builders) {
    it.skipIf(!b.tools.every(hasTool))(`${b.name}: one content root, moved bytes derived from it, 0 unexplained`, () => {
      const out = (side: 'a' | 'b'): string => {
        const o = join(w.dir, `${side}.${b.name.replace(/ /g, '-')}`);
        b.build(tree(side), o);
        return o;
      };
      const report = compare(out('a'), out('b'));
      const roots = report.findings.filter((f) => f.root);
      expect(roots.map((f) => [f.path, f.kind])).toEqual([['/f2', 'content']]);
      expect(report.bytes.unexplained).toBe(0);
      expect(report.bytes.explained).toBe(report.bytes.differing);
      // what moved is said as layout, derived from the growth
      const layout = report.findings.filter((f) => f.kind === 'layout');
      expect(layout.length).toBeGreaterThan(0);
      for (const f of layout) expect(f.causedBy).toEqual([roots[0]!.id]);
    });
  }
});

describe('reports are deterministic on a pair with moves', () => {
  it.skipIf(!hasTool('xorriso'))('two runs on the same grown pair give byte-identical JSON', () => {
    const a = join(w.dir, 'det-a.iso');
    const b = join(w.dir, 'det-b.iso');
    run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-o', a, tree('a')], { env });
    run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-o', b, tree('b')], { env });
    const one = cli([a, b, '--json', '-']);
    const two = cli([a, b, '--json', '-', '--jobs', '1']);
    expect(one.status).toBe(1);
    expect(two.stdout).toBe(one.stdout);
  });
});

describe('a pinned hybrid ISO pair: only the planted causes are roots', () => {
  const tools = ['xorriso', 'mkfs.fat'];
  it.skipIf(!tools.every(hasTool) || !existsSync(ISOHDPFX_BIN) || !existsSync(ISOLINUX_BIN))(
    'SOURCE_DATE_EPOCH, one touched file, one random UUID, one file placed first: timestamp, random-id and ordering roots only',
    () => {
      const build = (side: 'a' | 'b'): string => {
        const d = join(w.dir, `pinned-${side}`);
        mkdirSync(join(d, 'isolinux'), { recursive: true });
        mkdirSync(join(d, 'docs'), { recursive: true });
        copyFileSync(ISOLINUX_BIN, join(d, 'isolinux', 'isolinux.bin'));
        for (const i of [1, 2, 3, 4]) writeFileSync(join(d, 'docs', `doc${i}.txt`), seq(i, 3000));
        writeFileSync(join(d, 'readme.txt'), 'hello\n');
        writeFileSync(join(d, 'uuid.txt'), `${randomUUID()}\n`);
        run('mkfs.fat', ['-C', '--invariant', '-i', '12345678', join(d, 'efiboot.img'), '2880']);
        run('find', [d, '-exec', 'touch', '-h', '-d', `@${T}`, '{}', '+']);
        if (side === 'b') utimesSync(join(d, 'readme.txt'), T + 500, T + 500);
        // build b places one file before the boot images: everything after it moves
        const weights = join(w.dir, `weights-${side}`);
        writeFileSync(weights, side === 'b' ? '50 /docs/doc3.txt\n' : '1 /docs/doc1.txt\n');
        const iso = join(w.dir, `pinned-${side}.iso`);
        run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '--sort-weight-list', weights, '-isohybrid-mbr', ISOHDPFX_BIN,
          '-c', 'isolinux/boot.cat', '-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table',
          '-eltorito-alt-boot', '-e', 'efiboot.img', '-no-emul-boot', '-isohybrid-gpt-basdat', '-o', iso, d], { env });
        return iso;
      };
      const report = compare(build('a'), build('b'));
      const roots = report.findings.filter((f) => f.root);
      expect(roots.map((f) => [f.kind, f.path, f.format]).sort()).toEqual([
        ['ordering', '/', 'iso9660'],
        ['random-id', '/uuid.txt', 'iso9660'],
        ['timestamp', '/readme.txt', 'iso9660'],
      ]);
      expect(report.bytes.unexplained).toBe(0);
      // the partition tables, the boot catalog and the boot-info-table follow the new order
      const ordering = roots.find((f) => f.kind === 'ordering')!;
      for (const f of report.findings.filter((g) => ['gpt', 'mbr', 'eltorito'].includes(g.format))) expect(f.root, `${f.path} ${f.field}`).toBe(false);
      const catalog = report.findings.filter((f) => f.path === '/isolinux/boot.cat' && f.kind === 'content');
      expect(catalog.length).toBeGreaterThan(0);
      for (const f of report.findings.filter((g) => g.kind === 'layout')) expect(f.causedBy).toContain(ordering.id);
    },
  );
});

describe('one cause, one root', () => {
  const builds: [string, string[], (d: string, o: string) => void][] = [
    ['tar', ['tar'], (d, o) => run('tar', ['--sort=name', `--mtime=@${T}`, '--owner=0', '--group=0', '-cf', o, '-C', d, '.'])],
    ['squashfs', ['mksquashfs'], (d, o) => run('mksquashfs', [d, o, '-noappend', '-quiet', '-no-progress', '-mkfs-time', String(T), '-all-time', String(T)])],
    ['iso9660', ['xorriso'], (d, o) => run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-o', o, d], { env })],
  ];
  for (const [name, tools, build] of builds) {
    it.skipIf(!tools.every(hasTool))(`${name}: a symlink whose target changed is one root, not the record and the target twice`, () => {
      const out = (side: 'a' | 'b'): string => {
        const d = join(w.dir, `link-${name}-${side}`);
        mkdirSync(d, { recursive: true });
        symlinkSync(side === 'a' ? 'target-one' : 'target-two', join(d, 'l'));
        run('touch', ['-h', '-d', `@${T}`, join(d, 'l'), d]);
        const o = `${d}.img`;
        build(d, o);
        return o;
      };
      const report = compare(out('a'), out('b'));
      const roots = report.findings.filter((f) => f.root);
      expect(roots.length, JSON.stringify(roots)).toBe(1);
      expect([roots[0]!.a, roots[0]!.b]).toEqual(['target-one', 'target-two']);
      expect(report.bytes.unexplained).toBe(0);
    });
  }
});

describe('a truncated input is the headline', () => {
  it.skipIf(!hasTool('xorriso'))('an ISO cut short exits 2 naming the side that is cut and where', () => {
    const a = join(w.dir, 'whole.iso');
    run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-o', a, tree('a')], { env });
    const whole = readFileSync(a);
    const cutAt = whole.length - 64 * 1024;
    const b = join(w.dir, 'cut.iso');
    writeFileSync(b, whole.subarray(0, cutAt));
    for (const args of [[a, b], [b, a]]) {
      const r = cli([...args, '--json', '-']);
      expect(r.status, r.stdout).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`${b}: `);
      expect(r.stderr).toContain('cut short');
      expect(r.stderr).toContain(`offset ${cutAt}`);
    }
  });
});

describe('a build folder with a random name is one rename, its entries paired under it', () => {
  const builds: [string, string[], (d: string, o: string) => void][] = [
    ['tar', ['tar'], (d, o) => run('tar', ['--sort=name', `--mtime=@${T}`, '--owner=0', '--group=0', '-cf', o, '-C', d, '.'])],
    ['squashfs', ['mksquashfs'], (d, o) => run('mksquashfs', [d, o, '-noappend', '-quiet', '-no-progress', '-mkfs-time', String(T), '-all-time', String(T)])],
  ];
  for (const [name, tools, build] of builds) {
    it.skipIf(!tools.every(hasTool))(`${name}: equivs.TyCgZ2 → equivs.b0DMbr is one random-id root, not added and removed entries`, () => {
      const out = (side: 'a' | 'b'): string => {
        const d = join(w.dir, `rename-${name}-${side}`);
        const dir = join(d, 'build', side === 'a' ? 'equivs.TyCgZ2' : 'equivs.b0DMbr', 'debian');
        mkdirSync(dir, { recursive: true });
        for (const i of [1, 2, 3, 4, 5]) writeFileSync(join(dir, `f${i}`), `file ${i}\n`);
        writeFileSync(join(d, 'build', 'README'), 'same\n');
        run('find', [d, '-exec', 'touch', '-h', '-d', `@${T}`, '{}', '+']);
        const o = `${d}.img`;
        build(d, o);
        return o;
      };
      const report = compare(out('a'), out('b'));
      const roots = report.findings.filter((f) => f.root);
      expect(roots.map((f) => [f.path, f.field, f.kind, f.a, f.b])).toEqual([['/build/equivs.TyCgZ2', 'name', 'random-id', 'equivs.TyCgZ2', 'equivs.b0DMbr']]);
      expect(report.findings.filter((f) => f.kind === 'added' || f.kind === 'removed')).toEqual([]);
      expect(report.bytes.unexplained).toBe(0);
    });
  }
});

describe('a file seen by two views of the same bytes', () => {
  it.skipIf(!hasTool('grub-mkrescue') || !hasTool('xorriso') || !hasTool('mformat'))(
    'grub-mkrescue: a grown text file is one content root; its HFS+ size follows from it',
    () => {
      const t = join(w.dir, 'grub-tree');
      mkdirSync(join(t, 'boot', 'grub'), { recursive: true });
      mkdirSync(join(t, 'docs'), { recursive: true });
      writeFileSync(join(t, 'boot', 'grub', 'grub.cfg'), 'set timeout=1\n');
      writeFileSync(join(t, 'docs', 'a.txt'), seq(1, 5000));
      const a = join(w.dir, 'grub-a.iso');
      const b = join(w.dir, 'grub-b.iso');
      run('grub-mkrescue', ['-o', a, t]);
      writeFileSync(join(t, 'docs', 'a.txt'), `extra line\n${seq(1, 5000)}`);
      run('grub-mkrescue', ['-o', b, t]);
      const report = compare(a, b);
      expect(report.bytes.unexplained).toBe(0);
      const content = report.findings.filter((f) => f.root && f.kind === 'content');
      expect(content.map((f) => [f.path, f.format])).toEqual([['/docs/a.txt', 'iso9660']]);
      const hfsSize = report.findings.find((f) => f.format === 'hfsplus' && f.field === 'hfsplus.file.data_fork.logical_size');
      expect(hfsSize?.root).toBe(false);
      expect(hfsSize?.causedBy).toEqual([content[0]!.id]);
    },
  );
});

describe('a gzip header of another length moves its compressed data', () => {
  /** the same 10,000 random bytes, gzipped under a 1-byte and a 240-byte original name */
  function blobs(dir: string): [string, string] {
    mkdirSync(dir, { recursive: true });
    // incompressible: deflate stores ~10,025 bytes, so 239 more bytes of name cross a 2 KiB sector
    const data = Buffer.concat(Array.from({ length: 313 }, (_, i) => createHash('sha256').update(String(i)).digest())).subarray(0, 10_000);
    const out: string[] = [];
    for (const name of ['a', 'n'.repeat(240)]) {
      writeFileSync(join(dir, name), data);
      utimesSync(join(dir, name), T, T);
      run('gzip', ['-1', '-N', '-k', '-f', name], { cwd: dir });
      out.push(join(dir, `${name}.gz`));
    }
    return out as [string, string];
  }

  it.skipIf(!hasTool('gzip'))('two gzip files: the name is the root, the moved deflate data is explained', () => {
    const [a, b] = blobs(join(w.dir, 'gz-names'));
    const report = compare(a, b);
    expect(report.bytes.unexplained).toBe(0);
    expect(report.findings.filter((f) => f.root).map((f) => f.field)).toEqual(['gzip.header.fname']);
  });
});
