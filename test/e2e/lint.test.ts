/**
 * `reprodiff lint IMAGE`: what will differ in another build, found in one build made by the real tools.
 * Deterministic builds must give nothing (exit 0); each non-deterministic input must be flagged, and only it.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { hasTool, run, scratch } from '../helpers/tools.js';
import { cli, ROOT } from '../helpers/cli.js';
import { ISOHDPFX_BIN, ISOLINUX_BIN } from '../helpers/hybrid.js';
import { lintImage } from '../../src/lint/index.js';
import type { Report } from '../../src/report/types.js';

const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(ROOT, 'schema/report.schema.json'), 'utf8')) as object);
const SDE = 1_700_000_000;
const hasIsoTools = hasTool('xorriso') && existsSync(ISOLINUX_BIN) && existsSync(ISOHDPFX_BIN) && hasTool('mkfs.fat');

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = scratch('reprodiff-lint-')));
afterAll(() => cleanup());

/** Touches every path to SDE (the tree of a reproducible build). */
function touchAll(paths: string[]): void {
  for (const p of paths) utimesSync(p, SDE, SDE);
}

/**
 * An isohybrid (MBR + GPT, El Torito BIOS and EFI) image built with SOURCE_DATE_EPOCH, every file date fixed
 * and a touched tree; the EFI image's FAT serial given with -i. `extra` adds files to the tree first.
 */
function buildIso(name: string, extra: Record<string, string> = {}, fixed = true): string {
  const tree = join(dir, `${name}-tree`);
  mkdirSync(join(tree, 'isolinux'), { recursive: true });
  mkdirSync(join(tree, 'docs'), { recursive: true });
  copyFileSync(ISOLINUX_BIN, join(tree, 'isolinux', 'isolinux.bin'));
  writeFileSync(join(tree, 'readme.txt'), 'hello\n');
  writeFileSync(join(tree, 'docs', 'notes.txt'), 'Notes about this build. An example of a file system id, as an fstab line would hold it:\n  UUID=0b9a33f0-0b7c-4d9f-8b0e-6a4d1b6f9e21 / ext4 defaults 0 1\nThe id above is part of the documentation, the same in every build.\n');
  for (const [p, text] of Object.entries(extra)) writeFileSync(join(tree, p), text);
  const efi = join(tree, 'efiboot.img');
  run('mkfs.fat', ['-i', '12345678', '-C', efi, '2880'], { env: { ...process.env, SOURCE_DATE_EPOCH: String(SDE) } });
  touchAll([tree, join(tree, 'isolinux'), join(tree, 'docs'), join(tree, 'isolinux', 'isolinux.bin'), join(tree, 'readme.txt'), join(tree, 'docs', 'notes.txt'), efi, ...Object.keys(extra).map((p) => join(tree, p))]);
  const iso = join(dir, `${name}.iso`);
  const env = { ...process.env };
  if (fixed) env.SOURCE_DATE_EPOCH = String(SDE);
  else delete env.SOURCE_DATE_EPOCH;
  run('xorriso', ['-as', 'mkisofs', '-R', '-J', '-isohybrid-mbr', ISOHDPFX_BIN, '-c', 'isolinux/boot.cat',
    '-b', 'isolinux/isolinux.bin', '-no-emul-boot', '-boot-load-size', '4', '-boot-info-table',
    '-eltorito-alt-boot', '-e', 'efiboot.img', '-no-emul-boot', '-isohybrid-gpt-basdat', '-o', iso, tree,
    ...(fixed ? ['--', '-volume_date', 'all_file_dates', `=${SDE}`] : [])], { env });
  return iso;
}

function lintJson(image: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): { status: number | null; report: Report; stderr: string } {
  const r = cli(['lint', image, '--json', '-', ...args], { SOURCE_DATE_EPOCH: '', ...env });
  const report = JSON.parse(r.stdout) as Report;
  expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
  return { status: r.status, report, stderr: r.stderr };
}

describe('lint on an ISO built with SOURCE_DATE_EPOCH', () => {
  it.skipIf(!hasIsoTools)('finds nothing in a deterministic build (exit 0), and the GPT GUIDs xorriso derives are not flagged', () => {
    const iso = buildIso('fixed');
    const r = lintJson(iso, ['--source-date-epoch', String(SDE)]);
    expect(r.report.findings).toEqual([]);
    expect(r.report.mode).toBe('lint');
    expect(r.status).toBe(0);
    // the same through the environment variable
    expect(cli(['lint', iso], { SOURCE_DATE_EPOCH: String(SDE) }).status).toBe(0);
    // the image does hold GUIDs with version-4 bits (derived from the volume date): they are what is not flagged
    const gpt = run('sh', ['-c', `dd if=${iso} bs=512 skip=1 count=1 2>/dev/null | od -An -tx1 -j56 -N16`]).replace(/\s+/g, '');
    expect(gpt[14]).toBe('4');
  });

  it.skipIf(!hasIsoTools)('flags exactly the file holding a random UUID', () => {
    const uuid = hasTool('uuidgen') ? run('uuidgen', ['-r']).trim() : '3f2b8c1e-9d4a-4b7e-a1c3-5e6f7a8b9c0d';
    const iso = buildIso('uuid', { 'instance-id': `${uuid}\n` });
    const r = lintJson(iso, ['--source-date-epoch', String(SDE)]);
    expect(r.status).toBe(1);
    expect(r.report.findings).toHaveLength(1);
    const f = r.report.findings[0]!;
    expect(f).toMatchObject({ kind: 'random-id', path: '/instance-id', a: uuid, root: true });
    expect(f.spans.length).toBe(1);
    // the span is where the UUID sits in the image
    const at = f.spans[0]!;
    expect(readFileSync(iso).subarray(at.offset, at.offset + at.length).toString('latin1')).toBe(uuid);
  });

  it.skipIf(!hasIsoTools)('without --source-date-epoch, a build whose times are all one fixed second is taken as fixed', async () => {
    const report = await lintImage(buildIso('fixed-nosde'));
    expect(report.findings).toEqual([]);
    expect(report.notes.join('\n')).toContain(`SOURCE_DATE_EPOCH=${SDE}`);
  });

  it.skipIf(!hasIsoTools)('without SOURCE_DATE_EPOCH at build time, the volume dates and random GPT GUIDs are flagged, each once', async () => {
    const report = await lintImage(buildIso('clock', {}, false));
    const fields = report.findings.map((f) => `${f.kind} ${f.field}`);
    expect(fields).toContain('timestamp pvd.creation_date');
    expect(report.findings.find((f) => f.field === 'gpt.header.disk_guid')?.kind).toBe('random-id');
    // copies fold: the volume dates stamped at once are one finding, the GPT GUIDs of one draw are one finding
    expect(report.findings.filter((f) => f.format === 'iso9660' && f.field?.startsWith('pvd.')).length).toBe(1);
    expect(report.findings.filter((f) => f.format === 'gpt').length).toBe(1);
    // the touched tree's file times are the inputs' own (2023), not the build's
    expect(report.findings.filter((f) => f.kind === 'timestamp' && f.format === 'iso9660' && f.field?.startsWith('rr.tf.modify'))).toEqual([]);
  });
});

describe('lint on archives', () => {
  it.skipIf(!hasTool('tar'))('flags a tar whose members are in the order they were given, and not one made with --sort=name', () => {
    const src = join(dir, 'tarsrc');
    mkdirSync(src, { recursive: true });
    for (const n of ['alpha', 'bravo', 'charlie']) writeFileSync(join(src, n), `${n}\n`);
    touchAll(['alpha', 'bravo', 'charlie'].map((n) => join(src, n)));
    const fixed = ['--mtime', `@${SDE}`, '--owner=0', '--group=0', '--numeric-owner', '--format=gnu'];
    const unsorted = join(dir, 'unsorted.tar');
    run('tar', ['-cf', unsorted, ...fixed, '-C', src, 'charlie', 'alpha', 'bravo']);
    const r = lintJson(unsorted, ['--source-date-epoch', String(SDE)]);
    expect(r.status).toBe(1);
    expect(r.report.findings.map((f) => f.kind)).toEqual(['ordering']);
    expect(r.report.findings[0]!.hint).toContain('--sort=name');

    const sorted = join(dir, 'sorted.tar');
    utimesSync(src, SDE, SDE);
    run('tar', ['-cf', sorted, '--sort=name', ...fixed, '-C', src, '.']);
    const s = lintJson(sorted, ['--source-date-epoch', String(SDE)]);
    expect(s.report.findings).toEqual([]);
    expect(s.status).toBe(0);
  });

  it.skipIf(!hasTool('gzip'))('flags a gzip member named after a random temporary file, not one made with -n', () => {
    // a name mkinitramfs's mktemp gave (mkinitramfs-MAIN_XXXXXX) on a Debian build
    const tmp = join(dir, 'mkinitramfs-MAIN_zfoLdW');
    writeFileSync(tmp, 'initramfs contents\n'.repeat(50));
    utimesSync(tmp, SDE, SDE);
    const named = join(dir, 'named.gz');
    run('sh', ['-c', 'gzip -c "$1" > "$2"', 'sh', tmp, named]);
    const r = lintJson(named, ['--source-date-epoch', String(SDE)]);
    expect(r.status).toBe(1);
    const f = r.report.findings.find((x) => x.field === 'gzip.header.fname');
    expect(f?.kind).toBe('random-id');
    expect(f?.a).toBe(tmp.slice(tmp.lastIndexOf('/') + 1));
    expect(r.report.findings).toHaveLength(1);

    const plain = join(dir, 'plain.gz');
    run('sh', ['-c', 'gzip -n -c "$1" > "$2"', 'sh', tmp, plain]);
    expect(lintJson(plain, ['--source-date-epoch', String(SDE)]).status).toBe(0);
  });

  it('exits 2 on an unreadable input', () => {
    const r = cli(['lint', join(dir, 'no-such-file.iso')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no-such-file/);
  });
});

const LIVE_A = join(process.env.REPRODIFF_LIVE_DIR ?? '/work/live', 'a', 'live.iso');
const LIVE_B = join(process.env.REPRODIFF_LIVE_DIR ?? '/work/live', 'b', 'live.iso');

describe('lint against a two-build compare', () => {
  it.skipIf(!existsSync(LIVE_A) || !existsSync(LIVE_B))(
    'on one build of the Debian live ISO finds at least 90% of the places where the compare finds a root timestamp or random id',
    async () => {
      const cmp = cli([LIVE_A, LIVE_B, '--json', '-', '-q']);
      expect(cmp.status).toBe(1);
      const report = JSON.parse(cmp.stdout) as Report;
      // roots and their copies, each a (path, field) place; folded runs have no one place
      const want = report.findings.filter((f) => (f.kind === 'timestamp' || f.kind === 'random-id') && f.field !== null && !/ more copies\)$/.test(f.field));
      expect(want.length).toBeGreaterThan(100);
      const places = new Set<string>();
      await lintImage(LIVE_A, { onPlace: (p) => places.add(`${p.path}\u0000${p.field}`) });
      const found = want.filter((f) => places.has(`${f.path}\u0000${f.field}`)).length;
      expect(found / want.length).toBeGreaterThanOrEqual(0.9);
    },
    600_000,
  );
});
