/**
 * Fix-first grouping: the real-tool hybrid sample pair (xorriso + mkfs.fat/mtools, samples/make-samples.sh)
 * through the built CLI, and presenter reports built in code. The JSON's `fixes` covers every root finding
 * once, validates against the schema, and leaves the report's other members as they were.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import Ajv from 'ajv';
import { cli, ROOT } from '../helpers/cli.js';
import { computeFixes, fixGroups, withFixes } from '../../src/report/fixes.js';
import { makeReport, realisticReport } from '../fixtures/report/sample.js';
import type { Report } from '../../src/report/types.js';

describe('fix groups', () => {
  it('groups the hybrid pair by tool: xorriso (dates, GPT, MBR) and mkfs.fat/mtools (serial, times)', () => {
    const r = cli([`${ROOT}samples/hybrid-a.iso`, `${ROOT}samples/hybrid-b.iso`, '--json', '-', '-q']);
    expect(r.status).toBe(1);
    const report = JSON.parse(r.stdout) as Report;
    const fixes = report.fixes ?? [];
    const roots = report.findings.filter((f) => f.root).map((f) => f.id);
    // every root finding in exactly one group
    expect(fixes.flatMap((g) => g.findings).sort()).toEqual([...roots].sort());
    const tools = fixes.map((g) => g.tool);
    expect(tools).toEqual(['xorriso', 'mkfs.fat / mtools']);
    const byTool = new Map(fixes.map((g) => [g.tool, g] as const));
    const fieldsOf = (tool: string) => byTool.get(tool)!.findings.map((id) => report.findings.find((f) => f.id === id)!.field);
    expect(fieldsOf('xorriso')).toEqual(expect.arrayContaining(['pvd.modification_date', 'gpt.header.disk_guid', 'mbr.disk_signature']));
    expect(fieldsOf('mkfs.fat / mtools')).toEqual(expect.arrayContaining(['fat.volume_serial', 'fat.dirent.mtime']));
    expect(byTool.get('xorriso')!.fix).toContain('SOURCE_DATE_EPOCH');
    expect(byTool.get('mkfs.fat / mtools')!.fix).toContain('--invariant');
    // the last member, and the rest of the report is the committed golden report's
    expect(Object.keys(report).at(-1)).toBe('fixes');
    const { fixes: _f, ...rest } = report;
    const golden = JSON.parse(readFileSync(`${ROOT}test/fixtures/golden/hybrid.json`, 'utf8')) as Report;
    const { fixes: _g, ...goldenRest } = golden;
    expect(JSON.stringify({ ...rest, inputs: [] })).toBe(JSON.stringify({ ...goldenRest, inputs: [] }));
    // valid against the schema in strict mode
    const schema = JSON.parse(readFileSync(`${ROOT}schema/report.schema.json`, 'utf8'));
    const ajv = new Ajv({ strict: true, allowUnionTypes: true });
    const validate = ajv.compile(schema);
    expect(validate(report), JSON.stringify(validate.errors)).toBe(true);
  });

  it('puts mkinitramfs cpio and gzip findings into one group, and names grub-mkrescue from the ISO hints', () => {
    const r = makeReport([
      { path: '/', format: 'iso9660', field: 'pvd.modification_date', kind: 'timestamp', root: true, a: '2026-12-02T06:23:08.00Z', b: '2026-12-02T06:25:01.00Z', hint: 'grub-mkrescue passes --modification-date=<now> to xorriso' },
      { path: '/', format: 'gpt', field: 'gpt.header.disk_guid', kind: 'random-id', root: true, a: 'x', b: 'y', hint: 'xorriso 1.5.4 makes GPT GUIDs random' },
      { path: '/live/initrd.img', format: 'gzip', field: 'gzip.header.mtime', kind: 'timestamp', root: true, a: 1, b: 2 },
      { path: '/live/initrd.img', format: 'gzip', field: 'gzip.header.fname', kind: 'build-path', root: true, a: 'mkinitramfs-MAIN_x', b: 'mkinitramfs-MAIN_y' },
      { path: '/live/initrd.img//', format: 'cpio', field: 'cpio.ino', kind: 'inode', root: true, a: 1, b: 2 },
      { path: '/EFI/Linux/debian.efi//.initrd//', format: 'cpio', field: 'cpio.mtime', kind: 'timestamp', root: true, a: 1, b: 2 },
      { path: '/src.tar.gz', format: 'gzip', field: 'gzip.header.mtime', kind: 'timestamp', root: true, a: 1, b: 2 },
      { path: '/live/filesystem.squashfs//etc/machine-id', format: 'squashfs', field: null, kind: 'random-id', root: true, a: 'sha256:1', b: 'sha256:2', hint: 'Empty /etc/machine-id' },
    ]);
    const g = computeFixes(r);
    const tool = (id: string) => g.find((x) => x.findings.includes(id))?.tool;
    expect(tool('f1')).toBe('grub-mkrescue');
    expect(tool('f2')).toBe('grub-mkrescue');
    expect(new Set(['f3', 'f4', 'f5', 'f6'].map(tool))).toEqual(new Set(['mkinitramfs (cpio, gzip)']));
    expect(g.find((x) => x.tool === 'mkinitramfs (cpio, gzip)')!.fix).toMatch(/gzip -n.*cpio --reproducible/);
    expect(tool('f7')).toBe('gzip');
    expect(tool('f8')).toBe('the files put into the image');
    expect(g.find((x) => x.findings.includes('f8'))!.fix).toBe('Empty /etc/machine-id');
  });

  it('is deterministic, leaves accepted findings out and reads a saved report its own fixes', () => {
    const r = realisticReport();
    expect(JSON.stringify(computeFixes(r))).toBe(JSON.stringify(computeFixes(realisticReport())));
    Object.assign(r.findings[0]!, { accepted: true });
    expect(computeFixes(r).flatMap((x) => x.findings)).not.toContain('f1');
    const saved = withFixes(realisticReport());
    saved.fixes = [{ tool: 'T', fix: 'F', findings: ['f2', 'f999'] }];
    expect(fixGroups(saved).map((x) => [x.tool, x.findings.map((f) => f.id)])).toEqual([['T', ['f2']]]);
  });
});
