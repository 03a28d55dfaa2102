/**
 * Release folders: `reprodiff DIR_A DIR_B` with an ISO pair (xorriso), a .deb pair (dpkg-deb), a text pair,
 * files only one folder holds, symbolic links and a FIFO, built twice by the real tools seconds apart.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.js';
import { cli, ROOT } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schema/report.schema.json'), 'utf8')) as object);
const w = scratch();
afterAll(w.cleanup);

const tools = hasTool('xorriso') && hasTool('dpkg-deb') && hasTool('mkfifo');
const A = join(w.dir, 'release-a');
const B = join(w.dir, 'release-b');

function nextSecond(ms = 1100): void {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    // the tools stamp whole seconds
  }
}

/** One build of the release into `out`: the ISO and the package from `src`, with the time of now. */
function build(src: string, out: string, stamp: string): void {
  mkdirSync(join(out, 'pool'), { recursive: true });
  writeFileSync(join(src, 'iso', 'version.txt'), `release 1.0\n`);
  run('touch', [join(src, 'iso', 'version.txt'), join(src, 'pkg', 'usr', 'share', 'doc', 'demo', 'README')]);
  run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-o', join(out, 'live.iso'), join(src, 'iso')]);
  run('dpkg-deb', ['--root-owner-group', '-b', join(src, 'pkg'), join(out, 'pool', 'demo_1.0_all.deb')]);
  writeFileSync(join(out, 'BUILDINFO'), `Source: demo\nVersion: 1.0\nBuild-Date: ${stamp}\n`);
  symlinkSync('live.iso', join(out, 'current.iso'));
}

beforeAll(() => {
  if (!tools) return;
  const src = join(w.dir, 'src');
  mkdirSync(join(src, 'iso', 'boot'), { recursive: true });
  writeFileSync(join(src, 'iso', 'boot', 'grub.cfg'), 'menuentry "live" { linux /vmlinuz }\n');
  mkdirSync(join(src, 'pkg', 'DEBIAN'), { recursive: true });
  mkdirSync(join(src, 'pkg', 'usr', 'share', 'doc', 'demo'), { recursive: true });
  writeFileSync(join(src, 'pkg', 'DEBIAN', 'control'), 'Package: demo\nVersion: 1.0\nArchitecture: all\nMaintainer: Demo <demo@example.org>\nDescription: demo\n');
  writeFileSync(join(src, 'pkg', 'usr', 'share', 'doc', 'demo', 'README'), 'demo package\n');
  build(src, A, '2026-11-22T06:45:17Z');
  nextSecond();
  build(src, B, '2026-11-22T06:52:03Z');
  // only in one folder each; a link that points out of the folder (never followed); a FIFO (skipped)
  writeFileSync(join(A, 'pool', 'old.txt'), 'gone in the second build\n');
  writeFileSync(join(B, 'SHA256SUMS'), 'new in the second build\n');
  symlinkSync('/etc/hostname', join(A, 'outside'));
  symlinkSync('/etc/os-release', join(B, 'outside'));
  execFileSync('mkfifo', [join(A, 'pipe'), join(B, 'pipe')]);
  // a link to the root folder in both: compared as a link, never walked into
  symlinkSync('/', join(A, 'rootfs'));
  symlinkSync('/', join(B, 'rootfs'));
});

function compare(a: string, b: string): Report {
  const r = cli([a, b, '--json', '-', '-q']);
  expect(r.status, r.stderr).toBe(1);
  const report = JSON.parse(r.stdout) as Report;
  expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
  return report;
}

describe('release folders', () => {
  it.skipIf(!tools)('two builds of a release: one report naming each file, every artifact under its path, exit 1', () => {
    const r = compare(A, B);
    const roots = r.findings.filter((f) => f.root);
    const at = (p: RegExp): Report['findings'] => roots.filter((f) => p.test(f.path));
    // the ISO: its times, under /live.iso and //into it
    expect(at(/^\/live\.iso(\/\/|$)/).some((f) => f.kind === 'timestamp' && f.format === 'iso9660')).toBe(true);
    expect(at(/^\/live\.iso\/\/version\.txt$/).some((f) => f.kind === 'timestamp')).toBe(true);
    // the package: the ar member times and the tar member times inside
    expect(at(/^\/pool\/demo_1\.0_all\.deb\/\/control\.tar\./).some((f) => f.kind === 'timestamp' && f.format === 'ar')).toBe(true);
    expect(at(/^\/pool\/demo_1\.0_all\.deb\/\/data\.tar\.[a-z]+\/\/usr\/share\/doc\/demo\/README$/).some((f) => f.kind === 'timestamp' && f.format === 'tar')).toBe(true);
    // the text pair: its build date, as text
    expect(at(/^\/BUILDINFO$/).map((f) => [f.kind, f.format, f.a, f.b])).toEqual([['timestamp', 'text', '2026-11-22T06:45:17Z', '2026-11-22T06:52:03Z']]);
    // files only one folder holds
    expect(at(/^\/pool\/old\.txt$/).map((f) => [f.kind, f.format, f.a, f.b])).toEqual([['removed', 'folder', 'file, 25 bytes', null]]);
    expect(at(/^\/SHA256SUMS$/).map((f) => [f.kind, f.format, f.a, f.b])).toEqual([['added', 'folder', null, 'file, 24 bytes']]);
    // links compared as links: the same target says nothing, another target is named, nothing outside is read
    expect(at(/^\/current\.iso/)).toEqual([]);
    expect(r.findings.filter((f) => f.path.startsWith('/rootfs'))).toEqual([]);
    expect(at(/^\/outside$/).map((f) => [f.field, f.a, f.b])).toEqual([['symlink.target', '/etc/hostname', '/etc/os-release']]);
    expect(r.notes).toContain('/pipe: a FIFO in both folders; not compared');
    // spans name their file
    for (const f of r.findings) for (const s of f.spans) expect(s.stream, f.path).toBeDefined();
    expect(r.findings.find((f) => f.path === '/SHA256SUMS')!.spans).toEqual([{ side: 'b', stream: 'SHA256SUMS', offset: 0, length: 24 }]);
    // the inputs are the folders, with the bytes of their regular files
    const sizes = (d: string, files: string[]): number => files.reduce((n, f) => n + statSync(join(d, f)).size, 0);
    expect(r.inputs.map((i) => [i.path, i.size])).toEqual([
      [A, sizes(A, ['live.iso', 'pool/demo_1.0_all.deb', 'BUILDINFO', 'pool/old.txt'])],
      [B, sizes(B, ['live.iso', 'pool/demo_1.0_all.deb', 'BUILDINFO', 'SHA256SUMS'])],
    ]);
    // ids run in order and every cause named is a finding of the report
    const ids = new Set(r.findings.map((f) => f.id));
    expect(r.findings.map((f) => f.id)).toEqual(r.findings.map((_, i) => `f${i + 1}`));
    for (const f of r.findings) for (const c of f.causedBy) expect(ids.has(c), `${f.id} ${c}`).toBe(true);
    // deterministic: the same folders, the same report
    expect(cli([A, B, '--json', '-', '-q']).stdout).toBe(JSON.stringify(r, null, 2) + '\n');
  });

  it.skipIf(!tools)('the byte accounting is the sum over the files: each pair compared alone, plus the files only one folder holds', () => {
    const r = compare(A, B);
    const sum = { differing: 25 + 24, explained: 25 + 24, unexplained: 0 };
    for (const f of ['live.iso', 'pool/demo_1.0_all.deb', 'BUILDINFO']) {
      const one = compare(join(A, f), join(B, f));
      sum.differing += one.bytes.differing;
      sum.explained += one.bytes.explained;
      sum.unexplained += one.bytes.unexplained;
      // and the file's own findings are all in the folder report, under its path
      const roots = one.findings.filter((x) => x.root).map((x) => `${x.kind} ${x.path === '/' ? `/${f}` : `/${f}/${x.path}`} ${x.field ?? ''}`);
      const inFolder = new Set(r.findings.filter((x) => x.root).map((x) => `${x.kind} ${x.path} ${x.field ?? ''}`));
      for (const x of roots) expect(inFolder.has(x), x).toBe(true);
    }
    expect(r.bytes).toEqual(sum);
  });

  it.skipIf(!tools)('identical folders: exit 0', () => {
    const c = join(w.dir, 'copy');
    mkdirSync(join(c, 'pool'), { recursive: true });
    for (const f of ['live.iso', 'pool/demo_1.0_all.deb', 'BUILDINFO']) copyFileSync(join(A, f), join(c, f));
    symlinkSync('live.iso', join(c, 'current.iso'));
    const d = join(w.dir, 'copy2');
    mkdirSync(join(d, 'pool'), { recursive: true });
    for (const f of ['live.iso', 'pool/demo_1.0_all.deb', 'BUILDINFO']) copyFileSync(join(A, f), join(d, f));
    symlinkSync('live.iso', join(d, 'current.iso'));
    const r = cli([c, d, '--json', '-', '-q']);
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Report;
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report.identical).toBe(true);
    expect(report.findings).toEqual([]);
    expect(report.bytes).toEqual({ differing: 0, explained: 0, unexplained: 0 });
  });

  it('folders nested deeper than the cap: a limit, exit 2, naming where', () => {
    const deep = (root: string): string => {
      let d = root;
      for (let i = 0; i < 66; i++) d = join(d, 'd');
      mkdirSync(d, { recursive: true });
      return root;
    };
    const r = cli([deep(join(w.dir, 'deep-a')), deep(join(w.dir, 'deep-b')), '-q']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^reprodiff: .*deep-a(\/d)+: folders nested deeper than 64 levels\n$/);
  });

  it('a folder and a file, or a report inside an input folder: trouble, exit 2, before any work', () => {
    const d = join(w.dir, 'lone');
    mkdirSync(d, { recursive: true });
    const f = join(w.dir, 'lone.txt');
    writeFileSync(f, 'x\n');
    const mixed = cli([d, f]);
    expect(mixed.status).toBe(2);
    expect(mixed.stderr).toBe(`reprodiff: ${d}: is a folder and ${f} is a file; reprodiff compares two files or two folders\n`);
    const inside = cli([d, d, '--json', join(d, 'report.json')]);
    expect(inside.status).toBe(2);
    expect(inside.stderr).toMatch(/--json .*report\.json is inside the input folder/);
  });
});
