/**
 * --exclude GLOB and --exclude-directory-metadata on real pairs: the committed hybrid and basic samples, ISOs
 * made by xorriso and grub-mkrescue, tar archives made by GNU tar, and folders. What is excluded is not
 * compared, its differing bytes are counted apart (bytes.excluded), never as explained, and every view of the
 * same bytes leaves it out.
 */
import { chmodSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import type { Finding, Report } from '../../src/report/types.js';
import { cli, ROOT, SAMPLES } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schema/report.schema.json'), 'utf8')) as object);
const w = scratch();
afterAll(w.cleanup);

const HA = `${SAMPLES}hybrid-a.iso`;
const HB = `${SAMPLES}hybrid-b.iso`;

function compare(args: string[], status: number): Report {
  const r = cli([...args, '--json', '-', '-q']);
  expect(r.status, r.stderr).toBe(status);
  const report = JSON.parse(r.stdout) as Report;
  expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
  const b = report.bytes;
  expect(b.explained + b.unexplained + (b.excluded ?? 0)).toBe(b.differing);
  return report;
}

/** Differing bytes of two files inside [start, end). */
function differingIn(a: Buffer, b: Buffer, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (a[i] !== b[i]) n++;
  return n;
}

const roots = (r: Report): Finding[] => r.findings.filter((f) => f.root);

describe('--exclude', () => {
  it('hybrid ISO: a file and a folder left out, in every view of their bytes; their bytes counted apart', () => {
    const base = compare([HA, HB], 1);
    const ex = compare([HA, HB, '--exclude', 'efiboot.img', '--exclude', '/EFI/*'], 1);
    expect(base.bytes.excluded).toBeUndefined();
    expect(ex.bytes.differing).toBe(base.bytes.differing);
    expect(ex.bytes.unexplained).toBe(base.bytes.unexplained);
    // what was explained before and is excluded now is excluded, never explained
    expect(ex.bytes.excluded).toBeGreaterThan(0);
    expect(ex.bytes.explained).toBe(base.bytes.explained - ex.bytes.excluded!);
    expect(ex.excluded!.patterns).toEqual(['efiboot.img', '/EFI/*']);
    // every view that sees efiboot.img's bytes (the El Torito boot image, both partition tables) leaves it out
    const listing = JSON.parse(cli(['inspect', HA, '--json', '-', '--no-hash']).stdout) as { entries: { path: string; format: string; extents: { offset: number; length: number }[] }[] };
    const efi = listing.entries.find((e) => e.path === '/efiboot.img' && e.format === 'iso9660')!;
    const views = listing.entries.filter((e) => e.extents.length === 1 && e.extents[0]!.offset === efi.extents[0]!.offset && e.extents[0]!.length === efi.extents[0]!.length);
    expect(views.map((e) => e.format).sort()).toEqual(['eltorito', 'gpt', 'iso9660', 'mbr']);
    const excluded = ex.excluded!.entries.map((e) => `${e.format} ${e.path} ${e.by}`);
    for (const v of views) expect(excluded).toContain(`${v.format} ${v.path} efiboot.img`);
    expect(excluded).toContain('iso9660 /EFI/BOOT/BOOTX64.EFI /EFI/*');
    // nothing is said about them, nor about what is inside efiboot.img (its FAT serial and times)
    for (const f of ex.findings) {
      expect(f.path.startsWith('/efiboot.img//') || f.path.startsWith('/EFI/BOOT/'), f.path).toBe(false);
      for (const v of views) expect(f.path === v.path && f.format === v.format, `${f.id} ${f.path}`).toBe(false);
    }
    expect(roots(base).some((f) => f.format === 'fat')).toBe(true);
    expect(ex.findings.some((f) => f.format === 'fat')).toBe(false);
    // the differing bytes inside the FAT image are among the excluded ones
    const [a, b] = [readFileSync(HA), readFileSync(HB)];
    const inEfi = differingIn(a, b, efi.extents[0]!.offset, efi.extents[0]!.offset + efi.extents[0]!.length);
    expect(inEfi).toBeGreaterThan(0);
    expect(ex.bytes.excluded!).toBeGreaterThanOrEqual(inEfi);
    expect(ex.excluded!.entries.find((e) => e.format === 'iso9660' && e.path === '/efiboot.img')!.bytes).toBeGreaterThanOrEqual(inEfi);
    // the same inputs, the same report
    expect(cli([HA, HB, '--exclude', 'efiboot.img', '--exclude', '/EFI/*', '--json', '-', '-q']).stdout).toBe(JSON.stringify(ex, null, 2) + '\n');
  });

  it('a pattern that matches nothing is harmless: the same findings and totals', () => {
    const base = compare([HA, HB], 1);
    const ex = compare([HA, HB, '--exclude', 'no/such/*'], 1);
    expect(ex.findings).toEqual(base.findings);
    expect(ex.bytes).toEqual({ ...base.bytes, excluded: 0 });
    expect(ex.excluded).toEqual({ patterns: ['no/such/*'], directoryMetadata: 'yes', entries: [] });
  });

  it.skipIf(!hasTool('xorriso'))('a difference only in what is excluded: exit 0, said by every report', () => {
    const build = (content: string, iso: string): void => {
      const t = join(w.dir, `only-${content}`);
      mkdirSync(join(t, 'etc'), { recursive: true });
      writeFileSync(join(t, 'etc', 'build-id'), `id ${content.repeat(8)}\n`);
      writeFileSync(join(t, 'readme.txt'), 'the same in both\n');
      for (const p of [join(t, 'etc', 'build-id'), join(t, 'readme.txt'), join(t, 'etc'), t]) utimesSync(p, 1700000000, 1700000000);
      run('xorriso', ['-as', 'mkisofs', '-quiet', '-R', '-J', '-V', 'ONLY', '-o', iso, t], { env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' } });
    };
    const a = join(w.dir, 'only-a.iso');
    const b = join(w.dir, 'only-b.iso');
    build('1', a);
    build('2', b);
    const base = compare([a, b], 1);
    expect(roots(base).map((f) => [f.kind, f.path])).toEqual([['content', '/etc/build-id']]);
    const ex = compare([a, b, '--exclude', 'etc/build-id'], 0);
    expect(ex.findings).toEqual([]);
    expect(ex.bytes).toEqual({ differing: base.bytes.differing, explained: 0, unexplained: 0, excluded: base.bytes.differing });
    expect(ex.excluded!.entries).toEqual([{ path: '/etc/build-id', format: 'iso9660', by: 'etc/build-id', bytes: base.bytes.differing }]);
    // every presenter says what was left out and counts it
    const out = (opt: string): string => cli([a, b, '--exclude', 'etc/build-id', opt, '-', '-q']).stdout;
    const n = String(base.bytes.differing);
    expect(out('--text')).toContain(`no difference outside what is excluded: ${n} differing bytes, all excluded`);
    expect(out('--text')).toContain(`/etc/build-id (iso9660): ${n} bytes, by etc/build-id`);
    expect(out('--markdown')).toContain(`excluded: ${n}.`);
    expect(out('--markdown')).toContain('### Excluded');
    const html = join(w.dir, 'only.html');
    const junit = join(w.dir, 'only.xml');
    expect(cli([a, b, '--exclude', 'etc/build-id', '--html', html, '--junit', junit, '-q']).status).toBe(0);
    expect(readFileSync(html, 'utf8')).toContain(`excluded: ${n} (not drawn)`);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('failures="0"');
    expect(xml).toMatch(/<testcase classname="reprodiff.excluded" name="\/etc\/build-id">\s*<skipped message="excluded: \/etc\/build-id \(iso9660\)/);
    // render writes the same from the saved report
    const saved = join(w.dir, 'only.json');
    writeFileSync(saved, JSON.stringify(ex, null, 2) + '\n');
    const again = cli(['render', saved, '--html', '-']);
    expect(again.status).toBe(0);
    expect(again.stdout).toBe(readFileSync(html, 'utf8'));
  });

  it.skipIf(!hasTool('grub-mkrescue') || !hasTool('xorriso') || !hasTool('mformat'))('grub-mkrescue: a file left out in ISO 9660 and HFS+ alike; what moved because it grew is excluded too', () => {
    const t = join(w.dir, 'grub-tree');
    mkdirSync(join(t, 'boot', 'grub'), { recursive: true });
    mkdirSync(join(t, 'docs'), { recursive: true });
    writeFileSync(join(t, 'boot', 'grub', 'grub.cfg'), 'set timeout=1\n');
    const lines = Array.from({ length: 5000 }, (_, i) => `${i + 1}`).join('\n') + '\n';
    writeFileSync(join(t, 'docs', 'a.txt'), lines);
    const a = join(w.dir, 'grub-a.iso');
    const b = join(w.dir, 'grub-b.iso');
    run('grub-mkrescue', ['-o', a, t]);
    writeFileSync(join(t, 'docs', 'a.txt'), `extra line\n${lines}`);
    run('grub-mkrescue', ['-o', b, t]);
    const base = compare([a, b], 1);
    expect(roots(base).some((f) => f.kind === 'content' && f.path === '/docs/a.txt')).toBe(true);
    const ex = compare([a, b, '--exclude', 'docs/a.txt'], 1);
    // HFS+ is inside an Apple partition: its file is /partition-N//docs/a.txt
    const isFile = (p: string): boolean => p === '/docs/a.txt' || /^\/partition-\d+\/\/docs\/a\.txt$/.test(p);
    expect(ex.excluded!.entries.filter((e) => isFile(e.path)).map((e) => e.format).sort()).toEqual(['hfsplus', 'iso9660']);
    expect(base.findings.some((f) => f.format === 'hfsplus' && isFile(f.path))).toBe(true);
    expect(ex.findings.filter((f) => isFile(f.path))).toEqual([]);
    expect(roots(ex).some((f) => f.kind === 'content')).toBe(false);
    expect(ex.bytes.unexplained).toBe(base.bytes.unexplained);
    expect(ex.bytes.explained + ex.bytes.excluded!).toBe(base.bytes.explained);
  });
});

describe('--exclude-directory-metadata', () => {
  it('recursive: the times of the members are left out and counted apart; the volume dates stay', () => {
    const A = `${SAMPLES}basic-a.iso`;
    const B = `${SAMPLES}basic-b.iso`;
    const base = compare([A, B], 1);
    const ex = compare([A, B, '--exclude-directory-metadata', 'recursive'], 1);
    expect(base.findings.some((f) => f.kind === 'timestamp' && f.path !== '/')).toBe(true);
    expect(ex.findings.filter((f) => f.kind === 'timestamp' && f.path !== '/')).toEqual([]);
    expect(roots(ex).map((f) => [f.kind, f.path, f.field])).toEqual([['timestamp', '/', 'pvd.modification_date']]);
    expect(ex.bytes.excluded).toBe(base.bytes.explained - ex.bytes.explained);
    expect(ex.bytes.excluded).toBeGreaterThan(0);
    const [entry] = ex.excluded!.entries;
    expect(ex.excluded!.entries.length).toBe(1);
    expect(entry).toMatchObject({ path: '/', format: 'iso9660', by: 'directory metadata', bytes: ex.bytes.excluded });
    expect(entry!.findings).toBeGreaterThan(0);
    // yes and auto compare members' metadata as without the option
    const yes = compare([A, B, '--exclude-directory-metadata', 'yes'], 1);
    expect(yes.findings).toEqual(base.findings);
    expect(compare([A, B, '--exclude-directory-metadata', 'auto'], 1).excluded!.directoryMetadata).toBe('yes');
  });

  it.skipIf(!hasTool('tar'))('recursive: two tar archives that differ only in their members times are no difference (checksums included)', () => {
    const t = join(w.dir, 'tar-tree');
    mkdirSync(join(t, 'usr', 'bin'), { recursive: true });
    writeFileSync(join(t, 'usr', 'bin', 'tool'), '#!/bin/sh\necho tool\n');
    writeFileSync(join(t, 'README'), 'readme\n');
    const a = join(w.dir, 'times-a.tar');
    const b = join(w.dir, 'times-b.tar');
    run('tar', ['cf', a, '--sort=name', '--owner=0', '--group=0', '--mtime=@1700000000', '-C', t, '.']);
    run('tar', ['cf', b, '--sort=name', '--owner=0', '--group=0', '--mtime=@1700003600', '-C', t, '.']);
    const base = compare([a, b], 1);
    expect(new Set(roots(base).map((f) => f.kind))).toEqual(new Set(['timestamp']));
    expect(base.findings.some((f) => f.kind === 'checksum')).toBe(true);
    const ex = compare([a, b, '--exclude-directory-metadata', 'recursive'], 0);
    expect(ex.findings).toEqual([]);
    expect(ex.bytes.excluded).toBe(base.bytes.differing);
    expect(ex.excluded!.entries.map((e) => [e.path, e.format, e.by, e.bytes])).toEqual([['/', 'tar', 'directory metadata', base.bytes.differing]]);
  });

  it('no: two folders with the same bytes, other modes and times: named, with no bytes; yes and auto: exit 0', () => {
    const mk = (name: string, mode: number, time: number): string => {
      const d = join(w.dir, name);
      mkdirSync(join(d, 'bin'), { recursive: true });
      writeFileSync(join(d, 'bin', 'run'), 'echo run\n');
      writeFileSync(join(d, 'notes.txt'), 'the same\n');
      chmodSync(join(d, 'bin', 'run'), mode);
      utimesSync(join(d, 'bin', 'run'), time, time);
      utimesSync(join(d, 'notes.txt'), 1700000000, 1700000000);
      utimesSync(join(d, 'bin'), 1700000000, 1700000000);
      return d;
    };
    const a = mk('meta-a', 0o755, 1700000000);
    const b = mk('meta-b', 0o644, 1700000001.5);
    const auto = compare([a, b], 0);
    expect(auto.identical).toBe(true);
    expect(auto.excluded).toBeUndefined();
    expect(compare([a, b, '--exclude-directory-metadata', 'yes'], 0).findings).toEqual([]);
    const no = compare([a, b, '--exclude-directory-metadata', 'no'], 1);
    expect(no.findings.map((f) => [f.path, f.format, f.field, f.kind, f.a, f.b, f.spans])).toEqual([
      ['/bin/run', 'folder', 'stat.mtime', 'timestamp', '2023-11-14T22:13:20Z', '2023-11-14T22:13:21.5Z', []],
      ['/bin/run', 'folder', 'stat.mode', 'permissions', 0o100755, 0o100644, []],
    ]);
    expect(no.bytes).toEqual({ differing: 0, explained: 0, unexplained: 0, excluded: 0 });
    const text = cli([a, b, '--exclude-directory-metadata', 'no', '-q']).stdout;
    expect(text).toContain('stat.mode');
    expect(text).toContain('0100755 → 0100644');
    // two files: their own metadata
    const files = compare([join(a, 'bin', 'run'), join(b, 'bin', 'run'), '--exclude-directory-metadata', 'no'], 1);
    expect(files.findings.map((f) => [f.path, f.field])).toEqual([
      ['/', 'stat.mtime'],
      ['/', 'stat.mode'],
    ]);
    expect(compare([join(a, 'bin', 'run'), join(b, 'bin', 'run')], 0).identical).toBe(true);
  });
});

describe('--help', () => {
  it('lists the options and what they do to the exit status', () => {
    const help = cli(['--help']).stdout.replace(/\s+/g, ' ');
    for (const o of ['--exclude <glob>', '--exclude-directory-metadata <when>', '--timeout <seconds>']) expect(help).toContain(o);
    expect(help).toContain('always when --timeout cut the run short');
    expect(help).toContain('A difference only inside what --exclude and --exclude-directory-metadata leave out is exit 0');
  });

  it('refuses a mode it does not know, and an empty pattern', () => {
    const r = cli([HA, HB, '--exclude-directory-metadata', 'sometimes']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('expected one of auto, yes, no, recursive');
    expect(cli([HA, HB, '--exclude', '']).status).toBe(2);
    expect(cli([HA, HB, '--timeout', '0']).status).toBe(2);
  });
});

describe('--exclude in folders', () => {
  it('a file by its name at any depth, a folder with all it holds; their differing bytes counted apart', () => {
    const mk = (name: string, stamp: string): string => {
      const d = join(w.dir, name);
      mkdirSync(join(d, 'logs', 'deep'), { recursive: true });
      mkdirSync(join(d, 'sub'), { recursive: true });
      writeFileSync(join(d, 'sub', 'BUILDINFO'), `Build-Date: ${stamp}\n`);
      writeFileSync(join(d, 'logs', 'deep', 'x.log'), `log of ${stamp}\n`);
      writeFileSync(join(d, 'kept.txt'), `kept ${stamp}\n`);
      return d;
    };
    const a = mk('fold-a', '2026-11-22T06:45:17Z');
    const b = mk('fold-b', '2026-11-22T06:52:03Z');
    writeFileSync(join(b, 'logs', 'only-b.log'), 'new\n');
    const base = compare([a, b], 1);
    const ex = compare([a, b, '--exclude', 'BUILDINFO', '--exclude', 'logs'], 1);
    expect(ex.findings.filter((f) => /BUILDINFO|logs/.test(f.path))).toEqual([]);
    expect(roots(ex).map((f) => f.path)).toEqual(['/kept.txt']);
    const cmpBytes = (rel: string): number => {
      const [x, y] = [readFileSync(join(a, rel)), readFileSync(join(b, rel))];
      return differingIn(x, y, 0, Math.min(x.length, y.length)) + Math.abs(x.length - y.length);
    };
    expect(ex.excluded!.entries.map((e) => [e.path, e.by, e.bytes])).toEqual([
      ['/logs/deep/x.log', 'logs', cmpBytes('logs/deep/x.log')],
      ['/logs/only-b.log', 'logs', 4],
      ['/sub/BUILDINFO', 'BUILDINFO', cmpBytes('sub/BUILDINFO')],
    ]);
    expect(ex.bytes.excluded).toBe(cmpBytes('logs/deep/x.log') + 4 + cmpBytes('sub/BUILDINFO'));
    expect(ex.bytes.differing).toBe(base.bytes.differing);
  });
});
