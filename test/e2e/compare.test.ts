/** End to end: the built CLI on the committed sample pairs, as a user runs it. */
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { cli, ROOT, SAMPLES } from '../helpers/cli.js';
import { hasTool, run, scratch } from '../helpers/tools.js';

const schema = JSON.parse(readFileSync(join(ROOT, 'schema/report.schema.json'), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

function compare(a: string, b: string, extra: string[] = []): { status: number | null; report: Report; stdout: string; stderr: string } {
  const r = cli([a, b, '--json', '-', ...extra]);
  let report: Report;
  try {
    report = JSON.parse(r.stdout) as Report;
  } catch {
    throw new Error(`no JSON on stdout (exit ${r.status}): ${r.stderr}`);
  }
  return { status: r.status, report, stdout: r.stdout, stderr: r.stderr };
}

describe('two builds of the same tree made seconds apart (basic)', () => {
  const { status, report } = compare(`${SAMPLES}basic-a.iso`, `${SAMPLES}basic-b.iso`);

  it('exits 1 and the report follows the schema', () => {
    expect(status).toBe(1);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(report.identical).toBe(false);
  });

  it('names the volume descriptor dates as timestamps with both decoded values', () => {
    for (const name of ['pvd.creation_date', 'pvd.modification_date']) {
      const f = report.findings.find((x) => x.field === name);
      expect(f, name).toBeDefined();
      expect(f!.kind).toBe('timestamp');
      expect(f!.format).toBe('iso9660');
      expect(String(f!.a)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
      expect(String(f!.b)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
      expect(f!.a).not.toBe(f!.b);
      expect(f!.spans.some((s) => s.side === 'a') && f!.spans.some((s) => s.side === 'b')).toBe(true);
    }
  });

  it('names directory-record and Rock Ridge times of the files as timestamps', () => {
    const grub = report.findings.filter((f) => f.path === '/boot/grub/grub.cfg');
    const fields = grub.map((f) => f.field);
    expect(fields).toContain('dirent.recording_date');
    expect(fields).toContain('rr.tf.modify');
    expect(grub.every((f) => f.kind === 'timestamp')).toBe(true);
    // one root per change: the copies of the same time, and the same change in other files, follow from it
    const roots = new Map(report.findings.filter((f) => f.root).map((f) => [f.id, f]));
    for (const f of grub.filter((x) => !x.root)) {
      expect(f.causedBy).toHaveLength(1);
      expect(roots.get(f.causedBy[0]!)?.kind).toBe('timestamp');
    }
    expect(roots.size).toBeLessThan(report.findings.length / 5);
  });

  it('reports nothing about contents that are the same, and explains every differing byte', () => {
    expect(report.findings.filter((f) => f.field === null && f.kind !== 'unknown')).toEqual([]);
    expect(report.bytes.differing).toBeGreaterThan(0);
    expect(report.bytes.unexplained).toBe(0);
    expect(report.bytes.explained).toBe(report.bytes.differing);
    expect(Object.keys(report.causes)).toEqual(['timestamp']);
  });

  it('writes byte-identical reports for the same inputs', () => {
    const again = cli([`${SAMPLES}basic-a.iso`, `${SAMPLES}basic-b.iso`, '--json', '-']);
    expect(again.stdout).toBe(JSON.stringify(report, null, 2) + '\n');
  });
});

describe('pinned dates, one file touched, one fresh UUID, another placement order (order)', () => {
  const { status, report } = compare(`${SAMPLES}order-a.iso`, `${SAMPLES}order-b.iso`);

  it('finds exactly three root causes and leaves no byte unexplained', () => {
    expect(status).toBe(1);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    const roots = report.findings.filter((f) => f.root);
    expect(roots.map((f) => f.path).sort()).toEqual(['/', '/docs/build-info.txt', '/docs/os-release']);
    expect(roots.find((f) => f.path === '/')!.kind).toBe('ordering');
    expect(roots.find((f) => f.path === '/docs/os-release')!.kind).toBe('timestamp');
    const uuid = roots.find((f) => f.path === '/docs/build-info.txt')!;
    expect(uuid.kind).toBe('random-id');
    expect(uuid.a).toBe('4b1d3f0e-9a0c-4c7e-8d51-2f6a7b9c0d12');
    expect(String(uuid.b)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(report.bytes.unexplained).toBe(0);
  });

  it('derives the moved extents from the ordering', () => {
    const ordering = report.findings.find((f) => f.kind === 'ordering')!;
    const layout = report.findings.filter((f) => f.kind === 'layout');
    expect(layout.length).toBeGreaterThan(0);
    for (const f of layout) {
      expect(f.root).toBe(false);
      expect(f.causedBy).toEqual([ordering.id]);
    }
    expect(ordering.detail).toMatch(/part6\.bin/);
  });
});

describe('identical inputs', () => {
  it('an image compared with itself exits 0', () => {
    const { status, report } = compare(`${SAMPLES}basic-a.iso`, `${SAMPLES}basic-a.iso`);
    expect(status).toBe(0);
    expect(report.identical).toBe(true);
    expect(report.findings).toEqual([]);
  });

  it('an image compared with a copy of itself exits 0', () => {
    const w = scratch();
    try {
      copyFileSync(`${SAMPLES}order-a.iso`, join(w.dir, 'copy.iso'));
      const r = cli([`${SAMPLES}order-a.iso`, join(w.dir, 'copy.iso')]);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/identical/);
    } finally {
      w.cleanup();
    }
  });
});

describe('bad input exits 2 naming the file, the structure and the offset', () => {
  const w = scratch();
  afterAll(w.cleanup);
  const good = `${SAMPLES}basic-a.iso`;

  function mutate(name: string, fn: (b: Buffer) => Buffer): string {
    const p = join(w.dir, name);
    writeFileSync(p, fn(readFileSync(good)));
    return p;
  }

  it('a missing file', () => {
    const r = cli([good, join(w.dir, 'nope.iso')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/nope\.iso: no such file/);
  });

  it('a file that no format recognises: compared all the same, the headline says the formats differ', () => {
    const p = join(w.dir, 'text.iso');
    writeFileSync(p, 'just some text\n'.repeat(100));
    const r = cli([good, p]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^reprodiff: differs \(different formats: .*iso9660.* against no known format\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('a truncated image', () => {
    const p = mutate('truncated.iso', (b) => b.subarray(0, 40_000));
    const r = cli([good, p]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('truncated.iso');
    expect(r.stderr).toMatch(/at offset \d+/);
  });

  it('a directory record pointing past the end', () => {
    const p = mutate('pastend.iso', (b) => {
      const c = Buffer.from(b);
      // root directory record in the PVD: extent LBA at 16*2048 + 156 + 2 (both-endian)
      c.writeUInt32LE(0x00ffffff, 16 * 2048 + 156 + 2);
      c.writeUInt32BE(0x00ffffff, 16 * 2048 + 156 + 6);
      return c;
    });
    const r = cli([good, p]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/pastend\.iso: .*root directory.* at offset \d+/);
  });

  it('a Rock Ridge continuation (CE) loop', () => {
    const p = mutate('celoop.iso', (b) => {
      const c = Buffer.from(b);
      const rootLba = c.readUInt32LE(16 * 2048 + 156 + 2);
      // the first PX entry after the root directory becomes a CE pointing at itself
      const at = c.indexOf(Buffer.from([0x50, 0x58]), rootLba * 2048 + 34);
      expect(at).toBeGreaterThan(0);
      const ce = Buffer.alloc(28);
      ce.write('CE', 0, 'latin1');
      ce[2] = 28;
      ce[3] = 1;
      const both = (v: number, o: number): void => {
        ce.writeUInt32LE(v, o);
        ce.writeUInt32BE(v, o + 4);
      };
      both(Math.floor(at / 2048), 4);
      both(at % 2048, 12);
      both(28, 20);
      ce.copy(c, at);
      return c;
    });
    const r = cli([good, p]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/celoop\.iso: .*at offset \d+.*CE loop/);
  });

  it('bad usage', () => {
    const r = cli([good]);
    expect(r.status).toBe(2);
  });
});

describe('two hybrid builds (isohybrid MBR + GPT, El Torito, efiboot.img by mkfs.fat + mtools) seconds apart', () => {
  const { status, report } = compare(`${SAMPLES}hybrid-a.iso`, `${SAMPLES}hybrid-b.iso`);
  const byField = (name: string) => report.findings.filter((f) => f.field === name);

  it('names the MBR signature, the GPT GUIDs and the FAT serial as random ids with decoded values', () => {
    expect(status).toBe(1);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    for (const name of ['mbr.disk_signature', 'gpt.header.disk_guid', 'fat.volume_serial']) {
      const [f] = byField(name);
      expect(f, name).toBeDefined();
      expect(f!.kind).toBe('random-id');
      expect(f!.root).toBe(true);
      expect(f!.a).not.toBe(f!.b);
    }
    expect(byField('fat.volume_serial')[0]!.path).toBe('/efiboot.img');
    // the backup header repeats the disk GUID: a copy, derived from the primary
    const backup = byField('gpt.backup.header.disk_guid')[0]!;
    expect(backup.root).toBe(false);
    expect(backup.causedBy).toEqual([byField('gpt.header.disk_guid')[0]!.id]);
  });

  it('names the FAT entry times inside efiboot.img', () => {
    const fat = report.findings.filter((f) => f.format === 'fat' && f.kind === 'timestamp');
    expect(fat.length).toBeGreaterThan(0);
    expect(fat.some((f) => f.path.startsWith('/efiboot.img//EFI'))).toBe(true);
  });

  it('marks the GPT CRCs as derived from the GUIDs they cover', () => {
    const crcs = report.findings.filter((f) => f.format === 'gpt' && f.kind === 'checksum');
    expect(crcs.length).toBeGreaterThanOrEqual(2);
    const roots = new Set(report.findings.filter((f) => f.root).map((f) => f.id));
    for (const f of crcs) {
      expect(f.root, f.field ?? '').toBe(false);
      expect(f.causedBy.length).toBeGreaterThan(0);
      for (const c of f.causedBy) expect(roots.has(c)).toBe(true);
    }
  });

  it('leaves no differing byte of the system area, the GPT or the FAT image unexplained', () => {
    expect(report.bytes.unexplained).toBe(0);
    expect(report.findings.filter((f) => f.kind === 'unknown')).toEqual([]);
  });
});

describe('two UKIs assembled seconds apart (uki): initrd order, mtimes, inode numbers, a fresh root UUID', () => {
  const { status, report } = compare(`${SAMPLES}uki-a.efi`, `${SAMPLES}uki-b.efi`);
  const roots = report.findings.filter((f) => f.root);

  it('names the PE timestamp, the command-line UUID, the member order and the cpio times and inodes', () => {
    expect(status).toBe(1);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
    expect(roots.some((f) => f.field === 'pe.coff.timestamp' && f.kind === 'timestamp')).toBe(true);
    const uuid = roots.find((f) => f.kind === 'random-id')!;
    expect(uuid.path).toBe('/.cmdline');
    expect(uuid.a).toBe('0b7c1a9e-3f42-4d6b-9e1a-5c2d8f3e4a10');
    expect(uuid.b).not.toBe(uuid.a);
    expect(roots.some((f) => f.kind === 'ordering' && f.format === 'cpio' && f.path === '/.initrd')).toBe(true);
    expect(roots.some((f) => f.format === 'cpio' && f.field === 'cpio.mtime' && f.path.startsWith('/.initrd//'))).toBe(true);
    expect(roots.some((f) => f.format === 'cpio' && f.field === 'cpio.ino' && f.kind === 'inode')).toBe(true);
    expect(new Set(roots.map((f) => f.kind))).toEqual(new Set(['timestamp', 'random-id', 'ordering', 'inode']));
  });

  it('marks the CheckSum and the sizes as derived, and leaves no byte unexplained', () => {
    const checksum = report.findings.find((f) => f.field === 'pe.opt.checksum')!;
    expect(checksum.root).toBe(false);
    expect(checksum.causedBy.length).toBeGreaterThan(0);
    for (const f of report.findings.filter((x) => x.kind === 'size')) expect(f.root, f.field ?? '').toBe(false);
    expect(report.bytes.unexplained).toBe(0);
  });
});

describe('one UKI signed twice with sbsign seconds apart', () => {
  const w = scratch();
  afterAll(w.cleanup);
  it.skipIf(!hasTool('sbsign') || !hasTool('openssl'))('has one root cause, the signing time; the signature and CheckSum follow from it', () => {
    const key = join(w.dir, 'db.key');
    const crt = join(w.dir, 'db.crt');
    run('openssl', ['req', '-new', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=reprodiff test/', '-keyout', key, '-out', crt, '-days', '30']);
    const s1 = join(w.dir, 's1.efi');
    const s2 = join(w.dir, 's2.efi');
    run('sbsign', ['--key', key, '--cert', crt, '--output', s1, `${SAMPLES}uki-a.efi`]);
    const t0 = Date.now();
    while (Date.now() - t0 < 1100) {
      // the signing time has one-second resolution
    }
    run('sbsign', ['--key', key, '--cert', crt, '--output', s2, `${SAMPLES}uki-a.efi`]);
    const { report } = compare(s1, s2);
    const roots = report.findings.filter((f) => f.root);
    expect(roots).toHaveLength(1);
    expect(roots[0]!.field).toBe('pe.authenticode.signing_time');
    expect(roots[0]!.kind).toBe('timestamp');
    const sig = report.findings.find((f) => f.field === 'pe.authenticode.signer.signature')!;
    expect(sig.causedBy).toEqual([roots[0]!.id]);
    expect(report.bytes.unexplained).toBe(0);
  });
});

describe('two grub-mkrescue builds of the same tree seconds apart', () => {
  const w = scratch();
  afterAll(w.cleanup);
  const ready = hasTool('grub-mkrescue') && hasTool('xorriso') && hasTool('mformat');
  let report: Report | undefined;
  function build(): Report {
    if (report) return report;
    const tree = join(w.dir, 'tree');
    run('mkdir', ['-p', join(tree, 'boot/grub')]);
    writeFileSync(join(tree, 'boot/grub/grub.cfg'), 'set timeout=1\nmenuentry "x" { true }\n');
    run('grub-mkrescue', ['-o', join(w.dir, 'a.iso'), tree]);
    const t0 = Date.now();
    while (Date.now() - t0 < 2100) {
      // grub-mkrescue stamps whole seconds, and its FAT image two-second steps
    }
    run('grub-mkrescue', ['-o', join(w.dir, 'b.iso'), tree]);
    report = compare(join(w.dir, 'a.iso'), join(w.dir, 'b.iso')).report;
    return report;
  }

  it.skipIf(!ready)('names every GPT GUID, the MBR signature if it differs, the FAT serial and FAT times, with values', () => {
    const r = build();
    expect(validate(r), JSON.stringify(validate.errors)).toBe(true);
    const roots = r.findings.filter((f) => f.root);
    expect(roots.some((f) => f.field === 'gpt.header.disk_guid' && f.kind === 'random-id')).toBe(true);
    // xorriso makes the partition GUIDs from the disk GUID: they are derived from it, not causes of their own
    const disk = roots.find((f) => f.field === 'gpt.header.disk_guid')!;
    const parts = r.findings.filter((f) => /^gpt\.part\.\d+\.unique_guid$/.test(f.field ?? ''));
    expect(parts.length).toBeGreaterThan(0);
    for (const f of parts) expect([f.root, f.causedBy]).toEqual([false, [disk.id]]);
    expect(roots.some((f) => f.field === 'fat.volume_serial')).toBe(true);
    expect(r.findings.some((f) => f.format === 'fat' && f.kind === 'timestamp')).toBe(true);
    for (const f of r.findings.filter((x) => x.kind === 'random-id' || x.kind === 'timestamp')) {
      expect(f.a, `${f.path} ${f.field}`).not.toBeNull();
      expect(f.b, `${f.path} ${f.field}`).not.toBeNull();
    }
  });

  it.skipIf(!ready)('marks the CRCs as derived and names one root for the build time stamped on every file', () => {
    const r = build();
    for (const f of r.findings.filter((x) => x.kind === 'checksum')) {
      expect(f.root, f.field ?? '').toBe(false);
      expect(f.causedBy.length).toBeGreaterThan(0);
    }
    const fileTimes = r.findings.filter((f) => f.format === 'iso9660' && f.kind === 'timestamp' && f.path !== '/');
    expect(fileTimes.length).toBeGreaterThan(100);
    // the files were stamped within a second or two: a handful of roots, not one per file
    expect(fileTimes.filter((f) => f.root).length).toBeLessThan(fileTimes.length / 20);
  });

  it.skipIf(!ready)('leaves no differing byte of the system area, the backup GPT or the FAT image unexplained', () => {
    const r = build();
    expect(r.bytes.unexplained).toBe(0);
  });

  it.skipIf(!ready)('tailors the hints to grub-mkrescue, and following them leaves only the serial of its efi.img', () => {
    const r = build();
    const pvd = r.findings.find((f) => f.root && f.field === 'pvd.modification_date')!;
    expect(pvd.hint).toMatch(/--modification-date=/);
    // follow the hints: pin the dates the way they say, build twice
    const tree = join(w.dir, 'tree');
    run('touch', ['-h', '-d', '@1700000000', join(tree, 'boot/grub/grub.cfg'), join(tree, 'boot/grub'), join(tree, 'boot'), tree]);
    const pinned = (name: string): string => {
      const out = join(w.dir, name);
      run('grub-mkrescue', ['-o', out, tree, '--modification-date=2023111422132000', '--', '-volume_date', 'all_file_dates', '=1700000000'], {
        env: { ...process.env, SOURCE_DATE_EPOCH: '1700000000' },
      });
      return out;
    };
    const a = pinned('pa.iso');
    const t0 = Date.now();
    while (Date.now() - t0 < 2100) {
      // past a FAT two-second step
    }
    const b = pinned('pb.iso');
    const left = compare(a, b).report.findings.filter((f) => f.root);
    expect(left.map((f) => f.field)).toEqual(['fat.volume_serial']);
    expect(left[0]!.hint).toMatch(/mformat/);
  });

  it.skipIf(!ready)('fits the thousands of findings into one GitHub issue body, saying what was left out', () => {
    const r = build();
    // the report lists a few hundred of them: summaries stand for the rest, and the Markdown counts them all
    expect(r.findings.reduce((n, f) => n + (f.folded?.findings ?? 1), 0)).toBeGreaterThan(1000);
    const md = renderMarkdown(r);
    expect(md.length).toBeLessThanOrEqual(65_536);
    expect(md).toMatch(/Left out/);
  });
});
