/**
 * Archives, live filesystems and raw disks built twice by the real tools, seconds apart, compared end to end.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.js';
import { cli, ROOT } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schema/report.schema.json'), 'utf8')) as object);
const w = scratch();
afterAll(w.cleanup);

function compare(a: string, b: string): Report {
  const r = cli([a, b, '--json', '-']);
  expect(r.status, r.stderr).toBe(1);
  const report = JSON.parse(r.stdout) as Report;
  expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
  return report;
}

/** Busy-waits long enough that the second build gets other times (whole seconds; DOS times have 2 s steps). */
function nextSecond(ms = 1100): void {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    // the tools stamp whole seconds
  }
}

function tree(dir: string): string {
  mkdirSync(join(dir, 'd'), { recursive: true });
  writeFileSync(join(dir, 'a.txt'), 'one\n');
  writeFileSync(join(dir, 'b.txt'), 'two\n');
  writeFileSync(join(dir, 'd', 'c.txt'), 'three\n');
  return dir;
}

describe('zip', () => {
  it.skipIf(!hasTool('zip'))('another member order, fresh times, and one build with -X: timestamps, ordering, the extra fields; nothing unexplained', () => {
    const t = tree(join(w.dir, 'zip-tree'));
    run('zip', ['-q', join(w.dir, 'a.zip'), 'a.txt', 'b.txt', 'd/c.txt'], { cwd: t });
    nextSecond(2100);
    run('touch', ['a.txt', 'b.txt', 'd/c.txt'], { cwd: t });
    run('zip', ['-q', '-X', join(w.dir, 'b.zip'), 'd/c.txt', 'b.txt', 'a.txt'], { cwd: t });
    const r = compare(join(w.dir, 'a.zip'), join(w.dir, 'b.zip'));
    const roots = r.findings.filter((f) => f.root);
    expect(new Set(roots.map((f) => f.kind))).toEqual(new Set(['timestamp', 'ordering', 'removed']));
    expect(roots.find((f) => f.kind === 'ordering')!.format).toBe('zip');
    const removed = roots.find((f) => f.kind === 'removed')!;
    expect(removed.field).toMatch(/^zip\.(cd|local)\.(ut|ux)\./);
    expect(removed.hint).toMatch(/zip -X/);
    expect(r.bytes.unexplained).toBe(0);
  });

  it.skipIf(!hasTool('zip'))('a member changed in place deflates to another size: the change inside, and the records after it moved', () => {
    const t = join(w.dir, 'zip-content');
    mkdirSync(t, { recursive: true });
    const text = readFileSync('/usr/share/common-licenses/GPL-3', 'utf8').slice(0, 100_000);
    writeFileSync(join(t, 'm.txt'), text);
    run('touch', ['-d', '2020-01-01T00:00:00Z', 'm.txt'], { cwd: t });
    run('zip', ['-X', '-q', join(w.dir, 'content-a.zip'), 'm.txt'], { cwd: t });
    writeFileSync(join(t, 'm.txt'), text.replace('GNU', 'gnu'));
    run('touch', ['-d', '2020-01-01T00:00:00Z', 'm.txt'], { cwd: t });
    run('zip', ['-X', '-q', join(w.dir, 'content-b.zip'), 'm.txt'], { cwd: t });
    const r = compare(join(w.dir, 'content-a.zip'), join(w.dir, 'content-b.zip'));
    expect(r.findings.find((f) => f.root && f.path === '/m.txt' && f.kind === 'content')?.a).toBe('GNU');
    expect(r.bytes.unexplained).toBe(0);
  });

  it.skipIf(!hasTool('zip'))('a member whose bytes stay in place while the others move around it still has another place in both orders', () => {
    // p1 and p2 take as many bytes as the long-named member, in the central directory (46 + name) and in the
    // body (30 + name + data): /xx sits at the same offsets in both builds, its headers byte for byte the
    // same, and is third in one build and second in the other
    const t = join(w.dir, 'zip-place');
    mkdirSync(t, { recursive: true });
    const long = 'L'.repeat(50);
    writeFileSync(join(t, 'p1'), 'a'.repeat(100));
    writeFileSync(join(t, 'p2'), 'b'.repeat(100));
    writeFileSync(join(t, long), 'c'.repeat(184));
    writeFileSync(join(t, 'xx'), 'x'.repeat(10));
    run('touch', ['-d', '2020-01-01T00:00:00Z', 'p1', 'p2', long, 'xx'], { cwd: t });
    run('zip', ['-X', '-0', '-q', join(w.dir, 'place-a.zip'), 'p1', 'p2', 'xx', long], { cwd: t });
    run('zip', ['-X', '-0', '-q', join(w.dir, 'place-b.zip'), long, 'xx', 'p1', 'p2'], { cwd: t });
    const r = compare(join(w.dir, 'place-a.zip'), join(w.dir, 'place-b.zip'));
    const xx = r.findings.filter((f) => f.path === '/xx');
    expect(xx.map((f) => [f.field, f.a, f.b])).toEqual([
      ['zip.cd.order', 2, 1],
      ['zip.local.order', 2, 1],
    ]);
    expect(r.bytes.unexplained).toBe(0);
  });
});

describe('tar.gz', () => {
  it.skipIf(!hasTool('tar') || !hasTool('gzip'))('the gzip header time and name, and the member times inside, with tar paths through the gzip layer', () => {
    const t = tree(join(w.dir, 'tar-tree'));
    run('sh', ['-c', `tar -cf - -C ${t} . | gzip > ${join(w.dir, 'a.tgz')}`]);
    nextSecond();
    run('touch', ['a.txt'], { cwd: t });
    run('sh', ['-c', `tar -cf ${join(w.dir, 'b.tar')} -C ${t} . && gzip -c ${join(w.dir, 'b.tar')} > ${join(w.dir, 'b.tgz')}`]);
    const r = compare(join(w.dir, 'a.tgz'), join(w.dir, 'b.tgz'));
    const roots = r.findings.filter((f) => f.root);
    const tarTime = roots.find((f) => f.format === 'tar' && f.field === 'tar.mtime');
    expect(tarTime?.path).toBe('/a.txt');
    expect(r.findings.some((f) => f.format === 'gzip' && f.field === 'gzip.header.fname')).toBe(true);
    expect(r.bytes.unexplained).toBe(0);
  });
});

describe('gzip of many members', () => {
  /** `n` members, one a file, each gzip'ed with its name and mtime (gzip's default); member `touched` has another time */
  function members(out: string, n: number, touched: number): void {
    const d = join(w.dir, `${out}-parts`);
    mkdirSync(d, { recursive: true });
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      writeFileSync(join(d, `p${i}`), `part ${i}\n`.repeat(i + 1));
      run('touch', ['-d', i === touched ? '2024-05-06 07:08:09Z' : '2020-01-02 03:04:05Z', `p${i}`], { cwd: d });
      parts.push(`p${i}`);
    }
    run('sh', ['-c', `for p in ${parts.join(' ')}; do gzip -c $p; done > ${join(w.dir, out)}`], { cwd: d });
  }

  it.skipIf(!hasTool('gzip'))('names the one later member whose time differs, and the fields of a member only one build has', () => {
    members('m-a.gz', 40, -1);
    members('m-b.gz', 40, 23);
    const r = compare(join(w.dir, 'm-a.gz'), join(w.dir, 'm-b.gz'));
    const roots = r.findings.filter((f) => f.root);
    expect(roots.map((f) => `${f.kind} ${f.field}`)).toEqual(['timestamp gzip.member[23].header.mtime']);
    expect(roots[0]!.b).toBe('2024-05-06T07:08:09Z');
    expect(r.bytes.unexplained).toBe(0);

    members('m-c.gz', 41, -1);
    const more = compare(join(w.dir, 'm-a.gz'), join(w.dir, 'm-c.gz'));
    const added = more.findings.filter((f) => f.field?.startsWith('gzip.member[40].'));
    expect(added.map((f) => f.field).sort()).toEqual(
      ['flags', 'fname', 'mtime', 'os', 'xfl'].map((n) => `gzip.member[40].header.${n}`).concat(['gzip.member[40].trailer.crc32', 'gzip.member[40].trailer.isize']).sort(),
    );
    expect(added.find((f) => f.field === 'gzip.member[40].header.fname')!.b).toBe('p40');
    expect(more.findings.some((f) => f.field?.startsWith('gzip.member[39].'))).toBe(false);
  });
});

describe('raw GPT disk image with a FAT partition', () => {
  const ready = hasTool('sgdisk') && hasTool('mkfs.fat') && hasTool('mcopy');
  it.skipIf(!ready)('built twice: the GPT GUIDs, the FAT serial and the FAT times, nothing unexplained', () => {
    const build = (name: string): string => {
      const img = join(w.dir, name);
      const fat = join(w.dir, `${name}.fat`);
      run('truncate', ['-s', '8M', img]);
      run('sgdisk', ['-o', '-n', '1:2048:+4M', '-t', '1:ef00', img]);
      run('mkfs.fat', ['-C', fat, '4096']);
      run('mmd', ['-i', fat, '::/EFI']);
      writeFileSync(join(w.dir, 'f.txt'), 'hi\n');
      run('mcopy', ['-i', fat, join(w.dir, 'f.txt'), '::/EFI/']);
      run('dd', [`if=${fat}`, `of=${img}`, 'bs=512', 'seek=2048', 'conv=notrunc', 'status=none']);
      return img;
    };
    const a = build('a.img');
    nextSecond(2100);
    const b = build('b.img');
    const r = compare(a, b);
    const roots = r.findings.filter((f) => f.root);
    expect(roots.some((f) => f.field === 'gpt.header.disk_guid')).toBe(true);
    expect(roots.some((f) => f.field === 'gpt.part.1.unique_guid')).toBe(true);
    const serial = roots.find((f) => f.field === 'fat.volume_serial')!;
    expect(serial.path).toBe('/partition-1');
    expect(r.findings.some((f) => f.format === 'fat' && f.kind === 'timestamp' && f.path.startsWith('/partition-1//EFI'))).toBe(true);
    for (const f of r.findings.filter((x) => x.kind === 'checksum')) expect(f.root).toBe(false);
    expect(r.bytes.unexplained).toBe(0);
  });
});

describe('squashfs', () => {
  it.skipIf(!hasTool('mksquashfs'))('two builds of the same tree seconds apart: the mkfs time and the inode time, nothing unexplained', () => {
    const t = tree(join(w.dir, 'sq-tree'));
    run('mksquashfs', [t, join(w.dir, 'a.sqfs'), '-noappend', '-quiet']);
    nextSecond();
    run('touch', ['a.txt'], { cwd: t });
    run('mksquashfs', [t, join(w.dir, 'b.sqfs'), '-noappend', '-quiet']);
    const r = compare(join(w.dir, 'a.sqfs'), join(w.dir, 'b.sqfs'));
    const roots = r.findings.filter((f) => f.root);
    expect(roots.some((f) => f.field === 'squashfs.super.mkfs_time' && f.kind === 'timestamp')).toBe(true);
    expect(roots.some((f) => f.path === '/a.txt' && f.field === 'squashfs.inode.mtime')).toBe(true);
    expect(r.bytes.unexplained).toBe(0);
  });

  it.skipIf(!hasTool('mksquashfs'))('a file changed in place, at its size: the content finding names the change inside it', () => {
    // a fragment-packed small file and a 200 KB file in data blocks, with times pinned so only contents differ
    const t = join(w.dir, 'sq-content');
    mkdirSync(t, { recursive: true });
    const text = readFileSync('/usr/share/common-licenses/GPL-3', 'utf8').slice(0, 200_000);
    const build = (out: string): void => run('mksquashfs', [t, join(w.dir, out), '-noappend', '-quiet', '-mkfs-time', '0', '-all-time', '0']);
    writeFileSync(join(t, 'a.txt'), 'hello world 1\n');
    writeFileSync(join(t, 'big.txt'), text);
    build('content-a.sqfs');
    writeFileSync(join(t, 'a.txt'), 'hello world 2\n');
    writeFileSync(join(t, 'big.txt'), text.replace('GNU', 'gnu'));
    build('content-b.sqfs');
    const r = compare(join(w.dir, 'content-a.sqfs'), join(w.dir, 'content-b.sqfs'));
    const roots = r.findings.filter((f) => f.root);
    expect(roots.find((f) => f.path === '/a.txt' && f.kind === 'content')?.a).toBe('1');
    expect(roots.find((f) => f.path === '/big.txt' && f.kind === 'content')?.a).toBe('GNU');
    expect(r.bytes.unexplained).toBe(0);
  });

  it.skipIf(!hasTool('mksquashfs'))('a touched tree of 2,000 files: fields that stayed in their metadata block are not called moved', () => {
    // every inode time changes, so every compressed inode block changes size and all but the first move on disk
    const t = join(w.dir, 'sq-many');
    for (let d = 0; d < 40; d++) {
      mkdirSync(join(t, `d${d}`), { recursive: true });
      for (let f = 0; f < 50; f++) writeFileSync(join(t, `d${d}`, `f${f}`), `file ${d}/${f}\n`);
    }
    run('mksquashfs', [t, join(w.dir, 'many-a.sqfs'), '-noappend', '-quiet', '-processors', '1']);
    nextSecond();
    run('sh', ['-c', 'find . -exec touch {} +'], { cwd: t });
    run('mksquashfs', [t, join(w.dir, 'many-b.sqfs'), '-noappend', '-quiet', '-processors', '1']);
    const r = compare(join(w.dir, 'many-a.sqfs'), join(w.dir, 'many-b.sqfs'));
    expect(r.bytes.unexplained).toBe(0);
    // the data blocks and fragments are where they were (one compressor thread): no order changed, although
    // the files packed into one fragment block all sit at that block
    expect(r.findings.filter((f) => f.kind === 'ordering')).toEqual([]);
    const mtimes = r.findings.filter((f) => f.field === 'squashfs.inode.mtime' || f.field?.startsWith('squashfs.inode.mtime (and '));
    // (a summary finding stands for the copies past the first few)
    expect(mtimes.reduce((n, f) => n + (f.folded?.findings ?? 1), 0)).toBeGreaterThan(100);
    // a field at the same offset of the same metadata block (by table and number) sits where it did
    for (const f of r.findings.filter((x) => x.field === 'placement')) {
      const moved = /(\d+) fields?/.exec(f.detail ?? '');
      expect(Number(moved?.[1] ?? 0), f.detail).toBeLessThan(20);
    }
    // copies of one change in a decoded block merge into one span per block and side
    const folded = r.findings.find((f) => f.field?.startsWith('squashfs.inode.mtime (and '));
    if (folded) expect(folded.spans.length).toBeLessThan(200);
  });
});
