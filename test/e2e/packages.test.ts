/**
 * Debian packages, static libraries, .tar.bz2, old binary cpio and .pyc files built twice by the real tools,
 * with the inputs touched in between, compared end to end through the CLI.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.js';
import { cli, ROOT } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const validate = new Ajv({ allErrors: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schema/report.schema.json'), 'utf8')) as object);
const w = scratch('reprodiff-e2e-pkg-');
afterAll(w.cleanup);

function compare(a: string, b: string, status = 1): Report {
  const r = cli([a, b, '--json', '-']);
  expect(r.status, r.stderr).toBe(status);
  const report = JSON.parse(r.stdout) as Report;
  expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
  return report;
}

/** Waits until the clock has moved on by `ms`, so the second build stamps other seconds. */
function later(ms = 1100): void {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    // whole seconds
  }
}

const rootKinds = (r: Report): Set<string> => new Set(r.findings.filter((f) => f.root).map((f) => f.kind));

function pkgTree(dir: string): string {
  mkdirSync(join(dir, 'DEBIAN'), { recursive: true });
  mkdirSync(join(dir, 'usr/share/doc/hello'), { recursive: true });
  mkdirSync(join(dir, 'usr/bin'), { recursive: true });
  writeFileSync(join(dir, 'DEBIAN/control'), 'Package: hello\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: test package\n');
  writeFileSync(join(dir, 'usr/share/doc/hello/README'), 'hello\n'.repeat(200));
  writeFileSync(join(dir, 'usr/bin/hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
  return dir;
}

describe('dpkg-deb --build twice, the tree touched in between', () => {
  it.skipIf(!hasTool('dpkg-deb')).each([['gzip'], ['xz'], ['zstd'], ['none']])('-Z%s: the ar header times and the tar member times; nothing unexplained', (z) => {
    const t = pkgTree(join(w.dir, `deb-${z}`));
    const a = join(w.dir, `a-${z}.deb`);
    const b = join(w.dir, `b-${z}.deb`);
    const env = { ...process.env };
    delete env.SOURCE_DATE_EPOCH;
    try {
      run('dpkg-deb', ['--root-owner-group', `-Z${z}`, '--build', t, a], { env });
    } catch (e) {
      if (z === 'zstd' && /zstd/.test(String((e as { stderr?: string }).stderr))) return; // dpkg without zstd
      throw e;
    }
    later();
    run('touch', ['usr/share/doc/hello/README', 'DEBIAN/control'], { cwd: t });
    run('dpkg-deb', ['--root-owner-group', `-Z${z}`, '--build', t, b], { env });
    const r = compare(a, b);
    const roots = r.findings.filter((f) => f.root);
    const ext = z === 'gzip' ? '.gz' : z === 'xz' ? '.xz' : z === 'zstd' ? '.zst' : '';
    const arTime = roots.find((f) => f.format === 'ar' && f.field === 'ar.mtime')!;
    expect(arTime.hint).toMatch(/SOURCE_DATE_EPOCH/);
    expect(roots.some((f) => f.path === `/data.tar${ext}//usr/share/doc/hello/README` && f.field === 'tar.mtime')).toBe(true);
    expect(roots.some((f) => f.path === `/control.tar${ext}//control` && f.field === 'tar.mtime')).toBe(true);
    // the xz block header's sizes, filter flags and padding are fields of their own: a compressed size that
    // the touched member changed is a size, not a difference in the filters
    expect(rootKinds(r)).toEqual(new Set(['timestamp']));
    expect(r.bytes.unexplained).toBe(0);
  });

  it.skipIf(!hasTool('dpkg-deb'))('with SOURCE_DATE_EPOCH the two builds are identical', () => {
    const t = pkgTree(join(w.dir, 'deb-sde'));
    const env = { ...process.env, SOURCE_DATE_EPOCH: '1600000000' };
    run('dpkg-deb', ['--root-owner-group', '--build', t, join(w.dir, 'sde-a.deb')], { env });
    later();
    run('touch', ['usr/share/doc/hello/README'], { cwd: t });
    run('dpkg-deb', ['--root-owner-group', '--build', t, join(w.dir, 'sde-b.deb')], { env });
    const r = compare(join(w.dir, 'sde-a.deb'), join(w.dir, 'sde-b.deb'), 0);
    expect(r.identical).toBe(true);
  });
});

describe('ar rcU twice', () => {
  it.skipIf(!hasTool('ar'))('the member times that ar U records; nothing unexplained', () => {
    const d = join(w.dir, 'ar');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'one.o'), 'one\n');
    writeFileSync(join(d, 'a_long_member_name_past_16.o'), 'two\n');
    run('ar', ['rcU', '../a.a', 'one.o', 'a_long_member_name_past_16.o'], { cwd: d });
    later();
    run('touch', ['one.o', 'a_long_member_name_past_16.o'], { cwd: d });
    run('ar', ['rcU', '../b.a', 'one.o', 'a_long_member_name_past_16.o'], { cwd: d });
    const r = compare(join(w.dir, 'a.a'), join(w.dir, 'b.a'));
    expect(rootKinds(r)).toEqual(new Set(['timestamp']));
    const t = r.findings.find((f) => f.root && f.field === 'ar.mtime')!;
    expect(t.hint).toMatch(/ar rcD/);
    expect(r.bytes.unexplained).toBe(0);
  });
});

describe('.tar.bz2 twice', () => {
  it.skipIf(!hasTool('tar') || !hasTool('bzip2'))('the tar member times through the bzip2 layer; nothing unexplained', () => {
    const t = join(w.dir, 'bz-tree');
    mkdirSync(join(t, 'd'), { recursive: true });
    writeFileSync(join(t, 'a.txt'), 'one\n'.repeat(5000));
    writeFileSync(join(t, 'd/b.txt'), readFileSync('/usr/share/common-licenses/GPL-3'));
    run('sh', ['-c', `tar --sort=name -cf - -C ${t} . | bzip2 -9 > ${join(w.dir, 'a.tar.bz2')}`]);
    later();
    run('touch', ['a.txt', 'd/b.txt'], { cwd: t });
    run('sh', ['-c', `tar --sort=name -cf - -C ${t} . | bzip2 -9 > ${join(w.dir, 'b.tar.bz2')}`]);
    const r = compare(join(w.dir, 'a.tar.bz2'), join(w.dir, 'b.tar.bz2'));
    expect(rootKinds(r)).toEqual(new Set(['timestamp']));
    const paths = r.findings.filter((f) => f.root && f.format === 'tar').map((f) => f.path);
    expect(paths).toContain('/a.txt');
    // the bzip2 layer adds no path step; its CRCs follow from what changed inside
    for (const f of r.findings.filter((x) => x.format === 'bzip2')) expect(f.root).toBe(false);
    expect(r.findings.some((f) => f.format === 'bzip2' && f.kind === 'checksum')).toBe(true);
    expect(r.bytes.unexplained).toBe(0);
  });
});

describe('cpio -H bin twice', () => {
  it.skipIf(!hasTool('cpio'))('the member times; nothing unexplained', () => {
    const t = join(w.dir, 'cpio-tree');
    mkdirSync(join(t, 'etc'), { recursive: true });
    writeFileSync(join(t, 'etc/hostname'), 'box\n');
    writeFileSync(join(t, 'etc/odd'), 'abc');
    const pack = (out: string): string => run('sh', ['-c', `cd ${t} && find . | LC_ALL=C sort | cpio -o -H bin --quiet > ${join(w.dir, out)}`]);
    pack('a.cpio');
    later();
    run('touch', ['etc/hostname', 'etc/odd'], { cwd: t });
    pack('b.cpio');
    const r = compare(join(w.dir, 'a.cpio'), join(w.dir, 'b.cpio'));
    expect(rootKinds(r)).toEqual(new Set(['timestamp']));
    expect(r.findings.some((f) => f.root && f.field === 'cpio.mtime' && f.path.startsWith('/etc'))).toBe(true);
    expect(r.bytes.unexplained).toBe(0);
  });
});

describe('py_compile twice', () => {
  it.skipIf(!hasTool('python3'))('timestamp-based pycs of a touched source: the source mtime alone', () => {
    const d = join(w.dir, 'py');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'm.py'), 'import os\nprint(os.sep)\n');
    const env = { ...process.env };
    delete env.SOURCE_DATE_EPOCH;
    const compile = (out: string): string => run('python3', ['-c', `import py_compile; py_compile.compile('m.py', cfile='${out}', doraise=True)`], { cwd: d, env });
    compile('a.pyc');
    later();
    run('touch', ['m.py'], { cwd: d });
    compile('b.pyc');
    const r = compare(join(d, 'a.pyc'), join(d, 'b.pyc'));
    const roots = r.findings.filter((f) => f.root);
    expect(roots.map((f) => `${f.format} ${f.field} ${f.kind}`)).toEqual(['pyc pyc.source_mtime timestamp']);
    expect(roots[0]!.hint).toMatch(/checked-hash/);
    expect(r.bytes.unexplained).toBe(0);
  });
});
